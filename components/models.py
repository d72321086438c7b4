"""Model sources: a YAML layer list with an .npz of quantised weights and neuron parameters."""

from __future__ import annotations

from pathlib import Path

from spikex_sim.component import Param
from spikex_sim.system import ModelSource
from spikex_sim.workload.model import FIRE_CONDITIONS, RESET_MODES, Model, load_model


class SNNModelFile(ModelSource):
    type_name = "SNNModelFile"
    summary = "A feed-forward conv/fc SNN from a model YAML and its .npz weights (int8, integer LIF)."
    path = Param(str, desc="model file (YAML layer list), relative to the config file")
    fire = Param(str, ">=", "fire condition: spike when the membrane is >= or > the threshold", choices=FIRE_CONDITIONS)
    reset = Param(str, "zero", "reset after a spike: to zero (hard) or subtract the threshold", choices=RESET_MODES)
    membrane_bits = Param(int, 16, "bits of the saturating membrane register", min_value=2, max_value=48)

    def load(self, base_dir: Path) -> Model:
        return load_model((base_dir / self.path).resolve(), fire=self.fire, reset=self.reset,
                          membrane_bits=self.membrane_bits)
