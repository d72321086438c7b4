"""The SpikeX dataflow: NTWU dispatch in temporal- or spatial-density mode.

Rows of the array hold output channels (the neurons at one output position share their
input, so a column's spikes flow down to every row); columns hold active NTWUs; each row's
weight enters from the left and is shared by every column of the row. Inactive NTWUs
(no input spike in the window) are never dispatched, and a row streams only the weights of
input channels that spike in some column of the pass (activation-induced weight tailoring
at the level of one input channel).

- Temporal-density mode: a pass serves one output position; its columns are that neuron's
  active windows in time order, so one weight serves several windows of one neuron.
- Spatial-density mode: a pass's columns are active NTWUs of different positions in
  window-major order, so one weight also serves several neurons.
- `auto` picks temporal mode for a layer when its neurons have on average more active
  windows than the array has columns (averaged over neurons with any active window), and
  spatial mode otherwise. The switch is made once per layer.

Functional model: the array integrates only the active NTWUs, then runs the integer LIF
update point by point in time order. A skipped window has zero input, so its membrane
only leaks; the hand-off applies that leak, which gives the same spikes as a dense run.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.dataflow.activity import LayerActivity, layer_activity
from spikex_sim.dataflow.functional import compute_output_spikes
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry, LayerSchedule, pass_table
from spikex_sim.dataflow.steps import build_schedule
from spikex_sim.workload.model import Layer

MODES = ("auto", "temporal", "spatial")


SWITCHES = ("layer", "block")
PACKINGS = ("order", "similar")


def choose_mode(activity: LayerActivity, cols: int, mode: str, windows: np.ndarray | None = None) -> str:
    """Return the dispatch mode ('temporal' or 'spatial') for the `auto` rule.

    Temporal when the neurons with any active window have on average more active windows
    than the array has columns (within `windows`, or the whole layer), else spatial.
    """
    if mode != "auto":
        return mode
    tags = activity.ntwu_tags if windows is None else activity.ntwu_tags[windows]
    per_neuron = tags.sum(axis=0)
    busy = per_neuron[per_neuron > 0]
    if busy.size == 0:
        return "spatial"
    return "temporal" if busy.mean() > cols else "spatial"


def order_columns(activity: LayerActivity, windows: np.ndarray, mode: str, cols: int, packing: str = "order"):
    """Return the NTWU columns (window, position) of a time block and the pass starts.

    With `packing: similar`, spatial mode orders the positions of each window by their
    active input channels, so the columns of a pass tend to need the same weights and the
    tailored weight stream gets shorter. Windows stay in time order either way, as the
    membrane of a neuron must pass from one window to the next.
    """
    tags = activity.ntwu_tags[windows]  # [nw, P]
    if mode == "temporal":
        positions, local_windows = np.nonzero(tags.T)  # position-major, windows in order
        columns_w = windows[local_windows]
        columns_p = positions
        new_position = np.r_[True, positions[1:] != positions[:-1]]
        run_start = np.flatnonzero(new_position)
        run_index = np.arange(len(positions)) - np.repeat(run_start, np.diff(np.append(run_start, len(positions))))
        starts = np.flatnonzero(run_index % cols == 0)
    else:
        local_windows, positions = np.nonzero(tags)  # window-major
        columns_w = windows[local_windows]
        columns_p = positions
        if packing == "similar" and len(positions):
            signatures = np.packbits(activity.channel_tags[columns_w, columns_p], axis=1)
            keys = [signatures[:, byte] for byte in range(signatures.shape[1] - 1, -1, -1)]
            order = np.lexsort((*keys, columns_w))
            columns_w, columns_p = columns_w[order], columns_p[order]
        starts = np.arange(0, len(positions), cols)
    return columns_w.astype(np.int64), columns_p.astype(np.int64), starts.astype(np.int64)


def run_layer(layer: Layer, spikes: np.ndarray, tws: int, array: ArrayShape, mode: str,
              geometry: BufferGeometry, *, switch: str = "layer", packing: str = "order", tailoring: bool = True,
              **schedule_options) -> tuple[np.ndarray, LayerSchedule]:
    """Compute a layer's output spikes [T, M, Ho, Wo] and its SpikeX schedule.

    `switch` sets where the `auto` rule picks the mode: once per layer, or per time block.
    """
    activity = layer_activity(layer, spikes, tws)
    out_spikes = compute_output_spikes(layer, activity)
    layer_mode = choose_mode(activity, array.cols, mode)
    block_modes: dict[tuple[int, int], str] = {}  # (first window, windows) -> mode of a block with passes

    def plan(block_windows, first_window, last_window):
        block_mode = choose_mode(activity, array.cols, mode, block_windows) if switch == "block" else layer_mode
        columns_w, columns_p, starts = order_columns(activity, block_windows, block_mode, array.cols, packing)
        if len(starts) == 0:
            return None
        block_modes[int(block_windows[0]), len(block_windows)] = block_mode
        return pass_table(activity, columns_w, columns_p, starts, layer.taps, first_window, last_window, block_windows,
                          tailoring=tailoring)

    def describe(block_size: int) -> str:
        windows = activity.windows
        used = {block_modes.get((start, min(block_size, windows - start))) for start in range(0, windows, block_size)}
        return "+".join(sorted(used - {None})) or layer_mode

    schedule = build_schedule(layer, activity, out_spikes, array, geometry, plan, tailoring=tailoring,
                              describe=describe, **schedule_options)
    return out_spikes, schedule
