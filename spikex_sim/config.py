"""Loading run configurations: safe YAML, overrides by dotted path, validation, hashing.

A config file has the top-level keys `name`, `seed`, `description`, `system`, `workload` and
`energy`. The last three are component trees (see `spikex_sim.component`). Loading fills
every default and checks every key and value, so a run never fails mid-way on a config
mistake. The resolved configuration, written into each run folder, can be loaded again.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from spikex_sim.component import build_component, load_builtin_components
from spikex_sim.energy import EnergyModel
from spikex_sim.errors import ConfigError
from spikex_sim.safe_yaml import parse_yaml, read_text
from spikex_sim.system import System, Workload

TOP_LEVEL_KEYS = ("name", "description", "seed", "system", "workload", "energy")


def read_config_file(path: str | Path) -> dict:
    """Read a config file into a mapping."""
    path = Path(path)
    data = parse_yaml(read_text(path, "config file"), str(path))
    if not isinstance(data, dict):
        raise ConfigError("a config file must be a mapping with 'system' and 'workload'", source=str(path))
    return data


def apply_override(data: dict, assignment: str, source: str) -> None:
    """Apply one `--set key.path=value` to the raw config; the value is parsed as YAML."""
    key_path, separator, value_text = assignment.partition("=")
    if not separator or not key_path.strip():
        raise ConfigError(f"--set expects KEY=VALUE, got {assignment!r}", source="command line")
    keys = key_path.strip().split(".")
    value = parse_yaml(value_text, f"--set {key_path}") if value_text.strip() else ""
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key) if isinstance(node, dict) else None
        if child is None:
            child = {}
            node[key] = child
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {key_path}: {'.'.join(keys[:depth + 1])} is not a mapping",
                              source="command line")
        node = child
    node[keys[-1]] = value


@dataclass
class RunConfig:
    """A validated run configuration and the component trees built from it."""

    name: str
    description: str
    seed: int
    system: System
    workload: Workload
    energy: EnergyModel
    source: Path
    base_dir: Path

    def resolved(self) -> dict:
        """Return the configuration with every default filled, as plain YAML data."""
        return {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "system": self.system.resolved(),
            "workload": self.workload.resolved(),
            "energy": self.energy.resolved(),
        }

    def config_hash(self, extra: dict | None = None) -> str:
        """Return the sha256 of the resolved config plus `extra` (for example input file digests)."""
        payload = {"config": self.resolved(), "extra": extra or {}}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _override_origin(key: str | None, overridden: list[str]) -> str | None:
    """Return the `--set` path that an error at `key` concerns, or None if the file's own value is wrong."""
    if not key:
        return None
    related = [path for path in overridden if key == path or key.startswith(path + ".") or path.startswith(key + ".")]
    return max(related, key=len) if related else None


def load_config(path: str | Path, overrides: list[str] | None = None, seed: int | None = None) -> RunConfig:
    """Load, override and validate a config file."""
    path = Path(path)
    source = str(path)
    data = copy.deepcopy(read_config_file(path))
    for assignment in overrides or []:
        apply_override(data, assignment, source)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            near = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=3)
            hint = f"did you mean {', '.join(near)}?" if near else f"valid keys: {', '.join(TOP_LEVEL_KEYS)}"
            raise ConfigError(f"unknown top-level key {key!r}; {hint}", source=source, key=str(key))
    load_builtin_components()
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name must be a non-empty string, got {name!r}", source=source, key="name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("description must be a string", source=source, key="description")
    run_seed = data.get("seed", 0) if seed is None else seed
    if isinstance(run_seed, bool) or not isinstance(run_seed, int) or run_seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {run_seed!r}", source=source, key="seed")
    try:
        system = build_component(data.get("system", {}), base=System, path="system", source=source,
                                 default_type="System")
        workload = build_component(data.get("workload", {}), base=Workload, path="workload", source=source,
                                   default_type="Workload")
        energy = build_component(data.get("energy", {}), base=EnergyModel, path="energy", source=source,
                                 default_type="EnergyTable")
    except ConfigError as error:
        origin = _override_origin(error.key, [item.partition("=")[0].strip() for item in overrides or []])
        if origin is None:
            raise
        raise ConfigError(error.detail, source=f"{source} with --set {origin}", key=error.key) from None
    system.wire()
    return RunConfig(name, description, run_seed, system, workload, energy, path.resolve(), path.resolve().parent)
