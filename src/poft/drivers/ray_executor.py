"""`RayExecutor`: the `Executor` of `poft.drivers.executor` on a Ray cluster.

Ray is optional (``pip install 'poft[cluster]'``, `make cluster-setup`); it is
imported only when a Ray executor starts. ``cluster`` is where Ray runs:

* ``"auto"``: the cluster this machine belongs to (`ray start --head` here, or
  `ray start --address HEAD:6379` on this node), or the Ray already initialized
  in this process;
* ``"ray://host:port"``: a remote cluster through Ray Client (port 10001 by default);
* ``"host:port"``: a cluster's GCS address, from one of its nodes;
* ``"local"``: a Ray started here for this executor, one CPU per core (tests, benchmarks).

The executor starts one actor per process (one CPU each, one torch thread), each
given ``shared`` once through Ray's object store, and runs calls on them through
`ray.util.ActorPool`: `map` yields in the items' order, `map_unordered` as calls
finish. Every node needs the same poft (and torch) installed, and the data at the
same place (``POFT_DATA_DIR`` or ``[data] data_dir``): a call loads what it needs
on the node it runs on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from poft.drivers.pool import Executor
from poft.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["RayExecutor", "import_ray", "ray_address"]


def import_ray():
    """The ``ray`` module, or an `InputError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("a Ray cluster needs Ray: pip install 'poft[cluster]' "
                         "(or `make cluster-setup`)") from None
    return ray


def ray_address(cluster: str) -> str | None:
    """``cluster`` as `ray.init`'s address (None: start a local Ray)."""
    return None if cluster == "local" else cluster


class _Host:
    """One Ray actor: holds ``shared`` and runs calls on it, on one torch thread."""

    def __init__(self, shared: Any):
        torch.set_num_threads(1)
        self.shared = shared

    def call(self, fn, item):
        return fn(self.shared, item)


class RayExecutor(Executor):
    """One actor per process on the Ray cluster at ``cluster`` (``processes`` = 0: one
    per CPU of the cluster), at most ``at_most``."""

    remote = True

    def __init__(self, shared: Any, processes: int, cluster: str, *,
                 at_most: int | None = None):
        ray = import_ray()
        from ray.util import ActorPool

        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(**_init_args(cluster))
        if processes <= 0:
            processes = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if at_most is not None:
            processes = max(1, min(processes, at_most))
        self.processes = processes
        host = ray.remote(num_cpus=1)(_Host)
        ref = ray.put(shared)
        self.actors = [host.remote(ref) for _ in range(processes)]
        self.pool = ActorPool(self.actors)
        log.info("ray: %d actors on %s", processes, cluster)

    def map(self, fn, items):
        return self.pool.map(lambda actor, item: actor.call.remote(fn, item), items)

    def map_unordered(self, fn, items):
        return self.pool.map_unordered(lambda actor, item: actor.call.remote(fn, item), items)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self.started:
            self.ray.shutdown()


def _init_args(cluster: str) -> dict:
    address = ray_address(cluster)
    args: dict[str, Any] = {"address": address, "logging_level": logging.WARNING,
                            "log_to_driver": False}
    if address is None:
        # A Ray started here: its workers import the same poft as this process (a
        # source checkout on PYTHONPATH included), and idle threads sleep.
        source = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        args.update(num_cpus=os.cpu_count() or 1, include_dashboard=False,
                    runtime_env={"env_vars": {"PYTHONPATH": path,
                                              "OMP_WAIT_POLICY": "PASSIVE"}})
    return args
