"""NIR import and export: parameter conversion, graph walking, pooling folds, round trips."""

import math

import numpy as np
import pytest

import reference
from spikex_sim.errors import ConfigError
from spikex_sim.workload.model import Layer, Model, NeuronParams, lif_scan

nir = pytest.importorskip("nir")

from spikex_sim.workload.nir_io import (  # noqa: E402
    ImportOptions, model_to_nir_graph, nir_graph_to_model, read_nir_model, write_nir_model,
)


def one_neuron_graph(neuron, weight):
    """Input (1 neuron) -> Linear -> neuron -> Output, with node names out of alphabetical order."""
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}), "z_fc": nir.Linear(weight=np.array([[weight]])),
               "a_lif": neuron, "output": nir.Output(output_type={"output": np.array([1])})},
        edges=[("a_lif", "output"), ("input", "z_fc"), ("z_fc", "a_lif")])


def if_node(threshold=1.0):
    return nir.IF(r=np.array([1.0]), v_threshold=np.array([threshold]))


def lif_node(leak, threshold=1.0, dt=1.0):
    tau = dt / (1.0 - leak)
    return nir.LIF(tau=np.array([tau]), r=np.array([tau / dt]), v_leak=np.array([0.0]),
                   v_threshold=np.array([threshold]))


def spike_steps(layer, current, steps):
    """Return the 1-based steps at which one neuron with constant input `current` spikes."""
    currents = np.full((steps, 1), int(layer.weight[0, 0]) * current, dtype=np.int64)
    spikes, _ = lif_scan(currents, layer.neuron)
    return (np.flatnonzero(spikes[:, 0]) + 1).tolist()


def test_if_first_spike_step_ge():
    # IF, threshold 1.0, input 0.0625 per step: the membrane is exactly 1.0 after step 16.
    model = nir_graph_to_model(one_neuron_graph(if_node(), 0.0625), ImportOptions(dt=1.0, fire=">="), source="t")
    layer = model.layers[0]
    assert layer.weight[0, 0] * 16 == layer.neuron.threshold
    assert spike_steps(layer, 1, 32)[0] == 16


def test_if_first_spike_step_gt():
    model = nir_graph_to_model(one_neuron_graph(if_node(), 0.0625), ImportOptions(dt=1.0, fire=">"), source="t")
    assert spike_steps(model.layers[0], 1, 32)[0] == 17


def test_leaky_neuron_never_reaches_threshold():
    # leak 0.9: the membrane tends to 0.0625 / 0.1 = 0.625 < 1.
    model = nir_graph_to_model(one_neuron_graph(lif_node(0.9), 0.0625), ImportOptions(dt=1.0, fire=">="),
                               source="t")
    assert spike_steps(model.layers[0], 1, 200) == []


@pytest.mark.parametrize("threshold", [0.0, -0.5])
def test_threshold_not_positive_rejected(tmp_path, threshold):
    path = tmp_path / "bad.nir"
    nir.write(path, one_neuron_graph(if_node(threshold), 0.0625))
    with pytest.raises(ConfigError, match="v_threshold is .*must be positive"):
        read_nir_model(path, ImportOptions(dt=1.0))


def test_lif_float_reference_crosses_at_step_14():
    # u_n = 0.8 u_{n-1} + 0.21, u_0 = 0, so u_n = 1.05 (1 - 0.8^n).
    membrane, first = 0.0, None
    for step in range(1, 40):
        membrane = 0.8 * membrane + 0.21
        assert membrane == pytest.approx(1.05 * (1 - 0.8 ** step))
        if membrane >= 1.0:
            first = step
            break
    assert first == 14
    assert membrane == pytest.approx(1.00382, abs=5e-6)
    assert 1.05 * (1 - 0.8 ** 13) < 1.0


@pytest.mark.parametrize("conversion", ["linear", "exp"])
def test_lif_fixed_point_keeps_step_14(conversion):
    dt = 1.0
    tau = dt / (1 - 0.8) if conversion == "linear" else -dt / math.log(0.8)
    neuron = nir.LIF(tau=np.array([tau]), r=np.array([tau / dt]), v_leak=np.array([0.0]),
                     v_threshold=np.array([1.0]))
    model = nir_graph_to_model(one_neuron_graph(neuron, 0.21),
                               ImportOptions(dt=dt, fire=">=", leak_conversion=conversion), source="t")
    layer = model.layers[0]
    report = model.metadata["nir"]["layers"]["z_fc"]
    # 8-bit leak: 0.8 * 256 = 204.8 rounds to 205, so the leak per step is 0.80078.
    assert layer.neuron.leak_q == 205
    assert report["leak_error"] == pytest.approx(205 / 256 - 0.8)
    assert spike_steps(layer, 1, 30) == [14, 28]
    scale = report["weight_scale"]
    assert layer.weight[0, 0] == 127
    # The membrane just after the hard reset holds one input again: 127 / scale = 0.21.
    assert layer.weight[0, 0] / scale == pytest.approx(0.21)
    # Integer membranes before the threshold test: 607 at step 14 (607 / scale = 1.00370,
    # against 1.00382 in floating point) and below the threshold 605 at step 13.
    assert layer.neuron.threshold == 605
    no_fire = NeuronParams(threshold=10**6, leak_q=layer.neuron.leak_q)
    _, membrane_14 = lif_scan(np.full((14, 1), 127, dtype=np.int64), no_fire)
    _, membrane_13 = lif_scan(np.full((13, 1), 127, dtype=np.int64), no_fire)
    assert membrane_14[0] == 607
    assert membrane_14[0] / scale == pytest.approx(1.00370, abs=1e-5)
    assert membrane_13[0] < 605


def test_nodes_walked_by_edges_not_by_name():
    model = nir_graph_to_model(one_neuron_graph(if_node(), 0.5), ImportOptions(dt=1.0), source="t")
    assert [layer.name for layer in model.layers] == ["z_fc"]


def test_cuba_lif_rejected_with_node_name():
    neuron = nir.CubaLIF(tau_syn=np.array([2.0]), tau_mem=np.array([2.0]), r=np.array([1.0]),
                         v_leak=np.array([0.0]), v_threshold=np.array([1.0]))
    with pytest.raises(ConfigError, match="node 'a_lif' \\(CubaLIF\\).*not supported.*synaptic current"):
        nir_graph_to_model(one_neuron_graph(neuron, 0.5), ImportOptions(dt=1.0), source="t")


def test_per_neuron_thresholds_must_be_uniform():
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "fc": nir.Linear(weight=np.ones((2, 2))),
               "lif": nir.IF(r=np.ones(2), v_threshold=np.array([1.0, 2.0])),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.raises(ConfigError, match="v_threshold differs between neurons \\(from 1 to 2\\)"):
        nir_graph_to_model(graph, ImportOptions(dt=1.0), source="t")


def test_bias_rejected():
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "fc": nir.Affine(weight=np.ones((2, 2)), bias=np.array([0.0, 0.5])),
               "lif": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.raises(ConfigError, match="node 'fc' \\(Affine\\): a non-zero bias"):
        nir_graph_to_model(graph, ImportOptions(dt=1.0), source="t")


def test_branching_graph_rejected():
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "fc": nir.Linear(weight=np.ones((2, 2))), "fc2": nir.Linear(weight=np.ones((2, 2))),
               "lif": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "fc"), ("input", "fc2"), ("fc", "lif"), ("fc2", "lif"), ("lif", "output")])
    with pytest.raises(ConfigError, match="node 'input' branches to \\['fc', 'fc2'\\]"):
        nir_graph_to_model(graph, ImportOptions(dt=1.0), source="t")


def pooled_graph(pool_kind, size=6, pool=2, padding=0):
    rng = np.random.default_rng(1)
    weight = rng.integers(-3, 4, size=(3, 2, 3, 3)).astype(np.float64)
    pooling = getattr(nir, pool_kind)(kernel_size=np.array([pool, pool]), stride=np.array([pool, pool]),
                                      padding=np.array([0, 0]))
    pooled = size // pool
    out = (pooled + 2 * padding - 3) + 1
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2, size, size])}), "pool": pooling,
               "conv": nir.Conv2d(input_shape=(pooled, pooled), weight=weight, stride=1, padding=padding,
                                  dilation=1, groups=1, bias=np.zeros(3)),
               "lif": nir.IF(r=np.ones((3, out, out)), v_threshold=np.full((3, out, out), 2.0)),
               "output": nir.Output(output_type={"output": np.array([3, out, out])})},
        edges=[("input", "pool"), ("pool", "conv"), ("conv", "lif"), ("lif", "output")])
    return graph, weight


@pytest.mark.parametrize("size,padding", [(6, 0), (7, 0), (6, 1)])
def test_sum_pool_folds_exactly(size, padding):
    graph, weight = pooled_graph("SumPool2d", size=size, padding=padding)
    model = nir_graph_to_model(graph, ImportOptions(dt=1.0, quantization="integer", fire=">="), source="t")
    layer = model.layers[0]
    assert (layer.kernel, layer.stride, layer.padding) == (6, 2, 2 * padding)
    rng = np.random.default_rng(2)
    spikes = (rng.random((6, 2, size, size)) < 0.4).astype(np.uint8)
    pooled_size = size // 2
    crop = spikes[:, :, :2 * pooled_size, :2 * pooled_size]
    pooled = crop.reshape(6, 2, pooled_size, 2, pooled_size, 2).sum(axis=(3, 5))
    for step in range(6):
        folded = reference.conv_direct(spikes[step], layer.weight, layer.stride, layer.padding)
        direct = reference.conv_direct(pooled[step], weight.astype(np.int64), 1, padding)
        assert np.array_equal(folded, direct)


def test_sum_pool_with_padding_and_remainder_rejected():
    graph, _ = pooled_graph("SumPool2d", size=7, padding=1)
    with pytest.raises(ConfigError, match="folding would not be exact"):
        nir_graph_to_model(graph, ImportOptions(dt=1.0, quantization="integer"), source="t")


def test_avg_pool_divides_weights():
    graph, weight = pooled_graph("AvgPool2d")
    model = nir_graph_to_model(graph, ImportOptions(dt=1.0, quantization="max", fire=">="), source="t")
    report = model.metadata["nir"]["layers"]["conv"]
    assert report["notes"] and "average pooling 2x2" in report["notes"][0]
    # max |w| / 4 maps to 127; the threshold 2.0 scales by the same factor.
    scale = report["weight_scale"]
    assert scale == pytest.approx(127 / (np.abs(weight).max() / 4))


def test_pool_between_weights_and_neurons_rejected():
    graph, _ = pooled_graph("SumPool2d")
    graph.edges = [("input", "conv"), ("conv", "pool"), ("pool", "lif"), ("lif", "output")]
    graph.nodes["conv"] = nir.Conv2d(input_shape=(6, 6), weight=np.ones((3, 2, 3, 3)), stride=1, padding=0,
                                     dilation=1, groups=1, bias=np.zeros(3))
    with pytest.raises(ConfigError, match="pooling of membrane currents"):
        nir_graph_to_model(graph, ImportOptions(dt=1.0), source="t")


def fc_model():
    rng = np.random.default_rng(3)
    weight = rng.integers(-127, 128, size=(128, 2450))
    neuron = NeuronParams(threshold=600, leak_q=230, fire=">=")
    layer = Layer("fc", "fc", (2, 35, 35), (128, 1, 1), 1, 1, 0, weight, neuron)
    return Model("fc_only", (2, 35, 35), [layer], "test", None, "")


def test_round_trip_fc_layer_shapes(tmp_path):
    path = write_nir_model(fc_model(), tmp_path / "fc.nir")
    graph = nir.read(path)
    assert list(graph.nodes["fc.lif"].v_threshold.shape) == [128]
    assert graph.nodes["fc"].weight.size == 313_600
    model = read_nir_model(path, ImportOptions(quantization="integer"))
    assert model.layers[0].weight.shape == (128, 2450)
    assert model.layers[0].out_shape == (128, 1, 1)


def test_round_trip_fc_layer_spikes(tmp_path):
    original = fc_model()
    path = write_nir_model(original, tmp_path / "fc.nir")
    restored = read_nir_model(path, ImportOptions(quantization="integer"))
    assert np.array_equal(restored.layers[0].weight, original.layers[0].weight)
    assert restored.layers[0].neuron.leak_q == 230
    spikes = (np.random.default_rng(4).random((20, 2, 35, 35)) < 0.1).astype(np.uint8)
    expected = reference.forward(original, spikes)[0]
    got = reference.forward(restored, spikes)[0]
    assert expected.sum() > 0
    assert expected.sum(axis=0).tolist() == got.sum(axis=0).tolist()
    assert np.array_equal(expected, got)


def test_round_trip_conv_model_with_if_and_subtract(tmp_path):
    rng = np.random.default_rng(5)
    conv = Layer("conv", "conv", (2, 9, 9), (4, 4, 4), 3, 2, 0, rng.integers(-60, 61, size=(4, 2, 3, 3)),
                 NeuronParams(threshold=50, leak_q=256, fire=">", reset="subtract"))
    fc = Layer("fc", "fc", (4, 4, 4), (5, 1, 1), 1, 1, 0, rng.integers(-60, 61, size=(5, 64)),
               NeuronParams(threshold=40, leak_q=200, fire=">", reset="subtract"))
    original = Model("conv_fc", (2, 9, 9), [conv, fc], "test", None, "")
    nir.write(tmp_path / "m.nir", model_to_nir_graph(original))
    restored = read_nir_model(tmp_path / "m.nir", ImportOptions(quantization="integer", reset="subtract"))
    assert [type(node).__name__ for node in nir.read(tmp_path / "m.nir").nodes.values()].count("IF") == 1
    spikes = (rng.random((15, 2, 9, 9)) < 0.3).astype(np.uint8)
    for expected, got in zip(reference.forward(original, spikes), reference.forward(restored, spikes)):
        assert np.array_equal(expected, got)
