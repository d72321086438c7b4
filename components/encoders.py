"""Spike encoders: event-stream binning and Poisson rate coding of images.

`EventBinning` turns an event recording into binary spikes [T, 2, H, W] (channel 0 OFF,
channel 1 ON), by time (equal durations) or by count (equal numbers of events).
`PoissonRate` turns an image with intensities in [0, 1] into spikes [T, C, H, W] where each
pixel spikes in each step with probability equal to its intensity times `max_rate`.
"""

from __future__ import annotations

import numpy as np

from spikex_sim.component import Param
from spikex_sim.errors import ConfigError
from spikex_sim.system import Encoder
from spikex_sim.workload.events import bin_events_by_count, bin_events_by_time, check_events


class EventBinning(Encoder):
    type_name = "EventBinning"
    summary = "Bins an event stream (x, y, t, p) into T binary frames, by time or by event count."
    by = Param(str, "time", "how events are split into steps: time (equal durations) or count", choices=("time", "count"))
    duration = Param(int, "300ms", "recording span split into T steps with by=time; later events are dropped",
                     unit="s", min_value=0, min_exclusive=True)

    def encode(self, sample, *, timesteps, shape, rng, source):
        channels, height, width = shape
        if channels != 2:
            raise ConfigError(f"event binning makes 2 polarity channels, but the model input has {channels}",
                              source=source, key="workload.model")
        check_events(sample, height, width, source)
        if self.by == "count":
            return bin_events_by_count(sample, timesteps, height, width)
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
        image = np.asarray(sample, dtype=np.float64)
        if image.ndim == 2:
            image = image[None]
        if tuple(image.shape) != tuple(shape):
            raise ConfigError(f"image shape {list(image.shape)} does not match the model input {list(shape)}",
                              source=source)
        probability = np.clip(image, 0.0, 1.0) * self.max_rate
        return (rng.random((timesteps, *image.shape)) < probability).astype(np.uint8)
