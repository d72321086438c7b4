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


class CheckedResource(simpy.Resource):
    """A SimPy resource that raises at once on a release SimPy would accept silently.

    `simpy.Resource.release` ignores a request that holds no slot, so a double release or a
    release of someone else's request would go unnoticed and let two holders overlap. Here
    each of those raises `SimulationError` naming the resource and the processes involved.
    A request cancelled before it was granted may still be released, as a `with` block does
    when its process is interrupted while waiting.
    """

    def __init__(self, env: simpy.Environment, name: str, capacity: int = 1):
        super().__init__(env, capacity)
        self.name = name

    def release(self, request):
        if getattr(request, "resource", None) is not self:
            raise SimulationError(f"{self.name}: released a request that belongs to another resource")
        if getattr(request, "_checked_released", False):
            raise SimulationError(f"{self.name}: a request of process {_process_name(request.proc)} was released twice")
        active = self._env.active_process
        if request.proc is not None and active is not request.proc:
            raise SimulationError(f"{self.name}: process {_process_name(active)} released a slot that process "
                                  f"{_process_name(request.proc)} acquired")
        if request not in self.users:
            if request in self.put_queue:
                raise SimulationError(f"{self.name}: process {_process_name(request.proc)} released a request "
                                      "that was never granted")
            if request.triggered:
                raise SimulationError(f"{self.name}: released a granted request that no longer owns a slot")
        request._checked_released = True
        return simpy.resources.resource.Release(self, request)

    def check_idle(self) -> None:
        """Raise `SimulationError` if any slot is still held or any request still waits."""
        if self.users or self.put_queue:
            holders = ", ".join(_process_name(request.proc) for request in self.users) or "none"
            raise SimulationError(f"{self.name}: at the end of the run {len(self.users)} slots are still held "
                                  f"(by {holders}) and {len(self.put_queue)} requests still wait")


def _process_name(process) -> str:
    return getattr(process, "name", None) or "outside any process"


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


RESOURCE_ORDER = ("dram", "glb", "lbuf")  # every process acquires levels in this order, so none deadlock


def _hold_levels(env, resources: dict, cycles_by_level: dict, index: int):
    """Acquire every level busy in step `index`, in RESOURCE_ORDER, for the longest level's time."""
    busy = [level for level in RESOURCE_ORDER if level in resources and cycles_by_level[level][index] > 0]
    if not busy:
        return
    requests = []
    try:
        for level in busy:
            request = resources[level].request()
            requests.append((level, request))
            yield request
        yield env.timeout(max(cycles_by_level[level][index] for level in busy))
    finally:
        for level, request in reversed(requests):
            resources[level].release(request)


def run_steps_concurrent(kernel: Kernel, name: str, resources: dict, compute: np.ndarray, read_cycles: dict,
                         write_cycles: dict):
    """Process generator: like `run_steps`, but write-backs run in a process of their own.

    The loads of step i+1 start with the compute of step i, as in `run_steps`. The
    write-backs of step i start when its compute ends and compete with the loads for the
    DRAM channels and the buffers' ports (SimPy resources), so contention shows as extra
    latency beyond `analytic_latency`. The layer ends when its last write-back is done.
    """
    env = kernel.env
    count = len(compute)
    if count == 0:
        return
    compute_list = compute.tolist()
    reads = {level: cycles.tolist() for level, cycles in read_cycles.items()}
    writes = {level: cycles.tolist() for level, cycles in write_cycles.items()}
    go = [env.event() for _ in range(count)]
    done = [env.event() for _ in range(count)]
    produced = [env.event() for _ in range(count)]

    def loader():
        for index in range(count):
            yield go[index]
            yield from _hold_levels(env, resources, reads, index)
            done[index].succeed()

    def writer():
        for index in range(count):
            yield produced[index]
            yield from _hold_levels(env, resources, writes, index)

    kernel.process(f"{name}.loader", loader())
    write_process = kernel.process(f"{name}.writer", writer())
    go[0].succeed()
    for index in range(count):
        yield done[index]
        if index + 1 < count:
            go[index + 1].succeed()
        if compute_list[index] > 0:
            yield env.timeout(compute_list[index])
        produced[index].succeed()
    yield write_process


def fill_cycles(compute: np.ndarray, memory: np.ndarray) -> int:
    """Return the memory time no compute can hide: the first load and the phases of empty steps.

    In `analytic_latency`, `m[0]` and `m[i+1]` for every step with `c[i] = 0` (the drain
    steps that carry the last write-backs) are pipeline fill and drain. The rest of the
    latency beyond the compute is stall: the sum of `max(0, m[i+1] - c[i])` over steps that
    compute.
    """
    if len(compute) == 0:
        return 0
    compute = np.asarray(compute, dtype=np.int64)
    next_memory = np.append(np.asarray(memory[1:], dtype=np.int64), 0)
    return int(memory[0] + next_memory[compute == 0].sum())
