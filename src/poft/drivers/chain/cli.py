"""Command-line glue of `poft chain up|down|restart` and `poft store serve`.

    poft chain up --networks 2 --config examples/two-networks.toml --out run/deployment.json
    poft chain restart --deployment run/deployment.json     # after a crash or `chain down`
    poft chain down --deployment run/deployment.json
    poft store serve run/blobs --port 8640
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from poft.drivers.chain.keys import PASSWORD_ENV
from poft.errors import InputError
from poft.outputs.folder import output_path


def add_chain_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    up = sub.add_parser("up", help="start one anvil (or hardhat) per network, deploy, register "
                        "participants",
                        description="Start one anvil (or hardhat) node per network of the config (or use "
                                    "the --rpc nodes given), deploy each network's FederatedLedger "
                                    "and ModelBridge with the genesis model, link the bridges, "
                                    "fund and register every participant, and write the "
                                    "deployment file (contracts, chains, participants, keys) "
                                    "that `poft node` and `poft verify` read.")
    up.add_argument("--out", required=True, type=output_path, help="deployment file to write")
    up.add_argument("--config", type=Path, help="experiment config (TOML); default: a small "
                    "digits/MLP config with --networks networks")
    up.add_argument("--networks", type=int, help="number of networks (must match the config)")
    up.add_argument("--rpc", action="append", metavar="URL",
                    help="deploy on an existing node instead (one --rpc per network; "
                         "participants then register themselves)")
    up.add_argument("--funder-key", type=Path, help="keystore of the account that deploys "
                    "on --rpc nodes (default: anvil's first dev account)")
    up.add_argument("--node", choices=["anvil", "hardhat"], default="anvil",
                    help="the local node started per network (default anvil; hardhat keeps its "
                         "chain in memory only, so `chain restart` cannot bring it back)")
    up.add_argument("--block-time", type=float, default=1.0, metavar="SECONDS",
                    help="seconds per interval block (deadlines are in blocks; default 1)")
    up.add_argument("--keystores", action="store_true",
                    help=f"write an encrypted keystore per participant (password: "
                         f"${PASSWORD_ENV} or --password-file)")
    up.add_argument("--password-file", type=Path, help="keystore password file (first line)")
    up.add_argument("--kdf-iterations", type=int, help="scrypt n of the keystores "
                    "(default eth-account's 262144; lower only for throwaway local keys)")
    up.add_argument("--store", help="blob store folder or URL (default: blobs/ next to --out)")
    descriptions = {
        "down": "Stop the node processes a deployment started (by the PIDs in the deployment "
                "file); an anvil chain's state stays in its state file, so `poft chain restart` "
                "can bring it back (e.g. to run `poft verify` later); a hardhat chain is gone.",
        "restart": "Start the stopped anvil processes of a deployment again from their state "
                   "files, on the same ports, chain ids and contract addresses (after a crash "
                   "or `poft chain down`).",
    }
    for action, description in descriptions.items():
        cmd = sub.add_parser(action, help=f"{action} the local nodes of a deployment",
                             description=description)
        cmd.add_argument("--deployment", required=True, type=Path,
                         help="the deployment file `poft chain up` wrote")
        cmd.add_argument("--network", action="append", help="only this network (repeatable)")


def default_config(networks: int):
    """A small, quick config (digits, MLP) for `chain up` without --config."""
    from poft.config.experiment import parse_config

    names = [f"net{i + 1}" for i in range(networks)]
    links = [{"source": a, "target": b} for a in names for b in names if a != b]
    return parse_config({
        "experiment": {"name": "chain", "rounds": 3},
        "data": {"dataset": "digits", "validator_samples": 40},
        "model": {"name": "mlp", "hidden": 32},
        "ledger": {"phase_blocks": 30},
        "crosschain": {"enabled": networks > 1, "links": links},
        "networks": [{"name": n, "workers": 3, "stakers": 4, "validators": 2, "miners": 2}
                     for n in names]})


def cmd_chain(args) -> int:
    from poft.drivers.chain.commands import chain_down, chain_restart, chain_up
    from poft.ledger import LedgerError

    try:
        if args.action == "down":
            chain_down(args.deployment, args.network)
        elif args.action == "restart":
            chain_restart(args.deployment, args.network)
        else:
            chain_up_from_args(args, chain_up)
    except LedgerError as exc:
        print(f"poft chain {args.action}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def chain_up_from_args(args, chain_up) -> None:
    from poft.config.experiment import load_config
    from poft.drivers.chain.keys import load_keystore, read_password

    # A supervisor stops us with SIGTERM: unwind, so chain_up stops the nodes it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = load_config(args.config) if args.config else default_config(args.networks or 2)
    if args.networks is not None and args.networks != len(config.networks):
        raise InputError(f"--networks {args.networks} does not match the config's "
                         f"{len(config.networks)} networks; drop --networks or fix the config")
    password = read_password(args.password_file) if args.keystores else None
    funder = load_keystore(args.funder_key, read_password(args.password_file)) \
        if args.funder_key else None
    dep = chain_up(config, args.out, block_time=args.block_time, rpc_urls=args.rpc,
                   funder=funder, password=password, kdf_iterations=args.kdf_iterations,
                   store=args.store, config_file=args.config, node=args.node)
    print(f"deployment written to {dep.path}; stop the chains with "
          f"`poft chain down --deployment {dep.path}`")


def tcp_port(text: str) -> int:
    """argparse type: a TCP port, 0-65535 (0: any free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port; use 0-65535")
    return port


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    serve = sub.add_parser("serve", help="serve a blob folder over HTTP (PUT/GET by digest)",
                           description="Serve DIRECTORY as a content-addressed blob store: "
                                       "GET and PUT /blobs/<sha256 hex>, the digest checked "
                                       "both ways; every node of a node-mode run uses it.")
    serve.add_argument("directory", type=Path, help="the blob folder (created if missing)")
    serve.add_argument("--port", type=tcp_port, default=8640, help="TCP port (default 8640)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--read-only", action="store_true", help="refuse PUT")


def cmd_store(args) -> int:
    from poft.store.server import serve

    try:
        serve(args.directory, args.host, args.port, read_only=args.read_only)
    except OSError as exc:      # port taken, folder not writable
        print(f"poft store serve: error: {exc}", file=sys.stderr)
        return 2
    return 0

