"""Ctrl-C (a real SIGINT) during `python -m poft run`: one line, exit 130, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = """
[experiment]
name = "tiny"
rounds = 50
threads = 1
[data]
dataset = "digits"
validator_samples = 100
[model]
name = "mlp"
hidden = 16
[ledger]
phase_blocks = 40
[[networks]]
name = "alpha"
workers = 3
stakers = 3
validators = 2
miners = 1
"""


def wait_for(predicate, proc, timeout=240.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.05)


@pytest.mark.parametrize("when", ["setup", "rounds"])
def test_sigint_prints_one_line_and_exits_130(tmp_path, when):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # As from a terminal: a suite started in the background by a non-interactive shell
    # (`bash .ci/run &`) passes SIGINT on ignored, and Python then keeps ignoring it.
    proc = subprocess.Popen([sys.executable, "-m", "poft", "run", str(config), "--out", str(out),
                             "--no-progress"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        if when == "setup":      # building the chains (contracts compiled and deployed)
            wait_for(lambda: (out / "config.toml").is_file(), proc)
        else:                    # between and inside rounds
            metrics = out / "metrics.jsonl"
            wait_for(lambda: metrics.is_file() and metrics.read_text().count("\n") >= 1, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr == "poft run: interrupted\n", stderr
    assert "Traceback" not in stdout


def test_ctrl_c_exits_130_even_when_cpython_saw_it_unhandled_on_its_way(tmp_path):
    """A KeyboardInterrupt that passed through Python run by a C extension (PyRun_*) sets
    CPython's unhandled-interrupt flag; `python -m poft` must still exit 130 (the old
    `sys.exit(main())` ended by killing itself with SIGINT: status -2)."""
    (tmp_path / "interrupted_poft.py").write_text(
        "import ctypes\n"
        "from poft import cli\n"
        "def interrupted(args):\n"
        "    ctypes.c_int.in_dll(ctypes.pythonapi, '_Py_UnhandledKeyboardInterrupt').value = 1\n"
        "    raise KeyboardInterrupt\n"
        "cli.dispatch = interrupted\n"
        "exec(open(cli.__file__.replace('cli.py', '__main__.py')).read())\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path)])}
    proc = subprocess.run([sys.executable, "-m", "interrupted_poft", "run", "x.toml"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr == "poft run: interrupted\n"


def test_ctrl_c_caught_in_a_finaliser_is_delivered_again(monkeypatch):
    """Python runs the SIGINT handler at the next bytecode, and in the embedded EVM that
    is often a `__del__` (pycryptodome frees a hash object after every keccak): the
    KeyboardInterrupt cannot leave a finaliser, CPython reports it as "Exception
    ignored", and about one Ctrl-C in a hundred let the run go on to its end."""
    from poft.interrupts import redeliver_interrupts

    monkeypatch.setattr(sys, "unraisablehook", redeliver_interrupts)

    class Finalised:
        def __del__(self):
            raise KeyboardInterrupt       # what the handler does when it runs here

    with pytest.raises(KeyboardInterrupt):
        Finalised()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.001)


def test_an_error_that_follows_ctrl_c_is_reported_as_the_interrupt(monkeypatch, capsys):
    """Ctrl-C while sklearn imported numpy surfaced as a RecursionError (numpy's lazy
    `__getattr__` retried its import ~900 times), which `poft run` called a bug."""
    from poft import cli, interrupts

    def interrupted_then_broken(args):
        with pytest.raises(KeyboardInterrupt):
            interrupts.note_interrupt(signal.SIGINT, None)      # the handler `entry` installs
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(cli, "dispatch", interrupted_then_broken)
    try:
        assert cli.main(["run", "x.toml"]) == 130
    finally:
        interrupts.INTERRUPTED.clear()
    assert capsys.readouterr().err == "poft run: interrupted\n"


def test_a_ctrl_c_swallowed_while_setting_up_stops_the_run_before_its_rounds(tmp_path, capsys):
    """Ctrl-C inside an extension module's initialisation (numpy's, while scikit-learn
    imports it) came out as an ImportError that a library caught: the run went on to
    its end and exited 0 (test_sigint_prints_one_line_and_exits_130[setup] failed so)."""
    from poft import cli, interrupts

    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    interrupts.INTERRUPTED.set()          # note_interrupt ran; its exception was lost
    try:
        status = cli.main(["run", str(config), "--out", str(tmp_path / "out"), "--no-progress"])
    finally:
        interrupts.INTERRUPTED.clear()
    assert status == 130 and capsys.readouterr().err == "poft run: interrupted\n"
    assert (tmp_path / "out" / "deployment.json").is_file()         # set up, then stopped
    assert not (tmp_path / "out" / "metrics.jsonl").exists()        # before any round
