"""Dense array cycle counts against SCALE-Sim v3.0.0 golden numbers.

tests/golden/scalesim_cycles.csv is written by benchmarks/scalesim_driver.py. The tests on
it need no SCALE-Sim. docs/scalesim.md derives the relations they check.
"""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from spikex_sim.dataflow import dense
from spikex_sim.dataflow.scalesim_compat import (
    SCALESIM_MATCHING_DRAIN,
    scalesim_input_size,
    scalesim_output_size,
    scalesim_compute_cycles,
)
from spikex_sim.workload.model import conv_output_size
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import scalesim_driver  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "scalesim_cycles.csv"
INTEGER_COLUMNS = ("H", "W", "E", "stride", "padding", "C", "M", "P", "K", "scalesim_H", "scalesim_W", "array_rows",
                   "array_cols", "folds", "scalesim_compute_cycles", "scalesim_stall_cycles", "scalesim_total_cycles",
                   "ours_compute_cycles", "ours_drain_cycles")


def load_golden() -> list[dict]:
    with GOLDEN.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for column in INTEGER_COLUMNS:
            row[column] = int(row[column])
    return rows


GOLDEN_ROWS = load_golden()


def row_id(row: dict) -> str:
    return f"{row['network']}-{row['layer']}-{row['array_rows']}x{row['array_cols']}-{row['dataflow']}"


def test_golden_covers_every_set():
    combinations = {(row["network"], row["array_rows"], row["dataflow"]) for row in GOLDEN_ROWS}
    for network in ("nmnist", "dvs_medium", "dvs_large"):
        for size in (8, 16, 32):
            for dataflow in dense.DATAFLOWS:
                assert (network, size, dataflow) in combinations, f"no golden row for {network} {size}x{size} {dataflow}"
    for dataflow in dense.DATAFLOWS:
        assert ("resnet18_cifar", 32, dataflow) in combinations, f"no golden row for resnet18_cifar 32x32 {dataflow}"


@pytest.mark.parametrize("network", sorted(scalesim_driver.MODEL_FILES))
def test_golden_shapes_match_model_files(network):
    path = scalesim_driver.MODEL_FILES[network]
    expected = [(shape.name, shape.height, shape.width, shape.kernel, shape.stride, shape.padding, shape.channels,
                 shape.filters) for shape in scalesim_driver.model_file_layers(network, path)]
    for size in (8, 16, 32):
        for dataflow in dense.DATAFLOWS:
            golden = [(row["layer"], row["H"], row["W"], row["E"], row["stride"], row["padding"], row["C"], row["M"])
                      for row in GOLDEN_ROWS
                      if row["network"] == network and row["array_rows"] == size and row["dataflow"] == dataflow]
            assert golden == expected, (f"{network} {size}x{size} {dataflow}: golden layers differ from {path.name}; "
                                        "rerun benchmarks/scalesim_driver.py")


def test_scalesim_output_size_rounds_up():
    # 34 wide, 3x3 kernel, stride 2: SCALE-Sim gives 17 where we give floor(31 / 2) + 1 = 16.
    assert scalesim_output_size(34, 3, 2) == 17
    assert conv_output_size(34, 3, 2, 0) == 16
    assert scalesim_input_size(16, 3, 2) == 33
    assert scalesim_output_size(33, 3, 2) == 16


@pytest.mark.parametrize("row", GOLDEN_ROWS, ids=row_id)
def test_golden_row(row):
    where = row_id(row)
    rows, cols, dataflow = row["array_rows"], row["array_cols"], row["dataflow"]
    positions, reductions, filters = row["P"], row["K"], row["M"]

    # The GEMM shape in the row is that of our layer, and SCALE-Sim's input gives the same shape.
    out_h = conv_output_size(row["H"], row["E"], row["stride"], row["padding"])
    out_w = conv_output_size(row["W"], row["E"], row["stride"], row["padding"])
    assert positions == out_h * out_w, f"{where}: P = {positions}, but our output is {out_h}x{out_w}"
    assert reductions == row["C"] * row["E"] ** 2, f"{where}: K = {reductions}, expected C * E * E"
    scalesim_h = scalesim_output_size(row["scalesim_H"], row["E"], row["stride"])
    scalesim_w = scalesim_output_size(row["scalesim_W"], row["E"], row["stride"])
    assert scalesim_h * scalesim_w == positions, (
        f"{where}: SCALE-Sim input {row['scalesim_H']}x{row['scalesim_W']} gives {scalesim_h}x{scalesim_w} "
        f"outputs, not P = {positions}")

    # Our numbers in the file are those of the current dense model.
    row_folds, col_folds, _, _, _ = dense.fold_counts(dataflow, positions, reductions, filters, rows, cols)
    assert row["folds"] == row_folds * col_folds, f"{where}: folds {row['folds']} != {row_folds} x {col_folds}"
    ours_compute = dense.gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain=False)
    ours_drain = dense.gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain=True)
    assert row["ours_compute_cycles"] == ours_compute, (
        f"{where}: golden file has {row['ours_compute_cycles']} cycles without drain, dense.py now gives "
        f"{ours_compute}; rerun benchmarks/scalesim_driver.py")
    assert row["ours_drain_cycles"] == ours_drain, (
        f"{where}: golden file has {row['ours_drain_cycles']} cycles with drain, dense.py now gives {ours_drain}; "
        "rerun benchmarks/scalesim_driver.py")

    # SCALE-Sim ran without stalls, so its "Total Cycles" are array cycles only.
    assert row["scalesim_stall_cycles"] == 0, f"{where}: SCALE-Sim reported {row['scalesim_stall_cycles']} stalls"
    assert row["scalesim_total_cycles"] >= row["scalesim_compute_cycles"], (
        f"{where}: cycles with prefetch {row['scalesim_total_cycles']} < compute {row['scalesim_compute_cycles']}")

    # The closed-form relation: SCALE-Sim = ours with the matching drain flag, minus 1.
    matching = ours_drain if SCALESIM_MATCHING_DRAIN[dataflow] else ours_compute
    other = ours_compute if SCALESIM_MATCHING_DRAIN[dataflow] else ours_drain
    assert row["scalesim_compute_cycles"] == matching - 1, (
        f"{where}: SCALE-Sim {row['scalesim_compute_cycles']} != ours {matching} - 1 "
        f"(drain={SCALESIM_MATCHING_DRAIN[dataflow]})")
    assert row["scalesim_compute_cycles"] == scalesim_compute_cycles(dataflow, positions, reductions, filters, rows,
                                                                   cols), f"{where}: scalesim_compute_cycles disagrees"
    assert abs(other - matching) == row["folds"] * rows, (
        f"{where}: the other drain setting differs by {abs(other - matching)}, not folds x rows = "
        f"{row['folds'] * rows}")


LIVE_LAYERS = ("conv1", "fc")


def test_live_scalesim_nmnist_8x8(tmp_path):
    pytest.importorskip("scalesim")
    if int(np.__version__.split(".")[0]) >= 2:
        pytest.skip("SCALE-Sim 3.0.0 fails under NumPy 2; run this test in a venv with numpy<2")
    output = tmp_path / "live.csv"
    scalesim_driver.main(["--sets", "nmnist", "--arrays", "8", "--layers", ",".join(LIVE_LAYERS),
                          "--output", str(output)])
    with output.open(newline="") as handle:
        live = {(row["layer"], row["dataflow"]): int(row["scalesim_compute_cycles"]) for row in csv.DictReader(handle)}
    golden = {(row["layer"], row["dataflow"]): row["scalesim_compute_cycles"] for row in GOLDEN_ROWS
              if row["network"] == "nmnist" and row["array_rows"] == 8 and row["layer"] in LIVE_LAYERS}
    assert len(live) == 2 * len(dense.DATAFLOWS), f"live run wrote {sorted(live)}"
    for key, cycles in golden.items():
        assert live[key] == cycles, f"nmnist {key} 8x8: live SCALE-Sim {live[key]} != golden {cycles}"
