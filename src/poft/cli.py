"""The `poft` command line.

    poft run CONFIG.toml [--out DIR] [--seed N] [--rounds N]
    poft verify MODEL --deployment FILE [--recompute]
    poft bench robustness CONFIG --out DIR     poft bench convex CONFIG --out DIR
    poft run CONFIG.toml --backend anvil       (node mode: chains, store, one process each;
                                               --backend hardhat: on hardhat nodes)
    poft chain up|down|restart ...             poft node ...     poft store serve DIR

Each subcommand's `--help` explains its arguments. Errors in configs and inputs
print one clear line (what was wrong and how to fix it) and exit with status 2;
Ctrl-C exits with 130; a model that fails verification exits with status 1, and
so does a bug in poft (one line; the traceback with `-v`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from poft import __version__, interrupts
from poft.errors import InputError
from poft.outputs.folder import output_path

# Idle OpenMP threads must sleep, not spin: spinning made training up to 20x slower on
# a busy 2-core machine. Set before torch is first imported (the commands import it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EXAMPLES = """examples:
  poft run examples/quickstart.toml                 # one network, 10 workers, Byzantine attack
  poft run examples/quickstart.toml --seed 3 --rounds 5 --out runs/q3
  poft verify runs/quickstart/models/alpha/round-8.safetensors \\
       --deployment runs/quickstart/deployment.json --recompute
  poft bench robustness examples/robustness-small.toml --out runs/robustness-small
  poft bench convex examples/convex.toml --out runs/convex
  poft run examples/two-networks.toml --backend anvil --out runs/two-anvil
  poft run examples/quickstart.toml --backend hardhat --out runs/q-hardhat
  poft chain up --config examples/two-networks.toml --out run/deployment.json --keystores
  poft node --deployment run/deployment.json --network alpha \\
       --key run/keys/alpha/staker-0.json --roles validator,miner,relayer
  poft store serve run/blobs --port 8640
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poft",
        description="Accountable, Byzantine-robust federated learning across blockchain "
                    "networks (PoFT + SABFL).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log protocol events; on a bug, print the traceback")
    parser.add_argument("--version", action="version", version=f"poft {__version__}",
                        help="print poft's version and exit")
    # Not required: a bare `poft` (or `poft bench`, `poft chain`) prints its help.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run one experiment from a TOML config",
                         description="Run every round of every network in CONFIG and write "
                                     "config.toml, metrics.jsonl, summary.json, report.html, "
                                     "models/ and deployment.json into --out.")
    run.add_argument("config", help="experiment config (TOML), e.g. examples/quickstart.toml")
    run.add_argument("--out", type=output_path,
                     help="output folder (default: runs/<experiment name>)")
    run.add_argument("--seed", type=int, help="override [experiment].seed")
    run.add_argument("--rounds", type=int, help="override [experiment].rounds")
    run.add_argument("--no-crosschain", action="store_true",
                     help="run the same networks isolated (no cross-chain exchange)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--parallel", type=int, metavar="N",
                     help="train each round's workers in N processes (0: one per core, "
                          "1: serially); overrides [experiment].parallel_workers")
    again = run.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="go on with the interrupted run in --out from its last finished "
                            "round (same config and seed; embedded backend)")
    again.add_argument("--overwrite", action="store_true",
                       help="delete the run files already in --out first (a folder that holds "
                            "files is refused otherwise)")
    run.add_argument("--cluster", metavar="ADDRESS",
                     help="train each round's workers on a Ray cluster: auto, "
                          "ray://host:port, host:port or local (needs the `cluster` extra; "
                          "N actors with --parallel N, else one per CPU of the cluster); "
                          "overrides [experiment].cluster")
    run.add_argument("--backend", choices=["embedded", "anvil", "hardhat"], default="embedded",
                     help="embedded: every network in this process (default); anvil: node "
                          "mode, one anvil per network, a blob server and one `poft node` "
                          "process per participant; hardhat: the same on hardhat nodes "
                          "(in memory: gone after the run, so no `poft verify` afterwards)")

    verify = sub.add_parser("verify", help="check a model's lineage on chain",
                            description="Recompute MODEL's Merkle root, find the round that "
                                        "finalized it and print its lineage. Exit 0 only "
                                        "when everything matches.")
    verify.add_argument("model", help="a .safetensors model written by `poft run`")
    verify.add_argument("--deployment", required=True,
                        help="deployment.json of the run (contract addresses, chains)")
    verify.add_argument("--recompute", action="store_true",
                        help="re-execute each round's aggregation from the stored blobs")
    add_node_mode_commands(sub)
    bench = sub.add_parser("bench", help="benchmarks: robustness grid, convex convergence",
                           description="Run a benchmark study; each writes CSV, tables and "
                                       "plots into --out.")
    bench.add_argument("study", choices=["robustness", "convex"], nargs="?",
                       help="robustness: aggregator x attack x Byzantine fraction x partition "
                            "grid (resumable); convex: optimality gap by round per rule. "
                            "Rules: softmax (SABFL), mean (FedAvg), median, trimmed_mean, "
                            "krum, multi_krum, geometric_median, centered_clipping, fltrust, "
                            "bulyan")
    bench.add_argument("rest", nargs=argparse.REMAINDER,
                       help="CONFIG [--out DIR] [...]; see `poft bench STUDY --help`")
    for command in sub.choices.values():   # `-v` also after the command: poft run -v ...
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log protocol events; on a bug, print the traceback")
    return parser


def add_node_mode_commands(sub) -> None:
    """`poft chain`, `poft node`, `poft store` (node mode)."""
    from poft.drivers.chain import cli as chain_cli
    from poft.drivers.node import main as node

    chain = sub.add_parser("chain", help="start/stop the local chains of a node-mode run",
                           description="up: one anvil per network, contracts deployed, "
                                       "participants registered, deployment file written; "
                                       "down: stop them by PID; restart: start stopped ones "
                                       "again from their state files.")
    chain_cli.add_chain_arguments(chain)
    node_cmd = sub.add_parser("node", help="run one participant as its own process",
                              description="One participant of one network: reacts to chain "
                                          "state, runs its roles, logs JSON lines.")
    node.add_arguments(node_cmd)
    store = sub.add_parser("store", help="serve a blob store over HTTP",
                           description="PUT/GET /blobs/<sha256 hex>, digest checked both ways.")
    chain_cli.add_store_arguments(store)


def main(argv: list[str] | None = None) -> int:
    """Run one `poft` command; returns the exit status (0 ok, 1 failed or bug, 2 bad input,
    130 interrupted)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)   # argparse itself exits 2 on bad flags
    if extra:                        # with the usage of the command they were given to
        (command_parser(parser, args.command) if args.command else parser).error(
            f"unrecognized arguments: {' '.join(extra)}")
    incomplete = incomplete_command(parser, args)
    if incomplete is not None:       # `poft`, `poft bench`, `poft chain`: say what is possible
        incomplete.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    name = " ".join(["poft", args.command] + ([args.study] if args.command == "bench" else []))
    try:
        return dispatch(args)
    except (InputError, *USER_FILE_ERRORS) as exc:
        print(f"{name}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:     # `poft verify ... | head`: the reader left; nothing to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, said as one
        if interrupts.INTERRUPTED.is_set():
            # Ctrl-C can surface as another error: landing in numpy's lazy import
            # machinery it became a RecursionError that no longer carries it.
            print(f"{name}: interrupted", file=sys.stderr)
            return 130
        print(f"{name}: this is a bug in poft, please report it: "
              f"{type(exc).__name__}: {one_line(exc)}"
              + ("" if args.verbose else " (run with -v for the traceback)"), file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return 1


def command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The subparser of `command` (run, verify, bench, ...)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def incomplete_command(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser | None:
    """The (sub)parser whose command is missing its next word, if one is."""
    if args.command is None:
        return parser
    sub = command_parser(parser, args.command)
    if args.command == "bench" and args.study is None:
        return sub
    if getattr(args, "action", "") is None:      # chain / store without their action
        return sub
    return None


# A missing, unreadable or misplaced file or folder named on the command line: the
# user's to fix, whichever layer tripped over it.
USER_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError,
                    NotADirectoryError, PermissionError)


def one_line(exc: BaseException) -> str:
    """The error as one line; a file error names the path and what is wrong with it
    ("cannot use '/proc/x': No such file or directory"), not its errno."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"cannot use {str(exc.filename)!r}: {exc.strerror}"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def dispatch(args) -> int:
    if args.command == "run":
        return cmd_run(args)
    if args.command == "verify":
        return cmd_verify(args)
    if args.command == "bench":
        return cmd_bench(args)
    return cmd_node_mode(args)


def cmd_run(args) -> int:
    from poft.config.experiment import load_config
    from poft.experiment.run import run_experiment

    config = load_config(args.config).with_overrides(seed=args.seed, rounds=args.rounds,
                                                     crosschain=not args.no_crosschain,
                                                     parallel_workers=args.parallel,
                                                     cluster=args.cluster)
    out = Path(args.out or Path("runs") / config.experiment.name)
    if args.backend in ("anvil", "hardhat"):
        from poft.drivers.node.runner import RunFailed, run_node_mode
        from poft.outputs.folder import prepare_output

        if args.resume:
            raise InputError("--resume is for the embedded backend; a node-mode run resumes "
                             "by restarting its nodes (`poft chain restart`, `poft node`)")
        prepare_output(out, overwrite=args.overwrite)
        if config.experiment.cluster:
            print("poft run: warning: the cluster is not used in node mode (each participant "
                  "trains in its own process)", file=sys.stderr)

        try:
            summary = run_node_mode(config, out, progress=not args.no_progress,
                                    node=args.backend)
        except RunFailed as exc:
            print(f"poft run: node mode failed: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("poft run: interrupted; every process the run started was stopped",
                  file=sys.stderr)
            return 130
    else:
        summary = run_experiment(config, out, progress=not args.no_progress,
                                 resume=args.resume, overwrite=args.overwrite)
    print(format_summary(summary, out))
    return 0


def cmd_node_mode(args) -> int:
    from poft.drivers.chain import cli as chain_cli
    from poft.drivers.node import main as node

    if args.command == "chain":
        return chain_cli.cmd_chain(args)
    if args.command == "node":
        return node.main(args)
    return chain_cli.cmd_store(args)


def format_summary(summary: dict, out: Path) -> str:
    lines = [f"{'network':<12} {'rounds':>6} {'final acc':>10}  final model"]
    for name, net in summary["networks"].items():
        lines.append(f"{name:<12} {net['rounds']:>6} {net['final_accuracy']:>10.4f}  "
                     f"{net['final_model']}")
    t = summary["timing"]
    lines.append(f"time: {t['total_s']:.1f} s total, {t['train_s']:.1f} s training, "
                 f"{t['ledger_s']:.1f} s ledger, {t['crosschain_s']:.2f} s cross-chain")
    lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines)


def cmd_bench(args) -> int:
    if args.study == "robustness":
        from poft.experiment.robustness import main as study
    else:
        from poft.experiment.convex import main as study
    return study(args.rest)


def cmd_verify(args) -> int:
    from poft.experiment.verify import verify_model

    result = verify_model(args.model, args.deployment, recompute=args.recompute)
    print(result.render())
    return 0 if result.ok else 1


def entry() -> None:
    """The `poft` executable (and `python -m poft`): `main`, then exit with its status.

    After Ctrl-C the process ends with `os._exit(130)` once its output is flushed: a
    KeyboardInterrupt that passed through Python code run by a C extension on its way
    up (PyRun_*) leaves CPython's "unhandled Ctrl-C" flag set even though `main`
    handled it, and the interpreter would then end by killing itself with SIGINT
    instead of returning 130."""
    interrupts.install()
    try:
        status = main()
    except KeyboardInterrupt:           # before `main` could handle it (parsing the flags)
        print("poft: interrupted", file=sys.stderr)
        status = 130
    if status == 130:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)
    sys.exit(status)


if __name__ == "__main__":
    entry()
