"""Interrupted and failed runs leave no partial run folder and never damage an earlier run."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spikex_sim import traces
from spikex_sim.cli import main
from spikex_sim.errors import ConfigError

SIMULATION_STARTED = "samples, config hash"  # the INFO line that simulate logs before the first sample


@pytest.fixture
def workspace(tmp_path, repo_root):
    """The default config on the 1000 training recordings, and an earlier one-sample run in runs/earlier.

    A full run takes tens of seconds, so a signal sent soon after the simulation starts
    always arrives halfway.
    """
    config = yaml.safe_load((repo_root / "configs" / "spikex_nmnist.yaml").read_text())
    config["workload"]["model"]["path"] = str(repo_root / "configs" / "models" / "nmnist_snn.yaml")
    config["workload"]["dataset"]["path"] = str(repo_root / "data" / "nmnist" / "train")
    config["workload"]["dataset"]["labels"] = str(repo_root / "data" / "nmnist" / "train1K.txt")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    runs = tmp_path / "runs"
    assert main(["run", str(path), "--samples", "1", "--quiet", "--out", str(runs / "earlier")]) == 0
    return path, runs


def snapshot(folder: Path) -> dict[str, bytes]:
    return {file.name: file.read_bytes() for file in sorted(folder.iterdir())}


def spikex_sim_command() -> list[str]:
    script = shutil.which("spikex-sim", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "spikex_sim.cli"]


def interrupt_halfway(config: Path, out: Path, signal_number: int, *extra: str) -> tuple[int, list[str]]:
    """Start a full run, send the signal once the simulation runs, and return (exit code, stderr lines)."""
    command = [*spikex_sim_command(), "-v", "run", str(config), "--quiet", "--out", str(out), *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if SIMULATION_STARTED in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)  # a few samples into the run
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal_number)
    lines.extend(process.stderr.read().splitlines())
    return process.wait(timeout=60), lines


@pytest.mark.parametrize("signal_number, exit_code, message", [
    (signal.SIGTERM, 143, "spikex-sim: terminated by SIGTERM; no run folder was written"),
    (signal.SIGINT, 130, "spikex-sim: interrupted; no run folder was written"),
], ids=["SIGTERM", "SIGINT"])
def test_signal_halfway_leaves_no_run_folder(workspace, signal_number, exit_code, message):
    config, runs = workspace
    earlier = snapshot(runs / "earlier")
    code, lines = interrupt_halfway(config, runs / "new", signal_number)
    assert any(SIMULATION_STARTED in line for line in lines), lines
    assert code == exit_code, lines
    assert lines[-1] == message
    assert not any("Traceback" in line for line in lines)
    assert sorted(entry.name for entry in runs.iterdir()) == ["earlier"]  # no new folder, no hidden staging folder
    assert snapshot(runs / "earlier") == earlier


def test_sigterm_during_overwrite_keeps_earlier_run(workspace):
    config, runs = workspace
    earlier = snapshot(runs / "earlier")
    code, lines = interrupt_halfway(config, runs / "earlier", signal.SIGTERM, "--overwrite")
    assert code == 143, lines
    assert sorted(entry.name for entry in runs.iterdir()) == ["earlier"]
    assert snapshot(runs / "earlier") == earlier


class Interrupted(KeyboardInterrupt):
    pass


def fail_on_third_table(monkeypatch, error: BaseException) -> None:
    written = []
    to_parquet = pd.DataFrame.to_parquet

    def failing(self, path, *args, **kwargs):
        written.append(path)
        if len(written) == 3:
            raise error
        return to_parquet(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)


@pytest.mark.parametrize("error", [Interrupted(), OSError(28, "No space left on device")], ids=["interrupt", "disk"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["new", "overwrite"])
def test_failure_while_writing_leaves_no_partial_folder(workspace, monkeypatch, error, overwrite):
    config, runs = workspace
    earlier = snapshot(runs / "earlier")
    result = traces.load_run(runs / "earlier")
    result.resolved_config = result.config
    out = runs / "earlier" if overwrite else runs / "new"
    fail_on_third_table(monkeypatch, error)
    expected = KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else ConfigError
    with pytest.raises(expected):
        traces.write_run(result, out, overwrite=overwrite)
    assert sorted(entry.name for entry in runs.iterdir()) == ["earlier"]
    assert snapshot(runs / "earlier") == earlier


def test_overwrite_replaces_only_run_folders(workspace, capsys):
    config, runs = workspace
    unrelated = runs / "notes"
    unrelated.mkdir()
    (unrelated / "keep.txt").write_text("mine")
    code = main(["run", str(config), "--samples", "1", "--quiet", "--out", str(unrelated), "--overwrite"])
    err = capsys.readouterr().err
    assert code == 2
    assert "is not a run folder" in err
    assert (unrelated / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_an_earlier_run(workspace, capsys):
    config, runs = workspace
    code = main(["run", str(config), "--samples", "2", "--quiet", "--out", str(runs / "earlier"), "--overwrite"])
    assert code == 0, capsys.readouterr().err
    assert len(traces.load_run(runs / "earlier").samples) == 2
    assert sorted(entry.name for entry in runs.iterdir()) == ["earlier"]


def test_existing_out_fails_before_simulating(workspace, capsys, monkeypatch):
    config, runs = workspace

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulate ran although the run folder exists")

    monkeypatch.setattr("spikex_sim.runner.simulate", no_simulation)
    code = main(["run", str(config), "--quiet", "--out", str(runs / "earlier")])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["../../escape", "/etc/passwd", "..", ".hidden", "a/b\\c", "x" * 500, "名前", ""])
def test_default_folder_name_stays_inside_traces(name):
    from spikex_sim.cli import _safe_name

    folder = _safe_name(name)
    assert folder
    assert "/" not in folder
    assert "\\" not in folder
    assert folder not in (".", "..")
    assert not folder.startswith(".")
    assert len(folder) <= 64
    assert os.path.normpath(os.path.join("traces", folder)).startswith("traces" + os.sep)
