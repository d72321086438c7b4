"""NeuroBench's synaptic operations and activation sparsity equal the `layers` table's.

The N-MNIST network (configs/models/nmnist_snn.yaml) runs on the shipped test recordings
twice: in spikex_sim through a NIR file, and in snnTorch under NeuroBench's hooks. The two
forward passes give the same spikes because the weights are integers (seeded, with zeros
replaced by 1), the neurons are IF with a hard reset, and snnTorch's `mem > T - 0.5` equals
the integer `u >= T`. NeuroBench counts a synaptic operation per input spike and non-zero
weight it reaches; spikex_sim counts one per input spike and synapse, whatever the weight,
so the two agree only when no weight is zero.
"""

import dataclasses

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("neurobench")
pytest.importorskip("nir")

from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import SNNTorchModel  # noqa: E402

from spikex_sim.config import load_config  # noqa: E402
from spikex_sim.runner import simulate  # noqa: E402
from spikex_sim.workload.model import load_model  # noqa: E402
from spikex_sim.workload.nir_io import write_nir_model  # noqa: E402

SAMPLES = 6
STEPS = 30


def integer_if_model(repo_root):
    model = load_model(repo_root / "configs" / "models" / "nmnist_snn.yaml", fire=">=", reset="zero",
                       membrane_bits=16, weights_seed=7)
    layers = []
    for layer in model.layers:
        weight = np.where(layer.weight == 0, 1, layer.weight)
        neuron = dataclasses.replace(layer.neuron, leak_q=256, threshold=layer.neuron.threshold // 2)
        layers.append(dataclasses.replace(layer, weight=weight, neuron=neuron))
    return dataclasses.replace(model, layers=layers)


def snntorch_network(model):
    modules = []
    for layer in model.layers:
        if layer.kind == "conv":
            torch_layer = torch.nn.Conv2d(layer.in_shape[0], layer.out_channels, layer.kernel, stride=layer.stride,
                                          padding=layer.padding, bias=False)
        else:
            modules.append(torch.nn.Flatten())
            torch_layer = torch.nn.Linear(layer.in_channels, layer.out_channels, bias=False)
        with torch.no_grad():
            torch_layer.weight.copy_(torch.from_numpy(layer.weight.astype(np.float32)))
        modules.append(torch_layer)
        modules.append(snn.Leaky(beta=1.0, threshold=layer.neuron.threshold - 0.5, init_hidden=True,
                                 reset_mechanism="zero", output=layer is model.layers[-1]))
    return torch.nn.Sequential(*modules)


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory, repo_root_module):
    folder = tmp_path_factory.mktemp("neurobench")
    model = integer_if_model(repo_root_module)
    write_nir_model(model, folder / "nmnist_if.nir")
    config = yaml.safe_load((repo_root_module / "configs" / "spikex_nmnist.yaml").read_text())
    config["workload"]["model"] = {"type": "NIRModel", "path": str(folder / "nmnist_if.nir"),
                                   "quantization": "integer"}
    config["workload"]["dataset"]["path"] = str(repo_root_module / "data" / "nmnist" / "test")
    config["workload"]["dataset"]["labels"] = str(repo_root_module / "data" / "nmnist" / "test100.txt")
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = simulate(load_config(path), samples=SAMPLES)

    inputs = torch.from_numpy(np.stack([per_layer[0] for per_layer in result.layer_spikes]).astype(np.float32))
    labels = torch.tensor(result.tables["samples"]["label"].tolist())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, labels), batch_size=2)
    benchmark = Benchmark(SNNTorchModel(snntorch_network(model)), loader, [], [],
                          [[], [SynapticOperations, ActivationSparsity]])
    return result, benchmark.run(quiet=True)


@pytest.fixture(scope="module")
def repo_root_module():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_synaptic_operations_equal(both_runs):
    result, neurobench = both_runs
    ours = result.tables["layers"]["synaptic_ops"].sum() / SAMPLES
    assert ours > 0
    assert neurobench["SynapticOperations"]["Effective_ACs"] == pytest.approx(ours, rel=1e-12)
    assert neurobench["SynapticOperations"]["Effective_MACs"] == 0


def test_activation_sparsity_equal(both_runs):
    result, neurobench = both_runs
    layers = result.tables["layers"]
    neurons = {"conv1": 12 * 16 * 16, "conv2": 32 * 14 * 14, "conv3": 64 * 6 * 6, "fc": 10}
    total = sum(neurons[name] * STEPS for name in layers["layer"])
    ours = 1 - layers["output_spikes"].sum() / total
    assert 0 < ours < 1
    assert neurobench["ActivationSparsity"] == pytest.approx(ours, rel=1e-12)
