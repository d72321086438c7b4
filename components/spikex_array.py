"""NTWU arrays: SpikeX and its baselines PTB and time-serial, one family of components.

All three are rows x cols systolic arrays of PEs with one accumulator, one comparator and a
scratchpad of window membranes each; they differ only in how work is laid on the array
(see `spikex_sim.dataflow.spikex`, `.ptb` and `.time_serial`). Every one computes the same
output spikes; only the cost differs.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.component import Param
from spikex_sim.dataflow import cycle_level, dense, ptb, spikex, time_serial
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry, LayerSchedule
from spikex_sim.errors import ConfigError
from spikex_sim.system import PEArray
from spikex_sim.workload.model import Layer

# Window sizes tried by `tws: search` (those seen in the SpikeX paper), capped at T.
TWS_CANDIDATES = (1, 2, 3, 5, 8, 10, 15, 20, 30)


def _check_tws(value) -> str | None:
    if value == "search":
        return None
    values = value if isinstance(value, list) else [value]
    if not values:
        return "give a window size, a non-empty list of sizes (one per layer), or search"
    for item in values:
        if item == "search":
            continue
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            return f"window sizes must be positive integers or 'search', got {item!r}"
    return None


class NTWUArray(PEArray):
    """Common parameters of the arrays that process neuron-time-window units."""

    abstract = True
    type_name = "NTWUArray"
    rows = Param(int, 8, "PE rows (output channels served at once)", min_value=1, max_value=1024)
    cols = Param(int, 8, "PE columns (NTWUs served at once)", min_value=1, max_value=1024)
    tws = Param(object, 5, "time-window size in time points: a number, a list with one per layer, or "
                           "'search' (the size with the lowest layer EDP among 1, 2, 3, 5, 8, 10, 15, 20, 30)",
                check=_check_tws)
    point_parallel = Param(bool, True, "a PE applies one weight to all TWS points of its window in one cycle "
                                       "(false: one point per cycle)")
    handoff_cycles = Param(int, 1, "cycles to pass a membrane value to the PE holding the next window",
                           min_value=0, max_value=1000)
    weight_bits = Param(int, 8, "bits per weight", min_value=1, max_value=32)

    def tws_for(self, layer_index: int, layer_count: int) -> int | str:
        """Return the window size of one layer, or 'search'."""
        if isinstance(self.tws, list):
            if len(self.tws) != layer_count:
                raise ConfigError(
                    f"tws lists {len(self.tws)} window sizes, but the model has {layer_count} layers; "
                    "give one size per layer or a single number",
                    key=f"{self.path}.tws",
                )
            return self.tws[layer_index]
        return self.tws

    def tws_candidates(self, timesteps: int) -> list[int]:
        return [size for size in TWS_CANDIDATES if size <= timesteps]

    def shape(self) -> ArrayShape:
        return ArrayShape(self.rows, self.cols, self.point_parallel, self.handoff_cycles)

    def run_layer(self, layer: Layer, spikes: np.ndarray, tws: int, geometry: BufferGeometry,
                  mapper=None) -> tuple[np.ndarray, LayerSchedule]:
        """Return the layer's output spikes and schedule; `mapper` picks among candidate mappings."""
        raise NotImplementedError


class SpikeXArray(NTWUArray):
    type_name = "SpikeXArray"
    summary = "SpikeX array: active NTWUs dispatched in temporal- or spatial-density mode, tailored weights."
    mode = Param(str, "auto", "dispatch mode: temporal, spatial, or auto (the rule below)", choices=spikex.MODES)
    switch = Param(str, "block", "where mode auto decides: per time block (the pool a dispatcher sees) or once per "
                                "layer", choices=spikex.SWITCHES)
    packing = Param(str, "order", "spatial-mode packing: order (window-major, positions in order) or similar "
                                  "(positions sorted by their active input channels)", choices=spikex.PACKINGS)
    tailoring = Param(bool, True, "fetch and stream only the weights of input channels that spike (weight tailoring)")

    def run_layer(self, layer, spikes, tws, geometry, mapper=None):
        """Compute the layer's output spikes and the schedule of steps that produced them."""
        return spikex.run_layer(layer, spikes, tws, self.shape(), self.mode, geometry, switch=self.switch,
                                packing=self.packing, tailoring=self.tailoring, mapper=mapper)


class PTBArray(NTWUArray):
    type_name = "PTBArray"
    summary = "PTB baseline: rows are neurons, columns consecutive windows, StSAP pairing, full fan-in."
    stsap = Param(bool, True, "pack two neurons with non-overlapping active windows into one pass (StSAP)")

    def run_layer(self, layer, spikes, tws, geometry, mapper=None):
        return ptb.run_layer(layer, spikes, tws, self.shape(), self.stsap, geometry, mapper=mapper)


class TimeSerialArray(NTWUArray):
    type_name = "TimeSerialArray"
    summary = "Time-serial baseline: one time point at a time, weights fetched again for every point."
    tws = Param(object, 1, "fixed at 1: this array processes one time point at a time",
                check=lambda value: None if type(value) is int and value == 1
                else "a time-serial array has a window size of 1")

    def run_layer(self, layer, spikes, tws, geometry, mapper=None):
        return time_serial.run_layer(layer, spikes, self.shape(), geometry, mapper=mapper)


class DenseSystolicArray(PEArray):
    type_name = "DenseSystolicArray"
    summary = "Dense ANN-style systolic array (output-, weight- or input-stationary); no sparsity skipping."
    rows = Param(int, 8, "PE rows", min_value=1, max_value=4096)
    cols = Param(int, 8, "PE columns", min_value=1, max_value=4096)
    dataflow = Param(str, "os", "os (output), ws (weight) or is (input) stationary", choices=dense.DATAFLOWS)
    drain = Param(bool, True, "count rows cycles per fold that load the stationary operand (ws, is) or shift the "
                              "finished outputs out (os)")
    activation_bits = Param(int, 1, "bits per input activation (1 for spikes, 8 for an 8-bit ANN)", min_value=1,
                            max_value=32)
    weight_bits = Param(int, 8, "bits per weight", min_value=1, max_value=32)
    output_bits = Param(int, 1, "bits per output written back (1 for spikes, 8 for an 8-bit ANN)", min_value=1,
                        max_value=32)

    def tws_for(self, layer_index: int, layer_count: int) -> int:
        return 1

    def run_layer(self, layer, spikes, tws, geometry, mapper=None):
        return dense.run_layer(layer, spikes, self.rows, self.cols, self.dataflow, self.drain, self.activation_bits,
                               geometry, self.output_bits)


class SpikeXArrayCycleLevel(SpikeXArray):
    type_name = "SpikeXArrayCycleLevel"
    summary = "SpikeX array stepped cycle by cycle: the slow reference for the transaction-level model."

    def run_layer(self, layer, spikes, tws, geometry, mapper=None):
        return spikex.run_layer(layer, spikes, tws, self.shape(), self.mode, geometry, switch=self.switch,
                                packing=self.packing, tailoring=self.tailoring, cycle_model=cycle_level.pass_cycles,
                                mapper=mapper)
