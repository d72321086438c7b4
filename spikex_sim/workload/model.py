"""Spiking network models: layer shapes, quantised weights and integer LIF neurons.

A model file (YAML) lists the layers in order with their shapes; a weight file (`.npz`)
holds each layer's int8 weights and its integer neuron parameters. Every layer is a
convolution or a fully connected layer followed by leaky integrate-and-fire neurons that
receive binary spikes, so the synaptic operation is a conditional add.

Integer LIF semantics (one step, all arithmetic in int64):

    u = (u * leak_q) >> leak_shift     # multiplicative leak, floor rounding
    u = u + I[t]                       # I[t]: sum of the weights of the inputs that spiked
    u = clip(u, membrane range)        # saturating membrane of `membrane_bits`
    s = u >= threshold   (or u > threshold)
    u = 0 where s        (or u - threshold where s, with reset: subtract)
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikex_sim.errors import ConfigError
from spikex_sim.paths import resolve_reference
from spikex_sim.safe_yaml import load_yaml_file

LEAK_SHIFT = 8
MAX_WEIGHT_FILE_BYTES = 1 << 30
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
FIRE_CONDITIONS = (">=", ">")
RESET_MODES = ("zero", "subtract")
LAYER_KINDS = ("conv", "fc")


@dataclass(frozen=True)
class NeuronParams:
    """Integer LIF parameters of one layer."""

    threshold: int
    leak_q: int
    fire: str = ">="
    reset: str = "zero"
    membrane_bits: int = 16

    @property
    def membrane_min(self) -> int:
        return -(1 << (self.membrane_bits - 1))

    @property
    def membrane_max(self) -> int:
        return (1 << (self.membrane_bits - 1)) - 1


@dataclass
class Layer:
    """One conv or fc layer with its LIF neurons; shapes are (C, H, W) without time."""

    name: str
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int
    stride: int
    padding: int
    weight: np.ndarray  # int8 [M, C, E, E] for conv, [M, K] for fc
    neuron: NeuronParams
    notes: str = ""
    stride_w: int | None = None  # column stride when it differs from `stride` (the row stride)
    # Output spikes [T, M, Ho, Wo] from recorded or synthetic activity. When set, the arrays
    # use them in place of the LIF output computed from the weights.
    recorded_output: np.ndarray | None = None

    @property
    def strides(self) -> tuple[int, int]:
        """Return (row stride, column stride)."""
        return self.stride, self.stride if self.stride_w is None else self.stride_w

    @property
    def in_channels(self) -> int:
        """Reduction channels: C for conv, the K inputs for fc (each a 1x1 'channel')."""
        return self.in_shape[0] if self.kind == "conv" else int(np.prod(self.in_shape))

    @property
    def taps(self) -> int:
        return self.kernel * self.kernel if self.kind == "conv" else 1

    @property
    def out_channels(self) -> int:
        return self.out_shape[0]

    @property
    def positions(self) -> int:
        return self.out_shape[1] * self.out_shape[2]

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.taps

    def weight_matrix(self) -> np.ndarray:
        """Return the weights as [M, fan_in] in (C, kh, kw) order."""
        return self.weight.reshape(self.out_channels, -1)

    def weight_matrix_transposed_float(self) -> np.ndarray:
        """Return the weights as float64 [fan_in, M], computed once (exact for integer weights).

        NOTE: the copy is cached on first use; replace the Layer rather than editing `weight`.
        """
        cached = self.__dict__.get("_weights_float_t")
        if cached is None or cached.shape[1] != self.out_channels:
            cached = np.ascontiguousarray(self.weight_matrix().astype(np.float64).T)
            self.__dict__["_weights_float_t"] = cached
        return cached


@dataclass
class Model:
    """A feed-forward SNN: an input shape and layers run one after another."""

    name: str
    input_shape: tuple[int, int, int]
    layers: list[Layer]
    source: str
    weights_path: Path
    weights_sha256: str
    metadata: dict = field(default_factory=dict)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Return floor((size + 2 * padding - kernel) / stride) + 1, the usual conv output size."""
    return (size + 2 * padding - kernel) // stride + 1


def _require(mapping: dict, key: str, kind: type, source: str, where: str):
    if key not in mapping:
        raise ConfigError(f"missing key {key!r}", source=source, key=f"{where}.{key}")
    value = mapping[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"expected an integer, got {value!r}", source=source, key=f"{where}.{key}")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"expected a string, got {value!r}", source=source, key=f"{where}.{key}")
    return value


def load_model(path: str | Path, *, fire: str, reset: str, membrane_bits: int,
               weights_seed: int | None = None) -> Model:
    """Load a model file and its weight file, checking every shape against the layer list.

    With `weights_seed`, the weights and neuron parameters are generated from that seed
    (untrained, see `spikex_sim.workload.zoo`) and the weight file is neither needed nor read.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise ConfigError("model file not found; check workload.model.path", source=source)
    spec = load_yaml_file(path, "model file")
    if not isinstance(spec, dict):
        raise ConfigError("a model file must be a mapping with 'input_shape', 'weights' and 'layers'", source=source)
    allowed = {"name", "input_shape", "weights", "layers", "description"}
    for key in spec:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r}; valid keys: {', '.join(sorted(allowed))}", source=source, key=key)

    input_shape = spec.get("input_shape")
    if not (isinstance(input_shape, list) and len(input_shape) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_shape)):
        raise ConfigError("input_shape must be [C, H, W] with positive integers", source=source, key="input_shape")
    if weights_seed is None:
        weights_name = _require(spec, "weights", str, source, "model")
        weights_path = resolve_reference(path.parent, weights_name, "weights", source)
        arrays = _load_weights(weights_path)
        generate = None
    else:
        from spikex_sim.workload.zoo import random_layer_arrays

        weights_path = Path(f"seed-{weights_seed}")
        arrays = {}

        def generate(name, index, weight_shape):
            return random_layer_arrays(name, index, weight_shape, weights_seed)
    layer_specs = spec.get("layers")
    if not isinstance(layer_specs, list) or not layer_specs:
        raise ConfigError("'layers' must be a non-empty list", source=source, key="layers")

    layers: list[Layer] = []
    shape = tuple(input_shape)
    for index, layer_spec in enumerate(layer_specs):
        layer = _build_layer(layer_spec, index, shape, arrays, source, str(weights_path), fire, reset, membrane_bits,
                             generate)
        layers.append(layer)
        shape = layer.out_shape
    if weights_seed is None:
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    else:
        digest = hashlib.sha256(f"spikex_sim.workload.zoo seed {weights_seed}".encode()).hexdigest()
    metadata = {key: arrays[key].item() for key in ("test_accuracy", "seed") if key in arrays}
    if weights_seed is not None:
        metadata["untrained_weights_seed"] = weights_seed
    return Model(str(spec.get("name", path.stem)), tuple(input_shape), layers, source, weights_path, digest, metadata)


def _load_weights(weights_path: Path) -> dict[str, np.ndarray]:
    source = str(weights_path)
    try:
        # The sizes in the zip directory bound what decompressing can allocate (a zip bomb).
        with zipfile.ZipFile(weights_path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_WEIGHT_FILE_BYTES:
            raise ConfigError(f"weight file unpacks to {unpacked} bytes, more than the {MAX_WEIGHT_FILE_BYTES} "
                              "bytes accepted; is this the right file?", source=source)
        with np.load(weights_path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ConfigError("weight file not found; check 'weights' in the model file", source=source) from None
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise ConfigError(f"cannot read weight file ({type(error).__name__}: {error}); it must be a numpy .npz "
                          "archive", source=source) from None


def _build_layer(layer_spec, index, in_shape, arrays, source, weights_source, fire, reset, membrane_bits,
                 generate=None) -> Layer:
    where = f"layers[{index}]"
    if not isinstance(layer_spec, dict):
        raise ConfigError("each layer must be a mapping", source=source, key=where)
    allowed = {"name", "kind", "out_channels", "out_features", "kernel", "stride", "padding", "notes"}
    for key in layer_spec:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r}; valid keys: {', '.join(sorted(allowed))}", source=source, key=f"{where}.{key}")
    name = _require(layer_spec, "name", str, source, where)
    kind = _require(layer_spec, "kind", str, source, where)
    if kind not in LAYER_KINDS:
        raise ConfigError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}", source=source, key=f"{where}.kind")
    channels, height, width = in_shape
    if kind == "conv":
        out_channels = _require(layer_spec, "out_channels", int, source, where)
        kernel = _require(layer_spec, "kernel", int, source, where)
        stride = layer_spec.get("stride", 1)
        padding = layer_spec.get("padding", 0)
        if isinstance(stride, list) and len(stride) == 2:
            stride, stride_w = stride
        else:
            stride_w = None
        for key, value, low in (("out_channels", out_channels, 1), ("kernel", kernel, 1), ("stride", stride, 1),
                                ("stride", stride if stride_w is None else stride_w, 1), ("padding", padding, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key} must be an integer of at least {low}, got {value!r}", source=source, key=f"{where}.{key}")
        out_height = conv_output_size(height, kernel, stride, padding)
        out_width = conv_output_size(width, kernel, stride if stride_w is None else stride_w, padding)
        if out_height < 1 or out_width < 1:
            raise ConfigError(
                f"output size {out_height}x{out_width} from input {height}x{width}, kernel {kernel}, stride {stride}, "
                f"padding {padding} is empty; enlarge the padding or shrink the kernel",
                source=source, key=where,
            )
        out_shape = (out_channels, out_height, out_width)
        weight_shape = (out_channels, channels, kernel, kernel)
    else:
        out_features = _require(layer_spec, "out_features", int, source, where)
        if out_features < 1:
            raise ConfigError(f"out_features must be at least 1, got {out_features}", source=source, key=f"{where}.out_features")
        kernel, stride, padding, stride_w = 1, 1, 0, None
        out_shape = (out_features, 1, 1)
        weight_shape = (out_features, channels * height * width)

    if generate is not None:
        arrays.update(generate(name, index, weight_shape))
    weight = arrays.get(f"{name}.weight")
    if weight is None:
        raise ConfigError(f"no array '{name}.weight' for layer {name}; retrain or fix the layer name", source=weights_source)
    if tuple(weight.shape) != weight_shape:
        raise ConfigError(
            f"'{name}.weight' has shape {list(weight.shape)}, but the model needs {list(weight_shape)}",
            source=weights_source,
        )
    if not np.issubdtype(weight.dtype, np.integer):
        problem = ""
        if np.issubdtype(weight.dtype, np.floating) and not np.isfinite(weight).all():
            problem = " with NaN or infinite values"
        raise ConfigError(f"'{name}.weight' must hold integers (quantised weights), got {weight.dtype}{problem}; "
                          "quantise the weights before saving them", source=weights_source)
    if weight.size and (int(weight.min()) < INT32_MIN or int(weight.max()) > INT32_MAX):
        raise ConfigError(f"'{name}.weight' has values from {int(weight.min())} to {int(weight.max())}, outside "
                          "32-bit signed integers; quantise the weights", source=weights_source)
    neuron = NeuronParams(
        threshold=_scalar(arrays, f"{name}.threshold", weights_source, minimum=1),
        leak_q=_scalar(arrays, f"{name}.leak_q", weights_source, minimum=0, maximum=1 << LEAK_SHIFT),
        fire=fire, reset=reset, membrane_bits=membrane_bits,
    )
    return Layer(name, kind, in_shape, out_shape, kernel, stride, padding, weight.astype(np.int64), neuron,
                 str(layer_spec.get("notes", "")), stride_w)


def _scalar(arrays, key, source, minimum, maximum=None) -> int:
    if key not in arrays:
        raise ConfigError(f"missing array {key!r}", source=source)
    value = arrays[key]
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        raise ConfigError(f"{key!r} must be one integer, got {value!r}", source=source)
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{key!r} is {number}; it must be {bound}", source=source)
    return number


def lif_scan(currents: np.ndarray, neuron: NeuronParams) -> tuple[np.ndarray, np.ndarray]:
    """Run integer LIF over time: `currents` [T, N] int64 -> spikes [T, N] uint8 and final membrane."""
    steps, count = currents.shape
    membrane = np.zeros(count, dtype=np.int64)
    spikes = np.zeros((steps, count), dtype=np.uint8)
    for step in range(steps):
        membrane = (membrane * neuron.leak_q) >> LEAK_SHIFT
        membrane += currents[step]
        np.clip(membrane, neuron.membrane_min, neuron.membrane_max, out=membrane)
        fired = membrane >= neuron.threshold if neuron.fire == ">=" else membrane > neuron.threshold
        spikes[step] = fired
        if neuron.reset == "zero":
            membrane[fired] = 0
        else:
            membrane[fired] -= neuron.threshold
    return spikes, membrane
