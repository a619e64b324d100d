"""One measured figure of `make bench`, its target, and the shared output.

Every benchmark module in ``bench/`` exposes ``figures(quick: bool = False) ->
list[Figure]``: it measures side by side in one run (a ratio against a baseline
timed in the same process or moments apart) and returns its figures;
``bench/run_all.py`` prints them as one table and writes ``bench/results.json``
as ``{NAME: {"value", "target", "holds", "unit"}}``. Figures with no target
(context such as wall times or gas of one role) are printed but not written to
the JSON, whose every entry is a goal that holds or not.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    name: str                      # snake_case key in results.json
    value: float
    unit: str                      # "x", "%", "s", "GB", "gas", ...
    target: float | None = None    # None: context, printed only
    higher_is_better: bool = True  # True: holds when value >= target
    note: str = ""                 # what was compared, in a few words

    @property
    def holds(self) -> bool | None:
        if self.target is None:
            return None
        if not math.isfinite(self.value):
            return False
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def goal(self) -> str:
        if self.target is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {_number(self.target)}"


def at_least(name: str, value: float, target: float, unit: str, note: str = "") -> Figure:
    return Figure(name, value, unit, target, True, note)


def at_most(name: str, value: float, target: float, unit: str, note: str = "") -> Figure:
    return Figure(name, value, unit, target, False, note)


def context(name: str, value: float, unit: str, note: str = "") -> Figure:
    return Figure(name, value, unit, None, True, note)


def _number(value: float) -> str:
    """Thousands with separators and no decimals; smaller values to 4 significant digits."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def table(figures: list[Figure]) -> str:
    """One plain-text table: name, value, unit, goal, verdict, note."""
    rows = [("figure", "value", "unit", "goal", "holds", "what")]
    for f in figures:
        verdict = {True: "yes", False: "NO", None: ""}[f.holds]
        rows.append((f.name, _number(f.value), f.unit, f.goal, verdict, f.note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]),
                 row[3].ljust(widths[3]), row[4].ljust(widths[4]), row[5]]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def results_json(figures: list[Figure]) -> dict:
    """The targeted figures as ``{NAME: {"value", "target", "holds", "unit"}}``."""
    return {f.name: {"value": f.value, "target": f.target, "holds": f.holds, "unit": f.unit}
            for f in figures if f.target is not None}


def write_results(figures: list[Figure], path: Path) -> None:
    """Merge into an existing results file, so one benchmark can be re-run alone."""
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged.update(results_json(figures))
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def median_item(items, key):
    """The item whose ``key`` is the median of the items' (the lower middle one for an
    even count), so a benchmark reports one real repeat, not a blend of several."""
    ordered = sorted(items, key=key)
    return ordered[(len(ordered) - 1) // 2]


def repeats_arg(text: str) -> int:
    """argparse type of the benchmarks' ``--repeats``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: a median needs at least one repeat")
    return value
