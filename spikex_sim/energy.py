"""Energy as data: per-action energy tables in YAML, and energy = counts x table.

A table gives the energy of a DRAM bit, of an SRAM access (by capacity, for a reference
width), of an add by bit width, of a register access and of a comparison, and the leakage
power of each component, each number with its source. Energy is billed per action from the
counts that the run records, so every number in the energy trace can be recomputed from
the `count` and `energy_per_action_pj` columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


from spikex_sim.component import Component, Param
from spikex_sim.errors import ConfigError
from spikex_sim.safe_yaml import parse_yaml, read_text

TABLE_KEYS = {"name", "node_nm", "version", "sources", "dram", "sram", "add_pj_by_bits", "register_pj_per_access",
              "compare_pj", "leakage_mw"}
SUPPORTED_VERSIONS = (1,)


@dataclass(frozen=True)
class EnergyTable:
    """Parsed per-action energies (pJ) and leakage powers (mW)."""

    name: str
    dram_pj_per_bit: float
    sram_reference_width_bits: int
    sram_points: tuple[tuple[int, float], ...]  # (capacity bytes, pJ per reference-width access)
    add_pj_by_bits: dict[int, float]
    register_pj_per_access: float
    compare_pj: float
    leakage_mw: dict[str, float]

    def sram_access_pj(self, size_bytes: int, width_bits: int) -> float:
        """Return the energy of one access of `width_bits` to an SRAM of `size_bytes`.

        Between table points the energy is interpolated linearly in log(capacity); below
        the smallest point it scales with the square root of capacity, and above the
        largest linearly in log(capacity) from the last segment. Width scales linearly.
        These are estimates, not CACTI runs.
        """
        points = self.sram_points
        if size_bytes <= points[0][0]:
            base = points[0][1] * math.sqrt(size_bytes / points[0][0])
        else:
            base = None
            for (low_size, low_pj), (high_size, high_pj) in zip(points, points[1:]):
                if size_bytes <= high_size:
                    fraction = math.log(size_bytes / low_size) / math.log(high_size / low_size)
                    base = low_pj + fraction * (high_pj - low_pj)
                    break
            if base is None:
                (low_size, low_pj), (high_size, high_pj) = points[-2], points[-1]
                fraction = math.log(size_bytes / low_size) / math.log(high_size / low_size)
                base = low_pj + fraction * (high_pj - low_pj)
        return base * width_bits / self.sram_reference_width_bits

    def add_pj(self, bits: int) -> float:
        """Return the energy of one add of `bits` bits (the next wider table entry)."""
        widths = sorted(self.add_pj_by_bits)
        for width in widths:
            if bits <= width:
                return self.add_pj_by_bits[width]
        return self.add_pj_by_bits[widths[-1]] * bits / widths[-1]


def _number(data: dict, key: str, source: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}.{key} must be a non-negative number, got {value!r}", source=source, key=f"{where}.{key}")
    return float(value)


def _is_positive_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def parse_energy_table(data, source: str) -> EnergyTable:
    """Validate a table mapping; every key is required and unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError("an energy table must be a mapping", source=source)
    for key in data:
        if key not in TABLE_KEYS:
            raise ConfigError(f"unknown key {key!r}; valid keys: {', '.join(sorted(TABLE_KEYS))}", source=source, key=str(key))
    for key in TABLE_KEYS - {"sources", "node_nm"}:
        if key not in data:
            raise ConfigError(f"missing key {key!r}; energy tables have no silent defaults", source=source, key=key)
    if data["version"] not in SUPPORTED_VERSIONS:
        raise ConfigError(f"unknown table version {data['version']!r}; supported: {SUPPORTED_VERSIONS}", source=source,
                          key="version")
    dram = data["dram"]
    sram = data["sram"]
    if not isinstance(dram, dict) or set(dram) != {"access_pj_per_bit"}:
        raise ConfigError("dram must contain exactly access_pj_per_bit", source=source, key="dram")
    if not isinstance(sram, dict) or set(sram) != {"reference_width_bits", "points"}:
        raise ConfigError("sram must contain exactly reference_width_bits and points", source=source, key="sram")
    points = sram["points"]
    if not isinstance(points, list) or len(points) < 2 or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_positive_number(v) for v in p) for p in points):
        raise ConfigError("sram.points must be at least two [capacity_bytes, pJ] pairs of positive finite numbers",
                          source=source, key="sram.points")
    capacities = [int(size) for size, _ in points]
    if len(set(capacities)) != len(capacities):
        # Interpolation divides by the log ratio of neighbouring capacities, which is zero for equal ones.
        raise ConfigError(f"sram.points lists a capacity twice ({sorted(capacities)}); give each capacity once",
                          source=source, key="sram.points")
    reference_width = sram["reference_width_bits"]
    if isinstance(reference_width, bool) or not isinstance(reference_width, int) or reference_width < 1:
        raise ConfigError(f"sram.reference_width_bits must be a positive integer, got {reference_width!r}",
                          source=source, key="sram.reference_width_bits")
    adds = data["add_pj_by_bits"]
    if not isinstance(adds, dict) or not adds:
        raise ConfigError("add_pj_by_bits must map bit widths to pJ", source=source, key="add_pj_by_bits")
    for bits in adds:
        if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
            raise ConfigError(f"add_pj_by_bits keys must be positive bit widths, got {bits!r}", source=source,
                              key="add_pj_by_bits")
    leakage = data["leakage_mw"]
    if not isinstance(leakage, dict):
        raise ConfigError("leakage_mw must map components to mW", source=source, key="leakage_mw")
    for component in ("dram", "glb", "lbuf", "array"):
        _number(leakage, component, source, "leakage_mw")
    for component in leakage:
        _number(leakage, component, source, "leakage_mw")
    return EnergyTable(
        name=str(data["name"]),
        dram_pj_per_bit=_number(dram, "access_pj_per_bit", source, "dram"),
        sram_reference_width_bits=reference_width,
        sram_points=tuple(sorted((int(size), float(pj)) for size, pj in points)),
        add_pj_by_bits={int(bits): _number(adds, bits, source, "add_pj_by_bits") for bits in adds},
        register_pj_per_access=_number(data, "register_pj_per_access", source, "table"),
        compare_pj=_number(data, "compare_pj", source, "table"),
        leakage_mw={key: float(value) for key, value in leakage.items()},
    )


class EnergyModel(Component):
    """Family of energy models."""

    abstract = True
    type_name = "EnergyModel"


class EnergyTableModel(EnergyModel):
    type_name = "EnergyTable"
    summary = "Per-action energies from a YAML table: a built-in name or a path relative to the config."
    table = Param(str, "horowitz_45nm", "built-in table name (horowitz_45nm) or a YAML file path")

    def load(self, base_dir: Path) -> EnergyTable:
        builtin = resources.files("spikex_sim") / "energy_tables" / f"{self.table}.yaml"
        if builtin.is_file():
            text, source = builtin.read_text(encoding="utf-8"), f"built-in energy table {self.table}"
        else:
            path = (base_dir / self.table).resolve()
            if not path.is_file():
                raise ConfigError(f"energy table {self.table!r} is neither a built-in table nor a file",
                                  source=str(path), key="energy.table")
            text, source = read_text(path, "energy table"), str(path)
        return parse_energy_table(parse_yaml(text, source), source)
