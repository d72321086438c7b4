"""End-of-run invariants: checks that every run's trace tables are consistent with each other.

`check_run` is called at the end of every `runner.simulate`. A failed check is a fault of
the simulator, not of the user's input, so it raises `SimulationError`: the command line
prints a traceback and requests a report, and no traces that contradict themselves are
written.

Checked:
- every count, cycle, byte and energy column is finite and non-negative;
- each energy row is `count x energy_per_action_pj`, each layer's energy is the sum of its
  rows, each sample's energy the sum of its layers', and the summary's totals and its
  memory/arithmetic split add up to the same number;
- each sample's latency is the sum of its layers' latencies, and the summary's total is
  their exact integer sum (an int64 overflow would break it);
- the DRAM channel never moved data faster than its peak bandwidth: per layer,
  `bytes * clock <= bandwidth * busy_cycles`, in exact integers;
- the DRAM channel and the buffers' ports are idle at the end (no slot still held, no
  request still waiting);
- every input spike of a layer is consumed: the accumulates that the array's schedule
  billed equal the layer's synaptic operations counted from its input spikes and fan-out
  (at least equal for arrays that also compute on silent inputs), and each layer's input
  spikes are the previous layer's output spikes.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from spikex_sim.errors import SimulationError

# Columns that may be negative by definition: -1 marks a sample without a label.
SIGNED_COLUMNS = frozenset({"label"})
RELATIVE_TOLERANCE = 1e-9


def check_run(tables: dict[str, pd.DataFrame], *, system, resources=(), events: int | None = None) -> None:
    """Raise `SimulationError` if the run's tables break any invariant listed in the module doc.

    `resources` are the run's `CheckedResource`s, which must all be idle.
    """
    check_non_negative(tables)
    check_energy_sums(tables)
    check_latency_sums(tables)
    check_dram_bandwidth(tables, system)
    check_spikes_consumed(tables, system.array)
    for resource in resources:
        resource.check_idle()
    if events is not None and int(tables["summary"]["events"].iloc[0]) != events:
        raise SimulationError(f"summary reports {int(tables['summary']['events'].iloc[0])} events, the kernel "
                              f"processed {events}")


def check_non_negative(tables: dict[str, pd.DataFrame]) -> None:
    """Raise if a numeric column contains a negative, NaN or infinite value (accuracy may be NaN)."""
    for table_name, frame in tables.items():
        for column in frame.columns:
            if column in SIGNED_COLUMNS or frame[column].dtype == bool:
                continue
            if not pd.api.types.is_numeric_dtype(frame[column]):
                continue
            values = frame[column].to_numpy(dtype=np.float64)
            if table_name == "summary" and column == "accuracy":
                values = values[~np.isnan(values)]  # NaN when no sample has a label
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                row = int(np.argmax(bad))
                raise SimulationError(f"{table_name}.{column} is {values[row]:.6g} in row {row}; counters, cycles, "
                                      "bytes and energies must be finite and non-negative")


def _close(first: float, second: float) -> bool:
    return math.isclose(first, second, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-6)


def check_energy_sums(tables: dict[str, pd.DataFrame]) -> None:
    """Raise unless the total energy equals the sum of its breakdown at every level."""
    energy, layers, samples = tables["energy"], tables["layers"], tables["samples"]
    summary = tables["summary"].iloc[0]
    products = energy["count"].to_numpy(dtype=np.float64) * energy["energy_per_action_pj"].to_numpy(dtype=np.float64)
    mismatch = ~np.isclose(energy["energy_pj"].to_numpy(dtype=np.float64), products, rtol=RELATIVE_TOLERANCE,
                           atol=1e-6)
    if mismatch.any():
        row = energy.iloc[int(np.argmax(mismatch))]
        raise SimulationError(f"energy row {row['component']}.{row['action']} of sample {row['sample']}, layer "
                              f"{row['layer']} is {row['energy_pj']} pJ, not count x energy per action")

    per_layer = energy.groupby(["sample", "layer_index"])["energy_pj"].sum()
    for row in layers.itertuples():
        billed = float(per_layer.get((row.sample, row.layer_index), 0.0))
        if not _close(row.energy_pj, billed):
            raise SimulationError(f"layer {row.layer} of sample {row.sample} reports {row.energy_pj} pJ, but its "
                                  f"energy rows add up to {billed} pJ")
    per_sample = layers.groupby("sample")["energy_pj"].sum()
    for row in samples.itertuples():
        if not _close(row.energy_pj, float(per_sample.get(row.sample, 0.0))):
            raise SimulationError(f"sample {row.sample} reports {row.energy_pj} pJ, but its layers add up to "
                                  f"{float(per_sample.get(row.sample, 0.0))} pJ")
    total = float(energy["energy_pj"].sum())
    if not _close(float(summary["total_energy_pj"]), total):
        raise SimulationError(f"summary total energy {summary['total_energy_pj']} pJ differs from the sum of the "
                              f"energy table, {total} pJ")
    split = float(summary["memory_energy_pj"]) + float(summary["arithmetic_energy_pj"])
    if not _close(split, float(summary["energy_pj"])):
        raise SimulationError(f"summary memory plus arithmetic energy, {split} pJ, differs from the energy per "
                              f"sample, {summary['energy_pj']} pJ")


def check_latency_sums(tables: dict[str, pd.DataFrame]) -> None:
    """Raise unless sample latencies are the exact sums of layer latencies and of the summary."""
    layers, samples = tables["layers"], tables["samples"]
    per_sample: dict[int, int] = {}
    for sample, latency in zip(layers["sample"].tolist(), layers["latency_cycles"].tolist()):
        per_sample[sample] = per_sample.get(sample, 0) + int(latency)
    for sample, latency in zip(samples["sample"].tolist(), samples["latency_cycles"].tolist()):
        if per_sample.get(sample, 0) != int(latency):
            raise SimulationError(f"sample {sample} reports {latency} cycles, but its layers add up to "
                                  f"{per_sample.get(sample, 0)}")
    exact_total = sum(int(latency) for latency in samples["latency_cycles"].tolist())
    reported = int(tables["summary"]["total_latency_cycles"].iloc[0])
    if reported != exact_total:
        raise SimulationError(f"summary total latency {reported} cycles differs from the exact sum {exact_total}; "
                              "a cycle counter overflowed")


def check_dram_bandwidth(tables: dict[str, pd.DataFrame], system) -> None:
    """Raise if any layer moved DRAM bytes faster than the channel's peak bandwidth."""
    bandwidth = getattr(system.dram, "bandwidth", None)
    if bandwidth is None:
        return  # a user DRAM model without a peak bandwidth has nothing to check against
    memory, utilization = tables["memory"], tables["utilization"]
    touches_dram = (memory["source"] == "dram") | (memory["destination"] == "dram")
    moved = memory[touches_dram].groupby(["sample", "layer_index"])["bytes"].sum()
    busy = utilization[utilization["component"] == "dram"].set_index(["sample", "layer_index"])["busy_cycles"]
    clock = Fraction(system.clock)
    for key, byte_count in moved.items():
        cycles = int(busy.get(key, 0))
        peak = Fraction(bandwidth) * getattr(system.dram, "channels", 1)
        if Fraction(int(byte_count)) * clock > peak * cycles:
            achieved = float(Fraction(int(byte_count)) * clock / cycles) if cycles else math.inf
            raise SimulationError(f"sample {key[0]}, layer {key[1]}: DRAM moved {int(byte_count)} bytes in {cycles} "
                                  f"busy cycles, {achieved:.4g} B/s, above the peak bandwidth of "
                                  f"{float(peak):.4g} B/s")


def check_spikes_consumed(tables: dict[str, pd.DataFrame], array) -> None:
    """Raise unless every layer's input spikes reach the array and flow on to the next layer."""
    from spikex_sim.components.spikex_array import NTWUArray

    layers, samples, energy = tables["layers"], tables["samples"], tables["energy"]
    accumulates = energy[(energy["component"] == "array") & (energy["action"] == "accumulate")]
    billed = accumulates.set_index(["sample", "layer_index"])["count"]
    # Arrays that skip silent work add once per spike and synapse; dense arrays add zeros too.
    skips_silent_work = isinstance(array, NTWUArray)
    for row in layers.itertuples():
        count = int(billed.get((row.sample, row.layer_index), 0))
        expected = int(row.synaptic_ops)
        if count < expected or (skips_silent_work and count != expected):
            relation = "equal" if skips_silent_work else "at least"
            raise SimulationError(f"layer {row.layer} of sample {row.sample}: the schedule billed {count} "
                                  f"accumulates, but its {row.input_spikes} input spikes need {relation} "
                                  f"{expected}; some input spikes were dropped or counted twice")

    first_inputs = dict(zip(samples["sample"].tolist(), samples["input_spikes"].tolist()))
    previous_output: dict[int, int] = {}
    for row in layers.sort_values(["sample", "layer_index"]).itertuples():
        expected = first_inputs[row.sample] if row.layer_index == 0 else previous_output.get(row.sample)
        if int(row.input_spikes) != expected:
            raise SimulationError(f"layer {row.layer} of sample {row.sample} received {row.input_spikes} input "
                                  f"spikes, but the layer before it sent {expected}")
        previous_output[row.sample] = int(row.output_spikes)
