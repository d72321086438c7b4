"""A DRAM channel billed per burst: bandwidth, access latency and burst size.

Every transfer of a step is rounded up to whole bursts (a scattered weight costs a whole
burst), the channel moves bursts at its peak bandwidth, and a step that touches DRAM pays
the access latency once. Row-buffer state is not modelled.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from spikex_sim.component import Param
from spikex_sim.errors import ConfigError
from spikex_sim.system import DRAMModel

# Products below 2**62 fit int64 with room for the sums of a layer's steps.
INT64_SAFE = 1 << 62


class DRAMChannel(DRAMModel):
    type_name = "DRAMChannel"
    summary = "One off-chip channel: peak bandwidth, access latency, whole-burst billing."
    bandwidth = Param(int, "30GB/s", "peak bandwidth of the channel", unit="bytes/s", min_value=1000,
                      max_value=10**15)
    latency = Param(int, "100ns", "access latency paid once by every step that touches DRAM", unit="s", min_value=0,
                    max_value=1)
    burst = Param(int, "64B", "bytes moved by one burst; transfers are rounded up to whole bursts", unit="bytes",
                  min_value=1, max_value=1 << 20)

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
        scale = int(self.burst) * clock_hz.numerator * self.bandwidth.denominator
        denominator = clock_hz.denominator * self.bandwidth.numerator
        latency_cycles = int(-(-(self.latency * clock_hz) // 1))
        max_bursts = int(bursts_per_step.max(initial=0))
        if max_bursts * scale < INT64_SAFE and denominator < INT64_SAFE:
            transfer = -(-(bursts_per_step * scale) // denominator)
        else:
            # A clock or bandwidth given as a binary float has a large numerator and denominator,
            # so the product would wrap in int64; Python integers keep it exact.
            cycles = [-(-(count * scale) // denominator) + latency_cycles for count in bursts_per_step.tolist()]
            if max(cycles, default=0) >= INT64_SAFE:
                raise ConfigError(f"one step needs {max(cycles)} DRAM cycles, more than the simulator counts; "
                                  "check system.clock and system.dram.bandwidth", key="system.dram")
            transfer = np.array(cycles, dtype=np.int64) - latency_cycles
        return np.where(bursts_per_step > 0, transfer + latency_cycles, 0)
