"""`poft bench robustness`: the grid, its outputs, resuming, and config errors."""

import csv
import textwrap

import pytest

from poft import cli
from poft.config.experiment import ConfigError
from poft.experiment import robustness
from poft.experiment.robustness import load_robustness_config, run_robustness
from poft.experiment.robustness_report import summarize

BASE = """
[experiment]
name = "tiny-grid"
rounds = {rounds}
threads = 1

[data]
dataset = "digits"
validator_samples = 100

[model]
name = "cnn"

[training]
local_epochs = 2
lr = 0.1

[aggregation]
temperature = 0.05

[[networks]]
name = "digits"
workers = 10
stakers = 4
validators = 3
miners = 1
"""


def write_config(tmp_path, grid: str, rounds: int = 2, name: str = "grid.toml"):
    path = tmp_path / name
    path.write_text(BASE.format(rounds=rounds) + "\n[grid]\n" + textwrap.dedent(grid))
    return path


@pytest.fixture
def counted(monkeypatch):
    """Counts the cells that actually run (one `simulate` call each)."""
    calls = []
    real = robustness.simulate

    def counting(config, **kwargs):
        calls.append(config)
        return real(config, **kwargs)

    monkeypatch.setattr(robustness, "simulate", counting)
    return calls


def rows_of(out):
    with (out / "robustness.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_softmax_worst_case_over_attacks_is_not_below_means(tmp_path):
    config = write_config(tmp_path, """
        aggregators = ["softmax", "mean"]
        attacks = ["none", "sign_flip", "label_flip"]
        byzantine_fractions = [0.0, 0.3]
        partitions = ["iid"]
        seeds = [0]
    """, rounds=3)
    rows = run_robustness(config, tmp_path / "out", progress=False)
    assert len(rows) == 2 * 3
    overall = {s["aggregator"]: s for s in summarize(rows) if s["byzantine_fraction"] == "all"}
    assert float(overall["softmax"]["worst_accuracy"]) >= float(overall["mean"]["worst_accuracy"])
    for name in ("summary.md", "summary.csv", "heatmap.png", "accuracy_by_round.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "| softmax |" in (tmp_path / "out" / "summary.md").read_text()


def test_resume_runs_only_the_missing_cells(tmp_path, counted):
    grid = """
        aggregators = ["softmax", "mean"{extra}]
        attacks = ["sign_flip"]
        byzantine_fractions = [0.2]
        partitions = ["dirichlet:0.5"]
        seeds = [0]
    """
    out = tmp_path / "out"
    run_robustness(write_config(tmp_path, grid.format(extra=""), rounds=1), out, progress=False)
    assert len(counted) == 2
    first = rows_of(out)
    run_robustness(write_config(tmp_path, grid.format(extra=', "median"'), rounds=1), out,
                   progress=False)
    assert len(counted) == 3
    assert counted[-1].aggregation.rule == "median"
    rows = rows_of(out)
    assert rows[:2] == first                       # finished cells are kept as they were
    assert [r["aggregator"] for r in rows] == ["softmax", "mean", "median"]
    row = rows[2]
    assert (row["attack"], row["byzantine_fraction"], row["partition"], row["seed"]) == \
        ("sign_flip", "0.2", "dirichlet:0.5", "0")
    assert len(row["accuracy_by_round"].split()) == 1
    assert counted[-1].networks[0].partition == "dirichlet"
    assert counted[-1].networks[0].alpha == 0.5


def test_resume_refuses_a_different_base_config(tmp_path, counted):
    grid = 'aggregators = ["mean"]\nattacks = ["sign_flip"]\nbyzantine_fractions = [0.2]\n'
    out = tmp_path / "out"
    run_robustness(write_config(tmp_path, grid, rounds=1), out, progress=False)
    with pytest.raises(ConfigError, match="different base config"):
        run_robustness(write_config(tmp_path, grid, rounds=2), out, progress=False)
    assert len(counted) == 1


def test_cells_pair_none_with_fraction_zero_only(tmp_path):
    _, grid = load_robustness_config(write_config(tmp_path, """
        aggregators = ["softmax"]
        attacks = ["none", "alie"]
        byzantine_fractions = [0.0, 0.1, 0.3]
        seeds = [0, 1]
    """))
    cells = {(c.attack, c.byzantine_fraction, c.seed) for c in grid.cells()}
    assert cells == {("none", 0.0, 0), ("alie", 0.1, 0), ("alie", 0.3, 0),
                     ("none", 0.0, 1), ("alie", 0.1, 1), ("alie", 0.3, 1)}


@pytest.mark.parametrize("grid, fragments", [
    ('aggregatorz = ["mean"]', ["grid.aggregatorz", "unknown key", "aggregators"]),
    ('aggregators = ["mean", "average"]', ["grid.aggregators[1]", "'average'", "'softmax'"]),
    ('partitions = ["dirichlet"]', ["grid.partitions[0]", "dirichlet:<alpha>"]),
    ('partitions = ["dirichlet:-1"]', ["grid.partitions[0]", "dirichlet:0.5"]),
    ('byzantine_fractions = [0.95]', ["grid.byzantine_fractions[0]", "[0, 0.9]"]),
    ('byzantine_fractions = [0.01]', ["grid.byzantine_fractions[0]", "0 Byzantine workers"]),
    ('seeds = []', ["grid.seeds", "at least one"]),
    ('attacks = ["none"]\nbyzantine_fractions = [0.3]', ["'grid'", "no cell"]),
    ('[grid.rule_params.kurm]\nf = 1', ["grid.rule_params.kurm", "unknown name", "'krum'"]),
    ('[grid.rule_params.krum]\nm = 1', ["grid.rule_params.krum.m", "it takes f"]),
    ('[grid.attack_params.ipm]\neps = 1', ["grid.attack_params.ipm", "no parameter 'eps'",
                                           "it takes epsilon"]),
])
def test_bad_grid_is_a_clear_error(tmp_path, grid, fragments):
    with pytest.raises(ConfigError) as error:
        load_robustness_config(write_config(tmp_path, grid))
    for fragment in fragments:
        assert fragment in str(error.value)


def test_missing_grid_table_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text(BASE.format(rounds=1))
    with pytest.raises(ConfigError, match=r"'grid'.*needs a \[grid\] table"):
        load_robustness_config(path)


def test_main_reports_a_bad_config_in_one_line_and_exits_2(tmp_path, capsys):
    path = write_config(tmp_path, 'aggregatorz = ["mean"]')
    assert cli.main(["bench", "robustness", str(path), "--out", str(tmp_path / "out"),
                     "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("poft bench robustness: error:") and "grid.aggregatorz" in err
    assert len(err.splitlines()) == 1


SLICEABLE = """
    aggregators = ["softmax", "mean"]
    attacks = ["none", "sign_flip", "alie"]
    byzantine_fractions = [0.0, 0.1, 0.3]
    partitions = ["iid", "dirichlet:0.5"]
    seeds = [0, 1]
"""


def test_a_slice_keeps_only_the_listed_values_and_slices_add_up(tmp_path):
    _, grid = load_robustness_config(write_config(tmp_path, SLICEABLE))
    part = robustness.slice_grid(grid, byzantine_fractions=[0.3, 0.0], seeds=[1],
                                 partitions=None)
    assert part.byzantine_fractions == [0.0, 0.3]          # the config's order
    assert {(c.attack, c.byzantine_fraction, c.seed) for c in part.cells()} == \
        {("none", 0.0, 1), ("sign_flip", 0.3, 1), ("alie", 0.3, 1)}
    rest = robustness.slice_grid(grid, byzantine_fractions=[0.1])
    other_seed = robustness.slice_grid(grid, byzantine_fractions=[0.0, 0.3], seeds=[0])
    union = set(part.cells()) | set(rest.cells()) | set(other_seed.cells())
    assert union == set(grid.cells())


@pytest.mark.parametrize("keep, fragments", [
    ({"byzantine_fractions": [0.25]}, ["byzantine_fractions", "0.25 not in", "0.1"]),
    ({"aggregators": ["krum"]}, ["aggregators", "krum not in"]),
    ({"attacks": ["none"], "byzantine_fractions": [0.3]}, ["no cell"]),
])
def test_a_bad_slice_is_a_clear_error(tmp_path, keep, fragments):
    _, grid = load_robustness_config(write_config(tmp_path, SLICEABLE))
    with pytest.raises(ConfigError) as error:
        robustness.slice_grid(grid, **keep)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_main_runs_a_slice_from_the_command_line(tmp_path, counted):
    config = write_config(tmp_path, SLICEABLE, rounds=1)
    out = tmp_path / "out"
    assert robustness.main([str(config), "--out", str(out), "--no-progress",
                            "--aggregators", "mean", "--attacks", "sign_flip",
                            "--fractions", "0.1", "--partitions", "iid", "--seeds", "0"]) == 0
    assert [(r["aggregator"], r["attack"], r["byzantine_fraction"], r["partition"], r["seed"])
            for r in rows_of(out)] == [("mean", "sign_flip", "0.1", "iid", "0")]
    assert len(counted) == 1
    with pytest.raises(SystemExit):
        robustness.main([str(config), "--fractions", "zero"])


ONE_MEAN_CELL = """
    aggregators = ["mean"]
    attacks = ["sign_flip"]
    byzantine_fractions = [0.3]
    partitions = ["iid"]
    seeds = [0]
"""


def test_byzantine_reward_share_is_the_weight_share_over_settled_rounds():
    from types import SimpleNamespace

    net = SimpleNamespace(byzantine=[True, False, False],
                          weights_by_round=[[0.5, 0.25, 0.25], [0.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    # rounds 1 and 3 settle (one reward each); round 2 failed and pays nothing
    assert robustness.byzantine_reward_share(net) == pytest.approx(0.25)
    assert robustness.byzantine_reward_share(SimpleNamespace(
        byzantine=[True], weights_by_round=[[0.0]])) == 0.0


def test_grid_rows_carry_the_byzantine_reward_share(tmp_path):
    config = write_config(tmp_path, ONE_MEAN_CELL, rounds=1)
    run_robustness(config, tmp_path / "out", progress=False)
    # the mean weights every worker alike: 3 of 10 workers are Byzantine
    assert float(rows_of(tmp_path / "out")[0]["byzantine_reward_share"]) == pytest.approx(0.3)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "max Byzantine reward share" in summary and "| 0.300 |" in summary


def test_resuming_into_an_older_csv_keeps_its_columns(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    old = [c for c in robustness.COLUMNS if c != "byzantine_reward_share"]
    (out / "robustness.csv").write_text(",".join(old) + "\n")
    config = write_config(tmp_path, ONE_MEAN_CELL, rounds=1)
    run_robustness(config, out, progress=False)
    (row,) = rows_of(out)
    assert list(row) == old and row["aggregator"] == "mean" and row["partition"] == "iid"


def test_a_swallowed_ctrl_c_stops_the_grid_after_the_cell_it_came_in(tmp_path, monkeypatch):
    """A Ctrl-C that a library swallowed (poft.interrupts) ends the grid once the cell
    that was running is written; running the grid again goes on from there."""
    from poft import interrupts

    grid = """
        aggregators = ["softmax", "mean", "median"]
        attacks = ["sign_flip"]
        byzantine_fractions = [0.2]
        seeds = [0]
    """
    real = robustness.simulate

    def interrupted_in_the_first_cell(config, **kwargs):
        interrupts.INTERRUPTED.set()          # note_interrupt ran; its exception was lost
        return real(config, **kwargs)

    monkeypatch.setattr(robustness, "simulate", interrupted_in_the_first_cell)
    out = tmp_path / "out"
    try:
        with pytest.raises(KeyboardInterrupt):
            run_robustness(write_config(tmp_path, grid, rounds=1), out, progress=False)
    finally:
        interrupts.INTERRUPTED.clear()
    assert len(rows_of(out)) == 1                 # the cell it came in, kept
