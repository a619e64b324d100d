"""Reports of a robustness grid: the summary table and the plots.

`summarize` gives, per aggregator, the mean and worst-case final accuracy over
attacks (and per Byzantine fraction and partition); `write_reports` writes
summary.md / summary.csv, heatmap.png (aggregator x attack at the largest
fraction) and accuracy_by_round.png next to robustness.csv.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

KEY_COLUMNS = ["aggregator", "attack", "byzantine_fraction", "partition", "seed"]
COLUMNS = KEY_COLUMNS + ["final_accuracy", "worst_round_accuracy", "backdoor_success",
                         "byzantine_weight", "byzantine_reward_share", "rounds", "seconds", "train_s", "evaluate_s",
                         "aggregate_s", "accuracy_by_round"]


def cell_key(aggregator, attack, fraction, partition, seed) -> tuple:
    """The identity of a cell, from typed values or from CSV strings alike."""
    return (str(aggregator), str(attack), f"{float(fraction):g}", str(partition), int(seed))


def row_key(row: dict) -> tuple:
    return cell_key(*(row[c] for c in KEY_COLUMNS))


def seed_means(rows: list[dict], column: str = "final_accuracy") -> dict[tuple, float]:
    """Mean of ``column`` over seeds, by (aggregator, attack, fraction, partition)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        if row.get(column, "") != "":
            key = row_key(row)[:4]
            groups.setdefault(key, []).append(float(row[column]))
    return {key: float(np.mean(values)) for key, values in groups.items()}


def summarize(rows: list[dict]) -> list[dict]:
    """Per aggregator, overall (fraction = partition = "all") and per (fraction,
    partition): clean accuracy (of the same partition), mean and worst case over
    the attacked cells."""
    acc = seed_means(rows)
    aggregators = list(dict.fromkeys(k[0] for k in acc))
    scopes = [("all", "all")] + sorted({(k[2], k[3]) for k in acc if k[1] != "none"},
                                       key=lambda s: (float(s[0]), s[1]))
    summary = []
    for aggregator in aggregators:
        for fraction, partition in scopes:
            clean = [v for k, v in acc.items() if k[0] == aggregator and k[1] == "none"
                     and partition in ("all", k[3])]
            attacked = {k: v for k, v in acc.items() if k[0] == aggregator and k[1] != "none"
                        and fraction in ("all", k[2]) and partition in ("all", k[3])}
            worst = min(attacked, key=attacked.get) if attacked else None
            summary.append({
                "aggregator": aggregator, "byzantine_fraction": fraction,
                "partition": partition,
                "clean_accuracy": f"{np.mean(clean):.4f}" if clean else "",
                "mean_accuracy": f"{np.mean(list(attacked.values())):.4f}" if attacked else "",
                "worst_accuracy": f"{attacked[worst]:.4f}" if worst else "",
                "worst_case": f"{worst[1]}@{worst[2]}/{worst[3]}" if worst else "",
                "cells": len(attacked)})
    return summary


def summary_markdown(summary: list[dict], rows: list[dict]) -> str:
    overall = [s for s in summary if s["byzantine_fraction"] == "all"]
    backdoor = seed_means(rows, "backdoor_success")
    reward = seed_means(rows, "byzantine_reward_share")

    def largest(table: dict, aggregator: str) -> str:
        values = [v for k, v in table.items() if k[0] == aggregator]
        return f"{max(values):.3f}" if values else "-"

    lines = ["# Robustness summary", "",
             f"{len(rows)} cells; accuracies are final test accuracies, averaged over "
             "seeds first; worst = minimum over attacks (and fractions/partitions); "
             "Byzantine reward share: the attackers' share of the workers' rewards over "
             "the run, as the ledger pays them (by weight).", "",
             "| aggregator | clean | mean over attacks | worst case | worst cell | "
             "max backdoor ASR | max Byzantine reward share |", "|---|---|---|---|---|---|---|"]
    for s in overall:
        lines.append(f"| {s['aggregator']} | {s['clean_accuracy']} | {s['mean_accuracy']} | "
                     f"{s['worst_accuracy']} | {s['worst_case']} | "
                     f"{largest(backdoor, s['aggregator'])} | "
                     f"{largest(reward, s['aggregator'])} |")
    scopes = list(dict.fromkeys((s["byzantine_fraction"], s["partition"]) for s in summary
                                if s["byzantine_fraction"] != "all"))
    if scopes:
        lines += ["", "Worst case over attacks (mean over attacks) [clean accuracy of the "
                      "partition], by Byzantine fraction and partition:", "",
                  "| aggregator | " + " | ".join(f"{f} {p}" for f, p in scopes) + " |",
                  "|---|" + "---|" * len(scopes)]
        by_scope = {(s["aggregator"], s["byzantine_fraction"], s["partition"]): s
                    for s in summary}
        for s in overall:
            cells = [by_scope.get((s["aggregator"], f, p)) for f, p in scopes]
            lines.append(f"| {s['aggregator']} | " + " | ".join(
                f"{c['worst_accuracy']} ({c['mean_accuracy']}) [{c['clean_accuracy'] or '-'}]"
                if c and c["cells"] else "-"
                for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")   # files only; never needs a display
    import matplotlib.pyplot as plt
    return plt


def plot_heatmap(rows: list[dict], path: Path) -> None:
    """Aggregator x attack at the largest fraction (clean column at 0), mean over
    seeds and partitions."""
    plt = _pyplot()

    largest = max(float(r["byzantine_fraction"]) for r in rows)
    aggregators = list(dict.fromkeys(r["aggregator"] for r in rows))
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    grid = np.full((len(aggregators), len(attacks)), np.nan)
    for i, aggregator in enumerate(aggregators):
        for j, attack in enumerate(attacks):
            wanted = 0.0 if attack == "none" else largest
            values = [float(r["final_accuracy"]) for r in rows if r["aggregator"] == aggregator
                      and r["attack"] == attack and float(r["byzantine_fraction"]) == wanted]
            grid[i, j] = np.mean(values) if values else np.nan
    fig, ax = plt.subplots(figsize=(1.1 * len(attacks) + 2.5, 0.5 * len(aggregators) + 1.8))
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                    color="white" if value < 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(attacks)), [a if a != "none" else "none (clean)" for a in attacks],
                  rotation=30, ha="right")
    ax.set_yticks(range(len(aggregators)), aggregators)
    ax.set_title(f"final accuracy at {largest:.0%} Byzantine (mean over seeds, partitions)")
    fig.colorbar(image, ax=ax, label="accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy_by_round(rows: list[dict], path: Path) -> None:
    """One panel per attack (at the largest fraction; clean at 0), one line per
    aggregator: test accuracy by round, mean over seeds and partitions."""
    plt = _pyplot()

    largest = max(float(r["byzantine_fraction"]) for r in rows)
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    aggregators = list(dict.fromkeys(r["aggregator"] for r in rows))
    cols = min(4, len(attacks))
    fig, axes = plt.subplots(-(-len(attacks) // cols), cols, squeeze=False, sharey=True,
                             figsize=(3.6 * cols, 3.0 * -(-len(attacks) // cols)))
    for ax, attack in zip(axes.flat, attacks):
        wanted = 0.0 if attack == "none" else largest
        for aggregator in aggregators:
            curves = [[float(a) for a in r["accuracy_by_round"].split()] for r in rows
                      if r["aggregator"] == aggregator and r["attack"] == attack
                      and float(r["byzantine_fraction"]) == wanted]
            if curves:
                length = min(len(c) for c in curves)
                mean = np.mean([c[:length] for c in curves], axis=0)
                ax.plot(range(1, length + 1), mean, label=aggregator)
        ax.set_title("clean" if attack == "none" else f"{attack} @ {largest:.0%}")
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(attacks):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(rows: list[dict], out: Path) -> str:
    """summary.csv, summary.md and both plots; returns the markdown table."""
    summary = summarize(rows)
    with (out / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]) if summary else ["aggregator"])
        writer.writeheader()
        writer.writerows(summary)
    text = summary_markdown(summary, rows)
    (out / "summary.md").write_text(text)
    if rows:
        plot_heatmap(rows, out / "heatmap.png")
        plot_accuracy_by_round(rows, out / "accuracy_by_round.png")
    return text


# ---------------------------------------------------------------- the run
