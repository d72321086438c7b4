"""Component families and the top-level system that wires them.

The system is a tree: a DRAM channel feeds the global buffer (GLB), the GLB feeds the local
buffer (LBUF), and the LBUF feeds the PE array; a workload supplies the model, the input
data set and the spike encoder. Each slot names an abstract family, and any registered
class of that family (built in, `module:Class`, or an entry point) may fill it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from spikex_sim.component import Child, Component, Param, Port
from spikex_sim.dataflow.steps import OBJECTIVES


class DRAMModel(Component):
    """Family of off-chip memory models: turn the bytes of a step into channel cycles."""

    abstract = True
    type_name = "DRAMModel"
    downstream = Port("memory", "data to and from the global buffer", peer_role="buffer")

    def step_cycles(self, read_bytes: np.ndarray, write_bytes: np.ndarray, clock_hz: Fraction) -> np.ndarray:
        raise NotImplementedError

    def bursts(self, byte_counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SRAMModel(Component):
    """Family of on-chip buffer models with per-data-type partitions."""

    abstract = True
    type_name = "SRAMModel"
    upstream = Port("buffer", "data from and to the level above", peer_role=None)
    downstream = Port("buffer", "data to and from the level below", peer_role=None)

    def partition_bytes(self, data_type: str) -> int:
        raise NotImplementedError

    def share_bytes(self, data_type: str) -> int:
        raise NotImplementedError

    def accesses(self, byte_counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def step_cycles(self, accesses: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class PEArray(Component):
    """Family of PE arrays: each maps a layer's real input spikes to output spikes and steps."""

    abstract = True
    type_name = "PEArray"
    upstream = Port("array", "weights and spikes from the local buffer", peer_role="buffer")
    #: True for arrays that multiply real-valued inputs by weights; spiking arrays only add.
    accepts_analog_input = False


class Encoder(Component):
    """Family of spike encoders: turn one raw input sample into a spike tensor [T, C, H, W]."""

    abstract = True
    type_name = "Encoder"
    #: True for encoders that output real values rather than binary spikes.
    analog_output = False

    def encode(self, sample, *, timesteps: int, shape: tuple[int, int, int], rng: np.random.Generator,
               source: str) -> np.ndarray:
        raise NotImplementedError


class Dataset(Component):
    """Family of input sets: labelled raw samples read from files shipped with the run."""

    abstract = True
    type_name = "Dataset"

    #: True for data sets whose samples carry every layer's activity (ActivitySample).
    gives_activity = False

    def load(self, base_dir, limit: int | None) -> list:
        raise NotImplementedError

    def for_model(self, samples: list, model, timesteps: int, seed: int, limit: int | None) -> list:
        """Return the samples checked or completed against the loaded model; the default keeps them."""
        return samples

    def planned_size(self, model, timesteps: int, limit: int | None) -> tuple[int, int] | None:
        """Return (samples, bytes) that `for_model` will generate, or None if it generates nothing.

        The runner checks the resource limits against this before any sample is drawn.
        """
        return None


class ModelSource(Component):
    """Family of model loaders: return a `Model` with quantised weights."""

    abstract = True
    type_name = "ModelSource"


class Workload(Component):
    """The network, its input data and how the data become spikes."""

    type_name = "Workload"
    summary = "A spiking model, a labelled input set, and the encoder between them."
    timesteps = Param(int, 30, "number of time points T of every input", min_value=1, max_value=100_000)
    model = Child(ModelSource, "the spiking network and its trained weights", default_type="SNNModelFile")
    dataset = Child(Dataset, "the labelled input samples", default_type="NMNISTRecordings")
    encoder = Child(Encoder, "turns each sample into spikes", default_type="EventBinning")

    def validate(self) -> None:
        """Reject an activity data set without the encoder that replays it, and the reverse."""
        replays = getattr(self.encoder, "replays_activity", False)
        if self.dataset.gives_activity and not replays:
            raise ValueError(f"data set {self.dataset.type_name} gives per-layer activity; set workload.encoder.type "
                             "to ActivityReplay")
        if replays and not self.dataset.gives_activity:
            raise ValueError(f"encoder ActivityReplay needs a data set with per-layer activity (RecordedActivity or "
                             f"SyntheticActivity), not {self.dataset.type_name}")


class System(Component):
    """The accelerator: clock, memory hierarchy and PE array, wired DRAM -> GLB -> LBUF -> array."""

    type_name = "System"
    summary = "SpikeX-style accelerator: DRAM channel, global buffer, local buffer and a PE array."
    clock = Param(int, "500MHz", "clock of the PE array and buffers; the simulator counts its cycles", unit="Hz",
                  min_value=1, max_value=10**12)
    write_back = Param(str, "next_step", "when write-backs use the memory: next_step (within the next step's memory "
                                         "phase; latency equals the closed form) or concurrent (a process of their own "
                                         "that contends with loads for DRAM channels and buffer ports)",
                       choices=("next_step", "concurrent"))
    mapper = Param(str, "edp", "what the mapper minimises when it picks each layer's time-block size and what "
                               "stays in the GLB: edp, energy, latency, or monotone (DRAM bytes and stall cycles "
                               "never grow when a buffer grows)", choices=OBJECTIVES)
    dram = Child(DRAMModel, "off-chip memory channel", default_type="DRAMChannel")
    glb = Child(SRAMModel, "global buffer", default_type="SRAMBuffer")
    lbuf = Child(SRAMModel, "local buffer next to the array", default_type="SRAMBuffer")
    array = Child(PEArray, "the PE array and its dataflow", default_type="SpikeXArray")

    def wire(self) -> None:
        """Connect the levels in order; each connection checks the ports' roles."""
        self.dram.connect("downstream", self.glb, "upstream")
        self.glb.connect("downstream", self.lbuf, "upstream")
        self.lbuf.connect("downstream", self.array, "upstream")
