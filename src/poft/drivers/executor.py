"""Where work runs: in this process, in a pool of processes, or on a Ray cluster.

One abstraction serves both kinds of parallel work poft has:

* a round's local training (`poft run --parallel N`, ``[experiment]
  parallel_workers``): the round's honest workers all train from the same global
  model, each on its own data with its own RNG, so nothing one does depends on
  another;
* the robustness grid's cells (`poft bench robustness --jobs N`): each cell is a
  whole `simulate` run.

An `Executor` maps a module-level function ``fn(shared, item)`` over items, in
the items' order (`map`) or as they finish (`map_unordered`). ``shared`` is
what every call needs and is shipped once, when the executor starts: for
training, every worker's model, data and settings (the `Trainer` s); for the
grid, nothing. Three executors implement it:

* `SerialExecutor`: each call in this process, in turn;
* `ProcessExecutor`: a pool of processes that lives for the executor, one torch
  thread each; ``shared`` is inherited through ``fork`` where this process runs
  torch on one thread, pickled to each child otherwise;
* `RayExecutor` (`poft.drivers.ray_executor`, Ray is optional): one actor per
  process on a Ray cluster (``cluster = "auto"``, ``"ray://host:port"``, or
  ``"local"`` for a Ray started here), each given ``shared`` once.

Training on any of them gives the same vectors bit for bit: per round only the
start vector and each worker's generator state go out, and the trained vector
and the advanced generator state come back (so the worker's generator in this
process stays the one source of truth, e.g. for a Byzantine worker's own
noise); the child draws the batch order from exactly the state the serial run
would, on one thread, with the same operations. The ledger and the store
(submit, put) stay in this process; callers submit the results in their own
order.
"""

from __future__ import annotations

from typing import Any, Hashable

from poft.drivers.pool import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    TrainJob,
    resolve_processes,
    train_chunk,
)
from poft.protocol.worker import Trainer, train_vector

__all__ = ["Executor", "Trainer", "TrainJob", "SerialExecutor", "ProcessExecutor",
           "make_executor", "open_executor", "resolve_processes", "train_chunk", "train_vector"]


def open_executor(shared: Any, processes: int, *, cluster: str | None = None,
                  fork: bool | None = None, at_most: int | None = None) -> Executor:
    """The executor for ``processes`` calls side by side (0: one per core here, or one
    per CPU of the cluster; never more than ``at_most``): on the Ray cluster at
    ``cluster`` when given, else a process pool when more than one process, else this
    process. ``fork``: see `ProcessExecutor`."""
    if cluster:
        from poft.drivers.ray_executor import RayExecutor
        return RayExecutor(shared, processes, cluster, at_most=at_most)
    processes = resolve_processes(processes)
    if at_most is not None:
        processes = min(processes, at_most)
    if processes <= 1:
        return SerialExecutor(shared)
    return ProcessExecutor(shared, processes, fork=fork)


def make_executor(trainers: dict[Hashable, Trainer], parallel_workers: int,
                  cluster: str | None = None) -> Executor:
    """Where a run's local training runs: ``parallel_workers`` processes (0: one per core,
    or per CPU of the cluster), at most one per worker."""
    return open_executor(trainers, parallel_workers, cluster=cluster, at_most=len(trainers))
