"""Checks made before the first sample runs: pinned buffer blocks and the resource guard.

Pinned blocks: an SRAM buffer's `pin` list names data types whose whole per-layer block
must stay resident in that buffer (a design without a path to stream them). If a layer's
block does not fit the capacity that the dataflow gives that data type, the run stops
with a `ConfigError` naming the buffer, its size, the capacity and the block.

Resource guard: the run's SimPy events and peak memory are estimated from the workload's
shapes, and a run above the limits stops with a `ConfigError` that gives the estimate and
the option that lifts the limit. Both estimates are upper bounds, see `estimate_events`
and `estimate_peak_memory`.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.errors import ConfigError

# Defaults of --max-events and --max-memory. The shipped N-MNIST configs estimate at most
# 3e7 events and 0.1 GiB for their 100 samples, so the defaults leave room for runs a
# hundred times larger and stop runs that would take hours or exhaust memory.
DEFAULT_MAX_EVENTS = 1_000_000_000
DEFAULT_MAX_MEMORY = 8 << 30

# SimPy events of one double-buffered step in `kernel.run_steps`: the loader's go event, DRAM
# request, memory timeout and release, the step's done event and the compute timeout.
EVENTS_PER_STEP = 6
# The same in `kernel.run_steps_concurrent` (write_back: concurrent): go, done and produced
# events, the compute timeout, and for the loader and the writer each up to three requests,
# a timeout and three releases.
EVENTS_PER_CONCURRENT_STEP = 17

# Python memory of the trace rows of one sample and layer (about 30 dict rows). Measured with
# tracemalloc on configs/spikex_nmnist.yaml: about 25 KiB; the estimate doubles it.
TRACE_ROW_BYTES_PER_LAYER = 64 * 1024

# Data types that each buffer level can pin, with the block that must fit.
PINNABLE = {"glb": ("spikes", "weights", "vmem"), "lbuf": ("weights",)}


def _bytes(bits: int) -> int:
    return -(-bits // 8)


def _window_sizes(array, layer_index: int, layer_count: int, timesteps: int) -> list[int]:
    """Return the window sizes a layer may run with (all candidates for `tws: search`)."""
    tws = array.tws_for(layer_index, layer_count)
    if tws == "search":
        return list(array.tws_candidates(timesteps)) or [1]
    return [int(tws)]


def check_pinned_blocks(system, model, timesteps: int, geometry, source: str) -> None:
    """Raise `ConfigError` if a block pinned into a buffer does not fit its capacity there."""
    array = system.array
    layer_count = len(model.layers)
    for level in ("glb", "lbuf"):
        buffer = getattr(system, level)
        pinned = list(getattr(buffer, "pin", None) or [])
        for data_type in pinned:
            if data_type not in PINNABLE[level]:
                raise ConfigError(f"{data_type!r} cannot be pinned into the {level.upper()}; pinnable there: "
                                  f"{', '.join(PINNABLE[level])}", source=source, key=f"system.{level}.pin")
            if level == "lbuf" and not hasattr(array, "rows"):
                raise ConfigError(f"array {array.type_name} has no rows of output channels, so an LBUF weight block "
                                  "is not defined; remove weights from system.lbuf.pin", source=source,
                                  key="system.lbuf.pin")
        for index, layer in enumerate(model.layers):
            for data_type in pinned:
                block, capacity, block_name = _pinned_block(level, data_type, layer, index, layer_count, array, timesteps,
                                                      geometry)
                if block > capacity:
                    raise ConfigError(
                        f"{buffer.path} ({int(buffer.size)} B) cannot hold the {block}-byte {block_name} of layer "
                        f"{layer.name}: {data_type} may use {capacity} B of it; enlarge {buffer.path}.size, raise "
                        f"its {data_type} share, or remove {data_type} from {buffer.path}.pin",
                        source=source, key=f"{buffer.path}.pin")


def _pinned_block(level, data_type, layer, index, layer_count, array, timesteps, geometry) -> tuple[int, int, str]:
    """Return (block bytes, capacity bytes, description) with the dataflow's own residency rules."""
    weight_bits = geometry.weight_bits
    if level == "glb" and data_type == "weights":
        # Untailored: every input channel's weights, so the block fits whatever spikes arrive.
        return _bytes(layer.out_channels * layer.in_channels * layer.taps * weight_bits), geometry.glb_weights, \
            "weight block (all its weights)"
    if level == "glb" and data_type == "vmem":
        return layer.out_channels * layer.positions * _bytes(geometry.membrane_bits), geometry.glb_vmem, \
            "membrane block (one membrane per neuron)"
    if level == "glb" and data_type == "spikes":
        tws = max(_window_sizes(array, index, layer_count, timesteps))
        return _bytes(int(np.prod(layer.in_shape)) * tws), geometry.glb_spikes, \
            f"input spike block (one window of {tws} steps)"
    rows = min(array.rows, layer.out_channels)
    return _bytes(rows * layer.in_channels * layer.taps * weight_bits), geometry.lbuf_weights, \
        f"weight block of one row group ({rows} output channels)"


def step_events(system) -> int:
    """Return the most SimPy events one step of `system` can take."""
    return EVENTS_PER_CONCURRENT_STEP if getattr(system, "write_back", None) == "concurrent" else EVENTS_PER_STEP


def estimate_events(model, array, timesteps: int, samples: int, events_per_step: int = EVENTS_PER_STEP) -> int:
    """Return an upper bound of the SimPy events of a run.

    A layer has at most one step per pass plus a drain step, and at most one pass per row
    group, output position and window (every NTWU active, one column used per pass).
    """
    layer_count = len(model.layers)
    rows = int(getattr(array, "rows", 1))
    steps = 0
    for index, layer in enumerate(model.layers):
        windows = -(-timesteps // min(_window_sizes(array, index, layer_count, timesteps)))
        groups = -(-layer.out_channels // rows)
        steps += groups * layer.positions * windows + 1
    # Each layer also starts and ends a loader and a writer process (4 events).
    return samples * (events_per_step * steps + 4 * layer_count) + 1


def estimate_peak_memory(model, array, timesteps: int, samples: int, dataset_bytes: int) -> int:
    """Return an upper estimate in bytes of the run's peak memory use.

    The largest term is one layer's receptive-field array [T, P, C, taps] (uint8), its
    float64 copy for the active NTWUs and the int64/float64 currents [T, P, M] of the
    integration. The output spikes of every layer of every sample stay in memory until the
    run ends, as do the loaded input samples (`dataset_bytes`) and the trace rows.
    """
    layer_count = len(model.layers)
    peak_layer = 0
    spikes_per_sample = timesteps * int(np.prod(model.input_shape))
    for index, layer in enumerate(model.layers):
        tws = max(_window_sizes(array, index, layer_count, timesteps))
        padded_steps = -(-timesteps // tws) * tws
        fields = padded_steps * layer.positions * layer.in_channels * layer.taps
        currents = timesteps * layer.positions * layer.out_channels
        windows = -(-timesteps // min(_window_sizes(array, index, layer_count, timesteps)))
        tags = windows * layer.positions * layer.in_channels
        # 1 B per field (uint8) + 1 B for the transposed copy + 9 B for the selected uint8 and float64 copies;
        # 32 B per current (int64 result, float64 product, rounded copy, int64 cast); 10 B per window tag.
        layer_bytes = 11 * fields + 32 * currents + 10 * tags + 8 * layer.out_channels * layer.fan_in
        peak_layer = max(peak_layer, layer_bytes)
        spikes_per_sample += timesteps * int(np.prod(layer.out_shape))
    trace_rows = samples * layer_count * TRACE_ROW_BYTES_PER_LAYER
    return samples * spikes_per_sample + trace_rows + peak_layer + dataset_bytes


def dataset_nbytes(dataset) -> int:
    """Return the bytes of the loaded samples' numpy arrays (0 for other sample types)."""
    total = 0
    for _, raw, _ in dataset:
        total += int(getattr(raw, "nbytes", 0) or 0)
    return total


def _mebibytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def check_resources(model, array, timesteps: int, samples: int, dataset_bytes: int, *, max_events: int,
                    max_memory: int, source: str, events_per_step: int = EVENTS_PER_STEP) -> tuple[int, int]:
    """Raise `ConfigError` if the estimated events or memory exceed the limits; return both estimates."""
    events = estimate_events(model, array, timesteps, samples, events_per_step)
    memory = estimate_peak_memory(model, array, timesteps, samples, dataset_bytes)
    if events > max_events:
        raise ConfigError(f"this run needs up to an estimated {events:,} SimPy events ({samples} samples), more than "
                          f"the limit of {max_events:,}; run fewer samples (--samples) or lift the limit with "
                          f"--max-events {events}", source=source)
    if memory > max_memory:
        raise ConfigError(f"this run needs an estimated {_mebibytes(memory)} of memory ({samples} samples), more "
                          f"than the limit of {_mebibytes(max_memory)}; run fewer samples (--samples), shrink "
                          f"workload.timesteps or lift the limit with --max-memory {-(-memory // 2**20)}MiB",
                          source=source)
    return events, memory
