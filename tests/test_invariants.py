"""End-of-run invariants, the checked DRAM resource and the resource guard."""

import copy
from fractions import Fraction

import pytest

from spikex_sim.cli import main
from spikex_sim.config import load_config
from spikex_sim.errors import ConfigError, SimulationError
from spikex_sim.invariants import check_run
from spikex_sim.kernel import CheckedResource, Kernel
from spikex_sim.preflight import (
    DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY, estimate_events, estimate_peak_memory, step_events,
)
from spikex_sim.runner import simulate


@pytest.fixture(scope="module")
def finished_run(request):
    """A two-sample run of the default config: (tables, system)."""
    root = request.config.rootpath
    config = load_config(root / "configs" / "spikex_nmnist.yaml")
    result = simulate(config, samples=2)
    return result.tables, config.system


def set_first(table, column, value=None, change=None):
    """Return a tampering that sets (or changes) the first row's value of one column."""
    def tamper(tables):
        frame = tables[table]
        old = frame[column].iloc[0]
        frame.loc[frame.index[0], column] = change(old) if change else value
    return tamper


def make_dram_too_fast(tables):
    utilization = tables["utilization"]
    row = utilization.index[(utilization["component"] == "dram") & (utilization["busy_cycles"] > 0)][0]
    utilization.loc[row, "busy_cycles"] = 1


def test_finished_run_passes(finished_run):
    tables, system = finished_run
    check_run(tables, system=system)


TAMPERINGS = [
    ("negative counter", set_first("memory", "bytes", -1), "non-negative"),
    ("NaN energy", set_first("layers", "energy_pj", float("nan")), "non-negative"),
    ("energy row not count x unit", set_first("energy", "energy_pj", change=lambda value: value + 1.0),
     "not count x energy"),
    ("layer energy off its rows", set_first("layers", "energy_pj", change=lambda value: value * 1.01 + 1),
     "energy rows add up to"),
    ("sample latency off its layers", set_first("samples", "latency_cycles", change=lambda value: value + 1),
     "layers add up to"),
    ("wrapped total latency", set_first("summary", "total_latency_cycles", change=lambda value: value + 2**40),
     "overflowed"),
    ("DRAM faster than peak", make_dram_too_fast, "above the peak bandwidth"),
    # One more synaptic operation counted from the input spikes than the schedule billed.
    ("dropped input spike", set_first("layers", "synaptic_ops", change=lambda value: value + 1),
     "dropped or counted twice"),
    ("spikes lost between layers", set_first("layers", "output_spikes", change=lambda value: value + 1),
     "the layer before it sent"),
]


@pytest.mark.parametrize("label, tamper, expected", TAMPERINGS, ids=[case[0] for case in TAMPERINGS])
def test_broken_invariant_raises(finished_run, label, tamper, expected):
    tables, system = finished_run
    copied = {name: frame.copy() for name, frame in tables.items()}
    tamper(copied)
    with pytest.raises(SimulationError, match=expected):
        check_run(copied, system=system)


def run_kernel(process_factory):
    kernel = Kernel("array", Fraction(1))
    resource = CheckedResource(kernel.env, "DRAM channel")
    kernel.process("first", process_factory(kernel, resource))
    kernel.run()
    return resource


def test_checked_resource_allows_normal_use():
    def hold_twice(kernel, resource):
        for _ in range(2):
            with resource.request() as request:
                yield request
                yield kernel.env.timeout(3)

    resource = run_kernel(hold_twice)
    resource.check_idle()


def test_double_release_raises_at_once():
    def release_twice(kernel, resource):
        request = resource.request()
        yield request
        yield resource.release(request)
        yield resource.release(request)

    with pytest.raises(SimulationError, match="released twice"):
        run_kernel(release_twice)


def test_release_by_other_process_raises():
    kernel = Kernel("array", Fraction(1))
    resource = CheckedResource(kernel.env, "DRAM channel")
    granted = {}

    def holder():
        granted["request"] = resource.request()
        yield granted["request"]
        yield kernel.env.timeout(10)

    def thief():
        yield kernel.env.timeout(1)
        yield resource.release(granted["request"])

    kernel.process("holder", holder())
    kernel.process("thief", thief())
    with pytest.raises(SimulationError, match="process thief released a slot that process holder acquired"):
        kernel.run()


def test_release_before_grant_raises():
    kernel = Kernel("array", Fraction(1))
    resource = CheckedResource(kernel.env, "DRAM channel")

    def holder():
        with resource.request() as request:
            yield request
            yield kernel.env.timeout(10)

    def impatient():
        request = resource.request()  # queued behind holder
        yield kernel.env.timeout(1)
        yield resource.release(request)

    kernel.process("holder", holder())
    kernel.process("impatient", impatient())
    with pytest.raises(SimulationError, match="never granted"):
        kernel.run()


def test_slot_held_at_end_is_reported():
    def never_release(kernel, resource):
        request = resource.request()
        yield request

    resource = run_kernel(never_release)
    with pytest.raises(SimulationError, match="1 slots are still held"):
        resource.check_idle()


@pytest.mark.parametrize("write_back", ["next_step", "concurrent"])
def test_estimates_bound_real_run(default_config, write_back):
    # A small LBUF makes many small steps, the case where events per step matter most.
    config = load_config(default_config, [f"system.write_back={write_back}", "system.lbuf.size=256B"])
    result = simulate(config, samples=2)
    model = config.workload.model.load(config.base_dir)
    array, timesteps = config.system.array, config.workload.timesteps
    assert estimate_events(model, array, timesteps, 2, step_events(config.system)) >= result.manifest["events"]
    assert estimate_events(model, array, timesteps, 100) < DEFAULT_MAX_EVENTS
    assert estimate_peak_memory(model, array, timesteps, 100, 0) < DEFAULT_MAX_MEMORY


@pytest.mark.parametrize("option, value, expected", [
    ("--max-events", "1000", "--max-events "),
    ("--max-memory", "1MiB", "--max-memory "),
])
def test_resource_limit_is_one_line(default_config, capsys, tmp_path, option, value, expected):
    code = main(["run", str(default_config), "--samples", "2", "--quiet", "--out", str(tmp_path / "run"), option, value])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "estimated" in err
    assert expected in err
    assert not (tmp_path / "run").exists()


def test_huge_timesteps_stop_before_running(default_config, capsys, tmp_path):
    code = main(["run", str(default_config), "--samples", "1", "--quiet", "--out", str(tmp_path / "run"),
                 "--set", "workload.timesteps=100000"])
    err = capsys.readouterr().err
    assert code == 2
    assert "GiB" in err or "MiB" in err
    assert "--max-memory" in err


def test_simulate_raises_config_error_above_limit(default_config):
    config = load_config(default_config)
    with pytest.raises(ConfigError, match="SimPy events"):
        simulate(config, samples=1, max_events=10)


def test_tables_are_not_changed_by_check(finished_run):
    tables, system = finished_run
    before = copy.deepcopy(tables)
    check_run(tables, system=system)
    for name, frame in tables.items():
        assert frame.equals(before[name]), name


def test_synthetic_data_checked_before_drawn(repo_root, monkeypatch):
    # Drawing a T = 300 sample takes about 0.3 s, so 100,000 would take hours: the guard stops the run first.
    import spikex_sim.components.datasets as datasets

    def fail_if_drawn(*args, **kwargs):
        raise AssertionError("a synthetic sample was drawn before the resource check")

    monkeypatch.setattr(datasets, "synthetic_sample", fail_if_drawn)
    config = load_config(repo_root / "configs" / "dvsgesture_large_synthetic.yaml",
                         ["workload.dataset.samples=100000"])
    with pytest.raises(ConfigError, match="SimPy events"):
        simulate(config)
