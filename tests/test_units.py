from fractions import Fraction

import pytest

from spikex_sim.units import UnitError, parse_quantity


@pytest.mark.parametrize("text, kind, expected", [
    ("54KiB", "bytes", 55296),
    ("54KB", "bytes", 54000),
    ("2KB", "bytes", 2000),
    ("1GiB", "bytes", 2**30),
    ("64bit", "bytes", 8),
    ("30GB/s", "bytes/s", 30 * 10**9),
    ("30GiB/s", "bytes/s", 30 * 2**30),
    ("500MHz", "Hz", 500 * 10**6),
    ("1.2GHz", "Hz", 1_200_000_000),
    ("100ns", "s", Fraction(1, 10**7)),
    ("300ms", "s", Fraction(3, 10)),
    ("1.5pJ", "pJ", Fraction(3, 2)),
    (4096, "bytes", 4096),
])
def test_quantity_parses(text, kind, expected):
    assert parse_quantity(text, kind) == expected


@pytest.mark.parametrize("text, kind", [
    ("54 parsec", "bytes"),
    ("30GB", "bytes/s"),
    ("500MB", "Hz"),
    ("fast", "Hz"),
    ("", "bytes"),
    (float("nan"), "bytes"),
    (True, "bytes"),
])
def test_quantity_rejects(text, kind):
    with pytest.raises(UnitError):
        parse_quantity(text, kind)


def test_unit_error_names_example():
    with pytest.raises(UnitError, match="30GB/s"):
        parse_quantity("30GB", "bytes/s")
