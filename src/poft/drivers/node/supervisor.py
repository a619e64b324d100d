"""Child processes of a node-mode run: started, watched and always stopped by PID.

Each child runs in its own session (a Ctrl-C at the terminal reaches only the
supervisor, which then stops its children in order instead of leaving some
half-dead), writes stdout and stderr into its own log file, and is stopped with
SIGTERM, then SIGKILL after a grace period. Nothing is ever stopped by name.

A node that crashes is started again with the same command line, a bounded
number of times (`restart_crashed`): nodes resume from chain state, so the run
goes on. Each restart is a JSON line in `supervisor.log` and a warning.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from poft.drivers.node.log import read_events
from poft.errors import PoftError

log = logging.getLogger(__name__)


class RunFailed(PoftError):
    """A child failed or the run did not finish; the message names it and its log."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    argv: list[str] = field(default_factory=list)
    restarts: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def poft_command(*args: str) -> list[str]:
    """`poft ...` with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "poft", *args]


class Supervisor:
    """Starts children, watches them, stops all of them on exit (also on errors)."""

    def __init__(self, log_dir: Path, env: dict | None = None):
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env or dict(os.environ)
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str]) -> Child:
        log_path = self.log_dir / f"{name.replace('/', '-')}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=self.env,
                                       start_new_session=True)
        child = Child(name, process, log_path, list(argv))
        self.children.append(child)
        return child

    def restart_crashed(self, children: list[Child], max_restarts: int) -> None:
        """Start again (in place in `children`) each child that exited non-zero, at most
        `max_restarts` times per child; RunFailed (with its log) after that."""
        for i, child in enumerate(children):
            code = child.exited()
            if code is None or code == 0:
                continue
            if child.restarts >= max_restarts:
                raise RunFailed(f"{child.name} exited with status {code} after "
                                f"{child.restarts} restart(s); log {child.log_path}:\n"
                                f"{child.tail()}")
            again = self.start(child.name, child.argv)
            again.restarts = child.restarts + 1
            children[i] = again
            self.note("restarted", node=child.name, status=code, restart=again.restarts,
                      max_restarts=max_restarts, pid=again.pid)
            log.warning("%s exited with status %s; restarted (%d of at most %d)", child.name,
                        code, again.restarts, max_restarts)

    def note(self, event: str, **fields) -> None:
        """A JSON line in the supervisor's own log (logs/supervisor.log)."""
        record = {"t": time.time(), "event": event, **fields}
        with open(self.log_dir / "supervisor.log", "a") as out:
            out.write(json.dumps(record) + "\n")

    def run_to_end(self, name: str, argv: list[str], timeout: float) -> Child:
        """Run a child to completion; RunFailed (with its log) unless it exits 0."""
        child = self.start(name, argv)
        try:
            code = child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RunFailed(f"{name} did not finish within {timeout:.0f}s; log "
                            f"{child.log_path}:\n{child.tail()}") from None
        if code != 0:
            raise RunFailed(f"{name} exited with status {code}; log {child.log_path}:\n"
                            f"{child.tail()}")
        return child

    def check_alive(self, children: list[Child], allow_done: bool = True) -> None:
        """RunFailed when one of `children` exited non-zero (or at all, unless allowed)."""
        for child in children:
            code = child.exited()
            if code is not None and (code != 0 or not allow_done):
                raise RunFailed(f"{child.name} exited with status {code}; log "
                                f"{child.log_path}:\n{child.tail()}")

    def wait_for_event(self, children: list[Child], event: str, timeout: float) -> None:
        """Wait until every child's log holds `event` (e.g. "ready")."""
        deadline = time.monotonic() + timeout
        waiting = list(children)
        while waiting:
            self.check_alive(waiting, allow_done=False)
            waiting = [c for c in waiting if not read_events(c.log_path, event)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(c.name for c in waiting)
                raise RunFailed(f"no '{event}' from {names} within {timeout:.0f}s; see "
                                f"{waiting[0].log_path}:\n{waiting[0].tail()}")
            time.sleep(0.25)

    def stop(self, child: Child, grace: float = 10.0) -> None:
        if child.exited() is not None:
            return
        try:
            os.kill(child.pid, signal.SIGTERM)
            child.process.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.process.wait(grace)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        """Newest first, so nodes go before the store and chains they use."""
        pending = [c for c in reversed(self.children) if c.exited() is None]
        for child in pending:                    # signal all first: they stop in parallel
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child in pending:
            self.stop(child)

    def __enter__(self) -> "Supervisor":
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
