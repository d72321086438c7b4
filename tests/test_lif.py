import numpy as np

from reference import lif_step
from spikex_sim.workload.model import NeuronParams, lif_scan


def first_spike(spikes):
    fired = np.flatnonzero(spikes[:, 0])
    return int(fired[0]) if fired.size else None


def test_if_fires_at_threshold_with_ge():
    # IF neuron, threshold 16, input 1 per step: the membrane reaches 16 at step index 15.
    currents = np.ones((32, 1), dtype=np.int64)
    spikes, _ = lif_scan(currents, NeuronParams(threshold=16, leak_q=256, fire=">="))
    assert first_spike(spikes) == 15


def test_if_fires_one_step_later_with_gt():
    currents = np.ones((32, 1), dtype=np.int64)
    spikes, _ = lif_scan(currents, NeuronParams(threshold=16, leak_q=256, fire=">"))
    assert first_spike(spikes) == 16


def test_leaky_neuron_settles_below_threshold():
    # leak 0.5 with floor rounding, input 10: 10, 15, 17, 18, 19, 19, ... never 20.
    currents = np.full((40, 1), 10, dtype=np.int64)
    spikes, membrane = lif_scan(currents, NeuronParams(threshold=20, leak_q=128))
    assert spikes.sum() == 0
    assert membrane[0] == 19


def test_hard_reset_then_next_membrane():
    # IF, threshold 3, input 2: membrane 2, 4 -> spike and reset to 0, then 2.
    currents = np.full((3, 1), 2, dtype=np.int64)
    spikes, membrane = lif_scan(currents, NeuronParams(threshold=3, leak_q=256))
    assert spikes[:, 0].tolist() == [0, 1, 0]
    assert membrane[0] == 2


def test_subtract_reset_keeps_remainder():
    currents = np.full((2, 1), 5, dtype=np.int64)
    spikes, membrane = lif_scan(currents, NeuronParams(threshold=3, leak_q=256, reset="subtract"))
    assert spikes[:, 0].tolist() == [1, 1]
    assert membrane[0] == 4  # 5 -> 2, then 7 -> 4


def test_membrane_saturates_at_16_bits():
    currents = np.full((3, 1), 30000, dtype=np.int64)
    _, membrane = lif_scan(currents, NeuronParams(threshold=10**6, leak_q=256))
    assert membrane[0] == 32767


def test_negative_membrane_leaks_with_floor():
    # -5 * 128 / 256 = -2.5, floored to -3 by an arithmetic shift.
    spikes, membrane = lif_step(np.array([-5]), np.array([0]), threshold=1, leak_q=128)
    _, scanned = lif_scan(np.array([[-5], [0]], dtype=np.int64), NeuronParams(threshold=1, leak_q=128))
    assert membrane[0] == -3
    assert scanned[0] == -3
