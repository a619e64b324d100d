"""report.html: one self-contained page saying what ran, what it gave and what it cost.

Sections: the resolved setup (backend, seed, model, data, partitions; per
network the rule and its parameters, attack, Byzantine fraction, committee,
import policy); results per network (finalized rounds, failed proposals, final
accuracy, the Byzantine workers' share of the rewards, the full final root);
accuracy and the Byzantine workers' weight by round; the weight of every
candidate; rewards and slashing by participant class; gas by role; imports
with their weights; every round's model root; time and the cross-chain
exchange. Every plot has one sentence on how to read it. Figures: `plots`.
"""

from __future__ import annotations

import html
import json

from poft.outputs.economics import CLASSES, ROLES
from poft.outputs.plots import (
    CLASS_LABELS,
    by_network,
    plot_accuracy,
    plot_byzantine_weight,
    plot_gas,
    plot_money,
    plot_phase_times,
    plot_weights,
)

STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
         "td.l,th.l{text-align:left}"
         "code.root{font-size:0.85em;user-select:all;word-break:break-all}"
         "p.how{color:#444;font-size:0.92em;margin-top:0.2em}"
         "img{max-width:100%}")


def render_report(title: str, summary: dict, records: list[dict]) -> str:
    """The whole page as a string."""
    groups = by_network(records)
    sections = [f"<h1>{html.escape(title)}</h1>"]
    if "setup" in summary:
        sections += setup_section(summary["setup"])
    sections += results_section(summary)
    sections += figure("Accuracy by round", plot_accuracy(records),
                       "Test accuracy of each network's finalized global model after each round, "
                       "on the held-out test set; higher is better, a flat line means the "
                       "round did not finalize or did not help.")
    if any(any(r["byzantine"]) for r in records):
        sections += figure("Byzantine weight by round", plot_byzantine_weight(records),
                           "The total aggregation weight the Byzantine workers' updates got in "
                           "each round (0 = ignored, 1 = the whole aggregate); a robust rule "
                           "keeps it near 0.")
    for name, recs in groups.items():
        sections += figure(f"Weights: {name}", plot_weights(recs, name),
                           "One row per candidate (a worker by its address, Byzantine in red; "
                           "cross-chain imports as 'import'), one column per round; a brighter "
                           "cell is a larger share of the aggregate and of the round's worker "
                           "rewards, a blank one no update that round.")
    sections += money_section(summary, groups)
    sections += gas_section(summary, groups)
    sections += imports_section(summary)
    sections += roots_section(records)
    sections += time_section(summary, records)
    sections += crosschain_section(summary)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>")


def setup_section(setup: dict) -> list[str]:
    cross = setup.get("crosschain")
    general = [["backend", setup["backend"]], ["seed", setup["seed"]],
               ["rounds", setup["rounds"]], ["model", setup["model"]], ["data", setup["data"]],
               ["split between networks", setup["network_partition"]],
               ["scoring samples per staker", setup["validator_samples"]],
               ["cross-chain exchange",
                f"every {cross['every']} round(s): {', '.join(cross['links'])}" if cross
                else "off"]]
    rows = []
    for name, n in setup["networks"].items():
        params = ", ".join(f"{k}={v}" for k, v in n["rule_params"].items()) or "none"
        attack = n["attack"] + (f" ({_kv(n['attack_params'])})" if n["attack_params"] else "")
        rows.append([name, n["rule"], params, attack,
                     f"{n['byzantine_fraction']:.3g} ({n['byzantine_workers']} of {n['workers']})",
                     n["partition"], f"{n['validators']} + {n['miners']} of {n['stakers']}",
                     n["lying_validators"], "yes" if n["malicious_miner"] else "no",
                     n["import_policy"]])
    return ["<h2>What ran</h2>", _table(["setting", "value"], general, left=2),
            _table(["network", "rule", "rule parameters", "attack", "Byzantine fraction",
                    "worker partition", "validators + miners of stakers", "lying validators",
                    "malicious miner", "import policy"], rows, left=6)]


def results_section(summary: dict) -> list[str]:
    rows = []
    for name, n in summary["networks"].items():
        rows.append([name, n["rounds"], n.get("finalized_rounds", ""),
                     n.get("failed_proposals", ""), n["final_accuracy"],
                     n.get("byzantine_reward_share", ""), _root(n["final_root"])])
    share = summary.get("byzantine_reward_share")
    note = ("" if share is None else f"<p>Byzantine workers' share of the workers' rewards, all "
            f"networks: <b>{share:.4g}</b></p>")
    return ["<h2>Results</h2>",
            _table(["network", "rounds", "finalized", "failed proposals", "final accuracy",
                    "Byzantine reward share", "final model root"], rows, raw={6}), note]


def money_section(summary: dict, groups: dict) -> list[str]:
    nets = summary["networks"]
    if not all("rewards" in n for n in nets.values()):
        return []
    rows = [[name, CLASS_LABELS[c], n["rewards"][c], n["slashed"][c]]
            for name, n in nets.items() for c in CLASSES]
    out = ["<h2>Rewards and slashing</h2>",
           _table(["network", "class", "rewarded (ether)", "slashed (ether)"], rows, left=2)]
    for name, recs in groups.items():
        out += figure(None, plot_money(recs, name),
                      "Ether credited per round by the ledger's settlement (workers by their "
                      "aggregation weight, validators per timely report) above the axis; stake "
                      "slashed (miners for rejected proposals, validators for missing reports) "
                      "below it.")
    return out


def gas_section(summary: dict, groups: dict) -> list[str]:
    totals = summary.get("gas_by_role", {})
    if not totals:
        return []
    rows = [[name, *[used.get(role, 0) for role in ROLES]] for name, used in totals.items()]
    out = ["<h2>Gas by role</h2>",
           _table(["network", *ROLES], rows),
           "<p class='how'>Total gas of the run per role that sent the transactions; "
           "<i>anyone</i> is opening rounds and advancing phases, <i>setup</i> deployment and "
           "registration.</p>"]
    for name, recs in groups.items():
        out += figure(None, plot_gas(recs, name),
                      "Gas used in each round, stacked by the role that paid it; a taller bar "
                      "is a more expensive round (e.g. a backup miner had to propose again).")
    return out


def imports_section(summary: dict) -> list[str]:
    rows = [[name, imp["round"], imp["weight"]] for name, n in summary["networks"].items()
            for imp in n.get("imports", [])]
    if not rows:
        return []
    return ["<h2>Imports</h2>",
            "<p class='how'>Each imported cross-chain model a network scored as a candidate, "
            "and the aggregation weight it received.</p>",
            _table(["network", "round", "weight"], rows, left=1)]


def roots_section(records: list[dict]) -> list[str]:
    rows = [[r["network"], r["round"], "yes" if r["finalized"] else "no", _root(r["model_root"])]
            for r in records]
    return ["<h2>Model roots</h2>",
            "<p class='how'>The global model's Merkle root after each round (click a root to "
            "select it; <code>poft verify</code> checks a model file against the chain).</p>",
            _table(["network", "round", "finalized", "model root"], rows, left=1, raw={3})]


def time_section(summary: dict, records: list[dict]) -> list[str]:
    t = summary["timing"]
    return ["<h2>Time</h2>",
            _table(["total s", "train s", "ledger s", "cross-chain s"],
                   [[t["total_s"], t["train_s"], t["ledger_s"], t["crosschain_s"]]]),
            *figure(None, plot_phase_times(records),
                    "Wall-clock seconds spent in each phase, summed over all rounds and "
                    "networks; the longest bar is where the run's time went.")]


def crosschain_section(summary: dict) -> list[str]:
    cross = summary.get("crosschain", {})
    if not (cross.get("imports") or cross.get("rejected")):
        return []
    parts = cross.get("breakdown_s", {})
    return ["<h2>Cross-chain exchange</h2>",
            _table(["imports", "rejected", "overhead fraction"] + [f"{p} s" for p in parts],
                   [[cross["imports"], cross["rejected"], cross["overhead_fraction"]]
                    + list(parts.values())])]


def figure(heading: str | None, uri: str, how_to_read: str) -> list[str]:
    if not uri:
        return []
    out = [f"<h2>{html.escape(heading)}</h2>"] if heading else []
    return out + [f'<img src="{uri}" alt="{html.escape(heading or how_to_read[:40])}">',
                  f"<p class='how'>{html.escape(how_to_read)}</p>"]


def _root(hex_root: str) -> str:
    text = hex_root if hex_root.startswith("0x") else "0x" + hex_root
    return f"<code class='root'>{html.escape(text)}</code>"


def _kv(params: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def _table(headers: list[str], rows: list[list], left: int = 1, raw: set[int] = frozenset()
           ) -> str:
    """A table; the first `left` columns align left, columns in `raw` are trusted HTML."""
    def cell(tag: str, i: int, value) -> str:
        css = " class='l'" if i < left or i in raw else ""
        text = value if i in raw else html.escape(_fmt(value))
        return f"<{tag}{css}>{text}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
