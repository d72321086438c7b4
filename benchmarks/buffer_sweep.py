"""Grow the GLB or the LBUF and count the size steps where DRAM bytes, stalls or the objective grew.

Every N-MNIST layer runs on random input at 4 firing rates and 5 window sizes. For each
(layer, rate, window size) the buffer grows through a fixed list of sizes, and every step
from one size to the next is checked. Prints one Markdown row per (array, mapper, buffer).

    python benchmarks/buffer_sweep.py            # the six rows of docs/model.md
    python benchmarks/buffer_sweep.py --rows spikex:monotone:glb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from spikex_sim.config import load_config
from spikex_sim.dataflow.steps import objective_value
from spikex_sim.evaluate import dram_bytes, layer_cost
from spikex_sim.memory import buffer_geometry

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"spikex": ROOT / "configs" / "spikex_nmnist.yaml", "dense": ROOT / "configs" / "dense_nmnist.yaml"}
SIZES = {
    "glb": ("2KB", "4KB", "8KB", "12KB", "16KB", "20KB", "27KB", "40KB", "54KB", "80KB", "108KB", "216KB", "1MB"),
    "lbuf": ("256B", "512B", "1KB", "2KB", "4KB", "8KB", "16KB", "64KB"),
}
RATES = (0.005, 0.02, 0.05, 0.2)
WINDOW_SIZES = (1, 2, 3, 5, 10)
DEFAULT_ROWS = ("spikex:monotone:glb", "spikex:monotone:lbuf", "spikex:latency:glb", "spikex:edp:glb",
                "dense:edp:glb", "dense:edp:lbuf")


def sweep(array: str, mapper: str, buffer: str) -> dict[str, int]:
    """Return the number of size steps and how many of them raised each quantity."""
    config_path = CONFIGS[array]
    config = load_config(config_path)
    model = config.workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    timesteps = config.workload.timesteps
    systems = [load_config(config_path, [f"system.mapper={mapper}", f"system.{buffer}.size={size}"]).system
               for size in SIZES[buffer]]
    counts = {"steps": 0, "dram_bytes": 0, "stall_cycles": 0, "objective": 0}
    for layer_index, layer in enumerate(model.layers):
        for rate in RATES:
            rng = np.random.default_rng([layer_index, int(rate * 1000)])
            spikes = (rng.random((timesteps, *layer.in_shape)) < rate).astype(np.uint8)
            if layer.kind != "conv":
                spikes = spikes.reshape(timesteps, -1)
            for tws in WINDOW_SIZES:
                previous = None
                for system in systems:
                    geometry = buffer_geometry(system, int(system.array.weight_bits), layer.neuron.membrane_bits)
                    cost = layer_cost(system, table, layer, spikes, tws, geometry)
                    stall = cost.latency_cycles - int(cost.schedule.compute_cycles.sum())
                    objective = None if mapper == "monotone" else objective_value(mapper, cost)
                    current = (dram_bytes(cost.schedule), stall, objective)
                    if previous is not None:
                        counts["steps"] += 1
                        counts["dram_bytes"] += current[0] > previous[0]
                        counts["stall_cycles"] += current[1] > previous[1]
                        if current[2] is not None:
                            counts["objective"] += current[2] > previous[2] * (1 + 1e-12)
                    previous = current
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=DEFAULT_ROWS,
                        help="array:mapper:buffer triples (array spikex or dense, buffer glb or lbuf)")
    args = parser.parse_args()
    print("| array | mapper | buffer | size steps | DRAM bytes grew | stall cycles grew | objective grew |")
    print("|---|---|---|---|---|---|---|")
    for row in args.rows:
        array, mapper, buffer = row.split(":")
        counts = sweep(array, mapper, buffer)
        objective = "-" if mapper == "monotone" else counts["objective"]
        print(f"| {array} | {mapper} | {buffer} | {counts['steps']} | {counts['dram_bytes']} | "
              f"{counts['stall_cycles']} | {objective} |", flush=True)


if __name__ == "__main__":
    main()
