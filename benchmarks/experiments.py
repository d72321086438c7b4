"""Reproduce, in shape, the SpikeX paper's dataflow experiments with this simulator.

Usage: python benchmarks/experiments.py {dispatch,tws-sweep,ladder,energy-split} [--seeds N]

- dispatch: latency of SpikeX dispatch alone (weight tailoring off) against PTB on conv2 of
  the DVS-Gesture medium network (8x32x32 -> 16x8x8, 5x5 kernel, stride 4, padding 2,
  T = 300), random inputs at firing rates from 0.01% to 5%. Both use the window size that
  PTB's exhaustive search picks.
- tws-sweep: N-MNIST conv1 with random inputs; energy and latency reduction when the
  firing rate falls from 0.5% to 0.01%, for window sizes 2, 3, 5 and 10.
- ladder: the N-MNIST network with the trained weights on the 100 shipped recordings:
  time-serial, PTB with searched windows, and SpikeX; energy, latency and EDP ratios.
- energy-split: energy of an FC layer at window sizes 4 and 8, split by component (from
  the energy rows) and by data type (from the schedule's traffic): the N-MNIST fc layer
  (2304 -> 10) on the activity of 20 recordings, and DVS-Gesture fc1 (1600 -> 512,
  T = 300) on random inputs at 5% firing.

The paper's numbers (B. Xu, R. Boone, P. Li, "SpikeX", IEEE TCAD 2025) are printed beside
ours. Ours model the architecture only, without hardware-aware training or search.
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spikex_sim.config import load_config  # noqa: E402
from spikex_sim.dataflow.schedule import TRAFFIC_KEYS  # noqa: E402
from spikex_sim.evaluate import energy_rows, layer_cost, search_tws  # noqa: E402
from spikex_sim.memory import buffer_geometry  # noqa: E402
from spikex_sim.runner import simulate  # noqa: E402
from spikex_sim.workload.model import Layer, NeuronParams  # noqa: E402

CONFIG = ROOT / "configs" / "spikex_nmnist.yaml"
NEURON = NeuronParams(threshold=200, leak_q=243)


def system_for(array: str):
    config = load_config(CONFIG, [f"system.array={array}"])
    table = config.energy.load(config.base_dir)
    return config.system, table, buffer_geometry(config.system, 8, 16)


def random_layer(rng, name, in_shape, out_shape, kernel, stride, padding):
    weight = rng.integers(-20, 60, size=(out_shape[0], in_shape[0], kernel, kernel))
    return Layer(name, "conv", in_shape, out_shape, kernel, stride, padding, weight, NEURON)


def dispatch(seeds: int) -> None:
    rates = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05]
    paper = {0.0001: "about 7.1x", 0.05: "about 1.3x"}
    ptb_system = system_for("{type: PTBArray}")
    spikex_system = system_for("{type: SpikeXArray, tailoring: false}")
    print("conv2 of DVS-Gesture medium, T = 300: latency PTB / SpikeX dispatch")
    print(f"{'rate':>8} {'tws':>4} {'PTB cycles':>12} {'SpikeX cycles':>14} {'ratio':>7}  paper")
    for rate in rates:
        ratios, tws_values, ptb_cycles, spikex_cycles = [], [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            layer = random_layer(rng, "conv2", (8, 32, 32), (16, 8, 8), 5, 4, 2)
            spikes = (rng.random((300, 8, 32, 32)) < rate).astype(np.uint8)
            system, table, geometry = ptb_system
            tws = search_tws(system, table, layer, spikes, geometry, 300)
            ptb = layer_cost(system, table, layer, spikes, tws, geometry)
            system, table, geometry = spikex_system
            spikex = layer_cost(system, table, layer, spikes, tws, geometry)
            ratios.append(ptb.latency_cycles / spikex.latency_cycles)
            tws_values.append(tws)
            ptb_cycles.append(ptb.latency_cycles)
            spikex_cycles.append(spikex.latency_cycles)
        print(f"{rate:>8.2%} {statistics.mode(tws_values):>4} {statistics.mean(ptb_cycles):>12,.0f} "
              f"{statistics.mean(spikex_cycles):>14,.0f} {statistics.mean(ratios):>6.2f}x  {paper.get(rate, '')}")


def tws_sweep(seeds: int) -> None:
    system, table, geometry = system_for("{type: SpikeXArray}")
    paper = {2: (47, 94), 3: (54, 92), 5: (57, 91), 10: (68, 90)}
    print("N-MNIST conv1, random inputs, T = 30: reduction from 0.5% to 0.01% firing")
    print(f"{'tws':>4} {'E@0.5% pJ':>11} {'E@0.01% pJ':>11} {'energy -%':>10} {'lat@0.5%':>9} {'lat@0.01%':>9} "
          f"{'latency -%':>10}  paper energy/latency")
    results = {}
    for tws in (2, 3, 5, 10):
        costs = {}
        for rate in (0.005, 0.0001):
            energy, latency = [], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                layer = random_layer(rng, "conv1", (2, 34, 34), (12, 16, 16), 3, 2, 0)
                spikes = (rng.random((30, 2, 34, 34)) < rate).astype(np.uint8)
                cost = layer_cost(system, table, layer, spikes, tws, geometry)
                energy.append(cost.energy_pj)
                latency.append(cost.latency_cycles)
            costs[rate] = (statistics.mean(energy), statistics.mean(latency))
        results[tws] = costs
        (high_e, high_l), (low_e, low_l) = costs[0.005], costs[0.0001]
        print(f"{tws:>4} {high_e:>11,.0f} {low_e:>11,.0f} {100 * (1 - low_e / high_e):>9.0f}% {high_l:>9,.0f} "
              f"{low_l:>9,.0f} {100 * (1 - low_l / high_l):>9.0f}%  {paper[tws][0]}% / {paper[tws][1]}%")
    for rate in (0.005, 0.0001):
        best = min(results, key=lambda size: results[size][rate][0] * results[size][rate][1])
        print(f"lowest EDP at {rate:.2%}: tws {best} (paper: {'small windows' if rate == 0.005 else 'tws 10'})")


def ladder(seeds: int) -> None:
    del seeds
    rows = []
    for name in ("timeserial_nmnist", "ptb_nmnist", "spikex_nmnist"):
        result = simulate(load_config(ROOT / "configs" / f"{name}.yaml"))
        summary = result.tables["summary"].iloc[0]
        rows.append((name, summary["energy_pj"], summary["latency_cycles"], summary["edp_js"], summary["accuracy"]))
    base = rows[1]
    print("N-MNIST network, 100 recordings, mean per sample; ratios are PTB / this (times better than PTB)")
    print(f"{'array':>18} {'energy pJ':>12} {'latency':>10} {'EDP J*s':>11} {'acc':>5} {'E x':>6} {'L x':>6} {'EDP x':>7}")
    for name, energy, latency, edp, accuracy in rows:
        print(f"{name:>18} {energy:>12,.0f} {latency:>10,.0f} {edp:>11.3e} {accuracy:>5.2f} {base[1] / energy:>6.2f} "
              f"{base[2] / latency:>6.2f} {base[3] / edp:>7.2f}")
    print("paper, full SpikeX (with HT and HAS) against PTB on N-MNIST: energy 2.07x, latency 7.25x, EDP about 15x")


# Shares (%) of an FC layer's energy in the SpikeX paper; at TWS 8 it gives only the data types.
PAPER_SPLIT = {4: "RF 39.5, LBUF 13.4, GLB 7.3, DRAM 1.7, arithmetic 38; weights 40.1, spikes 21.9",
               8: "weights 36.2, spikes 30.7"}
SPLIT_COMPONENTS = ("DRAM", "GLB", "LBUF", "RF", "arithmetic")
SPLIT_DATA_TYPES = ("weights", "spikes", "vmem")


def split_layer_energy(system, table, layer, layer_input, tws, geometry) -> dict[tuple[str, str], float]:
    """Return one layer's energy (pJ) by (component, data type); RF is the PEs' weight registers."""
    cost = layer_cost(system, table, layer, layer_input, tws, geometry)
    rows = energy_rows(system, table, layer, cost.levels, cost.schedule.counts, cost.latency_cycles)
    unit = {(row["component"], row["action"]): row["energy_per_action_pj"] for row in rows}
    split: dict[tuple[str, str], float] = {}

    def add(component: str, data_type: str, energy_pj: float) -> None:
        split[component, data_type] = split.get((component, data_type), 0.0) + energy_pj

    levels = cost.levels
    for index, (source, target, data_type) in enumerate(TRAFFIC_KEYS):
        kind = "spikes" if data_type in ("spikes_in", "spikes_out") else data_type
        bursts = int(levels.dram_bursts[:, index].sum())
        if source == "dram":
            add("DRAM", kind, bursts * unit["dram", "read_burst"])
        if target == "dram":
            add("DRAM", kind, bursts * unit["dram", "write_burst"])
        for level in ("glb", "lbuf"):
            reads = int(levels.reads[level][:, index].sum()) * unit[level, "read"]
            writes = int(levels.writes[level][:, index].sum()) * unit[level, "write"]
            add(level.upper(), kind, reads + writes)
    for row in rows:
        if row["action"] == "leakage_cycle":
            add("leakage", "leakage", row["energy_pj"])
        elif row["action"] == "weight_register":
            add("RF", "weights", row["energy_pj"])
        elif row["component"] == "array":
            add("arithmetic", "arithmetic", row["energy_pj"])
    billed = sum(row["energy_pj"] for row in rows)
    if abs(sum(split.values()) - billed) > 1e-9 * billed:
        raise RuntimeError(f"energy split {sum(split.values())} pJ differs from the billed {billed} pJ")
    return split


def print_split(label: str, split: dict[tuple[str, str], float], on_chip: bool) -> None:
    if on_chip:
        split = {key: value for key, value in split.items() if key[0] != "DRAM"}
    total = sum(split.values())

    def share(selected: float) -> str:
        return f"{100 * selected / total:5.1f}"

    by_component = [share(sum(v for (c, _), v in split.items() if c == name)) for name in SPLIT_COMPONENTS]
    by_type = [share(sum(v for (_, t), v in split.items() if t == name)) for name in SPLIT_DATA_TYPES]
    print(f"{label:<38} {' '.join(by_component)} | {' '.join(by_type)}")


def energy_split(seeds: int) -> None:
    system, table, geometry = system_for("{type: SpikeXArray}")
    config = load_config(CONFIG)
    model = config.workload.model.load(config.base_dir)
    fc_index = len(model.layers) - 1
    result = simulate(config, samples=20)
    # layer_spikes[sample] lists the encoded input, then every layer's output spikes.
    nmnist = [spikes[fc_index].reshape(spikes[fc_index].shape[0], -1) for spikes in result.layer_spikes]
    rng = np.random.default_rng(0)
    fc1 = Layer("fc1", "fc", (1600, 1, 1), (512, 1, 1), 1, 1, 0, rng.integers(-20, 60, size=(512, 1600)), NEURON)
    dvs = [(np.random.default_rng(seed).random((300, 1600)) < 0.05).astype(np.uint8) for seed in range(seeds)]
    workloads = (("N-MNIST fc", model.layers[fc_index], nmnist), ("DVS-Gesture fc1 (5%)", fc1, dvs))
    print(f"energy table {table.name}; shares in % of the layer's energy, summed over its inputs")
    print(f"{'layer, window size':<38} {' '.join(f'{name[:5]:>5}' for name in SPLIT_COMPONENTS)} | "
          f"{' '.join(f'{name[:5]:>5}' for name in SPLIT_DATA_TYPES)}")
    for name, layer, inputs in workloads:
        for tws in (4, 8):
            split: dict[tuple[str, str], float] = {}
            for layer_input in inputs:
                for key, value in split_layer_energy(system, table, layer, layer_input, tws, geometry).items():
                    split[key] = split.get(key, 0.0) + value
            print_split(f"{name}, TWS {tws}", split, on_chip=False)
            print_split(f"{name}, TWS {tws}, on chip", split, on_chip=True)
    for tws, shares in PAPER_SPLIT.items():
        print(f"paper, FC layer, TWS {tws}: {shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("dispatch", "tws-sweep", "ladder", "energy-split"))
    parser.add_argument("--seeds", type=int, default=3, help="random inputs per point (default 3)")
    args = parser.parse_args()
    experiments = {"dispatch": dispatch, "tws-sweep": tws_sweep, "ladder": ladder, "energy-split": energy_split}
    experiments[args.experiment](args.seeds)


if __name__ == "__main__":
    main()
