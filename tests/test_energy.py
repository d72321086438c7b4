"""Energy tables, the Accelergy ERT import and energy billing, checked against hand-computed values."""

import json
from fractions import Fraction

import numpy as np
import pytest
import yaml

from spikex_sim.components.accelergy_ert import instances_in_name
from spikex_sim.config import load_config
from spikex_sim.dataflow.schedule import KEY_INDEX, TRAFFIC_KEYS
from spikex_sim.energy import (LEAKAGE_COMPONENTS, average_power_w, builtin_tables, leakage_pj_per_cycle,
                               parse_energy_table)
from spikex_sim.errors import ConfigError
from spikex_sim.evaluate import energy_rows
from spikex_sim.memory import count_levels
from spikex_sim.runner import simulate
from spikex_sim.units import cycles_to_seconds, parse_quantity
from spikex_sim.workload.model import Layer, NeuronParams

# GLB and LBUF sizes of configs/spikex_nmnist.yaml (54KB and 2KB are decimal).
GLB_BYTES, LBUF_BYTES = 54000, 2000


def table_data(**changes) -> dict:
    """Return a valid version-1 table whose GLB reads cost 1 pJ and writes 2 pJ per 8-bit word."""
    data = {
        "name": "test", "version": 1,
        "dram": {"burst_bytes": 8, "burst_pj": 512.0},
        # 8 and 16 pJ per 64-bit access are 1 and 2 pJ per 8-bit word.
        "sram": {"reference_width_bits": 64, "points": [[LBUF_BYTES, 4.0, 4.0], [GLB_BYTES, 8.0, 16.0]]},
        "add_pj_by_bits": {8: 0.5, 16: 1.0},
        "register_pj_by_bits": {8: 0.25},
        "compare_pj_by_bits": {16: 0.125},
        "leakage_mw": {component: 0.0 for component in LEAKAGE_COMPONENTS},
    }
    data.update(changes)
    return data


def write_table(folder, data, name="table.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def config_with_table(default_config, path, *overrides):
    return load_config(default_config, [f"energy.table={path}", *overrides])


def one_layer() -> Layer:
    weight = np.zeros((10, 16), dtype=np.int64)
    return Layer("fc", "fc", (16, 1, 1), (10, 1, 1), 1, 1, 0, weight, NeuronParams(threshold=10, leak_q=256))


def billed(rows) -> dict:
    return {(row["component"], row["action"]): row for row in rows}


NO_COUNTS = {"pe.accumulate": 0, "pe.weight_register": 0, "pe.membrane_update": 0, "pe.compare": 0}


def test_reads_and_writes_billed_separately(tmp_path, default_config):
    config = config_with_table(default_config, write_table(tmp_path, table_data()))
    table = config.energy.load(config.base_dir)
    traffic = np.zeros((1, len(TRAFFIC_KEYS)), dtype=np.int64)
    traffic[0, KEY_INDEX["glb", "lbuf", "weights"]] = 100  # 100 bytes: 100 GLB reads of one 8-bit word
    traffic[0, KEY_INDEX["pe", "glb", "spikes_out"]] = 50  # 50 GLB writes
    levels = count_levels(config.system, traffic)
    rows = billed(energy_rows(config.system, table, one_layer(), levels, NO_COUNTS, 0))
    assert rows["glb", "read"]["count"] == 100
    assert rows["glb", "write"]["count"] == 50
    assert rows["glb", "read"]["energy_per_action_pj"] == 1.0
    assert rows["glb", "write"]["energy_per_action_pj"] == 2.0
    assert rows["glb", "read"]["energy_pj"] + rows["glb", "write"]["energy_pj"] == 200.0


def test_dram_burst_contiguous_and_scattered(tmp_path, default_config):
    config = config_with_table(default_config, write_table(tmp_path, table_data()), "system.dram.burst=8B")
    table = config.energy.load(config.base_dir)
    assert table.dram_burst_pj(8) == 512.0  # one 64-bit access
    traffic = np.zeros((1, len(TRAFFIC_KEYS)), dtype=np.int64)
    traffic[0, KEY_INDEX["dram", "glb", "weights"]] = 1000  # 1,000 8-bit words
    contiguous = count_levels(config.system, traffic)
    segments = np.where(traffic > 0, 1000, 1)  # every word its own piece
    scattered = count_levels(config.system, traffic, segments)
    for levels, bursts, energy in ((contiguous, 125, 64_000.0), (scattered, 1000, 512_000.0)):
        row = billed(energy_rows(config.system, table, one_layer(), levels, NO_COUNTS, 0))["dram", "read_burst"]
        assert row["count"] == bursts
        assert row["energy_pj"] == energy


def test_total_equals_breakdown_on_real_run(default_config):
    result = simulate(load_config(default_config), samples=2)
    energy, summary = result.tables["energy"], result.tables["summary"].iloc[0]
    total = float(summary["total_energy_pj"])
    assert total > 0
    recomputed = (energy["count"] * energy["energy_per_action_pj"]).to_numpy()
    assert np.array_equal(recomputed, energy["energy_pj"].to_numpy())
    assert energy.groupby("component")["energy_pj"].sum().sum() == pytest.approx(total, rel=1e-12)
    assert energy.groupby(["component", "action"])["energy_pj"].sum().sum() == pytest.approx(total, rel=1e-12)
    assert result.tables["layers"]["energy_pj"].sum() == pytest.approx(total, rel=1e-12)
    split = float(summary["memory_energy_pj"] + summary["arithmetic_energy_pj"])
    assert split == pytest.approx(float(summary["energy_pj"]), rel=1e-12)


def leaky_config(tmp_path, default_config, *overrides):
    # 1 mW per component at the 500 MHz clock is exactly 2 pJ per cycle each.
    leaky = table_data(leakage_mw={component: 1.0 for component in LEAKAGE_COMPONENTS})
    return config_with_table(default_config, write_table(tmp_path, leaky), *overrides)


def test_static_energy_is_power_times_time(tmp_path, default_config):
    config = leaky_config(tmp_path, default_config)
    result = simulate(config, samples=2)
    energy, summary = result.tables["energy"], result.tables["summary"].iloc[0]
    static_pj = energy[energy["action"] == "leakage_cycle"]["energy_pj"].sum()
    run_seconds = cycles_to_seconds(int(summary["total_latency_cycles"]), config.system.clock)
    power_w = Fraction(4, 1000)  # four components at 1 mW
    assert static_pj == float(power_w * run_seconds * 10**12)
    assert set(energy[energy["action"] == "leakage_cycle"]["energy_per_action_pj"]) == {2.0}


def test_edp_depends_on_dense_array_size(tmp_path, default_config):
    runs = {}
    for size in (16, 32):
        array = f"system.array={{type: DenseSystolicArray, rows: {size}, cols: {size}}}"
        runs[size] = simulate(leaky_config(tmp_path, default_config, array), samples=1)
    accumulate = {size: run.tables["energy"].query("action == 'accumulate'")["energy_pj"].sum()
                  for size, run in runs.items()}
    edp = {size: float(run.tables["summary"]["edp_js"].iloc[0]) for size, run in runs.items()}
    assert accumulate[16] == accumulate[32]
    assert accumulate[16] > 0
    assert edp[16] != edp[32]


def test_clock_domain_conversion_exact():
    dram_clock, array_clock = parse_quantity("1600MHz", "Hz"), parse_quantity("1GHz", "Hz")
    seconds = cycles_to_seconds(10_000, dram_clock)
    assert seconds == Fraction(625, 100_000_000)  # 6.25 us
    assert seconds * array_clock == 6250
    power = average_power_w(21_179_300, seconds)
    assert power == Fraction(3388688, 10**6)
    assert round(float(power), 3) == 3.389


def test_leakage_per_cycle_from_milliwatts():
    assert leakage_pj_per_cycle(1.0, Fraction(500_000_000)) == 2.0
    assert leakage_pj_per_cycle(0.0, Fraction(10**9)) == 0.0


def test_builtin_tables_parse_with_sources(repo_root):
    names = builtin_tables()
    assert {"spikex_32nm", "horowitz_45nm"} <= set(names)
    for name in names:
        data = yaml.safe_load((repo_root / "spikex_sim" / "energy_tables" / f"{name}.yaml").read_text())
        table = parse_energy_table(data, name)
        assert table.name == name
        assert data["sources"]


def test_spikex_32nm_default_exact_points(default_config):
    config = load_config(default_config)
    assert config.energy.table == "spikex_32nm"
    table = config.energy.load(config.base_dir)
    # CACTI 7.0 runs at the exact SpikeX sizes, per 64-bit access.
    assert table.sram_access_pj(GLB_BYTES, 64) == 16.092
    assert table.sram_access_pj(GLB_BYTES, 64, write=True) == 13.990
    assert table.sram_access_pj(LBUF_BYTES, 64) == 1.691
    assert table.dram_burst_pj(8) == 512.0
    assert table.dram_burst_pj(64) == 4096.0
    assert table.add_pj(16) == 0.03205


def test_per_width_energies():
    table = parse_energy_table(table_data(register_pj_by_bits={8: 0.25, 16: 0.5}), "test")
    assert table.register_pj_for(8) == 0.25
    assert table.register_pj_for(12) == 0.5  # the next wider entry
    assert table.register_pj_for(32) == 1.0  # linear above the widest entry
    flat = table_data(compare_pj=0.3)
    del flat["compare_pj_by_bits"]
    assert parse_energy_table(flat, "test").compare_pj_for(16) == 0.3


def test_two_value_points_price_alike():
    table = parse_energy_table(table_data(sram={"reference_width_bits": 64, "points": [[1024, 3.0], [4096, 6.0]]}),
                               "test")
    assert table.sram_access_pj(2048, 64) == 4.5
    assert table.sram_access_pj(2048, 64, write=True) == 4.5


@pytest.mark.parametrize("changes, key", [
    ({"leakge_mw": {}}, "leakge_mw"),
    ({"dram": {"acess_pj_per_bit": 1.0}}, "dram.acess_pj_per_bit"),
    ({"sram": {"reference_width_bits": 64, "point": []}}, "sram.point"),
    ({"leakage_mw": {"dram": 0, "glb": 0, "lbuf": 0, "array": 0, "noc": 1.0}}, "leakage_mw.noc"),
    ({"version": 2}, "version"),
    ({"add_pj_by_bits": {8: -1.0}}, "add_pj_by_bits.8"),
    ({"register_pj_per_access": 0.1}, "register_pj_by_bits"),
    ({"dram": {"access_pj_per_bit": 1.0, "burst_pj": 512.0}}, "dram"),
    ({"sram": {"reference_width_bits": 64, "points": [[1024, 1.0], [1024, 2.0]]}}, "sram.points"),
])
def test_bad_table_key_rejected(tmp_path, default_config, changes, key):
    path = write_table(tmp_path, table_data(**changes))
    config = config_with_table(default_config, path)
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.source == str(path)
    assert error.value.key == key


def test_missing_table_key_rejected(tmp_path, default_config):
    data = table_data()
    del data["add_pj_by_bits"]
    path = write_table(tmp_path, data)
    config = config_with_table(default_config, path)
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.source == str(path)
    assert error.value.key == "add_pj_by_bits"


def test_unknown_energy_type_rejected(default_config):
    with pytest.raises(ConfigError) as error:
        load_config(default_config, ["energy.type=EnergyTabel"])
    assert error.value.source == f"{default_config} with --set energy.type"
    assert error.value.key == "energy.type"
    assert "EnergyTable" in str(error.value)


def test_unknown_table_name_lists_builtins(default_config):
    config = load_config(default_config, ["energy.table=spikex_33nm"])
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.key == "energy.table"
    assert "spikex_32nm" in str(error.value)


# An ERT in Accelergy's 0.3 layout, written for these tests: the numbers are chosen for hand
# computation and describe no real design.
ERT = {"ERT": {"version": 0.3, "tables": [
    {"name": "chip.offchip_dram", "actions": [
        {"name": "read", "arguments": None, "energy": 400.0},
        {"name": "write", "arguments": None, "energy": 480.0},
        {"name": "leak", "arguments": None, "energy": 0.5}]},
    {"name": "chip.global_buffer", "actions": [
        {"name": "read", "arguments": {"address_delta": 0, "data_delta": 0}, "energy": 1.0},
        {"name": "read", "arguments": {"address_delta": 1, "data_delta": 1}, "energy": 12.0},
        {"name": "write", "arguments": None, "energy": 16.0},
        {"name": "idle", "arguments": None, "energy": 0.25}]},
    {"name": "chip.local_buffer", "actions": [
        {"name": "read", "arguments": None, "energy": 2.0},
        {"name": "write", "arguments": None, "energy": 3.0},
        {"name": "leak", "arguments": None, "energy": 0.125}]},
    {"name": "chip.pe[0..7].column[0..7].adder", "actions": [
        {"name": "add", "arguments": None, "energy": 0.04},
        {"name": "leak", "arguments": None, "energy": 0.001}]},
    {"name": "chip.pe[0..7].column[0..7].weight_reg", "actions": [
        {"name": "access", "arguments": None, "energy": 0.05}]},
    {"name": "chip.pe[0..7].column[0..7].comparator", "actions": [
        {"name": "compare", "arguments": None, "energy": 0.01}]},
]}}

PE = "chip.pe[0..7].column[0..7]"


def ert_map() -> dict:
    return {
        "dram": {"component": "chip.offchip_dram", "width_bits": 64},
        "glb": {"component": "chip.global_buffer", "width_bits": 64, "actions": {
            "read": {"action": "read", "arguments": {"address_delta": 1, "data_delta": 1}}, "leakage": "idle"}},
        "lbuf": {"component": "chip.local_buffer", "width_bits": 64},
        "array": {"component": f"{PE}.adder", "actions": {
            "accumulate": "add", "membrane_update": "add",
            "weight_register": {"component": f"{PE}.weight_reg", "action": "access"},
            "compare": {"component": f"{PE}.comparator", "action": "compare"},
            "leakage": "leak"}},
    }


def ert_energy(tmp_path, mapping=None, ert=None, clock="1GHz") -> str:
    path = tmp_path / "ert.yaml"
    path.write_text(yaml.safe_dump(ERT if ert is None else ert), encoding="utf-8")
    node = {"type": "AccelergyERT", "path": str(path), "map": ert_map() if mapping is None else mapping}
    if clock is not None:
        node["clock"] = clock
    return "energy=" + json.dumps(node)


def test_ert_maps_actions_to_hand_values(tmp_path, default_config):
    config = load_config(default_config, [ert_energy(tmp_path)])
    table = config.energy.load(config.base_dir)
    units = table.unit_energies(config.system, membrane_bits=16, weight_bits=8)
    # DRAM: 400 and 480 pJ per 64-bit access, bursts of 64 bytes (512 bits).
    assert units["dram", "read_burst"] == 3200.0
    assert units["dram", "write_burst"] == 3840.0
    # SRAM: per 64-bit ERT access, billed per 8-bit word.
    assert units["glb", "read"] == 1.5
    assert units["glb", "write"] == 2.0
    assert units["lbuf", "read"] == 0.25
    assert units["lbuf", "write"] == 0.375
    assert units["array", "accumulate"] == 0.04
    assert units["array", "membrane_update"] == 0.04
    assert units["array", "weight_register"] == 0.05
    assert units["array", "compare"] == 0.01
    # Leakage: pJ per 1 GHz ERT cycle x instances is mW; per 500 MHz cycle it doubles.
    assert table.leakage_mw["dram"] == 0.5
    assert table.leakage_mw["glb"] == 0.25
    assert table.leakage_mw["lbuf"] == 0.125
    assert table.leakage_mw["array"] == pytest.approx(0.064, rel=1e-12)  # 64 adders
    assert units["dram", "leakage_cycle"] == 1.0
    assert units["glb", "leakage_cycle"] == 0.5


def test_ert_run_bills_ert_energies(tmp_path, default_config):
    result = simulate(load_config(default_config, [ert_energy(tmp_path)]), samples=1)
    energy = result.tables["energy"]
    per_action = energy.groupby(["component", "action"])["energy_per_action_pj"].first()
    assert per_action["dram", "read_burst"] == 3200.0
    assert per_action["array", "weight_register"] == 0.05
    assert energy["energy_pj"].sum() == pytest.approx(result.tables["summary"]["total_energy_pj"].iloc[0],
                                                      rel=1e-12)


def test_ert_instances_from_name():
    assert instances_in_name(f"{PE}.adder") == 64
    assert instances_in_name("top.mac[1..256]") == 256
    assert instances_in_name("chip.global_buffer") == 1


def test_ert_version_04_layout(tmp_path, default_config):
    # Accelergy 0.4 writes the version as a string and empty arguments as {}.
    tables = [{**table, "actions": [{**action, "arguments": action["arguments"] or {}}
                                    for action in table["actions"]]} for table in ERT["ERT"]["tables"]]
    ert = {"ERT": {"version": "0.4", "tables": tables}}
    config = load_config(default_config, [ert_energy(tmp_path, ert=ert)])
    units = config.energy.load(config.base_dir).unit_energies(config.system, membrane_bits=16, weight_bits=8)
    assert units["dram", "read_burst"] == 3200.0
    assert units["glb", "read"] == 1.5


def test_ert_unmapped_action_rejected(tmp_path, default_config):
    mapping = ert_map()
    del mapping["array"]["actions"]["compare"]
    with pytest.raises(ConfigError) as error:
        load_config(default_config, [ert_energy(tmp_path, mapping)])
    assert error.value.source == f"{default_config} with --set energy"
    assert error.value.key == "energy.map"
    assert "map.array.actions.compare is not mapped" in str(error.value)


def test_ert_missing_default_action_rejected(tmp_path, default_config):
    mapping = ert_map()
    del mapping["glb"]["actions"]["leakage"]  # the default 'leak' is not in chip.global_buffer
    config = load_config(default_config, [ert_energy(tmp_path, mapping)])
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.source == str(tmp_path / "ert.yaml")
    assert error.value.key == "energy.map.glb.actions.leakage"
    assert "idle" in str(error.value)


def test_ert_unknown_component_rejected(tmp_path, default_config):
    mapping = ert_map()
    mapping["lbuf"]["component"] = "chip.local_bufer"
    config = load_config(default_config, [ert_energy(tmp_path, mapping)])
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.source == str(tmp_path / "ert.yaml")
    assert error.value.key == "energy.map.lbuf.actions.read"
    assert "chip.local_buffer" in str(error.value)


def test_ert_ambiguous_arguments_rejected(tmp_path, default_config):
    mapping = ert_map()
    mapping["glb"]["actions"]["read"] = "read"
    config = load_config(default_config, [ert_energy(tmp_path, mapping)])
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.key == "energy.map.glb.actions.read"
    assert "arguments" in str(error.value)


def test_ert_zero_bills_nothing(tmp_path, default_config):
    mapping = ert_map()
    mapping["array"]["actions"]["compare"] = 0
    for component in LEAKAGE_COMPONENTS:
        mapping[component].setdefault("actions", {})["leakage"] = 0
    config = load_config(default_config, [ert_energy(tmp_path, mapping, clock=None)])
    table = config.energy.load(config.base_dir)
    assert table.array_pj["compare"] == 0.0
    assert set(table.leakage_mw.values()) == {0.0}


@pytest.mark.parametrize("edit, fragment", [
    (lambda mapping: mapping.pop("lbuf"), "map.lbuf is missing"),
    (lambda mapping: mapping["dram"].pop("width_bits"), "map.dram.width_bits is missing"),
    (lambda mapping: mapping["glb"]["actions"].update(reed="read"), "did you mean 'read'"),
    (lambda mapping: mapping.update(noc="chip.noc"), "unknown component 'noc'"),
])
def test_ert_bad_map_rejected(tmp_path, default_config, edit, fragment):
    mapping = ert_map()
    edit(mapping)
    with pytest.raises(ConfigError) as error:
        load_config(default_config, [ert_energy(tmp_path, mapping)])
    assert error.value.source == f"{default_config} with --set energy"
    assert error.value.key == "energy.map"
    assert fragment in str(error.value)


def test_ert_leakage_needs_clock(tmp_path, default_config):
    with pytest.raises(ConfigError) as error:
        load_config(default_config, [ert_energy(tmp_path, clock=None)])
    assert error.value.key == "energy"
    assert "clock is missing" in str(error.value)


def test_ert_unknown_version_rejected(tmp_path, default_config):
    ert = {"ERT": {**ERT["ERT"], "version": 0.9}}
    config = load_config(default_config, [ert_energy(tmp_path, ert=ert)])
    with pytest.raises(ConfigError) as error:
        config.energy.load(config.base_dir)
    assert error.value.source == str(tmp_path / "ert.yaml")
    assert error.value.key == "ERT.version"
