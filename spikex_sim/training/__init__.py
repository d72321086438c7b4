"""Training of SNNs whose trained weights the simulator runs (needs the `train` extra)."""
