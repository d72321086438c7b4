"""spikex_sim: a discrete-event simulator of accelerators for sparse spiking neural networks."""

__version__ = "0.1.0"

from spikex_sim.compare import compare_runs  # noqa: E402
from spikex_sim.traces import Run, load_run  # noqa: E402

__all__ = ["Run", "compare_runs", "load_run", "__version__"]
