"""Run SCALE-Sim v3.0.0 on our dense workloads and write golden cycle counts next to ours.

Usage (with the Python of a separate venv that has SCALE-Sim, see docs/scalesim.md):

    python -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install "scalesim==3.0.0" "numpy<2" pyyaml
    /tmp/scalesim-venv/bin/python benchmarks/scalesim_driver.py

For each layer, array size and dataflow, the script writes a one-layer SCALE-Sim topology,
a config and a layout file into a temporary folder and runs SCALE-Sim in this process. It
then reads SCALE-Sim's COMPUTE_REPORT.csv and writes one CSV row with SCALE-Sim's cycles
beside `spikex_sim.dataflow.dense.gemm_cycles` with and without drain. It imports
spikex_sim from this checkout (no torch), so the venv needs pyyaml besides SCALE-Sim.

SCALE-Sim has no padding and sizes its outputs as ceil((H - E + S) / S), so every conv is
given the input size whose SCALE-Sim output equals our output (see
spikex_sim.dataflow.scalesim_compat.scalesim_input_size): both sides then run the same GEMM
(P positions, K = C * E * E reductions, M filters). A fc layer is a 1x1 conv on a 1x1 input
with C = its input features.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spikex_sim.dataflow.dense import DATAFLOWS, fold_counts, gemm_cycles  # noqa: E402
from spikex_sim.dataflow.scalesim_compat import scalesim_input_size, scalesim_output_size  # noqa: E402
from spikex_sim.workload.model import conv_output_size  # noqa: E402

LOG = logging.getLogger("scalesim_driver")

DEFAULT_OUTPUT = ROOT / "tests" / "golden" / "scalesim_cycles.csv"

# SRAM sizes in KiB. They only need to be large enough for the run to have no stall cycles,
# because the array cycle counts do not depend on them. They do change the DRAM prefetch
# time in the report's "Total Cycles (incl. prefetch)".
SRAM_KB = {"ifmap": 6144, "filter": 6144, "ofmap": 2048}

CONFIG_TEMPLATE = """\
[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {ifmap_kb}
FilterSramSzkB = {filter_kb}
OfmapSramSzkB = {ofmap_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
Bandwidth = 10
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""

# SCALE-Sim drops the last comma-separated field of every row, so each row ends with a comma.
TOPOLOGY_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
# SCALE-Sim 3.0.0 opens a layout file even when custom layouts are off. A header alone is enough.
LAYOUT_HEADER = "Layer name,\n"

COLUMNS = [
    "network", "layer", "H", "W", "E", "stride", "padding", "C", "M", "P", "K", "scalesim_H", "scalesim_W",
    "array_rows", "array_cols", "dataflow", "folds", "scalesim_compute_cycles", "scalesim_stall_cycles",
    "scalesim_total_cycles", "scalesim_seconds", "ours_compute_cycles", "ours_drain_cycles",
]


@dataclass(frozen=True)
class LayerShape:
    """A conv or fc layer of a network. A fc layer has H = W = E = 1 and C input features."""

    network: str
    name: str
    height: int
    width: int
    kernel: int
    stride: int
    padding: int
    channels: int
    filters: int

    @property
    def out_size(self) -> tuple[int, int]:
        return (conv_output_size(self.height, self.kernel, self.stride, self.padding),
                conv_output_size(self.width, self.kernel, self.stride, self.padding))

    def gemm(self) -> tuple[int, int, int]:
        """Return (P output positions, K reductions, M filters) of one time step."""
        out_h, out_w = self.out_size
        return out_h * out_w, self.channels * self.kernel * self.kernel, self.filters

    def scalesim_input(self) -> tuple[int, int]:
        """Return the unpadded input size that gives SCALE-Sim our output size."""
        out_h, out_w = self.out_size
        return (scalesim_input_size(out_h, self.kernel, self.stride),
                scalesim_input_size(out_w, self.kernel, self.stride))


def conv(network, name, size, kernel, stride, padding, channels, filters) -> LayerShape:
    return LayerShape(network, name, size, size, kernel, stride, padding, channels, filters)


def fc(network, name, in_features, out_features) -> LayerShape:
    return LayerShape(network, name, 1, 1, 1, 1, 0, in_features, out_features)


# The SNN layer sets come from the model zoo, whose files give the strides and paddings
# that make every size of the network descriptions hold.
MODEL_FILES = {
    "nmnist": ROOT / "configs" / "models" / "nmnist_snn.yaml",
    "dvs_medium": ROOT / "configs" / "models" / "dvsgesture_medium.yaml",
    "dvs_large": ROOT / "configs" / "models" / "dvsgesture_large.yaml",
}


def model_file_layers(network: str, path: Path) -> list[LayerShape]:
    """Read the layer shapes of a model file without loading its weights."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    channels, height, width = spec["input_shape"]
    shapes = []
    for layer in spec["layers"]:
        if layer["kind"] == "fc":
            shape = fc(network, layer["name"], channels * height * width, layer["out_features"])
            channels, height, width = layer["out_features"], 1, 1
        else:
            stride = layer.get("stride", 1)
            if not isinstance(stride, int):
                raise ValueError(f"{path}: layer {layer['name']} has stride {stride}, but a SCALE-Sim topology "
                                 "row takes one stride for both axes")
            shape = LayerShape(network, layer["name"], height, width, layer["kernel"], stride,
                               layer.get("padding", 0), channels, layer["out_channels"])
            channels = layer["out_channels"]
            height, width = shape.out_size
        shapes.append(shape)
    return shapes


# ResNet-18 for CIFAR (3x3 stem, no max pooling). Each distinct shape is listed once: the
# network has conv1 once, layerN_conv three times for N = 2..4 (four times for N = 1), and
# each stride-2 first conv and 1x1 downsample once.
RESNET18 = [
    conv("resnet18_cifar", "conv1", 32, 3, 1, 1, 3, 64),
    conv("resnet18_cifar", "layer1_conv", 32, 3, 1, 1, 64, 64),
    conv("resnet18_cifar", "layer2_conv_s2", 32, 3, 2, 1, 64, 128),
    conv("resnet18_cifar", "layer2_downsample", 32, 1, 2, 0, 64, 128),
    conv("resnet18_cifar", "layer2_conv", 16, 3, 1, 1, 128, 128),
    conv("resnet18_cifar", "layer3_conv_s2", 16, 3, 2, 1, 128, 256),
    conv("resnet18_cifar", "layer3_downsample", 16, 1, 2, 0, 128, 256),
    conv("resnet18_cifar", "layer3_conv", 8, 3, 1, 1, 256, 256),
    conv("resnet18_cifar", "layer4_conv_s2", 8, 3, 2, 1, 256, 512),
    conv("resnet18_cifar", "layer4_downsample", 8, 1, 2, 0, 256, 512),
    conv("resnet18_cifar", "layer4_conv", 4, 3, 1, 1, 512, 512),
    fc("resnet18_cifar", "fc", 512, 10),
]

# Each layer set with the square array sizes it runs on.
LAYER_SETS = {network: (model_file_layers(network, path), (8, 16, 32)) for network, path in MODEL_FILES.items()}
LAYER_SETS["resnet18"] = (RESNET18, (32,))


def check_numpy() -> None:
    """Exit with an error under NumPy 2, where SCALE-Sim 3.0.0 fails in its memory model."""
    import numpy

    if int(numpy.__version__.split(".")[0]) >= 2:
        raise SystemExit(
            f"NumPy {numpy.__version__} is installed, but SCALE-Sim 3.0.0 calls int() on 1-element arrays "
            "(memory/double_buffered_scratchpad_mem.py), which raises TypeError under NumPy 2. "
            "Install 'numpy<2' in the SCALE-Sim venv.")


def write_inputs(folder: Path, run_name: str, layer: LayerShape, rows: int, cols: int,
                 dataflow: str) -> tuple[Path, Path, Path]:
    """Write the config, topology and layout files of one SCALE-Sim run and return their paths."""
    config = folder / f"{run_name}.cfg"
    config.write_text(CONFIG_TEMPLATE.format(
        run_name=run_name, rows=rows, cols=cols, dataflow=dataflow,
        ifmap_kb=SRAM_KB["ifmap"], filter_kb=SRAM_KB["filter"], ofmap_kb=SRAM_KB["ofmap"]))

    in_h, in_w = layer.scalesim_input()
    topology = folder / f"{run_name}_topology.csv"
    topology.write_text(TOPOLOGY_HEADER + f"{layer.name}, {in_h}, {in_w}, {layer.kernel}, {layer.kernel}, "
                        f"{layer.channels}, {layer.filters}, {layer.stride},\n")

    layout = folder / f"{run_name}_layout.csv"
    layout.write_text(LAYOUT_HEADER)
    return config, topology, layout


def read_compute_report(path: Path) -> dict[str, int]:
    """Read the first layer's row of a SCALE-Sim COMPUTE_REPORT.csv as integer cycle counts."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [name.strip() for name in next(reader)]
        values = [value.strip() for value in next(reader)]
    row = dict(zip(header, values))
    expected = ("Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles")
    missing = [name for name in expected if name not in row]
    if missing:
        raise ValueError(f"{path}: columns {missing} not found in header {header}. "
                         "This driver reads the report format of SCALE-Sim 3.0.0.")
    return {
        "total_with_prefetch": int(float(row["Total Cycles (incl. prefetch)"])),
        "compute": int(float(row["Total Cycles"])),
        "stall": int(float(row["Stall Cycles"])),
    }


def run_scalesim(folder: Path, run_name: str, layer: LayerShape, rows: int, cols: int,
                 dataflow: str) -> tuple[dict[str, int], float]:
    """Run SCALE-Sim on one layer and return its report counts and its wall time in seconds."""
    from scalesim.scale_sim import scalesim

    config, topology, layout = write_inputs(folder, run_name, layer, rows, cols, dataflow)
    started = time.perf_counter()
    simulator = scalesim(save_disk_space=True, verbose=False, config=str(config), topology=str(topology),
                         layout=str(layout))
    simulator.run_scale(top_path=str(folder / "reports"))
    seconds = time.perf_counter() - started
    return read_compute_report(folder / "reports" / run_name / "COMPUTE_REPORT.csv"), seconds


def predicted_cycles(layer: LayerShape, rows: int, cols: int, dataflow: str) -> int:
    positions, reductions, filters = layer.gemm()
    return gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain=True)


def golden_row(layer: LayerShape, rows: int, cols: int, dataflow: str, report: dict[str, int],
               seconds: float) -> dict:
    positions, reductions, filters = layer.gemm()
    row_folds, col_folds, _, _, _ = fold_counts(dataflow, positions, reductions, filters, rows, cols)
    in_h, in_w = layer.scalesim_input()
    return {
        "network": layer.network, "layer": layer.name, "H": layer.height, "W": layer.width, "E": layer.kernel,
        "stride": layer.stride, "padding": layer.padding, "C": layer.channels, "M": layer.filters,
        "P": positions, "K": reductions, "scalesim_H": in_h, "scalesim_W": in_w,
        "array_rows": rows, "array_cols": cols, "dataflow": dataflow, "folds": row_folds * col_folds,
        "scalesim_compute_cycles": report["compute"], "scalesim_stall_cycles": report["stall"],
        "scalesim_total_cycles": report["total_with_prefetch"], "scalesim_seconds": f"{seconds:.3f}",
        "ours_compute_cycles": gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain=False),
        "ours_drain_cycles": gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain=True),
    }


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(LAYER_SETS),
                        help=f"comma-separated layer sets to run (default: all of {', '.join(LAYER_SETS)})")
    parser.add_argument("--arrays", default="",
                        help="comma-separated square array sizes (default: 8,16,32, and 32 alone for resnet18)")
    parser.add_argument("--dataflows", default=",".join(DATAFLOWS), help="comma-separated dataflows (default: os,ws,is)")
    parser.add_argument("--layers", default="", help="comma-separated layer names to keep (default: all)")
    parser.add_argument("--max-cycles", type=int, default=0,
                        help="skip runs whose predicted cycles (our count with drain) exceed this; 0 runs all")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"CSV to write (default: {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_numpy()

    unknown = [name for name in parse_list(args.sets) if name not in LAYER_SETS]
    if unknown:
        parser.error(f"unknown layer sets {unknown}; valid: {', '.join(LAYER_SETS)}")
    dataflows = parse_list(args.dataflows)
    if any(dataflow not in DATAFLOWS for dataflow in dataflows):
        parser.error(f"invalid --dataflows {args.dataflows!r}; use a subset of {', '.join(DATAFLOWS)}")
    keep_layers = set(parse_list(args.layers))
    array_override = tuple(int(size) for size in parse_list(args.arrays))

    rows_out, skipped = [], []
    total_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="scalesim_driver_") as temp:
        folder = Path(temp)
        for set_name in parse_list(args.sets):
            layers, array_sizes = LAYER_SETS[set_name]
            for size in array_override or array_sizes:
                for layer in layers:
                    if keep_layers and layer.name not in keep_layers:
                        continue
                    in_h, in_w = layer.scalesim_input()
                    scalesim_out = (scalesim_output_size(in_h, layer.kernel, layer.stride),
                                    scalesim_output_size(in_w, layer.kernel, layer.stride))
                    if scalesim_out != layer.out_size:
                        raise RuntimeError(f"{layer.network}/{layer.name}: SCALE-Sim output {scalesim_out} "
                                           f"differs from ours {layer.out_size} for input {in_h}x{in_w}")
                    for dataflow in dataflows:
                        expected = predicted_cycles(layer, size, size, dataflow)
                        label = f"{layer.network}/{layer.name} {size}x{size} {dataflow}"
                        if args.max_cycles and expected > args.max_cycles:
                            skipped.append(f"{label} ({expected} cycles)")
                            continue
                        run_name = f"run{len(rows_out)}"
                        report, seconds = run_scalesim(folder, run_name, layer, size, size, dataflow)
                        total_seconds += seconds
                        rows_out.append(golden_row(layer, size, size, dataflow, report, seconds))
                        LOG.info("%s: SCALE-Sim %d cycles (%d stall) in %.2f s; ours %d without drain, %d with",
                                 label, report["compute"], report["stall"], seconds,
                                 rows_out[-1]["ours_compute_cycles"], rows_out[-1]["ours_drain_cycles"])

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows_out)
    LOG.info("wrote %d rows to %s; SCALE-Sim time %.1f s", len(rows_out), args.output, total_seconds)
    for label in skipped:
        LOG.info("skipped (over --max-cycles): %s", label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
