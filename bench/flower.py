"""poft vs Flower on the same workload: client-updates per second.

    python -m bench.flower [--quick] [--config bench/flower.toml] [--repeats N]

Needs the optional ``bench`` extra (``flwr[simulation]==1.41.0``, with Ray):
``make bench-setup``.

One config (``bench/flower.toml``) describes the workload; both sides are built
from it and run one after the other in this process:

* **poft**: ``poft.experiment.run.run_experiment`` on the config -- the full
  protocol on the embedded EVM: every worker submits its update on chain and
  to the blob store, the validators score every update, a miner aggregates,
  the validators recompute and attest, the round finalizes, the global model
  is tested. Timed end to end: data loading, contract deployment and
  registration, every round, and writing the run's outputs all count. Its
  workers train side by side in a process pool (``[experiment]
  parallel_workers``, one process per core by default, one torch thread each),
  as Flower's Ray actors do.
* **Flower**: a ``ServerApp`` running Flower's ``FedAvg`` strategy
  (``strategy.start`` with a centralized ``evaluate_fn`` on the same test
  set, no federated evaluation) and a ``ClientApp`` whose ``train`` handler
  trains with poft's ``local_train``, run by ``flwr.simulation.run_simulation``
  on the Ray backend, twice: with one CPU per client (as many actors as
  cores, training side by side: the baseline of the goal) and with Flower's
  default two CPUs per client (one actor on 2 cores: context).
  Each client holds exactly the data poft's population plan gives the worker
  of the same index (same subsample, same IID split, same seed), starts every
  round from the global model, and draws the same batch order as that poft
  worker; the genesis model is the same. The ``ClientApp`` loads its data
  once per Ray actor and caches it, as a Flower app would with
  ``flwr-datasets``.

The three runs repeat (3 times; once with ``--quick``) in alternating order,
poft first then last, and each speedup is the median of the repeats' ratios.
Client-updates per second = clients x rounds / seconds. Flower's start-up
(Ray initialisation, the actor pool, each actor loading its data) is measured
apart and left out of its rate: before ``strategy.start`` the ``ServerApp``
sends every client one ``query`` message that makes it load its data, and
the clock for the rounds starts when all have answered (after the initial
global evaluation). Flower's rate is thus its steady state, while poft's
includes all of its own set-up -- the comparison leans towards Flower.

The final accuracies of both sides are printed to show the work is the same
(poft aggregates by the plain mean, FedAvg by sample count; the shards are of
equal size). Wall-clock times: on a machine shared with other work both sides
are slowed, not necessarily alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

# Before torch loads OpenMP: sleeping (not spinning) idle threads. Flower sends
# usage telemetry to telemetry.flower.ai unless told not to (and waits for it at exit).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

import torch  # noqa: E402

import poft.experiment.run as run_module  # noqa: E402
from bench.figures import Figure, at_least, context, median_item, repeats_arg, table  # noqa: E402
from poft.config.experiment import ExperimentConfig, dump_config, load_config  # noqa: E402
from poft.config.population import plan_population  # noqa: E402
from poft.drivers.executor import resolve_processes  # noqa: E402
from poft.drivers.setup import initial_model, load_experiment_data, participant_seed  # noqa: E402
from poft.learning.training import evaluate, local_train  # noqa: E402

CONFIG = Path(__file__).resolve().with_name("flower.toml")
GOAL = 2.0
FLOWER_VERSION = "1.41.0"
SETUP_HINT = ("bench/flower.py needs Flower's simulation engine (flwr[simulation]=="
              f"{FLOWER_VERSION}, the optional 'bench' extra); install it with "
              "`make bench-setup`")


class FlowerMissing(RuntimeError):
    pass


def require_flower() -> str:
    """Flower's version; a clear error when flwr or Ray is not installed."""
    missing = [m for m in ("flwr", "ray") if importlib.util.find_spec(m) is None]
    if missing:
        raise FlowerMissing(f"{SETUP_HINT} ({' and '.join(missing)} not installed)")
    import flwr
    return flwr.__version__


# ---------------------------------------------------------------- the workload

def workload(path: str | Path = CONFIG, quick: bool = False) -> ExperimentConfig:
    """The config both sides run; ``quick`` shrinks it to a smoke test."""
    config = load_config(path)
    if not quick:
        return config
    return dataclasses.replace(
        config.with_overrides(rounds=2),
        data=dataclasses.replace(config.data, train_samples=1500, test_samples=500,
                                 validator_samples=100))


def shape(config: ExperimentConfig) -> dict:
    net = config.networks[0]
    return {"clients": net.workers, "rounds": config.experiment.rounds,
            "updates": net.workers * config.experiment.rounds}


# ---------------------------------------------------------------- poft

def run_poft(config: ExperimentConfig) -> dict:
    """The full protocol on the embedded EVM; the driver's set-up timed apart."""
    stamps: dict[str, float] = {}
    original = run_module.InProcessDriver

    class TimedDriver(original):    # data, genesis, contract deployment, registration
        def __init__(self, *args, **kwargs):
            start = time.perf_counter()
            super().__init__(*args, **kwargs)
            stamps["setup_s"] = time.perf_counter() - start

    run_module.InProcessDriver = TimedDriver
    try:
        with tempfile.TemporaryDirectory(prefix="poft-flower-bench-") as out:
            start = time.perf_counter()
            summary = run_module.run_experiment(config, Path(out), progress=False)
            wall_s = time.perf_counter() - start
            records = [json.loads(line) for line in
                       (Path(out) / "metrics.jsonl").read_text().splitlines()]
    finally:
        run_module.InProcessDriver = original
    net = config.networks[0].name
    result = summary["networks"][net]
    updates = sum(len(r["candidates"]) for r in records if r["finalized"])
    expected = shape(config)["updates"]
    if updates != expected or result["finalized_rounds"] != config.experiment.rounds:
        raise RuntimeError(f"poft finalized {result['finalized_rounds']} of "
                           f"{config.experiment.rounds} rounds with {updates} of {expected} "
                           "updates; the rate would not be comparable")
    return {"wall_s": wall_s, "setup_s": stamps.get("setup_s", float("nan")),
            "rounds_s": wall_s - stamps.get("setup_s", float("nan")),
            "updates": updates, "accuracy": result["final_accuracy"],
            "accuracy_by_round": result["accuracy_by_round"],
            "phases_s": summary["timing"]["phases_s"],
            "processes": min(resolve_processes(config.experiment.parallel_workers),
                             config.networks[0].workers)}


# ---------------------------------------------------------------- Flower: client side

_CACHE = "_poft_bench_flower_cache"


def client_workload(config: ExperimentConfig) -> dict:
    """This process's copy of the data, population plan and model (loaded once).

    Kept in a module object in ``sys.modules``: the ClientApp reaches a Ray
    actor by pickle (by value when this file runs as a script), so a global of
    this module would not outlive one message.
    """
    cache = sys.modules.get(_CACHE)
    if cache is None:
        cache = types.ModuleType(_CACHE)
        cache.entries = {}
        sys.modules[_CACHE] = cache
    key = dump_config(config)
    if key not in cache.entries:
        data = load_experiment_data(config)
        plan = plan_population(config, data.train.y.numpy())[0]
        cache.entries[key] = {
            "plan": plan,
            "shards": [data.train.subset(w.data_indices) for w in plan.workers],
            "model": initial_model(config, data.train),
        }
    return cache.entries[key]


def batch_order(config: ExperimentConfig, plan, index: int, round_id: int, size: int
                ) -> torch.Generator:
    """Worker ``index``'s generator at the start of ``round_id``: poft's worker seeds
    its generator once and draws one permutation per local epoch."""
    generator = torch.Generator().manual_seed(participant_seed(config, plan, plan.workers[index]))
    for _ in range((round_id - 1) * config.training.local_epochs):
        torch.randperm(size, generator=generator)
    return generator


def build_client_app(config: ExperimentConfig):
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.train()
    def train(msg: Message, context) -> Message:
        work = client_workload(config)
        index = int(context.node_config["partition-id"])
        shard, model = work["shards"][index], work["model"]
        model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
        settings, round_id = config.training, int(msg.content["config"]["server-round"])
        local_train(model, shard, epochs=settings.local_epochs, batch_size=settings.batch_size,
                    lr=float(msg.content["config"]["lr"]), momentum=settings.momentum,
                    weight_decay=settings.weight_decay,
                    generator=batch_order(config, work["plan"], index, round_id, len(shard)))
        content = RecordDict({"arrays": ArrayRecord(model.state_dict()),
                              "metrics": MetricRecord({"num-examples": len(shard)})})
        return Message(content=content, reply_to=msg)

    @app.query()
    def warm_up(msg: Message, context) -> Message:
        start = time.perf_counter()
        client_workload(config)
        metrics = MetricRecord({"torch-threads": torch.get_num_threads(), "pid": os.getpid(),
                                "load-s": time.perf_counter() - start})
        return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)

    return app


# ---------------------------------------------------------------- Flower: server side

def build_server_app(config: ExperimentConfig, out: dict):
    from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
    from flwr.serverapp import ServerApp
    from flwr.serverapp.strategy import FedAvg

    clients, rounds = shape(config)["clients"], config.experiment.rounds
    data = load_experiment_data(config)
    genesis = initial_model(config, data.train)
    tester = initial_model(config, data.train)

    class CheckedFedAvg(FedAvg):
        """FedAvg that counts the updates it aggregates and refuses failed clients."""

        def aggregate_train(self, server_round, replies):
            replies = list(replies)
            failed = [r.error.reason for r in replies if r.has_error()]
            if failed or len(replies) != clients:
                raise RuntimeError(f"round {server_round}: {len(replies)} of {clients} "
                                   f"replies, errors: {failed[:3]}")
            out["updates"] = out.get("updates", 0) + len(replies)
            return super().aggregate_train(server_round, replies)

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        tester.load_state_dict(arrays.to_torch_state_dict())
        loss, accuracy = evaluate(tester, data.test)
        out.setdefault("accuracy_by_round", []).append(accuracy)
        out.setdefault("stamps", []).append(time.perf_counter())   # after round r's test
        return MetricRecord({"accuracy": accuracy, "loss": loss})

    app = ServerApp()

    @app.main()
    def main(grid, context) -> None:
        while len(nodes := list(grid.get_node_ids())) < clients:
            time.sleep(0.05)
        # Start-up: every client (Ray actor) loads its data before round 1.
        queries = [Message(RecordDict(), dst_node_id=node, message_type=MessageType.QUERY,
                           group_id="warm-up") for node in nodes]
        replies = list(grid.send_and_receive(queries))
        failed = [r.error.reason for r in replies if r.has_error()]
        if failed:
            raise RuntimeError(f"Flower clients failed to start: {failed[:3]}")
        out["ready"] = time.perf_counter()
        out["actors"] = len({int(r.content["metrics"]["pid"]) for r in replies})
        out["actor_threads"] = int(replies[0].content["metrics"]["torch-threads"])
        out["load_s"] = max(float(r.content["metrics"]["load-s"]) for r in replies)
        strategy = CheckedFedAvg(fraction_train=1.0, fraction_evaluate=0.0,
                                 min_train_nodes=clients, min_available_nodes=clients)
        result = strategy.start(grid=grid, initial_arrays=ArrayRecord(genesis.state_dict()),
                                num_rounds=rounds,
                                train_config=ConfigRecord({"lr": config.training.lr}),
                                evaluate_fn=evaluate_fn)
        out["result"] = result

    return app


def run_flower(config: ExperimentConfig, client_cpus: float | None = None) -> dict:
    """Flower's FedAvg on Ray, start-up and rounds timed apart."""
    version = require_flower()
    from flwr.simulation import run_simulation

    # Flower logs every round at INFO; its warnings and errors still show.
    logging.getLogger("flwr").setLevel(logging.WARNING)
    out: dict = {}
    server_app = build_server_app(config, out)       # the server's test data: not timed
    client_app = build_client_app(config)
    backend_config = {"init_args": {"logging_level": "ERROR"}}
    if client_cpus:
        backend_config["client_resources"] = {"num_cpus": client_cpus, "num_gpus": 0.0}
    start = time.perf_counter()
    run_simulation(server_app=server_app, client_app=client_app,
                   num_supernodes=shape(config)["clients"], backend_config=backend_config)
    end = time.perf_counter()
    if "result" not in out:
        raise RuntimeError("the Flower simulation ended without a result (see its log above)")
    stamps = out["stamps"]          # after the initial test, then after each round's
    expected = shape(config)["updates"]
    if out.get("updates") != expected:
        raise RuntimeError(f"Flower aggregated {out.get('updates')} of {expected} updates")
    return {"version": version, "wall_s": end - start, "startup_s": out["ready"] - start,
            "load_s": out["load_s"], "rounds_s": stamps[-1] - stamps[0],
            "shutdown_s": end - stamps[-1],
            "updates": expected, "accuracy": out["accuracy_by_round"][-1],
            "accuracy_by_round": out["accuracy_by_round"][1:],
            "actors": out["actors"], "actor_threads": out["actor_threads"]}


# ---------------------------------------------------------------- figures

SIDES = ("poft", "flower", "flower_default")   # Flower: 1 CPU per client; Flower's default


def measure(config: ExperimentConfig, repeats: int = 3) -> dict:
    """`repeats` rounds of the three runs, in alternating order (poft first, then
    last): poft, Flower with one CPU per client (the issue's baseline: as many
    actors as cores, training side by side) and Flower with its default two."""
    require_flower()                 # fail before the long poft run, not after it
    runs = []
    for repeat in range(repeats):
        order = SIDES if repeat % 2 == 0 else SIDES[::-1]
        run = {}
        for side in order:
            if side == "poft":
                run[side] = run_poft(config)
            else:
                run[side] = run_flower(config, client_cpus=1 if side == "flower" else None)
            print(f"   repeat {repeat + 1}: {side:14} {run[side]['wall_s']:6.1f} s", flush=True)
        runs.append(run)
    return {"shape": shape(config), "runs": runs}


def speedup(run: dict, flower_side: str = "flower") -> float:
    """poft's client-updates/s (whole run, set-up included) over Flower's (rounds only)."""
    p, f = run["poft"], run[flower_side]
    return (p["updates"] / p["wall_s"]) / (f["updates"] / f["rounds_s"])


def median_run(r: dict) -> dict:
    """The repeat whose speedup is the median (the lower middle one for an even count)."""
    return median_item(r["runs"], speedup)


def to_figures(r: dict) -> list[Figure]:
    s, runs = r["shape"], r["runs"]
    mid = median_run(r)
    p, f = mid["poft"], mid["flower"]
    work = f"{s['clients']} clients x {s['rounds']} rounds"
    repeats = f"median of {len(runs)} alternating repeat(s)"
    out = [
        at_least("flower_speedup", speedup(mid), GOAL, "x",
                 f"client-updates/s, {work}: poft with the ledger (set-up included) vs "
                 f"Flower {f['version']} FedAvg on Ray, 1 CPU per client (start-up "
                 f"excluded); {repeats}"),
        context("flower_poft_rate", p["updates"] / p["wall_s"], "updates/s",
                f"poft run, embedded EVM, whole run {p['wall_s']:.1f} s incl. set-up"
                + "".join(f"; {phase} {seconds:.1f} s" for phase, seconds in
                          sorted(p.get("phases_s", {}).items(), key=lambda kv: -kv[1])
                          if seconds >= 0.05)),
        context("flower_flwr_rate", f["updates"] / f["rounds_s"], "updates/s",
                f"Flower rounds only, {f['rounds_s']:.1f} s ({f['actors']} Ray actor(s))"),
        context("flower_flwr_startup_s", f["startup_s"], "s",
                f"Flower start-up: ray.init, actor pool, clients load data "
                f"({f['load_s']:.1f} s)"),
        context("flower_poft_setup_s", p["setup_s"], "s",
                "poft set-up: data, deploy contracts, register (in its rate)"),
        context("flower_speedup_rounds_only", f["rounds_s"] / p["rounds_s"], "x",
                f"both without set-up/start-up: poft {p['rounds_s']:.1f} s vs Flower "
                f"{f['rounds_s']:.1f} s"),
        context("flower_speedup_end_to_end", f["wall_s"] / p["wall_s"], "x",
                f"whole runs: poft {p['wall_s']:.1f} s vs Flower {f['wall_s']:.1f} s"),
    ]
    if all("flower_default" in run for run in runs):
        default = mid["flower_default"]
        out.append(context(
            "flower_speedup_vs_default_clients",
            statistics.median(speedup(run, "flower_default") for run in runs), "x",
            f"the same against Flower's default 2 CPUs per client ({default['actors']} "
            f"actor(s), rounds {default['rounds_s']:.1f} s); {repeats}"))
    out += [context("flower_poft_accuracy", 100 * p["accuracy"], "%", "poft final test accuracy"),
            context("flower_flwr_accuracy", 100 * f["accuracy"], "%",
                    "Flower final test accuracy (same test set)")]
    return out


def figures(quick: bool = False) -> list[Figure]:
    """The comparison on bench/flower.toml (``quick``: a smoke-test size, one repeat)."""
    return to_figures(measure(workload(CONFIG, quick), repeats=1 if quick else 3))


def report(r: dict) -> str:
    """The median repeat's times, then every figure."""
    s, mid = r["shape"], median_run(r)
    p, f = mid["poft"], mid["flower"]
    rate = lambda side, seconds: side["updates"] / seconds  # noqa: E731
    lines = [
        f"workload: {s['clients']} clients x {s['rounds']} rounds = {s['updates']} "
        f"client-updates (bench/flower.toml)",
        "",
        f"{'':32} {'seconds':>8} {'updates/s':>10}",
        f"{'poft, whole run (ledger on)':32} {p['wall_s']:8.1f} {rate(p, p['wall_s']):10.2f}",
        f"{'  of which set-up':32} {p['setup_s']:8.1f}",
        f"{'  rounds and outputs':32} {p['rounds_s']:8.1f} {rate(p, p['rounds_s']):10.2f}",
        f"{'Flower ' + f['version'] + ', whole run':32} {f['wall_s']:8.1f} "
        f"{rate(f, f['wall_s']):10.2f}",
        f"{'  of which start-up':32} {f['startup_s']:8.1f}",
        f"{'    (clients loading data)':32} {f['load_s']:8.1f}",
        f"{'  rounds':32} {f['rounds_s']:8.1f} {rate(f, f['rounds_s']):10.2f}",
        f"{'  shutdown':32} {f['shutdown_s']:8.1f}",
        f"(the median of {len(r['runs'])} repeat(s); Flower with 1 CPU per client)",
        "",
        f"Flower ran {f['actors']} Ray actor(s), {f['actor_threads']} torch thread(s) each; "
        f"poft {torch.get_num_threads()} torch thread(s) and a training pool of "
        f"{p['processes']} process(es) (one thread each).",
        "poft's rounds by phase: " + ", ".join(
            f"{phase} {seconds:.1f} s" for phase, seconds in
            sorted(p["phases_s"].items(), key=lambda kv: -kv[1])),
        "accuracy by round  poft:   " + " ".join(f"{a:.4f}" for a in p["accuracy_by_round"]),
        "                   Flower: " + " ".join(f"{a:.4f}" for a in f["accuracy_by_round"]),
        "",
        table(to_figures(r)),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test size")
    parser.add_argument("--config", default=str(CONFIG), help="the workload (poft TOML)")
    parser.add_argument("--repeats", type=repeats_arg, default=None,
                        help="alternating repeats of the three runs (3; 1 with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    try:
        r = measure(workload(args.config, args.quick), repeats)
    except FlowerMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    print(report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
