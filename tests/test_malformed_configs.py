"""Malformed configs derived from the default config: one line on stderr, exit code 2, quickly.

A Hypothesis strategy builds each case from the valid default config by one mutation. The
mutations are wrong types, numbers that are out of range, zero, huge or non-finite, wrong
units, unknown or missing keys, wrong nesting, invalid UTF-8 bytes, duplicate keys, alias
bombs, wrong document types and bad command-line values. Every mutation is malformed by construction; a
case that still exits with 0 fails the test. The cases run in-process through
`spikex_sim.cli.main`; a fixed sample also runs through the installed `spikex-sim` command.
"""

import collections
import copy
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikex_sim.cli import main

MALFORMED_CASES = 1000
MAX_SECONDS_PER_CASE = 2.0

# Leaf parameters of the default config with the kind of value each takes.
UNIT_PARAMS = {
    ("system", "clock"): "Hz",
    ("system", "dram", "bandwidth"): "bytes/s",
    ("system", "dram", "latency"): "s",
    ("system", "dram", "burst"): "bytes",
    ("system", "glb", "size"): "bytes",
    ("system", "glb", "width"): "bits",
    ("system", "lbuf", "size"): "bytes",
    ("system", "lbuf", "width"): "bits",
    ("workload", "encoder", "duration"): "s",
}
INT_PARAMS = {
    ("system", "glb", "ports"), ("system", "lbuf", "ports"), ("system", "array", "rows"),
    ("system", "array", "cols"), ("workload", "timesteps"), ("seed",),
}
STRING_PARAMS = {
    ("name",), ("description",), ("system", "array", "mode"), ("workload", "model", "path"),
    ("workload", "dataset", "path"), ("workload", "dataset", "labels"), ("workload", "encoder", "by"),
    ("energy", "table"),
}
OBJECT_PARAMS = {("system", "array", "tws")}
LEAVES = sorted(set(UNIT_PARAMS) | INT_PARAMS | STRING_PARAMS | OBJECT_PARAMS)

# Values that are invalid for every parameter of the given kind.
OUT_OF_RANGE = {
    ("system", "clock"): [0, -1, -500_000_000, 10**13, "2THz", "0.5Hz", "-1MHz"],
    ("system", "dram", "bandwidth"): [0, -1, 999, "2PB/s", "-30GB/s", "1e16B/s"],
    ("system", "dram", "latency"): [-1, "-100ns", "2s", 10**6],
    ("system", "dram", "burst"): [0, -64, "2MiB", 2**21],
    ("system", "glb", "size"): [0, -1, "-54KB", "2TiB", 2**41],
    ("system", "glb", "width"): [0, 4, "-64bit", "16384bit", 10**9],
    ("system", "lbuf", "size"): [0, -2048, "2TiB"],
    ("system", "lbuf", "width"): [0, 7, "9000bit"],
    ("workload", "encoder", "duration"): [0, -1, "-300ms", "2h", "3601s", 10**9],
    ("system", "glb", "ports"): [0, -1, 65, 10**9],
    ("system", "lbuf", "ports"): [0, -2, 100],
    ("system", "array", "rows"): [0, -8, 1025, 10**12],
    ("system", "array", "cols"): [0, -1, 4096],
    ("workload", "timesteps"): [0, -30, 100_001, 10**15],
    ("seed",): [-1, -(10**6)],
    ("system", "array", "tws"): [0, -5, 31, 1000],
}
# Units of another kind of quantity, none of which parses for the parameter's kind.
WRONG_UNITS = {
    "Hz": ["B", "s", "ms", "B/s", "bit", "parsec", "J", "W", "GiHz", "Hzz"],
    "bytes": ["Hz", "s", "ms", "B/s", "parsec", "J", "W", "KiBB", "GHz"],
    "bytes/s": ["B", "Hz", "s", "bit", "parsec", "GB/h", "J"],
    "s": ["B", "Hz", "B/s", "parsec", "min", "h", "J"],
    "bits": ["Hz", "s", "B/s", "parsec", "W"],
}
NON_FINITE = [float("inf"), float("-inf"), float("nan")]


def default_config(repo_root: Path) -> dict:
    """Return the default config with absolute paths, so that it runs from any folder."""
    config = yaml.safe_load((repo_root / "configs" / "spikex_nmnist.yaml").read_text())
    config["workload"]["model"]["path"] = str(repo_root / "configs" / "models" / "nmnist_snn.yaml")
    config["workload"]["dataset"]["path"] = str(repo_root / "data" / "nmnist" / "test")
    config["workload"]["dataset"]["labels"] = str(repo_root / "data" / "nmnist" / "test100.txt")
    return config


def dump(config) -> bytes:
    return yaml.safe_dump(config, sort_keys=False, width=10_000).encode("ascii")


def node_at(config: dict, path: tuple) -> dict:
    node = config
    for key in path:
        node = node[key]
    return node


def with_value(config: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(config)
    node_at(changed, path[:-1])[path[-1]] = value
    return changed


def declared_types() -> dict[tuple, type]:
    """Return the component class of each mapping of the default config."""
    from spikex_sim.component import REGISTRY, load_builtin_components

    load_builtin_components()
    import spikex_sim.energy  # noqa: F401  (registers EnergyTable)

    types = {("system",): "System", ("system", "dram"): "DRAMChannel", ("system", "glb"): "SRAMBuffer",
             ("system", "lbuf"): "SRAMBuffer", ("system", "array"): "SpikeXArray", ("workload",): "Workload",
             ("workload", "model"): "SNNModelFile", ("workload", "dataset"): "NMNISTRecordings",
             ("workload", "encoder"): "EventBinning", ("energy",): "EnergyTable"}
    return {path: REGISTRY[name] for path, name in types.items()}


def valid_keys() -> dict[tuple, set]:
    """Return the keys each mapping of the default config accepts, from the component declarations."""
    from spikex_sim.config import TOP_LEVEL_KEYS

    keys = {(): set(TOP_LEVEL_KEYS)}
    for path, cls in declared_types().items():
        keys[path] = {"type", *cls._params, *cls._children}
    return keys


VALID_KEYS = valid_keys()
NODES = sorted(VALID_KEYS)
# Parameters where null is valid (for example an unlimited bandwidth); null is no mutation there.
NULLABLE = {(*path, name) for path, cls in declared_types().items()
            for name, param in cls._params.items() if param.nullable}


# --- mutations: each returns (label, file bytes, extra command-line arguments) -------------

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
garbage_text = st.text(min_size=1, max_size=20).map(lambda text: "x" + text)  # never a number or a quantity


@st.composite
def wrong_type(draw, base):
    path = draw(st.sampled_from(LEAVES))
    no_null = st.nothing() if path in NULLABLE else st.just(None)
    if path in STRING_PARAMS:
        value = draw(st.one_of(st.integers(-10**6, 10**6), st.lists(st.integers(), min_size=1, max_size=3),
                               st.dictionaries(identifiers, st.integers(), min_size=1, max_size=2),
                               st.booleans(), no_null, st.floats(allow_nan=False)))
    elif path in OBJECT_PARAMS:
        value = draw(st.one_of(garbage_text.filter(lambda text: text != "search"), st.floats(0.1, 30.0).filter(
            lambda number: number != int(number)), st.booleans(), no_null, st.just([]),
            st.lists(st.lists(st.integers(1, 5), min_size=1), min_size=1, max_size=4),
            st.dictionaries(identifiers, st.integers(), min_size=1, max_size=2)))
    else:
        value = draw(st.one_of(garbage_text, st.lists(st.integers(), min_size=1, max_size=3),
                               st.dictionaries(identifiers, st.integers(), min_size=1, max_size=2),
                               st.booleans(), no_null))
        if path in INT_PARAMS:
            value = draw(st.one_of(st.just(value), st.floats(0.5, 100.0).filter(lambda number: number != int(number))))
    return f"wrong type: {'.'.join(path)}", dump(with_value(base, path, value)), []


@st.composite
def out_of_range(draw, base):
    path = draw(st.sampled_from(sorted(OUT_OF_RANGE)))
    value = draw(st.one_of(st.sampled_from(OUT_OF_RANGE[path]), st.sampled_from(NON_FINITE)))
    if path == ("seed",) and isinstance(value, float):
        value = -1  # a float seed is a wrong type; keep this mutation about range
    return f"out of range: {'.'.join(path)}: {value!r}", dump(with_value(base, path, value)), []


@st.composite
def huge_number(draw, base):
    path = draw(st.sampled_from(sorted(UNIT_PARAMS)))
    exponent = draw(st.integers(31, 10**9))
    value = f"1e{exponent}{draw(st.sampled_from(['', 'B', 'Hz', 's']))}"
    return f"huge number: {'.'.join(path)}: {value}", dump(with_value(base, path, value)), []


@st.composite
def bad_unit(draw, base):
    path = draw(st.sampled_from(sorted(UNIT_PARAMS)))
    number = draw(st.integers(1, 1000))
    unit = draw(st.sampled_from(WRONG_UNITS[UNIT_PARAMS[path]]))
    value = f"{number}{draw(st.sampled_from(['', ' ']))}{unit}"
    return f"bad unit: {'.'.join(path)}: {value}", dump(with_value(base, path, value)), []


@st.composite
def unknown_key(draw, base):
    path = draw(st.sampled_from(NODES))
    key = draw(st.one_of(identifiers.map(lambda name: "x_" + name), st.integers(), st.text(min_size=1).filter(
        lambda text: text not in VALID_KEYS[path])))
    changed = copy.deepcopy(base)
    node_at(changed, path)[key] = draw(st.one_of(st.integers(), st.text(max_size=5), st.booleans()))
    return f"unknown key: {key!r} at {'.'.join(path) or 'top level'}", dump(changed), []


@st.composite
def missing_required(draw, base):
    path = draw(st.sampled_from([("workload",), ("workload", "model"), ("workload", "model", "path")]))
    changed = copy.deepcopy(base)
    del node_at(changed, path[:-1])[path[-1]]
    return f"missing key: {'.'.join(path)}", dump(changed), []


@st.composite
def wrong_nesting(draw, base):
    changed = copy.deepcopy(base)
    change = draw(st.sampled_from(["move leaf", "wrap in list", "scalar for mapping", "component in component"]))
    if change == "move leaf":
        source = draw(st.sampled_from([leaf for leaf in LEAVES if len(leaf) > 1]))
        targets = [node for node in NODES if source[-1] not in VALID_KEYS[node]]
        target = draw(st.sampled_from(targets))
        value = node_at(changed, source[:-1]).pop(source[-1])
        node_at(changed, target)[source[-1]] = value
        label = f"wrong nesting: {'.'.join(source)} moved to {'.'.join(target) or 'top level'}"
    else:
        path = draw(st.sampled_from([node for node in NODES if node]))
        parent = node_at(changed, path[:-1])
        if change == "wrap in list":
            parent[path[-1]] = [parent[path[-1]]]
        elif change == "scalar for mapping":
            parent[path[-1]] = draw(st.one_of(st.integers(), st.text(min_size=1, max_size=8), st.booleans()))
        else:
            other = draw(st.sampled_from([node for node in NODES if len(node) == 1 and node != path[:1]]))
            node_at(changed, path)[other[-1]] = copy.deepcopy(node_at(base, other))
        label = f"wrong nesting: {change} at {'.'.join(path)}"
    return label, dump(changed), []


@st.composite
def invalid_utf8(draw, base):
    text = dump(base)
    position = draw(st.integers(0, len(text)))
    # 0xC0, 0xC1 and 0xF5-0xFF never occur in UTF-8; 0x80-0xBF cannot follow an ASCII byte.
    bad = draw(st.lists(st.one_of(st.sampled_from([0xC0, 0xC1, 0xFE, 0xFF]), st.integers(0xF5, 0xFD),
                                  st.integers(0x80, 0xBF)), min_size=1, max_size=3))
    return f"invalid UTF-8: byte {position}", text[:position] + bytes(bad) + text[position:], []


@st.composite
def duplicate_key(draw, base):
    lines = dump(base).decode("ascii").splitlines(keepends=True)
    key_lines = [index for index, line in enumerate(lines) if line.lstrip()[:1].isalpha() and ":" in line]
    index = draw(st.sampled_from(key_lines))
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    key = lines[index].strip().split(":")[0]
    copy_line = f"{indent}{key}: {draw(st.integers(0, 100))}\n"
    lines.insert(index, copy_line)  # a copy before the line belongs to the same mapping
    return f"duplicate key: {key!r} at line {index + 1}", "".join(lines).encode("ascii"), []


@st.composite
def alias_bomb(draw, base):
    path = draw(st.sampled_from(LEAVES))
    width = draw(st.integers(2, 12))
    depth = draw(st.integers(2, 14))
    levels = ["&a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, depth):
        levels.append(f"&a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    if draw(st.booleans()):
        levels.append("[" + ", ".join(["*a0"] * draw(st.integers(101, 400))) + "]")  # more aliases than allowed
    bomb = "[" + ", ".join(levels) + "]"
    text = dump(with_value(base, path, "BOMB_PLACEHOLDER")).decode("ascii").replace("BOMB_PLACEHOLDER", bomb)
    return f"alias bomb: {width}^{depth} at {'.'.join(path)}", text.encode("ascii"), []


@st.composite
def wrong_document(draw, base):
    text = draw(st.sampled_from([
        "", "# only a comment\n", "null\n", "42\n", "just a string\n", "- system\n- workload\n",
        "[1, 2, 3]\n", "---\nname: a\n---\nname: b\n", "name: [unclosed\n", "system:\n\t  clock: 500MHz\n",
        "system: {clock: 500MHz\n", "? [1, 2]\n: unhashable key\n", "name: !!python/object:os.system echo\n",
        "!!binary aGVsbG8=\n", "&a [*a]\n", "[" * 200 + "]" * 200 + "\n",
    ]))
    return f"wrong document: {text[:20]!r}", text.encode("ascii"), []


@st.composite
def bad_command_line(draw, base):
    extra = draw(st.sampled_from([
        ["--samples", "0"], ["--samples", "-3"], ["--samples", "many"], ["--seed", "-1"], ["--seed", "1.5"],
        ["--set", "noequals"], ["--set", "=5"], ["--set", "system.array.rows=abc"], ["--set", "system.array.rows=[1"],
        ["--set", "name.first=1"], ["--set", "system.clock=5 parsec"], ["--max-events", "0"],
        ["--max-memory", "lots"], ["--max-memory", "0B"], ["--max-events", "1"], ["--max-memory", "1KiB"],
        ["--no-such-option"], ["--set", "system.array.tws=[1, 2]"],
    ]))
    value = draw(st.integers(-(10**6), 0))
    if extra[0] == "--samples" and draw(st.booleans()):
        extra = ["--samples", str(value)]
    return f"command line: {' '.join(extra)}", dump(base), extra


def mutations(base):
    return st.one_of(wrong_type(base), out_of_range(base), huge_number(base), bad_unit(base), unknown_key(base),
                     missing_required(base), wrong_nesting(base), invalid_utf8(base), duplicate_key(base),
                     alias_bomb(base), wrong_document(base), bad_command_line(base))


def run_case(folder: Path, content: bytes, extra: list[str], capsys) -> tuple[int, str, float]:
    path = folder / "config.yaml"
    path.write_bytes(content)
    started = time.perf_counter()
    code = main(["run", str(path), "--samples", "1", "--quiet", "--out", str(folder / "run"), *extra])
    seconds = time.perf_counter() - started
    written = (folder / "run").exists()
    shutil.rmtree(folder / "run", ignore_errors=True)  # so that one failing case does not fail the next
    return code, capsys.readouterr().err, seconds, written


def test_malformed_configs_fail_in_one_line(tmp_path, repo_root, capsys):
    base = default_config(repo_root)
    checked = []

    @settings(max_examples=MALFORMED_CASES + 50, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(case=mutations(base))
    def check(case):
        label, content, extra = case
        code, err, seconds, written = run_case(tmp_path, content, extra, capsys)
        assert code == 2, f"{label}: exit code {code}, stderr {err[-2000:]!r}"
        assert len(err.splitlines()) == 1, f"{label}: {err[-2000:]!r}"
        assert "Traceback" not in err, label
        assert err.startswith("spikex-sim: error: "), f"{label}: {err!r}"
        assert seconds < MAX_SECONDS_PER_CASE, f"{label} took {seconds:.2f} s"
        assert not written, label
        checked.append((label.split(":")[0], seconds))

    check()
    kinds = collections.Counter(kind for kind, _ in checked)
    print(f"\n{len(checked)} malformed configs, slowest {max(seconds for _, seconds in checked):.3f} s, by kind: "
          f"{dict(sorted(kinds.items()))}")
    assert len(checked) >= MALFORMED_CASES


def fixed_sample(base) -> list[tuple[str, bytes, list[str]]]:
    """Return 20 malformed cases, one or two of each mutation kind."""
    bomb = dump(with_value(base, ("description",), "B")).decode().replace(
        "description: B", "description: [&a [lol, lol, lol], &b [*a, *a, *a], &c [*b, *b, *b], &d [*c, *c, *c], "
                          "&e [*d, *d, *d], &f [*e, *e, *e], &g [*f, *f, *f], &h [*g, *g, *g], &i [*h, *h, *h], "
                          "&j [*i, *i, *i], &k [*j, *j, *j]]")
    plain = dump(base)
    return [
        ("wrong type", dump(with_value(base, ("system", "array", "rows"), "eight")), []),
        ("negative", dump(with_value(base, ("system", "glb", "size"), -1)), []),
        ("zero", dump(with_value(base, ("workload", "timesteps"), 0)), []),
        ("huge", dump(with_value(base, ("system", "clock"), "1e999999999Hz")), []),
        ("non-finite", dump(with_value(base, ("system", "dram", "bandwidth"), float("nan"))), []),
        ("bad unit", dump(with_value(base, ("system", "dram", "latency"), "100 parsec")), []),
        ("unknown key", dump(with_value(base, ("system", "array", "rowz"), 8)), []),
        ("missing key", dump({key: value for key, value in base.items() if key != "workload"}), []),
        ("wrong nesting", dump(with_value(base, ("system", "rows"), 8)), []),
        ("scalar for mapping", dump(with_value(base, ("system", "dram"), 5)), []),
        ("invalid UTF-8", plain[:40] + b"\xff\xfe" + plain[40:], []),
        ("duplicate key", plain.replace(b"  rows: 8\n", b"  rows: 8\n  rows: 16\n"), []),
        ("alias bomb", bomb.encode(), []),
        ("recursive alias", b"name: &a [*a]\n", []),
        ("deep nesting", b"name: " + b"[" * 5000 + b"]" * 5000 + b"\n", []),
        ("empty file", b"", []),
        ("list document", b"- system\n- workload\n", []),
        ("bad --samples", plain, ["--samples", "0"]),
        ("bad --set", plain, ["--set", "system.array.rows=[1"]),
        ("bad --max-memory", plain, ["--max-memory", "lots"]),
    ]


def spikex_sim_command() -> list[str]:
    """Return the installed console script next to this Python, or `python -m spikex_sim.cli`."""
    script = shutil.which("spikex-sim", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "spikex_sim.cli"]


def test_installed_command_fails_in_one_line(tmp_path, repo_root):
    cases = fixed_sample(default_config(repo_root))
    running = []
    for index, (label, content, extra) in enumerate(cases):
        folder = tmp_path / f"case{index}"
        folder.mkdir()
        (folder / "config.yaml").write_bytes(content)
        command = [*spikex_sim_command(), "run", str(folder / "config.yaml"), "--samples", "1", "--quiet",
                   "--out", str(folder / "run"), *extra]
        running.append((label, folder, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                        text=True)))
        if len(running) >= 4 or index == len(cases) - 1:
            for label, folder, process in running:
                _, err = process.communicate(timeout=60)
                assert process.returncode == 2, f"{label}: {err}"
                assert len(err.splitlines()) == 1, f"{label}: {err}"
                assert "Traceback" not in err, label
                assert not (folder / "run").exists(), label
            running = []


@pytest.mark.parametrize("label, content, extra", fixed_sample(default_config(Path(__file__).resolve().parent.parent)),
                         ids=lambda value: value if isinstance(value, str) else None)
def test_debug_shows_traceback_and_line(tmp_path, capsys, label, content, extra):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    code = main(["--debug", "run", str(path), "--samples", "1", "--quiet", "--out", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err
    assert err.splitlines()[-1].startswith("spikex-sim: error: ")
