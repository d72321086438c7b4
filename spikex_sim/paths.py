"""Resolving the file paths that configs, model files and tables refer to.

A relative path is read relative to the file that names it and must stay inside that
file's project: the nearest folder above it that contains a `pyproject.toml` or `.git`, or
else the file's own folder. A config can thus not reach into unrelated folders by a chain
of `../`; an absolute path is the way to read a file elsewhere on purpose.
"""

from __future__ import annotations

from pathlib import Path

from spikex_sim.errors import ConfigError

PROJECT_MARKERS = ("pyproject.toml", ".git")


def project_root(folder: Path) -> Path:
    """Return the nearest folder at or above `folder` that contains a project marker, else `folder`."""
    folder = Path(folder).resolve()
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def resolve_reference(base_dir: Path, reference: str, key: str, source: str | None = None) -> Path:
    """Return the path `reference` names, relative to `base_dir`; reject one that leaves the project."""
    if "\x00" in str(reference):
        raise ConfigError("a path cannot contain a NUL character", source=source, key=key)
    path = Path(reference)
    if path.is_absolute():
        return path.resolve()
    resolved = (Path(base_dir) / path).resolve()
    root = project_root(Path(base_dir))
    if resolved != root and root not in resolved.parents:
        raise ConfigError(
            f"relative path {reference!r} leaves the project folder {root}; move the file inside it or give an "
            "absolute path to read it on purpose",
            source=source, key=key,
        )
    return resolved
