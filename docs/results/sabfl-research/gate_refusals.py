"""Diagnostic, not part of poft: what the direction gate refuses, and the median
contribution score ``S`` of what it refuses, honest and Byzantine, per attack.

    PYTHONPATH=src python docs/results/sabfl-research/gate_refusals.py OUT ATTACKS \
        CONFIG [poft bench robustness slice flags, one partition, one seed]

Runs each attack of the comma-separated ATTACKS as its own slice (``--jobs 1``: the
patch lives in this process) under ``OUT/ATTACK`` and prints, per attack, how many
candidates the gate refused over the run (``C_i <= z/√d``) and how many of those had
``S_i`` over 0, 0.5 and 1: whether the contribution score could let a refused
honest update back in without letting an attacker's in.
"""
import sys

import poft.aggregation.robust_softmax as rule
import poft.drivers.simulation as simulation
import poft.protocol.aggregate as aggregate
from poft.experiment import robustness

byzantine: list[bool] = []
seen: list[tuple[bool, float, bool]] = []      # (byzantine, S, passed the gate)

through = simulation.SimNetwork.history_through


def history_through(self, order, theta, candidates):
    """The simulation's own, noting which candidates of the round are Byzantine."""
    byzantine[:] = [self.workers[w].plan.byzantine for w in order]
    return through(self, order, theta, candidates)


weights = rule.robust_weights


def robust_weights(reports, deltas, params, admissible=None, history=None):
    """The rule's own, noting each candidate's ``S`` and whether it passed the gate."""
    n, dim = deltas.shape
    value, _, ok = rule._passing(reports, n, clamp=params.get("clamp", rule.DEFAULT_CLAMP),
                                 gate=True, score="contribution", admissible=admissible,
                                 dim=dim, gate_z=params.get("gate_z", rule.DEFAULT_GATE_Z))
    seen.extend(zip(byzantine, value, ok))
    return weights(reports, deltas, params, admissible, history)


simulation.SimNetwork.history_through = history_through
aggregate.robust_weights = robust_weights

out, attacks, *rest = sys.argv[1:]
for attack in attacks.split(","):
    seen.clear()
    robustness.main([*rest, "--out", f"{out}/{attack}", "--jobs", "1", "--attacks", attack,
                     "--aggregators", "robust_softmax", "--no-progress"])
    for who, label in ((False, "honest"), (True, "Byzantine")):
        refused = [s for b, s, k in seen if b == who and not k]
        over = ", ".join(f"S>{t}: {sum(s > t for s in refused)}" for t in (0, 0.5, 1))
        top = max(refused, default=float("nan"))
        print(f"{attack:12s} {label:9s} refused {len(refused):3d} of "
              f"{sum(b == who for b, _, _ in seen):3d} ({over}; max S {top:+.2f})")
