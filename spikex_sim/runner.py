"""Running a configuration: build the system, simulate every sample, collect the traces.

For each sample the encoder makes the input spikes, then the layers run one after another:
the array computes the layer's real output spikes and its schedule of steps, the memory
levels turn the steps' traffic into cycles, and the SimPy kernel executes the steps with
double buffering. The output spikes of a layer are the input of the next; the last
layer's spike counts classify the sample.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np
import pandas as pd

from spikex_sim import __version__
from spikex_sim.config import RunConfig
from spikex_sim.dataflow.schedule import TRAFFIC_KEYS
from spikex_sim.errors import ConfigError
from spikex_sim.evaluate import energy_rows, layer_mapper, search_tws, walk_tws
from spikex_sim.invariants import check_run
from spikex_sim.kernel import CheckedResource, Kernel, analytic_latency, fill_cycles, run_steps, run_steps_concurrent
from spikex_sim.memory import buffer_geometry, concurrent_phases, count_levels
from spikex_sim.preflight import (
    DEFAULT_MAX_EVENTS, DEFAULT_MAX_MEMORY, check_pinned_blocks, check_resources, dataset_nbytes, step_events,
)
from spikex_sim.workload.activity_io import ActivitySample, active_window_fraction, input_fan_out, spike_metrics

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Every trace table of a run, plus its manifest."""

    tables: dict[str, pd.DataFrame]
    manifest: dict
    resolved_config: dict
    layer_spikes: list[list[np.ndarray]] = field(default_factory=list)


def _check_labels(dataset, model) -> None:
    """Reject a label that no output neuron can predict."""
    outputs = int(np.prod(model.layers[-1].out_shape))
    for name, _, label in dataset:
        if int(label) >= outputs:
            raise ConfigError(f"sample {name} has label {label}, but the model has {outputs} outputs "
                              f"(classes 0 to {outputs - 1}); fix the label file or the model",
                              key="workload.dataset.labels")


def simulate(config: RunConfig, *, samples: int | None = None,
             progress: Callable[[int, int], None] | None = None, max_events: int = DEFAULT_MAX_EVENTS,
             max_memory: int = DEFAULT_MAX_MEMORY) -> RunResult:
    """Simulate every sample of the configured workload; return the trace tables.

    Raises `ConfigError` before the first sample if the estimated SimPy events or peak memory
    exceed `max_events` or `max_memory` (bytes), and `SimulationError` if the finished run
    breaks an invariant of `spikex_sim.invariants`.
    """
    started = time.perf_counter()
    system, workload = config.system, config.workload
    model = workload.model.load(config.base_dir)
    table = config.energy.load(config.base_dir)
    dataset = workload.dataset.load(config.base_dir, samples)
    timesteps = workload.timesteps
    planned = workload.dataset.planned_size(model, timesteps, samples)
    if planned is not None:
        # Generated data sets are checked before they are drawn, not after.
        check_resources(model, system.array, timesteps, planned[0], planned[1], max_events=max_events,
                        max_memory=max_memory, source=str(config.source), events_per_step=step_events(system))
    dataset = workload.dataset.for_model(dataset, model, timesteps, config.seed, samples)
    _check_labels(dataset, model)
    array = system.array
    if workload.encoder.analog_output and not array.accepts_analog_input:
        raise ConfigError(f"encoder {workload.encoder.type_name} gives real-valued input, but array "
                          f"{array.type_name} takes binary spikes only; use a spike encoder such as PoissonRate",
                          source=str(config.source), key="workload.encoder.type")
    layer_count = len(model.layers)
    tws_per_layer = [array.tws_for(index, layer_count) for index in range(layer_count)]
    for index, tws in enumerate(tws_per_layer):
        if tws != "search" and tws > timesteps:
            raise ConfigError(f"time-window size {tws} of layer {model.layers[index].name} exceeds T={timesteps}",
                              source=str(config.source), key="system.array.tws")
    geometry = buffer_geometry(system, array.weight_bits, model.layers[0].neuron.membrane_bits)
    for layer in model.layers:
        if int(np.abs(layer.weight).max(initial=0)) >= 1 << (array.weight_bits - 1):
            raise ConfigError(f"weights of layer {layer.name} do not fit {array.weight_bits}-bit signed integers",
                              source=str(model.weights_path), key=f"{layer.name}.weight")
    if not dataset:
        raise ConfigError("the data set has no samples to run", source=str(config.source), key="workload.dataset")
    check_pinned_blocks(system, model, timesteps, geometry, str(config.source))
    check_resources(model, array, timesteps, len(dataset), dataset_nbytes(dataset), max_events=max_events,
                    max_memory=max_memory, source=str(config.source), events_per_step=step_events(system))

    extra = {"weights_sha256": model.weights_sha256, "samples": len(dataset)}
    config_hash = config.config_hash(extra)
    logger.info("run %s: %d samples, config hash %s", config.name, len(dataset), config_hash[:12])

    kernel = Kernel("array", system.clock)
    dram_channel = CheckedResource(kernel.env, "DRAM channel", capacity=1)
    resources = {"dram": dram_channel, "glb": CheckedResource(kernel.env, "GLB ports", capacity=1),
                 "lbuf": CheckedResource(kernel.env, "LBUF ports", capacity=1)}
    records = {"samples": [], "layers": [], "utilization": [], "memory": [], "energy": []}
    layer_spikes: list[list[np.ndarray]] = []

    def controller():
        for sample_index, (name, raw, label) in enumerate(dataset):
            rng = np.random.default_rng([config.seed, sample_index])
            spikes = workload.encoder.encode(raw, timesteps=timesteps, shape=model.input_shape, rng=rng, source=name)
            sample_start = kernel.env.now
            per_layer = [spikes]
            sample_energy = 0.0
            # Recorded or synthetic activity replaces the spikes computed from the weights.
            replay = raw.layer_outputs if isinstance(raw, ActivitySample) else None
            for layer_index, layer in enumerate(model.layers):
                if replay is not None:
                    layer = dataclasses.replace(layer, recorded_output=replay[layer_index])
                tws = tws_per_layer[layer_index]
                layer_input = spikes if layer.kind == "conv" else spikes.reshape(spikes.shape[0], -1)
                if tws == "search" and system.mapper == "monotone":
                    # Every sample walks the mappings of all window sizes together.
                    tws, out_spikes, schedule = walk_tws(system, table, layer, layer_input, geometry, timesteps)
                else:
                    if tws == "search":
                        # The first sample picks each layer's size; later samples reuse it.
                        tws = search_tws(system, table, layer, layer_input, geometry, timesteps)
                        tws_per_layer[layer_index] = tws
                        logger.info("layer %s: window size %d minimises the %s objective", layer.name, tws,
                                    system.mapper)
                    mapper = layer_mapper(system, table, layer)
                    out_spikes, schedule = array.run_layer(layer, layer_input, tws, geometry, mapper=mapper)
                levels = count_levels(system, schedule.traffic, schedule.segments)
                layer_start = kernel.env.now
                if system.write_back == "concurrent":
                    compute, load_cycles, write_cycles = concurrent_phases(
                        system, schedule.compute_cycles, schedule.traffic, schedule.segments)
                    yield from run_steps_concurrent(kernel, f"sample{sample_index}.{layer.name}", resources, compute,
                                                    load_cycles, write_cycles)
                else:
                    yield from run_steps(kernel, f"sample{sample_index}.{layer.name}", dram_channel,
                                         schedule.compute_cycles, levels.memory_cycles)
                latency = kernel.env.now - layer_start
                layer_energy_rows = energy_rows(system, table, layer, levels, schedule.counts, latency)
                layer_energy = sum(row["energy_pj"] for row in layer_energy_rows)
                sample_energy += layer_energy
                _record_layer(records, sample_index, layer_index, layer, tws, schedule, levels, layer_energy_rows,
                              layer_input, out_spikes, layer_start, latency, layer_energy, array, system)
                spikes = out_spikes
                per_layer.append(out_spikes)
            counts = spikes.reshape(spikes.shape[0], -1).sum(axis=0)
            prediction = int(np.argmax(counts))
            records["samples"].append({
                "sample": sample_index, "name": name, "label": int(label), "prediction": prediction,
                "correct": prediction == int(label), "latency_cycles": kernel.env.now - sample_start,
                "energy_pj": sample_energy, "input_spikes": int(per_layer[0].sum()),
            })
            layer_spikes.append(per_layer)
            if progress is not None:
                progress(sample_index + 1, len(dataset))

    kernel.process("controller", controller())
    kernel.run()

    tables = {key: pd.DataFrame(rows) for key, rows in records.items()}
    summary = _summary(tables, system, model, kernel, config)
    tables = {"summary": summary, **tables}
    check_run(tables, system=system, resources=resources.values(), events=kernel.env.events_processed)
    wall_seconds = time.perf_counter() - started
    manifest = {
        "spikex_sim_version": __version__, "config_name": config.name, "config_hash": config_hash,
        "seed": config.seed, "samples": len(dataset), "events": kernel.env.events_processed,
        "events_per_sample": kernel.env.events_processed / max(len(dataset), 1),
        "clock": {"name": kernel.clock_name, "hz": int(system.clock)},
        "wall_seconds": wall_seconds, "weights_sha256": model.weights_sha256,
        "modelling_shortcuts": SHORTCUTS,
    }
    logger.info("run %s done: latency %d cycles/sample, energy %.1f pJ/sample, accuracy %.3f",
                config.name, int(summary["latency_cycles"].iloc[0]), float(summary["energy_pj"].iloc[0]),
                float(summary["accuracy"].iloc[0]))
    return RunResult(tables, manifest, config.resolved(), layer_spikes)


SHORTCUTS = [
    "receptive fields of neighbouring columns are staged separately (no halo reuse in the LBUF)",
    "a step's memory phase holds the DRAM channel for its whole length (GLB and LBUF time included)",
    "with write_back next_step, SRAM banks and ports limit throughput but are not SimPy resources",
]


def _record_layer(records, sample_index, layer_index, layer, tws, schedule, levels, layer_energy_rows, layer_input,
                  out_spikes, layer_start, latency, layer_energy, array, system) -> None:
    key = {"sample": sample_index, "layer_index": layer_index, "layer": layer.name}
    compute = int(schedule.compute_cycles.sum())
    fill = fill_cycles(schedule.compute_cycles, levels.memory_cycles)
    traffic_totals = schedule.traffic.sum(axis=0)
    level_bytes = {"dram": 0, "glb": 0, "lbuf": 0}
    for index, (source, target, data_type) in enumerate(TRAFFIC_KEYS):
        moved = int(traffic_totals[index])
        for level in (source, target):
            if level in level_bytes:
                level_bytes[level] += moved
        records["memory"].append({
            **key, "source": source, "destination": target, "data_type": data_type, "bytes": moved,
            "source_accesses": int(levels.reads[source][:, index].sum()) if source in levels.reads else 0,
            "destination_accesses": int(levels.writes[target][:, index].sum()) if target in levels.writes else 0,
            "dram_bursts": int(levels.dram_bursts[:, index].sum()),
        })
    in_spikes = int(layer_input.sum())
    out_count = int(out_spikes.sum())
    activity = spike_metrics(layer_input.reshape(layer_input.shape[0], -1), input_fan_out(layer).reshape(-1))
    neurons = int(np.prod(layer.out_shape))
    steps = out_spikes.shape[0]
    pe_count = array.rows * array.cols
    records["layers"].append({
        **key, "kind": layer.kind, "tws": tws, "mode": schedule.stats["mode"], "start_cycle": layer_start,
        "time_block_windows": schedule.stats["block_windows"],
        "latency_cycles": latency, "compute_cycles": compute, "stall_cycles": latency - compute, "fill_cycles": fill,
        "memory_cycles": int(levels.memory_cycles.sum()),
        "analytic_latency_cycles": analytic_latency(schedule.compute_cycles, levels.memory_cycles),
        "steps": len(schedule.compute_cycles),
        "passes": schedule.passes, "ntwu_total": schedule.stats["ntwu_total"],
        "ntwu_active": schedule.stats["ntwu_active"],
        "active_ntwu_fraction": schedule.stats["ntwu_active"] / max(schedule.stats["ntwu_total"], 1),
        "active_window_fraction": active_window_fraction(layer_input, tws),
        "input_spikes": in_spikes, "output_spikes": out_count,
        "input_firing_rate": activity["firing_rate"],
        "output_firing_rate": out_count / max(neurons * steps, 1),
        "synaptic_ops": activity["synaptic_ops"],
        "pe_utilization": schedule.stats["mapped_pe_cycles"] / max(pe_count * latency, 1),
        "energy_pj": layer_energy, "dram_bytes": level_bytes["dram"], "glb_bytes": level_bytes["glb"],
        "lbuf_bytes": level_bytes["lbuf"],
        "dram_bus_bytes": int(levels.dram_bursts.sum()) * int(system.dram.burst),
        "dram_bandwidth_bytes_per_s": float(Fraction(int(levels.dram_bursts.sum()) * int(system.dram.burst))
                                            * system.clock / latency) if latency else 0.0,
    })
    busy = {"array": compute, **{level: int(cycles.sum()) for level, cycles in levels.level_cycles.items()}}
    for component, cycles in busy.items():
        records["utilization"].append({
            **key, "component": component, "start_cycle": layer_start, "end_cycle": layer_start + latency,
            "busy_cycles": cycles, "utilization": cycles / max(latency, 1),
        })
    for row in layer_energy_rows:
        records["energy"].append({**key, **row})


def _summary(tables, system, model, kernel, config) -> pd.DataFrame:
    samples = tables["samples"]
    count = max(len(samples), 1)
    total_cycles = int(samples["latency_cycles"].sum())
    total_energy = float(samples["energy_pj"].sum())
    latency_cycles = total_cycles / count
    latency_s = float(Fraction(total_cycles, count) / system.clock)
    energy_pj = total_energy / count
    energy = tables["energy"]
    memory_energy = float(energy[energy["component"] != "array"]["energy_pj"].sum())
    row = {
        "config_name": config.name, "samples": len(samples),
        "latency_cycles": latency_cycles, "latency_s": latency_s, "energy_pj": energy_pj,
        "edp_js": energy_pj * 1e-12 * latency_s,
        # Samples without a label (label -1, e.g. synthetic activity) do not count toward accuracy.
        "accuracy": float(samples["correct"][samples["label"] >= 0].mean()) if (samples["label"] >= 0).any()
        else float("nan"),
        "total_latency_cycles": total_cycles, "total_energy_pj": total_energy,
        "memory_energy_pj": memory_energy / count,
        "arithmetic_energy_pj": float(energy[energy["component"] == "array"]["energy_pj"].sum()) / count,
        "clock_hz": int(system.clock), "events": kernel.env.events_processed,
        # Bytes on the DRAM bus (whole bursts) over the whole run's time.
        "dram_bandwidth_bytes_per_s": float(Fraction(int(tables["layers"]["dram_bus_bytes"].sum())) * system.clock
                                            / total_cycles) if total_cycles else 0.0,
    }
    return pd.DataFrame([row])
