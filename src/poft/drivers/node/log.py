"""Structured logs of node-mode processes: one JSON object per line on stderr.

Every line has `t` (UTC time), `level`, `node` (who is speaking, e.g.
"alpha/staker-0") and `event` (what happened, e.g. "submitted"), plus the
event's own fields (round, phase, seconds, error...). Lines from the role code's
ordinary `logging` calls come out in the same shape with `event = "log"`, so a
supervisor (`poft run --backend anvil`) or `jq` can read every line of a node's
log the same way:

    {"t": "2025-01-01T12:00:00.123Z", "level": "info", "node": "alpha/worker-1",
     "event": "submitted", "round": 2, "root": "0x3f2a...", "train_s": 0.41}
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO


def _utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _plain(value: Any) -> Any:
    """JSON-safe form of a field: bytes as 0x-hex, unknown objects as str."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class EventLog:
    """Writes one JSON line per event for one node (thread-unsafe by design: one loop)."""

    def __init__(self, node: str, stream: TextIO | None = None):
        self.node = node
        self.stream = stream or sys.stderr

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        record = {"t": _utc_now(), "level": level, "node": self.node, "event": event}
        record.update({k: _plain(v) for k, v in fields.items()})
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()

    def warn(self, event: str, **fields: Any) -> None:
        self.emit(event, "warning", **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.emit(event, "error", **fields)


class JsonLineHandler(logging.Handler):
    """Routes the role code's `logging` records into the node's event log."""

    def __init__(self, events: EventLog):
        super().__init__()
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.events.emit("log", record.levelname.lower(), logger=record.name,
                             message=record.getMessage())
        except Exception:  # a log line must never take the node down
            self.handleError(record)


def install(events: EventLog, level: int = logging.INFO) -> None:
    """Send every `logging` record of this process through `events` (JSON lines)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(JsonLineHandler(events))
    root.setLevel(level)
    # web3/urllib3 chatter is not protocol information.
    for noisy in ("web3", "urllib3", "asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def read_events(path, event: str | None = None) -> list[dict]:
    """The JSON events of a node's log file (non-JSON lines, e.g. tracebacks, skipped)."""
    found = []
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return found
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if event is None or record.get("event") == event:
            found.append(record)
    return found
