"""An on-chip SRAM buffer with fixed partitions per data type and double buffering.

Each data type (input spikes, weights, membrane potentials, output spikes) owns a fixed
share of the capacity. For streamed data, half of a share serves the array while the other
half is being filled, so a block is resident when it fits half its share. Membrane
potentials are updated in place and need no second half.

Transfers are counted in words of `word` bits: moving a 3x3 kernel of 8-bit weights is 9
reads here and 9 writes at the destination. The buffer moves up to banks x ports rows of
`width` bits per cycle.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.component import Param
from spikex_sim.system import SRAMModel

DATA_TYPES = ("spikes", "weights", "vmem", "spikes_out")


def _check_partitions(value) -> str | None:
    unknown = sorted((key for key in value if key not in DATA_TYPES), key=repr)
    if unknown:
        return f"unknown data types {unknown}; use {', '.join(DATA_TYPES)}"
    missing = [key for key in DATA_TYPES if key not in value]
    if missing:
        return (f"missing shares for {', '.join(missing)}; give all of {', '.join(DATA_TYPES)} "
                "(a --set of one share replaces the whole mapping)")
    for key, share in value.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            return f"share of {key!r} must be a number from 0 to 1, got {share!r}"
    total = sum(value.values())
    if total > 1 + 1e-9:
        return f"shares add up to {total:g}, more than the whole buffer"
    return None


def _check_pin(value) -> str | None:
    for item in value:
        if not isinstance(item, str) or item not in DATA_TYPES:
            return f"{item!r} is not a data type; use {', '.join(DATA_TYPES)}"
    if len(set(value)) != len(value):
        return "a data type is listed twice"
    return None


class SRAMBuffer(SRAMModel):
    type_name = "SRAMBuffer"
    summary = "On-chip SRAM with per-data-type partitions, double buffered, counted in words."
    size = Param(int, "54KB", "capacity", unit="bytes", min_value=0, min_exclusive=True, max_value=1 << 40)
    width = Param(int, "64bit", "bits of one row: what one port moves per cycle", unit="bits", min_value=8,
                  max_value=8192)
    word = Param(int, "8bit", "bits of one data word; reads, writes and their energy are counted in words",
                 unit="bits", min_value=1, max_value=8192)
    ports = Param(int, 2, "row accesses served per cycle by each bank", min_value=1, max_value=64)
    banks = Param(int, 1, "independent banks; peak throughput is banks x ports rows per cycle", min_value=1,
                  max_value=1024)
    bandwidth = Param(int, None, "words per cycle, at most banks x ports x width / word (the default)",
                      min_value=1, max_value=1 << 30, nullable=True)
    ideal = Param(bool, False, "take no time for any access (a bound for studies); accesses and energy still count")
    partitions = Param(dict, {"spikes": 0.3, "weights": 0.35, "vmem": 0.25, "spikes_out": 0.1},
                       "share of the capacity owned by each data type (spikes, weights, vmem, spikes_out)",
                       check=_check_partitions)
    pin = Param(list, [], "data types whose whole per-layer block must stay resident here (GLB: spikes, "
                          "weights, vmem; LBUF: weights); a block that does not fit stops the run before it starts",
                check=_check_pin)

    def validate(self) -> None:
        if self.size.denominator != 1 or self.width.denominator != 1:
            raise ValueError(f"{self.path}: size and width must be whole bytes and bits")
        if int(self.width) % 8:
            raise ValueError(f"{self.path}.width must be a whole number of bytes, got {int(self.width)} bits")
        if int(self.width) % int(self.word):
            raise ValueError(f"{self.path}.width of {int(self.width)} bits is not a whole number of "
                             f"{int(self.word)}-bit words")
        if self.bandwidth is not None and self.bandwidth > self.peak_words_per_cycle:
            raise ValueError(
                f"{self.path}.bandwidth of {self.bandwidth} words per cycle exceeds banks x ports x width / word = "
                f"{self.banks} x {self.ports} x {int(self.width)} / {int(self.word)} = {self.peak_words_per_cycle}"
            )
        row_bytes = int(self.width) // 8
        if int(self.size) % row_bytes:
            raise ValueError(
                f"{self.path}.size of {int(self.size)} bytes is not a whole number of {row_bytes}-byte rows"
            )

    @property
    def peak_words_per_cycle(self) -> int:
        return self.banks * self.ports * (int(self.width) // int(self.word))

    @property
    def words_per_cycle(self) -> int:
        return self.peak_words_per_cycle if self.bandwidth is None else self.bandwidth

    def partition_bytes(self, data_type: str) -> int:
        """Return half of the data type's share (the other half is the double buffer)."""
        return self.share_bytes(data_type) // 2

    def share_bytes(self, data_type: str) -> int:
        """Return the data type's whole share of the capacity."""
        return int(int(self.size) * self.partitions.get(data_type, 0))

    def accesses(self, byte_counts: np.ndarray) -> np.ndarray:
        """Return the word accesses that move `byte_counts` bytes (a partial word costs a whole one)."""
        bits = np.asarray(byte_counts, dtype=np.int64) * 8
        return -(-bits // int(self.word))

    def step_cycles(self, accesses: np.ndarray) -> np.ndarray:
        accesses = np.asarray(accesses, dtype=np.int64)
        if self.ideal:
            return np.zeros_like(accesses)
        return -(-accesses // self.words_per_cycle)
