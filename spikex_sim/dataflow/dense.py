"""Dense systolic arrays (output-, weight- and input-stationary) as the ANN reference.

Each time step of a layer is one dense GEMM of P output positions x K = C*E*E reductions x
M filters; nothing is skipped. The three dataflows map the GEMM as SCALE-Sim does
(A. Samajdar et al., "SCALE-Sim: Systolic CNN Accelerator Simulator", 2018):

| dataflow | array rows take | array columns take | streamed in time |
|---|---|---|---|
| output stationary (os) | output positions P | filters M | reductions K |
| weight stationary (ws) | reductions K | filters M | output positions P |
| input stationary (is) | reductions K | output positions P | filters M |

A fold is one mapping of at most rows x cols of the two spatial dimensions. With `S_t` the
streamed dimension, one fold computes in `S_t + rows + cols - 2` cycles (the last MAC is in
cycle index `S_t + rows + cols - 3`). With `drain`, each fold adds `rows` cycles: loading the
stationary operand for weight and input stationary, shifting the finished outputs out for
output stationary. Folds run one after another. SCALE-Sim 3.0.0 counts the same for ws and
is, and output stationary without the `rows` (docs/scalesim.md has the comparison).
"""

from __future__ import annotations

import numpy as np

from spikex_sim.dataflow.activity import layer_activity, receptive_fields
from spikex_sim.dataflow.functional import compute_output_spikes
from spikex_sim.dataflow.schedule import KEY_INDEX, TRAFFIC_KEYS, BufferGeometry, LayerSchedule, bits_to_bytes
from spikex_sim.dataflow.steps import _shift_write_backs
from spikex_sim.workload.model import Layer

DATAFLOWS = ("os", "ws", "is")


def gemm_shape(layer: Layer) -> tuple[int, int, int]:
    """Return (P output positions, K reductions, M filters) of one time step."""
    return layer.positions, layer.fan_in, layer.out_channels


def fold_counts(dataflow: str, positions: int, reductions: int, filters: int, rows: int, cols: int):
    """Return (row folds, column folds, streamed length) of one GEMM."""
    spatial_rows, spatial_cols, streamed = {
        "os": (positions, filters, reductions),
        "ws": (reductions, filters, positions),
        "is": (reductions, positions, filters),
    }[dataflow]
    return -(-spatial_rows // rows), -(-spatial_cols // cols), streamed, spatial_rows, spatial_cols


def gemm_cycles(dataflow: str, positions: int, reductions: int, filters: int, rows: int, cols: int,
                drain: bool = True) -> int:
    """Return the cycles of one dense GEMM on a rows x cols array."""
    row_folds, col_folds, streamed, _, _ = fold_counts(dataflow, positions, reductions, filters, rows, cols)
    per_fold = streamed + rows + cols - 2 + (rows if drain else 0)
    return row_folds * col_folds * per_fold


def mapping_efficiency(dataflow: str, positions: int, reductions: int, filters: int, rows: int, cols: int) -> float:
    """Return the mean share of PEs mapped over the folds."""
    row_folds, col_folds, _, spatial_rows, spatial_cols = fold_counts(dataflow, positions, reductions, filters, rows,
                                                                      cols)
    return spatial_rows * spatial_cols / (row_folds * rows * col_folds * cols)


def real_pixel_macs(layer: Layer) -> int:
    """Return the MACs of one time step whose input is a real pixel, not padding."""
    ones = np.ones((1, *layer.in_shape), dtype=np.uint8)
    layer_input = ones if layer.kind == "conv" else ones.reshape(1, -1)
    return int(receptive_fields(layer, layer_input).sum()) * layer.out_channels


def refetch_factors(dataflow: str, row_folds: int, col_folds: int) -> tuple[int, int]:
    """Return how many times (input, weights) pass through the array over one GEMM's folds.

    Output stationary: every column fold (filters) needs all inputs of its positions and
    every row fold (positions) needs all weights of its filters. Weight stationary: each
    weight tile is used by one fold, but the inputs stream again for every column fold.
    Input stationary: each input tile is used by one fold, but the weights stream again for
    every column fold (positions).
    """
    return {"os": (col_folds, row_folds), "ws": (col_folds, 1), "is": (1, col_folds)}[dataflow]


def run_layer(layer: Layer, spikes: np.ndarray, rows: int, cols: int, dataflow: str, drain: bool,
              activation_bits: int, geometry: BufferGeometry,
              output_bits: int = 1) -> tuple[np.ndarray, LayerSchedule]:
    """Compute the layer's output spikes densely and its schedule, one step per time step.

    An operand that fits half its GLB share is fetched from DRAM once per time step (weights
    once per layer); one that does not is fetched again for every fold that uses it.
    Membranes go to the GLB between time steps (not for T = 1); outputs are `output_bits`
    each (1 for spikes, 8 for an 8-bit ANN).
    """
    steps = spikes.shape[0]
    activity = layer_activity(layer, spikes, 1)
    out_spikes = compute_output_spikes(layer, activity)
    positions, reductions, filters = gemm_shape(layer)
    row_folds, col_folds, streamed, _, _ = fold_counts(dataflow, positions, reductions, filters, rows, cols)
    step_cycles = gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain)
    weight_bits = geometry.weight_bits
    vmem_bytes = bits_to_bytes(geometry.membrane_bits)

    ifmap_bytes = bits_to_bytes(int(np.prod(layer.in_shape)) * activation_bits)
    weight_bytes = bits_to_bytes(filters * reductions * weight_bits)
    weights_resident = weight_bytes <= geometry.glb_weights
    ifmap_resident = ifmap_bytes <= geometry.glb_spikes
    ifmap_passes, weight_passes = refetch_factors(dataflow, row_folds, col_folds)
    output_bytes = bits_to_bytes(positions * filters * output_bits)
    operand_ifmap = reductions * positions * activation_bits
    operand_weights = reductions * filters * weight_bits
    if dataflow == "os":
        ifmap_reads, weight_reads = col_folds * operand_ifmap, row_folds * operand_weights
        psum_bytes = 0
    elif dataflow == "ws":
        ifmap_reads, weight_reads = col_folds * operand_ifmap, operand_weights
        psum_bytes = (row_folds - 1) * positions * filters * vmem_bytes
    else:
        ifmap_reads, weight_reads = operand_ifmap, col_folds * operand_weights
        psum_bytes = (row_folds - 1) * positions * filters * vmem_bytes
    membrane_bytes = positions * filters * vmem_bytes
    vmem_spills = membrane_bytes > geometry.glb_vmem

    traffic = np.zeros((steps, len(TRAFFIC_KEYS)), dtype=np.int64)
    traffic[:, KEY_INDEX[("dram", "glb", "spikes_in")]] = ifmap_bytes * (1 if ifmap_resident else ifmap_passes)
    if weights_resident:
        traffic[0, KEY_INDEX[("dram", "glb", "weights")]] = weight_bytes
    else:
        traffic[:, KEY_INDEX[("dram", "glb", "weights")]] = weight_bytes * weight_passes
    for key, amount in ((("glb", "lbuf", "spikes_in"), bits_to_bytes(ifmap_reads)),
                        (("lbuf", "pe", "spikes_in"), bits_to_bytes(ifmap_reads)),
                        (("glb", "lbuf", "weights"), bits_to_bytes(weight_reads)),
                        (("lbuf", "pe", "weights"), bits_to_bytes(weight_reads)),
                        (("glb", "pe", "vmem"), psum_bytes),
                        (("pe", "glb", "vmem"), psum_bytes),
                        (("pe", "glb", "spikes_out"), output_bytes),
                        (("glb", "dram", "spikes_out"), output_bytes)):
        traffic[:, KEY_INDEX[key]] = amount
    # The membrane of step t is read at step t + 1: no read at the first step, no write at the last.
    traffic[1:, KEY_INDEX[("glb", "pe", "vmem")]] += membrane_bytes
    traffic[:-1, KEY_INDEX[("pe", "glb", "vmem")]] += membrane_bytes
    if vmem_spills:
        traffic[1:, KEY_INDEX[("dram", "glb", "vmem")]] = membrane_bytes
        traffic[:-1, KEY_INDEX[("glb", "dram", "vmem")]] = membrane_bytes
    compute = np.full(steps, step_cycles, dtype=np.int64)
    compute, traffic = _shift_write_backs(compute, traffic)

    dense_macs = positions * reductions * filters
    counts = {
        "pe.accumulate": dense_macs * steps,
        "pe.weight_register": dense_macs * steps,
        "pe.membrane_update": positions * filters * steps,
        "pe.compare": positions * filters * steps,
    }
    stats = {
        "ntwu_total": steps * positions * filters, "ntwu_active": steps * positions * filters, "windows": steps,
        "block_windows": 1,
        "mapped_pe_cycles": int(dense_macs * steps), "mode": f"dense-{dataflow}",
        "dense_macs_per_step": dense_macs, "real_pixel_macs_per_step": real_pixel_macs(layer),
        "mapping_efficiency": mapping_efficiency(dataflow, positions, reductions, filters, rows, cols),
        "weights_resident_glb": weights_resident, "input_resident_glb": ifmap_resident,
        "vmem_spills_to_dram": vmem_spills,
    }
    return out_spikes, LayerSchedule(compute, traffic, steps * row_folds * col_folds, counts, stats)
