"""Energy as data: per-action energy tables in YAML, and energy = counts x table.

A table gives the energy of a DRAM bit or burst and of an SRAM read and write (by capacity,
for a reference width). It also gives the energy of an add, a register access and a
comparison by bit width, and the leakage power of each component, each number with its
source. Energy is billed per action from the counts that the run records, so every number in
the energy trace can be recomputed from the `count` and `energy_per_action_pj` columns.
`docs/energy.md` describes the schema.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from spikex_sim.component import Component, Param
from spikex_sim.errors import ConfigError
from spikex_sim.paths import resolve_reference
from spikex_sim.safe_yaml import parse_yaml, read_text

SUPPORTED_VERSIONS = (1,)
REQUIRED_KEYS = ("name", "version", "dram", "sram", "add_pj_by_bits", "leakage_mw")
OPTIONAL_KEYS = ("node_nm", "sources")
# Each pair is one quantity written in one of two forms: a single energy or one per bit width.
EITHER_KEYS = (("register_pj_per_access", "register_pj_by_bits"), ("compare_pj", "compare_pj_by_bits"))
TABLE_KEYS = frozenset(REQUIRED_KEYS + OPTIONAL_KEYS + tuple(key for pair in EITHER_KEYS for key in pair))
DRAM_PER_BIT_KEYS = frozenset({"access_pj_per_bit", "write_pj_per_bit"})
DRAM_PER_BURST_KEYS = frozenset({"burst_bytes", "burst_pj", "write_burst_pj"})
SRAM_KEYS = frozenset({"reference_width_bits", "points"})
LEAKAGE_COMPONENTS = ("dram", "glb", "lbuf", "array")
# Every dynamic action that `spikex_sim.evaluate.energy_rows` bills, as (component, action).
DYNAMIC_ACTIONS = (("dram", "read_burst"), ("dram", "write_burst"), ("glb", "read"), ("glb", "write"),
                   ("lbuf", "read"), ("lbuf", "write"), ("array", "accumulate"), ("array", "weight_register"),
                   ("array", "membrane_update"), ("array", "compare"))


def leakage_pj_per_cycle(power_mw: float, clock_hz: Fraction) -> float:
    """Return the energy (pJ) that `power_mw` milliwatts spend in one cycle of `clock_hz`."""
    # 1 mW for 1 s is 1e-3 J, which is 1e9 pJ.
    return float(Fraction(power_mw) * 10**9 / Fraction(clock_hz))


def average_power_w(energy_pj, seconds) -> Fraction:
    """Return the mean power (W) of `energy_pj` picojoules spent over `seconds`, exactly."""
    return Fraction(energy_pj) / 10**12 / Fraction(seconds)


def energy_for_width(entries: float | dict[int, float], bits: int) -> float:
    """Return the energy of an operation on `bits` bits from a single value or a per-width map.

    A per-width map gives the entry of the next wider width; above the widest entry the
    energy scales linearly with the width (an estimate).
    """
    if not isinstance(entries, dict):
        return entries
    widths = sorted(entries)
    for width in widths:
        if bits <= width:
            return entries[width]
    return entries[widths[-1]] * bits / widths[-1]


class ActionEnergyTable:
    """Base of the energy tables that `energy_rows` bills with: per-action pJ and leakage mW."""

    name: str
    leakage_mw: dict[str, float]

    def dynamic_energies(self, system, membrane_bits: int, weight_bits: int) -> dict[tuple[str, str], float]:
        """Return the pJ of one action for every pair in `DYNAMIC_ACTIONS` on this system."""
        raise NotImplementedError

    def unit_energies(self, system, membrane_bits: int, weight_bits: int) -> dict[tuple[str, str], float]:
        """Return the pJ of every billed action, leakage as `(component, "leakage_cycle")` per clock cycle."""
        units = self.dynamic_energies(system, membrane_bits, weight_bits)
        for component in LEAKAGE_COMPONENTS:
            units[component, "leakage_cycle"] = leakage_pj_per_cycle(self.leakage_mw[component], system.clock)
        return units


@dataclass(frozen=True)
class EnergyTable(ActionEnergyTable):
    """Parsed per-action energies (pJ) and leakage powers (mW) of one YAML table."""

    name: str
    dram_read_pj_per_bit: float
    dram_write_pj_per_bit: float
    sram_reference_width_bits: int
    sram_points: tuple[tuple[int, float, float], ...]  # (capacity bytes, read pJ, write pJ) per reference-width access
    add_pj_by_bits: dict[int, float]
    register_pj: float | dict[int, float]
    compare_pj: float | dict[int, float]
    leakage_mw: dict[str, float]
    node_nm: float | None = None

    @property
    def dram_pj_per_bit(self) -> float:
        """Energy of one bit read from DRAM (pJ)."""
        return self.dram_read_pj_per_bit

    def dram_burst_pj(self, burst_bytes: int, write: bool = False) -> float:
        """Return the energy of one DRAM burst of `burst_bytes` bytes (a read unless `write`)."""
        per_bit = self.dram_write_pj_per_bit if write else self.dram_read_pj_per_bit
        return per_bit * burst_bytes * 8

    def sram_access_pj(self, size_bytes: int, width_bits: int, write: bool = False) -> float:
        """Return the energy of one access of `width_bits` to an SRAM of `size_bytes` (a read unless `write`).

        Between table points the energy is interpolated linearly in log(capacity). Below
        the smallest point it scales with the square root of capacity, and above the
        largest it extends the last segment linearly in log(capacity). Width scales
        linearly. Off the table points these are estimates, not CACTI runs.
        """
        column = 2 if write else 1
        points = [(point[0], point[column]) for point in self.sram_points]
        if size_bytes <= points[0][0]:
            base = points[0][1] * math.sqrt(size_bytes / points[0][0])
        else:
            segment = next(((low, high) for low, high in zip(points, points[1:]) if size_bytes <= high[0]),
                           (points[-2], points[-1]))
            (low_size, low_pj), (high_size, high_pj) = segment
            fraction = math.log(size_bytes / low_size) / math.log(high_size / low_size)
            base = low_pj + fraction * (high_pj - low_pj)
        return base * width_bits / self.sram_reference_width_bits

    def add_pj(self, bits: int) -> float:
        """Return the energy of one add of `bits` bits (the next wider table entry)."""
        return energy_for_width(self.add_pj_by_bits, bits)

    def register_pj_for(self, bits: int) -> float:
        """Return the energy of one access of a `bits`-bit register."""
        return energy_for_width(self.register_pj, bits)

    def compare_pj_for(self, bits: int) -> float:
        """Return the energy of one comparison of `bits`-bit values."""
        return energy_for_width(self.compare_pj, bits)

    def dynamic_energies(self, system, membrane_bits: int, weight_bits: int) -> dict[tuple[str, str], float]:
        burst = int(system.dram.burst)
        units = {("dram", "read_burst"): self.dram_burst_pj(burst),
                 ("dram", "write_burst"): self.dram_burst_pj(burst, write=True)}
        for level in ("glb", "lbuf"):
            buffer = getattr(system, level)
            units[level, "read"] = self.sram_access_pj(int(buffer.size), int(buffer.word))
            units[level, "write"] = self.sram_access_pj(int(buffer.size), int(buffer.word), write=True)
        units["array", "accumulate"] = self.add_pj(membrane_bits)
        units["array", "weight_register"] = self.register_pj_for(weight_bits)
        units["array", "membrane_update"] = self.add_pj(membrane_bits)
        units["array", "compare"] = self.compare_pj_for(membrane_bits)
        return units


def _number(value, source: str, key: str, *, positive: bool = False) -> float:
    valid = not isinstance(value, bool) and isinstance(value, (int, float))
    try:
        valid = valid and math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        valid = False
    if not valid or value < 0 or (positive and value == 0):
        kind = "a positive" if positive else "a non-negative"
        raise ConfigError(f"{key} must be {kind} number, got {value!r}", source=source, key=key)
    return float(value)


def _positive_int(value, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be a positive integer, got {value!r}", source=source, key=key)
    return value


def _check_keys(mapping: dict, allowed, source: str, where: str) -> None:
    """Raise `ConfigError` naming the first key of `mapping` that is not in `allowed`."""
    for key in mapping:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(sorted(allowed))}"
            name = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"unknown key {key!r}; {hint}", source=source, key=name)


def _mapping(data, source: str, key: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError(f"{key} must be a mapping, got {data!r}", source=source, key=key)
    return data


def _by_bits(data, source: str, key: str) -> dict[int, float]:
    entries = _mapping(data, source, key)
    if not entries:
        raise ConfigError(f"{key} must map at least one bit width to pJ", source=source, key=key)
    parsed = {}
    for bits, pj in entries.items():
        if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
            raise ConfigError(f"{key} keys must be positive bit widths, got {bits!r}", source=source, key=key)
        parsed[bits] = _number(pj, source, f"{key}.{bits}")
    return parsed


def _parse_dram(data, source: str) -> tuple[float, float]:
    """Return the (read, write) energies per bit of the `dram` section."""
    dram = _mapping(data, source, "dram")
    _check_keys(dram, DRAM_PER_BIT_KEYS | DRAM_PER_BURST_KEYS, source, "dram")
    if "access_pj_per_bit" in dram:
        if DRAM_PER_BURST_KEYS & set(dram):
            raise ConfigError("give either access_pj_per_bit or burst_bytes with burst_pj, not both",
                              source=source, key="dram")
        read = _number(dram["access_pj_per_bit"], source, "dram.access_pj_per_bit")
        write = _number(dram.get("write_pj_per_bit", read), source, "dram.write_pj_per_bit")
        return read, write
    if "write_pj_per_bit" in dram:
        raise ConfigError("write_pj_per_bit needs access_pj_per_bit; with burst_pj use write_burst_pj",
                          source=source, key="dram.write_pj_per_bit")
    for key in ("burst_bytes", "burst_pj"):
        if key not in dram:
            raise ConfigError(f"missing key {key!r}; dram needs access_pj_per_bit, or burst_bytes with burst_pj",
                              source=source, key=f"dram.{key}")
    bits = _positive_int(dram["burst_bytes"], source, "dram.burst_bytes") * 8
    read = _number(dram["burst_pj"], source, "dram.burst_pj") / bits
    write = _number(dram.get("write_burst_pj", dram["burst_pj"]), source, "dram.write_burst_pj") / bits
    return read, write


def _parse_sram(data, source: str) -> tuple[int, tuple[tuple[int, float, float], ...]]:
    sram = _mapping(data, source, "sram")
    _check_keys(sram, SRAM_KEYS, source, "sram")
    for key in sorted(SRAM_KEYS):
        if key not in sram:
            raise ConfigError(f"missing key {key!r}", source=source, key=f"sram.{key}")
    reference_width = _positive_int(sram["reference_width_bits"], source, "sram.reference_width_bits")
    points = sram["points"]
    if not isinstance(points, list) or len(points) < 2:
        raise ConfigError("sram.points must be a list of at least two [capacity_bytes, read_pj] or "
                          "[capacity_bytes, read_pj, write_pj] entries", source=source, key="sram.points")
    parsed = []
    for index, point in enumerate(points):
        key = f"sram.points[{index}]"
        if not isinstance(point, list) or len(point) not in (2, 3):
            raise ConfigError(f"{key} must be [capacity_bytes, read_pj] or [capacity_bytes, read_pj, write_pj], "
                              f"got {point!r}", source=source, key=key)
        capacity, read = (_number(value, source, key, positive=True) for value in point[:2])
        write = _number(point[2], source, key, positive=True) if len(point) == 3 else read
        if capacity != int(capacity):
            raise ConfigError(f"{key} capacity must be a whole number of bytes, got {point[0]!r}", source=source,
                              key=key)
        parsed.append((int(capacity), read, write))
    capacities = [capacity for capacity, _, _ in parsed]
    if len(set(capacities)) != len(capacities):
        # Interpolation divides by the log ratio of neighbouring capacities, which is zero for equal ones.
        raise ConfigError(f"sram.points lists a capacity twice ({sorted(capacities)}); give each capacity once",
                          source=source, key="sram.points")
    return reference_width, tuple(sorted(parsed))


def _parse_either(data: dict, keys: tuple[str, str], source: str) -> float | dict[int, float]:
    single, by_bits = keys
    if (single in data) == (by_bits in data):
        raise ConfigError(f"give exactly one of {single!r} and {by_bits!r}; energy tables have no silent defaults",
                          source=source, key=by_bits)
    if single in data:
        return _number(data[single], source, single)
    return _by_bits(data[by_bits], source, by_bits)


def _parse_leakage(data, source: str) -> dict[str, float]:
    leakage = _mapping(data, source, "leakage_mw")
    _check_keys(leakage, LEAKAGE_COMPONENTS, source, "leakage_mw")
    for component in LEAKAGE_COMPONENTS:
        if component not in leakage:
            raise ConfigError(f"missing key {component!r}; give the leakage of every component (0 for none)",
                              source=source, key=f"leakage_mw.{component}")
    return {component: _number(leakage[component], source, f"leakage_mw.{component}")
            for component in LEAKAGE_COMPONENTS}


def parse_energy_table(data, source: str) -> EnergyTable:
    """Validate a table mapping; every energy is required and unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError("an energy table must be a mapping", source=source)
    if "version" not in data:
        raise ConfigError(f"missing key 'version'; supported: {SUPPORTED_VERSIONS}", source=source, key="version")
    version = data["version"]
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ConfigError(f"unknown table version {version!r}; supported: {SUPPORTED_VERSIONS}", source=source,
                          key="version")
    _check_keys(data, TABLE_KEYS, source, "")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ConfigError(f"missing key {key!r}; energy tables have no silent defaults", source=source, key=key)
    if "sources" in data:
        _mapping(data["sources"], source, "sources")
    node_nm = _number(data["node_nm"], source, "node_nm", positive=True) if "node_nm" in data else None
    dram_read, dram_write = _parse_dram(data["dram"], source)
    reference_width, points = _parse_sram(data["sram"], source)
    return EnergyTable(
        name=str(data["name"]),
        dram_read_pj_per_bit=dram_read,
        dram_write_pj_per_bit=dram_write,
        sram_reference_width_bits=reference_width,
        sram_points=points,
        add_pj_by_bits=_by_bits(data["add_pj_by_bits"], source, "add_pj_by_bits"),
        register_pj=_parse_either(data, EITHER_KEYS[0], source),
        compare_pj=_parse_either(data, EITHER_KEYS[1], source),
        leakage_mw=_parse_leakage(data["leakage_mw"], source),
        node_nm=node_nm,
    )


def builtin_tables() -> list[str]:
    """Return the names of the tables shipped in `spikex_sim/energy_tables`."""
    folder = resources.files("spikex_sim") / "energy_tables"
    return sorted(entry.name[: -len(".yaml")] for entry in folder.iterdir() if entry.name.endswith(".yaml"))


class EnergyModel(Component):
    """Family of energy models: `load` returns an `ActionEnergyTable`."""

    abstract = True
    type_name = "EnergyModel"

    def load(self, base_dir: Path) -> ActionEnergyTable:
        raise NotImplementedError


class EnergyTableModel(EnergyModel):
    type_name = "EnergyTable"
    summary = "Per-action energies from a YAML table: a built-in name or a path relative to the config."
    table = Param(str, "spikex_32nm", "built-in table name (spikex_32nm, horowitz_45nm) or a YAML file path")

    def load(self, base_dir: Path) -> EnergyTable:
        builtin = resources.files("spikex_sim") / "energy_tables" / f"{self.table}.yaml"
        if builtin.is_file():
            text, source = builtin.read_text(encoding="utf-8"), f"built-in energy table {self.table}"
        else:
            path = resolve_reference(base_dir, self.table, "energy.table")
            if not path.is_file():
                raise ConfigError(f"energy table {self.table!r} is neither a built-in table "
                                  f"({', '.join(builtin_tables())}) nor a file", source=str(path), key="energy.table")
            text, source = read_text(path, "energy table"), str(path)
        return parse_energy_table(parse_yaml(text, source), source)
