"""A DRAM channel billed per burst, with an optional row-buffer model.

Every contiguous piece of a transfer is rounded up to whole bursts (a scattered weight
costs a whole burst), and the channels move bursts at their peak bandwidth. Without a
row-buffer model (`page_policy: none`), a step that touches DRAM pays `latency` once. With
`open` pages, every new row a piece enters costs a precharge and an activation
(tRP + tRCD) and the step pays the CAS latency tCL once; with `closed` pages, every burst
activates its row (tRCD). Pieces start at a row boundary. Bank parallelism, refresh and
bus turnarounds are not modelled.

Row-buffer defaults are DDR4-2400 (17-17-17) on a 64-bit channel of eight x8 devices
(Micron MT40A1G8): tRCD = tRP = tCL = 14.16 ns and a 1 KiB page per device, so an 8 KiB row,
as in gem5's `DDR4_2400_8x8` interface (src/python/gem5/components/memory/dram_interfaces/
ddr4.py). The SpikeX paper gives only the 30 GB/s bandwidth.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from spikex_sim.component import Param
from spikex_sim.errors import ConfigError
from spikex_sim.system import DRAMModel

# Products below 2**62 fit int64 with room for the sums of a layer's steps.
INT64_SAFE = 1 << 62
PAGE_POLICIES = ("none", "open", "closed")


def _ceil_cycles(counts: np.ndarray, numerator: int, denominator: int) -> np.ndarray:
    """Return ceil(counts * numerator / denominator) exactly, elementwise."""
    counts = np.asarray(counts, dtype=np.int64)
    largest = int(counts.max(initial=0))
    if largest * numerator < INT64_SAFE and denominator < INT64_SAFE:
        return -(-(counts * numerator) // denominator)
    # A clock or bandwidth given as a binary float has a large numerator and denominator,
    # so the product would wrap in int64; Python integers keep it exact.
    cycles = [-(-(count * numerator) // denominator) for count in counts.tolist()]
    if max(cycles, default=0) >= INT64_SAFE:
        raise ConfigError(f"one step needs {max(cycles)} DRAM cycles, more than the simulator counts; "
                          "check system.clock and system.dram", key="system.dram")
    return np.array(cycles, dtype=np.int64)


class DRAMChannel(DRAMModel):
    type_name = "DRAMChannel"
    summary = "Off-chip channels: peak bandwidth, whole-burst billing, optional open/closed-page row buffer."
    bandwidth = Param(int, "30GB/s", "peak bandwidth of one channel; null for unlimited", unit="bytes/s",
                      min_value=1000, max_value=10**15, nullable=True)
    channels = Param(int, 1, "independent channels sharing the traffic", min_value=1, max_value=64)
    latency = Param(int, "100ns", "access latency paid once by every step that touches DRAM (page_policy none)",
                    unit="s", min_value=0, max_value=1)
    burst = Param(int, "64B", "bytes moved by one burst; each contiguous piece is rounded up to whole bursts",
                  unit="bytes", min_value=1, max_value=1 << 20)
    page_policy = Param(str, "none", "row-buffer model: none, open (row hits are free, misses pay tRP + tRCD) "
                                     "or closed (every burst pays tRCD)", choices=PAGE_POLICIES)
    row_bytes = Param(int, "8KiB", "bytes of one open row across the channel", unit="bytes", min_value=1,
                      max_value=1 << 30)
    t_rcd = Param(int, "14.16ns", "activate-to-read delay tRCD", unit="s", min_value=0, max_value=1)
    t_rp = Param(int, "14.16ns", "precharge time tRP", unit="s", min_value=0, max_value=1)
    t_cl = Param(int, "14.16ns", "CAS latency tCL, paid once per step with a page policy", unit="s", min_value=0,
                 max_value=1)

    def validate(self) -> None:
        if self.burst.denominator != 1:
            raise ValueError(f"dram.burst must be a whole number of bytes, got {float(self.burst)} B")
        if self.row_bytes.denominator != 1 or int(self.row_bytes) % int(self.burst):
            raise ValueError(f"dram.row_bytes ({float(self.row_bytes):g} B) must be a whole number of "
                             f"{int(self.burst)}-byte bursts")

    def bursts(self, byte_counts: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
        """Return the bursts that move `byte_counts` bytes in `segments` equal contiguous pieces."""
        byte_counts = np.asarray(byte_counts, dtype=np.int64)
        pieces = np.ones_like(byte_counts) if segments is None else np.maximum(np.asarray(segments), 1)
        piece_bytes = -(-byte_counts // pieces)
        return np.where(byte_counts > 0, pieces * -(-piece_bytes // int(self.burst)), 0)

    def row_misses(self, byte_counts: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
        """Return the row activations that the pieces of each transfer cause."""
        byte_counts = np.asarray(byte_counts, dtype=np.int64)
        if self.page_policy == "none":
            return np.zeros_like(byte_counts)
        if self.page_policy == "closed":
            return self.bursts(byte_counts, segments)
        pieces = np.ones_like(byte_counts) if segments is None else np.maximum(np.asarray(segments), 1)
        piece_bytes = -(-byte_counts // pieces)
        return np.where(byte_counts > 0, pieces * -(-piece_bytes // int(self.row_bytes)), 0)

    def step_cycles(self, bursts_per_step: np.ndarray, clock_hz: Fraction,
                    misses_per_step: np.ndarray | None = None) -> np.ndarray:
        """Return the channel time of each step in array clock cycles."""
        bursts_per_step = np.asarray(bursts_per_step, dtype=np.int64)
        if self.bandwidth is None:
            transfer = np.zeros_like(bursts_per_step)
        else:
            # cycles = ceil(bursts * burst * clock / (bandwidth * channels)), exact in integers
            numerator = int(self.burst) * clock_hz.numerator * self.bandwidth.denominator
            denominator = clock_hz.denominator * self.bandwidth.numerator * self.channels
            transfer = _ceil_cycles(bursts_per_step, numerator, denominator)
        if self.page_policy == "none":
            fixed = self.latency
            per_miss = Fraction(0)
        else:
            fixed = self.t_cl
            per_miss = (self.t_rp + self.t_rcd) if self.page_policy == "open" else self.t_rcd
        fixed_cycles = int(-(-(fixed * clock_hz) // 1))
        if misses_per_step is None or per_miss == 0:
            row_cycles = np.zeros_like(bursts_per_step)
        else:
            scaled = per_miss * clock_hz / self.channels
            row_cycles = _ceil_cycles(misses_per_step, scaled.numerator, scaled.denominator)
        return np.where(bursts_per_step > 0, transfer + row_cycles + fixed_cycles, 0)

    def bill_accesses(self, count: int, size: int, stride: int, clock_hz: Fraction, coalesce: bool) -> dict:
        """Bill `count` reads of `size` bytes, `stride` bytes apart, as bursts on one channel.

        Without coalescing every read issues its own bursts; with it, reads that fall into
        the same burst-aligned block share that burst. Returns bursts, bytes on the bus
        and transfer cycles (no latency).
        """
        burst = int(self.burst)
        if coalesce:
            starts = np.arange(count, dtype=np.int64) * stride
            first = starts // burst
            last = (starts + size - 1) // burst
            touched = np.unique(np.concatenate([np.arange(a, b + 1) for a, b in zip(first.tolist(), last.tolist())]))
            bursts = int(len(touched))
        else:
            bursts = count * -(-size // burst)
        cycles = int(self.step_cycles(np.array([bursts]), clock_hz)[0]) - int(-(-(self.latency * clock_hz) // 1))
        return {"bursts": bursts, "bus_bytes": bursts * burst, "cycles": cycles}
