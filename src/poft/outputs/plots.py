"""The figures of report.html (matplotlib, PNG as base64 data URIs: the page is one file).

Each function takes the run's per-round records (dicts of `ChainRoundRecord`)
and returns a data URI, or "" when there is nothing to draw.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from poft.outputs.economics import CLASSES, ROLES, gas_by_role  # noqa: E402

CLASS_LABELS = {"honest_workers": "honest workers", "byzantine_workers": "Byzantine workers",
                "validators": "validators", "miners": "miners"}
CLASS_COLORS = {"honest_workers": "tab:green", "byzantine_workers": "tab:red",
                "validators": "tab:blue", "miners": "tab:orange"}


def figure_to_data_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def by_network(records: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for rec in records:
        grouped[rec["network"]].append(rec)
    return dict(grouped)


def plot_accuracy(records: list[dict]) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, recs in by_network(records).items():
        ax.plot([r["round"] for r in recs], [r["accuracy"] for r in recs], marker="o",
                label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    return figure_to_data_uri(fig)


def plot_byzantine_weight(records: list[dict]) -> str:
    """The Byzantine workers' total aggregation weight per round, per network."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for name, recs in by_network(records).items():
        ax.plot([r["round"] for r in recs],
                [sum(w for w, b in zip(r["weights"], r["byzantine"]) if b) for r in recs],
                marker="o", label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("Byzantine weight")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return figure_to_data_uri(fig)


def plot_weights(recs: list[dict], network: str) -> str:
    """Heatmap: one row per candidate (a worker by its address, an import by its position
    among the round's imports), one column per round."""
    rounds = [r["round"] for r in recs]
    rows: dict[str, int] = {}
    byzantine_rows = set()
    cells = []
    for j, rec in enumerate(recs):
        imports = 0
        for owner, w, byz, imported in zip(rec["candidates"], rec["weights"], rec["byzantine"],
                                           rec["imported"]):
            if imported:
                key, imports = f"import {imports}", imports + 1
            else:
                key = ("BYZ " if byz else "") + f"{owner[:8]}…"
            i = rows.setdefault(key, len(rows))
            if byz:
                byzantine_rows.add(i)
            cells.append((i, j, w))
    if not rows:
        return ""
    grid = np.full((len(rows), len(recs)), np.nan)
    for i, j, w in cells:
        grid[i, j] = w
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(rows) + 1.6))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0,
                      vmax=max(np.nanmax(grid), 1e-9))
    ax.set_xticks(range(len(rounds)), [str(r) for r in rounds])
    ax.set_yticks(range(len(rows)), list(rows), fontsize=7)
    for i in byzantine_rows:
        ax.get_yticklabels()[i].set_color("red")
    ax.set_xlabel("round")
    ax.set_title(f"{network}: aggregation weight per candidate (Byzantine in red)")
    fig.colorbar(image, ax=ax, fraction=0.03)
    return figure_to_data_uri(fig)


def plot_money(recs: list[dict], network: str) -> str:
    """Rewards (up) and slashing (down) per round, stacked by participant class."""
    rounds = np.array([r["round"] for r in recs])
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    up, down = np.zeros(len(recs)), np.zeros(len(recs))
    for cls in CLASSES:
        paid = np.array([r.get("rewards", {}).get(cls, 0.0) for r in recs])
        taken = np.array([r.get("slashed", {}).get(cls, 0.0) for r in recs])
        if paid.any():
            ax.bar(rounds, paid, bottom=up, color=CLASS_COLORS[cls], label=CLASS_LABELS[cls])
            up += paid
        if taken.any():
            ax.bar(rounds, -taken, bottom=-down, color=CLASS_COLORS[cls], hatch="//",
                   label=f"{CLASS_LABELS[cls]} slashed")
            down += taken
    ax.axhline(0, color="black", linewidth=0.8)
    return stacked_bars_by_round(fig, ax, rounds, "ether",
                                 f"{network}: rewards (above 0) and slashing (below 0)")


def plot_gas(recs: list[dict], network: str) -> str:
    """Gas per round, stacked by the role that sent the transactions."""
    per_round = [gas_by_role(r.get("gas", {})) for r in recs]
    if not any(per_round):
        return ""
    rounds = np.array([r["round"] for r in recs])
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bottom = np.zeros(len(recs))
    for role in ROLES:
        used = np.array([g.get(role, 0) for g in per_round], dtype=float) / 1e6
        if used.any():
            ax.bar(rounds, used, bottom=bottom, label=role)
            bottom += used
    return stacked_bars_by_round(fig, ax, rounds, "gas (millions)",
                                 f"{network}: gas per round by role")


def stacked_bars_by_round(fig, ax, rounds, ylabel: str, title: str) -> str:
    """Label a per-round stacked bar chart, legend outside on the right, as a data URI."""
    ax.set_xticks(rounds)
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure_to_data_uri(fig)


def plot_phase_times(records: list[dict]) -> str:
    phases = sorted({p for r in records for p in r["seconds"]})
    if not phases:
        return ""
    totals = {p: sum(r["seconds"].get(p, 0.0) for r in records) for p in phases}
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.barh(phases, [totals[p] for p in phases], color="tab:blue")
    ax.set_xlabel("seconds (all rounds, all networks)")
    ax.set_title("time per phase")
    return figure_to_data_uri(fig)
