"""Activity given from outside the simulator: recorded per-layer spikes and synthetic spikes.

Either kind replaces the spikes that the layers would compute from their weights: each
layer's output is taken from the activity, so timing, traffic and energy follow that
activity while the weights only fix the shapes (see `Layer.recorded_output`).

Recorded activity is an `.npz` archive with
- `layout`: a string naming the axes of every array, `T` (time) and `B` (batch, one sample
  per index) first in either order, then the neuron axes `CHW` or `N`, for example `TBCHW`,
  `BTCHW`, `TBN`;
- `input`: the input spikes of the first layer;
- one array per layer, keyed by the layer name, holding that layer's output spikes (or no
  layer array at all: then the layers compute their spikes from the weights);
- optionally `labels`: one integer class per sample.

An array's neuron axes are either the layer's [C, H, W] (an fc layer's [N] or [N, 1, 1]) or
one flat axis of C*H*W values in (C, H, W) order. With `timesteps: 1` the T axis may be
left out, so a [B, N] array reads as [1, B, N]. Values must be 0 or 1.

Synthetic activity draws, for every sample and layer, binary spikes with a target firing
rate `r` and a temporal clustering `c` in [0, 1]. Each neuron spikes only inside one burst
of `L = round(T * (1 - c * (1 - r)))` consecutive steps, which starts at a random step and
wraps past the last one, with probability `r * T / L` per step in the burst. `c = 0` gives
independent spikes in every step; `c = 1` packs a neuron's spikes into as few steps as its
rate allows. Every layer is drawn independently of its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikex_sim.errors import ConfigError
from spikex_sim.workload.model import Layer, Model

NEURON_AXES = ("CHW", "N")
RESERVED_KEYS = ("layout", "input", "labels")


@dataclass
class ActivitySample:
    """One sample of given activity: the first layer's input and every layer's output spikes."""

    input: np.ndarray  # uint8 [T, C, H, W]
    layer_outputs: list[np.ndarray] | None  # uint8 [T, *layer.out_shape] per layer; None: computed


def parse_layout(layout: str, source: str) -> tuple[int, int]:
    """Return the positions of the T and B axes of a layout such as `TBCHW`; reject others."""
    if not isinstance(layout, str) or len(layout) < 3 or sorted(layout[:2]) != ["B", "T"] \
            or layout[2:] not in NEURON_AXES:
        raise ConfigError(f"layout {layout!r} is not supported; use T and B first in either order, then CHW or N "
                          "(for example TBCHW, BTCHW, TBN or BTN)", source=source, key="layout")
    return layout.index("T"), layout.index("B")


def _neuron_forms(shape: tuple[int, int, int], kind: str) -> list[tuple[int, ...]]:
    forms = [tuple(shape), (int(np.prod(shape)),)]
    if kind == "fc":
        forms.append((shape[0],))
    return forms


def arrange_activity(array: np.ndarray, layout: str, neuron_shape: tuple[int, int, int], kind: str,
                     timesteps: int, source: str, key: str) -> np.ndarray:
    """Return `array` as uint8 [B, T, *neuron_shape]; raise ConfigError naming both shapes on a mismatch."""
    time_axis, batch_axis = parse_layout(layout, source)
    shape = tuple(int(size) for size in array.shape)
    forms = _neuron_forms(neuron_shape, kind)
    if len(shape) >= 3 and shape[2:] in forms:
        if shape[time_axis] != timesteps:
            raise ConfigError(
                f"array shape {list(shape)} declared {layout}: axis {time_axis} (T) has {shape[time_axis]} steps, "
                f"but workload.timesteps is {timesteps}; fix the layout or the timesteps",
                source=source, key=key)
        batch_first = np.moveaxis(array, (batch_axis, time_axis), (0, 1))
    elif len(shape) >= 2 and shape[1:] in forms:
        if timesteps != 1:
            raise ConfigError(
                f"array shape {list(shape)} has no T axis for layout {layout}; only timesteps: 1 may leave it out "
                f"(workload.timesteps is {timesteps})", source=source, key=key)
        batch_first = array[:, None]
    else:
        expected = " or ".join(str([*(["T", "B"] if time_axis == 0 else ["B", "T"]), *form]) for form in forms)
        raise ConfigError(
            f"array shape {list(shape)} contradicts layout {layout} and the model's shape {list(neuron_shape)} "
            f"for this array; expected {expected}", source=source, key=key)
    if batch_first.size and not np.isin(batch_first, (0, 1)).all():
        values = np.unique(batch_first)
        raise ConfigError(f"spikes must be 0 or 1, found values {values[:5].tolist()}", source=source, key=key)
    return np.ascontiguousarray(batch_first.reshape(batch_first.shape[0], batch_first.shape[1], *neuron_shape),
                                dtype=np.uint8)


def read_activity_file(path: Path) -> dict[str, np.ndarray]:
    """Read a recorded-activity archive into a dict of arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ConfigError("activity file not found; check workload.dataset.path", source=str(path)) from None
    except (ValueError, OSError) as error:
        raise ConfigError(f"cannot read activity file ({error}); it must be a numpy .npz archive",
                          source=str(path)) from None


def recorded_samples(arrays: dict[str, np.ndarray], model: Model, timesteps: int, source: str,
                     limit: int | None = None) -> list[tuple[str, ActivitySample, int]]:
    """Check recorded arrays against the model and split them into (name, sample, label) per batch index."""
    if "layout" not in arrays:
        raise ConfigError("missing array 'layout' (a string such as 'TBCHW' naming the axes)", source=source)
    layout = str(arrays["layout"].item()) if arrays["layout"].size == 1 else ""
    names = [layer.name for layer in model.layers]
    unknown = sorted(set(arrays) - set(names) - set(RESERVED_KEYS))
    if unknown:
        raise ConfigError(f"arrays {unknown} match no layer; the model's layers are {names}", source=source)
    recorded_layers = [name for name in names if name in arrays]
    missing = [key for key in ["input", *names] if key not in arrays]
    if "input" in missing or (recorded_layers and missing):
        raise ConfigError(f"missing arrays {missing}; give 'input' and either one array per layer {names} or none",
                          source=source)
    arranged = {"input": arrange_activity(arrays["input"], layout, model.input_shape, "conv", timesteps, source,
                                          "input")}
    for layer in model.layers if recorded_layers else []:
        arranged[layer.name] = arrange_activity(arrays[layer.name], layout, layer.out_shape, layer.kind, timesteps,
                                                source, layer.name)
    batch = arranged["input"].shape[0]
    for key, value in arranged.items():
        if value.shape[0] != batch:
            raise ConfigError(f"array {key!r} holds {value.shape[0]} samples, but 'input' holds {batch}",
                              source=source, key=key)
    labels = np.full(batch, -1, dtype=np.int64)
    if "labels" in arrays:
        label_array = arrays["labels"].reshape(-1)
        if label_array.size != batch or not np.issubdtype(label_array.dtype, np.integer):
            raise ConfigError(f"'labels' must hold {batch} integers, got {label_array.size} of {label_array.dtype}",
                              source=source, key="labels")
        labels = label_array.astype(np.int64)
    if batch == 0:
        raise ConfigError("the arrays hold no samples (batch size 0)", source=source)
    count = batch if limit is None else min(limit, batch)
    return [(f"recorded{index}", ActivitySample(arranged["input"][index],
                                                [arranged[name][index] for name in names] if recorded_layers else None),
             int(labels[index]))
            for index in range(count)]


def burst_spikes(shape: tuple[int, ...], timesteps: int, rate: float, clustering: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Draw uint8 spikes [T, *shape] with mean rate `rate`, bunched in time by `clustering` (module docstring)."""
    if not 0.0 <= rate <= 1.0 or not 0.0 <= clustering <= 1.0:
        raise ValueError(f"rate {rate} and clustering {clustering} must both be in [0, 1]")
    neurons = int(np.prod(shape))
    burst = int(round(timesteps * (1.0 - clustering * (1.0 - rate))))
    burst = min(timesteps, max(burst, int(np.ceil(rate * timesteps)), 1))
    probability = rate * timesteps / burst
    starts = rng.integers(0, timesteps, size=neurons)
    offsets = (np.arange(timesteps)[:, None] - starts[None, :]) % timesteps  # [T, N]
    in_burst = offsets < burst
    spikes = in_burst & (rng.random((timesteps, neurons)) < probability)
    return spikes.astype(np.uint8).reshape(timesteps, *shape)


def synthetic_sample(model: Model, timesteps: int, input_rate: float, rates: list[float], clustering: float,
                     rng: np.random.Generator) -> ActivitySample:
    """Draw one sample of synthetic activity for every layer of `model`."""
    spikes_in = burst_spikes(model.input_shape, timesteps, input_rate, clustering, rng)
    outputs = [burst_spikes(layer.out_shape, timesteps, rate, clustering, rng)
               for layer, rate in zip(model.layers, rates)]
    return ActivitySample(spikes_in, outputs)


def input_fan_out(layer: Layer) -> np.ndarray:
    """Return int64 [C, H, W]: the synapses from each input neuron (output positions reached x channels)."""
    channels, height, width = layer.in_shape
    if layer.kind == "fc":
        return np.full((channels, height, width), layer.out_channels, dtype=np.int64)
    row_stride, col_stride = layer.strides
    padding = layer.padding
    counts = np.zeros((height + 2 * padding, width + 2 * padding), dtype=np.int64)
    out_height, out_width = layer.out_shape[1], layer.out_shape[2]
    for dy in range(layer.kernel):
        for dx in range(layer.kernel):
            counts[dy:dy + row_stride * out_height:row_stride, dx:dx + col_stride * out_width:col_stride] += 1
    reached = counts[padding:padding + height, padding:padding + width]
    return np.broadcast_to(reached * layer.out_channels, (channels, height, width)).copy()


def spike_metrics(spikes: np.ndarray, fan_out) -> dict:
    """Return activity metrics of binary spikes [T, B, N] (or [T, N]) with per-neuron or scalar fan-out.

    spikes: total count; firing_rate: spikes / (T * B * N); neuron_rates [N]: mean over T and
    B; step_rates [T]: mean over B and N; synaptic_ops: sum over spikes of the sending
    neuron's fan-out (one accumulate per spike and outgoing synapse).
    """
    spikes = np.asarray(spikes)
    if spikes.ndim == 2:
        spikes = spikes[:, None, :]
    flat = spikes.reshape(spikes.shape[0], spikes.shape[1], -1).astype(np.int64)
    per_neuron = flat.sum(axis=(0, 1))
    fan = np.broadcast_to(np.asarray(fan_out, dtype=np.int64).reshape(-1), per_neuron.shape)
    return {
        "spikes": int(flat.sum()),
        "firing_rate": float(flat.mean()) if flat.size else 0.0,
        "neuron_rates": flat.mean(axis=(0, 1)),
        "step_rates": flat.mean(axis=(1, 2)),
        "synaptic_ops": int((per_neuron * fan).sum()),
    }


def active_window_fraction(spikes: np.ndarray, tws: int) -> float:
    """Return the share of time windows of `tws` steps (the last may be shorter) with any spike."""
    steps = spikes.shape[0]
    if steps == 0:
        return 0.0
    per_step = spikes.reshape(steps, -1).any(axis=1)
    windows = -(-steps // tws)
    padded = np.zeros(windows * tws, dtype=bool)
    padded[:steps] = per_step
    return float(padded.reshape(windows, tws).any(axis=1).mean())
