"""Untrained weights for the model zoo in configs/models/, generated from a seed.

The zoo networks (DVS-Gesture medium and large, a VGG-style CIFAR-shaped network) have
no trained weights in this project. Their weights are random int8 values, drawn per layer
from a seed, for timing and energy studies with synthetic or recorded activity: the
spikes they compute from real inputs mean nothing.

`python -m spikex_sim.workload.zoo` rewrites the shipped weight files (those under 1 MB)
from seed 0; larger networks use `weights_seed` of the `SNNModelFile` model source.

Per layer, the weights are `round(normal(0, 40))` clipped to [-127, 127] and the leak is
`leak_q = 230` (0.898 per step). The threshold is twice the standard deviation of one
step's input current when a tenth of the fan-in spikes: `2 * 40 * sqrt(0.1 * fan_in)`.
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np

WEIGHT_STD = 40.0
LEAK_Q = 230
DESIGN_INPUT_RATE = 0.1
ZOO_SEED = 0
ROOT = Path(__file__).resolve().parents[2]
# Zoo models whose generated weights are shipped as files (each file is under 1 MB).
SHIPPED = ("configs/models/dvsgesture_medium.yaml", "configs/models/dvsgesture_large.yaml")


def random_layer_arrays(name: str, index: int, weight_shape: tuple[int, ...], seed: int) -> dict[str, np.ndarray]:
    """Return `<name>.weight`, `<name>.threshold` and `<name>.leak_q` for one layer, from `seed`."""
    # The layer name enters the seed, so renaming or inserting a layer changes only that layer.
    rng = np.random.default_rng([seed, index, zlib.crc32(name.encode("utf-8"))])
    weight = np.clip(np.rint(rng.normal(0.0, WEIGHT_STD, size=weight_shape)), -127, 127).astype(np.int8)
    fan_in = int(np.prod(weight_shape[1:]))
    threshold = max(1, int(round(2 * WEIGHT_STD * np.sqrt(DESIGN_INPUT_RATE * fan_in))))
    return {f"{name}.weight": weight, f"{name}.threshold": np.array(threshold, dtype=np.int64),
            f"{name}.leak_q": np.array(LEAK_Q, dtype=np.int64)}


def write_weight_file(model_file: Path, seed: int = ZOO_SEED) -> Path:
    """Generate the weights of `model_file` from `seed` and write the .npz its `weights` key names."""
    import yaml

    from spikex_sim.workload.model import load_model

    model = load_model(model_file, fire=">=", reset="zero", membrane_bits=16, weights_seed=seed)
    arrays: dict[str, np.ndarray] = {"seed": np.array(seed, dtype=np.int64)}
    for index, layer in enumerate(model.layers):
        arrays.update(random_layer_arrays(layer.name, index, layer.weight.shape, seed))
    target = (model_file.parent / yaml.safe_load(model_file.read_text(encoding="utf-8"))["weights"]).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, **arrays)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite the zoo's untrained weight files from a seed.")
    parser.add_argument("--seed", type=int, default=ZOO_SEED, help="random seed (default %(default)s)")
    args = parser.parse_args(argv)
    for relative in SHIPPED:
        target = write_weight_file(ROOT / relative, args.seed)
        print(f"{relative}: wrote {target.relative_to(ROOT)} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
