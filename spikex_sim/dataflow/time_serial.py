"""The time-serial SNN systolic array as a baseline.

After S. Lee and P. Li (ICCD 2020) as the SpikeX paper describes it: time points are
processed one by one, and the weights are fetched again for each time point. Rows hold
output channels, columns hold output positions; every position and every time point is
processed (no activity tags), and every row streams its full fan-in.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.dataflow.activity import layer_activity
from spikex_sim.dataflow.functional import compute_output_spikes
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry, LayerSchedule, pass_table
from spikex_sim.dataflow.steps import Mapper, build_schedule
from spikex_sim.workload.model import Layer


def run_layer(layer: Layer, spikes: np.ndarray, array: ArrayShape, geometry: BufferGeometry,
              mapper: Mapper | None = None) -> tuple[np.ndarray, LayerSchedule]:
    """Compute a layer's output spikes and its time-serial schedule (window size 1)."""
    activity = layer_activity(layer, spikes, 1)
    out_spikes = compute_output_spikes(layer, activity)
    positions = activity.ntwu_tags.shape[1]

    def plan(block_windows, first_window, last_window):
        columns_w = np.repeat(block_windows, positions).astype(np.int64)
        columns_p = np.tile(np.arange(positions, dtype=np.int64), len(block_windows))
        starts = np.concatenate([np.arange(0, positions, array.cols) + index * positions
                                 for index in range(len(block_windows))]).astype(np.int64)
        return pass_table(activity, columns_w, columns_p, starts, layer.taps, first_window, last_window, block_windows,
                          tailoring=False)

    schedule = build_schedule(layer, activity, out_spikes, array, geometry, plan, block_windows_max=1,
                              tailoring=False, skip_silent_blocks=False, mapper=mapper,
                              describe=lambda block_size: "time-serial")
    return out_spikes, schedule
