"""The discrete-event kernel: SimPy with integer time in cycles of one named clock.

Events are coarse: one per double-buffered step of the array and one per memory phase,
never one per spike or add. Each step's memory phase (loading step i+1) starts when the
array starts computing step i, so with no contention a layer takes exactly

    m[0] + sum_i max(c[i], m[i+1])     (m: memory cycles, c: compute cycles, m[S] = 0)

which `analytic_latency` computes; contention for the DRAM channel only adds to it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import simpy

from spikex_sim.errors import SimulationError


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    def __init__(self):
        super().__init__()
        self.events_processed = 0

    def step(self):
        self.events_processed += 1
        super().step()


class Kernel:
    """A SimPy environment, its clock, and the named processes that must all finish."""

    def __init__(self, clock_name: str, clock_hz: Fraction):
        self.clock_name = clock_name
        self.clock_hz = Fraction(clock_hz)
        self.env = CountingEnvironment()
        self._processes: list[tuple[str, simpy.Process]] = []

    def process(self, name: str, generator) -> simpy.Process:
        """Start a named process; the name appears in the deadlock report."""
        process = self.env.process(generator)
        self._processes.append((name, process))
        return process

    def run(self) -> None:
        """Run until no event is left; raise if any process is still waiting then."""
        self.env.run()
        waiting = [name for name, process in self._processes if process.is_alive]
        if waiting:
            raise SimulationError(
                f"simulation stopped at cycle {self.env.now} with processes still waiting: {', '.join(waiting)}; "
                "the model deadlocked, so no latency is reported"
            )
        for name, process in self._processes:
            if not process.ok:
                raise SimulationError(f"process {name} failed: {process.value!r}")

    def seconds(self, cycles: int) -> Fraction:
        """Convert cycles of this kernel's clock to seconds, exactly."""
        return Fraction(cycles) / self.clock_hz


def run_steps(kernel: Kernel, name: str, dram: simpy.Resource, compute: np.ndarray, memory: np.ndarray):
    """Process generator: execute one layer's steps with double buffering (lockstep loads)."""
    env = kernel.env
    count = len(compute)
    if count == 0:
        return
    compute_list = compute.tolist()
    memory_list = memory.tolist()
    go = [env.event() for _ in range(count)]
    done = [env.event() for _ in range(count)]

    def loader():
        for index in range(count):
            yield go[index]
            cycles = memory_list[index]
            if cycles > 0:
                with dram.request() as request:
                    yield request
                    yield env.timeout(cycles)
            done[index].succeed()

    kernel.process(f"{name}.loader", loader())
    go[0].succeed()
    for index in range(count):
        yield done[index]
        if index + 1 < count:
            go[index + 1].succeed()
        if compute_list[index] > 0:
            yield env.timeout(compute_list[index])


def analytic_latency(compute: np.ndarray, memory: np.ndarray) -> int:
    """Return m[0] + sum_i max(c[i], m[i+1]): the no-contention latency of `run_steps`."""
    if len(compute) == 0:
        return 0
    next_memory = np.append(np.asarray(memory[1:], dtype=np.int64), 0)
    return int(memory[0] + np.maximum(np.asarray(compute, dtype=np.int64), next_memory).sum())
