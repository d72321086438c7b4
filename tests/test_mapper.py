"""The mapper: candidate mappings, the choice per objective, and what a larger buffer may change."""

from types import SimpleNamespace

import numpy as np
import pytest

from spikex_sim.config import load_config
from spikex_sim.dataflow import spikex
from spikex_sim.dataflow.schedule import KEY_INDEX, ArrayShape, BufferGeometry
from spikex_sim.dataflow.steps import MappingCost, block_size_candidates, select_mapping
from spikex_sim.evaluate import dram_bytes, layer_cost
from spikex_sim.memory import buffer_geometry

GLB_SIZES = ("4KB", "8KB", "16KB", "27KB", "54KB", "108KB", "216KB")


def test_block_size_candidates():
    # 6 windows: 1, 2, 3 or 6 blocks need at least 6, 3, 2, 1 windows each (4 and 5 blocks: 2).
    assert block_size_candidates(6, 6) == [1, 2, 3, 6]
    assert block_size_candidates(6, 4) == [1, 2, 3]
    # 30 windows: ceil(30 / k) for k = 1..30.
    assert block_size_candidates(30, 30) == [1, 2, 3, 4, 5, 6, 8, 10, 15, 30]


def candidate(spike_bytes, weight_bytes, dram, stall, latency, energy):
    schedule = SimpleNamespace(stats={"glb_spike_bytes": spike_bytes, "glb_weight_bytes": weight_bytes,
                                      "glb_vmem_bytes": 0})
    return schedule, MappingCost(dram, stall, latency, energy)


GEOMETRY = BufferGeometry(glb_spikes=100, glb_weights=100, glb_vmem=100, lbuf_spikes=10, lbuf_weights=10,
                          weight_bits=8, membrane_bits=16)
# Fractions of a share: 0, 0.5, 0.6 and 0.8; the second trades stalls for bytes.
STREAMED = candidate(0, 0, dram=1000, stall=10, latency=110, energy=50.0)
FEWER_BYTES_MORE_STALLS = candidate(50, 0, dram=500, stall=20, latency=120, energy=30.0)
FASTEST = candidate(0, 60, dram=900, stall=4, latency=90, energy=60.0)
BETTER_IN_BOTH = candidate(80, 0, dram=400, stall=5, latency=105, energy=20.0)
ALL = [STREAMED, FEWER_BYTES_MORE_STALLS, FASTEST, BETTER_IN_BOTH]


def test_scalar_objectives_take_their_minimum():
    assert select_mapping(ALL, GEOMETRY, "energy") is BETTER_IN_BOTH[0]
    assert select_mapping(ALL, GEOMETRY, "latency") is FASTEST[0]
    # EDP: 5500, 3600, 5400, 2100 (energy x latency).
    assert select_mapping(ALL, GEOMETRY, "edp") is BETTER_IN_BOTH[0]


def test_monotone_walk_needs_both_better():
    # From the streamed mapping (fraction 0), the walk skips the one that stalls more,
    # takes FASTEST (900 B, 4 cycles), and cannot take BETTER_IN_BOTH (5 > 4 stall cycles).
    assert select_mapping(ALL, GEOMETRY, "monotone") is FASTEST[0]
    # A GLB too small for FASTEST (its weights) leaves the streamed mapping, then BETTER_IN_BOTH.
    assert select_mapping([STREAMED, FEWER_BYTES_MORE_STALLS], GEOMETRY, "monotone") is STREAMED[0]
    assert select_mapping([STREAMED, FEWER_BYTES_MORE_STALLS, BETTER_IN_BOTH], GEOMETRY,
                          "monotone") is BETTER_IN_BOTH[0]


def test_equal_costs_prefer_the_smaller_mapping():
    small = candidate(10, 0, dram=100, stall=1, latency=10, energy=1.0)
    large = candidate(90, 0, dram=100, stall=1, latency=10, energy=1.0)
    assert select_mapping([large, small], GEOMETRY, "edp") is small[0]


def random_input(layer, rate, seed):
    spikes = (np.random.default_rng(seed).random((30, *layer.in_shape)) < rate).astype(np.uint8)
    return spikes if layer.kind == "conv" else spikes.reshape(30, -1)


def glb_sweep(config_path, objective, layer_index, rate, sizes=GLB_SIZES, buffer="glb"):
    config = load_config(config_path)
    model = config.workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    layer = model.layers[layer_index]
    spikes = random_input(layer, rate, seed=layer_index)
    results = []
    for size in sizes:
        system = load_config(config_path, [f"system.mapper={objective}", f"system.{buffer}.size={size}"]).system
        cost = layer_cost(system, table, layer, spikes, 5, buffer_geometry(system, 8, 16))
        stall = cost.latency_cycles - int(cost.schedule.compute_cycles.sum())
        results.append((size, dram_bytes(cost.schedule), stall, cost.latency_cycles))
    return results


@pytest.mark.parametrize("layer_index,rate", [(1, 0.05), (2, 0.05), (2, 0.005), (3, 0.2)])
def test_monotone_mapper_glb_sweep(default_config, layer_index, rate):
    results = glb_sweep(default_config, "monotone", layer_index, rate)
    for (size, dram, stall, _), (larger, larger_dram, larger_stall, _) in zip(results, results[1:]):
        assert larger_dram <= dram, (size, larger)
        assert larger_stall <= stall, (size, larger)


def test_latency_mapper_glb_sweep(default_config):
    results = glb_sweep(default_config, "latency", 2, 0.05)
    for (size, _, _, latency), (larger, _, _, larger_latency) in zip(results, results[1:]):
        assert larger_latency <= latency, (size, larger)


def test_monotone_mapper_uses_a_large_glb(default_config):
    # It does not stay on the smallest buffer's mapping: 216 KB moves fewer DRAM bytes than 4 KB.
    results = glb_sweep(default_config, "monotone", 2, 0.05)
    assert results[-1][1] < results[0][1]


def test_dense_array_buffer_sweeps(repo_root):
    dense_config = repo_root / "configs" / "dense_nmnist.yaml"
    for buffer, sizes in (("glb", GLB_SIZES), ("lbuf", ("256B", "512B", "1KB", "2KB", "4KB", "16KB"))):
        results = glb_sweep(dense_config, "edp", 1, 0.05, sizes=sizes, buffer=buffer)
        for (size, dram, stall, _), (larger, larger_dram, larger_stall, _) in zip(results, results[1:]):
            assert larger_dram <= dram, (buffer, size, larger)
            assert larger_stall <= stall, (buffer, size, larger)


def conv2_weight_bytes(default_config, glb_spikes, glb_weights):
    """Run conv2 (12 -> 32 channels, 3x3, 8-bit) on all-ones input and return its DRAM weight bytes."""
    config = load_config(default_config)
    layer = config.workload.model.load(config.base_dir).layers[1]
    spikes = np.ones((30, *layer.in_shape), dtype=np.uint8)
    geometry = BufferGeometry(glb_spikes=glb_spikes, glb_weights=glb_weights, glb_vmem=10**6, lbuf_spikes=10**5,
                              lbuf_weights=10**5, weight_bits=8, membrane_bits=16)
    _, schedule = spikex.run_layer(layer, spikes, 5, ArrayShape(8, 8), "temporal", geometry)
    return int(schedule.traffic[:, KEY_INDEX[("dram", "glb", "weights")]].sum()), schedule.stats


def test_layer_weights_load_once(default_config):
    # 32 x 12 x 9 = 3,456 bytes fit: each kernel loads once over the 6 windows.
    weight_bytes, stats = conv2_weight_bytes(default_config, glb_spikes=10**6, glb_weights=10**6)
    assert stats["weights_resident_glb"]
    assert weight_bytes == 3456


def test_block_weights_load_once_per_block(default_config):
    # One input window is 12 x 16 x 16 x 5 bits = 1,920 bytes, so blocks hold 1 window: 6 blocks.
    # 3,000 bytes hold a group's 8 x 12 x 9 = 864 bytes but not the layer's 3,456: every block
    # loads all 4 groups again, 6 x 3,456 = 20,736 bytes.
    weight_bytes, stats = conv2_weight_bytes(default_config, glb_spikes=1920, glb_weights=3000)
    assert stats["block_windows"] == 1
    assert not stats["weights_resident_glb"]
    assert weight_bytes == 20736


def test_pinned_types_stay_resident(default_config):
    # 216 KB with weights, membranes and input spikes pinned: the monotone walk, which would
    # otherwise start from streamed mappings, must keep all three in the GLB.
    pins = ["system.mapper=monotone", "system.glb.size=216KB", "system.glb.pin=[weights, vmem, spikes]"]
    config = load_config(default_config, pins)
    model = config.workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    geometry = buffer_geometry(config.system, 8, 16)
    for index, layer in enumerate(model.layers):
        stats = layer_cost(config.system, table, layer, random_input(layer, 0.05, index), 5, geometry).schedule.stats
        assert stats["input_resident_glb"], layer.name
        assert stats["weights_resident_glb"], layer.name
        assert not stats["vmem_spills_to_dram"], layer.name


def test_monotone_window_search_glb_sweep(repo_root):
    # PTB searches its window size; under monotone every sample walks all sizes' mappings.
    from spikex_sim.runner import simulate

    ptb_config = repo_root / "configs" / "ptb_nmnist.yaml"
    tables = [simulate(load_config(ptb_config, ["system.mapper=monotone", f"system.glb.size={size}"]),
                       samples=3).tables["layers"] for size in ("24KB", "27KB", "54KB")]
    for smaller, larger in zip(tables, tables[1:]):
        assert (larger["dram_bytes"].to_numpy() <= smaller["dram_bytes"].to_numpy()).all()
        assert (larger["stall_cycles"].to_numpy() <= smaller["stall_cycles"].to_numpy()).all()


def test_lbuf_kept_streamed_weights_once(default_config):
    # 100 bytes hold no group's 864 bytes of weights, so they stream from DRAM; the LBUF holds
    # a group's weights, so each of the 6 blocks fetches 4 x 864 bytes once: 20,736 bytes.
    weight_bytes, stats = conv2_weight_bytes(default_config, glb_spikes=1920, glb_weights=100)
    assert stats["glb_weight_bytes"] == 0
    assert weight_bytes == 20736


def test_layer_weights_of_odd_width_sum_exactly(default_config):
    # fc (2304 -> 10) with 9-bit weights, one window per block: kernels load block by block,
    # and the total is the layer's 10 x 9 bits per active input, rounded up once.
    config = load_config(default_config)
    layer = config.workload.model.load(config.base_dir).layers[3]
    spikes = random_input(layer, 0.01, seed=3)
    geometry = BufferGeometry(glb_spikes=1440, glb_weights=10**6, glb_vmem=10**6, lbuf_spikes=10**5,
                              lbuf_weights=10**5, weight_bits=9, membrane_bits=16)
    _, schedule = spikex.run_layer(layer, spikes, 5, ArrayShape(8, 8), "temporal", geometry)
    active_inputs = int(spikes.any(axis=0).sum())
    assert schedule.stats["block_windows"] == 1
    assert int(schedule.traffic[:, KEY_INDEX[("dram", "glb", "weights")]].sum()) == -(-10 * active_inputs * 9 // 8)


def test_unfittable_pin_is_a_config_error(default_config):
    from spikex_sim.errors import ConfigError

    config = load_config(default_config, ["system.glb.size=2KB", "system.glb.pin=[spikes]"])
    model = config.workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    layer = model.layers[0]
    with pytest.raises(ConfigError, match="no mapping of layer conv1 fits the GLB"):
        layer_cost(config.system, table, layer, random_input(layer, 0.05, 0), 5, buffer_geometry(config.system, 8, 16))
