"""The SpikeX PE array: NTWU dispatch over time windows with activity tags.

A rows x cols systolic array of PEs with one accumulator, one comparator and a scratchpad
of TWS membrane values each. The dataflow (temporal- and spatial-density modes, tag-based
skipping, weight tailoring, membrane hand-off) is in `spikex_sim.dataflow.spikex`; this
component holds the parameters and runs it layer by layer.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.component import Param
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry, LayerSchedule
from spikex_sim.dataflow.spikex import MODES, run_layer
from spikex_sim.system import PEArray
from spikex_sim.workload.model import Layer


def _check_tws(value) -> str | None:
    values = value if isinstance(value, list) else [value]
    if not values:
        return "give a window size or a non-empty list of sizes, one per layer"
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            return f"window sizes must be positive integers, got {item!r}"
    return None


class SpikeXArray(PEArray):
    type_name = "SpikeXArray"
    summary = "SpikeX array: active NTWUs dispatched in temporal- or spatial-density mode."
    rows = Param(int, 8, "PE rows (output channels served at once)", min_value=1, max_value=1024)
    cols = Param(int, 8, "PE columns (NTWUs served at once)", min_value=1, max_value=1024)
    tws = Param(object, 5, "time-window size in time points: one number, or a list with one per layer",
                check=_check_tws)
    mode = Param(str, "auto", "dispatch mode: temporal, spatial, or auto (chosen per layer)", choices=MODES)
    point_parallel = Param(bool, True, "a PE applies one weight to all TWS points of its window in one cycle "
                                       "(false: one point per cycle)")
    handoff_cycles = Param(int, 1, "cycles to pass a membrane value to the PE holding the next window",
                           min_value=0, max_value=1000)
    weight_bits = Param(int, 8, "bits per weight", min_value=1, max_value=32)

    def tws_for(self, layer_index: int, layer_count: int) -> int:
        """Return the window size of one layer."""
        if isinstance(self.tws, list):
            if len(self.tws) != layer_count:
                from spikex_sim.errors import ConfigError

                raise ConfigError(
                    f"tws lists {len(self.tws)} window sizes, but the model has {layer_count} layers; "
                    "give one size per layer or a single number",
                    key=f"{self.path}.tws",
                )
            return self.tws[layer_index]
        return self.tws

    def shape(self) -> ArrayShape:
        return ArrayShape(self.rows, self.cols, self.point_parallel, self.handoff_cycles)

    def run_layer(self, layer: Layer, spikes: np.ndarray, tws: int,
                  geometry: BufferGeometry) -> tuple[np.ndarray, LayerSchedule]:
        """Compute the layer's output spikes and the schedule of steps that produced them."""
        return run_layer(layer, spikes, tws, self.shape(), self.mode, geometry)
