"""An independent reference forward pass of the integer SNN, for bit-exact comparison.

Written apart from the simulator: convolution by explicit loops over kernel offsets, a
dense fully connected product, and the integer LIF step applied to every neuron at every
time point, without windows, tags or skipping.
"""

import numpy as np


def conv_direct(frame, weight, stride, padding):
    """Convolve one binary frame [C, H, W] with int weights [M, C, E, E] -> int64 [M, Ho, Wo].

    `stride` is one number or a (row, column) pair.
    """
    row_stride, col_stride = (stride, stride) if isinstance(stride, int) else stride
    channels, height, width = frame.shape
    out_channels, _, kernel, _ = weight.shape
    padded = np.zeros((channels, height + 2 * padding, width + 2 * padding), dtype=np.int64)
    padded[:, padding:padding + height, padding:padding + width] = frame
    out_height = (height + 2 * padding - kernel) // row_stride + 1
    out_width = (width + 2 * padding - kernel) // col_stride + 1
    result = np.zeros((out_channels, out_height, out_width), dtype=np.int64)
    for dy in range(kernel):
        for dx in range(kernel):
            window = padded[:, dy:dy + row_stride * out_height:row_stride, dx:dx + col_stride * out_width:col_stride]
            window = window[:, :out_height, :out_width]
            result += np.einsum("mc,chw->mhw", weight[:, :, dy, dx].astype(np.int64), window)
    return result


def lif_step(membrane, current, threshold, leak_q, fire=">=", reset="zero", bits=16):
    """One integer LIF step for all neurons; returns (spikes, new membrane)."""
    membrane = np.floor_divide(membrane * leak_q, 256) + current
    membrane = np.clip(membrane, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    spikes = membrane >= threshold if fire == ">=" else membrane > threshold
    if reset == "zero":
        membrane = np.where(spikes, 0, membrane)
    else:
        membrane = np.where(spikes, membrane - threshold, membrane)
    return spikes.astype(np.uint8), membrane


def forward(model, spikes):
    """Run every layer on input spikes [T, C, H, W]; return the list of layer outputs."""
    outputs = []
    current_input = spikes
    for layer in model.layers:
        steps = current_input.shape[0]
        membrane = np.zeros(layer.out_shape, dtype=np.int64)
        layer_out = np.zeros((steps, *layer.out_shape), dtype=np.uint8)
        for step in range(steps):
            frame = current_input[step]
            if layer.kind == "conv":
                current = conv_direct(frame, layer.weight, layer.strides, layer.padding)
            else:
                current = (layer.weight.astype(np.int64) @ frame.reshape(-1).astype(np.int64)).reshape(layer.out_shape)
            fired, membrane = lif_step(membrane, current, layer.neuron.threshold, layer.neuron.leak_q,
                                       layer.neuron.fire, layer.neuron.reset, layer.neuron.membrane_bits)
            layer_out[step] = fired
        outputs.append(layer_out)
        current_input = layer_out
    return outputs
