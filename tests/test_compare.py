import pandas as pd
import pytest

from spikex_sim.compare import compare_runs
from spikex_sim.errors import ConfigError


def write_run(folder, name, latency, energy, dram):
    folder.mkdir()
    (folder / "manifest.json").write_text(f'{{"config_name": "{name}"}}')
    (folder / "resolved_config.yaml").write_text("name: x\n")
    pd.DataFrame([{"latency_cycles": float(sum(latency)), "energy_pj": float(sum(energy)), "clock_hz": 1_000_000_000,
                   "edp_js": sum(energy) * 1e-12 * sum(latency) / 1e9}]).to_parquet(folder / "summary.parquet")
    rows = [{"sample": 0, "layer_index": i, "layer": f"l{i}", "latency_cycles": latency[i], "energy_pj": energy[i],
             "dram_bytes": dram[i], "glb_bytes": 1, "lbuf_bytes": 1} for i in range(2)]
    pd.DataFrame(rows).to_parquet(folder / "layers.parquet")
    return folder


def test_ratios_against_first_run(tmp_path):
    base = write_run(tmp_path / "a", "ptb", [100, 300], [50, 50], [64, 0])
    better = write_run(tmp_path / "b", "spikex", [50, 100], [25, 50], [32, 0])
    frame = compare_runs([base, better]).set_index(["config_name", "layer"])
    assert frame.loc[("spikex", "l0"), "latency_cycles_ratio"] == 2.0
    assert frame.loc[("spikex", "l1"), "latency_cycles_ratio"] == 3.0
    assert frame.loc[("spikex", "total"), "latency_cycles_ratio"] == 400 / 150
    assert frame.loc[("spikex", "total"), "energy_pj_ratio"] == 100 / 75
    assert frame.loc[("spikex", "total"), "edp_js_ratio"] == pytest.approx((400 / 150) * (100 / 75))
    assert frame.loc[("spikex", "l0"), "dram_bytes_ratio"] == 2.0
    assert pd.isna(frame.loc[("spikex", "l1"), "dram_bytes_ratio"])


def test_compare_needs_two_runs(tmp_path):
    with pytest.raises(ConfigError, match="at least two"):
        compare_runs([write_run(tmp_path / "a", "x", [1, 1], [1, 1], [1, 1])])
