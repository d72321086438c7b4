"""The command line: a real run, its traces, and one-line errors with exit code 2."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

import spikex_sim
from spikex_sim.cli import main


@pytest.fixture
def workspace(tmp_path, repo_root):
    """A copy of the default config whose relative paths point into the repository."""
    config = yaml.safe_load((repo_root / "configs" / "spikex_nmnist.yaml").read_text())
    configs = repo_root / "configs"
    config["workload"]["model"]["path"] = str(configs / "models" / "nmnist_snn.yaml")
    config["workload"]["dataset"]["path"] = str(repo_root / "data" / "nmnist" / "test")
    config["workload"]["dataset"]["labels"] = str(repo_root / "data" / "nmnist" / "test100.txt")
    return tmp_path, config


def write_config(folder, config, name="config.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_cli(capsys, *args):
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_writes_traces(workspace, capsys):
    folder, config = workspace
    path = write_config(folder, config)
    code, out, err = run_cli(capsys, "run", path, "--samples", 3, "--out", folder / "run")
    assert code == 0, err
    run = spikex_sim.load_run(folder / "run")
    for column in ("latency_cycles", "latency_s", "energy_pj", "edp_js", "accuracy"):
        assert column in run.summary.columns
    assert len(run.samples) == 3
    assert set(run.layers["layer"]) == {"conv1", "conv2", "conv3", "fc"}
    assert run.manifest["events"] > 0
    assert (folder / "run" / "resolved_config.yaml").is_file()
    assert "accuracy" in out


def test_resolved_config_runs_again(workspace, capsys):
    folder, config = workspace
    path = write_config(folder, config)
    assert run_cli(capsys, "run", path, "--samples", 1, "--out", folder / "a", "--quiet")[0] == 0
    resolved = folder / "a" / "resolved_config.yaml"
    code, _, err = run_cli(capsys, "run", resolved, "--samples", 1, "--out", folder / "b", "--quiet")
    assert code == 0, err
    first = pd.read_parquet(folder / "a" / "layers.parquet")
    second = pd.read_parquet(folder / "b" / "layers.parquet")
    pd.testing.assert_frame_equal(first, second)


def test_same_seed_gives_identical_tables(workspace, capsys):
    folder, config = workspace
    path = write_config(folder, config)
    for name in ("one", "two"):
        assert run_cli(capsys, "run", path, "--samples", 2, "--out", folder / name, "--quiet")[0] == 0
    for table in ("summary", "layers", "memory", "energy", "utilization", "samples"):
        first = (folder / "one" / f"{table}.parquet").read_bytes()
        second = (folder / "two" / f"{table}.parquet").read_bytes()
        assert first == second, table


def test_set_override_changes_array(workspace, capsys):
    folder, config = workspace
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--out", folder / "r", "--quiet",
                           "--set", "system.array.rows=16")
    assert code == 0, err
    resolved = yaml.safe_load((folder / "r" / "resolved_config.yaml").read_text())
    assert resolved["system"]["array"]["rows"] == 16


def test_existing_run_folder_is_kept(workspace, capsys):
    folder, config = workspace
    path = write_config(folder, config)
    (folder / "r").mkdir()
    (folder / "r" / "keep.txt").write_text("earlier")
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--out", folder / "r", "--quiet")
    assert code == 2
    assert "--overwrite" in err
    assert (folder / "r" / "keep.txt").read_text() == "earlier"


BAD_CONFIGS = [
    ("unknown key", lambda c: c["system"]["array"].update(rowz=8), "did you mean rows"),
    ("missing required", lambda c: c["workload"]["model"].pop("path"), "missing required parameter 'path'"),
    ("bad unit", lambda c: c["system"]["glb"].update(size="54 parsec"), "system.glb.size"),
    ("size for bandwidth", lambda c: c["system"]["dram"].update(bandwidth="30GB"), "system.dram.bandwidth"),
    ("unknown type", lambda c: c["system"]["array"].update(type="SpikeZArray"), "did you mean SpikeXArray"),
    ("module not importable", lambda c: c["system"]["array"].update(type="no_such_module:Array"), "cannot import"),
    ("zero timesteps", lambda c: c["workload"].update(timesteps=0), "workload.timesteps"),
    ("zero bandwidth", lambda c: c["system"]["dram"].update(bandwidth=0), "system.dram.bandwidth"),
    ("bad mode", lambda c: c["system"]["array"].update(mode="diagonal"), "system.array.mode"),
    ("bad mapper", lambda c: c["system"].update(mapper="fast"), "'fast' is not one of edp, energy, latency, monotone"),
    ("tws too large", lambda c: c["system"]["array"].update(tws=31), "exceeds T=30"),
    ("tws list length", lambda c: c["system"]["array"].update(tws=[1, 2]), "one size per layer"),
    ("top-level typo", lambda c: c.update(sytem={}), "did you mean system"),
    ("partial SRAM row", lambda c: c["system"]["glb"].update(size=1001), "whole number of 8-byte rows"),
]


@pytest.mark.parametrize("label, change, expected", BAD_CONFIGS, ids=[case[0] for case in BAD_CONFIGS])
def test_bad_config_is_one_line_exit_2(workspace, capsys, label, change, expected):
    folder, config = workspace
    change(config)
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--out", folder / "r", "--quiet")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert expected in err
    assert "Traceback" not in err
    assert not (folder / "r").exists()


def test_truncated_recording_is_one_line(workspace, capsys, repo_root):
    folder, config = workspace
    recordings = folder / "recordings"
    shutil.copytree(repo_root / "data" / "nmnist" / "test", recordings)
    data = (recordings / "60001.bs2").read_bytes()
    (recordings / "60001.bs2").write_bytes(data[:-3])
    config["workload"]["dataset"]["path"] = str(recordings)
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--quiet", "--out", folder / "r")
    assert code == 2
    assert "60001.bs2" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_weight_file_is_one_line(workspace, capsys, repo_root):
    folder, config = workspace
    model = yaml.safe_load((repo_root / "configs" / "models" / "nmnist_snn.yaml").read_text())
    model["weights"] = str(folder / "missing.npz")
    (folder / "model.yaml").write_text(yaml.safe_dump(model))
    config["workload"]["model"]["path"] = str(folder / "model.yaml")
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--quiet", "--out", folder / "r")
    assert code == 2
    assert "missing.npz" in err
    assert "weight file not found" in err


def test_user_component_from_module(workspace, capsys, monkeypatch):
    folder, config = workspace
    (folder / "my_arrays.py").write_text(
        "from spikex_sim.components.spikex_array import SpikeXArray\n"
        "class WideArray(SpikeXArray):\n"
        "    abstract = True\n"
        "    summary = 'a user subclass'\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    config["system"]["array"]["type"] = "my_arrays:WideArray"
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--quiet", "--out", folder / "r")
    assert code == 0, err
    resolved = yaml.safe_load((folder / "r" / "resolved_config.yaml").read_text())
    assert resolved["system"]["array"]["type"] == "my_arrays:WideArray"


def test_describe_prints_parameters(capsys):
    code, out, _ = run_cli(capsys, "describe", "SRAMBuffer")
    assert code == 0
    assert "size" in out
    assert "54000B" in out


def test_describe_unknown_type(capsys):
    code, _, err = run_cli(capsys, "describe", "SRAMBufer")
    assert code == 2
    assert "did you mean SRAMBuffer" in err


def test_list_components_names_builtins(capsys):
    code, out, _ = run_cli(capsys, "list-components")
    assert code == 0
    for name in ("DRAMChannel", "SRAMBuffer", "SpikeXArray", "EventBinning", "PoissonRate"):
        assert name in out


def test_installed_command_reports_bad_unit(workspace):
    folder, config = workspace
    config["system"]["glb"]["size"] = "54 parsec"
    path = write_config(folder, config)
    command = [sys.executable, "-m", "spikex_sim.cli", "run", str(path), "--quiet"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "parsec" in completed.stderr


def test_debug_after_subcommand(workspace, capsys):
    folder, config = workspace
    config["system"]["glb"]["size"] = "54 parsec"
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", "--debug", path, "--quiet", "--out", folder / "r")
    assert code == 2
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("spikex-sim: error:")


def test_image_encoder_on_events_is_one_line(workspace, capsys):
    folder, config = workspace
    config["workload"]["encoder"] = {"type": "PoissonRate"}
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--samples", 1, "--quiet", "--out", folder / "r")
    assert code == 2
    assert "takes images" in err
    assert len(err.strip().splitlines()) == 1


def test_label_beyond_outputs_is_one_line(workspace, capsys):
    folder, config = workspace
    labels = folder / "labels.txt"
    labels.write_text("#sample #class\n60001\t12\n")
    config["workload"]["dataset"]["labels"] = str(labels)
    path = write_config(folder, config)
    code, _, err = run_cli(capsys, "run", path, "--quiet", "--out", folder / "r")
    assert code == 2
    assert "label 12" in err
    assert "10 outputs" in err


def test_exponent_without_dot_is_a_number():
    from spikex_sim.safe_yaml import parse_yaml

    assert parse_yaml("rate: 5e-2", "t.yaml") == {"rate": 0.05}


def test_compare_keeps_existing_csv(tmp_path, capsys):
    existing = tmp_path / "table.csv"
    existing.write_text("keep")
    code, _, err = run_cli(capsys, "compare", tmp_path / "a", tmp_path / "b", "--csv", existing)
    assert code == 2
    assert "--overwrite" in err
    assert existing.read_text() == "keep"


def test_bad_set_value_names_the_override(workspace, capsys):
    folder, config = workspace
    path = write_config(folder, config)
    code = main(["run", str(path), "--quiet", "--set", "system.glb.size=54 parsec"])
    err = capsys.readouterr().err
    assert code == 2
    assert "with --set system.glb.size" in err


def test_bad_file_value_names_no_override(workspace, capsys):
    folder, config = workspace
    config["system"]["glb"]["size"] = "54 parsec"
    path = write_config(folder, config)
    code = main(["run", str(path), "--quiet", "--set", "system.lbuf.size=4KB"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--set" not in err
