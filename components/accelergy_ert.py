"""Per-action energies from an Accelergy energy reference table (ERT).

Accelergy (Y. N. Wu, J. S. Emer, V. Sze, ICCAD 2019) writes `ERT.yaml`: a list of
architecture components, each with its actions, their arguments and the energy of one
action in pJ. The `map` parameter names the ERT component and action that stands for each
action billed here. Every billed action must resolve to an ERT entry or to an explicit 0, so a
missing or misspelled name is a load-time `ConfigError`, never a silent default energy.
`docs/energy.md` shows a full mapping.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from spikex_sim.component import Param
from spikex_sim.energy import LEAKAGE_COMPONENTS, ActionEnergyTable, EnergyModel
from spikex_sim.errors import ConfigError
from spikex_sim.paths import resolve_reference
from spikex_sim.safe_yaml import parse_yaml, read_text

ERT_VERSIONS = ("0.3", "0.4")
# The actions billed for each component; `leakage` is a power, billed per clock cycle.
COMPONENT_ACTIONS = {
    "dram": ("read_burst", "write_burst", "leakage"),
    "glb": ("read", "write", "leakage"),
    "lbuf": ("read", "write", "leakage"),
    "array": ("accumulate", "weight_register", "membrane_update", "compare", "leakage"),
}
# Accelergy's action names for memories. The array's actions have no default: the names of
# adders, MACs, registers and comparators differ between ERTs, so each must be mapped.
DEFAULT_ERT_ACTIONS = {"read_burst": "read", "write_burst": "write", "read": "read", "write": "write",
                       "leakage": "leak"}
ENTRY_KEYS = ("component", "width_bits", "actions")
ACTION_KEYS = ("component", "action", "arguments", "instances")
_INSTANCE_RANGE = re.compile(r"\[(\d+)\.\.(\d+)\]")


def _is_zero(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0


def _is_positive_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def _check_action_spec(spec, where: str) -> str | None:
    if _is_zero(spec) or (isinstance(spec, str) and spec):
        return None
    if not isinstance(spec, dict):
        return f"{where} must be an ERT action name, 0 (bill nothing) or a mapping with 'action', got {spec!r}"
    unknown = [key for key in spec if key not in ACTION_KEYS]
    if unknown:
        return f"{where} has unknown key {unknown[0]!r}; valid keys: {', '.join(ACTION_KEYS)}"
    if not isinstance(spec.get("action"), str) or not spec["action"]:
        return f"{where}.action must name the ERT action, got {spec.get('action')!r}"
    if "component" in spec and (not isinstance(spec["component"], str) or not spec["component"]):
        return f"{where}.component must name an ERT component, got {spec['component']!r}"
    if "arguments" in spec and spec["arguments"] is not None and not isinstance(spec["arguments"], dict):
        return f"{where}.arguments must be a mapping of ERT argument values, got {spec['arguments']!r}"
    if "instances" in spec and not _is_positive_int(spec["instances"]):
        return f"{where}.instances must be a positive integer, got {spec['instances']!r}"
    return None


def _check_entry(component: str, entry) -> str | None:
    where = f"map.{component}"
    if isinstance(entry, str) and entry:
        entry = {"component": entry}
    if not isinstance(entry, dict):
        return f"{where} must be an ERT component name or a mapping with 'component', got {entry!r}"

    unknown = [key for key in entry if key not in ENTRY_KEYS]
    if unknown:
        near = difflib.get_close_matches(str(unknown[0]), ENTRY_KEYS, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(ENTRY_KEYS)}"
        return f"{where} has unknown key {unknown[0]!r}; {hint}"
    if not isinstance(entry.get("component"), str) or not entry["component"]:
        return f"{where}.component must name an ERT component, got {entry.get('component')!r}"
    if "width_bits" in entry and not _is_positive_int(entry["width_bits"]):
        return f"{where}.width_bits must be a positive integer, got {entry['width_bits']!r}"
    if component == "dram" and "width_bits" not in entry:
        return (f"{where}.width_bits is missing: give the bits of one ERT DRAM access (the DRAM's `width` "
                "attribute in Accelergy) so that bursts of any size can be billed per bit")

    actions = entry.get("actions", {})
    if not isinstance(actions, dict):
        return f"{where}.actions must map this simulator's actions to ERT actions, got {actions!r}"
    valid = COMPONENT_ACTIONS[component]
    for action, spec in actions.items():
        if action not in valid:
            near = difflib.get_close_matches(str(action), valid, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"valid actions: {', '.join(valid)}"
            return f"{where}.actions has unknown action {action!r}; {hint}"
        problem = _check_action_spec(spec, f"{where}.actions.{action}")
        if problem:
            return problem
        if action != "leakage" and isinstance(spec, dict) and "instances" in spec:
            return (f"{where}.actions.{action}.instances is only for leakage: every other action is billed "
                    "per instance")

    for action in valid:
        if action not in actions and action not in DEFAULT_ERT_ACTIONS:
            return (f"{where}.actions.{action} is not mapped; name the ERT action that stands for it "
                    "(or write 0 to bill nothing)")
    return None


def check_ert_map(value) -> str | None:
    """Return the first problem of an ERT `map` value, or None when its shape is valid."""
    unknown = [key for key in value if key not in COMPONENT_ACTIONS]
    if unknown:
        near = difflib.get_close_matches(str(unknown[0]), COMPONENT_ACTIONS, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"valid components: {', '.join(COMPONENT_ACTIONS)}"
        return f"map has unknown component {unknown[0]!r}; {hint}"
    for component in COMPONENT_ACTIONS:
        if component not in value:
            return (f"map.{component} is missing; map every component ({', '.join(COMPONENT_ACTIONS)}) "
                    "to an ERT component")
        problem = _check_entry(component, value[component])
        if problem:
            return problem
    return None


def _action_spec(entry, action: str):
    """Return (ERT component, ERT action, arguments or None, instances or None), or 0 to bill nothing."""
    if isinstance(entry, str):
        entry = {"component": entry}
    spec = entry.get("actions", {}).get(action, DEFAULT_ERT_ACTIONS.get(action))
    if _is_zero(spec):
        return 0
    if isinstance(spec, str):
        return entry["component"], spec, None, None
    return (spec.get("component", entry["component"]), spec["action"], spec.get("arguments"),
            spec.get("instances"))


def instances_in_name(name: str) -> int:
    """Return the instances that an ERT component name spans: `PE[0..15].mac[0..3]` is 64."""
    count = 1
    for low, high in _INSTANCE_RANGE.findall(name):
        count *= int(high) - int(low) + 1
    return count


def parse_ert(data, source: str) -> dict[str, dict[str, list[tuple[dict | None, float]]]]:
    """Return component -> action -> [(arguments, pJ)] from the parsed YAML of an ERT file.

    Keys that Accelergy may add inside a table or an action entry are ignored; the keys read
    here (name, actions, arguments, energy) are checked.
    """
    if not isinstance(data, dict) or set(data) != {"ERT"}:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"expected Accelergy's ERT.yaml with one top-level key 'ERT', found {found}; "
                          "ERT_summary.yaml is not supported", source=source, key="ERT")
    ert = data["ERT"]
    if not isinstance(ert, dict):
        raise ConfigError("ERT must be a mapping with version and tables", source=source, key="ERT")
    version = str(ert.get("version"))
    if version not in ERT_VERSIONS:
        raise ConfigError(f"unknown ERT version {ert.get('version')!r}; supported: {', '.join(ERT_VERSIONS)}",
                          source=source, key="ERT.version")
    tables = ert.get("tables")
    if not isinstance(tables, list):
        raise ConfigError("ERT.tables must be a list of components", source=source, key="ERT.tables")
    parsed: dict[str, dict[str, list[tuple[dict | None, float]]]] = {}
    for index, table in enumerate(tables):
        where = f"ERT.tables[{index}]"
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise ConfigError(f"{where} must be a mapping with a component name", source=source, key=where)
        name = table["name"]
        if name in parsed:
            raise ConfigError(f"component {name!r} is listed twice", source=source, key=f"{where}.name")
        actions = table.get("actions")
        if not isinstance(actions, list):
            raise ConfigError(f"{name}: actions must be a list", source=source, key=f"{where}.actions")
        parsed[name] = {}
        for number, action in enumerate(actions):
            key = f"{where}.actions[{number}]"
            if not isinstance(action, dict) or not isinstance(action.get("name"), str):
                raise ConfigError(f"{name}: each action needs a name", source=source, key=key)
            arguments = action.get("arguments")
            if arguments is not None and not isinstance(arguments, dict):
                raise ConfigError(f"{name}.{action['name']}: arguments must be a mapping or null", source=source,
                                  key=f"{key}.arguments")
            energy = action.get("energy")
            valid = not isinstance(energy, bool) and isinstance(energy, (int, float))
            if not valid or not math.isfinite(energy) or energy < 0:
                raise ConfigError(f"{name}.{action['name']}: energy must be a non-negative number of pJ, "
                                  f"got {energy!r}", source=source, key=f"{key}.energy")
            parsed[name].setdefault(action["name"], []).append((arguments or None, float(energy)))
    return parsed


def _lookup(ert: dict, spec, where: str, source: str) -> tuple[float, int]:
    """Return (pJ of one action, instances spanned by its component) for one resolved action spec."""
    component, action, arguments, instances = spec
    if component not in ert:
        near = difflib.get_close_matches(component, list(ert), n=3)
        hint = f"did you mean {', '.join(near)}?" if near else f"components: {', '.join(ert)}"
        raise ConfigError(f"the ERT has no component {component!r}; {hint}", source=source, key=where)
    actions = ert[component]
    if action not in actions:
        raise ConfigError(f"ERT component {component!r} has no action {action!r} (its actions: "
                          f"{', '.join(actions)}); map this action explicitly, or write 0 to bill nothing",
                          source=source, key=where)
    entries = actions[action]
    if arguments is not None:
        matches = [energy for entry_arguments, energy in entries if (entry_arguments or {}) == arguments]
        if not matches:
            variants = "; ".join(str(entry_arguments) for entry_arguments, _ in entries)
            raise ConfigError(f"{component}.{action} has no entry with arguments {arguments} (entries: {variants})",
                              source=source, key=where)
        energy = matches[0]
    elif len(entries) == 1:
        energy = entries[0][1]
    else:
        variants = "; ".join(str(entry_arguments) for entry_arguments, _ in entries)
        raise ConfigError(f"{component}.{action} has {len(entries)} entries with different arguments ({variants}); "
                          "choose one with `arguments`", source=source, key=where)
    return energy, instances or instances_in_name(component)


@dataclass(frozen=True)
class ERTEnergyTable(ActionEnergyTable):
    """Per-action energies (pJ) and leakage powers (mW) resolved from an ERT and a map."""

    name: str
    dram_read_pj_per_bit: float
    dram_write_pj_per_bit: float
    sram: dict[str, tuple[float, float, int | None]]  # level -> (read pJ, write pJ, ERT access bits or None)
    array_pj: dict[str, float]
    leakage_mw: dict[str, float]

    def dynamic_energies(self, system, membrane_bits: int, weight_bits: int) -> dict[tuple[str, str], float]:
        burst_bits = int(system.dram.burst) * 8
        units = {("dram", "read_burst"): self.dram_read_pj_per_bit * burst_bits,
                 ("dram", "write_burst"): self.dram_write_pj_per_bit * burst_bits}
        for level, (read, write, width) in self.sram.items():
            # Without width_bits one ERT access is one access of the buffer's word.
            scale = 1.0 if width is None else int(getattr(system, level).word) / width
            units[level, "read"] = read * scale
            units[level, "write"] = write * scale
        for action, energy in self.array_pj.items():
            units["array", action] = energy
        return units


def resolve_ert(ert: dict, mapping: dict, clock_hz: Fraction | None, source: str) -> ERTEnergyTable:
    """Resolve every billed action of `mapping` (already shape-checked) against a parsed ERT."""
    energies: dict[tuple[str, str], float] = {}
    leakage_mw = {}
    for component, actions in COMPONENT_ACTIONS.items():
        entry = mapping[component]
        for action in actions:
            where = f"energy.map.{component}.actions.{action}"
            spec = _action_spec(entry, action)
            if spec == 0:
                energy, instances = 0.0, 1
            else:
                energy, instances = _lookup(ert, spec, where, source)
            if action == "leakage":
                # pJ per ERT cycle x cycles per second = pJ/s; 1 mW is 1e9 pJ/s.
                power = Fraction(energy) * instances * (clock_hz or 0) / 10**9
                leakage_mw[component] = float(power)
            else:
                energies[component, action] = energy
    dram_bits = mapping["dram"]["width_bits"]
    sram = {}
    for level in ("glb", "lbuf"):
        entry = mapping[level]
        width = entry.get("width_bits") if isinstance(entry, dict) else None
        sram[level] = (energies[level, "read"], energies[level, "write"], width)
    array_pj = {action: energies["array", action] for action in COMPONENT_ACTIONS["array"] if action != "leakage"}
    return ERTEnergyTable(name=source, dram_read_pj_per_bit=energies["dram", "read_burst"] / dram_bits,
                          dram_write_pj_per_bit=energies["dram", "write_burst"] / dram_bits, sram=sram,
                          array_pj=array_pj, leakage_mw={key: leakage_mw[key] for key in LEAKAGE_COMPONENTS})


class AccelergyERT(EnergyModel):
    type_name = "AccelergyERT"
    summary = "Per-action energies from an Accelergy energy reference table (ERT.yaml), mapped to this simulator's actions."
    path = Param(str, desc="Accelergy ERT.yaml (versions 0.3 and 0.4), relative to the config")
    map = Param(dict, desc="dram, glb, lbuf and array -> ERT component and actions (see docs/energy.md)",
                check=check_ert_map)
    clock = Param(int, None, "clock whose cycles the ERT's leak or idle energies are given per; needed when a "
                  "leakage maps to an ERT action", unit="Hz", min_value=0, min_exclusive=True, max_value=10**13,
                  nullable=True)

    def validate(self) -> None:
        uses_cycles = [component for component in COMPONENT_ACTIONS
                       if _action_spec(self.map[component], "leakage") != 0]
        if uses_cycles and self.clock is None:
            raise ValueError(f"{self.path}.clock is missing: the leakage of {', '.join(uses_cycles)} maps to "
                             "per-cycle ERT energies, so give the ERT's clock (for example 1GHz), or map "
                             "leakage to 0")

    def load(self, base_dir: Path) -> ERTEnergyTable:
        path = resolve_reference(base_dir, self.path, "energy.path")
        source = str(path)
        ert = parse_ert(parse_yaml(read_text(path, "Accelergy ERT file"), source), source)
        return resolve_ert(ert, self.map, self.clock, source)
