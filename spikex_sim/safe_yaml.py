"""Reading YAML input files safely: size-bounded reads and a strict, bounded safe loader.

Every YAML file the simulator reads (configs, model files, energy tables) and every
`--set` value goes through `parse_yaml`. The loader derives from `yaml.SafeLoader`, so it
never constructs Python objects from tags. It also rejects duplicate keys, and it bounds
what a small document can expand into: at most `MAX_ALIASES` aliases, a nesting depth of
`MAX_DEPTH` and `MAX_EXPANDED_NODES` nodes with every alias expanded. A "billion laughs"
document (nested aliases that expand exponentially) is therefore rejected after composing
its few hundred nodes, before anything is constructed from it.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from spikex_sim.errors import ConfigError

MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000
MAX_YAML_BYTES = 4 * 1024 * 1024


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys and bounds aliases, depth and expansion."""

    def __init__(self, stream):
        super().__init__(stream)
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases; reduce the use of aliases (*name)")
            return super().compose_node(parent, index)
        # The composer recurses once per level, so the depth is bounded here, before Python's
        # recursion limit turns a deeply nested document into a RecursionError.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels; flatten the document")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader's own construct_mapping rejects unhashable keys
            if key in seen:
                raise yaml.YAMLError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads "5e-2" (an exponent without a dot) as a string; YAML 1.2 and most users
# read it as a number, so the loader does too.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _node_children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root) -> None:
    """Raise `yaml.YAMLError` if the node graph, aliases expanded, is too large, too deep or cyclic.

    An alias makes several parents share one node, so the graph is walked once per node
    (iteratively, with memoised sizes) while the sizes add up as if every alias were copied.
    """
    expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded node count, expanded depth)
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _node_children(node)
            size = 1 + sum(expanded[id(child)][0] for child in children)
            depth = 1 + max((expanded[id(child)][1] for child in children), default=0)
            if size > MAX_EXPANDED_NODES:
                raise yaml.YAMLError(f"the document expands to more than {MAX_EXPANDED_NODES} nodes through "
                                     "its aliases; reduce the use of aliases (*name)")
            if depth > MAX_DEPTH:
                raise yaml.YAMLError(f"the document nests deeper than {MAX_DEPTH} levels through its aliases")
            expanded[key] = (size, depth)
            continue
        if key in expanded:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _node_children(node):
            if id(child) in on_path:
                raise yaml.YAMLError(f"a recursive alias at line {child.start_mark.line + 1} contains itself")
            if id(child) not in expanded:
                stack.append((child, False))


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the strict safe loader; raise `ConfigError` naming the source."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader derives from SafeLoader
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        raise ConfigError(f"invalid YAML: {message}", source=source) from None
    except ValueError as error:
        # For example an integer of more digits than Python converts (sys.get_int_max_str_digits).
        raise ConfigError(f"invalid YAML value: {' '.join(str(error).split())}", source=source) from None


def read_text(path: str | Path, file_kind: str, *, max_bytes: int = MAX_YAML_BYTES) -> str:
    """Read a UTF-8 text file of at most `max_bytes`; raise `ConfigError` naming `file_kind` on any problem."""
    path = Path(path)
    source = str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"is a folder, not a {file_kind}", source=source)
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device could block or never end, so only regular files are read.
            raise ConfigError(f"is not a regular file; give the path of a {file_kind}", source=source)
        if info.st_size > max_bytes:
            raise ConfigError(f"{file_kind} is {info.st_size} bytes, more than the {max_bytes} bytes accepted; "
                              "is this the right file?", source=source)
        with open(path, "rb") as stream:
            # read(n) allocates n bytes up front, so ask for the file's size, not the limit.
            raw = stream.read(info.st_size + 1)
    except FileNotFoundError:
        raise ConfigError(f"{file_kind} not found; check the path", source=source) from None
    except OSError as error:
        raise ConfigError(f"cannot read {file_kind} ({error.strerror or error}); check the path and its permissions",
                          source=source) from None
    except ValueError as error:  # for example a NUL byte in the path
        raise ConfigError(f"invalid path of a {file_kind} ({error})", source=repr(source)) from None
    if len(raw) > info.st_size:
        raise ConfigError(f"{file_kind} changed while it was read; run again", source=source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text (byte {error.start}); save the file as UTF-8", source=source) from None


def load_yaml_file(path: str | Path, file_kind: str) -> Any:
    """Read and parse a YAML file with the size bound and the strict loader."""
    return parse_yaml(read_text(path, file_kind), str(path))
