"""NIR (Neuromorphic Intermediate Representation) import and export of spiking models.

Import walks a NIR graph along its edges from the `Input` node to the `Output` node,
because node order in a file is alphabetical, not topological. It maps the graph onto the
simulator's chain of conv/fc layers, each followed by integer LIF neurons (see
`spikex_sim.workload.model`).

Continuous-time parameters become one discrete step of length `dt` (NIR's equations are
`tau dv/dt = (v_leak - v) + R I` for LIF and `dv/dt = R I` for IF):

- leak per step: `exp(-dt / tau)` (conversion `exp`, the exact decay over one step) or
  `1 - dt / tau` (conversion `linear`, forward Euler; snnTorch exports `beta = 1 - dt/tau`);
- input gain per step: `dt * R / tau` for LIF and `dt * R` for IF (the forward-Euler
  increment), folded into the weights before quantisation;
- the leak becomes `leak_q / 256` with `leak_q = round(leak * 256)`.

Each layer's weights (times the gain) are quantised to signed `weight_bits` integers with
one scale per layer; the threshold is multiplied by the same scale. Rounding the threshold
down for `>` and up for `>=` makes the integer comparison equal to the real-valued one on
the quantised membrane. The scale, the largest weight error and the leak error of every
layer go into `Model.metadata["nir"]` and the log.

Pooling: a SumPool2d or AvgPool2d whose stride equals its kernel and that sits between
spikes (the input or a neuron layer) and the next conv or fc layer is folded into that
layer's weights, which is exact because both are linear: the next layer sees each pooled
pixel as the sum of a k x k block, so its kernel grows by k in each direction and its
stride is multiplied by k. Every other placement is rejected with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikex_sim.errors import ConfigError
from spikex_sim.workload.model import LEAK_SHIFT, Layer, Model, NeuronParams, conv_output_size

logger = logging.getLogger(__name__)

LEAK_CONVERSIONS = ("exp", "linear")
QUANTISATION_RULES = ("max", "power_of_two", "integer")
# snnTorch's NIR exporter writes tau = dt / (1 - beta) with this dt.
SNNTORCH_DT = 1e-4
# A threshold times its scale that lies this close to an integer is taken as that integer,
# so that float noise in the scale does not move an exact threshold by one step.
INTEGER_SNAP = 1e-9
WEIGHT_NODES = ("Conv2d", "Linear", "Affine")
NEURON_NODES = ("LIF", "IF")
POOL_NODES = ("SumPool2d", "AvgPool2d")


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError("NIR support needs the nir package; install it with `pip install nir`") from None
    return nir


@dataclass(frozen=True)
class ImportOptions:
    """Conversion settings from continuous-time NIR parameters to the integer model."""

    dt: float = SNNTORCH_DT
    leak_conversion: str = "linear"
    weight_bits: int = 8
    quantization: str = "max"
    fire: str = ">"
    reset: str = "zero"
    membrane_bits: int = 16


@dataclass
class _PendingWeights:
    """A conv or fc node read from the graph that still waits for its neuron node."""

    name: str
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    weight: np.ndarray  # float, already expanded by a folded pooling
    kernel: int
    stride: int
    stride_w: int | None
    padding: int
    notes: list[str] = field(default_factory=list)


@dataclass
class _Pool:
    name: str
    kernel: int
    divisor: int  # 1 for SumPool2d, kernel * kernel for AvgPool2d
    in_shape: tuple[int, int, int]


def read_nir_model(path: str | Path, options: ImportOptions) -> Model:
    """Read a NIR file and return the integer model; raise ConfigError for what cannot be mapped."""
    nir = _nir()
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError("NIR file not found; check workload.model.path", source=source)
    try:
        graph = nir.read(path)
    except Exception as error:  # h5py and nir raise many types for a damaged or foreign file
        raise ConfigError(f"cannot read NIR file ({type(error).__name__}: {error})", source=source) from None
    model = nir_graph_to_model(graph, options, source=source, name=path.stem)
    model.weights_path = path.resolve()
    model.weights_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return model


def nir_graph_to_model(graph, options: ImportOptions, *, source: str, name: str = "nir_model") -> Model:
    """Map an in-memory `nir.NIRGraph` onto the simulator's layer chain."""
    _check_options(options, source)
    chain = _walk_chain(graph, source)
    input_name, input_node = chain[0]
    shape = _input_shape(input_node, input_name, source)
    model_input = shape
    layers: list[Layer] = []
    layer_reports: dict[str, dict] = {}
    pending: _PendingWeights | None = None
    pool: _Pool | None = None
    flat = False  # True after a Flatten: `shape` is still (C, H, W), read as one vector

    for node_name, node in chain[1:]:
        kind = type(node).__name__
        where = f"node {node_name!r} ({kind})"
        if kind == "Output":
            if pending is not None:
                raise ConfigError(f"{where}: layer {pending.name!r} reaches the output without a LIF or IF "
                                  "node; the array needs spiking neurons after every conv or fc layer",
                                  source=source)
            if pool is not None:
                raise ConfigError(f"{where}: pooling node {pool.name!r} feeds the output directly; pooling is "
                                  "supported only in front of a conv or fc layer", source=source)
            break
        if kind == "Flatten":
            _check_flatten(node, shape, where, source)
            flat = True
        elif kind in POOL_NODES:
            if pending is not None:
                raise ConfigError(f"{where}: pooling of membrane currents (between {pending.name!r} and its "
                                  "neurons) cannot be mapped; pool the spikes after the neurons instead",
                                  source=source)
            if pool is not None:
                raise ConfigError(f"{where}: two pooling nodes in a row ({pool.name!r} first); merge them into "
                                  "one", source=source)
            if flat:
                raise ConfigError(f"{where}: pooling after a Flatten node has no spatial axes", source=source)
            pool = _read_pool(node, node_name, kind, shape, source)
            shape = (shape[0], shape[1] // pool.kernel, shape[2] // pool.kernel)
        elif kind in WEIGHT_NODES:
            if pending is not None:
                raise ConfigError(f"{where} follows {pending.name!r} without a LIF or IF node in between; "
                                  "the array applies neurons after every weight layer", source=source)
            if kind == "Conv2d":
                if flat:
                    raise ConfigError(f"{where}: a convolution after a Flatten node cannot be mapped",
                                      source=source)
                pending = _read_conv(node, node_name, shape, pool, source)
            else:
                pending = _read_linear(node, node_name, kind, shape, pool, source)
            pool = None
        elif kind in NEURON_NODES:
            if pending is None:
                raise ConfigError(f"{where} has no conv or fc layer in front of it; the array computes "
                                  "neurons only as part of a weight layer", source=source)
            layer, report = _make_layer(pending, node, node_name, kind, options, source)
            layers.append(layer)
            layer_reports[layer.name] = report
            shape = layer.out_shape
            flat = layer.kind == "fc"
            pending = None
        else:
            raise ConfigError(f"{where}: node type {kind} is not supported; supported types: Input, Output, "
                              f"{', '.join(WEIGHT_NODES + NEURON_NODES + POOL_NODES)}, Flatten"
                              + _unsupported_hint(kind), source=source)
    if not layers:
        raise ConfigError("the NIR graph has no conv or fc layer with neurons", source=source)
    metadata = {"nir": {
        "source": source, "dt": options.dt, "leak_conversion": options.leak_conversion,
        "weight_bits": options.weight_bits, "quantization": options.quantization,
        "fire": options.fire, "reset": options.reset, "layers": layer_reports,
    }}
    return Model(name, model_input, layers, source, Path(source), "", metadata)


def _unsupported_hint(kind: str) -> str:
    hints = {
        "CubaLIF": "; a current-based LIF has a second state (the synaptic current) that the integer LIF "
                   "lacks, so use plain LIF neurons (snnTorch Leaky instead of Synaptic)",
        "CubaLI": "; leaky integrators without a threshold do not spike, so they cannot run on the array",
        "LI": "; leaky integrators without a threshold do not spike, so they cannot run on the array",
        "I": "; integrators without a threshold do not spike, so they cannot run on the array",
        "NIRGraph": "; nested graphs (for example recurrent snnTorch layers) are not supported",
        "Conv1d": "; only 2-D convolutions map onto the array",
        "Scale": "; fold the scale into the previous layer's weights before export",
        "Delay": "; the array has no synaptic delays",
        "Threshold": "; a bare threshold has no membrane, use a LIF or IF node",
    }
    return hints.get(kind, "")


def _check_options(options: ImportOptions, source: str) -> None:
    if not (options.dt > 0 and math.isfinite(options.dt)):
        raise ConfigError(f"dt must be a positive time step, got {options.dt!r}", source=source)
    if options.leak_conversion not in LEAK_CONVERSIONS:
        raise ConfigError(f"leak conversion {options.leak_conversion!r} is not one of {', '.join(LEAK_CONVERSIONS)}",
                          source=source)
    if options.quantization not in QUANTISATION_RULES:
        raise ConfigError(f"quantisation rule {options.quantization!r} is not one of "
                          f"{', '.join(QUANTISATION_RULES)}", source=source)


def _walk_chain(graph, source: str) -> list[tuple[str, object]]:
    """Return the nodes from Input to Output in edge order; reject branches, loops and strays."""
    nodes = graph.nodes
    successors: dict[str, list[str]] = {name: [] for name in nodes}
    predecessors: dict[str, list[str]] = {name: [] for name in nodes}
    for edge in graph.edges:
        start, end = edge
        for endpoint in (start, end):
            if endpoint not in nodes:
                raise ConfigError(f"edge {start!r} -> {end!r} names node {endpoint!r}, which the graph does not "
                                  "contain (sub-graph ports are not supported)", source=source)
        successors[start].append(end)
        predecessors[end].append(start)
    inputs = [name for name, node in nodes.items() if type(node).__name__ == "Input"]
    outputs = [name for name, node in nodes.items() if type(node).__name__ == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"the graph must have exactly one Input and one Output node, found inputs {inputs} and "
                          f"outputs {outputs}", source=source)
    chain = [inputs[0]]
    seen = {inputs[0]}
    while chain[-1] != outputs[0]:
        current = chain[-1]
        following = successors[current]
        if len(following) != 1:
            problem = "has no outgoing edge" if not following else f"branches to {sorted(following)}"
            raise ConfigError(f"node {current!r} {problem}; only a single chain from input to output can be "
                              "mapped (no branches, skips or recurrence)", source=source)
        next_name = following[0]
        if next_name in seen:
            raise ConfigError(f"edge {current!r} -> {next_name!r} closes a loop; recurrent graphs are not supported",
                              source=source)
        if len(predecessors[next_name]) != 1:
            raise ConfigError(f"node {next_name!r} has inputs from {sorted(predecessors[next_name])}; only a single chain "
                              "can be mapped", source=source)
        chain.append(next_name)
        seen.add(next_name)
    stray = sorted(set(nodes) - seen)
    if stray:
        raise ConfigError(f"nodes {stray} are not on the path from input to output", source=source)
    return [(name, nodes[name]) for name in chain]


def _input_shape(node, name: str, source: str) -> tuple[int, int, int]:
    declared = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if declared is None:
        raise ConfigError(f"Input node {name!r} has no shape", source=source)
    shape = [int(value) for value in np.asarray(declared).reshape(-1)]
    if len(shape) == 4 and shape[0] == 1:
        # A leading batch axis of 1 (snnTorch without ignore_dims=[0]); the model has none.
        shape = shape[1:]
    if len(shape) == 1:
        return (shape[0], 1, 1)
    if len(shape) == 3 and all(value > 0 for value in shape):
        return tuple(shape)
    raise ConfigError(f"Input node {name!r} has shape {shape}; expected [C, H, W] or [N]", source=source)


def _check_flatten(node, shape, where: str, source: str) -> None:
    nir = _nir()
    start, end = int(node.start_dim), int(node.end_dim)
    try:
        flattened = nir.ir.utils.calc_flatten_output(list(shape), start, end)
    except Exception as error:
        raise ConfigError(f"{where}: cannot flatten shape {list(shape)} from dim {start} to {end} ({error})",
                          source=source) from None
    if sum(int(size) > 1 for size in np.asarray(flattened).reshape(-1)) > 1:
        raise ConfigError(f"{where}: flattening {list(shape)} from dim {start} to {end} gives "
                          f"{list(np.asarray(flattened))}, not one vector; fc layers read one vector", source=source)


def _pair(value, what: str, where: str, source: str) -> tuple[int, int]:
    array = np.asarray(value).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, 2)
    if array.size != 2 or not np.all(array == np.round(array)):
        raise ConfigError(f"{where}: {what} {list(array)} is not one or two integers", source=source)
    return int(array[0]), int(array[1])


def _read_pool(node, name: str, kind: str, shape, source: str) -> _Pool:
    where = f"node {name!r} ({kind})"
    kernel = _pair(node.kernel_size, "kernel_size", where, source)
    stride = _pair(node.stride, "stride", where, source)
    padding = _pair(node.padding, "padding", where, source)
    if kernel[0] != kernel[1]:
        raise ConfigError(f"{where}: kernel {list(kernel)} is not square", source=source)
    if stride != kernel:
        raise ConfigError(f"{where}: stride {list(stride)} differs from kernel {list(kernel)}; only "
                          "non-overlapping pooling folds exactly into the next layer", source=source)
    if padding != (0, 0):
        raise ConfigError(f"{where}: padding {list(padding)} is not supported; pooling folds exactly only "
                          "without padding", source=source)
    size = kernel[0]
    if shape[1] < size or shape[2] < size:
        raise ConfigError(f"{where}: kernel {size} is larger than the input {list(shape)}", source=source)
    divisor = 1 if kind == "SumPool2d" else size * size
    return _Pool(name, size, divisor, tuple(shape))


def _bias_must_be_zero(node, where: str, source: str) -> None:
    bias = getattr(node, "bias", None)
    if bias is not None and np.any(np.asarray(bias, dtype=np.float64) != 0):
        raise ConfigError(f"{where}: a non-zero bias cannot be mapped, because the array adds only the weights "
                          "of inputs that spiked; retrain or export without bias", source=source)


def _read_conv(node, name: str, shape, pool: _Pool | None, source: str) -> _PendingWeights:
    where = f"node {name!r} (Conv2d)"
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ConfigError(f"{where}: weight has shape {list(weight.shape)}, expected [M, C, E, E]", source=source)
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    if kernel_h != kernel_w:
        raise ConfigError(f"{where}: kernel {kernel_h}x{kernel_w} is not square; the array maps square kernels",
                          source=source)
    if int(node.groups) != 1:
        raise ConfigError(f"{where}: groups={node.groups}; only dense convolutions (groups=1) map onto the array",
                          source=source)
    if _pair(node.dilation, "dilation", where, source) != (1, 1):
        raise ConfigError(f"{where}: dilation {list(np.asarray(node.dilation).reshape(-1))} is not supported",
                          source=source)
    _bias_must_be_zero(node, where, source)
    stride_h, stride_w = _pair(node.stride, "stride", where, source)
    padding = node.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif stride_h == stride_w == 1 and kernel_h % 2 == 1:
            padding = (kernel_h - 1) // 2
        else:
            raise ConfigError(f"{where}: padding 'same' maps only with stride 1 and an odd kernel", source=source)
    else:
        pad_h, pad_w = _pair(padding, "padding", where, source)
        if pad_h != pad_w:
            raise ConfigError(f"{where}: padding {pad_h}x{pad_w} differs per axis; the array pads all sides "
                              "equally", source=source)
        padding = pad_h
    if in_channels != shape[0]:
        raise ConfigError(f"{where}: weight expects {in_channels} input channels, but the layer input is "
                          f"{list(shape)}", source=source)
    declared = getattr(node, "input_shape", None)
    if declared is not None and tuple(int(v) for v in np.asarray(declared).reshape(-1)) != tuple(shape[1:]):
        raise ConfigError(f"{where}: input_shape {list(np.asarray(declared).reshape(-1))} contradicts the "
                          f"incoming shape {list(shape[1:])}", source=source)
    out_h = conv_output_size(shape[1], kernel_h, stride_h, padding)
    out_w = conv_output_size(shape[2], kernel_h, stride_w, padding)
    if out_h < 1 or out_w < 1:
        raise ConfigError(f"{where}: output {out_h}x{out_w} from input {list(shape)} is empty", source=source)
    pending = _PendingWeights(name, "conv", tuple(shape), (out_channels, out_h, out_w), weight, kernel_h,
                              stride_h, stride_w if stride_w != stride_h else None, padding)
    if pool is not None:
        _fold_pool_into_conv(pending, pool, where, source)
    return pending


def _fold_pool_into_conv(pending: _PendingWeights, pool: _Pool, where: str, source: str) -> None:
    size = pool.kernel
    _, height, width = pool.in_shape
    if pending.padding and (height % size or width % size):
        raise ConfigError(f"{where}: pooling {pool.name!r} (kernel {size}) drops the last rows or columns of "
                          f"{list(pool.in_shape)}, and the padding of this convolution would cover them; "
                          "folding would not be exact", source=source)
    weight = np.repeat(np.repeat(pending.weight, size, axis=2), size, axis=3) / pool.divisor
    stride_h = pending.stride * size
    stride_w = (pending.stride if pending.stride_w is None else pending.stride_w) * size
    padding = pending.padding * size
    kernel = pending.kernel * size
    out_h = conv_output_size(height, kernel, stride_h, padding)
    out_w = conv_output_size(width, kernel, stride_w, padding)
    if (out_h, out_w) != pending.out_shape[1:]:
        raise ConfigError(f"{where}: folding pooling {pool.name!r} gives output {out_h}x{out_w} instead of "
                          f"{pending.out_shape[1]}x{pending.out_shape[2]}", source=source)
    pending.weight = weight
    pending.kernel, pending.stride, pending.padding = kernel, stride_h, padding
    pending.stride_w = stride_w if stride_w != stride_h else None
    pending.in_shape = pool.in_shape
    pending.notes.append(f"{pool.name} ({'sum' if pool.divisor == 1 else 'average'} pooling {size}x{size}) "
                         f"folded in: kernel x{size}, stride x{size}")


def _read_linear(node, name: str, kind: str, shape, pool: _Pool | None, source: str) -> _PendingWeights:
    where = f"node {name!r} ({kind})"
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ConfigError(f"{where}: weight has shape {list(weight.shape)}, expected [out, in]", source=source)
    if kind == "Affine":
        _bias_must_be_zero(node, where, source)
    inputs = int(np.prod(shape))
    if weight.shape[1] != inputs:
        raise ConfigError(f"{where}: weight reads {weight.shape[1]} inputs, but the layer input {list(shape)} has "
                          f"{inputs}", source=source)
    in_shape = tuple(shape)
    notes = []
    if pool is not None:
        channels, height, width = pool.in_shape
        blocks = weight.reshape(weight.shape[0], *shape)
        expanded = np.zeros((weight.shape[0], channels, height, width))
        size = pool.kernel
        covered = np.repeat(np.repeat(blocks, size, axis=2), size, axis=3) / pool.divisor
        expanded[:, :, :covered.shape[2], :covered.shape[3]] = covered  # rows the pooling drops get weight 0
        weight = expanded.reshape(weight.shape[0], -1)
        in_shape = pool.in_shape
        notes.append(f"{pool.name} ({'sum' if pool.divisor == 1 else 'average'} pooling {size}x{size}) folded "
                     f"in: {inputs} -> {weight.shape[1]} inputs")
    return _PendingWeights(name, "fc", in_shape, (weight.shape[0], 1, 1), weight, 1, 1, None, 0, notes)


def _uniform(values, what: str, expected_shape: tuple, where: str, source: str) -> float:
    """Return the one value of a per-neuron parameter; reject shapes that mismatch or values that differ."""
    array = np.asarray(values, dtype=np.float64)
    try:
        broadcast = np.broadcast_shapes(array.shape, expected_shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(expected_shape):
        raise ConfigError(f"{where}: {what} has shape {list(array.shape)}, which does not match the layer's "
                          f"neurons {list(expected_shape)}", source=source)
    if array.size == 0:
        raise ConfigError(f"{where}: {what} is empty", source=source)
    low, high = float(array.min()), float(array.max())
    if low != high and not (math.isnan(low) or math.isnan(high)):
        raise ConfigError(f"{where}: {what} differs between neurons (from {low:g} to {high:g}); the array's LIF "
                          "has one value per layer, so give every neuron the same value", source=source)
    value = float(array.reshape(-1)[0])
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {what} is {value}; it must be finite", source=source)
    return value


def _make_layer(pending: _PendingWeights, node, name: str, kind: str, options: ImportOptions,
                source: str) -> tuple[Layer, dict]:
    where = f"node {name!r} ({kind})"
    nir_shape = pending.out_shape if pending.kind == "conv" else (pending.out_shape[0],)
    threshold = _uniform(node.v_threshold, "v_threshold", nir_shape, where, source)
    r = _uniform(node.r, "r", nir_shape, where, source)
    v_reset = _uniform(node.v_reset, "v_reset", nir_shape, where, source)
    if threshold <= 0:
        raise ConfigError(f"{where}: v_threshold is {threshold:g}; it must be positive, because a neuron with a "
                          "threshold at or below its resting membrane 0 fires without input", source=source)
    if v_reset != 0:
        raise ConfigError(f"{where}: v_reset is {v_reset:g}; the integer LIF resets to 0 (or subtracts the "
                          "threshold)", source=source)
    if kind == "IF":
        leak = 1.0
        gain = options.dt * r
        tau = math.inf
    else:
        tau = _uniform(node.tau, "tau", nir_shape, where, source)
        v_leak = _uniform(node.v_leak, "v_leak", nir_shape, where, source)
        if v_leak != 0:
            raise ConfigError(f"{where}: v_leak is {v_leak:g}; the integer LIF decays toward 0, so only "
                              "v_leak = 0 maps", source=source)
        if tau <= 0:
            raise ConfigError(f"{where}: tau is {tau:g}; it must be positive", source=source)
        if options.leak_conversion == "exp":
            leak = math.exp(-options.dt / tau)
        else:
            leak = 1.0 - options.dt / tau
            if leak < 0:
                raise ConfigError(f"{where}: tau {tau:g} s is shorter than dt {options.dt:g} s, so the linear "
                                  "leak 1 - dt/tau is negative; use a smaller dt or leak_conversion: exp",
                                  source=source)
        gain = options.dt * r / tau
    if not (gain > 0 and math.isfinite(gain)):
        raise ConfigError(f"{where}: input gain dt*R/tau = {gain:g} must be positive and finite (check r, tau and "
                          "dt)", source=source)
    leak_q = int(round(leak * (1 << LEAK_SHIFT)))
    weight = pending.weight * gain
    scale, weight_int, weight_error = quantise_weights(weight, options, where, source)
    threshold_int = _threshold_to_int(threshold * scale, options.fire)
    membrane_max = (1 << (options.membrane_bits - 1)) - 1
    if threshold_int < 1:
        raise ConfigError(f"{where}: threshold {threshold:g} becomes the integer {threshold_int} at weight scale "
                          f"{scale:g}; use more weight bits or a smaller weight range", source=source)
    if threshold_int > membrane_max:
        raise ConfigError(f"{where}: threshold {threshold:g} becomes {threshold_int} at weight scale {scale:g}, above "
                          f"the {options.membrane_bits}-bit membrane's maximum {membrane_max}; use fewer weight "
                          "bits or more membrane bits", source=source)
    neuron = NeuronParams(threshold=threshold_int, leak_q=leak_q, fire=options.fire, reset=options.reset,
                          membrane_bits=options.membrane_bits)
    layer = Layer(pending.name, pending.kind, pending.in_shape, pending.out_shape, pending.kernel, pending.stride,
                  pending.padding, weight_int, neuron, "; ".join([f"from NIR {kind} {name!r}", *pending.notes]),
                  stride_w=pending.stride_w)
    report = {
        "neuron_node": name, "neuron_type": kind, "tau": tau, "r": r, "gain": gain,
        "leak": leak, "leak_q": leak_q, "leak_error": leak_q / (1 << LEAK_SHIFT) - leak,
        "threshold": threshold, "threshold_int": threshold_int, "weight_scale": scale,
        "max_weight_error": weight_error, "notes": list(pending.notes),
    }
    logger.info("NIR layer %s: weight scale %.6g (%d-bit, rule %s), max weight error %.3g, leak %.6g -> %d/256, "
                "threshold %.6g -> %d", pending.name, scale, options.weight_bits, options.quantization,
                weight_error, leak, leak_q, threshold, threshold_int)
    return layer, report


def _threshold_to_int(scaled: float, fire: str) -> int:
    nearest = round(scaled)
    if abs(scaled - nearest) <= INTEGER_SNAP * max(1.0, abs(scaled)):
        return int(nearest)
    # For integer membranes u: u > x  <=>  u > floor(x), and u >= x  <=>  u >= ceil(x).
    return int(math.floor(scaled)) if fire == ">" else int(math.ceil(scaled))


def quantise_weights(weight: np.ndarray, options: ImportOptions, where: str,
                     source: str) -> tuple[float, np.ndarray, float]:
    """Return (scale, int64 weights, largest error in real units) for one layer's real-valued weights."""
    limit = (1 << (options.weight_bits - 1)) - 1
    largest = float(np.abs(weight).max(initial=0.0))
    if options.quantization == "integer":
        scale = 1.0
        rounded = np.rint(weight)
        off = float(np.abs(weight - rounded).max(initial=0.0))
        if off > 1e-6 * max(1.0, largest):
            raise ConfigError(f"{where}: quantization 'integer' needs whole-number weights (times the input gain), "
                              f"but one is {off:g} away from the nearest integer; use rule max or power_of_two",
                              source=source)
        if largest > limit:
            raise ConfigError(f"{where}: weight {largest:g} does not fit {options.weight_bits}-bit signed integers "
                              f"(at most {limit}); use rule max or power_of_two", source=source)
    elif largest == 0:
        scale = 1.0
    elif options.quantization == "max":
        scale = limit / largest
    else:
        scale = 2.0 ** math.floor(math.log2(limit / largest))
    quantised = np.clip(np.rint(weight * scale), -limit, limit).astype(np.int64)
    error = float(np.abs(quantised / scale - weight).max(initial=0.0))
    return scale, quantised, error


def model_to_nir_graph(model: Model, *, dt: float = SNNTORCH_DT):
    """Return a `nir.NIRGraph` of an integer model that `read_nir_model` maps back to the same spikes.

    Weights are written as their integers (import them with quantization `integer`), the
    leak as `tau = dt / (1 - leak_q/256)` with `R = tau / dt` (gain 1 under the linear
    conversion), and IF neurons (`leak_q = 256`) with `R = 1 / dt`. NIR fires on `v > v_thr`,
    so a `>=` threshold T is written as T - 0.5, which is the same comparison for integer
    membranes. NIR has no reset by subtraction; such models are written with their
    threshold and need `reset: subtract` on import.
    """
    nir = _nir()
    nodes = {"input": nir.Input(input_type={"input": np.array(model.input_shape)})}
    edges = []
    previous = "input"
    previous_kind = "input"
    shape = model.input_shape
    for layer in model.layers:
        if layer.kind == "fc" and previous_kind != "fc":
            flatten_name = f"{layer.name}.flatten"
            nodes[flatten_name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            edges.append((previous, flatten_name))
            previous = flatten_name
        weight = layer.weight.astype(np.float64)
        if layer.kind == "conv":
            stride_w = layer.stride if layer.stride_w is None else layer.stride_w
            nodes[layer.name] = nir.Conv2d(
                input_shape=(int(layer.in_shape[1]), int(layer.in_shape[2])), weight=weight,
                stride=(layer.stride, stride_w), padding=(layer.padding, layer.padding), dilation=(1, 1),
                groups=1, bias=np.zeros(layer.out_channels))
            neuron_shape = layer.out_shape
        else:
            nodes[layer.name] = nir.Linear(weight=weight)
            neuron_shape = (layer.out_channels,)
        edges.append((previous, layer.name))
        neuron_name = f"{layer.name}.lif"
        nodes[neuron_name] = _export_neuron(nir, layer.neuron, neuron_shape, dt)
        edges.append((layer.name, neuron_name))
        previous = neuron_name
        previous_kind = layer.kind
        shape = layer.out_shape
    out_shape = np.array(model.layers[-1].out_shape if model.layers[-1].kind == "conv"
                         else (model.layers[-1].out_channels,))
    nodes["output"] = nir.Output(output_type={"output": out_shape})
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _export_neuron(nir, neuron: NeuronParams, shape: tuple, dt: float):
    full = np.ones(shape)
    threshold = neuron.threshold - 0.5 if neuron.fire == ">=" else float(neuron.threshold)
    if neuron.leak_q == 1 << LEAK_SHIFT:
        return nir.IF(r=full / dt, v_threshold=full * threshold, v_reset=np.zeros(shape))
    leak = neuron.leak_q / (1 << LEAK_SHIFT)
    tau = dt / (1.0 - leak)
    return nir.LIF(tau=full * tau, r=full * (tau / dt), v_leak=np.zeros(shape), v_threshold=full * threshold,
                   v_reset=np.zeros(shape))


def write_nir_model(model: Model, path: str | Path, *, dt: float = SNNTORCH_DT) -> Path:
    """Write `model` as a NIR file; return the path."""
    nir = _nir()
    path = Path(path)
    if model.layers and any(layer.neuron.reset == "subtract" for layer in model.layers):
        logger.warning("model %s resets by subtraction, which NIR cannot express; import it with reset: subtract",
                       model.name)
    nir.write(path, model_to_nir_graph(model, dt=dt))
    return path
