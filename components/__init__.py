"""Built-in component implementations: DRAM, SRAM buffers, PE arrays and spike encoders."""
