"""Run folders: Parquet trace tables, the resolved config and a manifest, written atomically.

A run is written into a hidden temporary folder next to its destination and renamed into
place only when every file is complete, so an interrupted run leaves no partial folder.
`load_run` reads a run folder back as pandas DataFrames (schema in docs/traces.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from spikex_sim.errors import ConfigError
from spikex_sim.safe_yaml import parse_yaml, read_text

TABLES = ("summary", "layers", "samples", "utilization", "memory", "energy")


class Run:
    """A finished run loaded from its folder: one DataFrame attribute per trace table."""

    def __init__(self, path: Path, tables: dict[str, pd.DataFrame], manifest: dict, config: dict):
        self.path = path
        self.manifest = manifest
        self.config = config
        self.tables = tables
        for name, frame in tables.items():
            setattr(self, name, frame)

    def __getattr__(self, name: str):
        # Called only for attributes not set in __init__, so here for a table the folder lacks.
        if name in TABLES:
            raise ConfigError(f"incomplete run folder: {name}.parquet is missing; run it again", source=str(self.path))
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, tables={list(self.tables)})"


def check_run_folder(out_dir: Path, *, overwrite: bool) -> None:
    """Raise `ConfigError` unless `out_dir` may be written: absent, or a run folder and `overwrite`."""
    out_dir = Path(out_dir)
    if "\x00" in str(out_dir):
        raise ConfigError("a run folder path cannot contain a NUL character; choose another --out",
                          source=repr(str(out_dir)))
    if out_dir.name in ("", ".", ".."):
        raise ConfigError("is not a folder name a run can be written to; choose another --out", source=str(out_dir))
    if not out_dir.exists() and not out_dir.is_symlink():
        _check_parent_writable(out_dir)
        return
    if not out_dir.is_dir():
        raise ConfigError("exists and is a file, not a run folder; choose another --out", source=str(out_dir))
    if not overwrite:
        raise ConfigError("run folder already exists; pass --overwrite or choose another --out", source=str(out_dir))
    if not (out_dir.is_dir() and not out_dir.is_symlink() and (out_dir / "manifest.json").is_file()):
        # --overwrite replaces earlier runs only, never an unrelated file or folder.
        raise ConfigError("exists and is not a run folder (no manifest.json), so --overwrite does not replace it; "
                          "remove it yourself or choose another --out", source=str(out_dir))


def _check_parent_writable(out_dir: Path) -> None:
    """Raise `ConfigError` now, before a long run, if the run folder could not be created."""
    parent = out_dir.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot create the run folder: {existing} is a file, not a folder; choose another --out",
                          source=str(out_dir))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create the run folder: {existing} is not writable; choose another --out",
                          source=str(out_dir))


class _PlainDumper(yaml.SafeDumper):
    """A YAML dumper that writes repeated values out in full instead of as anchors and aliases."""

    def ignore_aliases(self, data):
        return True


def write_run(result, out_dir: Path, *, overwrite: bool = False) -> Path:
    """Write a `RunResult` into `out_dir` atomically; replace an earlier run folder only with `overwrite`.

    The files are written into a hidden staging folder next to `out_dir`, which is renamed
    into place when complete, so an exception leaves no partial folder. With `overwrite`,
    the earlier run moves aside, the new one takes its place, and the earlier one is deleted
    only after that; if the second rename fails, the earlier run is moved back.
    """
    out_dir = Path(out_dir)
    check_run_folder(out_dir, overwrite=overwrite)
    staging = None
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a run folder is as readable as any other
        for name, frame in result.tables.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "resolved_config.yaml").write_text(
            yaml.dump(result.resolved_config, Dumper=_PlainDumper, sort_keys=False), encoding="utf-8")
        (staging / "manifest.json").write_text(json.dumps(result.manifest, indent=2, sort_keys=True), encoding="utf-8")
        if out_dir.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, backup / out_dir.name)
            try:
                os.replace(staging, out_dir)
            except BaseException:
                os.replace(backup / out_dir.name, out_dir)
                shutil.rmtree(backup, ignore_errors=True)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except OSError as error:
        raise ConfigError(f"cannot write the run folder ({error.strerror or error}); check free space and "
                          "permissions, or choose another --out", source=str(out_dir)) from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def load_run(path: str | os.PathLike) -> Run:
    """Load a run folder written by `spikex-sim run` as DataFrames.

    Raises `ConfigError` naming the file if the manifest, the resolved config or a table
    cannot be read; a missing table raises `ConfigError` when it is used.
    """
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise ConfigError("not a run folder (no manifest.json)", source=str(path))
    try:
        manifest = json.loads(read_text(manifest_path, "run manifest"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"invalid JSON ({error}); the run folder is damaged, run it again",
                          source=str(manifest_path)) from None
    config = parse_yaml(read_text(path / "resolved_config.yaml", "resolved config"), str(path / "resolved_config.yaml"))
    tables = {}
    for name in TABLES:
        file = path / f"{name}.parquet"
        if not file.is_file():
            continue  # a missing table raises ConfigError when it is used (Run.__getattr__)
        try:
            tables[name] = pd.read_parquet(file)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid derives from ValueError
            raise ConfigError(f"cannot read the table ({' '.join(str(error).split())}); the run folder is "
                              "damaged, run it again", source=str(file)) from None
    return Run(path, tables, manifest, config)
