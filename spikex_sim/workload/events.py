"""Event-camera recordings: the N-MNIST binary format and binning of events into spikes.

An event stream is a numpy structured array with fields `x`, `y`, `t` (microseconds) and
`p` (polarity, 1 = ON), the layout that event-vision libraries use. Binning turns a stream
into a binary spike tensor `[T, 2, H, W]`: channel 0 contains OFF events, channel 1 ON events,
and a pixel spikes in a step if at least one event of that polarity falls into the step.
"""

import re
from pathlib import Path

import numpy as np

from spikex_sim.errors import ConfigError
from spikex_sim.safe_yaml import read_text

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
NMNIST_BYTES_PER_EVENT = 5
MAX_LABEL_FILE_BYTES = 64 * 1024 * 1024
# A sample number or class: at most 18 ASCII digits, so that it fits a 64-bit integer.
_DECIMAL = re.compile(r"[0-9]{1,18}")


def read_nmnist(path: str | Path) -> np.ndarray:
    """Decode an N-MNIST `.bs2`/`.bin` recording (5 bytes per event) into an event array."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ConfigError("event file not found; check the input path", source=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read event file ({error.strerror})", source=str(path)) from None
    if raw.size % NMNIST_BYTES_PER_EVENT:
        raise ConfigError(
            f"truncated N-MNIST file: {raw.size} bytes is not a multiple of "
            f"{NMNIST_BYTES_PER_EVENT} bytes per event; replace the file",
            source=str(path),
        )
    fields = raw.reshape(-1, NMNIST_BYTES_PER_EVENT).astype(np.int64)
    events = np.empty(len(fields), dtype=EVENT_DTYPE)
    events["x"] = fields[:, 0]
    events["y"] = fields[:, 1]
    events["p"] = fields[:, 2] >> 7
    events["t"] = ((fields[:, 2] & 0x7F) << 16) | (fields[:, 3] << 8) | fields[:, 4]
    return events


def to_event_array(raw: np.ndarray, source: str) -> np.ndarray:
    """Convert a structured array with fields x, y, t, p into EVENT_DTYPE.

    Timestamps must be integers (microseconds). Polarity 1 is ON; 0 and -1 are OFF, because
    event-vision libraries use both conventions.
    """
    names = raw.dtype.names or ()
    missing = [name for name in ("x", "y", "t", "p") if name not in names]
    if missing:
        raise ConfigError(f"event array lacks fields {missing}; it must be a structured array with fields x, y, t "
                          f"(microseconds) and p, got fields {list(names)}", source=source)
    for name in ("x", "y", "t"):
        if not np.issubdtype(raw.dtype[name], np.integer):
            raise ConfigError(f"field {name!r} must hold integers, got {raw.dtype[name]}", source=source)
    polarity = raw["p"].astype(np.int64)
    if polarity.size and not np.isin(polarity, (-1, 0, 1)).all():
        raise ConfigError(f"polarity values {np.unique(polarity)[:5].tolist()} are not 0/1 or -1/1", source=source)
    for name in ("x", "y"):
        # EVENT_DTYPE stores coordinates as int16, and a wider value would wrap into the sensor.
        if raw[name].size and (int(raw[name].min()) < 0 or int(raw[name].max()) > np.iinfo(np.int16).max):
            raise ConfigError(f"field {name!r} has values from {int(raw[name].min())} to {int(raw[name].max())}, "
                              "outside any sensor; check the recording", source=source)
    events = np.empty(raw.shape[0] if raw.ndim else 0, dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"] = raw["x"], raw["y"], raw["t"]
    events["p"] = polarity > 0
    return events


def check_events(events: np.ndarray, height: int, width: int, source: str) -> None:
    """Reject events outside the sensor, with negative timestamps, or with timestamps that go backwards."""
    if len(events) == 0:
        return
    outside = (events["x"] < 0) | (events["x"] >= width) | (events["y"] < 0) | (events["y"] >= height)
    if outside.any():
        index = int(np.argmax(outside))
        raise ConfigError(
            f"event {index} at x={int(events['x'][index])}, y={int(events['y'][index])} is outside "
            f"the {width}x{height} sensor; check the input's sensor size",
            source=source,
        )
    negative = events["t"] < 0
    if negative.any():
        index = int(np.argmax(negative))
        raise ConfigError(f"event {index} has the negative timestamp {int(events['t'][index])} us; timestamps "
                          "count microseconds from the start of the recording", source=source)
    backwards = np.diff(events["t"]) < 0
    if backwards.any():
        index = int(np.argmax(backwards)) + 1
        raise ConfigError(
            f"event {index} has timestamp {int(events['t'][index])} us, earlier than the event "
            "before it; events must be sorted by time",
            source=source,
        )


def bin_events_by_time(
    events: np.ndarray, timesteps: int, duration_us: int, height: int, width: int
) -> np.ndarray:
    """Bin events into `timesteps` equal steps of `duration_us / timesteps` each.

    Events at or after `duration_us` are dropped. Returns uint8 spikes `[T, 2, height, width]`.
    """
    spikes = np.zeros((timesteps, 2, height, width), dtype=np.uint8)
    keep = events["t"] < duration_us
    kept = events[keep]
    steps = (kept["t"] * timesteps) // duration_us
    spikes[steps, kept["p"].astype(np.int64), kept["y"].astype(np.int64), kept["x"].astype(np.int64)] = 1
    return spikes


def bin_events_by_count(
    events: np.ndarray, timesteps: int, height: int, width: int
) -> np.ndarray:
    """Split the stream into `timesteps` slices of equal event count and bin each slice.

    Slice `k` holds events `floor(k * n / T)` to `floor((k + 1) * n / T) - 1`, so slice sizes
    differ by at most one event. Returns uint8 spikes `[T, 2, height, width]`.
    """
    spikes = np.zeros((timesteps, 2, height, width), dtype=np.uint8)
    count = len(events)
    steps = (np.arange(count, dtype=np.int64) * timesteps) // max(count, 1)
    spikes[steps, events["p"].astype(np.int64), events["y"].astype(np.int64), events["x"].astype(np.int64)] = 1
    return spikes


def bin_events_into_span(events: np.ndarray, timesteps: int, height: int, width: int) -> np.ndarray:
    """Split the recording's own span, first to last event, into `timesteps` equal bins.

    Event `i` goes to step `(t_i - t_first) * T // (t_last - t_first + 1)`. Returns uint8
    spikes `[T, 2, height, width]`.
    """
    spikes = np.zeros((timesteps, 2, height, width), dtype=np.uint8)
    if len(events) == 0:
        return spikes
    first = int(events["t"].min())
    span = int(events["t"].max()) - first + 1
    steps = ((events["t"].astype(np.int64) - first) * timesteps) // span
    spikes[steps, events["p"].astype(np.int64), events["y"].astype(np.int64), events["x"].astype(np.int64)] = 1
    return spikes


def read_label_file(path: str | Path) -> dict[int, int]:
    """Read a `#sample #class` label file (tab-separated, `#` starts a comment line)."""
    path = Path(path)
    labels: dict[int, int] = {}
    lines = read_text(path, "label file", max_bytes=MAX_LABEL_FILE_BYTES).splitlines()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        # str.isdigit() also accepts digits such as '²' that int() rejects, so match ASCII digits.
        if len(fields) != 2 or not all(_DECIMAL.fullmatch(field) for field in fields):
            raise ConfigError(
                f"line {number} is not '<sample> <class>': {text!r}; fix the label file",
                source=str(path),
            )
        labels[int(fields[0])] = int(fields[1])
    return labels
