"""report.html: a self-contained page of a run's results, plots inline.

Plots (matplotlib, PNG as base64 data URIs, so the page is one file):
accuracy by round per network; the softmax weight of every candidate per
round, with Byzantine workers marked; wall time per phase per round. Tables:
the summary per network and the cross-chain overhead breakdown.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    return figure_to_data_uri(fig)


def plot_weights(recs: list[dict], network: str) -> str:
    """Heatmap: rows = candidates (in on-chain order), columns = rounds."""
    rounds = [r["round"] for r in recs]
    rows = max((len(r["weights"]) for r in recs), default=0)
    grid = np.full((rows, len(recs)), np.nan)
    byzantine_rows = set()
    for j, rec in enumerate(recs):
        for i, w in enumerate(rec["weights"]):
            grid[i, j] = w
            if rec["byzantine"][i]:
                byzantine_rows.add(i)
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * rows + 1.6))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0,
                      vmax=max(np.nanmax(grid) if rows else 1, 1e-9))
    ax.set_xticks(range(len(rounds)), [str(r) for r in rounds])
    labels = [f"{'BYZ ' if i in byzantine_rows else ''}cand {i}" for i in range(rows)]
    ax.set_yticks(range(rows), labels, fontsize=7)
    for i in byzantine_rows:
        ax.get_yticklabels()[i].set_color("red")
    ax.set_xlabel("round")
    ax.set_title(f"{network}: aggregation weight per candidate (Byzantine in red)")
    fig.colorbar(image, ax=ax, fraction=0.03)
    return figure_to_data_uri(fig)


def plot_phase_times(records: list[dict]) -> str:
    phases = sorted({p for r in records for p in r["seconds"]})
    totals = {p: sum(r["seconds"].get(p, 0.0) for r in records) for p in phases}
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.barh(phases, [totals[p] for p in phases], color="tab:blue")
    ax.set_xlabel("seconds (all rounds, all networks)")
    ax.set_title("time per phase")
    return figure_to_data_uri(fig)


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row)
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_report(title: str, summary: dict, records: list[dict]) -> str:
    """The whole page as a string."""
    nets = summary["networks"]
    net_rows = [[name, n["rounds"], n["final_accuracy"], n["final_root"][:18] + "…"]
                for name, n in nets.items()]
    timing = summary["timing"]
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Networks</h2>",
        _table(["network", "rounds", "final accuracy", "final model root"], net_rows),
        "<h2>Accuracy by round</h2>", f'<img src="{plot_accuracy(records)}">',
    ]
    for name, recs in by_network(records).items():
        sections += [f"<h2>Weights: {html.escape(name)}</h2>",
                     f'<img src="{plot_weights(recs, name)}">']
    sections += ["<h2>Time</h2>",
                 _table(["total s", "train s", "ledger s", "cross-chain s"],
                        [[timing["total_s"], timing["train_s"], timing["ledger_s"],
                          timing["crosschain_s"]]]),
                 f'<img src="{plot_phase_times(records)}">']
    cross = summary.get("crosschain", {})
    if cross.get("imports") or cross.get("rejected"):
        parts = cross.get("breakdown_s", {})
        sections += ["<h2>Cross-chain exchange</h2>",
                     _table(["imports", "rejected", "overhead fraction"] + list(parts),
                            [[cross["imports"], cross["rejected"], cross["overhead_fraction"]]
                             + list(parts.values())])]
    style = ("body{font-family:sans-serif;max-width:960px;margin:2em auto}"
             "table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{style}</style></head><body>"
            + "\n".join(sections) + "</body></html>")
