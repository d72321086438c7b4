"""Built-in component implementations: DRAM, SRAM buffers, PE arrays, encoders and inputs.

Importing this package registers every built-in type, so a YAML `type:` can name it.
"""

from spikex_sim.components import accelergy_ert, datasets, dram, encoders, models, spikex_array, sram  # noqa: F401
