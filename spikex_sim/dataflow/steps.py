"""Generic step building shared by the NTWU dataflows (SpikeX, PTB, time-serial).

A dataflow supplies a planner that lays out the passes of one time block; this module
replicates them over the channel groups of the array's rows, decides what is resident at
each buffer level, packs passes into double-buffered steps and counts every transfer.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from spikex_sim.dataflow.activity import LayerActivity
from spikex_sim.dataflow.schedule import (
    KEY_INDEX, TRAFFIC_KEYS, WRITE_BACK_KEYS, ArrayShape, BufferGeometry, LayerSchedule, PassTable,
    bits_to_bytes, pass_compute_cycles,
)
from spikex_sim.workload.model import Layer

# plan(block_windows, first_window, last_window) -> PassTable or None
SEGMENT_OFFSET = len(TRAFFIC_KEYS)
WRITE_BACK_DELAY = 2  # rows between a step and the memory phase that carries its write-backs
PassPlanner = Callable[[np.ndarray, np.ndarray, np.ndarray], Optional[PassTable]]


def _neuron_window_bounds(activity: LayerActivity) -> tuple[np.ndarray, np.ndarray]:
    tags = activity.ntwu_tags
    any_active = tags.any(axis=0)
    first = np.where(any_active, tags.argmax(axis=0), -1)
    last = np.where(any_active, tags.shape[0] - 1 - tags[::-1].argmax(axis=0), -1)
    return first, last


def build_schedule(layer: Layer, activity: LayerActivity, out_spikes: np.ndarray, array: ArrayShape,
                   geometry: BufferGeometry, plan: PassPlanner, *, block_windows_max: int | None = None,
                   tailoring: bool = True, skip_silent_blocks: bool = True,
                   cycle_model: Callable = pass_compute_cycles) -> LayerSchedule:
    """Group the layer's passes into double-buffered steps and count every transfer.

    `plan(block_windows)` returns the `PassTable` of one time block, or None when the block
    has no pass. `block_windows_max` caps the windows per time block (a dataflow that
    refetches its weights at every window sets 1). `cycle_model(table, rows_used, array, tws)`
    returns each pass's cycles: the closed form by default, or the cycle-level reference.
    """
    tws = activity.tws
    windows = activity.windows
    positions = activity.ntwu_tags.shape[1]
    out_channels = layer.out_channels
    groups = -(-out_channels // array.rows)
    weight_bits = geometry.weight_bits
    vmem_bytes = bits_to_bytes(geometry.membrane_bits)

    input_window_bytes = bits_to_bytes(int(np.prod(layer.in_shape)) * tws)
    layer_channels = int(activity.channel_tags.any(axis=(0, 1)).sum()) if tailoring else layer.in_channels
    layer_weight_bytes = bits_to_bytes(out_channels * layer_channels * layer.taps * weight_bits)
    weights_resident_layer = layer_weight_bytes <= geometry.glb_weights
    if input_window_bytes <= geometry.glb_spikes:
        # NOTE: the largest block that fits saves weight reloads, but its first load is a
        # longer pipeline fill, so a larger GLB can add fill cycles.
        block_size = max(1, geometry.glb_spikes // input_window_bytes)
        input_resident = True
        if block_windows_max is not None:
            block_size = min(block_size, block_windows_max)
    else:
        block_size = windows if block_windows_max is None else block_windows_max
        input_resident = False
    vmem_spills = out_channels * positions * vmem_bytes > geometry.glb_vmem
    first_window, last_window = _neuron_window_bounds(activity)
    out_window_tags = _output_window_tags(out_spikes, tws, windows, array.rows)  # [groups, NW]

    step_cycles: list[np.ndarray] = []
    step_traffic: list[np.ndarray] = []
    block_heads: list[np.ndarray] = []
    block_tails: list[np.ndarray] = []
    counts = {"pe.accumulate": 0, "pe.weight_register": 0, "pe.membrane_update": 0, "pe.compare": 0}
    total_passes = 0
    mapped_pe_cycles = 0
    first_layer_step = True
    for block_start in range(0, windows, block_size):
        block_windows = np.arange(block_start, min(block_start + block_size, windows))
        if skip_silent_blocks and not activity.window_tags[block_windows].any():
            continue  # a time block whose tag is 0 is never loaded nor processed
        table = plan(block_windows, first_window, last_window)
        if table is None:
            continue
        active_input_windows = int(activity.window_tags[block_windows].sum())
        for group in range(groups):
            rows_used = min(array.rows, out_channels - group * array.rows)
            cycles = cycle_model(table, rows_used, array, tws)
            traffic = _pass_traffic(table, rows_used, tws, weight_bits, vmem_bytes)
            segments = np.zeros_like(traffic)  # contiguous DRAM pieces behind each DRAM transfer
            group_weight_bytes = bits_to_bytes(rows_used * table.block_channels * layer.taps * weight_bits)
            lbuf_resident = group_weight_bytes <= geometry.lbuf_weights
            glb_resident = weights_resident_layer or group_weight_bytes <= geometry.glb_weights
            if lbuf_resident:
                traffic[:, KEY_INDEX[("glb", "lbuf", "weights")]] = 0
            # Weights are stored channel-major, so the kernels of one input channel for a group
            # of rows are one contiguous piece; each column's receptive field is one piece.
            if not glb_resident:
                traffic[:, KEY_INDEX[("dram", "glb", "weights")]] = traffic[:, KEY_INDEX[("lbuf", "pe", "weights")]]
                segments[:, KEY_INDEX[("dram", "glb", "weights")]] = table.stream_len // layer.taps
            if not input_resident:
                traffic[:, KEY_INDEX[("dram", "glb", "spikes_in")]] = traffic[:, KEY_INDEX[("glb", "lbuf", "spikes_in")]]
                segments[:, KEY_INDEX[("dram", "glb", "spikes_in")]] = table.cols_used
            if vmem_spills:
                traffic[:, KEY_INDEX[("dram", "glb", "vmem")]] = traffic[:, KEY_INDEX[("glb", "pe", "vmem")]]
                traffic[:, KEY_INDEX[("glb", "dram", "vmem")]] = traffic[:, KEY_INDEX[("pe", "glb", "vmem")]]
                segments[:, KEY_INDEX[("dram", "glb", "vmem")]] = 1
                segments[:, KEY_INDEX[("glb", "dram", "vmem")]] = 1

            block_cycles, block_traffic = _group_into_steps(
                cycles, np.hstack([traffic, segments]), geometry, lbuf_resident,
            )
            # Block-level DRAM transfers go through the GLB's double buffer: a block's inputs
            # and weights load while the previous block computes, and its outputs leave while
            # the next block computes (see _spread_block_transfers).
            head = np.zeros(2 * SEGMENT_OFFSET, dtype=np.int64)
            dram_weights = KEY_INDEX[("dram", "glb", "weights")]
            if lbuf_resident:
                block_traffic[0][KEY_INDEX[("glb", "lbuf", "weights")]] += group_weight_bytes
            if glb_resident and not weights_resident_layer:
                head[dram_weights] += group_weight_bytes
                head[SEGMENT_OFFSET + dram_weights] += table.block_channels
            if first_layer_step and weights_resident_layer:
                head[dram_weights] += layer_weight_bytes
                head[SEGMENT_OFFSET + dram_weights] += layer_channels
            if group == 0 and input_resident:
                head[KEY_INDEX[("dram", "glb", "spikes_in")]] += active_input_windows * input_window_bytes
                head[SEGMENT_OFFSET + KEY_INDEX[("dram", "glb", "spikes_in")]] += active_input_windows
            first_layer_step = False
            tail = np.zeros(2 * SEGMENT_OFFSET, dtype=np.int64)
            active_out = int(out_window_tags[group, block_windows].sum())
            dram_out = KEY_INDEX[("glb", "dram", "spikes_out")]
            tail[dram_out] += bits_to_bytes(rows_used * positions * tws) * active_out
            tail[SEGMENT_OFFSET + dram_out] += active_out
            block_heads.append(head)
            block_tails.append(tail)

            step_cycles.append(block_cycles)
            step_traffic.append(block_traffic)
            total_passes += len(cycles)
            mapped_pe_cycles += int((rows_used * table.cols_used * cycles).sum())
            counts["pe.accumulate"] += int(rows_used * table.input_spikes.sum())
            counts["pe.weight_register"] += int((rows_used * table.cols_used * table.stream_len).sum())
            counts["pe.membrane_update"] += int(rows_used * table.cols_used.sum() * tws)
            counts["pe.compare"] += int(rows_used * table.cols_used.sum() * tws)

    compute = np.concatenate(step_cycles) if step_cycles else np.zeros(0, dtype=np.int64)
    combined = np.concatenate(step_traffic) if step_traffic else np.zeros((0, 2 * SEGMENT_OFFSET), dtype=np.int64)
    compute, combined = _shift_write_backs(compute, combined)
    _spread_block_transfers(combined, [len(cycles) for cycles in step_cycles], block_heads, block_tails)
    traffic, segments = combined[:, :SEGMENT_OFFSET], combined[:, SEGMENT_OFFSET:]
    active_ntwus = int(activity.ntwu_tags.sum()) * out_channels
    stats = {
        "ntwu_total": windows * positions * out_channels,
        "ntwu_active": active_ntwus,
        "windows": windows,
        "mapped_pe_cycles": mapped_pe_cycles,
        "input_resident_glb": input_resident,
        "weights_resident_glb": weights_resident_layer,
        "vmem_spills_to_dram": vmem_spills,
    }
    return LayerSchedule(compute, traffic, total_passes, counts, stats, segments)


def _output_window_tags(out_spikes: np.ndarray, tws: int, windows: int, rows: int) -> np.ndarray:
    steps, channels = out_spikes.shape[:2]
    per_step = out_spikes.reshape(steps, channels, -1).any(axis=2)  # [T, M]
    padded = np.zeros((windows * tws, channels), dtype=bool)
    padded[:steps] = per_step
    per_window = padded.reshape(windows, tws, channels).any(axis=1)  # [NW, M]
    groups = -(-channels // rows)
    tags = np.zeros((groups, windows), dtype=bool)
    for group in range(groups):
        tags[group] = per_window[:, group * rows:(group + 1) * rows].any(axis=1)
    return tags


def _pass_traffic(table: PassTable, rows_used: int, tws: int, weight_bits: int, vmem_bytes: int) -> np.ndarray:
    traffic = np.zeros((len(table.cols_used), len(TRAFFIC_KEYS)), dtype=np.int64)
    spike_bytes = bits_to_bytes(table.spike_bits)
    weight_bytes = bits_to_bytes(rows_used * table.stream_len * weight_bits)
    traffic[:, KEY_INDEX[("glb", "lbuf", "spikes_in")]] = spike_bytes
    traffic[:, KEY_INDEX[("lbuf", "pe", "spikes_in")]] = spike_bytes
    traffic[:, KEY_INDEX[("glb", "lbuf", "weights")]] = weight_bytes
    traffic[:, KEY_INDEX[("lbuf", "pe", "weights")]] = weight_bytes
    traffic[:, KEY_INDEX[("glb", "pe", "vmem")]] = rows_used * table.vmem_reads * vmem_bytes
    traffic[:, KEY_INDEX[("pe", "glb", "vmem")]] = rows_used * table.vmem_writes * vmem_bytes
    traffic[:, KEY_INDEX[("pe", "glb", "spikes_out")]] = bits_to_bytes(rows_used * table.cols_used * tws)
    return traffic


def _group_into_steps(cycles: np.ndarray, traffic: np.ndarray, geometry: BufferGeometry,
                      lbuf_resident: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pack consecutive passes into steps whose data fit half the LBUF."""
    spike_bytes = traffic[:, KEY_INDEX[("glb", "lbuf", "spikes_in")]].tolist()
    weight_bytes = ([0] * len(spike_bytes) if lbuf_resident
                    else traffic[:, KEY_INDEX[("lbuf", "pe", "weights")]].tolist())
    spike_capacity = geometry.lbuf_spikes
    weight_capacity = geometry.lbuf_weights
    out_cycles: list[int] = []
    out_traffic: list[np.ndarray] = []
    start = 0
    held_spikes = held_weights = 0

    def flush(end: int) -> None:
        if end > start:
            out_cycles.append(int(cycles[start:end].sum()))
            out_traffic.append(traffic[start:end].sum(axis=0))

    for index, (spikes, weights) in enumerate(zip(spike_bytes, weight_bytes)):
        if spikes > spike_capacity or weights > weight_capacity:
            # NOTE: a pass larger than half the LBUF streams through it as a FIFO; its data
            # is billed as if loaded during the previous step, like a double-buffered block.
            flush(index)
            out_cycles.append(int(cycles[index]))
            out_traffic.append(traffic[index].copy())
            start = index + 1
            held_spikes = held_weights = 0
            continue
        if index > start and (held_spikes + spikes > spike_capacity or held_weights + weights > weight_capacity):
            flush(index)
            start = index
            held_spikes = held_weights = 0
        held_spikes += spikes
        held_weights += weights
    flush(len(spike_bytes))
    return np.array(out_cycles, dtype=np.int64), np.array(out_traffic, dtype=np.int64).reshape(-1, traffic.shape[1])


def _spread_block_transfers(combined: np.ndarray, block_lengths: list[int], heads: list[np.ndarray],
                            tails: list[np.ndarray]) -> None:
    """Place block-level DRAM transfers in the steps that overlap them, in place.

    Block i's loads spread evenly over the steps of block i-1, and its write-backs over the
    steps of block i+1 (one row later, once block i's compute has ended), as a GLB double
    buffer at block granularity does. The first block's loads go into its own first step,
    and the last block's write-backs into the last drain step.
    """
    starts = np.concatenate([[0], np.cumsum(block_lengths)]).astype(int)
    last_row = combined.shape[0] - 1
    for index, (head, tail) in enumerate(zip(heads, tails)):
        if index == 0:
            combined[starts[0]] += head
        else:
            _spread(combined[starts[index - 1]:starts[index]], head)
        # A block's outputs leave in the memory phases that follow its last compute.
        if index + 1 < len(heads):
            _spread(combined[starts[index + 1] + 1:starts[index + 2] + 1], tail)
        else:
            combined[last_row] += tail


def _spread(rows: np.ndarray, vector: np.ndarray) -> None:
    """Add `vector` to `rows` split into integer parts that sum to it exactly."""
    count = rows.shape[0]
    rows += vector // count
    remainder = vector % count
    for column in np.flatnonzero(remainder):
        rows[: remainder[column], column] += 1


def _shift_write_backs(compute: np.ndarray, traffic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each step's write-backs two steps later and add two drain steps.

    The memory phase of row i+1 runs while the array computes row i, so the outputs of step
    i exist only from the memory phase of row i+2 on. The two drain rows (no compute) carry
    the last step's write-backs after it ends. `traffic` contains bytes per key, optionally
    followed by the same number of segment columns.
    """
    if len(compute) == 0:
        return compute, traffic
    write_columns = [KEY_INDEX[key] for key in TRAFFIC_KEYS if key in WRITE_BACK_KEYS]
    if traffic.shape[1] == 2 * SEGMENT_OFFSET:
        write_columns += [SEGMENT_OFFSET + column for column in write_columns]
    shifted = np.vstack([traffic, np.zeros((WRITE_BACK_DELAY, traffic.shape[1]), dtype=np.int64)])
    shifted[:, write_columns] = 0
    shifted[WRITE_BACK_DELAY:, write_columns] = traffic[:, write_columns]
    return np.append(compute, np.zeros(WRITE_BACK_DELAY, dtype=np.int64)), shifted
