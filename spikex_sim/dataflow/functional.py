"""The functional part of every array: the real output spikes of a layer.

Every dataflow computes the same spikes, because skipping an NTWU only skips work whose
input is zero. The array integrates the inputs of active NTWUs only, then runs the
integer LIF update point by point in time order; a skipped window has zero input, so its
membrane only leaks, and the hand-off applies that leak.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.dataflow.activity import LayerActivity
from spikex_sim.workload.model import Layer, lif_scan


def integrate_active(layer: Layer, activity: LayerActivity) -> np.ndarray:
    """Integrate the inputs of active NTWUs only: currents int64 [T, P, M]."""
    steps = activity.timesteps
    positions = activity.ntwu_tags.shape[1]
    step_tags = np.repeat(activity.ntwu_tags, activity.tws, axis=0)[:steps]  # [T, P]
    fields = activity.patches[:steps].reshape(steps * positions, -1)
    selected = np.flatnonzero(step_tags.ravel())
    currents = np.zeros((steps * positions, layer.out_channels), dtype=np.int64)
    if selected.size:
        # float64 products of 0/1 inputs and int8 weights are exact below 2**53.
        weights = layer.weight_matrix_transposed_float()
        currents[selected] = np.rint(fields[selected].astype(np.float64) @ weights).astype(np.int64)
    return currents.reshape(steps, positions, layer.out_channels)


def compute_output_spikes(layer: Layer, activity: LayerActivity) -> np.ndarray:
    """Return the layer's output spikes [T, M, Ho, Wo] computed from the active NTWUs.

    A layer with `recorded_output` (recorded or synthetic activity) returns those spikes.
    """
    if layer.recorded_output is not None:
        return layer.recorded_output
    currents = integrate_active(layer, activity)
    steps, positions, out_channels = currents.shape
    out_flat, _ = lif_scan(currents.reshape(steps, -1), layer.neuron)
    out_spikes = out_flat.reshape(steps, positions, out_channels).transpose(0, 2, 1)
    return np.ascontiguousarray(out_spikes).reshape(steps, *layer.out_shape)
