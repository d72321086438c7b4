import pytest

from spikex_sim.errors import ConfigError
from spikex_sim.paths import project_root, resolve_reference


def test_relative_path_inside_project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "configs").mkdir()
    resolved = resolve_reference(tmp_path / "configs", "../data/x.bs2", "workload.dataset.path")
    assert resolved == tmp_path / "data" / "x.bs2"


def test_relative_path_leaving_project_is_rejected(tmp_path):
    project = tmp_path / "project"
    (project / "configs").mkdir(parents=True)
    (project / ".git").mkdir()
    with pytest.raises(ConfigError, match="leaves the project folder"):
        resolve_reference(project / "configs", "../../secret.txt", "workload.model.path")


def test_without_project_the_config_folder_bounds(tmp_path):
    # pytest's temporary folders lie outside any project.
    folder = tmp_path / "loose"
    folder.mkdir()
    assert project_root(folder) == folder
    with pytest.raises(ConfigError, match="give an absolute path"):
        resolve_reference(folder, "../other.yaml", "energy.table")


def test_absolute_path_is_read_on_purpose(tmp_path):
    target = tmp_path / "elsewhere.npz"
    assert resolve_reference(tmp_path / "a" / "b", str(target), "weights") == target
