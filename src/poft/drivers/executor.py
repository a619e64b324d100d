"""Where a round's local training runs: in this process, or side by side in a pool.

A round's honest workers all train from the same global model, each on its own
data with its own RNG; nothing one does depends on another. An executor maps
"train worker `key` from `start` with its generator" to the worker's new flat
parameter vector, for many workers at once:

* `SerialExecutor`: one after the other, in this process (``parallel_workers = 1``).
* `ProcessExecutor`: a pool of processes that lives for the run, one torch
  thread each. What a worker trains with (its model architecture, data and
  settings: a `Trainer`) is shipped once, when the pool starts — inherited
  through ``fork`` where the parent runs torch on one thread, pickled otherwise
  — and per round only the start vector and each worker's generator state go
  out, and the new vector and generator state come back.

Both give the same vectors bit for bit: the child draws the batch order from
exactly the generator state the serial run would (the state travels with the
job and comes back, so the worker's generator in this process stays the one
source of truth, e.g. for a Byzantine worker's own noise), on one thread, with
the same operations. The ledger and the store (submit, put) stay in this
process; callers submit the results in their own order.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from dataclasses import dataclass
from typing import Hashable, Iterable, Iterator

import torch

from poft.protocol.worker import Trainer, train_vector

log = logging.getLogger(__name__)

__all__ = ["Trainer", "TrainJob", "SerialExecutor", "ProcessExecutor", "make_executor",
           "resolve_processes", "train_vector"]


@dataclass(frozen=True)
class TrainJob:
    key: Hashable                     # the worker's key among the executor's trainers
    start: torch.Tensor               # flat float32 vector training starts from
    generator: torch.Generator        # the worker's RNG; advanced as a serial run would


def resolve_processes(requested: int) -> int:
    """``parallel_workers`` as a process count: 0 means one per core."""
    return requested if requested > 0 else (os.cpu_count() or 1)


class SerialExecutor:
    """Every job in this process, in order."""

    processes = 1

    def __init__(self, trainers: dict[Hashable, Trainer]):
        self.trainers = trainers

    def imap(self, jobs: list[TrainJob]) -> Iterator[torch.Tensor]:
        for job in jobs:
            yield train_vector(self.trainers[job.key], job.start, job.generator)

    def train(self, jobs: list[TrainJob]) -> list[torch.Tensor]:
        return list(self.imap(jobs))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- the pool's side

_TRAINERS: dict[Hashable, Trainer] = {}


def _init_child(trainers: dict[Hashable, Trainer] | None) -> None:
    global _TRAINERS
    torch.set_num_threads(1)
    if trainers is not None:          # spawned: shipped pickled; forked: already inherited
        _TRAINERS = trainers


def _train_chunk(chunk: tuple[torch.Tensor, list[tuple[Hashable, torch.Tensor]]]
                 ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One start vector and several (key, generator state): (vector, state) for each."""
    start, items = chunk
    out = []
    for key, state in items:
        generator = torch.Generator()
        generator.set_state(state)
        vec = train_vector(_TRAINERS[key], start, generator)
        out.append((vec, generator.get_state()))
    return out


class ProcessExecutor:
    """A pool of `processes` processes, one torch thread each, for the whole run."""

    def __init__(self, trainers: dict[Hashable, Trainer], processes: int):
        global _TRAINERS
        self.trainers, self.processes = trainers, processes
        # fork shares the trainers (data, models) copy-on-write at no cost; it is safe
        # when this process runs torch on one thread (no OpenMP pool to inherit). With
        # more threads, spawn: a forked OpenMP pool can hang the child.
        forked = "fork" in multiprocessing.get_all_start_methods() and torch.get_num_threads() == 1
        context = multiprocessing.get_context("fork" if forked else "spawn")
        if forked:
            _TRAINERS = trainers
        self.pool = context.Pool(processes, initializer=_init_child,
                                 initargs=(None if forked else trainers,))
        if forked:
            _TRAINERS = {}            # this process needs no second reference
        log.info("training pool: %d processes (%s)", processes, context.get_start_method())

    def imap(self, jobs: list[TrainJob]) -> Iterator[torch.Tensor]:
        """The jobs' vectors in job order, each as soon as it and all before it are done;
        every job's generator is left where the serial run would leave it."""
        chunks = list(self._chunks(jobs))
        results = self.pool.imap(_train_chunk, [payload for payload, _ in chunks])
        for (_, chunk_jobs), done in zip(chunks, results):
            for job, (vec, state) in zip(chunk_jobs, done):
                job.generator.set_state(state)
                yield vec

    def train(self, jobs: list[TrainJob]) -> list[torch.Tensor]:
        return list(self.imap(jobs))

    def _chunks(self, jobs: list[TrainJob]) -> Iterable[tuple[tuple, list[TrainJob]]]:
        """Runs of consecutive jobs with the same start vector, each cut into pieces small
        enough that every process gets about four (the start vector travels once a piece)."""
        size = max(1, math.ceil(len(jobs) / (4 * self.processes)))
        run: list[TrainJob] = []
        for job in jobs:
            if run and (len(run) >= size or not _same(job.start, run[0].start)):
                yield (run[0].start, [(j.key, j.generator.get_state()) for j in run]), run
                run = []
            run.append(job)
        if run:
            yield (run[0].start, [(j.key, j.generator.get_state()) for j in run]), run

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if exc and exc[0] is not None:
            self.pool.terminate()
            self.pool.join()
        else:
            self.close()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a is b or torch.equal(a, b)


def make_executor(trainers: dict[Hashable, Trainer], parallel_workers: int):
    """A process pool when it has more than one process and job to run, else serial."""
    processes = min(resolve_processes(parallel_workers), len(trainers))
    if processes <= 1:
        return SerialExecutor(trainers)
    return ProcessExecutor(trainers, processes)
