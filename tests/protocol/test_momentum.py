"""robust_softmax's server momentum: the step keeps β of the step between the two
latest final models, read from the chain's checkpoints, so the miner, every validator
and `poft verify --recompute` rebuild the same aggregate."""

import pytest
import torch

from poft.cli import main as poft
from poft.experiment.run import run_experiment
from poft.protocol.aggregate import AggregationSpec, RoundInputs, aggregate_round
from run_support import tiny


def round_inputs(previous=None):
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(40, generator=g)
    cands = theta + 0.1 * torch.randn(4, 40, generator=g)
    reports = torch.cat([torch.zeros(3, 4, dtype=torch.float64),
                         torch.ones(3, 4, dtype=torch.float64)], dim=1)   # all pass the gate
    return RoundInputs(theta, cands, reports, previous)


def test_momentum_adds_beta_times_the_previous_step():
    step = torch.linspace(-1, 1, 40, dtype=torch.float64)
    plain = aggregate_round(round_inputs(step), AggregationSpec(rule="robust_softmax",
                                                                params={"momentum": 0.0}))
    spec = AggregationSpec(rule="robust_softmax")                   # the default: β = 0.5
    with_momentum = aggregate_round(round_inputs(step), spec)
    assert torch.allclose(with_momentum.model.double(), plain.model.double() + 0.5 * step,
                          atol=1e-6)
    assert torch.equal(with_momentum.weights, plain.weights)        # rewards do not change
    # no previous step yet (fewer than two final rounds): no momentum
    assert torch.equal(aggregate_round(round_inputs(None), spec).model, plain.model)


@pytest.mark.parametrize("beta", [-0.1, 1.0])
def test_momentum_outside_zero_one_is_refused(beta):
    spec = AggregationSpec(rule="robust_softmax", params={"momentum": beta})
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        aggregate_round(round_inputs(), spec)


def test_momentum_starts_after_two_final_rounds_and_verifies_on_chain(tmp_path, capsys):
    plain, moved = tmp_path / "plain", tmp_path / "momentum"
    run_experiment(tiny(rounds=3, params={"momentum": 0.0}), plain, progress=False)
    summary = run_experiment(tiny(rounds=3), moved, progress=False)     # β = 0.5 by default
    assert summary["networks"]["alpha"]["finalized_rounds"] == 3
    models = "models/alpha/round-{}.safetensors"
    # rounds 1 and 2 have no two final models before them: the same chain, the same models
    for r in (1, 2):
        assert (plain / models.format(r)).read_bytes() == (moved / models.format(r)).read_bytes()
    assert (plain / models.format(3)).read_bytes() != (moved / models.format(3)).read_bytes()
    code = poft(["verify", str(moved / models.format(3)), "--deployment",
                 str(moved / "deployment.json"), "--recompute"])
    printed = capsys.readouterr().out
    assert code == 0 and printed.startswith("VERIFIED"), printed
