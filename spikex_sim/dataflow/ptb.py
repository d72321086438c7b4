"""The PTB dataflow (parallel time batching) as a baseline.

After J.-J. Lee, W. Zhang, P. Li, "Parallel Time Batching: Systolic-Array Acceleration of
Sparse Spiking Neural Computation", HPCA 2022, as the SpikeX paper describes it: rows are
neurons, columns are consecutive time windows of the row's neuron, and one weight is
shared along a row. Differences from SpikeX: a batch of `cols` consecutive windows is
dispatched whole (its silent windows still take their column), every row streams its full
fan-in (no weight tailoring), and weights are never shared across neurons.

StSAP (spatiotemporal sparsity-aware packing) is modelled as a greedy pairing: a batch is
packed with the first open batch of another position over the same windows whose active
windows do not overlap, at most two per pass. The two neurons then share the row's
columns. This reading of StSAP is this project's; the PTB paper's packing may differ.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.dataflow.activity import LayerActivity, layer_activity
from spikex_sim.dataflow.functional import compute_output_spikes
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry, LayerSchedule, PassTable, pass_table
from spikex_sim.dataflow.steps import Mapper, build_schedule
from spikex_sim.workload.model import Layer

# How many open batches the greedy pairing looks back over for a partner.
STSAP_LOOKBACK = 16


def plan_batches(activity: LayerActivity, block_windows: np.ndarray, cols: int, stsap: bool):
    """Return the PTB columns of a time block: (columns_w, columns_p, starts, cols_used, slots)."""
    tags = activity.ntwu_tags[block_windows]  # [nw, P]
    columns_w: list[int] = []
    columns_p: list[int] = []
    slots: list[int] = []
    starts: list[int] = []
    cols_used: list[int] = []
    for batch_start in range(0, len(block_windows), cols):
        batch = tags[batch_start:batch_start + cols]  # [len, P]
        length = batch.shape[0]
        windows = block_windows[batch_start:batch_start + length]
        active_positions = np.flatnonzero(batch.any(axis=0))
        weights = 1 << np.arange(length, dtype=np.int64)
        masks = (batch[:, active_positions].astype(np.int64) * weights[:, None]).sum(axis=0).tolist()
        passes: list[tuple[int, int, int, int]] = []  # (p1, mask1, p2, mask2); p2 = -1 when alone
        open_passes: list[int] = []
        for position, mask in zip(active_positions.tolist(), masks):
            partner = -1
            if stsap:
                for slot, index in enumerate(open_passes):
                    if passes[index][1] & mask == 0:
                        partner = index
                        del open_passes[slot]
                        break
            if partner >= 0:
                first_position, first_mask, _, _ = passes[partner]
                passes[partner] = (first_position, first_mask, position, mask)
            else:
                passes.append((position, mask, -1, 0))
                open_passes.append(len(passes) - 1)
                if len(open_passes) > STSAP_LOOKBACK:
                    open_passes.pop(0)
        for first_position, first_mask, second_position, second_mask in passes:
            starts.append(len(columns_w))
            cols_used.append(length)
            if second_position < 0:
                columns_w.extend(windows.tolist())
                columns_p.extend([first_position] * length)
                slots.extend(range(length))
                continue
            for slot in range(length):
                if first_mask >> slot & 1:
                    columns_w.append(int(windows[slot]))
                    columns_p.append(first_position)
                    slots.append(slot)
                elif second_mask >> slot & 1:
                    columns_w.append(int(windows[slot]))
                    columns_p.append(second_position)
                    slots.append(slot)
    as_array = lambda values: np.array(values, dtype=np.int64)  # noqa: E731
    return as_array(columns_w), as_array(columns_p), as_array(starts), as_array(cols_used), as_array(slots)


def run_layer(layer: Layer, spikes: np.ndarray, tws: int, array: ArrayShape, stsap: bool,
              geometry: BufferGeometry, mapper: Mapper | None = None) -> tuple[np.ndarray, LayerSchedule]:
    """Compute a layer's output spikes and its PTB schedule (`mapper`: see `build_schedule`)."""
    activity = layer_activity(layer, spikes, tws)
    out_spikes = compute_output_spikes(layer, activity)

    def plan(block_windows, first_window, last_window) -> PassTable | None:
        columns_w, columns_p, starts, cols_used, slots = plan_batches(activity, block_windows, array.cols, stsap)
        if len(starts) == 0:
            return None
        return pass_table(activity, columns_w, columns_p, starts, layer.taps, first_window, last_window, block_windows,
                          tailoring=False, cols_used=cols_used, column_slots=slots)

    name = "ptb-stsap" if stsap else "ptb"
    schedule = build_schedule(layer, activity, out_spikes, array, geometry, plan, tailoring=False, mapper=mapper,
                              describe=lambda block_size: name)
    return out_spikes, schedule
