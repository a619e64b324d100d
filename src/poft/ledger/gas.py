"""Gas accounting: gas used per call kind (method name) for every transaction sent."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class GasRow:
    kind: str
    calls: int
    total: int
    min: int
    max: int

    @property
    def mean(self) -> float:
        return self.total / self.calls if self.calls else 0.0


class GasReport:
    """Collects the gas used by each transaction, keyed by call kind."""

    def __init__(self) -> None:
        self._used: dict[str, list[int]] = defaultdict(list)

    def record(self, kind: str, gas_used: int) -> None:
        self._used[kind].append(gas_used)

    def rows(self) -> list[GasRow]:
        return [
            GasRow(kind, len(v), sum(v), min(v), max(v))
            for kind, v in sorted(self._used.items())
        ]

    def total(self) -> int:
        return sum(sum(v) for v in self._used.values())

    def transactions(self) -> int:
        return sum(len(v) for v in self._used.values())

    def merge(self, other: "GasReport") -> None:
        for kind, values in other._used.items():
            self._used[kind].extend(values)

    def clear(self) -> None:
        self._used.clear()

    def to_dict(self) -> dict:
        return {r.kind: {"calls": r.calls, "total": r.total, "mean": r.mean, "min": r.min, "max": r.max}
                for r in self.rows()}

    def table(self) -> str:
        """A fixed-width text table: kind, calls, mean, min, max, total."""
        header = f"{'call':<24} {'calls':>6} {'mean gas':>10} {'min':>10} {'max':>10} {'total':>12}"
        lines = [header, "-" * len(header)]
        for r in self.rows():
            lines.append(
                f"{r.kind:<24} {r.calls:>6} {r.mean:>10.0f} {r.min:>10} {r.max:>10} {r.total:>12}"
            )
        return "\n".join(lines)
