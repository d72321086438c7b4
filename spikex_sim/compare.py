"""Comparing runs: per layer and in total, how many times better each run is than the first.

A ratio is `first run's value / this run's value`, so 2.0 means half the latency (or
energy, EDP, bytes) of the first run, the way accelerator papers report "2x better than
the baseline". Values are means per sample. A layer's EDP is its energy (J) times its
latency (s).
"""

from __future__ import annotations

import os

import pandas as pd

from spikex_sim.errors import ConfigError
from spikex_sim.traces import Run, load_run

METRICS = ("latency_cycles", "energy_pj", "edp_js", "dram_bytes", "glb_bytes", "lbuf_bytes")


def _per_layer(run: Run) -> pd.DataFrame:
    clock_hz = float(run.summary["clock_hz"].iloc[0])
    layers = run.layers.groupby(["layer_index", "layer"], sort=True)[
        ["latency_cycles", "energy_pj", "dram_bytes", "glb_bytes", "lbuf_bytes"]].mean().reset_index()
    layers["edp_js"] = layers["energy_pj"] * 1e-12 * layers["latency_cycles"] / clock_hz
    total = {"layer_index": len(layers), "layer": "total",
             "latency_cycles": float(run.summary["latency_cycles"].iloc[0]),
             "energy_pj": float(run.summary["energy_pj"].iloc[0]),
             "edp_js": float(run.summary["edp_js"].iloc[0])}
    for column in ("dram_bytes", "glb_bytes", "lbuf_bytes"):
        total[column] = float(layers[column].sum())
    return pd.concat([layers, pd.DataFrame([total])], ignore_index=True)


def compare_runs(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Return one row per run and layer (plus 'total'): values and ratios against the first run."""
    if len(paths) < 2:
        raise ConfigError("compare needs at least two run folders", source="command line")
    runs = [load_run(path) for path in paths]
    baseline = _per_layer(runs[0])
    frames = []
    for path, run in zip(paths, runs):
        values = _per_layer(run)
        if list(values["layer"]) != list(baseline["layer"]):
            raise ConfigError(
                f"layers {list(values['layer'])} differ from the first run's {list(baseline['layer'])}; "
                "compare runs of the same model", source=str(path))
        frame = values.copy()
        frame.insert(0, "run", str(path))
        frame.insert(1, "config_name", run.manifest.get("config_name", ""))
        for metric in METRICS:
            denominator = values[metric].where(values[metric] != 0)
            frame[f"{metric}_ratio"] = baseline[metric] / denominator
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
