"""The model zoo: printed layer sizes, seeded weights, and NIR export from the command line."""

import numpy as np
import pytest
import yaml

import reference
from spikex_sim.cli import main
from spikex_sim.workload.model import load_model
from spikex_sim.workload.zoo import random_layer_arrays

# (H, R, E, C, M) of the benchmark table; fc layers as (inputs, outputs).
TABLE = {
    "dvsgesture_medium": [(64, 32, 5, 2, 8), (32, 8, 5, 8, 16), (8, 8, 5, 16, 16), (8, 10, 5, 16, 16),
                          (1600, 512), (512, 11)],
    "dvsgesture_large": [(32, 16, 3, 2, 32), (16, 8, 3, 32, 64), (8, 4, 3, 64, 128), (2048, 256), (256, 11)],
}


def load(repo_root, name, seed=None):
    return load_model(repo_root / "configs" / "models" / f"{name}.yaml", fire=">=", reset="zero", membrane_bits=16,
                      weights_seed=seed)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_zoo_layers_match_table(repo_root, name):
    model = load(repo_root, name)
    for layer, row in zip(model.layers, TABLE[name], strict=True):
        if layer.kind == "conv":
            height, out_size, kernel, channels, out_channels = row
            assert (layer.in_shape[1], layer.out_shape[1], layer.kernel) == (height, out_size, kernel)
            assert (layer.in_shape[0], layer.out_channels) == (channels, out_channels)
        else:
            assert (layer.in_channels, layer.out_channels) == row
        assert layer.notes


@pytest.mark.parametrize("name", sorted(TABLE))
def test_shipped_weights_equal_seed_zero(repo_root, name):
    shipped = load(repo_root, name)
    generated = load(repo_root, name, seed=0)
    for first, second in zip(shipped.layers, generated.layers):
        assert np.array_equal(first.weight, second.weight)
        assert first.neuron == second.neuron
    assert (repo_root / "data" / "models" / f"{name}.npz").stat().st_size < 1_000_000


def test_vgg_generates_weights_from_seed(repo_root):
    model = load(repo_root, "vgg_cifar", seed=4)
    assert model.input_shape == (3, 32, 32)
    assert sum(layer.weight.size for layer in model.layers) == 3_246_784
    assert model.metadata["untrained_weights_seed"] == 4
    assert int(np.abs(model.layers[-1].weight).max()) <= 127


def test_random_layer_arrays_depend_on_seed():
    first = random_layer_arrays("fc", 0, (4, 8), 1)["fc.weight"]
    assert np.array_equal(first, random_layer_arrays("fc", 0, (4, 8), 1)["fc.weight"])
    assert not np.array_equal(first, random_layer_arrays("fc", 0, (4, 8), 2)["fc.weight"])


def test_export_nir_command_round_trip(tmp_path, repo_root, capsys):
    pytest.importorskip("nir")
    from spikex_sim.workload.nir_io import ImportOptions, read_nir_model

    config = repo_root / "configs" / "dvsgesture_large_synthetic.yaml"
    out = tmp_path / "large.nir"
    assert main(["export-nir", str(config), str(out)]) == 0
    assert "quantization: integer" in capsys.readouterr().out
    assert main(["export-nir", str(config), str(out)]) == 2
    assert "already exists" in capsys.readouterr().err

    original = load(repo_root, "dvsgesture_large")
    restored = read_nir_model(out, ImportOptions(quantization="integer", fire=">"))
    spikes = (np.random.default_rng(0).random((8, 2, 32, 32)) < 0.3).astype(np.uint8)
    expected = reference.forward(original, spikes)
    got = reference.forward(restored, spikes)
    assert sum(int(layer.sum()) for layer in expected) > 0
    for first, second in zip(expected, got):
        assert np.array_equal(first, second)


def test_run_config_of_vgg_with_seed(tmp_path, repo_root):
    from spikex_sim.config import load_config
    from spikex_sim.runner import simulate

    config = yaml.safe_load((repo_root / "configs" / "dvsgesture_large_synthetic.yaml").read_text())
    config["workload"]["model"] = {"type": "SNNModelFile", "path": str(repo_root / "configs/models/vgg_cifar.yaml"),
                                   "weights_seed": 0}
    config["workload"]["timesteps"] = 6
    config["workload"]["dataset"] = {"type": "SyntheticActivity", "samples": 1, "input_rate": 0.1, "rates": 0.02}
    path = tmp_path / "vgg.yaml"
    path.write_text(yaml.safe_dump(config))
    result = simulate(load_config(path))
    assert list(result.tables["layers"]["layer"]) == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1",
                                                      "conv3_2", "fc1", "fc2"]
