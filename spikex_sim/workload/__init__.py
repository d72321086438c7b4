"""Workloads: spiking models, their trained parameters and the inputs they run on."""
