import struct

import numpy as np
import pytest

from spikex_sim.errors import ConfigError
from spikex_sim.workload.events import bin_events_by_count, bin_events_by_time, read_nmnist


def decode_by_struct(path):
    """Independent decoder: unpack each 5-byte event with struct and bit operations."""
    data = path.read_bytes()
    events = []
    for offset in range(0, len(data), 5):
        x, y, high, middle, low = struct.unpack_from("5B", data, offset)
        events.append((x, y, (high & 0x7F) * 65536 + middle * 256 + low, high // 128))
    return events


def test_reader_matches_struct_decoding(repo_root):
    path = repo_root / "data" / "nmnist" / "test" / "60001.bs2"
    events = read_nmnist(path)
    expected = decode_by_struct(path)
    assert len(events) == len(expected)
    assert [tuple(int(v) for v in e) for e in events[["x", "y", "t", "p"]]] == expected


def test_truncated_file_is_an_error(tmp_path, repo_root):
    source = (repo_root / "data" / "nmnist" / "test" / "60001.bs2").read_bytes()
    broken = tmp_path / "broken.bs2"
    broken.write_bytes(source[:-2])
    with pytest.raises(ConfigError, match="not a multiple of 5"):
        read_nmnist(broken)


def make_events(rows):
    events = np.zeros(len(rows), dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    for index, (x, y, t, p) in enumerate(rows):
        events[index] = (x, y, t, p)
    return events


def test_binning_by_time_places_events():
    events = make_events([(0, 0, 0, 1), (1, 2, 99, 0), (3, 3, 100, 1), (2, 2, 400, 1)])
    spikes = bin_events_by_time(events, timesteps=4, duration_us=400, height=4, width=4)
    assert spikes[0, 1, 0, 0] == 1
    assert spikes[0, 0, 2, 1] == 1
    assert spikes[1, 1, 3, 3] == 1
    assert spikes.sum() == 3  # the event at t = 400 us falls after the duration


def test_binning_by_count_splits_evenly():
    events = make_events([(i, 0, i, 1) for i in range(6)])
    spikes = bin_events_by_count(events, timesteps=3, height=1, width=6)
    assert spikes[:, 1, 0].sum(axis=1).tolist() == [2, 2, 2]
