"""Small helpers of the node loop: bounded waits and polling back-off.

A node never waits for something forever: every wait has a clock
(`BoundedWaits`) that starts the first time the node finds itself waiting for a
given thing, and the duty goes ahead (or gives up) once the bound has passed.
Polling backs off exponentially while the chain is quiet and snaps back to
fast polling as soon as something changes, so idle nodes cost little and busy
ones react within tens of milliseconds.
"""

from __future__ import annotations

import time
from typing import Hashable


class BoundedWaits:
    """Monotonic clocks keyed by what is being waited for."""

    def __init__(self) -> None:
        self._since: dict[Hashable, float] = {}

    def started(self, key: Hashable) -> bool:
        """Whether the wait for `key` had started before this call (starts it if not)."""
        if key in self._since:
            return True
        self._since[key] = time.monotonic()
        return False

    def elapsed(self, key: Hashable) -> float:
        """Seconds since the wait for `key` started (starting it now if needed)."""
        self.started(key)
        return time.monotonic() - self._since[key]

    def over(self, key: Hashable, seconds: float) -> bool:
        return self.elapsed(key) >= seconds


class Backoff:
    """Polling delay: doubles from `low` to `high` while nothing happens."""

    def __init__(self, low: float = 0.05, high: float = 1.0):
        if not 0 < low <= high:
            raise ValueError(f"backoff needs 0 < low <= high, got {low}, {high}")
        self.low, self.high = low, high
        self.delay = low

    def reset(self) -> None:
        self.delay = self.low

    def next(self) -> float:
        """The delay to sleep now; the following one will be twice as long (capped)."""
        current = self.delay
        self.delay = min(self.high, self.delay * 2)
        return current
