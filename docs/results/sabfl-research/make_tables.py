"""Build the markdown tables of docs/results/sabfl-research.md from the CSVs.

    python docs/results/sabfl-research/make_tables.py > /tmp/tables.md

Sources: this folder's CSVs (robust_softmax and its ablations, the baselines on the
new attacks, Dirichlet 0.5) and ../robustness-fmnist-30/robustness-T0.1.csv (softmax,
mean, median, centered clipping and FLTrust on the seven old attacks, seeds 0 and 1).
"""
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ATTACKS = ["none", "label_flip", "sign_flip", "gaussian", "scaling", "alie", "ipm", "backdoor",
           "min_max", "min_sum", "gate_edge", "score_match"]
SHORT = {"none": "clean", "label_flip": "LF", "sign_flip": "SF", "gaussian": "gauss",
         "scaling": "scale", "alie": "ALIE", "ipm": "IPM", "backdoor": "BD", "min_max": "MinMax",
         "min_sum": "MinSum", "gate_edge": "gate-edge", "score_match": "score-match"}
# (file, label suffix of its robust_softmax rows); later files win on the same
# (rule, attack, partition, seed). The first screening ran robust_softmax at T = 1;
# t3.csv at T = 3 without momentum; momentum.csv at T = 3 with server momentum 0.5;
# discount.csv added the clip discount, the gated clipping radius and the duplicate
# split (copies sharing one weight); copies.csv reran the six attacks that send copies
# with duplicate_power 2 (the other attacks' cells cannot change): together they are
# the rule before the history test ("[no history]"). momentum07.csv is the slice at
# server momentum 0.7 (not chosen). history.csv added the workers' history test
# (16,384-bucket sketch); history-sketch4096.csv the same at 4,096 buckets,
# history-k3.csv with the likeness taken to the 3rd most alike history, history-mads2.csv
# with the limit at two spreads instead of three. radius-cap.csv capped the clipping
# radius at twice every admissible candidate's median norm; radius-all.csv took the
# radius over every admissible candidate instead. discount-admissible.csv is the rule
# as it is now: the clip discount measured against that median too.
SOURCES = [("../robustness-fmnist-30/robustness-T0.1.csv", ""),
           # every baseline's missing cells of the slice (Dirichlet 0.5, the four new
           # attacks), run with screening-history.toml on 2026-12-01
           ("baselines-all.csv", ""),
           ("base.csv", " [T=1]"), ("v2.csv", " [T=1]"), ("d05.csv", " [T=1]"),
           ("iid-final.csv", " [T=1]"), ("dir01-seed1.csv", " [T=1]"), ("d05-more.csv", " [T=1]"),
           ("gate0.csv", " [T=1, gate at 0]"), ("cosonly.csv", " [T=1, cosine score]"),
           ("cap2.csv", " [T=1, cap 2]"), ("cap1.csv", " [cap 1: gated clipped mean]"),
           ("t3.csv", " [T=3, no momentum]"),
           # the first momentum screening: Δ_prev from round 2 on (now from round 3)
           ("momentum-prototype.csv", " [momentum prototype]"),
           ("momentum.csv", " [momentum, no discount/split]"),
           ("discount.csv", " [no history]"), ("copies.csv", " [no history]"),
           ("momentum07.csv", " [β=0.7]"),
           ("history-sketch4096.csv", " [history, k=4096]"),
           ("history-k3.csv", " [history, 3rd nearest]"),
           ("history-mads2.csv", " [history, 2 spreads]"),
           ("history.csv", " [uncapped radius]"), ("radius-all.csv", " [radius over all]"),
           ("radius-cap.csv", " [discount vs c]"), ("discount-admissible.csv", ""),
           # the ablation of the rule as it is now, seed 0 (one part off each)
           ("ablation-nogate.csv", " [no gate]"), ("ablation-noclip.csv", " [no clipping]"),
           ("ablation-cosine.csv", " [cosine score]"),
           ("ablation-nomomentum.csv", " [no momentum]"),
           ("ablation-nohistory.csv", " [no history test]")]
ABLATIONS = ["robust_softmax [no gate]", "robust_softmax [no clipping]",
             "robust_softmax [cosine score]", "robust_softmax [no momentum]",
             "robust_softmax [no history test]"]
RULES = ["robust_softmax", *ABLATIONS, "robust_softmax [discount vs c]", "robust_softmax [uncapped radius]", "robust_softmax [radius over all]",
         "robust_softmax [no history]", "robust_softmax [history, k=4096]",
         "robust_softmax [history, 3rd nearest]", "robust_softmax [history, 2 spreads]",
         "robust_softmax [β=0.7]", "robust_softmax [momentum, no discount/split]",
         "robust_softmax [T=3, no momentum]", "robust_softmax [T=1]",
         "robust_softmax [T=1, cap 2]",
         "robust_softmax [cap 1: gated clipped mean]", "robust_softmax [T=1, gate at 0]",
         "robust_softmax [T=1, cosine score]", "robust_softmax [momentum prototype]",
         "softmax", "mean", "median", "trimmed_mean", "krum", "multi_krum",
         "geometric_median", "centered_clipping", "fltrust", "bulyan"]
BASELINES = RULES[RULES.index("softmax"):]
SABFL = {r for r in RULES if r.startswith("robust_softmax")}
PARTITIONS = ["iid", "dirichlet:0.5", "dirichlet:0.1"]


def load():
    """Every cell of the CSVs, keyed by (rule, attack, partition, seed)."""
    cells = {}
    for name, suffix in SOURCES:
        path = HERE / name
        if not path.is_file():
            continue
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if float(row["byzantine_fraction"]) not in (0.0, 0.3):
                    continue
                rule = row["aggregator"] + (suffix if row["aggregator"] == "robust_softmax"
                                            else "")
                cells[(rule, row["attack"], row["partition"], int(row["seed"]))] = row
    return cells


def last3(row):
    """Mean accuracy over the last three rounds (the final round swings on Dirichlet 0.1)."""
    rounds = [float(x) for x in row["accuracy_by_round"].split()]
    return sum(rounds[-3:]) / len(rounds[-3:])


def final(row):
    """A cell's final test accuracy."""
    return float(row["final_accuracy"])


def worst(cells, rule, partition, seed, attacks=None, stat=final):
    """A rule's worst attacked cell (value, attack) in one partition and seed."""
    found = [(stat(cells[k]), k[1]) for k in cells
             if k[0] == rule and k[2] == partition and k[3] == seed and k[1] != "none"
             and (attacks is None or k[1] in attacks)]
    return min(found) if found else None


def grid_tables(cells):
    """The markdown tables, one per partition."""
    out = []
    for partition in PARTITIONS:
        for seed in sorted({k[3] for k in cells if k[2] == partition
                            and k[0] == "robust_softmax"}):
            rules = [r for r in RULES if any(k[0] == r and k[2] == partition and k[3] == seed
                                             for k in cells)]
            out.append(f"### {partition}, seed {seed}\n")
            head = ["rule"] + [SHORT[a] for a in ATTACKS] + ["worst", "BD success",
                                                              "Byz. weight (max)",
                                                              "Byz. reward share (max)"]
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            for rule in rules:
                line = [rule]
                for attack in ATTACKS:
                    row = cells.get((rule, attack, partition, seed))
                    line.append(f"{float(row['final_accuracy']):.3f}" if row else "·")
                w = worst(cells, rule, partition, seed)
                line.append(f"**{w[0]:.3f}** ({SHORT[w[1]]})" if w else "·")
                bd = cells.get((rule, "backdoor", partition, seed))
                line.append(f"{float(bd['backdoor_success']):.2f}" if bd else "·")
                if rule in SABFL:
                    weights = [float(cells[k]["byzantine_weight"]) for k in cells
                               if k[0] == rule and k[2] == partition and k[3] == seed
                               and k[1] != "none"]
                    line.append(f"{max(weights):.3f}" if weights else "·")
                    shares = [float(cells[k]["byzantine_reward_share"]) for k in cells
                              if k[0] == rule and k[2] == partition and k[3] == seed
                              and cells[k].get("byzantine_reward_share")]
                    line.append(f"{max(shares):.3f}" if shares else "·")
                else:
                    line += ["-", "-"]
                out.append("| " + " | ".join(line) + " |")
            out.append("")
    return "\n".join(out)


def worst_table(cells, stat=final):
    """robust_softmax (now, with the discount against the radius, with the radius
    uncapped, without the history test, before the discount and split, without
    momentum, and at T = 1) vs FLTrust vs centered clipping: worst case and clean per
    cell."""
    rules = ["robust_softmax", "robust_softmax [discount vs c]", "robust_softmax [uncapped radius]",
             "robust_softmax [no history]",
             "robust_softmax [momentum, no discount/split]",
             "robust_softmax [T=3, no momentum]", "robust_softmax [T=1]",
             "fltrust", "centered_clipping"]
    REQUIRED = {"robust_softmax", "fltrust", "centered_clipping"}   # the others: where they ran
    out = ["| partition, seed | attacks run by all | " + " | ".join(
        f"{r}: worst [clean]" for r in rules) + " | " + " | ".join(
        f"{r}: worst, all its attacks" for r in rules) + " |",
        "|" + "---|" * (2 + 2 * len(rules))]
    for partition in PARTITIONS:
        for seed in sorted({k[3] for k in cells if k[2] == partition}):
            sets = [{k[1] for k in cells if k[0] == r and k[2] == partition and k[3] == seed
                     and k[1] != "none"} for r in rules]
            if not all(s for r, s in zip(rules, sets) if r in REQUIRED):
                continue
            common = set.intersection(*(s for r, s in zip(rules, sets) if r in REQUIRED))
            line = [f"{partition}, {seed}", str(len(common))]
            for rule in rules:
                w = worst(cells, rule, partition, seed, common, stat)
                clean = cells.get((rule, "none", partition, seed))
                c = f"{stat(clean):.3f}" if clean else "·"
                line.append(f"{w[0]:.3f} ({SHORT[w[1]]}) [{c}]" if w else "·")
            for rule, s in zip(rules, sets):
                w = worst(cells, rule, partition, seed, None, stat)
                line.append(f"{w[0]:.3f} ({SHORT[w[1]]}, {len(s)})" if w else "·")
            out.append("| " + " | ".join(line) + " |")
    return "\n".join(out)


def every_rule_table(cells, stat=final):
    """Each rule (robust_softmax as it is now, softmax and the baselines): its worst case
    over the attacks it ran [its clean accuracy], per partition and seed."""
    columns = [(p, s) for p in PARTITIONS for s in (0, 1)]
    out = ["| rule | " + " | ".join(f"{p}, {s}" for p, s in columns) + " |",
           "|" + "---|" * (1 + len(columns))]
    for rule in ["robust_softmax"] + BASELINES:
        line = [rule]
        for partition, seed in columns:
            w = worst(cells, rule, partition, seed, None, stat)
            clean = cells.get((rule, "none", partition, seed))
            runs = sum(1 for k in cells if k[0] == rule and k[2] == partition and k[3] == seed)
            line.append(f"{w[0]:.3f} ({SHORT[w[1]]}) [{stat(clean):.3f}]{'' if runs == 12 else f' ({runs} of 12)'}"
                        if w and clean else "·")
        out.append("| " + " | ".join(line) + " |")
    return "\n".join(out)


def ablation_table(cells, seed=0):
    """The rule as it is now with one part off at a time: per partition, worst case
    (attack) [clean], the mean over the 12 cells, the backdoor's success and the largest
    Byzantine reward share."""
    out = ["| rule | " + " | ".join(f"{p}: worst [clean]; mean of 12; backdoor; max share (any attack)"
                                    for p in PARTITIONS) + " |",
           "|" + "---|" * (1 + len(PARTITIONS))]
    for rule in ["robust_softmax"] + ABLATIONS:
        line = [rule]
        for partition in PARTITIONS:
            mine = {k[1]: v for k, v in cells.items()
                    if k[0] == rule and k[2] == partition and k[3] == seed}
            if len(mine) < 12:
                line.append(f"· ({len(mine)} of 12)")
                continue
            w = worst(cells, rule, partition, seed)
            mean = sum(final(v) for v in mine.values()) / len(mine)
            share = max(float(v["byzantine_reward_share"]) for a, v in mine.items() if a != "none")
            line.append(f"{w[0]:.3f} ({SHORT[w[1]]}) [{final(mine['none']):.3f}]; {mean:.3f}; "
                        f"{float(mine['backdoor']['backdoor_success']):.2f}; {100 * share:.1f}%")
        out.append("| " + " | ".join(line) + " |")
    return "\n".join(out)


def goals_table(cells, stat=final):
    """The issue's goals for robust_softmax against the best of every other rule that ran
    all 12 cells (11 attacks and clean) of the partition and seed."""
    out = ["| partition, seed | worst case vs best other rule's | clean vs best other rule's "
           "(goal: at most 1 point under) | backdoor success (its reward share) | "
           "max reward share, other attacks |", "|---|---|---|---|---|"]
    for partition in PARTITIONS:
        for seed in (0, 1):
            full = [r for r in BASELINES if sum(1 for k in cells if k[0] == r and
                                                k[2] == partition and k[3] == seed) == 12]
            if not full or ("robust_softmax", "none", partition, seed) not in cells:
                continue
            mine = worst(cells, "robust_softmax", partition, seed, None, stat)
            best = max((worst(cells, r, partition, seed, None, stat)[0], r) for r in full)
            clean = stat(cells[("robust_softmax", "none", partition, seed)])
            best_clean = max((stat(cells[(r, "none", partition, seed)]), r) for r in full)
            bd = cells[("robust_softmax", "backdoor", partition, seed)]
            shares = [(float(cells[k]["byzantine_reward_share"]), k[1]) for k in cells
                      if k[0] == "robust_softmax" and k[2] == partition and k[3] == seed
                      and k[1] not in ("none", "backdoor")]
            share = max(shares)
            out.append("| " + " | ".join([
                f"{partition}, {seed}",
                f"{mine[0]:.3f} ({SHORT[mine[1]]}) vs {best[0]:.3f} ({best[1]}) "
                + ("✓" if mine[0] >= best[0] else "✗"),
                f"{clean:.3f} vs {best_clean[0]:.3f} ({best_clean[1]}) "
                + ("✓" if clean >= best_clean[0] - 0.01 else "✗"),
                f"{float(bd['backdoor_success']):.2f} ({100 * float(bd['byzantine_reward_share']):.1f}%) "
                + ("✓" if float(bd["backdoor_success"]) <= 0.1 else "✗"),
                f"{100 * share[0]:.1f}% ({SHORT[share[1]]}) " + ("✓" if share[0] <= 0.05 else "✗"),
            ]) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    cells = load()
    print(goals_table(cells))
    print()
    print("The same over the mean of the last three rounds:\n")
    print(goals_table(cells, last3))
    print()
    print(every_rule_table(cells))
    print()
    print(ablation_table(cells))
    print()
    print(worst_table(cells))
    print()
    print("Mean of the last three rounds instead of the final round:\n")
    print(worst_table(cells, last3))
    print()
    print(grid_tables(cells))
