"""A cycle-level reference of the NTWU arrays: the systolic wavefront stepped cycle by cycle.

It takes the same mapping as the transaction-level model (the `PassTable` of each pass:
which PE column holds which window of which neuron) but none of its timing formulas. Each
cycle, every PE copies the weight register of its left neighbour (row r receives weight k
from the buffer during cycles `r + k*pw` to `r + (k+1)*pw - 1`, `pw` = 1, or TWS when a PE
handles one time point per cycle), counts a MAC cycle when it holds a weight, and once it
has all its MAC cycles runs its TWS membrane updates, after the previous window of its
neuron has handed over its final membrane. It is slow (Python steps every cycle) and meant
for small layers and for checking the fast model.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.dataflow.schedule import ArrayShape, PassTable


def simulate_pass(rows_used: int, stream_len: int, slots: np.ndarray, predecessors: np.ndarray, width: int,
                  tws: int, per_weight: int, handoff_cycles: int) -> int:
    """Step one pass; return its cycle count.

    `slots[i]` is the PE column of chained column i, and `predecessors[i]` the index of the
    previous window of the same neuron (-1 for a chain head).
    """
    columns = width
    weight_register = np.full((rows_used, columns), -1, dtype=np.int64)
    mac_cycles = np.zeros((rows_used, columns), dtype=np.int64)
    needed = stream_len * per_weight
    occupied = np.zeros(columns, dtype=bool)
    occupied[slots] = True
    lif_done = np.full((rows_used, len(slots)), -1, dtype=np.int64)  # cycle the LIF phase ended
    lif_left = np.full((rows_used, len(slots)), tws, dtype=np.int64)
    row_index = np.arange(rows_used)
    cycle = 0
    while (lif_done < 0).any():
        ready = mac_cycles[:, slots] >= needed  # all MAC cycles done in earlier cycles

        # The weight stream: each PE takes its left neighbour's register, column 0 the buffer.
        weight_register[:, 1:] = weight_register[:, :-1].copy()
        offset = cycle - row_index
        entering = np.where((offset >= 0) & (offset < needed), offset // per_weight, -1)
        weight_register[:, 0] = entering
        mac_cycles += (weight_register >= 0) & occupied[None, :]

        # LIF phase: a PE updates one time point per cycle once integrated and handed over.
        started = lif_left < tws
        previous_done = np.where(predecessors >= 0, lif_done[:, np.maximum(predecessors, 0)], 0)
        handed_over = (predecessors < 0)[None, :] | ((previous_done >= 0) & (cycle >= previous_done + handoff_cycles))
        runs = (lif_left > 0) & (started | (ready & handed_over))
        lif_left -= runs
        finished = (lif_left == 0) & (lif_done < 0)
        lif_done[finished] = cycle + 1
        cycle += 1
        if cycle > 10_000_000:
            raise RuntimeError("cycle-level pass did not finish in 10 million cycles")
    return int(lif_done.max())


def pass_cycles(table: PassTable, rows_used: int, array: ArrayShape, tws: int) -> np.ndarray:
    """Cycle counts of every pass of a table, stepped cycle by cycle."""
    per_weight = 1 if array.point_parallel else tws
    results = np.zeros(len(table.cols_used), dtype=np.int64)
    for pass_index in range(len(table.cols_used)):
        chains = np.flatnonzero(table.chain_pass == pass_index)
        members = np.flatnonzero(np.isin(table.chain_group, chains))
        slots = table.chain_slot[members]
        local = {int(member): position for position, member in enumerate(members)}
        predecessors = np.array([local[int(member) - 1] if table.chain_index[member] > 0 else -1 for member in members],
                                dtype=np.int64)
        width = int(max(table.cols_used[pass_index], slots.max(initial=-1) + 1))
        results[pass_index] = simulate_pass(rows_used, int(table.stream_len[pass_index]), slots, predecessors, width,
                                            tws, per_weight, array.handoff_cycles)
    return results
