"""spikex_sim: a discrete-event simulator of accelerators for sparse spiking neural networks."""

__version__ = "0.1.0"
