"""Wall time per sample of SpikeX on the DVS-Gesture large network, T = 300, 1% firing.

Usage: python benchmarks/dvs_large_per_sample.py [--samples 3]

Runs `simulate()` on configs/dvsgesture_large_synthetic.yaml with synthetic activity at a
1% firing rate in the input and every layer, and prints the wall time per sample and the
SimPy events per sample. Target: under 10 s per sample.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spikex_sim.config import load_config  # noqa: E402
from spikex_sim.runner import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3, help="synthetic samples to run (default 3)")
    args = parser.parse_args()
    overrides = [f"workload.dataset.samples={args.samples}", "workload.dataset.input_rate=0.01",
                 "workload.dataset.rates=[0.01, 0.01, 0.01, 0.01, 0.01]"]
    config = load_config(ROOT / "configs" / "dvsgesture_large_synthetic.yaml", overrides)
    started = time.perf_counter()
    result = simulate(config)
    wall = time.perf_counter() - started
    print(f"samples: {args.samples}, T = {config.workload.timesteps}")
    print(f"wall time per sample: {wall / args.samples:.2f} s")
    print(f"events per sample:    {result.manifest['events_per_sample']:,.0f}")
    print(f"latency per sample:   {result.tables['summary']['latency_cycles'].iloc[0]:,.0f} cycles")


if __name__ == "__main__":
    main()
