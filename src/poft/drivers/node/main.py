"""`poft node`: one participant of one network, as its own OS process.

    POFT_KEY_PASSWORD=... poft node --deployment run/deployment.json --network alpha \\
        --key run/keys/alpha/staker-0.json --roles validator,miner,relayer

The node runs the same role code as the in-process driver (`poft.protocol`),
but instead of being stepped it reacts to chain state: it polls the round and
phase (backing off while nothing changes), does what its roles owe in that
state (`node_duties`), and exits 0 once the configured rounds are over on its
network and its export duties are done. It keeps no state of its own that
matters: killed and restarted at any point, it reads where the round is and
continues. Every line it logs is a JSON object (`node_log`).

Start-up checks everything it can before loading data and models (deployment
file, key, chain reachability, contracts, participant, roles); any problem
exits with status 2 and one line saying what was wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from poft.drivers.node.identity import (
    Identity,
    KeySource,
    NodeSetupError,
    check_roles,
    connect,
    ensure_registered,
    find_participant,
    load_account,
    load_deployment,
    parse_roles,
)
from poft.drivers.node.log import EventLog, install
from poft.drivers.node.waits import Backoff
from poft.ledger import LedgerClient, LedgerError, NodeError, TransactionRejected, TransactionTimeout
from poft.store import StoreError, open_store

OPEN_CHOICES = ("all", "after-first", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployment", required=True, help="deployment.json of `poft chain up`")
    parser.add_argument("--network", required=True, help="the network this participant is in")
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--key", type=Path, help="encrypted eth-account keystore of the "
                     "participant (password: $POFT_KEY_PASSWORD or --password-file)")
    key.add_argument("--dev-key", type=int, metavar="INDEX",
                     help="public development key of participant INDEX (local chains only)")
    parser.add_argument("--password-file", type=Path, help="file whose first line is the "
                        "keystore password")
    parser.add_argument("--roles", default="worker,validator,miner,relayer",
                        help="comma-separated: worker,validator,miner,relayer (default: all "
                             "that fit the participant)")
    parser.add_argument("--config", type=Path, help="experiment config (default: the one "
                        "named in the deployment file)")
    parser.add_argument("--index", type=int, help="participant index in the population plan "
                        "(workers first, then stakers); default: found from the key")
    parser.add_argument("--store", help="blob store URL or folder (default: the deployment's)")
    parser.add_argument("--rounds", type=int, help="override [experiment].rounds")
    parser.add_argument("--open-rounds", choices=OPEN_CHOICES, default="all",
                        help="which rounds this node may open: all (default), after-first "
                             "(a supervisor opens round 1), none (a test harness opens them)")
    parser.add_argument("--import-wait", type=float, default=60.0, metavar="SECONDS",
                        help="longest wait for a linked network's checkpoint (default 60)")
    parser.add_argument("--poll-max", type=float, default=1.0, metavar="SECONDS",
                        help="longest pause between polls of a quiet chain (default 1)")


def main(args: argparse.Namespace) -> int:
    events = EventLog(f"{args.network}/?")
    try:
        ident, config = identify(args, events)
    except NodeSetupError as exc:
        events.error("startup_failed", error=str(exc))
        print(f"poft node: error: {exc}", file=sys.stderr, flush=True)
        return 2
    events.node = ident.node_name
    install(events)
    return Node(ident, config, args, events).run()


def _roles_fitting(text: str, kind: str) -> frozenset[str]:
    """The default role list keeps only the roles the participant can take."""
    roles = parse_roles(text)
    if text == "worker,validator,miner,relayer":
        roles = roles - ({"validator", "miner"} if kind == "worker" else {"worker"})
    return roles


def identify(args, events) -> tuple[Identity, object]:
    """All start-up checks, cheapest first; raises NodeSetupError."""
    from poft.config.experiment import load_config
    from poft.config.schema import ConfigError

    parse_roles(args.roles)
    dep = load_deployment(args.deployment, args.network)
    account = load_account(dep, args.network,
                           KeySource(args.key, args.password_file, args.dev_key))
    config_path = args.config or dep.config_path()
    if config_path is None:
        raise NodeSetupError(f"{dep.path} names no config: pass --config CONFIG")
    try:
        config = load_config(config_path).with_overrides(rounds=args.rounds)
    except ConfigError as exc:
        raise NodeSetupError(str(exc)) from None
    if args.network not in [n.name for n in config.networks]:
        raise NodeSetupError(f"network {args.network!r} is not in config {config_path}")
    backend, deployment = connect(dep, args.network)
    participant = find_participant(dep, args.network, account, args.index, config)
    roles = _roles_fitting(args.roles, participant.kind)
    check_roles(roles, participant)
    ident = Identity(dep, args.network, deployment, backend, account, participant, roles)
    return ident, config


class Node:
    """The poll-and-act loop of one participant."""

    def __init__(self, ident: Identity, config, args, events: EventLog):
        self.ident, self.config, self.args, self.events = ident, config, args, events
        self.stop = threading.Event()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        try:
            roles, duties = self.start()
        except NodeSetupError as exc:
            self.events.error("startup_failed", error=str(exc))
            print(f"poft node: error: {exc}", file=sys.stderr, flush=True)
            return 2
        try:
            return self.loop(roles, duties)
        except Exception as exc:   # a bug: say where, exit non-zero for the supervisor
            self.events.error("crashed", error=repr(exc), traceback=traceback.format_exc())
            return 1
        finally:
            self.report(roles)

    def start(self, patience: float = 60.0):
        """Build the roles; a chain that drops out meanwhile is waited for (bounded)."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return self.start_once()
            except (NodeError, TransactionTimeout) as exc:
                if time.monotonic() > deadline or self.stop.is_set():
                    raise NodeSetupError(f"network {self.ident.network!r}'s node went away "
                                         f"during start-up and did not come back: {exc}") from None
                self.events.warn("chain_unavailable", during="start-up", error=str(exc))
                self.stop.wait(2.0)

    def start_once(self):
        from poft.drivers.node.duties import Duties
        from poft.drivers.node.roles import build_roles
        from poft.drivers.participants import ether

        ident, config = self.ident, self.config
        location = self.args.store or ident.dep.store_location()
        try:
            store = open_store(location)
        except ValueError as exc:
            raise NodeSetupError(f"blob store {location!r}: {exc}") from None
        ledger = LedgerClient.for_deployment(ident.backend, ident.deployment, ident.account)
        stake = config.ledger.worker_stake if ident.participant.kind == "worker" \
            else config.ledger.stake
        ensure_registered(ledger, ident.participant, ether(stake), self.events.emit)
        roles = build_roles(ident, config, store)
        self.check_store(store, roles.genesis_uri, location)
        duties = Duties(ident, roles, self.events, rounds=config.experiment.rounds,
                        open_rounds=self.args.open_rounds, import_wait=self.args.import_wait)
        self.events.emit("ready", address=ident.account.address, pid=os.getpid(),
                         roles=sorted(ident.roles),
                         index=ident.participant.index, rpc_url=ident.backend.url,
                         store=location, rounds=config.experiment.rounds)
        return roles, duties

    def check_store(self, store, genesis_uri: str, location: str) -> None:
        from poft.store import parse_location

        try:
            if not store.has(parse_location(genesis_uri)):
                raise NodeSetupError(f"blob store {location} does not hold the genesis model "
                                     f"{genesis_uri}: wrong --store for this deployment")
        except StoreError as exc:
            raise NodeSetupError(f"blob store {location} is unreachable: {exc}") from None

    def loop(self, roles, duties) -> int:
        backoff = Backoff(0.05, self.args.poll_max)
        previous, snapshot = None, roles.timer.snapshot()
        while not self.stop.is_set():
            acted = False
            try:
                view = roles.reader.round_state()
                if previous is None or view.round != previous.round:
                    if previous is not None and previous.round > 0:
                        self.events.emit("round_time", round=previous.round,
                                         seconds=roles.timer.since(snapshot))
                    snapshot = roles.timer.snapshot()
                if duties.finished(view):
                    self.events.emit("round_time", round=view.round,
                                     seconds=roles.timer.since(snapshot))
                    self.events.emit("done", round=view.round)
                    return 0
                acted = duties.step(view)
                if acted or _moved(previous, view):
                    backoff.reset()
                previous = view
            except (NodeError, TransactionTimeout, TransactionRejected) as exc:
                self.events.warn("chain_unavailable", error=str(exc))
                self.forget_nonces(roles)
            except StoreError as exc:
                self.events.warn("store_unavailable", error=str(exc))
            except LedgerError as exc:     # a revert nobody expected: log, re-read, go on
                self.events.warn("ledger_error", error=str(exc))
            except ValueError as exc:      # a refused input (CommitmentError: corrupt model)
                self.events.warn("input_refused", error=str(exc))
            if not acted:
                self.stop.wait(backoff.next())
        self.events.emit("stopped", reason="signal")
        return 0

    def forget_nonces(self, roles) -> None:
        """After a failed send the local nonce may be ahead of the chain: re-read it."""
        self.ident.backend.forget_nonce(self.ident.account.address)
        for bridge in roles.target_bridges.values():
            bridge.backend.forget_nonce(self.ident.account.address)

    def report(self, roles) -> None:
        gas = {self.ident.network: self.ident.backend.gas_report.to_dict()}
        for target, bridge in roles.target_bridges.items():
            gas[target] = bridge.backend.gas_report.to_dict()
        self.events.emit("summary", seconds=dict(roles.timer.totals), gas=gas)


def _moved(before, after) -> bool:
    """Whether the protocol moved (a new block alone is not news)."""
    if before is None:
        return True
    return (before.round, before.phase, before.deadline, before.current_miner) != (
        after.round, after.phase, after.deadline, after.current_miner)
