"""Train the N-MNIST spiking CNN that the simulator runs, and export it with 8-bit weights.

Run as `python -m spikex_sim.training.nmnist [--epochs N] [--out PATH] [--seed S]`.
The script trains on the 1000 shipped training recordings with surrogate gradients
(PyTorch, CPU) and quantises the weights to int8. It then evaluates the integer model on
the 100 shipped test recordings with numpy and writes the weights and neuron parameters
to an npz file.

Network (no biases, every layer followed by LIF neurons, input spikes `[30, 2, 34, 34]`):
conv1 2->12 3x3 stride 2 (16x16), conv2 12->32 3x3 stride 1 (14x14),
conv3 32->64 3x3 stride 2 (6x6), fc 2304->10 on the [C, H, W] flatten. The predicted
class is the argmax of the output spike counts over the 30 steps, ties going to the
lowest class index.

Float LIF used in training, per step t: `u = lam * u + I[t]`, `s = u >= theta`, then
`u = 0` where `s`. The Heaviside step gets an arctan surrogate gradient.

Integer LIF that the simulator implements, all arithmetic in int64:

    I[t] = conv or linear of the binary spikes x[t] with the int8 weights
    u = (u * leak_q) >> 8            # floor division by 256; leak_q = 256 means no leak
    u = clip(u + I[t], -32768, 32767)
    s = u >= threshold
    u = where(s, 0, u)

Quantisation per layer: scale = max|w| / 127, w_int = clip(round(w / scale), -127, 127),
threshold = round(theta / scale) and leak_q = round(lam * 256). The last epochs train
with the weights, threshold and leak fake-quantised this way, so the float forward pass
computes exactly the integer model.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from spikex_sim.errors import ConfigError
from spikex_sim.workload.events import bin_events_by_time, read_label_file, read_nmnist

try:
    import torch
    import torch.nn.functional as F
except ModuleNotFoundError:
    torch = None

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEFAULT_OUT = DATA_DIR / "models" / "nmnist_snn.npz"

TIMESTEPS = 30
DURATION_US = 300_000
SENSOR_SIZE = 34
NUM_CLASSES = 10

# (name, input channels, output channels, stride) of the 3x3 convolutions, padding 0.
CONV_LAYERS = (("conv1", 2, 12, 2), ("conv2", 12, 32, 1), ("conv3", 32, 64, 2))
FC_INPUTS = 64 * 6 * 6
LAYER_NAMES = ("conv1", "conv2", "conv3", "fc")
LAYER_NEURONS = {"conv1": 12 * 16 * 16, "conv2": 32 * 14 * 14, "conv3": 64 * 6 * 6, "fc": NUM_CLASSES}

# Fixed float neuron parameters per layer: the membrane decay per 10 ms step and the threshold.
# In a 40-epoch run with no leak in fc, the max |membrane| of fc on the test set was about
# 17000, half the 16-bit range. A leak of 0.9 about halved it at the same accuracy.
LEAK = {"conv1": 0.9, "conv2": 0.9, "conv3": 0.9, "fc": 0.9}
THETA = 1.0

MEMBRANE_MIN = -32768
MEMBRANE_MAX = 32767
WEIGHT_MAX = 127

MAX_SHIFT_PIXELS = 3
BATCH_SIZE = 25
LEARNING_RATE = 2e-3
QUANTISED_EPOCHS_FRACTION = 0.2
# A fixed thread count keeps runs with the same seed identical, because the summation
# order inside the CPU kernels may depend on the number of threads.
TORCH_THREADS = 1

TRAIN_EXTRA_HINT = "install the train extra: pip install -c constraints.txt -e .[train]"


# ---------------------------------------------------------------------------
# Data


def load_split(recording_dir: Path, label_path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Read every recording listed in a label file, in sample-number order."""
    labels = read_label_file(label_path)
    samples = sorted(labels)
    events = [read_nmnist(recording_dir / f"{sample}.bs2") for sample in samples]
    return events, np.array([labels[sample] for sample in samples], dtype=np.int64)


def shift_events(events: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move events by (dx, dy) pixels and drop those that leave the sensor."""
    shifted = events.copy()
    shifted["x"] += dx
    shifted["y"] += dy
    inside = (
        (shifted["x"] >= 0)
        & (shifted["x"] < SENSOR_SIZE)
        & (shifted["y"] >= 0)
        & (shifted["y"] < SENSOR_SIZE)
    )
    return shifted[inside]


def bin_recordings(
    recordings: list[np.ndarray], rng: np.random.Generator | None = None
) -> np.ndarray:
    """Bin recordings into uint8 spikes `[N, T, 2, 34, 34]`, randomly shifted if `rng` is given."""
    spikes = np.empty((len(recordings), TIMESTEPS, 2, SENSOR_SIZE, SENSOR_SIZE), dtype=np.uint8)
    for index, events in enumerate(recordings):
        if rng is not None:
            dx, dy = rng.integers(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS + 1, size=2)
            events = shift_events(events, int(dx), int(dy))
        spikes[index] = bin_events_by_time(
            events, TIMESTEPS, DURATION_US, SENSOR_SIZE, SENSOR_SIZE
        )
    return spikes


# ---------------------------------------------------------------------------
# Model (functional: the weights are a dict of tensors keyed like the npz)


def init_weights(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw Kaiming-normal weights for the four layers."""
    shapes = {name: (out_ch, in_ch, 3, 3) for name, in_ch, out_ch, _ in CONV_LAYERS}
    shapes["fc"] = (NUM_CLASSES, FC_INPUTS)
    weights = {}
    for name, shape in shapes.items():
        fan_in = math.prod(shape[1:])
        std = math.sqrt(2.0 / fan_in)
        weight = torch.randn(shape, generator=generator) * std
        weights[name] = weight.requires_grad_()
    return weights


def spike_function(v: torch.Tensor) -> torch.Tensor:
    """Heaviside step of `v` (spike if `v >= 0`) with an arctan surrogate gradient.

    The backward pass uses the derivative of `atan(pi * v) / pi + 1/2`, which is
    `1 / (1 + (pi * v)^2)`. `v` is the membrane relative to the threshold, `u / theta - 1`.
    """
    surrogate = torch.atan(math.pi * v) / math.pi + 0.5
    step = (v >= 0).to(v.dtype)
    return surrogate + (step - surrogate).detach()


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    """Round down in the forward pass, identity gradient in the backward pass."""
    return x + (torch.floor(x) - x).detach()


def quantisation_scale(weight: torch.Tensor) -> torch.Tensor:
    """Return the per-layer scale max|w| / 127 (no gradient)."""
    return weight.detach().abs().max() / WEIGHT_MAX


def integer_threshold(scale: float) -> int:
    return round(THETA / scale)


def leak_q(name: str) -> int:
    return round(LEAK[name] * 256)


def lif(
    current: torch.Tensor, name: str, threshold: float, quantised: bool
) -> torch.Tensor:
    """Run LIF neurons over the steps of `current` `[T, B, ...]` and return the spikes.

    In the quantised mode `current` and `threshold` are in integer units and the step is
    the integer LIF of the module docstring, computed exactly: every value stays an
    integer below 2**24, so float32 represents it without rounding.
    """
    membrane = torch.zeros_like(current[0])
    spikes = []
    for step in range(current.shape[0]):
        if quantised:
            membrane = floor_ste(membrane * leak_q(name) / 256) + current[step]
            membrane = membrane.clamp(MEMBRANE_MIN, MEMBRANE_MAX)
        else:
            membrane = LEAK[name] * membrane + current[step]
        spike = spike_function(membrane / threshold - 1.0)
        # The reset is left out of the gradient, as is common in surrogate-gradient training.
        membrane = membrane * (1.0 - spike.detach())
        spikes.append(spike)
    return torch.stack(spikes)


def layer_parameters(
    weights: dict[str, torch.Tensor], quantised: bool
) -> dict[str, tuple[torch.Tensor, float]]:
    """Return the weight and threshold that each layer uses in the forward pass.

    In the quantised mode the weights are fake-quantised to int8 values (identity
    gradient) and the threshold is the integer threshold, both in integer units.
    """
    parameters = {}
    for name in LAYER_NAMES:
        weight = weights[name]
        if quantised:
            scale = quantisation_scale(weight)
            weight_int = round_ste(weight / scale).clamp(-WEIGHT_MAX, WEIGHT_MAX)
            parameters[name] = (weight_int, float(integer_threshold(float(scale))))
        else:
            parameters[name] = (weight, THETA)
    return parameters


def forward(
    parameters: dict[str, tuple[torch.Tensor, float]], inputs: torch.Tensor, quantised: bool
) -> torch.Tensor:
    """Run the network on spikes `[B, T, 2, 34, 34]` and return the output spike counts `[B, 10]`.

    `parameters` maps each layer to its weight and threshold (see `layer_parameters`).
    Each layer processes all steps at once, which equals stepping the whole network one
    step at a time because no layer feeds back.
    """
    batch = inputs.shape[0]
    x = inputs.transpose(0, 1).reshape(TIMESTEPS * batch, 2, SENSOR_SIZE, SENSOR_SIZE)
    strides = {name: stride for name, _, _, stride in CONV_LAYERS}
    for name in LAYER_NAMES:
        weight, threshold = parameters[name]
        if name == "fc":
            current = F.linear(x.reshape(x.shape[0], -1), weight)
        else:
            current = F.conv2d(x, weight, stride=strides[name])
        current = current.reshape(TIMESTEPS, batch, *current.shape[1:])
        spikes = lif(current, name, threshold, quantised)
        x = spikes.reshape(TIMESTEPS * batch, *spikes.shape[2:])
    return spikes.sum(dim=0)


# ---------------------------------------------------------------------------
# Training


def train(
    weights: dict[str, torch.Tensor],
    recordings: list[np.ndarray],
    labels: np.ndarray,
    epochs: int,
    rng: np.random.Generator,
    test_spikes: np.ndarray,
    test_labels: np.ndarray,
) -> float:
    """Train with Adam and a cosine learning rate, and return the float test accuracy.

    When `epochs` > 1, the last epochs (QUANTISED_EPOCHS_FRACTION of them, at least one)
    train the fake-quantised model, which starts from the float weights. The float test
    accuracy is measured before those epochs.
    """
    optimizer = torch.optim.Adam(weights.values(), lr=LEARNING_RATE)
    steps_per_epoch = math.ceil(len(recordings) / BATCH_SIZE)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    quantised_epochs = max(1, round(epochs * QUANTISED_EPOCHS_FRACTION)) if epochs > 1 else 0
    float_accuracy = float("nan")
    for epoch in range(epochs):
        quantised = epoch >= epochs - quantised_epochs
        if quantised and epoch == epochs - quantised_epochs:
            float_accuracy = evaluate_torch(weights, test_spikes, test_labels, quantised=False)
            print(f"float model test accuracy before quantised training: {float_accuracy:.2%}")
        started = time.perf_counter()
        spikes = bin_recordings(recordings, rng)
        order = rng.permutation(len(recordings))
        total_loss = 0.0
        correct = 0
        for first in range(0, len(order), BATCH_SIZE):
            batch = order[first : first + BATCH_SIZE]
            inputs = torch.from_numpy(spikes[batch]).float()
            targets = torch.from_numpy(labels[batch])
            counts = forward(layer_parameters(weights, quantised), inputs, quantised)
            # Cross-entropy on the spike counts, so a one-spike margin is worth one logit.
            loss = F.cross_entropy(counts, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(batch)
            correct += int((counts.detach().argmax(dim=1) == targets).sum())
        test_accuracy = evaluate_torch(weights, test_spikes, test_labels, quantised)
        mode = "quantised" if quantised else "float"
        print(
            f"epoch {epoch + 1}/{epochs} ({mode}): loss {total_loss / len(order):.3f}, "
            f"train accuracy {correct / len(order):.2%}, test accuracy {test_accuracy:.2%}, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    if quantised_epochs == 0:
        float_accuracy = evaluate_torch(weights, test_spikes, test_labels, quantised=False)
    return float_accuracy


def evaluate_torch(
    weights: dict[str, torch.Tensor], spikes: np.ndarray, labels: np.ndarray, quantised: bool
) -> float:
    """Return the accuracy of the torch model on binned spikes."""
    correct = 0
    with torch.no_grad():
        for first in range(0, len(spikes), BATCH_SIZE):
            inputs = torch.from_numpy(spikes[first : first + BATCH_SIZE]).float()
            counts = forward(layer_parameters(weights, quantised), inputs, quantised)
            predictions = counts.argmax(dim=1).numpy()
            correct += int((predictions == labels[first : first + BATCH_SIZE]).sum())
    return correct / len(spikes)


# ---------------------------------------------------------------------------
# Quantisation and integer evaluation


def quantise(weights: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Convert the float weights to the npz layout: int8 weights, int32 threshold and leak_q."""
    model = {}
    for name in LAYER_NAMES:
        weight = weights[name].detach()
        scale = float(quantisation_scale(weight))
        threshold = integer_threshold(scale)
        if not 1 <= threshold <= MEMBRANE_MAX:
            raise ValueError(
                f"{name}: integer threshold {threshold} is outside 1..{MEMBRANE_MAX} "
                f"(max|w| = {scale * WEIGHT_MAX:.4g}, theta = {THETA}); retrain with another seed"
            )
        weight_int = torch.round(weight / scale).clamp(-WEIGHT_MAX, WEIGHT_MAX)
        model[f"{name}.weight"] = weight_int.numpy().astype(np.int8)
        model[f"{name}.threshold"] = np.array(threshold, dtype=np.int32)
        model[f"{name}.leak_q"] = np.array(leak_q(name), dtype=np.int32)
    return model


def conv2d_int(spikes: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """Convolve binary spikes `[T, C, H, W]` with int weights `[K, C, 3, 3]` (padding 0) in int64."""
    kernel = weight.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(spikes, (kernel, kernel), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # [T, C, Ho, Wo, 3, 3]
    return np.einsum(
        "tchwij,kcij->tkhw", windows.astype(np.int64), weight.astype(np.int64), optimize=True
    )


def lif_int(current: np.ndarray, threshold: int, leak: int) -> tuple[np.ndarray, int]:
    """Run the integer LIF over `current` `[T, ...]`.

    Returns the spikes and the max |membrane| before clipping.
    """
    membrane = np.zeros(current.shape[1:], dtype=np.int64)
    spikes = np.empty(current.shape, dtype=np.uint8)
    max_membrane = 0
    for step in range(current.shape[0]):
        membrane = (membrane * leak) >> 8
        membrane = membrane + current[step]
        max_membrane = max(max_membrane, int(np.abs(membrane).max()))
        membrane = np.clip(membrane, MEMBRANE_MIN, MEMBRANE_MAX)
        fired = membrane >= threshold
        membrane = np.where(fired, 0, membrane)
        spikes[step] = fired
    return spikes, max_membrane


def run_integer_model(
    model: dict[str, np.ndarray], spikes: np.ndarray
) -> tuple[np.ndarray, dict[str, int], dict[str, int]]:
    """Run the integer model on one sample `[T, 2, 34, 34]`.

    Returns the output spike counts `[10]`, the spike count per layer and the max
    |membrane| per layer before clipping.
    """
    x = spikes.astype(np.int64)
    layer_spikes = {}
    max_membrane = {}
    for name, _, _, stride in CONV_LAYERS + (("fc", None, None, None),):
        weight = model[f"{name}.weight"]
        if name == "fc":
            current = x.reshape(TIMESTEPS, -1) @ weight.astype(np.int64).T
        else:
            current = conv2d_int(x, weight, stride)
        out, max_membrane[name] = lif_int(
            current, int(model[f"{name}.threshold"]), int(model[f"{name}.leak_q"])
        )
        layer_spikes[name] = int(out.sum())
        x = out.astype(np.int64)
    return x.sum(axis=0), layer_spikes, max_membrane


def evaluate_integer(
    model: dict[str, np.ndarray], spikes: np.ndarray, labels: np.ndarray
) -> tuple[float, np.ndarray, dict[str, float], dict[str, int]]:
    """Evaluate the integer model on binned spikes `[N, T, 2, 34, 34]`.

    Returns the accuracy, the output spike counts `[N, 10]`, the mean firing rate per
    layer (spikes per neuron per step) and the max |membrane| per layer.
    """
    counts = np.empty((len(spikes), NUM_CLASSES), dtype=np.int64)
    spike_totals = dict.fromkeys(LAYER_NAMES, 0)
    max_membrane = dict.fromkeys(LAYER_NAMES, 0)
    for index, sample in enumerate(spikes):
        counts[index], layer_spikes, layer_max = run_integer_model(model, sample)
        for name in LAYER_NAMES:
            spike_totals[name] += layer_spikes[name]
            max_membrane[name] = max(max_membrane[name], layer_max[name])
    # np.argmax returns the first maximum, so ties go to the lowest class index.
    accuracy = float((counts.argmax(axis=1) == labels).mean())
    rates = {
        name: spike_totals[name] / (LAYER_NEURONS[name] * TIMESTEPS * len(spikes)) for name in LAYER_NAMES
    }
    return accuracy, counts, rates, max_membrane


def torch_integer_counts(model: dict[str, np.ndarray], spikes: np.ndarray) -> np.ndarray:
    """Run the quantised torch forward pass on the exported int8 weights and return the spike counts."""
    parameters = {
        name: (
            torch.from_numpy(model[f"{name}.weight"].astype(np.float32)),
            float(model[f"{name}.threshold"]),
        )
        for name in LAYER_NAMES
    }
    counts = []
    with torch.no_grad():
        for first in range(0, len(spikes), BATCH_SIZE):
            inputs = torch.from_numpy(spikes[first : first + BATCH_SIZE]).float()
            batch_counts = forward(parameters, inputs, quantised=True)
            counts.append(batch_counts.numpy().astype(np.int64))
    return np.concatenate(counts)


# ---------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m spikex_sim.training.nmnist",
        description="Train the N-MNIST spiking CNN on the shipped recordings and export it with int8 weights.",
    )
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default: 40)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output npz file (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    return args


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    torch.set_num_threads(TORCH_THREADS)
    torch.use_deterministic_algorithms(True)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def main(argv: list[str] | None = None) -> int:
    if torch is None:
        print(f"error: torch is not installed. To fix it, {TRAIN_EXTRA_HINT}", file=sys.stderr)
        return 2
    args = parse_args(argv)
    generator = seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)

    nmnist_dir = DATA_DIR / "nmnist"
    try:
        train_recordings, train_labels = load_split(nmnist_dir / "train", nmnist_dir / "train1K.txt")
        test_recordings, test_labels = load_split(nmnist_dir / "test", nmnist_dir / "test100.txt")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    test_spikes = bin_recordings(test_recordings)
    print(f"loaded {len(train_recordings)} training and {len(test_recordings)} test recordings")

    started = time.perf_counter()
    weights = init_weights(generator)
    float_accuracy = train(
        weights, train_recordings, train_labels, args.epochs, rng, test_spikes, test_labels
    )
    train_seconds = time.perf_counter() - started

    model = quantise(weights)
    accuracy, counts, rates, max_membrane = evaluate_integer(model, test_spikes, test_labels)
    torch_counts = torch_integer_counts(model, test_spikes)
    if not np.array_equal(counts, torch_counts):
        mismatched = int((counts != torch_counts).any(axis=1).sum())
        print(f"warning: the quantised torch forward pass differs from the integer model on {mismatched} test samples")

    print(f"training time: {train_seconds:.0f} s")
    print(f"float model test accuracy: {float_accuracy:.2%}")
    print(f"integer model test accuracy: {accuracy:.2%}")
    for name in LAYER_NAMES:
        print(
            f"{name}: threshold {int(model[f'{name}.threshold'])}, leak_q {int(model[f'{name}.leak_q'])}, "
            f"max |membrane| {max_membrane[name]}, firing rate {rates[name]:.4f} spikes/neuron/step"
        )
    if max(max_membrane.values()) > MEMBRANE_MAX:
        print("warning: the 16-bit membrane saturated on the test set")

    model["test_accuracy"] = np.array(accuracy, dtype=np.float64)
    model["seed"] = np.array(args.seed, dtype=np.int64)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **model)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
