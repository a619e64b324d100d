"""bench/figures.py and bench/run_all.py: verdicts, the results file, one table."""

import argparse
import json
import math

import pytest

import bench.figures as figures  # noqa: E402  (bench/figures.py)
import bench.run_all as run_all  # noqa: E402  (bench/run_all.py)
from bench.figures import at_least, at_most, context  # noqa: E402


def test_verdicts_follow_the_direction_of_the_goal():
    assert at_least("a", 3.0, 3.0, "x").holds is True
    assert at_least("a", 2.9, 3.0, "x").holds is False
    assert at_most("b", 1.05, 1.05, "x").holds is True
    assert at_most("b", 1.06, 1.05, "x").holds is False
    assert at_most("b", math.nan, 1.05, "x").holds is False     # a broken measure never holds
    assert context("c", 12.0, "s").holds is None


def test_results_file_has_only_targeted_figures_and_merges(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"older": {"value": 1, "target": 1, "holds": True, "unit": "x"}}))
    figures.write_results([at_most("ledger_overhead", 1.2, 1.05, "x"), context("wall", 3.0, "s")],
                          path)
    written = json.loads(path.read_text())
    assert written["ledger_overhead"] == {"value": 1.2, "target": 1.05, "holds": False, "unit": "x"}
    assert "wall" not in written and "older" in written


def test_table_shows_goal_and_verdict_per_figure():
    text = figures.table([at_least("speedup", 0.72, 3.0, "x", "vmap vs loop"),
                          context("gas", 126_989.0, "gas")])
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["figure", "value", "unit", "goal", "holds"]
    assert "0.72" in lines[2] and ">= 3" in lines[2] and "NO" in lines[2]
    assert "126,989" in lines[3]


def test_a_failing_benchmark_is_reported_and_the_others_still_run(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_import(module):
        name = module.removeprefix("bench.")
        calls.append(name)
        if name == "commitment":
            raise RuntimeError("boom")
        return type("M", (), {"figures": staticmethod(
            lambda quick: [at_least(f"{name}_figure", 1.0, 0.5, "x")])})

    monkeypatch.setattr(run_all.importlib, "import_module", fake_import)
    out = tmp_path / "r.json"
    status = run_all.main(["--quick", "--only", "commitment", "onchain_bytes", "--out", str(out)])
    assert status == 1 and calls == ["commitment", "onchain_bytes"]
    assert list(json.loads(out.read_text())) == ["onchain_bytes_figure"]
    assert "FAILED commitment: RuntimeError: boom" in capsys.readouterr().out


@pytest.mark.parametrize("text, error", [("0", "at least one repeat"), ("-2", "at least one"),
                                         ("three", "not a whole number"), ("1.5", "whole")])
def test_repeats_flag_refuses_what_gives_no_median(text, error):
    with pytest.raises(argparse.ArgumentTypeError, match=error):
        figures.repeats_arg(text)
    assert figures.repeats_arg("3") == 3


def test_median_item_is_a_real_item_the_lower_middle_for_even_counts():
    runs = [{"r": 3.0}, {"r": 1.0}, {"r": 2.0}, {"r": 4.0}]
    assert figures.median_item(runs[:3], lambda x: x["r"]) == {"r": 2.0}
    assert figures.median_item(runs, lambda x: x["r"]) == {"r": 2.0}
