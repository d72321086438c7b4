"""Physical quantities in config files: parsing `54KiB`, `30GB/s`, `500MHz`, `100ns`.

Decimal prefixes are powers of 1000 and binary prefixes powers of 1024 (GB is 1e9 bytes,
GiB is 2^30 bytes). Values are returned as `fractions.Fraction` in SI base units (bytes,
bytes per second, hertz, seconds, picojoules for energy, bits) so that clock-domain
conversions stay exact; callers turn them into ints or floats at the edges.
"""

import math
import re
from fractions import Fraction

DECIMAL_PREFIXES = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BINARY_PREFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
SMALL_PREFIXES = {"": Fraction(1), "m": Fraction(1, 10**3), "u": Fraction(1, 10**6),
                  "µ": Fraction(1, 10**6), "n": Fraction(1, 10**9), "p": Fraction(1, 10**12)}

# Each unit kind: the suffixes it accepts after the prefix and the factor to its base unit.
UNIT_KINDS = {
    "bytes": {"B": 1, "bit": Fraction(1, 8), "b": Fraction(1, 8)},
    "bits": {"bit": 1, "b": 1, "B": 8},
    "bytes/s": {"B/s": 1, "bit/s": Fraction(1, 8), "b/s": Fraction(1, 8), "Bps": 1},
    "Hz": {"Hz": 1},
    "s": {"s": 1},
    "pJ": {"J": 10**12},
    "W": {"W": 1},
}
BASE_UNIT_NAMES = {"bytes": "B", "bits": "bit", "bytes/s": "B/s", "Hz": "Hz", "s": "s", "pJ": "pJ", "W": "W"}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ/]*)\s*$")


# Bounds of the written number: wider than any physical quantity of a hardware config.
MAX_MANTISSA_CHARS = 40
MAX_DECIMAL_EXPONENT = 30


class UnitError(ValueError):
    """A quantity that does not parse, or whose unit does not fit the parameter."""


def _prefix_factor(prefix: str, kind: str) -> Fraction | None:
    if prefix in BINARY_PREFIXES and kind in ("bytes", "bits", "bytes/s"):
        return Fraction(BINARY_PREFIXES[prefix])
    if kind in ("s", "pJ", "W") and prefix in SMALL_PREFIXES:
        return SMALL_PREFIXES[prefix]
    if prefix in DECIMAL_PREFIXES:
        return Fraction(DECIMAL_PREFIXES[prefix])
    return None


def parse_quantity(value, kind: str) -> Fraction:
    """Parse `value` (a number in base units or a string with a unit) into base units of `kind`.

    Raises `UnitError` with the accepted units when the text does not parse or does not fit.
    """
    if kind not in UNIT_KINDS:
        raise KeyError(f"unknown unit kind {kind!r}")
    if isinstance(value, bool):
        raise UnitError(f"expected a quantity in {BASE_UNIT_NAMES[kind]}, got a boolean")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnitError(f"expected a finite quantity, got {value}")
        return Fraction(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a quantity such as {example_for(kind)!r}, got {type(value).__name__}")
    match = _QUANTITY.match(value)
    if not match:
        raise UnitError(f"{value!r} is not a quantity; write a number and a unit such as {example_for(kind)!r}")
    number_text = match.group(1)
    mantissa, _, exponent = number_text.lower().partition("e")
    if len(mantissa) > MAX_MANTISSA_CHARS or (exponent and abs(int(exponent)) > MAX_DECIMAL_EXPONENT):
        # Fraction("1e999999999") would build a billion-digit integer before any range check.
        raise UnitError(f"{value[:40]!r} is out of range; write the quantity with a unit prefix such as "
                        f"{example_for(kind)!r}")
    number = Fraction(number_text)
    unit = match.group(2)
    if unit == "":
        return number
    suffixes = UNIT_KINDS[kind]
    for suffix in sorted(suffixes, key=len, reverse=True):
        if unit.endswith(suffix):
            factor = _prefix_factor(unit[: -len(suffix)], kind)
            if factor is not None:
                return number * factor * suffixes[suffix]
    raise UnitError(
        f"unit {unit!r} in {value!r} does not fit a quantity in {BASE_UNIT_NAMES[kind]}; "
        f"write it like {example_for(kind)!r}"
    )


def example_for(kind: str) -> str:
    """Return an example quantity for error messages."""
    return {"bytes": "54KiB", "bits": "8bit", "bytes/s": "30GB/s", "Hz": "500MHz", "s": "100ns",
            "pJ": "1.5pJ", "W": "2mW"}[kind]


def format_quantity(value: Fraction, kind: str) -> str | int | float:
    """Return the base-unit value as written into the resolved config (int when whole)."""
    if value.denominator == 1:
        return int(value)
    return float(value)


def cycles_to_seconds(cycles: int, clock_hz) -> Fraction:
    """Return the time of `cycles` cycles of a `clock_hz` clock in seconds, exactly.

    Multiplying the result by another clock converts between clock domains without rounding:
    10,000 cycles at 1,600 MHz are 6.25 us, which is 6,250 cycles at 1 GHz.
    """
    return Fraction(cycles) / Fraction(clock_hz)


def format_bandwidth(byte_count: int, seconds: Fraction) -> str:
    """Describe an average bandwidth in decimal and binary units, e.g. '59.37 GB/s (55.29 GiB/s)'.

    3.2e8 bytes in 5.390135 ms is 59.37 GB/s, which is 55.29 GiB/s; 384 bytes over 81,306
    cycles at 1.2 GHz is 5.67 MB/s. A zero duration gives '0 B/s'.
    """
    if not seconds:
        return "0 B/s"
    rate = Fraction(byte_count) / Fraction(seconds)
    decimal = _scaled(rate, 1000, ("B/s", "kB/s", "MB/s", "GB/s", "TB/s"))
    binary = _scaled(rate, 1024, ("B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"))
    return f"{decimal} ({binary})"


def _scaled(rate: Fraction, base: int, names: tuple[str, ...]) -> str:
    value = float(rate)
    index = 0
    while value >= base and index < len(names) - 1:
        value /= base
        index += 1
    return f"{value:.2f} {names[index]}"
