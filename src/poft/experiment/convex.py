"""Convex convergence study: the optimality gap of softmax and the baselines.

SABFL's softmax aggregation provably converges to the global minimum in the
convex setting (Wu & Klabjan 2023). This study checks it: logistic regression
(`model.name = "logreg"`) on the synthetic ``convex`` dataset, one network with
Byzantine workers, and for each aggregation rule the optimality gap

    F(θ_t) − F(θ*),   F(θ) = mean cross-entropy on the honest workers' data
                              (+ weight_decay/2 ‖θ‖², when training has one)

by round, where θ* is the centralized optimum on that data, computed in
float64 by full-batch L-BFGS with strong-Wolfe line search until the gradient
norm is below 1e-10 (or cannot improve further in float64). The gap at round 0
is the initial model's. The federated runs are the no-ledger driver
(`poft.drivers.simulation.simulate`), so the same computation as `poft run`.

The config is an experiment config with one network plus a ``[convex]`` table::

    [convex]
    rules = ["softmax", "mean", "median", "krum"]
    target_gap = 1e-3                        # reported: first round below it
    [convex.rule_params.centered_clipping]   # per-rule parameters (optional)
    tau = 0.5

Outputs in DIR: ``convex.csv`` (rule, round, objective, gap, accuracy),
``convex_gap.png`` (gap by round, log scale, one line per rule) and
``convex.md`` (the optimum, and per rule the final gap and the first round
below the target).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from poft.config.experiment import ExperimentConfig, RuleName, parse_config, read_toml
from poft.config.population import plan_population
from poft.config.schema import bounded, fail, load_section
from poft.drivers.simulation import SimulatedRound, initial_model, load_experiment_data, simulate
from poft.learning.datasets import ArrayDataset
from poft.learning.params import flatten
from poft.outputs.folder import output_path


@dataclass
class ConvexSection:
    rules: list[RuleName] = field(default_factory=lambda: ["softmax", "mean"])
    rule_params: dict = field(default_factory=dict)      # rule name -> parameter table
    target_gap: float = bounded(1e-3, min=0.0)

    def check(self, path: str) -> None:
        if not self.rules:
            fail(f"{path}.rules", "must list at least one aggregation rule")
        allowed = RuleName.__args__
        for name, params in self.rule_params.items():
            if name not in allowed:
                fail(f"{path}.rule_params.{name}", "unknown rule; choose one of: "
                     + ", ".join(repr(a) for a in allowed))
            if not isinstance(params, dict):
                fail(f"{path}.rule_params.{name}", f"expected a table, got {params!r}")


def load_convex_config(path: str | Path) -> tuple[ExperimentConfig, ConvexSection]:
    """The base experiment config and the validated ``[convex]`` table."""
    table = read_toml(path, "examples/convex.toml")
    study = load_section(ConvexSection, table.pop("convex", {}), "convex")
    base = parse_config(table)
    if len(base.networks) != 1:
        fail("networks", f"the convex study runs on exactly one network; got "
                         f"{len(base.networks)} [[networks]] tables")
    if base.model.name != "logreg":
        fail("model.name", f"{base.model.name!r} is not convex; the study needs 'logreg'")
    return base, study


# ---------------------------------------------------------------- the objective

class HonestObjective:
    """F(θ) on the honest workers' data, in float64, for flat parameter vectors."""

    def __init__(self, model: torch.nn.Module, data: ArrayDataset, weight_decay: float):
        self.model = copy.deepcopy(model).double()
        self.template = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.x, self.y = data.x.double(), data.y
        self.weight_decay = weight_decay

    def __call__(self, vec: torch.Tensor) -> torch.Tensor:
        params = self._as_params(vec.to(torch.float64))
        loss = F.cross_entropy(functional_call(self.model, params, (self.x,)), self.y)
        if self.weight_decay:
            loss = loss + 0.5 * self.weight_decay * vec.to(torch.float64).pow(2).sum()
        return loss

    def _as_params(self, vec: torch.Tensor) -> dict[str, torch.Tensor]:
        # Differentiable unflatten (sorted-key order, as poft.learning.params).
        out, offset = {}, 0
        for key in sorted(self.template):
            like = self.template[key]
            out[key] = vec[offset:offset + like.numel()].reshape(like.shape)
            offset += like.numel()
        return out

    def value(self, vec: torch.Tensor) -> float:
        with torch.no_grad():
            return float(self(vec))

    def minimize(self, start: torch.Tensor, *, rounds: int = 50) -> tuple[torch.Tensor, float]:
        """θ* by full-batch L-BFGS; returns (θ*, ‖∇F(θ*)‖)."""
        theta = start.detach().to(torch.float64).clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([theta], lr=1.0, max_iter=500, history_size=50,
                                      tolerance_grad=1e-12, tolerance_change=1e-15,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = self(theta)
            loss.backward()
            return loss

        for _ in range(rounds):   # restarts: one L-BFGS call stops at max_iter
            optimizer.step(closure)
            if self.gradient_norm(theta) < 1e-10:
                break
        return theta.detach(), self.gradient_norm(theta)

    def gradient_norm(self, vec: torch.Tensor) -> float:
        theta = vec.detach().to(torch.float64).clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(self(theta), theta)
        return float(grad.norm())


def honest_data(config: ExperimentConfig, train: ArrayDataset) -> ArrayDataset:
    """The union of the honest workers' data (the population plan of `simulate`)."""
    plan = plan_population(config, train.y.numpy())[0]
    indices = [w.data_indices for w in plan.workers if not w.byzantine]
    return train.subset(np.sort(np.concatenate(indices)))


# ---------------------------------------------------------------- the study

def run_convex(config_path: str | Path, out_dir: str | Path, *, progress: bool = True
               ) -> dict:
    """Run every rule of the study; write convex.csv, convex_gap.png and convex.md.

    Returns ``{"optimum": F*, "gradient_norm": ‖∇F(θ*)‖, "rules": {rule:
    {"gaps": [...], "final_gap": g, "first_round_below_target": r | None}}}``.
    """
    base, study = load_convex_config(config_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = load_experiment_data(base).train
    model = initial_model(base, train)
    objective = HonestObjective(model, honest_data(base, train), base.training.weight_decay)
    start = flatten(model.state_dict())
    theta_star, grad_norm = objective.minimize(start)
    optimum = objective.value(theta_star)
    rows, results = [], {}
    for rule in study.rules:
        gaps, accuracies = [objective.value(start) - optimum], [math.nan]

        def track(record: SimulatedRound, gaps=gaps, accuracies=accuracies) -> None:
            gaps.append(objective.value(record.model) - optimum)
            accuracies.append(record.accuracy)

        simulate(rule_config(base, study, rule), progress=progress, on_round=track)
        below = next((r for r, g in enumerate(gaps) if g < study.target_gap), None)
        results[rule] = {"gaps": gaps, "final_gap": gaps[-1], "first_round_below_target": below}
        rows += [{"rule": rule, "round": r, "objective": f"{g + optimum:.12g}",
                  "gap": f"{g:.6e}", "accuracy": "" if math.isnan(a) else f"{a:.4f}"}
                 for r, (g, a) in enumerate(zip(gaps, accuracies))]
    summary = {"optimum": optimum, "gradient_norm": grad_norm,
               "target_gap": study.target_gap, "rules": results}
    write_csv(out / "convex.csv", rows)
    plot_gaps(results, study.target_gap, base, out / "convex_gap.png")
    text = convex_markdown(summary, base)
    (out / "convex.md").write_text(text)
    print(text)
    return summary


def rule_config(base: ExperimentConfig, study: ConvexSection, rule: str) -> ExperimentConfig:
    aggregation = dataclasses.replace(base.aggregation, rule=rule,
                                      params=dict(study.rule_params.get(rule, {})))
    network = dataclasses.replace(base.networks[0], rule=None)
    return dataclasses.replace(base, aggregation=aggregation, networks=[network])


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["rule", "round", "objective", "gap",
                                                    "accuracy"])
        writer.writeheader()
        writer.writerows(rows)


def plot_gaps(results: dict, target: float, base: ExperimentConfig, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = base.networks[0]
    fig, ax = plt.subplots(figsize=(7.6, 4.2))
    for rule, result in results.items():
        # A gap can reach 0 or dip below it by float rounding; the log axis needs > 0.
        gaps = [max(g, 1e-12) for g in result["gaps"]]
        ax.plot(range(len(gaps)), gaps, label=rule, linewidth=2 if rule == "softmax" else 1.2)
    if target > 0:
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("F(θ_t) − F(θ*)  (honest data)")
    ax.set_title(f"logistic regression, {net.byzantine_workers}/{net.workers} Byzantine "
                 f"({net.attack})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the lines
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def convex_markdown(summary: dict, base: ExperimentConfig) -> str:
    net = base.networks[0]
    lines = ["# Convex convergence", "",
             f"Logistic regression on `{base.data.dataset}`, {net.workers} workers of which "
             f"{net.byzantine_workers} Byzantine ({net.attack}), {base.experiment.rounds} rounds. "
             f"F* = {summary['optimum']:.10f} (L-BFGS, float64, ‖∇F(θ*)‖ = "
             f"{summary['gradient_norm']:.1e}).", "",
             f"| rule | final gap | first round with gap < {summary['target_gap']:g} |",
             "|---|---|---|"]
    for rule, result in summary["rules"].items():
        below = result["first_round_below_target"]
        lines.append(f"| {rule} | {result['final_gap']:.3e} | "
                     f"{below if below is not None else 'not reached'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``poft bench convex CONFIG [--out DIR]``; returns the exit status."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="poft bench convex",
        description="Optimality gap to the centralized optimum (honest data) by round, for "
                    "softmax and the baselines; writes convex.csv, convex_gap.png, convex.md.")
    parser.add_argument("config", help="convex study config, e.g. examples/convex.toml")
    parser.add_argument("--out", type=output_path, default="runs/convex",
                        help="output folder (default: runs/convex)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    # Bad input (InputError, a missing file) goes up to `poft`'s main, which says it in one
    # line; a plain ValueError from here on is a bug and is reported as one.
    run_convex(args.config, args.out, progress=not args.no_progress)
    out = Path(args.out)
    print(f"results: {out / 'convex.csv'}, {out / 'convex.md'}, {out / 'convex_gap.png'}")
    return 0


__all__ = ["ConvexSection", "HonestObjective", "load_convex_config", "honest_data",
           "run_convex", "main"]
