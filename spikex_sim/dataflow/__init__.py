"""Dataflows: how an array turns a layer's input spikes into passes, steps and data movement."""
