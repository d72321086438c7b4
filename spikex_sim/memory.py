"""Per-level accounting of a layer's traffic: accesses, bursts, cycles and energy counts.

A transfer from level A to level B reads A and writes B. SRAM levels count accesses of
their word width, per step and per transfer (a partial word costs a whole access); DRAM
counts whole bursts. The memory phase of a step lasts as long as its busiest level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikex_sim.dataflow.schedule import TRAFFIC_KEYS, WRITE_BACK_KEYS, BufferGeometry
from spikex_sim.dataflow.steps import WRITE_BACK_DELAY
from spikex_sim.system import System

SRAM_LEVELS = ("glb", "lbuf")


@dataclass
class LevelCounts:
    """Per-step DRAM bursts and SRAM accesses of one layer, and the resulting cycles."""

    dram_bursts: np.ndarray  # int64 [S, keys] (0 for keys that do not touch DRAM)
    reads: dict[str, np.ndarray]  # level -> int64 [S, keys] accesses as the source
    writes: dict[str, np.ndarray]  # level -> int64 [S, keys] accesses as the destination
    memory_cycles: np.ndarray  # int64 [S]
    level_cycles: dict[str, np.ndarray]  # level -> int64 [S]
    dram_row_misses: np.ndarray  # int64 [S, keys] row activations (0 without a page policy)


def buffer_geometry(system: System, weight_bits: int, membrane_bits: int) -> BufferGeometry:
    """Return the capacities the dataflow may fill: half shares, and the whole membrane share."""
    glb, lbuf = system.glb, system.lbuf
    return BufferGeometry(
        glb_spikes=glb.partition_bytes("spikes"), glb_weights=glb.partition_bytes("weights"),
        glb_vmem=glb.share_bytes("vmem"), lbuf_spikes=lbuf.partition_bytes("spikes"),
        lbuf_weights=lbuf.partition_bytes("weights"), weight_bits=weight_bits, membrane_bits=membrane_bits,
        glb_pinned=frozenset(getattr(glb, "pin", None) or ()),
    )


def count_levels(system: System, traffic: np.ndarray, segments: np.ndarray | None = None) -> LevelCounts:
    """Turn the bytes of every step and transfer into bursts, accesses and cycles.

    `segments` gives the contiguous DRAM pieces of each transfer (default: one piece).
    """
    steps = traffic.shape[0]
    dram_mask = np.array([("dram" in (source, target)) for source, target, _ in TRAFFIC_KEYS])
    dram_bursts = np.where(dram_mask, system.dram.bursts(traffic, segments), 0)
    row_misses = np.where(dram_mask, system.dram.row_misses(traffic, segments), 0)
    dram_cycles = system.dram.step_cycles(dram_bursts.sum(axis=1), system.clock, row_misses.sum(axis=1))

    reads: dict[str, np.ndarray] = {}
    writes: dict[str, np.ndarray] = {}
    level_cycles = {"dram": dram_cycles}
    for level in SRAM_LEVELS:
        buffer = getattr(system, level)
        source_mask = np.array([source == level for source, _, _ in TRAFFIC_KEYS])
        target_mask = np.array([target == level for _, target, _ in TRAFFIC_KEYS])
        accesses = buffer.accesses(traffic)
        reads[level] = np.where(source_mask, accesses, 0)
        writes[level] = np.where(target_mask, accesses, 0)
        level_cycles[level] = buffer.step_cycles(reads[level].sum(axis=1) + writes[level].sum(axis=1))
    memory = np.zeros(steps, dtype=np.int64)
    for cycles in level_cycles.values():
        memory = np.maximum(memory, cycles)
    return LevelCounts(dram_bursts, reads, writes, memory, level_cycles, row_misses)


def concurrent_phases(system: System, compute: np.ndarray, traffic: np.ndarray,
                      segments: np.ndarray | None) -> tuple[np.ndarray, dict, dict]:
    """Split a schedule into load cycles and write-back cycles per level, step by step.

    Schedules place each step's write-backs `WRITE_BACK_DELAY` rows later (with as many
    drain rows at the end); this undoes that shift, so write-back i belongs to the step whose
    compute produced it. Returns (compute cycles, load cycles by level, write-back cycles by
    level), with the drain rows dropped.
    """
    delay = WRITE_BACK_DELAY
    write_columns = [index for index, key in enumerate(TRAFFIC_KEYS) if key in WRITE_BACK_KEYS]
    loads = traffic.copy()
    loads[:, write_columns] = 0
    write_backs = np.zeros_like(traffic)
    write_backs[:-delay, write_columns] = traffic[delay:, write_columns]
    load_segments = write_segments = None
    if segments is not None:
        load_segments = segments.copy()
        load_segments[:, write_columns] = 0
        write_segments = np.zeros_like(segments)
        write_segments[:-delay, write_columns] = segments[delay:, write_columns]
    load_levels = count_levels(system, loads[:-delay], None if load_segments is None else load_segments[:-delay])
    write_levels = count_levels(system, write_backs[:-delay],
                                None if write_segments is None else write_segments[:-delay])
    return compute[:-delay], load_levels.level_cycles, write_levels.level_cycles
