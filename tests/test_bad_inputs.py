"""Corrupt and edge-case input files: one-line errors for bad ones, correct runs for odd valid ones."""

import numpy as np
import pytest
import yaml

import spikex_sim
from spikex_sim.cli import main

LABEL = 3


def encode_events(events) -> bytes:
    """Encode (x, y, t_us, polarity) tuples in the N-MNIST format: 5 bytes per event."""
    data = bytearray()
    for x, y, t, polarity in events:
        data += bytes([x, y, (polarity << 7) | (t >> 16 & 0x7F), t >> 8 & 0xFF, t & 0xFF])
    return bytes(data)


@pytest.fixture
def workspace(tmp_path, repo_root):
    """A copy of the default config that reads one recording, 1.bs2, and the repository model."""
    config = yaml.safe_load((repo_root / "configs" / "spikex_nmnist.yaml").read_text())
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (tmp_path / "labels.txt").write_text(f"1\t{LABEL}\n")
    config["workload"]["model"]["path"] = str(repo_root / "configs" / "models" / "nmnist_snn.yaml")
    config["workload"]["dataset"]["path"] = str(recordings)
    config["workload"]["dataset"]["labels"] = str(tmp_path / "labels.txt")
    return tmp_path, config


def run(folder, config, capsys, *extra):
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code = main(["run", str(path), "--quiet", "--out", str(folder / "run"), *[str(arg) for arg in extra]])
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, folder, *expected):
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err
    assert not (folder / "run").exists()


SENSOR_EVENTS = [(1, 2, 1_000, 1), (5, 6, 20_000, 0), (33, 33, 150_000, 1)]
BAD_RECORDINGS = [
    ("truncated", encode_events(SENSOR_EVENTS)[:-2], "not a multiple of 5"),
    ("x outside sensor", encode_events([*SENSOR_EVENTS, (34, 3, 200_000, 1)]), "outside the 34x34 sensor"),
    ("y outside sensor", encode_events([(3, 200, 5, 0)]), "outside the 34x34 sensor"),
    ("time goes backwards", encode_events([(1, 1, 5_000, 1), (2, 2, 4_000, 1)]), "earlier than the event"),
]


@pytest.mark.parametrize("label, data, expected", BAD_RECORDINGS, ids=[case[0] for case in BAD_RECORDINGS])
def test_bad_recording_is_one_line(workspace, capsys, label, data, expected):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(data)
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "1.bs2", expected)


@pytest.mark.parametrize("data", [b"", encode_events([(4, 4, 300_000, 1), (5, 5, 400_000, 0)])],
                         ids=["empty file", "events after the duration"])
def test_silent_input_is_zero_work(workspace, capsys, data):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(data)
    code, err = run(folder, config, capsys)
    assert code == 0, err
    result = spikex_sim.load_run(folder / "run")
    layers = result.layers
    assert (layers["input_spikes"] == 0).all()
    assert (layers["synaptic_ops"] == 0).all()
    assert (layers["passes"] == 0).all()
    assert (layers["output_spikes"] == 0).all()
    dynamic = result.energy[result.energy["action"] != "leakage_cycle"]
    assert dynamic["energy_pj"].sum() == 0
    assert dynamic["count"].sum() == 0
    latency = float(result.summary["latency_cycles"].iloc[0])
    assert np.isfinite(latency)
    assert latency >= 0
    assert np.isfinite(result.summary["edp_js"].iloc[0])


def test_single_time_step_runs(workspace, capsys):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    config["workload"]["timesteps"] = 1
    config["system"]["array"]["tws"] = 1
    code, err = run(folder, config, capsys)
    assert code == 0, err
    result = spikex_sim.load_run(folder / "run")
    assert (result.layers["tws"] == 1).all()
    assert result.layers["input_spikes"].iloc[0] == 3
    assert int(result.layers["latency_cycles"].sum()) == int(result.samples["latency_cycles"].iloc[0])


@pytest.fixture
def weight_workspace(workspace, repo_root):
    """The workspace plus a copy of the model file whose weights point to weights.npz in the folder."""
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    model = yaml.safe_load((repo_root / "configs" / "models" / "nmnist_snn.yaml").read_text())
    model["weights"] = str(folder / "weights.npz")
    (folder / "model.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    config["workload"]["model"]["path"] = str(folder / "model.yaml")
    with np.load(repo_root / "data" / "models" / "nmnist_snn.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    return folder, config, arrays


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_float_weights_are_one_line(weight_workspace, capsys, bad_value):
    folder, config, arrays = weight_workspace
    weights = arrays["conv2.weight"].astype(np.float32)
    weights[0, 0, 1, 1] = bad_value
    np.savez(folder / "weights.npz", **{**arrays, "conv2.weight": weights})
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "weights.npz", "conv2.weight", "NaN or infinite")


def test_weight_shape_mismatch_is_one_line(weight_workspace, capsys):
    folder, config, arrays = weight_workspace
    np.savez(folder / "weights.npz", **{**arrays, "conv3.weight": arrays["conv3.weight"][:, :16]})
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "conv3.weight", "[64, 16, 3, 3]", "[64, 32, 3, 3]")


def test_truncated_weight_file_is_one_line(weight_workspace, capsys):
    folder, config, arrays = weight_workspace
    np.savez(folder / "weights.npz", **arrays)
    data = (folder / "weights.npz").read_bytes()
    (folder / "weights.npz").write_bytes(data[: len(data) // 2])
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "weights.npz", "cannot read weight file")


def test_non_utf8_model_file_is_one_line(weight_workspace, capsys):
    folder, config, _ = weight_workspace
    (folder / "model.yaml").write_bytes(b"name: \xff\xfe model\n")
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "model.yaml", "not UTF-8")


def test_non_ascii_digit_label_is_one_line(workspace, capsys):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    (folder / "labels.txt").write_text("1\t\u00b2\n", encoding="utf-8")  # superscript two: isdigit() but not int()
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "labels.txt", "line 1")


def write_wide_model(folder, out_channels: int) -> None:
    """Write a model whose conv layer has out_channels x 2 x 4 x 4 int8 weights (640 channels: 20 KiB)."""
    rng = np.random.default_rng(0)
    model = {"name": "wide", "input_shape": [2, 34, 34], "weights": str(folder / "wide.npz"), "layers": [
        {"name": "wide", "kind": "conv", "out_channels": out_channels, "kernel": 4, "stride": 30, "padding": 0},
        {"name": "fc", "kind": "fc", "out_features": 10},
    ]}
    (folder / "wide.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    np.savez(folder / "wide.npz", **{
        "wide.weight": rng.integers(-20, 20, size=(out_channels, 2, 4, 4)).astype(np.int8),
        "wide.threshold": np.array(10, dtype=np.int32), "wide.leak_q": np.array(256, dtype=np.int32),
        "fc.weight": rng.integers(-20, 20, size=(10, out_channels * 4)).astype(np.int8),
        "fc.threshold": np.array(10, dtype=np.int32), "fc.leak_q": np.array(256, dtype=np.int32),
    })


def test_pinned_block_larger_than_bank_is_one_line(workspace, capsys):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    write_wide_model(folder, out_channels=640)  # 640 x 2 x 4 x 4 int8 weights = 20 KiB
    config["workload"]["model"]["path"] = str(folder / "wide.yaml")
    config["system"]["glb"]["size"] = "10KiB"
    config["system"]["glb"]["pin"] = ["weights"]
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "system.glb", "10240 B", "20480-byte weight block", "layer wide",
                          "system.glb.pin")


def test_pinned_block_that_fits_runs(workspace, capsys):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    write_wide_model(folder, out_channels=4)  # 4 x 2 x 4 x 4 = 128 B; an LBUF row group of fc: 8 x 16 = 128 B
    config["workload"]["model"]["path"] = str(folder / "wide.yaml")
    config["system"]["glb"]["pin"] = ["weights", "vmem", "spikes"]
    config["system"]["lbuf"]["pin"] = ["weights"]
    code, err = run(folder, config, capsys)
    assert code == 0, err


def test_unpinnable_data_type_is_one_line(workspace, capsys):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    config["system"]["lbuf"]["pin"] = ["vmem"]
    code, err = run(folder, config, capsys)
    assert_one_line_error(code, err, folder, "system.lbuf.pin", "'vmem' cannot be pinned into the LBUF")


def damage_manifest(folder):
    (folder / "manifest.json").write_text("{not json")


def remove_resolved_config(folder):
    (folder / "resolved_config.yaml").unlink()


def truncate_layers(folder):
    data = (folder / "layers.parquet").read_bytes()
    (folder / "layers.parquet").write_bytes(data[:100])


def remove_layers(folder):
    (folder / "layers.parquet").unlink()


DAMAGES = [
    ("manifest not JSON", damage_manifest, "invalid JSON"),
    ("resolved config missing", remove_resolved_config, "resolved config not found"),
    ("table truncated", truncate_layers, "cannot read the table"),
    ("table missing", remove_layers, "layers.parquet is missing"),
]


@pytest.mark.parametrize("label, damage, expected", DAMAGES, ids=[case[0] for case in DAMAGES])
def test_damaged_run_folder_is_one_line(workspace, capsys, label, damage, expected):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    for name in ("first", "second"):
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        assert main(["run", str(path), "--quiet", "--out", str(folder / name)]) == 0
    damage(folder / "second")
    code = main(["compare", str(folder / "first"), str(folder / "second")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert expected in err
    assert "second" in err


@pytest.mark.parametrize("command", [
    ["export-nir", "{config}", "{folder}/missing/model.nir"],
    ["compare", "{folder}/run", "{folder}/run", "--csv", "{folder}/missing/table.csv"],
], ids=["export-nir", "compare --csv"])
def test_unwritable_output_is_one_line(workspace, capsys, command):
    folder, config = workspace
    (folder / "recordings" / "1.bs2").write_bytes(encode_events(SENSOR_EVENTS))
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["run", str(path), "--quiet", "--out", str(folder / "run")]) == 0
    capsys.readouterr()
    code = main([part.format(config=path, folder=folder) for part in command])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "missing" in err
