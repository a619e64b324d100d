"""The command line explains itself: --version, help for every option, a description for
every command, and a command missing its next word prints its help (exit 2, no traceback)."""

from __future__ import annotations

import argparse

import pytest

from poft import __version__, cli
from poft.experiment import robustness


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"poft {__version__}"


@pytest.mark.parametrize("argv, shows", [
    ([], "COMMAND"),
    (["bench"], "robustness,convex"),
    (["chain"], "up"),
    (["store"], "serve"),
])
def test_a_command_without_its_next_word_prints_its_help(capsys, argv, shows):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: poft") and shows in err and "Traceback" not in err


def parsers(parser, path=("poft",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def test_every_command_has_a_description_and_every_option_help():
    missing = []
    for path, parser in parsers(cli.build_parser()):
        if len(path) > 1 and not parser.description:
            missing.append(f"{' '.join(path)}: description")
        for action in parser._actions:
            if not isinstance(action, (argparse._SubParsersAction, argparse._HelpAction)) \
                    and not action.help:
                missing.append(f"{' '.join(path)} {action.option_strings or action.dest}")
    assert not missing


def test_rule_lists_say_mean_is_fedavg(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    assert "mean (FedAvg)" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        robustness.main(["--help"])
    out = capsys.readouterr().out
    assert "mean is FedAvg" in " ".join(out.split())
    assert "--seeds S,T" in out and "e.g. 0,1" in out
