"""`poft run`: one experiment from a config, with its output folder.

Writes into the output folder (docs/architecture.md, "Output files"):
config.toml (resolved), metrics.jsonl (one record per network per round),
summary.json, report.html, models/<network>/round-<r>.safetensors,
deployment.json, and blobs/ (the content-addressed store of the run).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from poft.config.experiment import ExperimentConfig, dump_config
from poft.drivers.inprocess.driver import InProcessDriver
from poft.drivers.setup import ExperimentInputs
from poft.outputs.report import render_report
from poft.outputs.summary import build_summary


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True,
                   inputs: ExperimentInputs | None = None) -> dict:
    """Run every round of every network; return the summary (also written to disk).
    `inputs`: the user's own data and model (`poft.api`) in place of the config's."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.toml").write_text(_note(inputs) + dump_config(config))
    started = time.perf_counter()
    driver = InProcessDriver(config, out, inputs)
    records: list[dict] = []
    rounds = config.experiment.rounds
    bar = tqdm(total=rounds * len(driver.networks), disable=not progress, unit="round",
               desc=config.experiment.name, dynamic_ncols=True)
    with driver, (out / "metrics.jsonl").open("w") as metrics:
        for _ in range(rounds):
            for record in driver.run_round():
                rec = asdict(record)
                records.append(rec)
                metrics.write(json.dumps(rec) + "\n")
                metrics.flush()
                driver.save_model(out, record)
                bar.update(1)
                bar.set_postfix_str(" ".join(
                    f"{r['network']}={r['accuracy']:.3f}" for r in records[-len(driver.networks):]))
        bar.close()
        (out / "deployment.json").write_text(json.dumps(driver.deployment_info(out), indent=2))
        summary = build_summary(config, out, records, driver, time.perf_counter() - started,
                                model=inputs.model_label if inputs else None,
                                data=inputs.data_label if inputs else None)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "report.html").write_text(render_report(config.experiment.name, summary, records))
    return summary


def _note(inputs: ExperimentInputs | None) -> str:
    """config.toml's header when the Python API replaced the config's data or model."""
    lines = []
    if inputs is not None and inputs.train is not None:
        lines.append(f"# data: {inputs.data_label or 'own data'}, given through poft.api "
                     "([data] dataset is not used)")
    if inputs is not None and inputs.model_fn is not None:
        lines.append(f"# model: {inputs.model_label or 'own model'}, given through poft.api "
                     "([model] is not used)")
    return "".join(line + "\n" for line in lines)
