"""The command line tells bad input, Ctrl-C and bugs apart: exit 2, 130 and 1, one line each."""

from __future__ import annotations

import pytest

from poft import cli
from poft.errors import InputError, PoftError


def run(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err
    return status, err


def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    status, err = run(capsys, ["run", str(tmp_path / "missing.toml")])
    assert status == 2
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err


def test_out_of_bounds_override_is_refused_before_anything_runs(capsys, tmp_path):
    status, err = run(capsys, ["run", "examples/quickstart.toml", "--rounds", "0",
                               "--out", str(tmp_path / "out")])
    assert status == 2 and "experiment.rounds" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("study", ["robustness", "convex"])
def test_an_output_path_that_cannot_be_a_folder_is_named_not_numbered(capsys, tmp_path, study):
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    status, err = run(capsys, ["run", "examples/quickstart.toml", "--out", str(in_the_way / "sub")])
    assert status == 2
    assert err == f"poft run: error: cannot use {str(in_the_way / 'sub')!r}: Not a directory\n"
    config = {"robustness": "examples/robustness-small.toml", "convex": "examples/convex.toml"}
    status, err = run(capsys, ["bench", study, config[study], "--out", str(in_the_way)])
    assert status == 2
    assert err == f"poft bench {study}: error: cannot use {str(in_the_way)!r}: File exists\n"


def test_ctrl_c_exits_130_in_one_line(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "dispatch", interrupted)
    status, err = run(capsys, ["run", "examples/quickstart.toml"])
    assert status == 130 and err.strip() == "poft run: interrupted"


@pytest.mark.parametrize("verbose", [False, True])
def test_a_bug_is_reported_as_one_with_the_traceback_under_v(capsys, monkeypatch, verbose):
    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "dispatch", broken)
    status, err = run(capsys, ["run", "examples/quickstart.toml"] + (["-v"] if verbose else []))
    assert status == 1
    assert "this is a bug in poft" in err and "ZeroDivisionError: division by zero" in err
    assert ("Traceback" in err) == verbose


def test_a_value_error_inside_poft_is_a_bug_not_bad_input(capsys, monkeypatch):
    def broken(args):
        raise ValueError("internal invariant")

    monkeypatch.setattr(cli, "dispatch", broken)
    status, err = run(capsys, ["verify", "m.safetensors", "--deployment", "d.json"])
    assert status == 1 and "bug" in err


def test_v_is_accepted_before_and_after_the_command(capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "dispatch", lambda args: seen.append(args.verbose) or 0)
    assert cli.main(["-v", "run", "c.toml"]) == 0
    assert cli.main(["run", "c.toml", "-v"]) == 0
    assert cli.main(["run", "c.toml"]) == 0
    assert seen == [True, True, False]


def test_every_input_error_is_a_poft_error():
    from poft.config.schema import ConfigError
    from poft.drivers.chain.deployment import DeploymentError
    from poft.drivers.chain.keys import KeyLoadError
    from poft.drivers.node.identity import NodeSetupError
    from poft.learning.datasets import DatasetNotFoundError
    from poft.ledger import LedgerError
    from poft.store import StoreError

    for cls in (ConfigError, DeploymentError, KeyLoadError, NodeSetupError, DatasetNotFoundError):
        assert issubclass(cls, InputError)
    for cls in (LedgerError, StoreError):
        assert issubclass(cls, PoftError) and not issubclass(cls, InputError)


def test_a_port_out_of_range_is_refused_before_the_store_says_it_serves(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["store", "serve", str(tmp_path), "--port", "99999"])
    err = capsys.readouterr()
    assert exit_.value.code == 2 and "99999 is not a TCP port; use 0-65535" in err.err
    assert "store_serving" not in err.out + err.err


def test_an_unknown_flag_shows_the_usage_of_its_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "examples/quickstart.toml", "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("usage: poft run ") and err.endswith(
        "poft run: error: unrecognized arguments: --bogus\n")


@pytest.mark.parametrize("argv", [
    ["run", "examples/quickstart.toml", "--out", ""],
    ["bench", "robustness", "examples/robustness-small.toml", "--out", " "],
    ["bench", "convex", "examples/convex.toml", "--out", ""],
    ["chain", "up", "--config", "examples/two-networks.toml", "--out", ""],
])
def test_an_empty_out_is_refused_not_replaced_by_the_default(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.endswith("error: argument --out: an empty path; name where to write, "
                        "e.g. --out runs/q1\n")
