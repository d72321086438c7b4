"""Activity of a layer's input at time-window granularity: receptive fields and tags.

A neuron-time-window unit NTWU(n, w) is all the work of postsynaptic neuron `n` over time
window `w`. It is active iff some input it reads spikes in that window. All output channels
at one output position read the same inputs, so activity depends on the position `p` and
the window `w` only. Finer tags (per input channel) drive weight tailoring: a weight kernel
whose input channel is silent in the window is not fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from spikex_sim.workload.model import Layer


@dataclass
class LayerActivity:
    """Window-level activity of one layer input; NW = ceil(T / tws) windows."""

    tws: int
    timesteps: int
    patches: np.ndarray  # uint8 [T_padded, P, C, taps]: the receptive field of each position per step
    channel_tags: np.ndarray  # bool [NW, P, C]: channel c has a spike in p's field during window w
    ntwu_tags: np.ndarray  # bool [NW, P]: NTWU(p, w) active (any channel)
    field_spikes: np.ndarray  # int64 [NW, P]: input spikes in p's receptive field during window w
    window_tags: np.ndarray  # bool [NW]: any input spike of the whole layer in window w

    @property
    def windows(self) -> int:
        return self.ntwu_tags.shape[0]


def receptive_fields(layer: Layer, spikes: np.ndarray) -> np.ndarray:
    """Return the binary receptive field of every output position: uint8 [T, P, C, taps].

    `spikes` is the layer input [T, C, H, W] (conv) or [T, K] / [T, C, H, W] (fc, flattened).
    """
    steps = spikes.shape[0]
    if layer.kind == "fc":
        return spikes.reshape(steps, 1, -1, 1)
    padding = layer.padding
    if padding:
        spikes = np.pad(spikes, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    views = sliding_window_view(spikes, (layer.kernel, layer.kernel), axis=(2, 3))
    row_stride, col_stride = layer.strides
    views = views[:, :, ::row_stride, ::col_stride]
    out_height, out_width = layer.out_shape[1], layer.out_shape[2]
    views = views[:, :, :out_height, :out_width]  # [T, C, Ho, Wo, E, E]
    fields = views.transpose(0, 2, 3, 1, 4, 5).reshape(steps, out_height * out_width, layer.in_channels, layer.taps)
    return np.ascontiguousarray(fields)


def layer_activity(layer: Layer, spikes: np.ndarray, tws: int) -> LayerActivity:
    """Tag every (window, position) and (window, position, channel) of the layer's input."""
    steps = spikes.shape[0]
    windows = -(-steps // tws)
    fields = receptive_fields(layer, spikes)
    padded_steps = windows * tws
    if padded_steps != steps:
        fields = np.concatenate([fields, np.zeros((padded_steps - steps, *fields.shape[1:]), dtype=fields.dtype)])
    positions, channels = fields.shape[1], fields.shape[2]
    per_window = fields.reshape(windows, tws, positions, channels, layer.taps)
    spike_counts = per_window.sum(axis=(1, 4), dtype=np.int64)  # [NW, P, C]
    channel_tags = spike_counts > 0
    return LayerActivity(
        tws=tws,
        timesteps=steps,
        patches=fields,
        channel_tags=channel_tags,
        ntwu_tags=channel_tags.any(axis=2),
        field_spikes=spike_counts.sum(axis=2),
        window_tags=_window_any(spikes, tws, windows),
    )


def _window_any(spikes: np.ndarray, tws: int, windows: int) -> np.ndarray:
    per_step = spikes.reshape(spikes.shape[0], -1).any(axis=1)
    padded = np.zeros(windows * tws, dtype=bool)
    padded[: len(per_step)] = per_step
    return padded.reshape(windows, tws).any(axis=1)
