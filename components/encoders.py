"""Spike encoders: event-stream binning, and rate, latency and direct coding of images.

`EventBinning` turns an event recording into binary spikes [T, 2, H, W], channel 0 OFF and
channel 1 ON. It bins by time (T equal steps over a fixed duration), by window (T steps of
a fixed length), by bins (the recording's own span split into T steps) or by count (equal
numbers of events). Image encoders take intensities in [0, 1]: `PoissonRate` spikes with
probability intensity x max_rate per step, `Latency` spikes once, earlier for brighter
pixels, and `Direct` passes the intensities as real values (no spiking array accepts
those). `ActivityReplay` returns the input of a sample that carries every layer's activity.
All randomness comes from the generator passed to `encode()`, seeded per sample.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.component import Param
from spikex_sim.errors import ConfigError
from spikex_sim.system import Encoder
from spikex_sim.workload.activity_io import ActivitySample
from spikex_sim.workload.events import bin_events_by_count, bin_events_by_time, bin_events_into_span, check_events


class EventBinning(Encoder):
    type_name = "EventBinning"
    summary = "Bins an event stream (x, y, t, p) into T binary frames, by time, window, bins or event count."
    by = Param(str, "time", "how events are split into steps: time (duration / T each), window (window each), "
                            "bins (the recording's first-to-last-event span / T each) or count (equal event counts)",
               choices=("time", "window", "bins", "count"))
    duration = Param(int, "300ms", "recording span split into T steps with by=time; later events are dropped",
                     unit="s", min_value=0, min_exclusive=True, max_value=3600)
    window = Param(int, "10ms", "length of one step with by=window; events after T windows are dropped",
                   unit="s", min_value=0, min_exclusive=True, max_value=3600)

    def encode(self, sample, *, timesteps, shape, rng, source):
        channels, height, width = shape
        if channels != 2:
            raise ConfigError(f"event binning makes 2 polarity channels, but the model input has {channels}",
                              source=source, key="workload.model")
        check_events(sample, height, width, source)
        if self.by == "count":
            return bin_events_by_count(sample, timesteps, height, width)
        if self.by == "bins":
            return bin_events_into_span(sample, timesteps, height, width)
        if self.by == "window":
            window_us = self.window * 1_000_000
            if window_us.denominator != 1:
                raise ConfigError("window must be a whole number of microseconds", key=f"{self.path}.window")
            return bin_events_by_time(sample, timesteps, int(window_us) * timesteps, height, width)
        duration_us = self.duration * 1_000_000
        if duration_us.denominator != 1 or duration_us < timesteps:
            raise ConfigError(f"duration must be a whole number of microseconds of at least T={timesteps} us",
                              key=f"{self.path}.duration")
        return bin_events_by_time(sample, timesteps, int(duration_us), height, width)


class PoissonRate(Encoder):
    type_name = "PoissonRate"
    summary = "Rate-codes an image: each pixel spikes per step with probability intensity x max_rate (seeded)."
    max_rate = Param(float, 1.0, "spike probability per step of a pixel at full intensity", min_value=0.0,
                     max_value=1.0)

    def encode(self, sample, *, timesteps, shape, rng, source):
        probability = _image(sample, shape, source) * self.max_rate
        return (rng.random((timesteps, *probability.shape)) < probability).astype(np.uint8)


def _image(sample, shape, source) -> np.ndarray:
    """Return the sample as an image [C, H, W] clipped to [0, 1]; reject event recordings."""
    array = np.asarray(sample)
    if array.dtype.names is not None or not np.issubdtype(array.dtype, np.number):
        raise ConfigError("this encoder takes images, but the data set gives event recordings; use EventBinning, "
                          "or an image data set such as MNISTImages", source=source, key="workload.encoder")
    image = array.astype(np.float64)
    if image.ndim == 2:
        image = image[None]
    if tuple(image.shape) != tuple(shape):
        raise ConfigError(f"image shape {list(image.shape)} does not match the model input {list(shape)}",
                          source=source)
    return np.clip(image, 0.0, 1.0)


class Latency(Encoder):
    type_name = "Latency"
    summary = "Time-to-first-spike coding: each pixel above a threshold spikes once, brighter pixels earlier."
    threshold = Param(float, 0.0, "pixels with intensity at or below this never spike", min_value=0.0,
                      max_value=1.0)

    def encode(self, sample, *, timesteps, shape, rng, source):
        """Spike pixel x once, at step round((1 - x) * (T - 1)) (0-based), if x > threshold."""
        image = _image(sample, shape, source)
        steps = np.rint((1.0 - image) * (timesteps - 1)).astype(np.int64)
        spikes = np.zeros((timesteps, *image.shape), dtype=np.uint8)
        fires = image > self.threshold
        index = np.nonzero(fires)
        spikes[(steps[index], *index)] = 1
        return spikes


class Direct(Encoder):
    type_name = "Direct"
    summary = "Direct (analog) coding: the intensities enter the first layer as real values at every step."
    analog_output = True

    def encode(self, sample, *, timesteps, shape, rng, source):
        image = _image(sample, shape, source)
        return np.broadcast_to(image, (timesteps, *image.shape)).astype(np.float64)


class ActivityReplay(Encoder):
    type_name = "ActivityReplay"
    summary = "Returns the recorded or synthetic input spikes of a sample that carries every layer's activity."
    replays_activity = True

    def encode(self, sample, *, timesteps, shape, rng, source):
        if not isinstance(sample, ActivitySample):
            raise ConfigError("ActivityReplay needs samples from RecordedActivity or SyntheticActivity",
                              source=source)
        expected = (timesteps, *shape)
        if tuple(sample.input.shape) != expected:
            raise ConfigError(f"input spikes have shape {list(sample.input.shape)}, but the model needs "
                              f"{list(expected)}", source=source)
        return sample.input
