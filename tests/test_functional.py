"""The simulated array computes the same spikes as an independent reference, bit for bit."""

import numpy as np
import pytest

import reference
from spikex_sim.config import load_config
from spikex_sim.dataflow.activity import layer_activity
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry
from spikex_sim.dataflow import ptb, time_serial
from spikex_sim.dataflow.spikex import run_layer
from spikex_sim.runner import simulate
from spikex_sim.workload.model import Layer, NeuronParams, conv_output_size

GEOMETRY = BufferGeometry(glb_spikes=8000, glb_weights=10000, glb_vmem=5000, lbuf_spikes=300, lbuf_weights=400,
                          weight_bits=8, membrane_bits=16)


@pytest.mark.parametrize("overrides", [
    [],
    ["system.array.mode=temporal", "system.array.tws=3"],
    ["system.array.mode=spatial", "system.array.tws=1"],
    ["system.array.tws=[2, 5, 10, 30]", "system.array.rows=4", "system.array.cols=16"],
    ["system.array={type: PTBArray, tws: 3}"],
    ["system.array={type: TimeSerialArray}"],
    ["system.array={type: DenseSystolicArray, dataflow: ws}"],
    ["system.array.switch=block", "system.array.packing=similar", "system.array.tws=2"],
])
def test_real_recordings_match_reference(default_config, overrides):
    config = load_config(default_config, overrides)
    result = simulate(config, samples=5)
    model = config.workload.model.load(config.base_dir)
    for per_layer in result.layer_spikes:
        expected = reference.forward(model, per_layer[0])
        for index, layer in enumerate(model.layers):
            simulated = per_layer[index + 1].reshape(expected[index].shape)
            assert np.array_equal(simulated, expected[index]), f"layer {layer.name} differs"


def random_layer(rng, kind):
    channels = int(rng.integers(1, 5))
    size = int(rng.integers(3, 9))
    if kind == "conv":
        kernel = int(rng.integers(1, 4))
        stride = int(rng.integers(1, 3))
        stride_w = int(rng.integers(1, 3))
        padding = int(rng.integers(0, 2))
        out_height = conv_output_size(size, kernel, stride, padding)
        out_width = conv_output_size(size, kernel, stride_w, padding)
        out_channels = int(rng.integers(1, 11))
        weight = rng.integers(-127, 128, size=(out_channels, channels, kernel, kernel))
        out_shape = (out_channels, out_height, out_width)
    else:
        kernel, stride, padding, stride_w = 1, 1, 0, None
        out_channels = int(rng.integers(1, 11))
        weight = rng.integers(-127, 128, size=(out_channels, channels * size * size))
        out_shape = (out_channels, 1, 1)
    neuron = NeuronParams(threshold=int(rng.integers(1, 300)), leak_q=int(rng.integers(128, 257)),
                          fire=str(rng.choice([">=", ">"])), reset=str(rng.choice(["zero", "subtract"])))
    return Layer("random", kind, (channels, size, size), out_shape, kernel, stride, padding, weight, neuron,
                 stride_w=stride_w)


@pytest.mark.parametrize("seed", range(40))
def test_random_layers_match_reference(seed):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, "conv" if seed % 4 else "fc")
    steps = int(rng.integers(1, 13))
    rate = float(rng.choice([0.0005, 0.01, 0.1, 0.5]))
    spikes = (rng.random((steps, *layer.in_shape)) < rate).astype(np.uint8)
    tws = int(rng.integers(1, steps + 1))
    array = ArrayShape(int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    mode = str(rng.choice(["auto", "temporal", "spatial"]))

    layer_input = spikes if layer.kind == "conv" else spikes.reshape(steps, -1)
    simulated, _ = run_layer(layer, layer_input, tws, array, mode, GEOMETRY)

    class OneLayer:
        layers = [layer]

    expected = reference.forward(OneLayer, spikes)[0]
    assert np.array_equal(simulated.reshape(expected.shape), expected)
    ptb_spikes, _ = ptb.run_layer(layer, layer_input, tws, array, bool(seed % 2), GEOMETRY)
    assert np.array_equal(ptb_spikes.reshape(expected.shape), expected)
    serial_spikes, _ = time_serial.run_layer(layer, layer_input, array, GEOMETRY)
    assert np.array_equal(serial_spikes.reshape(expected.shape), expected)


def test_processed_ntwus_match_independent_count():
    rng = np.random.default_rng(7)
    layer = random_layer(rng, "conv")
    spikes = (rng.random((10, *layer.in_shape)) < 0.05).astype(np.uint8)
    tws = 3
    _, schedule = run_layer(layer, spikes, tws, ArrayShape(4, 4), "spatial", GEOMETRY)

    # Independent count: an NTWU (m, position, window) is active iff its receptive field,
    # computed here by a dense convolution with an all-ones kernel, holds a spike.
    ones = np.ones((1, *layer.weight.shape[1:]), dtype=np.int64)
    active = 0
    for start in range(0, 10, tws):
        field_total = sum(reference.conv_direct(spikes[t], ones, layer.strides, layer.padding)
                          for t in range(start, min(start + tws, 10)))
        active += int((field_total > 0).sum()) * layer.out_channels
    assert schedule.stats["ntwu_active"] == active


def test_silent_input_has_no_work():
    rng = np.random.default_rng(3)
    layer = random_layer(rng, "conv")
    spikes = np.zeros((6, *layer.in_shape), dtype=np.uint8)
    out, schedule = run_layer(layer, spikes, 2, ArrayShape(4, 4), "auto", GEOMETRY)
    assert out.sum() == 0
    assert schedule.passes == 0
    assert schedule.compute_cycles.sum() == 0


def test_window_tags_follow_input():
    rng = np.random.default_rng(5)
    layer = random_layer(rng, "conv")
    spikes = np.zeros((6, *layer.in_shape), dtype=np.uint8)
    spikes[4, 0, 0, 0] = 1
    activity = layer_activity(layer, spikes, tws=2)
    assert activity.window_tags.tolist() == [False, False, True]
