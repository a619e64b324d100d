"""The executors that run in this machine's processes, and the `Executor` they share
with `poft.drivers.ray_executor` (see `poft.drivers.executor` for the design)."""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import os
import pickle
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator

import torch

from poft.protocol.worker import Trainer, train_vector

log = logging.getLogger(__name__)

__all__ = ["Executor", "TrainJob", "SerialExecutor", "ProcessExecutor", "resolve_processes",
           "train_chunk"]


@dataclass(frozen=True)
class TrainJob:
    key: Hashable                     # the worker's key among the executor's trainers
    start: torch.Tensor               # flat float32 vector training starts from
    generator: torch.Generator        # the worker's RNG; advanced as a serial run would


def resolve_processes(requested: int) -> int:
    """``parallel_workers`` as a process count: 0 means one per core."""
    return requested if requested > 0 else (os.cpu_count() or 1)


class Executor:
    """Runs ``fn(shared, item)`` for many items; ``shared`` was given once, at the start.

    Subclasses implement `map` (results in the items' order, each as soon as it and
    all before it are done), `map_unordered` (results as they finish) and `close`.
    ``fn`` must be a module-level function (it is pickled by name to other processes).
    """

    processes = 1
    remote = False     # True when calls run outside this process

    def map(self, fn: Callable[[Any, Any], Any], items: Iterable) -> Iterator:
        raise NotImplementedError

    def map_unordered(self, fn: Callable[[Any, Any], Any], items: Iterable) -> Iterator:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop at once (after an error): by default, the same as `close`."""
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if exc and exc[0] is not None:
            self.abort()
        else:
            self.close()

    # -- local training on any executor (``shared`` is {key: Trainer})

    def imap(self, jobs: list[TrainJob]) -> Iterator[torch.Tensor]:
        """The jobs' trained vectors in job order, each as soon as it and all before it
        are done; every job's generator is left where the serial run would leave it."""
        chunks = list(_chunks(jobs, self.processes))
        results = self.map(train_chunk, [payload for payload, _ in chunks])
        for (_, chunk_jobs), done in zip(chunks, results):
            for job, (vec, state) in zip(chunk_jobs, done):
                job.generator.set_state(state)
                yield vec

    def train(self, jobs: list[TrainJob]) -> list[torch.Tensor]:
        return list(self.imap(jobs))


def train_chunk(trainers: dict[Hashable, Trainer],
                chunk: tuple[torch.Tensor, list[tuple[Hashable, torch.Tensor]]]
                ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One start vector and several (key, generator state): (vector, state) for each."""
    start, items = chunk
    out = []
    for key, state in items:
        generator = torch.Generator()
        generator.set_state(state)
        vec = train_vector(trainers[key], start, generator)
        out.append((vec, generator.get_state()))
    return out


def _chunks(jobs: list[TrainJob], processes: int) -> Iterable[tuple[tuple, list[TrainJob]]]:
    """Runs of consecutive jobs with the same start vector, each cut into pieces small
    enough that every process gets about four (the start vector travels once a piece)."""
    size = max(1, math.ceil(len(jobs) / (4 * processes)))
    run: list[TrainJob] = []
    for job in jobs:
        if run and (len(run) >= size or not _same(job.start, run[0].start)):
            yield (run[0].start, [(j.key, j.generator.get_state()) for j in run]), run
            run = []
        run.append(job)
    if run:
        yield (run[0].start, [(j.key, j.generator.get_state()) for j in run]), run


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a is b or torch.equal(a, b)


class SerialExecutor(Executor):
    """Every call in this process, in order."""

    def __init__(self, shared: Any = None):
        self.shared = shared

    def map(self, fn, items):
        for item in items:
            yield fn(self.shared, item)

    map_unordered = map


# ---------------------------------------------------------------- the pool's side

_SHARED: Any = None


def _init_child(shared: bytes | None, inherited: bool) -> None:
    global _SHARED
    torch.set_num_threads(1)
    if not inherited:                 # spawned: shipped pickled; forked: already there
        _SHARED = pickle.loads(shared)


def _call(fn: Callable[[Any, Any], Any], item: bytes) -> bytes:
    return pickle.dumps(fn(_SHARED, pickle.loads(item)))


class ProcessExecutor(Executor):
    """A pool of `processes` processes, one torch thread each, for the executor's life."""

    remote = True

    def __init__(self, shared: Any, processes: int, *, fork: bool | None = None):
        """``fork=None``: fork where this process runs torch on one thread (the children
        then share ``shared`` copy-on-write at no cost), else spawn (a forked OpenMP
        pool can hang the child)."""
        global _SHARED
        self.processes = processes
        if fork is None:
            fork = torch.get_num_threads() == 1
        fork = fork and "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if fork else "spawn")
        if fork:
            _SHARED = shared
        # Spawned children get `shared` as plain pickled bytes: handed to the pool as
        # objects, its tensors would go through torch's shared-memory reducer, and every
        # child would then train the *same* parameter storage at once.
        self.pool = context.Pool(processes, initializer=_init_child,
                                 initargs=(None if fork else pickle.dumps(shared), fork))
        if fork:
            _SHARED = None            # this process needs no second reference
        log.info("process pool: %d processes (%s)", processes, context.get_start_method())

    # Items and results cross as plain pickled bytes, as `shared` does when spawned:
    # handed to the pool as objects, their tensors would go through torch's reducer as
    # shared-memory file descriptors, served by a thread of this process that prints a
    # traceback when a child dies mid-transfer (Ctrl-C during a round).
    def map(self, fn, items):
        return map(pickle.loads, self.pool.imap(functools.partial(_call, fn),
                                                map(pickle.dumps, items)))

    def map_unordered(self, fn, items):
        return map(pickle.loads, self.pool.imap_unordered(functools.partial(_call, fn),
                                                          map(pickle.dumps, items)))

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def abort(self) -> None:
        self.pool.terminate()
        self.pool.join()
