"""The component model: declared parameters, ports and child slots, and the type registry.

A component class declares its interface in its body, in the style of gem5's SimObject
parameters and SST's element info: every `Param` has a type, an optional unit, a default
(or none, which makes it required) and a mandatory description; every `Port` has a role;
every `Child` slot names the base class its occupant must derive from. A metaclass
collects the declarations (inherited ones included) and registers the class by its
`type_name`, so a YAML `type:` can name it. User classes load from `module:Class` strings
and from the `spikex_sim.components` entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
import math
from dataclasses import dataclass
from fractions import Fraction
from importlib import metadata
from typing import Any, Callable

from spikex_sim.errors import ConfigError
from spikex_sim.units import BASE_UNIT_NAMES, UnitError, format_quantity, parse_quantity

REQUIRED = object()
ENTRY_POINT_GROUP = "spikex_sim.components"


@dataclass(frozen=True)
class Param:
    """A typed parameter: `kind` is int, float, str, bool or list; `unit` a unit kind."""

    kind: type
    default: Any = REQUIRED
    desc: str = ""
    unit: str | None = None
    choices: tuple | None = None
    min_value: float | None = None
    max_value: float | None = None
    min_exclusive: bool = False
    check: Callable[[Any], str | None] | None = None
    nullable: bool = False

    def __post_init__(self):
        if not self.desc:
            raise TypeError("every Param needs a description (desc=...)")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def convert(self, value: Any) -> Any:
        """Return `value` converted and validated; raise `ValueError` with the reason."""
        if value is None and self.nullable:
            return None
        if self.unit is not None:
            try:
                number = parse_quantity(value, self.unit)
            except UnitError as error:
                raise ValueError(str(error)) from None
            self._check_range(number)
            return number
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"expected an integer, got {value!r}")
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected a number, got {value!r}")
            try:
                value = float(value)
            except OverflowError:
                raise ValueError(f"expected a finite number, got an integer of {value.bit_length()} bits") from None
            if not math.isfinite(value):
                raise ValueError(f"expected a finite number, got {value!r}")
        elif self.kind is str:
            if not isinstance(value, str):
                raise ValueError(f"expected a string, got {value!r}")
            if "\x00" in value:
                raise ValueError(f"{value!r} contains a NUL character, which no path or name may contain")
        elif self.kind is list:
            if not isinstance(value, list):
                raise ValueError(f"expected a list, got {value!r}")
        elif self.kind is object:
            pass
        elif self.kind is dict:
            if not isinstance(value, dict):
                raise ValueError(f"expected a mapping, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.kind in (int, float):
            self._check_range(value)
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ValueError(problem)
        return value

    def _check_range(self, number) -> None:
        if self.min_value is not None:
            too_small = number <= self.min_value if self.min_exclusive else number < self.min_value
            if too_small:
                relation = "greater than" if self.min_exclusive else "at least"
                raise ValueError(f"must be {relation} {self.min_value}{self._unit_suffix()}, got {self._show(number)}")
        if self.max_value is not None and number > self.max_value:
            raise ValueError(f"must be at most {self.max_value}{self._unit_suffix()}, got {self._show(number)}")

    def _unit_suffix(self) -> str:
        return f" {BASE_UNIT_NAMES[self.unit]}" if self.unit else ""

    def _show(self, number) -> str:
        if isinstance(number, Fraction):
            return f"{float(number):g}{self._unit_suffix()}"
        return repr(number)

    def to_yaml(self, value: Any) -> Any:
        """Return the plain YAML form of a converted value (base units with the unit)."""
        if value is None:
            return None
        if self.unit is not None:
            return f"{format_quantity(value, self.unit)}{BASE_UNIT_NAMES[self.unit]}"
        return value

    def describe_type(self) -> str:
        return self.kind.__name__ + (" or null" if self.nullable else "")


@dataclass(frozen=True)
class Port:
    """A named connection point; `role` names the kind of peer it accepts."""

    role: str
    desc: str
    peer_role: str | None = None


@dataclass(frozen=True)
class Child:
    """A slot for a sub-component; its occupant must derive from `base`."""

    base: type
    desc: str
    default_type: str | None = None
    optional: bool = False


class ComponentMeta(type):
    """Collect declared Params, Ports and Child slots and register concrete classes."""

    def __new__(mcs, name, bases, namespace):
        cls = super().__new__(mcs, name, bases, namespace)
        params, ports, children = {}, {}, {}
        for base in reversed(cls.__mro__[1:]):
            params.update(getattr(base, "_params", {}))
            ports.update(getattr(base, "_ports", {}))
            children.update(getattr(base, "_children", {}))
        for key, value in namespace.items():
            if isinstance(value, Param):
                params[key] = value
            elif isinstance(value, Port):
                ports[key] = value
            elif isinstance(value, Child):
                children[key] = value
        cls._params, cls._ports, cls._children = params, ports, children
        if not namespace.get("abstract", False):
            type_name = namespace.get("type_name", name)
            cls.type_name = type_name
            REGISTRY.setdefault(type_name, cls)
        return cls


REGISTRY: dict[str, type] = {}


class Component(metaclass=ComponentMeta):
    """Base class of every simulated part; subclasses declare Params, Ports and Child slots."""

    abstract = True
    type_name = "Component"
    #: One sentence that `spikex-sim describe` prints under the type's name.
    summary = ""

    def __init__(self, path: str, params: dict[str, Any], children: dict[str, "Component"]):
        self.path = path
        self.params = params
        self.children = children
        self.connections: dict[str, tuple["Component", str]] = {}
        for key, value in params.items():
            setattr(self, key, value)
        for key, child in children.items():
            setattr(self, key, child)

    def connect(self, port: str, peer: "Component", peer_port: str) -> None:
        """Connect `port` of this component to `peer_port` of `peer`, checking roles both ways."""
        mine = self._ports.get(port)
        theirs = peer._ports.get(peer_port)
        if mine is None or theirs is None:
            raise ConfigError(f"cannot connect {self.path}.{port} to {peer.path}.{peer_port}: no such port")
        if mine.peer_role and theirs.role != mine.peer_role:
            raise ConfigError(
                f"cannot connect {self.path}.{port} (expects role {mine.peer_role}) to "
                f"{peer.path}.{peer_port} (role {theirs.role})"
            )
        self.connections[port] = (peer, peer_port)
        peer.connections[peer_port] = (self, port)

    def walk(self):
        """Yield this component and all its descendants, depth first, in slot order."""
        yield self
        for child in self.children.values():
            if child is not None:
                yield from child.walk()

    def resolved(self) -> dict[str, Any]:
        """Return this component's configuration with every default filled, as plain YAML data."""
        node: dict[str, Any] = {"type": registered_name(type(self))}
        for key, param in self._params.items():
            node[key] = param.to_yaml(self.params[key])
        for key, child in self.children.items():
            node[key] = None if child is None else child.resolved()
        return node


def registered_name(cls: type) -> str:
    """Return the name a YAML `type:` uses for `cls` (a `module:Class` string for user classes)."""
    if REGISTRY.get(cls.type_name) is cls:
        return cls.type_name
    return f"{cls.__module__}:{cls.__qualname__}"


_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as error:  # a broken plug-in must not break unrelated runs
            raise ConfigError(
                f"entry point {entry.name!r} ({entry.value}) of group {ENTRY_POINT_GROUP} failed to "
                f"import: {error}; fix or uninstall that package"
            ) from None
        if isinstance(loaded, type) and issubclass(loaded, Component):
            REGISTRY.setdefault(entry.name, loaded)


def load_builtin_components() -> None:
    """Import the built-in component modules so that they register themselves."""
    importlib.import_module("spikex_sim.components")
    _load_entry_points()


def resolve_type(type_string: Any, *, base: type, source: str, key: str) -> type:
    """Return the class named by a YAML `type:` value; raise `ConfigError` naming the key."""
    load_builtin_components()
    if not isinstance(type_string, str) or not type_string:
        raise ConfigError(f"'type' must be a component type name, got {type_string!r}", source=source, key=key)
    if ":" in type_string:
        module_name, _, class_name = type_string.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise ConfigError(
                f"cannot import module {module_name!r} for type {type_string!r} ({type(error).__name__}: "
                f"{error}); check the module path and PYTHONPATH",
                source=source, key=key,
            ) from None
        cls = getattr(module, class_name, None)
        if not isinstance(cls, type) or not issubclass(cls, Component):
            raise ConfigError(
                f"{type_string!r} does not name a Component subclass in module {module_name!r}",
                source=source, key=key,
            )
    else:
        cls = REGISTRY.get(type_string)
        if cls is None:
            candidates = [name for name, known in REGISTRY.items() if issubclass(known, base)]
            near = difflib.get_close_matches(type_string, candidates, n=3)
            hint = f"did you mean {', '.join(near)}?" if near else f"known types: {', '.join(sorted(candidates))}"
            raise ConfigError(f"unknown component type {type_string!r}; {hint}", source=source, key=key)
    if not issubclass(cls, base):
        raise ConfigError(
            f"type {type_string!r} is a {cls.__mro__[1].__name__}, but this slot needs a {base.__name__}",
            source=source, key=key,
        )
    return cls


def build_component(node: Any, *, base: type, path: str, source: str, default_type: str | None = None) -> Component:
    """Build a component tree from a YAML mapping, validating every key and value."""
    if not isinstance(node, dict):
        raise ConfigError(f"expected a mapping with 'type' and parameters, got {node!r}", source=source, key=path)
    type_string = node.get("type", default_type)
    if type_string is None:
        raise ConfigError("missing 'type'; name a component type (see spikex-sim list-components)", source=source, key=path)
    cls = resolve_type(type_string, base=base, source=source, key=f"{path}.type")

    valid_keys = ["type", *cls._params, *cls._children]
    for key in node:
        if key not in valid_keys:
            near = difflib.get_close_matches(str(key), valid_keys, n=3)
            hint = f"did you mean {', '.join(near)}?" if near else f"valid keys: {', '.join(valid_keys)}"
            raise ConfigError(f"unknown key {key!r} for {cls.type_name}; {hint}", source=source, key=f"{path}.{key}")

    params: dict[str, Any] = {}
    for key, param in cls._params.items():
        if key in node:
            try:
                params[key] = param.convert(node[key])
            except ValueError as error:
                raise ConfigError(f"invalid value: {error}", source=source, key=f"{path}.{key}") from None
        elif param.required:
            raise ConfigError(
                f"missing required parameter {key!r} of {cls.type_name} ({param.desc})",
                source=source, key=f"{path}.{key}",
            )
        else:
            params[key] = None if param.default is None else param.convert(param.default)

    children: dict[str, Component] = {}
    for key, slot in cls._children.items():
        child_node = node.get(key)
        if child_node is None and (slot.optional and key not in node):
            children[key] = None
            continue
        if child_node is None:
            child_node = {}
        children[key] = build_component(
            child_node, base=slot.base, path=f"{path}.{key}", source=source, default_type=slot.default_type
        )
    component = cls(path, params, children)
    validate = getattr(component, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as error:
            raise ConfigError(f"invalid configuration: {error}", source=source, key=path) from None
    return component
