"""Time our dense array model against SCALE-Sim v3.0.0 on the ResNet-18 CIFAR layers.

Usage, from the project venv (SCALE-Sim runs in its own venv, see docs/scalesim.md):

    python benchmarks/dense_vs_scalesim.py --scalesim-python /tmp/scalesim-venv/bin/python

Our side runs `spikex_sim.dataflow.dense.run_layer` (output spikes of one time step, the
cycle count and the traffic of the layer) on each ResNet-18 CIFAR layer of
benchmarks/scalesim_driver.py, on a 32x32 array, for each dataflow, and takes the median of
`--repeats` runs. Each dataflow runs with the drain setting whose cycles match SCALE-Sim's
(without drain for output stationary, with drain otherwise). The SCALE-Sim side runs the driver in a subprocess on the same layers and
array. The script checks that both sides give the cycle counts related by
spikex_sim.dataflow.scalesim_compat, then prints per-layer times and the speed ratio.

SCALE-Sim runs on one core, so our side runs with one OpenBLAS thread too, unless
OPENBLAS_NUM_THREADS is set. On a shared 2-core machine, two BLAS threads made our side 6 to
12 times slower.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import numpy as np  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import scalesim_driver  # noqa: E402
from spikex_sim.dataflow import dense  # noqa: E402
from spikex_sim.dataflow.scalesim_compat import SCALESIM_MATCHING_DRAIN, scalesim_compute_cycles  # noqa: E402
from spikex_sim.dataflow.schedule import BufferGeometry  # noqa: E402
from spikex_sim.workload.model import Layer, load_model  # noqa: E402

ARRAY_SIZE = 32
# Large enough that no layer spills, so the traffic branch taken is the same for all layers.
GEOMETRY = BufferGeometry(glb_spikes=10**7, glb_weights=10**7, glb_vmem=10**7, lbuf_spikes=10**6,
                          lbuf_weights=10**6, weight_bits=8, membrane_bits=16)


def build_layer(shape: scalesim_driver.LayerShape, folder: Path) -> Layer:
    """Load a one-layer model with random int8 weights for one layer shape."""
    is_fc = shape.kernel == 1 and shape.height == 1 and shape.width == 1
    if is_fc:
        layer_spec = {"name": shape.name, "kind": "fc", "out_features": shape.filters}
        weight_shape = (shape.filters, shape.channels)
    else:
        layer_spec = {"name": shape.name, "kind": "conv", "out_channels": shape.filters, "kernel": shape.kernel,
                      "stride": shape.stride, "padding": shape.padding}
        weight_shape = (shape.filters, shape.channels, shape.kernel, shape.kernel)
    spec = {"input_shape": [shape.channels, shape.height, shape.width], "weights": f"{shape.name}.npz",
            "layers": [layer_spec]}
    (folder / f"{shape.name}.yaml").write_text(yaml.safe_dump(spec))
    rng = np.random.default_rng(0)
    np.savez(folder / f"{shape.name}.npz", **{
        f"{shape.name}.weight": rng.integers(-8, 8, size=weight_shape, dtype=np.int8),
        f"{shape.name}.threshold": np.int32(64), f"{shape.name}.leak_q": np.int32(230)})
    return load_model(folder / f"{shape.name}.yaml", fire=">=", reset="zero", membrane_bits=16).layers[0]


def time_ours(layers: list[Layer], repeats: int) -> dict[tuple[str, str], tuple[float, int]]:
    """Return the median run_layer seconds and the cycles of each (layer, dataflow).

    Each dataflow runs with the drain setting whose cycles match SCALE-Sim's.
    """
    rng = np.random.default_rng(1)
    results = {}
    for layer in layers:
        spikes = (rng.random((1, *layer.in_shape)) < 0.2).astype(np.uint8)
        for dataflow in dense.DATAFLOWS:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                _, schedule = dense.run_layer(layer, spikes, ARRAY_SIZE, ARRAY_SIZE, dataflow,
                                              SCALESIM_MATCHING_DRAIN[dataflow], 1, GEOMETRY)
                times.append(time.perf_counter() - started)
            results[(layer.name, dataflow)] = (statistics.median(times), int(schedule.compute_cycles.sum()))
    return results


def time_closed_form(layers: list[Layer], repeats: int) -> float:
    """Return the median seconds of gemm_cycles over all layers and dataflows."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for layer in layers:
            positions, reductions, filters = dense.gemm_shape(layer)
            for dataflow in dense.DATAFLOWS:
                dense.gemm_cycles(dataflow, positions, reductions, filters, ARRAY_SIZE, ARRAY_SIZE,
                                  SCALESIM_MATCHING_DRAIN[dataflow])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_scalesim(python: str, output: Path) -> float:
    """Run the SCALE-Sim driver on the ResNet-18 set and return its wall time in seconds."""
    command = [python, str(ROOT / "benchmarks" / "scalesim_driver.py"), "--sets", "resnet18",
               "--arrays", str(ARRAY_SIZE), "--output", str(output)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"SCALE-Sim driver failed with exit code {completed.returncode}: {' '.join(command)}\n"
                         f"{completed.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON", ""),
                        help="Python of the venv with scalesim==3.0.0 and numpy<2 (default: $SCALESIM_PYTHON)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of our side (default 5)")
    args = parser.parse_args()
    if not args.scalesim_python:
        parser.error("--scalesim-python is missing; pass the SCALE-Sim venv's python or set SCALESIM_PYTHON")

    with tempfile.TemporaryDirectory(prefix="dense_vs_scalesim_") as temp:
        folder = Path(temp)
        layers = [build_layer(shape, folder) for shape in scalesim_driver.RESNET18]
        ours = time_ours(layers, args.repeats)
        closed_form = time_closed_form(layers, args.repeats)
        scalesim_wall = run_scalesim(args.scalesim_python, folder / "resnet18.csv")
        with (folder / "resnet18.csv").open(newline="") as handle:
            scalesim_rows = list(csv.DictReader(handle))

    mismatches = 0
    scalesim_seconds = 0.0
    ours_seconds = 0.0
    print(f"{'layer':<20} {'df':<3} {'SCALE-Sim cycles':>16} {'ours':>8} {'SCALE-Sim s':>11} {'ours ms':>8}")
    for row in scalesim_rows:
        key = (row["layer"], row["dataflow"])
        our_seconds, our_cycles = ours[key]
        positions, reductions, filters = int(row["P"]), int(row["K"]), int(row["M"])
        expected = scalesim_compute_cycles(row["dataflow"], positions, reductions, filters, ARRAY_SIZE, ARRAY_SIZE)
        if int(row["scalesim_compute_cycles"]) != expected or our_cycles != expected + 1:
            mismatches += 1
            print(f"MISMATCH {key}: SCALE-Sim {row['scalesim_compute_cycles']} and run_layer {our_cycles}, "
                  f"expected {expected} and {expected + 1}")
        scalesim_seconds += float(row["scalesim_seconds"])
        ours_seconds += our_seconds
        print(f"{row['layer']:<20} {row['dataflow']:<3} {int(row['scalesim_compute_cycles']):>16,} {our_cycles:>8,} "
              f"{float(row['scalesim_seconds']):>11.2f} {our_seconds * 1e3:>8.2f}")

    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"runs: {len(scalesim_rows)} (12 layers x 3 dataflows, {ARRAY_SIZE}x{ARRAY_SIZE} array), "
          f"runs where ours != SCALE-Sim + 1: {mismatches}")
    print(f"SCALE-Sim, sum of per-run times:      {scalesim_seconds:.1f} s")
    print(f"SCALE-Sim, driver subprocess wall:    {scalesim_wall:.1f} s")
    print(f"ours, dense.run_layer (median each):  {ours_seconds * 1e3:.1f} ms")
    print(f"ours, gemm_cycles only (median):      {closed_form * 1e6:.1f} us")
    print(f"speed ratio SCALE-Sim / run_layer:    {scalesim_seconds / ours_seconds:,.0f}x "
          f"({scalesim_wall / ours_seconds:,.0f}x by wall time)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
