"""Generic step building shared by the NTWU dataflows (SpikeX, PTB, time-serial).

A dataflow supplies a planner that lays out the passes of one time block; this module
replicates them over the channel groups of the array's rows, decides what is resident at
each buffer level, packs passes into double-buffered steps and counts every transfer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from spikex_sim.dataflow.activity import LayerActivity
from spikex_sim.errors import ConfigError
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


WEIGHT_POLICIES = ("stream", "block", "layer")
OBJECTIVES = ("edp", "energy", "latency", "monotone")


@dataclass(frozen=True)
class MappingCost:
    """Cost of one candidate schedule of a layer, as a mapper weighs it."""

    dram_bytes: int
    stall_cycles: int  # latency minus compute: every cycle the array waits for memory
    latency_cycles: int
    energy_pj: float


@dataclass(frozen=True)
class Mapper:
    """Chooser among a layer's candidate mappings.

    `cost(schedule)` measures a candidate on the system being simulated. `objective` is
    minimised: edp, energy or latency (ties: fewer DRAM bytes, then fewer stall cycles), or
    monotone (see `select_mapping`).
    """

    objective: str
    cost: Callable[[LayerSchedule], MappingCost]
    # When a list, every costed candidate is appended to it, for a choice across window sizes.
    collected: list | None = None


@dataclass(frozen=True)
class Mapping:
    """A layer's use of the GLB: time blocks, and what stays resident.

    `block_windows`: windows per time block. `inputs`: "resident" loads each active input
    window of a block into the GLB once, and "stream" refetches each pass's receptive fields
    from DRAM. `weights`: "layer" keeps the layer's weights in the GLB, so each kernel loads
    once, with the first block that needs it. "block" loads a row group's weights for every
    time block, and "stream" refetches them from DRAM for every pass. `membranes`: "keep"
    updates them in the GLB, "spill" moves them through DRAM between passes. A mapping fits
    if its block of inputs and its weights fit their halves of the GLB's shares and the kept
    membranes fit the whole membrane share.
    """

    block_windows: int
    inputs: str
    weights: str
    membranes: str = "keep"


def block_size_candidates(windows: int, largest: int) -> list[int]:
    """Return the time-block sizes a mapper tries: the smallest size for each block count.

    The set depends on `windows` alone, filtered by `largest`, so a larger buffer only adds
    candidates and never removes one.
    """
    sizes = {-(-windows // count) for count in range(1, windows + 1)}
    return sorted(size for size in sizes if size <= largest)


def build_schedule(layer: Layer, activity: LayerActivity, out_spikes: np.ndarray, array: ArrayShape,
                   geometry: BufferGeometry, plan: PassPlanner, *, block_windows_max: int | None = None,
                   tailoring: bool = True, skip_silent_blocks: bool = True,
                   cycle_model: Callable = pass_compute_cycles, mapper: Mapper | None = None,
                   describe: Callable[[int], str] | None = None) -> LayerSchedule:
    """Group the layer's passes into double-buffered steps and count every transfer.

    `plan(block_windows)` returns the `PassTable` of one time block, or None when the block
    has no pass. `block_windows_max` caps the windows per time block (a dataflow that
    refetches its weights at every window sets 1). `cycle_model(table, rows_used, array, tws)`
    returns each pass's cycles: the closed form by default, or the cycle-level reference.
    `describe(block_windows)` names how the dataflow laid out the layer (stats "mode").

    Without `mapper`, the mapping keeps as much resident as fits: the largest time block
    whose inputs fit half the GLB's spike share, the layer's or else the block's weights,
    and the membranes. With `mapper`, every mapping that fits is scheduled and
    `select_mapping` picks one.
    """
    context = (layer, activity, out_spikes, array, geometry, plan, tailoring, skip_silent_blocks, cycle_model, {},
               describe)
    windows = activity.windows
    cap = windows if block_windows_max is None else block_windows_max
    input_window_bytes = bits_to_bytes(int(np.prod(layer.in_shape)) * activity.tws)
    largest = min(cap, geometry.glb_spikes // input_window_bytes)
    membranes_fit = _membrane_bytes(layer, activity, geometry) <= geometry.glb_vmem
    if mapper is None:
        inputs = "resident" if largest >= 1 else "stream"
        size = largest if largest >= 1 else cap
        for weights in ("layer", "block", "stream"):
            schedule = _schedule_blocks(*context, Mapping(size, inputs, weights, "keep" if membranes_fit else "spill"))
            if schedule.stats["glb_weight_bytes"] <= geometry.glb_weights:
                return schedule
    # Keeping membranes moves less than spilling them and changes nothing else, so only the
    # monotone walk, which must see every mapping a smaller GLB could choose, needs both.
    membrane_policies = ["keep"] if membranes_fit else []
    if (mapper.objective == "monotone" or not membranes_fit) and "vmem" not in geometry.glb_pinned:
        membrane_policies.append("spill")
    # Pinned data types stay resident: `check_pinned_blocks` has made sure that they fit.
    shapes = [] if "spikes" in geometry.glb_pinned else [(cap, "stream")]
    shapes += [(size, "resident") for size in block_size_candidates(windows, largest)]
    weight_policies = ("layer",) if "weights" in geometry.glb_pinned else WEIGHT_POLICIES
    scored = []
    for (size, inputs), weights, membranes in itertools.product(shapes, weight_policies, membrane_policies):
        schedule = _schedule_blocks(*context, Mapping(size, inputs, weights, membranes))
        if schedule.stats["glb_weight_bytes"] <= geometry.glb_weights:
            scored.append((schedule, mapper.cost(schedule)))
    if not scored:
        raise ConfigError(f"no mapping of layer {layer.name} fits the GLB with the data types pinned there "
                          f"({', '.join(sorted(geometry.glb_pinned))}); enlarge the GLB or unpin one",
                          key="system.glb.pin")
    if mapper.collected is not None:
        mapper.collected.extend(scored)
    return select_mapping(scored, geometry, mapper.objective)


def select_mapping(scored: list[tuple[LayerSchedule, MappingCost]], geometry: BufferGeometry,
                   objective: str) -> LayerSchedule:
    """Pick one of the candidate schedules that fit the GLB, for `objective`.

    edp, energy and latency take the smallest value. Every candidate that fits a GLB also
    fits a larger one, so for a given window size growing the GLB never raises the latency.
    Energy and EDP can grow, because a larger SRAM costs more per access, and DRAM bytes and
    stall cycles may trade against each other.

    monotone walks the candidates in the order in which a growing GLB admits them (by the
    fraction of a share they fill). It moves to a candidate only if that one moves no more
    DRAM bytes and stalls no more cycles than the current one, and is better in one of them
    or in latency. A larger GLB only extends the walk, so neither DRAM bytes nor stall cycles
    grow with it. The price: a buffer is used only where it helps both.
    """
    fractions = [_glb_fraction(schedule, geometry) for schedule, _ in scored]
    if objective != "monotone":
        best = min(range(len(scored)), key=lambda index: (objective_value(objective, scored[index][1]), scored[index][1].dram_bytes,
                                                           scored[index][1].stall_cycles, fractions[index], index))
        return scored[best][0]
    order = sorted(range(len(scored)), key=lambda index: (fractions[index], _walk_key(scored[index][1]), index))
    best = order[0]
    for index in order[1:]:
        candidate, current = scored[index][1], scored[best][1]
        if (candidate.dram_bytes <= current.dram_bytes and candidate.stall_cycles <= current.stall_cycles
                and _walk_key(candidate) < _walk_key(current)):
            best = index
    return scored[best][0]


def objective_value(objective: str, cost) -> float:
    """Return the value a scalar objective minimises for a cost with `energy_pj` and `latency_cycles`."""
    if objective == "edp":
        return cost.energy_pj * cost.latency_cycles
    if objective == "energy":
        return cost.energy_pj
    if objective == "latency":
        return float(cost.latency_cycles)
    raise ValueError(f"objective {objective!r} has no scalar value; use one of edp, energy, latency")


def _walk_key(cost: MappingCost) -> tuple[int, int, int]:
    return cost.dram_bytes, cost.stall_cycles, cost.latency_cycles


def _glb_fraction(schedule: LayerSchedule, geometry: BufferGeometry) -> float:
    """Return the largest fraction of a GLB share that the schedule's mapping fills."""
    fractions = [schedule.stats[key] / capacity if capacity else 0.0 for key, capacity in (
        ("glb_spike_bytes", geometry.glb_spikes), ("glb_weight_bytes", geometry.glb_weights),
        ("glb_vmem_bytes", geometry.glb_vmem))]
    return max(fractions)


def _membrane_bytes(layer: Layer, activity: LayerActivity, geometry: BufferGeometry) -> int:
    """Return the GLB bytes that keep every membrane of the layer."""
    return layer.out_channels * activity.ntwu_tags.shape[1] * bits_to_bytes(geometry.membrane_bits)


def _layer_channels(layer: Layer, activity: LayerActivity, tailoring: bool) -> int:
    """Return the input channels whose weights the layer fetches at all."""
    return int(activity.channel_tags.any(axis=(0, 1)).sum()) if tailoring else layer.in_channels


def _schedule_blocks(layer: Layer, activity: LayerActivity, out_spikes: np.ndarray, array: ArrayShape,
                     geometry: BufferGeometry, plan: PassPlanner, tailoring: bool, skip_silent_blocks: bool,
                     cycle_model: Callable, passes: dict, describe: Callable[[int], str] | None,
                     mapping: Mapping) -> LayerSchedule:
    """Schedule the layer with one mapping, with the GLB bytes it needs in its stats.

    `passes` caches what does not depend on the mapping's residency (pass tables, cycles,
    on-chip traffic, step boundaries), keyed by time block and row group.
    """
    block_size = mapping.block_windows
    input_resident = mapping.inputs == "resident"
    tws = activity.tws
    windows = activity.windows
    positions = activity.ntwu_tags.shape[1]
    out_channels = layer.out_channels
    groups = -(-out_channels // array.rows)
    weight_bits = geometry.weight_bits

    input_window_bytes = bits_to_bytes(int(np.prod(layer.in_shape)) * tws)
    layer_channels = _layer_channels(layer, activity, tailoring)
    layer_weight_bytes = bits_to_bytes(out_channels * layer_channels * layer.taps * weight_bits)
    weights_resident_layer = mapping.weights == "layer"
    glb_weight_bytes = layer_weight_bytes if weights_resident_layer else 0
    # With the whole layer's weights resident, the kernels of an input channel (one contiguous
    # piece for all output channels) load once, with the first time block that needs them.
    loaded = np.zeros(layer.in_channels, dtype=bool)
    billed_weight_bytes = 0
    vmem_spills = mapping.membranes == "spill"
    first_window, last_window = _neuron_window_bounds(activity)
    out_window_tags = _output_window_tags(out_spikes, tws, windows, array.rows)  # [groups, NW]

    step_cycles: list[np.ndarray] = []
    step_traffic: list[np.ndarray] = []
    block_heads: list[np.ndarray] = []
    block_tails: list[np.ndarray] = []
    counts = {"pe.accumulate": 0, "pe.weight_register": 0, "pe.membrane_update": 0, "pe.compare": 0,
              "passes": 0, "mapped_pe_cycles": 0}
    for block_start in range(0, windows, block_size):
        block_windows = np.arange(block_start, min(block_start + block_size, windows))
        if skip_silent_blocks and not activity.window_tags[block_windows].any():
            continue  # a time block whose tag is 0 is never loaded nor processed
        block_key = (block_start, block_size)
        if block_key not in passes:
            passes[block_key] = plan(block_windows, first_window, last_window)
        table = passes[block_key]
        if table is None:
            continue
        active_input_windows = int(activity.window_tags[block_windows].sum())
        block_channel_mask = (activity.channel_tags[block_windows].any(axis=(0, 1)) if tailoring
                              else np.ones(layer.in_channels, dtype=bool))
        templates: dict[int, tuple] = {}  # rows used -> the group's steps in this block
        for group in range(groups):
            rows_used = min(array.rows, out_channels - group * array.rows)
            group_weight_bytes = bits_to_bytes(rows_used * table.block_channels * layer.taps * weight_bits)
            lbuf_resident = group_weight_bytes <= geometry.lbuf_weights
            if mapping.weights == "block":
                glb_weight_bytes = max(glb_weight_bytes, group_weight_bytes)
            if rows_used not in templates:
                templates[rows_used] = _group_steps(passes, block_key, table, rows_used, lbuf_resident,
                                                    group_weight_bytes, mapping, geometry, array, layer.taps, tws,
                                                    cycle_model)
            block_cycles, block_traffic, group_counts = templates[rows_used]
            # Block-level DRAM transfers go through the GLB's double buffer: a block's inputs
            # and weights load while the previous block computes, and its outputs leave while
            # the next block computes (see _spread_block_transfers).
            head = np.zeros(2 * SEGMENT_OFFSET, dtype=np.int64)
            dram_weights = KEY_INDEX[("dram", "glb", "weights")]
            if weights_resident_layer:
                if group == 0:
                    new_channels = int((block_channel_mask & ~loaded).sum())
                    loaded |= block_channel_mask
                    # Bytes are billed on the running bit total, so the layer's sum is exact.
                    total_bytes = bits_to_bytes(out_channels * int(loaded.sum()) * layer.taps * weight_bits)
                    head[dram_weights] += total_bytes - billed_weight_bytes
                    billed_weight_bytes = total_bytes
                    head[SEGMENT_OFFSET + dram_weights] += new_channels
            elif mapping.weights == "block":
                head[dram_weights] += group_weight_bytes
                head[SEGMENT_OFFSET + dram_weights] += table.block_channels
            if group == 0 and input_resident:
                head[KEY_INDEX[("dram", "glb", "spikes_in")]] += active_input_windows * input_window_bytes
                head[SEGMENT_OFFSET + KEY_INDEX[("dram", "glb", "spikes_in")]] += active_input_windows
            tail = np.zeros(2 * SEGMENT_OFFSET, dtype=np.int64)
            active_out = int(out_window_tags[group, block_windows].sum())
            dram_out = KEY_INDEX[("glb", "dram", "spikes_out")]
            tail[dram_out] += bits_to_bytes(rows_used * positions * tws) * active_out
            tail[SEGMENT_OFFSET + dram_out] += active_out
            block_heads.append(head)
            block_tails.append(tail)

            step_cycles.append(block_cycles)
            step_traffic.append(block_traffic)
            for key, value in group_counts.items():
                counts[key] += value

    compute = np.concatenate(step_cycles) if step_cycles else np.zeros(0, dtype=np.int64)
    combined = np.concatenate(step_traffic) if step_traffic else np.zeros((0, 2 * SEGMENT_OFFSET), dtype=np.int64)
    compute, combined = _shift_write_backs(compute, combined)
    _spread_block_transfers(combined, [len(cycles) for cycles in step_cycles], block_heads, block_tails)
    traffic, segments = combined[:, :SEGMENT_OFFSET], combined[:, SEGMENT_OFFSET:]
    active_ntwus = int(activity.ntwu_tags.sum()) * out_channels
    total_passes = counts.pop("passes")
    mapped_pe_cycles = counts.pop("mapped_pe_cycles")
    stats = {
        "ntwu_total": windows * positions * out_channels,
        "ntwu_active": active_ntwus,
        "windows": windows,
        "block_windows": block_size,
        "glb_spike_bytes": block_size * input_window_bytes if input_resident else 0,
        "glb_weight_bytes": glb_weight_bytes,
        "glb_vmem_bytes": 0 if vmem_spills else _membrane_bytes(layer, activity, geometry),
        "mapped_pe_cycles": mapped_pe_cycles,
        "input_resident_glb": input_resident,
        "weights_resident_glb": weights_resident_layer,
        "vmem_spills_to_dram": vmem_spills,
    }
    if describe is not None:
        stats["mode"] = describe(block_size)
    return LayerSchedule(compute, traffic, total_passes, counts, stats, segments)


def _group_steps(passes: dict, block_key: tuple, table: PassTable, rows_used: int, lbuf_resident: bool,
                 group_weight_bytes: int, mapping: Mapping, geometry: BufferGeometry, array: ArrayShape, taps: int,
                 tws: int, cycle_model: Callable) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return one row group's steps in a time block: cycles, traffic with DRAM pieces, and counts.

    Every group with the same number of rows has the same steps, so the caller reuses them.
    """
    if (*block_key, rows_used) not in passes:
        cycles = cycle_model(table, rows_used, array, tws)
        on_chip = _pass_traffic(table, rows_used, tws, geometry.weight_bits, bits_to_bytes(geometry.membrane_bits))
        if lbuf_resident:
            on_chip[:, KEY_INDEX[("glb", "lbuf", "weights")]] = 0
        passes[(*block_key, rows_used)] = (cycles, on_chip, _step_starts(on_chip, geometry, lbuf_resident))
    cycles, on_chip, starts = passes[(*block_key, rows_used)]
    traffic = on_chip.copy()
    segments = np.zeros_like(traffic)  # contiguous DRAM pieces behind each DRAM transfer
    # Weights are stored channel-major, so the kernels of one input channel for a group of
    # rows are one contiguous piece. Each column's receptive field is one piece too.
    streamed = mapping.weights == "stream"
    if streamed and not lbuf_resident:
        # Every pass fetches its weights from DRAM through the GLB into the LBUF.
        traffic[:, KEY_INDEX[("dram", "glb", "weights")]] = traffic[:, KEY_INDEX[("lbuf", "pe", "weights")]]
        segments[:, KEY_INDEX[("dram", "glb", "weights")]] = table.stream_len // taps
    if mapping.inputs == "stream":
        traffic[:, KEY_INDEX[("dram", "glb", "spikes_in")]] = traffic[:, KEY_INDEX[("glb", "lbuf", "spikes_in")]]
        segments[:, KEY_INDEX[("dram", "glb", "spikes_in")]] = table.cols_used
    if mapping.membranes == "spill":
        traffic[:, KEY_INDEX[("dram", "glb", "vmem")]] = traffic[:, KEY_INDEX[("glb", "pe", "vmem")]]
        traffic[:, KEY_INDEX[("glb", "dram", "vmem")]] = traffic[:, KEY_INDEX[("pe", "glb", "vmem")]]
        segments[:, KEY_INDEX[("dram", "glb", "vmem")]] = 1
        segments[:, KEY_INDEX[("glb", "dram", "vmem")]] = 1
    block_cycles = np.add.reduceat(cycles, starts)
    block_traffic = np.add.reduceat(np.hstack([traffic, segments]), starts, axis=0)
    if lbuf_resident:
        block_traffic[0, KEY_INDEX[("glb", "lbuf", "weights")]] += group_weight_bytes
        if streamed:
            # The LBUF keeps the group's weights for the block, so DRAM sends them once.
            block_traffic[0, KEY_INDEX[("dram", "glb", "weights")]] += group_weight_bytes
            block_traffic[0, SEGMENT_OFFSET + KEY_INDEX[("dram", "glb", "weights")]] += table.block_channels
    counts = {
        "pe.accumulate": int(rows_used * table.input_spikes.sum()),
        "pe.weight_register": int((rows_used * table.cols_used * table.stream_len).sum()),
        "pe.membrane_update": int(rows_used * table.cols_used.sum() * tws),
        "pe.compare": int(rows_used * table.cols_used.sum() * tws),
        "passes": len(cycles),
        "mapped_pe_cycles": int((rows_used * table.cols_used * cycles).sum()),
    }
    return block_cycles, block_traffic, counts


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


def _step_starts(traffic: np.ndarray, geometry: BufferGeometry, lbuf_resident: bool) -> np.ndarray:
    """Return the first pass of each step: consecutive passes whose data fit half the LBUF."""
    spike_bytes = traffic[:, KEY_INDEX[("glb", "lbuf", "spikes_in")]].tolist()
    weight_bytes = ([0] * len(spike_bytes) if lbuf_resident
                    else traffic[:, KEY_INDEX[("lbuf", "pe", "weights")]].tolist())
    spike_capacity = geometry.lbuf_spikes
    weight_capacity = geometry.lbuf_weights
    starts = [0]
    held_spikes = held_weights = 0
    for index, (spikes, weights) in enumerate(zip(spike_bytes, weight_bytes)):
        if spikes > spike_capacity or weights > weight_capacity:
            # NOTE: a pass larger than half the LBUF streams through it as a FIFO, alone in
            # its step. Its data is billed as if loaded during the previous step.
            if index > starts[-1]:
                starts.append(index)
            if index + 1 < len(spike_bytes):
                starts.append(index + 1)
            held_spikes = held_weights = 0
            continue
        if index > starts[-1] and (held_spikes + spikes > spike_capacity or held_weights + weights > weight_capacity):
            starts.append(index)
            held_spikes = held_weights = 0
        held_spikes += spikes
        held_weights += weights
    return np.array(starts, dtype=np.int64)


def _spread_block_transfers(combined: np.ndarray, block_lengths: list[int], heads: list[np.ndarray],
                            tails: list[np.ndarray]) -> None:
    """Place block-level DRAM transfers in the steps that overlap them, in place.

    `heads` and `tails` hold one entry per time block and row group, in schedule order. Entry
    i's loads spread evenly over the steps of entry i-1 (for a block's first row group, the
    last row group of the previous block), and its write-backs over the steps of entry i+1
    (one row later, once entry i's compute has ended). The first entry's loads go into its
    own first step, and the last entry's write-backs into the last drain step.
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
    # The remainder of each column goes to its first rows, one unit each.
    rows += np.arange(count)[:, None] < (vector % count)[None, :]


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
