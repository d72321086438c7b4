import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def repo_root():
    return ROOT


@pytest.fixture
def default_config():
    return ROOT / "configs" / "spikex_nmnist.yaml"
