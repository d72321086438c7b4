"""Cost of one layer on one system: energy rows, latency and EDP without running SimPy.

The no-contention latency of a layer is the closed form of the double-buffered pipeline
(`kernel.analytic_latency`), so sweeps, window-size searches and training loops can ask
for a layer's cost cheaply; `spikex-sim run` executes the same steps in SimPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from spikex_sim.dataflow.schedule import TRAFFIC_KEYS, BufferGeometry, LayerSchedule
from spikex_sim.dataflow.steps import Mapper, MappingCost, objective_value, select_mapping
from spikex_sim.energy import ActionEnergyTable
from spikex_sim.kernel import analytic_latency
from spikex_sim.memory import SRAM_LEVELS, LevelCounts, count_levels
from spikex_sim.system import System
from spikex_sim.workload.model import Layer


@dataclass
class LayerCost:
    """Latency, energy and EDP of one layer on one input, with the schedule behind them."""

    latency_cycles: int
    energy_pj: float
    edp_js: float
    out_spikes: np.ndarray
    schedule: LayerSchedule
    levels: LevelCounts


def energy_rows(system: System, table: ActionEnergyTable, layer: Layer, levels: LevelCounts, counts: dict,
                latency_cycles: int) -> list[dict]:
    """Bill every action of one layer run: one row per component and action."""
    units = table.unit_energies(system, layer.neuron.membrane_bits, int(system.array.weight_bits))
    rows = []

    def add(component: str, action: str, count: int) -> None:
        unit_pj = units[component, action]
        rows.append({"component": component, "action": action, "count": int(count),
                     "energy_per_action_pj": float(unit_pj), "energy_pj": float(count) * float(unit_pj)})

    dram_read_bursts = sum(int(levels.dram_bursts[:, i].sum()) for i, key in enumerate(TRAFFIC_KEYS) if key[0] == "dram")
    dram_write_bursts = sum(int(levels.dram_bursts[:, i].sum()) for i, key in enumerate(TRAFFIC_KEYS) if key[1] == "dram")
    add("dram", "read_burst", dram_read_bursts)
    add("dram", "write_burst", dram_write_bursts)
    for level in SRAM_LEVELS:
        add(level, "read", int(levels.reads[level].sum()))
        add(level, "write", int(levels.writes[level].sum()))
    add("array", "accumulate", counts["pe.accumulate"])
    add("array", "weight_register", counts["pe.weight_register"])
    add("array", "membrane_update", counts["pe.membrane_update"])
    add("array", "compare", counts["pe.compare"])
    for component in ("dram", "glb", "lbuf", "array"):
        add(component, "leakage_cycle", latency_cycles)
    return rows


def dram_bytes(schedule: LayerSchedule) -> int:
    """Return the bytes a schedule moves to and from DRAM."""
    columns = [index for index, key in enumerate(TRAFFIC_KEYS) if "dram" in key[:2]]
    return int(schedule.traffic[:, columns].sum())


def layer_mapper(system: System, table: ActionEnergyTable, layer: Layer, collected: list | None = None) -> Mapper:
    """Return the mapper of `system.mapper` that weighs candidates by their no-contention cost.

    With `collected`, the mapper appends every candidate it costs to that list.
    """
    def cost(schedule: LayerSchedule) -> MappingCost:
        levels = count_levels(system, schedule.traffic, schedule.segments)
        latency = analytic_latency(schedule.compute_cycles, levels.memory_cycles)
        energy = sum(row["energy_pj"] for row in energy_rows(system, table, layer, levels, schedule.counts, latency))
        return MappingCost(dram_bytes(schedule), latency - int(schedule.compute_cycles.sum()), latency, energy)

    return Mapper(system.mapper, cost, collected)


def layer_cost(system: System, table: ActionEnergyTable, layer: Layer, layer_input: np.ndarray, tws: int,
               geometry: BufferGeometry) -> LayerCost:
    """Run the system's array on one layer input and return its no-contention cost."""
    out_spikes, schedule = system.array.run_layer(layer, layer_input, tws, geometry,
                                                  mapper=layer_mapper(system, table, layer))
    levels = count_levels(system, schedule.traffic, schedule.segments)
    latency = analytic_latency(schedule.compute_cycles, levels.memory_cycles)
    energy = sum(row["energy_pj"] for row in energy_rows(system, table, layer, levels, schedule.counts, latency))
    seconds = Fraction(latency) / system.clock
    return LayerCost(latency, energy, energy * 1e-12 * float(seconds), out_spikes, schedule, levels)


def search_tws(system: System, table: ActionEnergyTable, layer: Layer, layer_input: np.ndarray, geometry: BufferGeometry,
               timesteps: int) -> int:
    """Return the window size that minimises the mapper's objective for one layer on this input.

    The objective is `system.mapper` (EDP for `monotone`, which searches with `walk_tws`
    instead); ties go to the smaller size.
    """
    objective = "edp" if system.mapper == "monotone" else system.mapper
    best_size, best_value = None, None
    for size in system.array.tws_candidates(timesteps):
        value = objective_value(objective, layer_cost(system, table, layer, layer_input, size, geometry))
        if best_value is None or value < best_value:
            best_size, best_value = size, value
    return best_size


def walk_tws(system: System, table: ActionEnergyTable, layer: Layer, layer_input: np.ndarray,
             geometry: BufferGeometry, timesteps: int) -> tuple[int, np.ndarray, LayerSchedule]:
    """Return (window size, output spikes, schedule) of the monotone walk over every window size.

    The walk considers the candidate mappings of all window sizes at once, so a larger GLB still
    never raises DRAM bytes or stall cycles when the window size is searched too.
    """
    collected: list = []
    sizes: list[int] = []
    out_spikes = None
    for size in system.array.tws_candidates(timesteps):
        before = len(collected)
        out_spikes, _ = system.array.run_layer(layer, layer_input, size, geometry,
                                               mapper=layer_mapper(system, table, layer, collected))
        sizes += [size] * (len(collected) - before)
    chosen = select_mapping(collected, geometry, "monotone")
    index = next(position for position, (schedule, _) in enumerate(collected) if schedule is chosen)
    return sizes[index], out_spikes, chosen
