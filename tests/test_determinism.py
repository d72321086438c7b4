"""The same config and seed give byte-identical Parquet tables, whatever the order of its keys."""

import random

import yaml

from spikex_sim.cli import main

TABLES = ("summary", "layers", "samples", "utilization", "memory", "energy")


def shuffled(node, rng: random.Random):
    """Return a copy of a YAML tree with the keys of every mapping in a random order."""
    if isinstance(node, dict):
        keys = list(node)
        rng.shuffle(keys)
        return {key: shuffled(node[key], rng) for key in keys}
    if isinstance(node, list):
        return [shuffled(item, rng) for item in node]
    return node


def test_shuffled_key_order_gives_identical_parquet(tmp_path, repo_root, capsys):
    config = yaml.safe_load((repo_root / "configs" / "spikex_nmnist.yaml").read_text())
    config["workload"]["model"]["path"] = str(repo_root / "configs" / "models" / "nmnist_snn.yaml")
    config["workload"]["dataset"]["path"] = str(repo_root / "data" / "nmnist" / "test")
    config["workload"]["dataset"]["labels"] = str(repo_root / "data" / "nmnist" / "test100.txt")
    variants = {"declared": config, "shuffled": shuffled(config, random.Random(7))}
    assert list(variants["shuffled"]) != list(config)
    assert list(variants["shuffled"]["system"]) != list(config["system"])
    for name, variant in variants.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(variant, sort_keys=False))
        code = main(["run", str(path), "--samples", "2", "--seed", "3", "--quiet", "--out", str(tmp_path / name)])
        assert code == 0, capsys.readouterr().err
    for table in TABLES:
        first = (tmp_path / "declared" / f"{table}.parquet").read_bytes()
        second = (tmp_path / "shuffled" / f"{table}.parquet").read_bytes()
        assert first == second, table
    first_config = (tmp_path / "declared" / "resolved_config.yaml").read_text()
    assert first_config == (tmp_path / "shuffled" / "resolved_config.yaml").read_text()
