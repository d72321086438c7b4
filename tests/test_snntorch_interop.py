"""snnTorch -> NIR -> spikex_sim: the imported integer network spikes exactly like snnTorch.

Exactness by construction: weights are multiples of 1/8 up to 0.875 and thresholds 1.0, so
the power_of_two rule maps them to integers (scale 128) without loss. The leak beta = 0.5
halves the membrane each step; the integer leak floors, which is exact while the membrane
is even. Integer weights are multiples of 16, so four halvings stay exact, and T = 5 steps
need at most four. Under these conditions the membranes agree exactly too; in general the
floor makes the integer membrane lower than snnTorch's by less than 1 / (1 - beta) units of
1 / scale, which can move a spike whose membrane lies that close to the threshold.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")
nir = pytest.importorskip("nir")

from snntorch import utils as snn_utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402

from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry  # noqa: E402
from spikex_sim.dataflow.spikex import run_layer  # noqa: E402
from spikex_sim.workload.nir_io import ImportOptions, read_nir_model  # noqa: E402

STEPS = 5
BETA = 0.5
GEOMETRY = BufferGeometry(glb_spikes=8000, glb_weights=10000, glb_vmem=5000, lbuf_spikes=300, lbuf_weights=400,
                          weight_bits=8, membrane_bits=16)


def dyadic_weights(generator, shape):
    """Weights k/8 for k in -7..7, biased upward so that the neurons fire."""
    return torch.from_numpy(generator.integers(-4, 8, size=shape) / 8.0).float()


def build_network():
    generator = np.random.default_rng(11)
    conv = torch.nn.Conv2d(2, 4, 3, stride=2, bias=False)
    fc = torch.nn.Linear(64, 5, bias=False)
    with torch.no_grad():
        conv.weight.copy_(dyadic_weights(generator, conv.weight.shape))
        fc.weight.copy_(dyadic_weights(generator, fc.weight.shape) / 4)
    # Per-neuron tensors: snnTorch's NIR exporter writes beta and threshold at their shape.
    lif1 = snn.Leaky(beta=torch.full((4, 4, 4), BETA), threshold=torch.ones(4, 4, 4), init_hidden=True,
                     reset_mechanism="zero")
    lif2 = snn.Leaky(beta=torch.full((5,), BETA), threshold=torch.ones(5), init_hidden=True,
                     reset_mechanism="zero", output=True)
    return torch.nn.Sequential(conv, lif1, torch.nn.Flatten(), fc, lif2)


def snntorch_forward(network, spikes):
    """Return snnTorch's spikes of both layers, [T, 4, 4, 4] and [T, 5], and the fc membranes [T, 5].

    snnTorch returns the membrane before its reset, which it applies at the next step.
    """
    snn_utils.reset(network)
    hidden, output, membranes = [], [], []
    with torch.no_grad():
        for step in range(spikes.shape[0]):
            frame = torch.from_numpy(spikes[step][None]).float()
            first = network[1](network[0](frame))
            out, membrane = network[4](network[3](network[2](first)))
            hidden.append(first[0].numpy())
            output.append(out[0].numpy())
            membranes.append(membrane[0].numpy())
    return np.array(hidden, dtype=np.uint8), np.array(output, dtype=np.uint8), np.array(membranes)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    network = build_network()
    graph = export_to_nir(network, torch.zeros(1, 2, 9, 9), ignore_dims=[0])
    path = tmp_path_factory.mktemp("nir") / "snntorch.nir"
    nir.write(path, graph)
    return network, path


def test_import_maps_layers_exactly(exported):
    _, path = exported
    model = read_nir_model(path, ImportOptions(quantization="power_of_two", fire=">"))
    assert [layer.kind for layer in model.layers] == ["conv", "fc"]
    reports = model.metadata["nir"]["layers"]
    for layer in model.layers:
        report = reports[layer.name]
        # tau and r are float32 in the file, so the gain dt * r / tau is 1 within float32
        # rounding; the integer weights are still the exact multiples of 1/128.
        assert report["max_weight_error"] < 1e-6
        assert layer.neuron.leak_q == 128
        assert layer.neuron.threshold == round(report["weight_scale"])
        assert np.all(layer.weight % 8 == 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spikes_match_snntorch(exported, seed):
    network, path = exported
    model = read_nir_model(path, ImportOptions(quantization="power_of_two", fire=">"))
    spikes = (np.random.default_rng(seed).random((STEPS, 2, 9, 9)) < 0.5).astype(np.uint8)
    hidden, output, _ = snntorch_forward(network, spikes)

    conv, fc = model.layers
    got_hidden, _ = run_layer(conv, spikes, 2, ArrayShape(4, 4), "auto", GEOMETRY)
    got_output, _ = run_layer(fc, got_hidden.reshape(STEPS, -1), 2, ArrayShape(4, 4), "auto", GEOMETRY)

    assert 0 < hidden.sum() < hidden.size
    assert output.sum() > 0
    assert np.array_equal(got_hidden, hidden)
    assert np.array_equal(got_output.reshape(STEPS, -1), output)


def test_membranes_match_snntorch(exported):
    network, path = exported
    model = read_nir_model(path, ImportOptions(quantization="power_of_two", fire=">"))
    spikes = (np.random.default_rng(0).random((STEPS, 2, 9, 9)) < 0.5).astype(np.uint8)
    hidden, output, membranes = snntorch_forward(network, spikes)

    fc = model.layers[1]
    scale = model.metadata["nir"]["layers"][fc.name]["weight_scale"]
    state = np.zeros(fc.out_channels, dtype=np.int64)
    for step in range(STEPS):
        # The integer LIF of workload/model.py, stopped before the threshold test.
        before_reset = ((state * fc.neuron.leak_q) >> 8) + fc.weight @ hidden[step].reshape(-1).astype(np.int64)
        assert np.array_equal(before_reset / scale, membranes[step]), f"step {step}"
        state = np.where(before_reset > fc.neuron.threshold, 0, before_reset)
    assert 0 < output.sum() < output.size
