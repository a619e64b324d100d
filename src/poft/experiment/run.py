"""`poft run`: one experiment from a config, with its output folder.

Writes into the output folder (docs/architecture.md, "Output files"):
config.toml (resolved), metrics.jsonl (one record per network per round),
summary.json, report.html, models/<network>/round-<r>.safetensors,
deployment.json, and blobs/ (the content-addressed store of the run).

deployment.json and the chain journals are written as soon as the contracts
are deployed and again after every round, so the finished rounds of an
interrupted run can be verified (`poft verify`) and the run resumed
(`resume=True`, `poft run --resume`): the chains are brought back by executing
their journals, the participants' random generators from chain/resume.json, and
the run goes on from the last round it finished, to the same final model as an
uninterrupted run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from poft.config.experiment import ExperimentConfig, dump_config, load_config
from poft.drivers.inprocess.driver import InProcessDriver
from poft.drivers.setup import ExperimentInputs
from poft.errors import InputError
from poft.interrupts import raise_if_interrupted
from poft.outputs.folder import prepare_output
from poft.outputs.report import render_report
from poft.outputs.summary import build_summary


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True,
                   inputs: ExperimentInputs | None = None, resume: bool = False,
                   overwrite: bool = False, report: bool = True) -> dict:
    """Run every round of every network; return the summary (also written to disk).

    `inputs`: the user's own data and model (`poft.api`) in place of the config's.
    `out_dir` must be new or empty, unless `resume` (go on with the run in it) or
    `overwrite` (delete its run files first); otherwise InputError. `report=False` skips
    report.html (its plots take about half a second; `bench/overhead.py` times the
    protocol against a run that draws none)."""
    out = prepare_output(out_dir, resume=resume, overwrite=overwrite)
    if resume:
        check_same_run(config, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.toml").write_text(_note(inputs) + dump_config(config))
    started = time.perf_counter()
    driver = InProcessDriver(config, out, inputs)
    records: list[dict] = []
    rounds = config.experiment.rounds
    with driver:
        done = driver.resume(out) if resume else 0
        if done > rounds:
            raise InputError(f"cannot resume {str(out)!r} with {rounds} rounds: it already "
                             f"ran {done}; ask for at least {done} rounds")
        records = finished_records(out, done) if resume else []
        driver.save_progress(out)      # deployment.json as soon as the contracts are deployed
        raise_if_interrupted()         # a Ctrl-C that a library swallowed while setting up
        with (tqdm(total=rounds * len(driver.networks), initial=done * len(driver.networks),
                   disable=not progress, unit="round", desc=config.experiment.name,
                   dynamic_ncols=True) as bar,
              (out / "metrics.jsonl").open("w") as metrics):
            for rec in records:
                metrics.write(json.dumps(rec) + "\n")
            for _ in range(rounds - done):
                raise_if_interrupted()
                for record in driver.run_round():
                    rec = asdict(record)
                    records.append(rec)
                    metrics.write(json.dumps(rec) + "\n")
                    metrics.flush()
                    driver.save_model(out, record)
                    bar.update(1)
                    bar.set_postfix_str(" ".join(
                        f"{r['network']}={r['accuracy']:.3f}"
                        for r in records[-len(driver.networks):]))
                driver.save_progress(out)
        summary = build_summary(config, out, records, driver, time.perf_counter() - started,
                                model=inputs.model_label if inputs else None,
                                data=inputs.data_label if inputs else None)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if report:
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


def check_same_run(config: ExperimentConfig, out: Path) -> None:
    """A resumed run must have the interrupted run's config (only the rounds may grow)."""
    try:
        saved = load_config(out / "config.toml")
    except InputError as exc:
        raise InputError(f"cannot resume {str(out)!r}: its config.toml is unusable ({exc})"
                         ) from None
    if dump_config(saved.with_overrides(rounds=config.experiment.rounds)) != dump_config(config):
        raise InputError(f"cannot resume {str(out)!r}: the config differs from the interrupted "
                         "run's (its config.toml); only [experiment] rounds may change — use "
                         "the same config and --seed, or --overwrite to start again")


def finished_records(out: Path, rounds_done: int) -> list[dict]:
    """metrics.jsonl's records of the rounds a resumed run keeps (a round cut short by
    the interruption is run again)."""
    path = out / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:          # a line cut short by the interruption
            continue
    return [rec for rec in records if rec.get("round", rounds_done + 1) <= rounds_done]
