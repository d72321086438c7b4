"""Terminal summary of a run: per layer and in total, from the trace tables alone."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_summary(console: Console, result, out_dir: Path) -> None:
    """Print per-layer means per sample, totals, and where the traces were written."""
    tables = result.tables
    layers = tables["layers"]
    energy = tables["energy"]
    summary = tables["summary"].iloc[0]
    samples = int(summary["samples"])
    clock_hz = float(summary["clock_hz"])

    per_layer = layers.groupby(["layer_index", "layer"], sort=True).mean(numeric_only=True).reset_index()
    energy_by_level = energy.pivot_table(index="layer", columns="component", values="energy_pj", aggfunc="sum") / samples

    table = Table(title=f"{result.manifest['config_name']}: mean per sample over {samples} samples")
    for column in ("layer", "mode", "latency cycles", "latency µs", "energy pJ", "DRAM pJ", "GLB pJ", "LBUF pJ",
                   "arith pJ", "PE util", "DRAM B", "GLB B", "LBUF B", "active NTWU"):
        table.add_column(column, justify="right")
    for _, row in per_layer.iterrows():
        name = row["layer"]
        levels = energy_by_level.loc[name]
        mode = layers[layers["layer"] == name]["mode"].mode().iloc[0]
        table.add_row(
            name, mode, f"{row['latency_cycles']:,.0f}", f"{row['latency_cycles'] / clock_hz * 1e6:,.2f}",
            f"{row['energy_pj']:,.0f}", f"{levels.get('dram', 0):,.0f}", f"{levels.get('glb', 0):,.0f}",
            f"{levels.get('lbuf', 0):,.0f}", f"{levels.get('array', 0):,.0f}", f"{row['pe_utilization']:.1%}",
            f"{row['dram_bytes']:,.0f}", f"{row['glb_bytes']:,.0f}", f"{row['lbuf_bytes']:,.0f}",
            f"{row['active_ntwu_fraction']:.1%}",
        )
    totals = per_layer.sum(numeric_only=True)
    level_totals = energy_by_level.sum()
    mapped = (layers["pe_utilization"] * layers["latency_cycles"]).sum() / max(layers["latency_cycles"].sum(), 1)
    active = layers["ntwu_active"].sum() / max(layers["ntwu_total"].sum(), 1)
    table.add_row(
        "[bold]total", "", f"{totals['latency_cycles']:,.0f}", f"{summary['latency_s'] * 1e6:,.2f}",
        f"{summary['energy_pj']:,.0f}", f"{level_totals.get('dram', 0):,.0f}", f"{level_totals.get('glb', 0):,.0f}",
        f"{level_totals.get('lbuf', 0):,.0f}", f"{level_totals.get('array', 0):,.0f}", f"{mapped:.1%}",
        f"{totals['dram_bytes']:,.0f}", f"{totals['glb_bytes']:,.0f}", f"{totals['lbuf_bytes']:,.0f}", f"{active:.1%}",
    )
    console.print(table)
    console.print(
        f"accuracy {summary['accuracy']:.1%}   EDP {summary['edp_js']:.4g} J·s per sample   "
        f"events {result.manifest['events_per_sample']:,.0f} per sample   wall {result.manifest['wall_seconds']:.2f} s"
    )
    console.print(f"traces written to {out_dir}")
