"""Per-level accounting of a layer's traffic: accesses, bursts, cycles and energy counts.

A transfer from level A to level B reads A and writes B. SRAM levels count accesses of
their word width, per step and per transfer (a partial word costs a whole access); DRAM
counts whole bursts. The memory phase of a step lasts as long as its busiest level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikex_sim.dataflow.schedule import TRAFFIC_KEYS, BufferGeometry
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
