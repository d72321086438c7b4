"""The YAML loader and file reader: bounded, safe, and quick to reject hostile input."""

import os
import threading
import time

import pytest

from spikex_sim.errors import ConfigError
from spikex_sim.safe_yaml import MAX_ALIASES, MAX_DEPTH, MAX_YAML_BYTES, parse_yaml, read_text


def billion_laughs(levels: int = 10, width: int = 10) -> str:
    """Return the classic document: level k lists `width` aliases of level k-1, 10**10 strings in all."""
    lines = ["lol0: &lol0 " + "[" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels, width", [(10, 10), (9, 9), (30, 3)])
def test_billion_laughs_rejected_fast(levels, width):
    text = billion_laughs(levels, width)
    assert text.count("*") <= MAX_ALIASES  # the alias count alone does not stop these
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than"):
        parse_yaml(text, "bomb.yaml")
    assert time.perf_counter() - started < 0.5


def test_too_many_aliases_rejected():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(ConfigError, match=f"more than {MAX_ALIASES} aliases"):
        parse_yaml(text, "aliases.yaml")


def test_small_aliases_still_work():
    data = parse_yaml("base: &base {rows: 8, cols: 8}\narray: *base\n", "ok.yaml")
    assert data["array"] == {"rows": 8, "cols": 8}


@pytest.mark.parametrize("text, expected", [
    ("a: &a [*a]\n", "recursive alias"),
    ("name: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", "nesting deeper"),
    ("name: " + "[" * 20000 + "]" * 20000 + "\n", "nesting deeper"),
    ("a: 1\na: 2\n", "duplicate key"),
    ("? [1, 2]\n: 3\n", "unhashable"),
    ("seed: " + "9" * 5000 + "\n", "digits"),
    ("x: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
], ids=["recursive alias", "too deep", "very deep", "duplicate key", "unhashable key", "huge integer",
        "python tag"])
def test_hostile_yaml_is_one_line_error(text, expected):
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=expected) as raised:
        parse_yaml(text, "hostile.yaml")
    assert time.perf_counter() - started < 2
    assert "\n" not in str(raised.value)


def test_oversized_file_rejected_without_reading(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as stream:
        stream.truncate(MAX_YAML_BYTES + 1)  # a sparse file: large, but nothing to read
    with pytest.raises(ConfigError, match="more than the"):
        read_text(path, "config file")


def test_fifo_rejected_without_blocking(tmp_path):
    path = tmp_path / "config.yaml"
    os.mkfifo(path)
    outcome = {}

    def read():
        try:
            read_text(path, "config file")
        except ConfigError as error:
            outcome["error"] = str(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():
        with open(path, "wb"):  # unblock the reader so that the thread ends
            pass
        pytest.fail("reading a FIFO blocked")
    assert "not a regular file" in outcome["error"]


@pytest.mark.parametrize("content, expected", [
    (b"name: \xff\n", "not UTF-8"),
    (None, "not found"),
], ids=["invalid UTF-8", "missing"])
def test_unreadable_file_is_one_line(tmp_path, content, expected):
    path = tmp_path / "config.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        read_text(path, "config file")
