"""Given activity: metrics, recorded-activity layouts, synthetic activity and replay in a run."""

import numpy as np
import pytest
import yaml

from spikex_sim.config import load_config
from spikex_sim.errors import ConfigError
from spikex_sim.runner import simulate
from spikex_sim.workload.activity_io import (
    active_window_fraction, arrange_activity, burst_spikes, input_fan_out, recorded_samples, spike_metrics,
)
from spikex_sim.workload.model import Layer, Model, NeuronParams


def test_spike_metrics_hand_computed():
    # [T=4, B=1, N=2]: t0 = [0, 0], t1 = [1, 0], t2 = [1, 1], t3 = [0, 1]; fan-out 10.
    spikes = np.array([[[0, 0]], [[1, 0]], [[1, 1]], [[0, 1]]])
    metrics = spike_metrics(spikes, 10)
    assert metrics["spikes"] == 4
    assert metrics["firing_rate"] == 0.5
    assert metrics["neuron_rates"].tolist() == [0.5, 0.5]
    assert metrics["step_rates"].tolist() == [0.0, 0.5, 1.0, 0.5]
    assert metrics["synaptic_ops"] == 40


def test_active_window_fraction_counts_windows():
    spikes = np.zeros((7, 3), dtype=np.uint8)
    spikes[1, 0] = spikes[6, 2] = 1
    # windows of 3 steps: [0-2] active, [3-5] silent, [6] active
    assert active_window_fraction(spikes, 3) == pytest.approx(2 / 3)


def test_input_fan_out_of_padded_conv():
    layer = Layer("c", "conv", (1, 4, 4), (2, 4, 4), 3, 1, 1, np.zeros((2, 1, 3, 3), dtype=np.int64),
                  NeuronParams(threshold=1, leak_q=256))
    fan_out = input_fan_out(layer)[0]
    # A corner pixel reaches 2 x 2 output positions, an inner pixel 3 x 3; times 2 channels.
    assert fan_out[0, 0] == 8
    assert fan_out[1, 1] == 18
    # Taps inside the input per output position: 4 corners x 4 + 8 edges x 6 + 4 inner x 9 = 100.
    assert fan_out.sum() == 2 * 100


def model_34():
    conv = Layer("conv", "conv", (2, 34, 34), (4, 16, 16), 3, 2, 0, np.ones((4, 2, 3, 3), dtype=np.int64),
                 NeuronParams(threshold=3, leak_q=200))
    fc = Layer("fc", "fc", (4, 16, 16), (10, 1, 1), 1, 1, 0, np.ones((10, 1024), dtype=np.int64),
               NeuronParams(threshold=20, leak_q=200))
    return Model("m34", (2, 34, 34), [conv, fc], "test", None, "")


def test_layout_time_axis_mismatch_names_axis_0():
    array = np.broadcast_to(np.zeros(1, dtype=np.uint8), (128, 311, 2, 34, 34))
    with pytest.raises(ConfigError, match=r"\[128, 311, 2, 34, 34\] declared TBCHW: axis 0 \(T\) has 128 steps, "
                                          r"but workload.timesteps is 311"):
        arrange_activity(array, "TBCHW", (2, 34, 34), "conv", 311, "rec.npz", "input")


def test_layout_btchw_reads_batch_first():
    array = np.zeros((3, 5, 2, 34, 34), dtype=np.uint8)
    array[2, 4, 1, 0, 0] = 1
    arranged = arrange_activity(array, "BTCHW", (2, 34, 34), "conv", 5, "rec.npz", "input")
    assert arranged.shape == (3, 5, 2, 34, 34)
    assert arranged[2, 4, 1, 0, 0] == 1


def test_single_step_without_time_axis():
    # timesteps: 1 and a [B, N] array read as [1, B, N].
    array = np.zeros((4, 10), dtype=np.uint8)
    array[3, 7] = 1
    arranged = arrange_activity(array, "TBN", (10, 1, 1), "fc", 1, "rec.npz", "fc")
    assert arranged.shape == (4, 1, 10, 1, 1)
    assert arranged[3, 0, 7, 0, 0] == 1


def test_missing_time_axis_needs_one_step():
    with pytest.raises(ConfigError, match=r"\[4, 10\] has no T axis.*timesteps is 5"):
        arrange_activity(np.zeros((4, 10), dtype=np.uint8), "TBN", (10, 1, 1), "fc", 5, "rec.npz", "fc")


def test_layer_shape_contradiction_names_both_shapes():
    with pytest.raises(ConfigError, match=r"\[5, 2, 4, 15, 15\] contradicts layout TBCHW and the model's shape "
                                          r"\[4, 16, 16\]"):
        arrange_activity(np.zeros((5, 2, 4, 15, 15), dtype=np.uint8), "TBCHW", (4, 16, 16), "conv", 5, "r", "conv")


def test_unknown_layout_rejected():
    with pytest.raises(ConfigError, match="layout 'TCHW' is not supported"):
        arrange_activity(np.zeros((5, 2, 34, 34), dtype=np.uint8), "TCHW", (2, 34, 34), "conv", 5, "r", "input")


def test_graded_values_rejected():
    with pytest.raises(ConfigError, match="spikes must be 0 or 1"):
        arrange_activity(np.full((5, 1, 10), 2, dtype=np.uint8), "TBN", (10, 1, 1), "fc", 5, "r", "fc")


def test_recorded_arrays_must_name_layers():
    arrays = {"layout": np.array("TBCHW"), "input": np.zeros((5, 1, 2, 34, 34), dtype=np.uint8),
              "conv1": np.zeros((5, 1, 4, 16, 16), dtype=np.uint8)}
    with pytest.raises(ConfigError, match=r"arrays \['conv1'\] match no layer; the model's layers are"):
        recorded_samples(arrays, model_34(), 5, "rec.npz")


def test_burst_spikes_rate_and_clustering():
    rng = np.random.default_rng(0)
    spread = burst_spikes((2000,), 100, 0.1, 0.0, rng)
    bunched = burst_spikes((2000,), 100, 0.1, 1.0, rng)
    assert spread.mean() == pytest.approx(0.1, abs=0.005)
    assert bunched.mean() == pytest.approx(0.1, abs=0.005)
    # Fully clustered: every neuron's 10 spikes fill one burst of 10 consecutive steps.
    assert set(bunched.sum(axis=0).tolist()) == {10}
    assert active_window_fraction(bunched[:, :1], 10) <= 0.2
    assert active_window_fraction(spread, 10) == 1.0


def test_burst_spikes_seeded():
    first = burst_spikes((50,), 20, 0.2, 0.5, np.random.default_rng(3))
    second = burst_spikes((50,), 20, 0.2, 0.5, np.random.default_rng(3))
    assert np.array_equal(first, second)


@pytest.fixture
def recorded_config(tmp_path, repo_root):
    """A config that replays a recording on the zoo's large DVS-Gesture network with T = 6."""
    def make(arrays, name="rec.npz", timesteps=6):
        np.savez(tmp_path / name, **arrays)
        config = yaml.safe_load((repo_root / "configs" / "dvsgesture_large_synthetic.yaml").read_text())
        config["workload"]["timesteps"] = timesteps
        config["workload"]["model"]["path"] = str(repo_root / "configs" / "models" / "dvsgesture_large.yaml")
        config["workload"]["dataset"] = {"type": "RecordedActivity", "path": str(tmp_path / name)}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return load_config(path)
    return make


def large_shapes():
    return {"input": (2, 32, 32), "conv1": (32, 16, 16), "conv2": (64, 8, 8), "conv3": (128, 4, 4),
            "fc1": (256,), "fc2": (11,)}


def test_replay_reproduces_recorded_counts(recorded_config):
    rng = np.random.default_rng(9)
    arrays = {"layout": np.array("TBCHW"), "labels": np.array([3, 4])}
    for key, shape in large_shapes().items():
        arrays[key] = (rng.random((6, 2, *shape)) < 0.1).astype(np.uint8)
    result = simulate(recorded_config(arrays))
    layers = result.tables["layers"]
    for sample in (0, 1):
        rows = layers[layers["sample"] == sample].set_index("layer")
        previous = "input"
        for name in ("conv1", "conv2", "conv3", "fc1", "fc2"):
            assert rows.loc[name, "output_spikes"] == int(arrays[name][:, sample].sum())
            assert rows.loc[name, "input_spikes"] == int(arrays[previous][:, sample].sum())
            previous = name
    labels = result.tables["samples"]["label"].tolist()
    assert labels == [3, 4]


def test_synaptic_ops_equal_spikex_accumulates(recorded_config):
    rng = np.random.default_rng(10)
    arrays = {"layout": np.array("BTCHW")}
    for key, shape in large_shapes().items():
        arrays[key] = (rng.random((1, 6, *shape)) < 0.05).astype(np.uint8)
    result = simulate(recorded_config(arrays))
    layers = result.tables["layers"].set_index("layer")
    energy = result.tables["energy"]
    accumulates = energy[energy["action"] == "accumulate"].set_index("layer")["count"]
    for name in ("conv1", "conv2", "conv3", "fc1", "fc2"):
        assert layers.loc[name, "synaptic_ops"] == accumulates.loc[name]
    # conv1: every input spike times its fan-out (output positions reached x 32 channels).
    conv1 = result.layer_spikes[0][0]
    model = recorded_config(arrays).workload.model.load(recorded_config(arrays).base_dir)
    expected = int((conv1.sum(axis=0) * input_fan_out(model.layers[0])).sum())
    assert layers.loc["conv1", "synaptic_ops"] == expected


def test_input_only_recording_computes_layers(recorded_config):
    # Sample 1 of a 3-sample file and sample 0 of a 1-sample file hold the same input; both
    # start from zero membranes, so their computed spikes are identical.
    rng = np.random.default_rng(11)
    batch = (rng.random((6, 3, 2, 32, 32)) < 0.2).astype(np.uint8)
    three = simulate(recorded_config({"layout": np.array("TBCHW"), "input": batch}, name="three.npz"))
    one = simulate(recorded_config({"layout": np.array("TBCHW"), "input": batch[:, 1:2]}, name="one.npz"))
    assert len(three.layer_spikes) == 3
    for alone, inside in zip(one.layer_spikes[0], three.layer_spikes[1]):
        assert np.array_equal(alone, inside)
    assert sum(int(spikes.sum()) for spikes in one.layer_spikes[0][1:]) > 0


def test_synthetic_run_hits_target_rates(repo_root):
    config = load_config(repo_root / "configs" / "dvsgesture_large_synthetic.yaml",
                         ["workload.timesteps=40", "workload.dataset.samples=2"])
    result = simulate(config)
    layers = result.tables["layers"]
    rates = layers.groupby("layer")["output_firing_rate"].mean()
    assert rates["conv1"] == pytest.approx(0.05, abs=0.01)
    assert rates["fc2"] == pytest.approx(0.1, abs=0.1)
    assert np.isnan(result.tables["summary"]["accuracy"].iloc[0])
    again = simulate(load_config(repo_root / "configs" / "dvsgesture_large_synthetic.yaml",
                                 ["workload.timesteps=40", "workload.dataset.samples=2"]))
    assert layers["latency_cycles"].tolist() == again.tables["layers"]["latency_cycles"].tolist()


def test_synthetic_rates_list_length_checked(repo_root):
    config = load_config(repo_root / "configs" / "dvsgesture_large_synthetic.yaml",
                         ["workload.dataset.rates=[0.1, 0.2]"])
    with pytest.raises(ConfigError, match="rates lists 2 firing rates, but the model has 5 layers"):
        simulate(config)


def test_activity_dataset_needs_replay_encoder(repo_root):
    with pytest.raises(ConfigError, match="set workload.encoder.type to ActivityReplay"):
        load_config(repo_root / "configs" / "dvsgesture_large_synthetic.yaml", ["workload.encoder.type=PoissonRate"])
