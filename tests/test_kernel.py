from fractions import Fraction

import numpy as np
import pytest
import simpy

from spikex_sim.config import load_config
from spikex_sim.errors import SimulationError
from spikex_sim.kernel import Kernel, analytic_latency, run_steps
from spikex_sim.runner import simulate


def run_alone(compute, memory):
    kernel = Kernel("array", Fraction(500_000_000))
    dram = simpy.Resource(kernel.env, capacity=1)
    kernel.process("layer", run_steps(kernel, "layer", dram, np.array(compute), np.array(memory)))
    kernel.run()
    return kernel.env.now


def test_pipeline_hand_computed():
    # m0 = 5, then max(c0, m1) + max(c1, m2) + max(c2, 0) = 5 + 7 + 4 + 2 = 18
    assert run_alone([3, 4, 2], [5, 7, 1]) == 18


def test_pipeline_equals_analytic_on_random_steps():
    rng = np.random.default_rng(1)
    for _ in range(50):
        count = int(rng.integers(1, 30))
        compute = rng.integers(0, 100, size=count)
        memory = rng.integers(0, 100, size=count)
        assert run_alone(compute, memory) == analytic_latency(compute, memory)


def test_contention_only_adds_latency():
    kernel = Kernel("array", Fraction(1))
    dram = simpy.Resource(kernel.env, capacity=1)
    compute, memory = np.array([1, 1, 1]), np.array([10, 10, 10])
    kernel.process("a", run_steps(kernel, "a", dram, compute, memory))
    kernel.process("b", run_steps(kernel, "b", dram, compute, memory))
    kernel.run()
    assert kernel.env.now > analytic_latency(compute, memory)


def test_deadlock_names_waiting_process():
    kernel = Kernel("array", Fraction(1))
    never = kernel.env.event()

    def stuck():
        yield never

    kernel.process("array.loader", stuck())
    with pytest.raises(SimulationError, match="array.loader"):
        kernel.run()


def test_run_layers_equal_analytic_model(default_config):
    config = load_config(default_config)
    result = simulate(config, samples=2)
    layers = result.tables["layers"]
    assert (layers["latency_cycles"] == layers["analytic_latency_cycles"]).all()
    assert (layers["latency_cycles"] >= layers["compute_cycles"]).all()
    samples = result.tables["samples"]
    per_sample = layers.groupby("sample")["latency_cycles"].sum()
    assert per_sample.tolist() == samples["latency_cycles"].tolist()


def test_seconds_are_exact():
    kernel = Kernel("array", Fraction(1_000_000_000))
    assert kernel.seconds(6250) == Fraction(625, 100_000_000)


def test_concurrent_write_backs_hand_computed():
    # Loads of 5 cycles on DRAM, compute of 10, write-backs of 4 cycles on the GLB ports:
    # load 0 ends at 5, compute 0 runs 5..15 while load 1 runs 5..10, write 0 runs 15..19,
    # compute 1 runs 15..25, write 1 runs 25..29.
    from spikex_sim.kernel import CheckedResource, run_steps_concurrent

    kernel = Kernel("array", Fraction(1))
    resources = {"dram": CheckedResource(kernel.env, "dram"), "glb": CheckedResource(kernel.env, "glb")}
    compute = np.array([10, 10])
    loads = {"dram": np.array([5, 5]), "glb": np.array([0, 0])}
    writes = {"dram": np.array([0, 0]), "glb": np.array([4, 4])}
    kernel.process("layer", run_steps_concurrent(kernel, "layer", resources, compute, loads, writes))
    kernel.run()
    assert kernel.env.now == 29
    # The closed form with write-backs two rows later gives the same: 5 + 10 + 10 + 4.
    assert analytic_latency(np.array([10, 10, 0, 0]), np.array([5, 5, 4, 4])) == 29


def test_concurrent_mode_runs_and_contends(default_config):
    config = load_config(default_config, ["system.write_back=concurrent"])
    layers = simulate(config, samples=2).tables["layers"]
    assert (layers["latency_cycles"] >= layers["compute_cycles"]).all()
    assert (layers["latency_cycles"] > layers["analytic_latency_cycles"]).any()
