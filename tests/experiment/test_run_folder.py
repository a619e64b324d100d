"""`poft run`'s output folder: written as the run goes (an interrupted run can be
verified and resumed), never mixed with an older run's files."""

from __future__ import annotations

import json

import pytest

from poft.cli import main as poft
from poft.config.experiment import parse_config
from poft.drivers.inprocess.network import NetworkRuntime
from poft.errors import InputError
from poft.experiment.run import run_experiment
from poft.experiment.verify import verify_model


def tiny(rounds=3, seed=0):
    return parse_config({
        "experiment": {"name": "tiny", "rounds": rounds, "seed": seed, "threads": 1},
        "data": {"dataset": "digits", "validator_samples": 100},
        "model": {"name": "mlp", "hidden": 16},
        "training": {"lr": 0.05, "batch_size": 32},
        "ledger": {"phase_blocks": 40},
        "networks": [{"name": "alpha", "workers": 4, "stakers": 3, "validators": 2,
                      "miners": 1, "byzantine_fraction": 0.25, "attack": "gaussian"}],
    })


def interrupt_in_round(monkeypatch, round_id):
    """Ctrl-C in the middle of `round_id` (after its updates were submitted)."""
    original = NetworkRuntime.finalize

    def finalize(self, r, committee):
        if r == round_id:
            raise KeyboardInterrupt
        return original(self, r, committee)

    monkeypatch.setattr(NetworkRuntime, "finalize", finalize)


def final_root(out):
    return json.loads((out / "summary.json").read_text())["networks"]["alpha"]["final_root"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    run_experiment(tiny(), out, progress=False)
    return out


def test_interrupted_run_is_verifiable_and_resumes_to_the_same_model(tmp_path, monkeypatch,
                                                                      uninterrupted):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_in_round(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(tiny(), out, progress=False)
    assert (out / "deployment.json").is_file()
    result = verify_model(out / "models/alpha/round-2.safetensors", out / "deployment.json")
    assert result.ok, result.render()
    with pytest.raises(InputError, match="--resume"):
        run_experiment(tiny(), out, progress=False)
    summary = run_experiment(tiny(), out, progress=False, resume=True)
    assert summary["networks"]["alpha"]["rounds"] == 3
    assert final_root(out) == final_root(uninterrupted)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["round"] for line in lines] == [1, 2, 3]
    assert verify_model(out / "models/alpha/round-3.safetensors", out / "deployment.json",
                        recompute=True).ok


def test_resume_with_another_config_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_in_round(patch, 1)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(tiny(rounds=2), out, progress=False)
    with pytest.raises(InputError, match="config differs"):
        run_experiment(tiny(rounds=2, seed=1), out, progress=False, resume=True)


def test_a_folder_with_files_is_refused_overwrite_replaces_it(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "models" / "alpha").mkdir(parents=True)
    stale = out / "models" / "alpha" / "round-8.safetensors"
    stale.write_bytes(b"an older run's model")
    (out / "notes.txt").write_text("mine")
    config = str(tmp_path / "tiny.toml")
    (tmp_path / "tiny.toml").write_text(
        "[experiment]\nname='tiny'\nrounds=1\nthreads=1\n[data]\ndataset='digits'\n"
        "validator_samples=100\n[model]\nname='mlp'\nhidden=16\n[ledger]\nphase_blocks=40\n"
        "[[networks]]\nname='alpha'\nworkers=3\nstakers=3\nvalidators=2\nminers=1\n")
    assert poft(["run", config, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and "--overwrite" in err
    assert poft(["run", config, "--out", str(out), "--no-progress", "--overwrite"]) == 0
    assert not stale.exists() and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "models" / "alpha").iterdir()) == ["round-1.safetensors"]


def test_out_naming_a_file_is_one_line_exit_2(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x")
    assert poft(["run", "examples/quickstart.toml", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a folder" in err


def test_resume_of_an_empty_folder_and_resume_with_overwrite_are_refused(tmp_path, capsys):
    assert poft(["run", "examples/quickstart.toml", "--out", str(tmp_path), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        poft(["run", "examples/quickstart.toml", "--resume", "--overwrite"])
    assert exc.value.code == 2


def test_chain_restart_of_an_embedded_run_says_there_is_nothing_to_restart(uninterrupted,
                                                                           capsys):
    status = poft(["chain", "restart", "--deployment", str(uninterrupted / "deployment.json")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "nothing to restart" in err and "embedded run" in err
