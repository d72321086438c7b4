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
cycle index `S_t + rows + cols - 3`), and draining the results out of the rows adds `rows`
more: `2 * rows + cols + S_t - 2`. Folds run one after another.
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


def run_layer(layer: Layer, spikes: np.ndarray, rows: int, cols: int, dataflow: str, drain: bool,
              activation_bits: int, geometry: BufferGeometry) -> tuple[np.ndarray, LayerSchedule]:
    """Compute the layer's output spikes densely and its schedule, one step per time step."""
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
    traffic[:, KEY_INDEX[("dram", "glb", "spikes_in")]] = ifmap_bytes
    traffic[:, KEY_INDEX[("dram", "glb", "weights")]] = 0 if weights_resident else weight_bytes
    if weights_resident:
        traffic[0, KEY_INDEX[("dram", "glb", "weights")]] = weight_bytes
    for key, amount in ((("glb", "lbuf", "spikes_in"), bits_to_bytes(ifmap_reads)),
                        (("lbuf", "pe", "spikes_in"), bits_to_bytes(ifmap_reads)),
                        (("glb", "lbuf", "weights"), bits_to_bytes(weight_reads)),
                        (("lbuf", "pe", "weights"), bits_to_bytes(weight_reads)),
                        (("glb", "pe", "vmem"), membrane_bytes + psum_bytes),
                        (("pe", "glb", "vmem"), membrane_bytes + psum_bytes),
                        (("pe", "glb", "spikes_out"), bits_to_bytes(positions * filters)),
                        (("glb", "dram", "spikes_out"), bits_to_bytes(positions * filters))):
        traffic[:, KEY_INDEX[key]] = amount
    if vmem_spills:
        traffic[:, KEY_INDEX[("dram", "glb", "vmem")]] = membrane_bytes
        traffic[:, KEY_INDEX[("glb", "dram", "vmem")]] = membrane_bytes
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
        "mapped_pe_cycles": int(dense_macs * steps), "mode": f"dense-{dataflow}",
        "dense_macs_per_step": dense_macs, "real_pixel_macs_per_step": real_pixel_macs(layer),
        "mapping_efficiency": mapping_efficiency(dataflow, positions, reductions, filters, rows, cols),
        "weights_resident_glb": weights_resident, "vmem_spills_to_dram": vmem_spills,
    }
    return out_spikes, LayerSchedule(compute, traffic, steps * row_folds * col_folds, counts, stats)
