"""Turning a layer's array passes into double-buffered steps with per-level traffic.

A *pass* is one occupation of the PE array: a group of output channels on the rows, a list
of NTWU columns (position, window) across the columns, and a weight stream that enters from
the left. A *step* is the unit of double buffering: a run of consecutive passes whose
input spikes and weights fit one half of the local buffer (LBUF), or a single pass too
large for that half, which then streams through the LBUF. The memory system loads step
i+1 while the array computes step i.

Each data type is resident at a level when it fits half of its partition there (the other
half is the double buffer), and otherwise streams through that level step by step. This
is the whole blocking policy; finer loop-nest tiling is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikex_sim.dataflow.activity import LayerActivity

# (source level, destination level, data type) of every counted transfer. Levels: DRAM,
# the global buffer (GLB), the local buffer (LBUF) and the PE array's registers (PE).
TRAFFIC_KEYS: tuple[tuple[str, str, str], ...] = (
    ("dram", "glb", "spikes_in"),
    ("dram", "glb", "weights"),
    ("dram", "glb", "vmem"),
    ("glb", "lbuf", "spikes_in"),
    ("glb", "lbuf", "weights"),
    ("lbuf", "pe", "spikes_in"),
    ("lbuf", "pe", "weights"),
    ("glb", "pe", "vmem"),
    ("pe", "glb", "vmem"),
    ("pe", "glb", "spikes_out"),
    ("glb", "dram", "vmem"),
    ("glb", "dram", "spikes_out"),
)
KEY_INDEX = {key: index for index, key in enumerate(TRAFFIC_KEYS)}
# Write-backs leave after the step that produced them, during the next step's memory phase.
WRITE_BACK_KEYS = frozenset({("pe", "glb", "vmem"), ("pe", "glb", "spikes_out"),
                             ("glb", "dram", "vmem"), ("glb", "dram", "spikes_out")})


@dataclass(frozen=True)
class BufferGeometry:
    """Capacities (bytes) of one half of each double-buffered partition, and data widths.

    `glb_vmem` is the whole membrane share: membranes are updated in place. `glb_pinned`
    lists the data types that must stay resident in the GLB (`SRAMBuffer.pin`).
    """

    glb_spikes: int
    glb_weights: int
    glb_vmem: int
    lbuf_spikes: int
    lbuf_weights: int
    weight_bits: int
    membrane_bits: int
    glb_pinned: frozenset = frozenset()


@dataclass(frozen=True)
class ArrayShape:
    """The PE array's size and the timing choices of its processing elements."""

    rows: int
    cols: int
    point_parallel: bool = True
    handoff_cycles: int = 1


@dataclass
class PassTable:
    """Per-pass quantities of one time block, before replication over channel groups."""

    cols_used: np.ndarray
    stream_len: np.ndarray  # weights streamed along each row (taps x active channels)
    chain: np.ndarray  # maximum number of windows of one neuron in the pass
    vmem_reads: np.ndarray  # columns whose neuron's membrane comes from an earlier pass
    vmem_writes: np.ndarray  # columns whose neuron's membrane goes to a later pass
    spike_bits: np.ndarray  # input spike bits staged for the pass (tailored to active channels)
    input_spikes: np.ndarray  # spikes in the receptive fields of the pass's columns
    block_channels: int  # input channels active anywhere in this time block
    # Chains: the columns of each neuron in a pass, in window order (for the LIF hand-off).
    chain_slot: np.ndarray  # physical column of each chained column, chains one after another
    chain_index: np.ndarray  # position of the column in its chain (0 = head)
    chain_group: np.ndarray  # chain id of each chained column
    chain_pass: np.ndarray  # pass of each chain


@dataclass
class LayerSchedule:
    """The steps of one layer: compute cycles and bytes moved per traffic key, per step."""

    compute_cycles: np.ndarray  # int64 [S]
    traffic: np.ndarray  # int64 [S, len(TRAFFIC_KEYS)] bytes
    passes: int
    counts: dict[str, int] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    # Contiguous DRAM pieces per step and key (same shape as traffic); None: one piece each.
    segments: np.ndarray | None = None


def pass_table(activity: LayerActivity, columns_w: np.ndarray, columns_p: np.ndarray,
               pass_starts: np.ndarray, taps: int, first_window: np.ndarray, last_window: np.ndarray,
               block_windows: np.ndarray, *, tailoring: bool = True,
               cols_used: np.ndarray | None = None, column_slots: np.ndarray | None = None) -> PassTable:
    """Measure each pass of an ordered column list; `pass_starts` indexes its first columns.

    With `tailoring`, a row streams only the weights of input channels that spike in some
    column of the pass, and only those channels' spikes are staged; without it, the whole
    fan-in. `cols_used` overrides the columns a pass occupies (idle slots included), and
    `column_slots` gives each column's physical position in its pass (default: list order).
    """
    column_count = len(columns_w)
    tws = activity.tws
    channels = activity.channel_tags.shape[2]
    lengths = np.diff(np.append(pass_starts, column_count))
    pass_of_column = np.repeat(np.arange(len(pass_starts)), lengths)

    channel_masks = activity.channel_tags[columns_w, columns_p]  # [cols, C]
    if tailoring:
        union = np.logical_or.reduceat(channel_masks, pass_starts, axis=0)
        stream_len = union.sum(axis=1).astype(np.int64) * taps
        spike_bits = np.add.reduceat(channel_masks.sum(axis=1).astype(np.int64), pass_starts) * taps * tws
    else:
        occupied = lengths if cols_used is None else cols_used
        stream_len = np.full(len(pass_starts), channels * taps, dtype=np.int64)
        spike_bits = occupied.astype(np.int64) * channels * taps * tws
    input_spikes = np.add.reduceat(activity.field_spikes[columns_w, columns_p], pass_starts)

    # Windows of the same neuron inside one pass hand the membrane along the row.
    positions = activity.ntwu_tags.shape[1]
    neuron_key = pass_of_column * positions + columns_p
    order = np.lexsort((columns_w, neuron_key))
    sorted_key = neuron_key[order]
    group_starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    group_sizes = np.diff(np.append(group_starts, column_count))
    group_pass = pass_of_column[order][group_starts]
    if column_slots is None:
        column_slots = np.arange(column_count) - pass_starts[pass_of_column]
    chain_group = np.repeat(np.arange(len(group_starts)), group_sizes)
    chain_index = np.arange(column_count) - group_starts[chain_group]
    chain = np.zeros(len(pass_starts), dtype=np.int64)
    np.maximum.at(chain, group_pass, group_sizes)

    head_windows = columns_w[order][group_starts]
    tail_windows = columns_w[order][group_starts + group_sizes - 1]
    group_positions = columns_p[order][group_starts]
    reads = head_windows != first_window[group_positions]
    writes = tail_windows != last_window[group_positions]
    vmem_reads = np.bincount(group_pass, weights=reads, minlength=len(pass_starts)).astype(np.int64)
    vmem_writes = np.bincount(group_pass, weights=writes, minlength=len(pass_starts)).astype(np.int64)

    if tailoring:
        block_channels = int(activity.channel_tags[block_windows].any(axis=(0, 1)).sum())
    else:
        block_channels = channels
    occupied = lengths if cols_used is None else cols_used
    return PassTable(occupied.astype(np.int64), stream_len, chain, vmem_reads, vmem_writes, spike_bits,
                     input_spikes.astype(np.int64), block_channels, column_slots[order].astype(np.int64),
                     chain_index, chain_group, group_pass)


def lif_tails(table: PassTable, tws: int, handoff_cycles: int) -> np.ndarray:
    """Return, per pass, the cycles from the last weight reaching column 0 to the last LIF end.

    The PE in column `c` finishes integrating `c` cycles after column 0. A chain's first
    window starts its TWS point updates then; each later window of the same neuron starts
    when both its own integration and the hand-off of the previous window's final membrane
    (`handoff_cycles` after that window ends) are done:
    `end_j = max(slot_j, end_(j-1) + handoff) + tws`.
    """
    ends = np.zeros(len(table.chain_pass), dtype=np.int64)
    for position in range(int(table.chain_index.max(initial=-1)) + 1):
        members = np.flatnonzero(table.chain_index == position)
        groups = table.chain_group[members]
        slots = table.chain_slot[members]
        start = slots if position == 0 else np.maximum(slots, ends[groups] + handoff_cycles)
        ends[groups] = start + tws
    tails = np.zeros(len(table.cols_used), dtype=np.int64)
    np.maximum.at(tails, table.chain_pass, ends)
    return tails


def pass_compute_cycles(table: PassTable, rows_used: int, array: ArrayShape, tws: int) -> np.ndarray:
    """Cycles of each pass: weight stream, systolic skew, then the LIF chains along the rows.

    Each weight takes one cycle for all TWS points of a window (or TWS cycles when the PE
    handles one point per cycle); weights enter row r at cycle r and move one column per
    cycle, so the last row starts `rows_used - 1` cycles late. The membrane update of a
    window runs point by point (TWS cycles) and waits for the previous window of the same
    neuron (see `lif_tails`).
    """
    per_weight = 1 if array.point_parallel else tws
    return table.stream_len * per_weight + (rows_used - 1) + lif_tails(table, tws, array.handoff_cycles)


def bits_to_bytes(bits):
    """Round bit counts up to whole bytes (numpy arrays or ints)."""
    return -(-bits // 8)
