"""Inputs: event arrays, event binning modes, MNIST images, latency and direct coding."""

import numpy as np
import pytest
import yaml

from spikex_sim.component import build_component
from spikex_sim.config import load_config
from spikex_sim.errors import ConfigError
from spikex_sim.runner import simulate
from spikex_sim.system import Dataset, Encoder
from spikex_sim.workload.events import EVENT_DTYPE


def encoder(node):
    return build_component(node, base=Encoder, path="workload.encoder", source="test")


def dataset(node):
    return build_component(node, base=Dataset, path="workload.dataset", source="test")


def events(rows):
    array = np.zeros(len(rows), dtype=[("x", np.int32), ("y", np.int32), ("t", np.int64), ("p", np.int8)])
    for index, row in enumerate(rows):
        array[index] = row
    return array


def to_events(rows):
    from spikex_sim.workload.events import to_event_array

    return to_event_array(events(rows), "test")


def test_binning_by_window():
    stream = to_events([(0, 0, 0, 1), (1, 0, 9_999, 0), (2, 0, 10_000, 1), (3, 0, 30_000, 1)])
    spikes = encoder({"type": "EventBinning", "by": "window", "window": "10ms"}).encode(
        stream, timesteps=3, shape=(2, 1, 4), rng=None, source="t")
    assert spikes[0, 1, 0, 0] == 1
    assert spikes[0, 0, 0, 1] == 1
    assert spikes[1, 1, 0, 2] == 1
    assert spikes.sum() == 3  # t = 30 ms lies after 3 windows of 10 ms


def test_binning_by_bins_uses_recording_span():
    stream = to_events([(0, 0, 1_000, 1), (1, 0, 1_500, 1), (2, 0, 1_999, 1)])
    spikes = encoder({"type": "EventBinning", "by": "bins"}).encode(
        stream, timesteps=2, shape=(2, 1, 3), rng=None, source="t")
    # span 1000..1999 (1000 us): steps (t - 1000) * 2 // 1000 = 0, 1, 1
    assert spikes[:, 1, 0].tolist() == [[1, 0, 0], [0, 1, 1]]


def test_event_array_polarity_conventions():
    stream = to_events([(0, 0, 0, -1), (0, 0, 1, 1), (0, 0, 2, 0)])
    assert stream.dtype == EVENT_DTYPE
    assert stream["p"].tolist() == [0, 1, 0]


def test_event_array_missing_field_rejected():
    from spikex_sim.workload.events import to_event_array

    bad = np.zeros(3, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64)])
    with pytest.raises(ConfigError, match=r"lacks fields \['p'\]"):
        to_event_array(bad, "t")


def test_event_arrays_from_npz_and_folder(tmp_path):
    first = events([(1, 2, 5, 1)])
    second = events([(3, 4, 6, 0), (3, 4, 7, 1)])
    np.savez(tmp_path / "set.npz", a=first, b=second)
    (tmp_path / "labels.txt").write_text("# name class\na 3\nb 7\n")
    (tmp_path / "folder").mkdir()
    np.save(tmp_path / "folder" / "rec1.npy", second)
    from_npz = dataset({"type": "EventArrays", "path": "set.npz", "labels": "labels.txt"}).load(tmp_path, None)
    assert [(name, len(stream), label) for name, stream, label in from_npz] == [("a", 1, 3), ("b", 2, 7)]
    from_folder = dataset({"type": "EventArrays", "path": "folder"}).load(tmp_path, None)
    assert [(name, label) for name, _, label in from_folder] == [("rec1", -1)]


def test_mnist_images_load(repo_root):
    images = dataset({"type": "MNISTImages", "images": "data/mnist/t10k-images-idx3-ubyte.gz",
                      "labels": "data/mnist/t10k-labels-idx1-ubyte.gz"}).load(repo_root, 3)
    assert [label for _, _, label in images] == [7, 2, 1]
    assert images[0][1].shape == (28, 28)
    assert images[0][1].min() >= 0.0
    assert images[0][1].max() == 1.0


def test_latency_spike_times():
    image = np.array([[1.0, 0.5, 0.0, 0.05]])
    spikes = encoder({"type": "Latency", "threshold": 0.1}).encode(image, timesteps=11, shape=(1, 1, 4), rng=None,
                                                                   source="t")
    # step round((1 - x) * 10): 1.0 -> 0, 0.5 -> 5; 0.0 and 0.05 are at or below the threshold.
    assert np.argwhere(spikes[:, 0, 0]).tolist() == [[0, 0], [5, 1]]


def test_poisson_rate_seeded():
    image = np.full((1, 4, 4), 0.5)
    rate = encoder({"type": "PoissonRate"})
    first = rate.encode(image, timesteps=50, shape=(1, 4, 4), rng=np.random.default_rng(1), source="t")
    second = rate.encode(image, timesteps=50, shape=(1, 4, 4), rng=np.random.default_rng(1), source="t")
    assert np.array_equal(first, second)
    assert first.mean() == pytest.approx(0.5, abs=0.1)


@pytest.fixture
def mnist_config(tmp_path, repo_root):
    """A fc network on 28x28 MNIST images, with seeded untrained weights."""
    (tmp_path / "mnist_fc.yaml").write_text(yaml.safe_dump({
        "name": "mnist_fc", "input_shape": [1, 28, 28],
        "layers": [{"name": "fc1", "kind": "fc", "out_features": 32}, {"name": "fc2", "kind": "fc", "out_features": 10}],
    }))
    config = yaml.safe_load((repo_root / "configs" / "dvsgesture_large_synthetic.yaml").read_text())
    config["workload"] = {
        "type": "Workload", "timesteps": 8,
        "model": {"type": "SNNModelFile", "path": "mnist_fc.yaml", "weights_seed": 0},
        "dataset": {"type": "MNISTImages", "images": str(repo_root / "data/mnist/t10k-images-idx3-ubyte.gz"),
                    "labels": str(repo_root / "data/mnist/t10k-labels-idx1-ubyte.gz")},
        "encoder": {"type": "Latency"},
    }
    path = tmp_path / "mnist.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_mnist_latency_run(mnist_config):
    result = simulate(load_config(mnist_config), samples=2)
    samples = result.tables["samples"]
    assert samples["label"].tolist() == [7, 2]
    # Latency coding: every pixel above 0 spikes exactly once.
    assert all(int(per_layer[0].max(initial=0)) <= 1 for per_layer in result.layer_spikes)
    assert int(samples["input_spikes"].iloc[0]) > 50


def test_direct_encoder_rejected_by_spiking_array(mnist_config):
    config = load_config(mnist_config, ["workload.encoder.type=Direct"])
    with pytest.raises(ConfigError, match="gives real-valued input, but array SpikeXArray takes binary spikes only"):
        simulate(config, samples=1)


def test_sklearn_digits_through_poisson(tmp_path):
    pytest.importorskip("sklearn")
    model = {"input_shape": [1, 8, 8], "weights": "w.npz", "layers": [
        {"name": "conv1", "kind": "conv", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 1},
        {"name": "fc", "kind": "fc", "out_features": 10}]}
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(model))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", **{"conv1.weight": rng.integers(-5, 20, (4, 1, 3, 3)).astype(np.int8),
                                    "conv1.threshold": np.int32(20), "conv1.leak_q": np.int32(230),
                                    "fc.weight": rng.integers(-5, 20, (10, 256)).astype(np.int8),
                                    "fc.threshold": np.int32(30), "fc.leak_q": np.int32(230)})
    config = {"name": "digits", "workload": {"timesteps": 8, "model": {"path": "model.yaml"},
                                             "dataset": {"type": "SklearnDigits"},
                                             "encoder": {"type": "PoissonRate"}}}
    (tmp_path / "digits.yaml").write_text(yaml.safe_dump(config))
    result = simulate(load_config(tmp_path / "digits.yaml"), samples=3)
    samples = result.tables["samples"]
    assert len(samples) == 3
    assert samples["label"].tolist() == [0, 1, 2]
    assert (samples["input_spikes"] > 0).all()
