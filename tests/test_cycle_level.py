"""The transaction-level pass timing against the cycle-level reference on random layers."""

import numpy as np

from spikex_sim.dataflow import cycle_level
from spikex_sim.dataflow.schedule import ArrayShape, BufferGeometry
from spikex_sim.dataflow.spikex import run_layer
from test_functional import random_layer

GEOMETRY = BufferGeometry(glb_spikes=8000, glb_weights=10000, glb_vmem=5000, lbuf_spikes=300, lbuf_weights=400,
                          weight_bits=8, membrane_bits=16)


def clustered_spikes(rng, steps, shape, rate):
    """Spikes that bunch in time: a few busy steps carry most of the activity."""
    busy = rng.random(steps) < 0.3
    step_rate = np.where(busy, min(1.0, rate * 3), rate / 3)
    return (rng.random((steps, *shape)) < step_rate[:, None, None, None]).astype(np.uint8)


def test_transaction_level_matches_cycle_level():
    rng = np.random.default_rng(2024)
    worst = 0.0
    for case in range(200):
        layer = random_layer(rng, "conv" if case % 5 else "fc")
        steps = int(rng.integers(2, 16))
        rate = float(rng.choice([0.0001, 0.001, 0.01, 0.05, 0.2, 0.5]))
        spikes = clustered_spikes(rng, steps, layer.in_shape, rate)
        layer_input = spikes if layer.kind == "conv" else spikes.reshape(steps, -1)
        tws = int(rng.integers(1, min(10, steps) + 1))
        size = int(rng.integers(2, 9))
        array = ArrayShape(size, size, point_parallel=bool(case % 3), handoff_cycles=int(rng.integers(0, 3)))
        mode = str(rng.choice(["temporal", "spatial"]))
        _, fast = run_layer(layer, layer_input, tws, array, mode, GEOMETRY)
        _, slow = run_layer(layer, layer_input, tws, array, mode, GEOMETRY, cycle_model=cycle_level.pass_cycles)
        fast_total, slow_total = int(fast.compute_cycles.sum()), int(slow.compute_cycles.sum())
        if slow_total:
            worst = max(worst, abs(fast_total - slow_total) / slow_total)
        assert abs(fast_total - slow_total) <= 0.01 * slow_total, f"case {case}: {fast_total} vs {slow_total}"
    print(f"maximum relative error over 200 layers: {worst:.4%}")
