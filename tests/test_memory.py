"""Memory levels: access counting, burst billing, row buffers and compulsory traffic."""

from fractions import Fraction

import numpy as np
import pytest

from spikex_sim.component import Component, build_component
from spikex_sim.dataflow import dense
from spikex_sim.dataflow.schedule import KEY_INDEX, TRAFFIC_KEYS, BufferGeometry
from spikex_sim.errors import ConfigError
from spikex_sim.kernel import analytic_latency
from spikex_sim.memory import buffer_geometry, count_levels
from spikex_sim.workload.model import Layer, NeuronParams


def make_system(**overrides):
    node = {"type": "System", "clock": "1GHz"}
    for key, value in overrides.items():
        node[key] = value
    return build_component(node, base=Component, path="system", source="test.yaml", default_type="System")


def traffic_with(key, amount, steps=1):
    traffic = np.zeros((steps, len(TRAFFIC_KEYS)), dtype=np.int64)
    traffic[:, KEY_INDEX[key]] = amount
    return traffic


def test_kernel_move_is_nine_reads_and_nine_writes():
    # One 3x3 kernel of 8-bit weights from the GLB to the LBUF.
    system = make_system()
    levels = count_levels(system, traffic_with(("glb", "lbuf", "weights"), 9))
    assert levels.reads["glb"].sum() == 9
    assert levels.writes["lbuf"].sum() == 9
    assert levels.writes["glb"].sum() == 0


def test_burst_billing_with_and_without_coalescing():
    # 64-byte bursts that take 4 cycles each: 16 bytes per cycle at 1 GHz.
    dram = make_system(dram={"bandwidth": "16GB/s", "burst": "64B", "latency": 0}).dram
    scattered = dram.bill_accesses(9000, 8, 8, Fraction(10**9), coalesce=False)
    shared = dram.bill_accesses(9000, 8, 8, Fraction(10**9), coalesce=True)
    assert scattered["cycles"] == 36_000
    assert scattered["bus_bytes"] == 576_000
    assert shared["cycles"] == 4_500
    assert shared["bursts"] == 1_125


def test_scattered_pieces_cost_whole_bursts():
    dram = make_system(dram={"burst": "8B"}).dram
    contiguous = dram.bursts(np.array([1000]), np.array([1]))
    scattered = dram.bursts(np.array([1000]), np.array([1000]))
    assert contiguous[0] == 125
    assert scattered[0] == 1000


def test_open_page_pays_per_row_closed_per_burst():
    clock = Fraction(10**9)
    base = {"bandwidth": "64GB/s", "burst": "64B", "row_bytes": "8KiB", "t_rcd": "10ns", "t_rp": "10ns",
            "t_cl": "10ns"}
    opened = make_system(dram={**base, "page_policy": "open"}).dram
    closed = make_system(dram={**base, "page_policy": "closed"}).dram
    size = np.array([16384])
    # 256 bursts of 1 cycle each; open: 2 rows x (tRP + tRCD) = 40 cycles; closed: 256 x tRCD.
    assert opened.row_misses(size)[0] == 2
    assert closed.row_misses(size)[0] == 256
    assert opened.step_cycles(np.array([256]), clock, opened.row_misses(size))[0] == 256 + 40 + 10
    assert closed.step_cycles(np.array([256]), clock, closed.row_misses(size))[0] == 256 + 2560 + 10


@pytest.mark.parametrize("node, message", [
    ({"width": "64bit", "ports": 1, "word": "8bit", "bandwidth": 16}, "exceeds banks x ports x width / word"),
    ({"size": 1001, "width": "64bit"}, "whole number of 8-byte rows"),
    ({"width": "64bit", "word": "12bit"}, "whole number of 12-bit words"),
])
def test_sram_geometry_errors(node, message):
    with pytest.raises(ConfigError, match=message):
        build_component({"type": "SRAMBuffer", **node}, base=Component, path="system.glb", source="test.yaml")


def test_zero_bandwidth_is_load_error():
    with pytest.raises(ConfigError, match="system.dram.bandwidth"):
        make_system(dram={"bandwidth": 0})


def pointwise_layer():
    weight = np.ones((64, 64, 1, 1), dtype=np.int64)
    return Layer("pointwise", "conv", (64, 8, 8), (64, 8, 8), 1, 1, 0, weight, NeuronParams(10**6, 256))


def dense_traffic(operand_bytes):
    geometry = BufferGeometry(glb_spikes=operand_bytes, glb_weights=operand_bytes, glb_vmem=operand_bytes,
                              lbuf_spikes=operand_bytes, lbuf_weights=operand_bytes, weight_bits=8,
                              membrane_bits=16)
    spikes = np.ones((1, 64, 8, 8), dtype=np.uint8)
    _, schedule = dense.run_layer(pointwise_layer(), spikes, 8, 8, "os", True, 8, geometry, output_bits=8)
    reads = sum(int(schedule.traffic[:, KEY_INDEX[key]].sum()) for key in TRAFFIC_KEYS if key[0] == "dram")
    writes = sum(int(schedule.traffic[:, KEY_INDEX[key]].sum()) for key in TRAFFIC_KEYS if key[1] == "dram")
    return reads, writes


def test_compulsory_traffic_with_large_buffers():
    # 1x1 conv, 8x8 input, 64 -> 64 channels, 8-bit data: 4 KiB input + 4 KiB weights in, 4 KiB out.
    reads, writes = dense_traffic(4096)
    assert reads == 8192
    assert writes == 4096


def test_small_buffers_read_more():
    reads, _ = dense_traffic(1024)
    assert reads > 8192


def test_stalls_never_negative_across_glb_sizes(default_config):
    # The default mapper may trade DRAM bytes for stalls as the GLB grows (tests/test_mapper.py
    # checks the monotone mapper), but a stall count below zero would be a bookkeeping error.
    from spikex_sim.config import load_config
    from spikex_sim.evaluate import layer_cost

    config = load_config(default_config)
    model = config.workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    rng = np.random.default_rng(0)
    layer = model.layers[1]
    spikes = (rng.random((30, *layer.in_shape)) < 0.05).astype(np.uint8)
    for size in ("4KB", "27KB", "54KB", "108KB", "216KB"):
        system = load_config(default_config, [f"system.glb.size={size}"]).system
        cost = layer_cost(system, table, layer, spikes, 5, buffer_geometry(system, 8, 16))
        compute = int(cost.schedule.compute_cycles.sum())
        assert cost.latency_cycles - compute >= 0, size


def test_unlimited_bandwidth_has_no_stalls(default_config):
    from spikex_sim.config import load_config
    from spikex_sim.runner import simulate

    config = load_config(default_config, ["system.dram.bandwidth=null", "system.dram.latency=0",
                                          "system.glb.ideal=true", "system.lbuf.ideal=true"])
    layers = simulate(config, samples=2).tables["layers"]
    assert (layers["stall_cycles"] == 0).all()
    assert (layers["latency_cycles"] == layers["compute_cycles"]).all()


def test_pipeline_hides_memory_under_compute():
    compute = np.array([10, 10, 10])
    memory = np.array([4, 10, 3])
    assert analytic_latency(compute, memory) == 4 + 10 + 10 + 10


def test_bandwidth_report_units():
    from spikex_sim.units import format_bandwidth

    assert format_bandwidth(384, Fraction(81_306, 1_200_000_000)) == "5.67 MB/s (5.40 MiB/s)"
    assert format_bandwidth(320_000_000, Fraction("0.005390135")) == "59.37 GB/s (55.29 GiB/s)"


def test_achieved_bandwidth_below_peak(default_config):
    from spikex_sim.config import load_config
    from spikex_sim.runner import simulate

    config = load_config(default_config, ["system.dram.bandwidth=1GB/s"])
    tables = simulate(config, samples=2).tables
    assert (tables["layers"]["dram_bandwidth_bytes_per_s"] <= 1e9).all()
    assert tables["summary"]["dram_bandwidth_bytes_per_s"].iloc[0] <= 1e9
    assert tables["summary"]["dram_bandwidth_bytes_per_s"].iloc[0] > 0


def test_bandwidth_at_peak_demand_has_no_stalls(default_config):
    # With DRAM just fast enough for every step's loads to finish within the previous
    # step's compute, the only exposed memory time is the pipeline fill.
    from spikex_sim.config import load_config
    from spikex_sim.evaluate import layer_cost
    from spikex_sim.kernel import fill_cycles

    ideal = ["system.dram.latency=0", "system.glb.ideal=true", "system.lbuf.ideal=true"]
    config = load_config(default_config, ideal)
    model = config.workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    layer = model.layers[1]
    spikes = (np.random.default_rng(1).random((30, *layer.in_shape)) < 0.05).astype(np.uint8)
    geometry = buffer_geometry(config.system, 8, 16)
    probe = layer_cost(config.system, table, layer, spikes, 5, geometry)

    burst = int(config.system.dram.burst)
    bursts = probe.levels.dram_bursts.sum(axis=1)
    compute = probe.schedule.compute_cycles
    clock = config.system.clock
    demand = max(Fraction(int(bursts[i + 1]) * burst) * clock / int(compute[i])
                 for i in range(len(compute) - 1) if compute[i] > 0)
    bandwidth = -(-demand.numerator // demand.denominator)  # bytes/s, rounded up

    # The same schedule (the probe's mapping) on DRAM at exactly that bandwidth, then at half.
    schedule = probe.schedule
    system = load_config(default_config, ideal + [f"system.dram.bandwidth={bandwidth}"]).system
    memory = count_levels(system, schedule.traffic, schedule.segments).memory_cycles
    latency = analytic_latency(schedule.compute_cycles, memory)
    assert latency - int(compute.sum()) - fill_cycles(compute, memory) == 0
    slower = load_config(default_config, ideal + [f"system.dram.bandwidth={bandwidth // 2}"]).system
    slow_memory = count_levels(slower, schedule.traffic, schedule.segments).memory_cycles
    assert analytic_latency(compute, slow_memory) > latency
