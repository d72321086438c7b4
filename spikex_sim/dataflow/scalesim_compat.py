"""Closed-form relations between our dense array cycle counts and SCALE-Sim v3.0.0.

Checked against the pip package `scalesim==3.0.0` by benchmarks/scalesim_driver.py, whose
results are in tests/golden/scalesim_cycles.csv. For each fold, SCALE-Sim builds demand
matrices with one row per cycle:

- output stationary: `S_t + rows + cols - 2` rows, the same as our fold without drain;
- weight and input stationary: `rows` cycles to load the stationary operand, then
  `S_t + rows + cols - 2`, which is `2 * rows + cols + S_t - 2` and equals our fold with drain.

Its COMPUTE_REPORT column "Total Cycles" is the 0-based index of the cycle that serves the
last demand row, plus any stall cycles. With no stalls it is therefore one less than the
number of demand rows, once per layer rather than once per fold.
"""

from __future__ import annotations

from spikex_sim.dataflow.dense import gemm_cycles

# The drain flag of gemm_cycles whose per-fold count equals SCALE-Sim's per-fold demand rows.
SCALESIM_MATCHING_DRAIN = {"os": False, "ws": True, "is": True}

# SCALE-Sim reports the index of its last cycle, not the cycle count.
SCALESIM_REPORT_OFFSET = -1


def scalesim_output_size(size: int, kernel: int, stride: int) -> int:
    """Return SCALE-Sim's conv output size, ceil((size - kernel + stride) / stride), for no padding."""
    return -(-(size - kernel + stride) // stride)


def scalesim_input_size(output_size: int, kernel: int, stride: int) -> int:
    """Return the smallest unpadded input size whose SCALE-Sim output size is `output_size`.

    SCALE-Sim has no padding and rounds its output size up. A padded conv, or one whose last
    window does not fit, is therefore given this enlarged or cropped input, which has the
    same GEMM shape (P, K, M) as our layer.
    """
    return kernel + (output_size - 1) * stride


def scalesim_compute_cycles(dataflow: str, positions: int, reductions: int, filters: int, rows: int,
                          cols: int) -> int:
    """Return the "Total Cycles" that SCALE-Sim v3.0.0 reports for one GEMM that has no stall cycles."""
    drain = SCALESIM_MATCHING_DRAIN[dataflow]
    return gemm_cycles(dataflow, positions, reductions, filters, rows, cols, drain=drain) + SCALESIM_REPORT_OFFSET
