"""A DRAM channel billed per burst: bandwidth, access latency and burst size.

Every transfer of a step is rounded up to whole bursts (a scattered weight costs a whole
burst), the channel moves bursts at its peak bandwidth, and a step that touches DRAM pays
the access latency once. Row-buffer state is not modelled.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from spikex_sim.component import Param
from spikex_sim.system import DRAMModel


class DRAMChannel(DRAMModel):
    type_name = "DRAMChannel"
    summary = "One off-chip channel: peak bandwidth, access latency, whole-burst billing."
    bandwidth = Param(int, "30GB/s", "peak bandwidth of the channel", unit="bytes/s", min_value=0, min_exclusive=True)
    latency = Param(int, "100ns", "access latency paid once by every step that touches DRAM", unit="s", min_value=0)
    burst = Param(int, "64B", "bytes moved by one burst; transfers are rounded up to whole bursts", unit="bytes",
                  min_value=1)

    def validate(self) -> None:
        if self.burst.denominator != 1:
            raise ValueError(f"dram.burst must be a whole number of bytes, got {float(self.burst)} B")

    def bursts(self, byte_counts: np.ndarray) -> np.ndarray:
        burst = int(self.burst)
        return -(-np.asarray(byte_counts, dtype=np.int64) // burst)

    def step_cycles(self, bursts_per_step: np.ndarray, clock_hz: Fraction) -> np.ndarray:
        """Return the channel cycles of each step from its burst count (in array clock cycles)."""
        bursts_per_step = np.asarray(bursts_per_step, dtype=np.int64)
        # cycles = ceil(bursts * burst * clock / bandwidth), exact in integers
        numerator = bursts_per_step * int(self.burst) * clock_hz.numerator * self.bandwidth.denominator
        denominator = clock_hz.denominator * self.bandwidth.numerator
        transfer = -(-numerator // denominator)
        latency_cycles = int(-(-(self.latency * clock_hz) // 1))
        return np.where(bursts_per_step > 0, transfer + latency_cycles, 0)
