"""Terminal summary of a run: per layer and in total, from the trace tables alone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spikex_sim.units import format_bandwidth


def _nanojoules(*values_pj) -> list[str]:
    return [f"{value / 1000:,.1f}" for value in values_pj]


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

    timing = Table(title=f"{result.manifest['config_name']}: time and energy, mean per sample ({samples} samples)")
    for column in ("layer", "mode", "cycles", "µs", "energy nJ", "DRAM nJ", "GLB nJ", "LBUF nJ", "arith nJ"):
        timing.add_column(column, justify="right")
    traffic = Table(title="traffic and activity, mean per sample")
    for column in ("layer", "PE util", "DRAM bytes", "GLB bytes", "LBUF bytes", "active NTWU", "out firing"):
        traffic.add_column(column, justify="right")
    for _, row in per_layer.iterrows():
        name = row["layer"]
        levels = energy_by_level.loc[name]
        mode = layers[layers["layer"] == name]["mode"].mode().iloc[0]
        timing.add_row(
            name, mode, f"{row['latency_cycles']:,.0f}", f"{row['latency_cycles'] / clock_hz * 1e6:,.2f}",
            *_nanojoules(row["energy_pj"], levels.get("dram", 0), levels.get("glb", 0), levels.get("lbuf", 0),
                         levels.get("array", 0)),
        )
        traffic.add_row(
            name, f"{row['pe_utilization']:.1%}", f"{row['dram_bytes']:,.0f}", f"{row['glb_bytes']:,.0f}",
            f"{row['lbuf_bytes']:,.0f}", f"{row['active_ntwu_fraction']:.1%}", f"{row['output_firing_rate']:.2%}",
        )
    totals = per_layer.sum(numeric_only=True)
    level_totals = energy_by_level.sum()
    mapped = (layers["pe_utilization"] * layers["latency_cycles"]).sum() / max(layers["latency_cycles"].sum(), 1)
    active = layers["ntwu_active"].sum() / max(layers["ntwu_total"].sum(), 1)
    timing.add_row(
        "[bold]total", "", f"{totals['latency_cycles']:,.0f}", f"{summary['latency_s'] * 1e6:,.2f}",
        *_nanojoules(summary["energy_pj"], level_totals.get("dram", 0), level_totals.get("glb", 0),
                     level_totals.get("lbuf", 0), level_totals.get("array", 0)),
    )
    traffic.add_row(
        "[bold]total", f"{mapped:.1%}", f"{totals['dram_bytes']:,.0f}", f"{totals['glb_bytes']:,.0f}",
        f"{totals['lbuf_bytes']:,.0f}", f"{active:.1%}", "",
    )
    console.print(timing)
    console.print(traffic)
    console.print(
        f"accuracy {summary['accuracy']:.1%}   EDP {summary['edp_js']:.4g} J·s per sample   "
        f"events {result.manifest['events_per_sample']:,.0f} per sample   wall {result.manifest['wall_seconds']:.2f} s"
    )
    total_cycles = int(summary["total_latency_cycles"])
    bus_bytes = int(layers["dram_bus_bytes"].sum())
    seconds = Fraction(total_cycles, int(summary["clock_hz"]))
    console.print(f"DRAM bandwidth {format_bandwidth(bus_bytes, seconds)} averaged over the run "
                  f"({bus_bytes:,} bytes on the bus in {total_cycles:,} cycles)")
    console.print(f"traces written to {out_dir}")
