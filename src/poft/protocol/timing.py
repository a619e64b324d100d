"""Wall time per phase, accumulated across roles and rounds.

Roles wrap their work in `timer.phase("train")` etc.; the driver reads the
totals for `summary.json` ("timing") and the report's time-per-phase plot.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class PhaseTimer:
    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] += time.perf_counter() - start

    def snapshot(self) -> dict[str, float]:
        return dict(self.totals)

    def since(self, earlier: dict[str, float]) -> dict[str, float]:
        """Seconds spent per phase after `earlier = timer.snapshot()`."""
        return {k: v - earlier.get(k, 0.0) for k, v in self.totals.items()
                if v - earlier.get(k, 0.0) > 0}


NULL_TIMER = PhaseTimer()


class Timed:
    """A proxy that books every method call of `target` under one phase name.

    Wrapping the ledger client and the store this way keeps role code free of
    timing calls while `ledger_s` still counts every transaction and read.
    """

    def __init__(self, target, timer: PhaseTimer, phase: str):
        self._target, self._timer, self._phase = target, timer, phase

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def timed(*args, **kwargs):
            with self._timer.phase(self._phase):
                return attr(*args, **kwargs)

        return timed
