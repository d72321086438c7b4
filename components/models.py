"""Model sources: a YAML layer list with quantised weights, or a NIR graph converted to integers."""

from __future__ import annotations

from pathlib import Path

from spikex_sim.component import Param
from spikex_sim.paths import resolve_reference
from spikex_sim.system import ModelSource
from spikex_sim.workload.model import FIRE_CONDITIONS, RESET_MODES, Model, load_model
from spikex_sim.workload.nir_io import LEAK_CONVERSIONS, QUANTISATION_RULES, ImportOptions, read_nir_model


class SNNModelFile(ModelSource):
    type_name = "SNNModelFile"
    summary = "A feed-forward conv/fc SNN from a model YAML and its .npz weights (int8, integer LIF)."
    path = Param(str, desc="model file (YAML layer list), relative to the config file")
    fire = Param(str, ">=", "fire condition: spike when the membrane is >= or > the threshold", choices=FIRE_CONDITIONS)
    reset = Param(str, "zero", "reset after a spike: to zero (hard) or subtract the threshold", choices=RESET_MODES)
    membrane_bits = Param(int, 16, "bits of the saturating membrane register", min_value=2, max_value=48)
    weights_seed = Param(int, None, "generate untrained int8 weights from this seed instead of reading the weight "
                                    "file (for timing and energy studies)", min_value=0, nullable=True)

    def load(self, base_dir: Path) -> Model:
        return load_model(resolve_reference(base_dir, self.path, "workload.model.path"), fire=self.fire, reset=self.reset,
                          membrane_bits=self.membrane_bits, weights_seed=self.weights_seed)


class NIRModel(ModelSource):
    type_name = "NIRModel"
    summary = "A NIR graph (Conv2d/Linear/Affine, LIF/IF, Flatten, Sum/AvgPool2d) converted to integer LIF layers."
    path = Param(str, desc="NIR file (.nir, HDF5), relative to the config file")
    dt = Param(float, "100us", "time step that turns NIR's continuous-time tau and R into per-step leak and gain",
               unit="s", min_value=0, min_exclusive=True)
    leak_conversion = Param(str, "linear", "leak per step: linear = 1 - dt/tau (snnTorch's beta), "
                                           "exp = exp(-dt/tau)", choices=LEAK_CONVERSIONS)
    weight_bits = Param(int, 8, "bits of the signed integer weights (match system.array.weight_bits)",
                        min_value=2, max_value=16)
    quantization = Param(str, "max", "weight scale per layer: max (largest weight to the largest integer), "
                                     "power_of_two (largest power of two that fits), integer (scale 1; weights "
                                     "must be whole numbers)", choices=QUANTISATION_RULES)
    fire = Param(str, ">", "fire condition; NIR defines v > v_threshold", choices=FIRE_CONDITIONS)
    reset = Param(str, "zero", "reset after a spike; NIR defines a reset to v_reset = 0", choices=RESET_MODES)
    membrane_bits = Param(int, 16, "bits of the saturating membrane register", min_value=2, max_value=48)

    def options(self) -> ImportOptions:
        return ImportOptions(dt=float(self.dt), leak_conversion=self.leak_conversion, weight_bits=self.weight_bits,
                             quantization=self.quantization, fire=self.fire, reset=self.reset,
                             membrane_bits=self.membrane_bits)

    def load(self, base_dir: Path) -> Model:
        return read_nir_model(resolve_reference(base_dir, self.path, "workload.model.path"), self.options())
