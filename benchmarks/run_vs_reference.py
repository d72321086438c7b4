"""Time a full simulation against the functional reference forward pass on the same inputs.

Usage: python benchmarks/run_vs_reference.py [--samples 100] [--repeats 3]

Both sides read the same encoded recordings. The simulation side is `simulate()` (what
`spikex-sim run` does, without writing the Parquet files); the reference side is the test
suite's independent integer forward pass (tests/reference.py). Prints the median wall
time of each, their ratio (simulation / reference) and the SimPy events per sample.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import reference  # noqa: E402
from spikex_sim.config import load_config  # noqa: E402
from spikex_sim.runner import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="recordings to run (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each side (default 3)")
    args = parser.parse_args()

    config = load_config(ROOT / "configs" / "spikex_nmnist.yaml")
    model = config.workload.model.load(config.base_dir)
    dataset = config.workload.dataset.load(config.base_dir, args.samples)
    encoder = config.workload.encoder
    inputs = [encoder.encode(raw, timesteps=config.workload.timesteps, shape=model.input_shape, rng=None, source=name)
              for name, raw, _ in dataset]

    simulation_times, reference_times = [], []
    events_per_sample = 0.0
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = simulate(config, samples=args.samples)
        simulation_times.append(time.perf_counter() - started)
        events_per_sample = result.manifest["events_per_sample"]

        started = time.perf_counter()
        for spikes in inputs:
            reference.forward(model, spikes)
        reference_times.append(time.perf_counter() - started)

    simulation = statistics.median(simulation_times)
    functional = statistics.median(reference_times)
    print(f"samples: {args.samples}, repeats: {args.repeats}")
    print(f"simulation (simulate, median): {simulation:.3f} s  ({simulation / args.samples * 1e3:.2f} ms per sample)")
    print(f"reference forward (median):    {functional:.3f} s  ({functional / args.samples * 1e3:.2f} ms per sample)")
    print(f"ratio simulation / reference:  {simulation / functional:.2f}")
    print(f"events per sample:             {events_per_sample:,.0f}")
    print(f"accuracy:                      {result.tables['summary']['accuracy'].iloc[0]:.3f}")


if __name__ == "__main__":
    main()
