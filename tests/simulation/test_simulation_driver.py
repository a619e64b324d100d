"""The no-ledger driver: deterministic, robust where softmax should be, and
every rule's round context (f, FLTrust reference, clipping center) supplied."""

import math

import pytest
import torch

from poft.config.experiment import parse_config
from poft.drivers.simulation import simulate
from poft.protocol.aggregate import clipping_radius, resolve_rule_params


def tiny(rule="softmax", attack="sign_flip", fraction=0.3, rounds=3, seed=0, **network):
    """Digits, a small CNN, 10 workers: about a second per run."""
    return parse_config({
        "experiment": {"name": "tiny", "seed": seed, "rounds": rounds, "threads": 1},
        "data": {"dataset": "digits", "validator_samples": 100},
        "model": {"name": "cnn"},
        "training": {"lr": 0.1, "batch_size": 32, "local_epochs": 2},
        "aggregation": {"rule": rule, "temperature": 0.05},
        "networks": [{"name": "a", "workers": 10, "stakers": 4, "validators": 3,
                      "miners": 1, "byzantine_fraction": fraction,
                      "attack": attack if fraction else "none", **network}]})


def test_same_seed_gives_identical_runs_and_another_seed_does_not():
    first = simulate(tiny(attack="gaussian", rounds=2)).network()
    second = simulate(tiny(attack="gaussian", rounds=2)).network()
    assert first.accuracy_by_round == second.accuracy_by_round
    assert first.weights_by_round == second.weights_by_round
    assert torch.equal(first.final_model, second.final_model)
    other = simulate(tiny(attack="gaussian", rounds=2, seed=1)).network()
    assert not torch.equal(first.final_model, other.final_model)


def test_softmax_gives_sign_flippers_almost_no_weight():
    result = simulate(tiny(rounds=3)).network()
    assert sum(result.byzantine) == 3
    for weights in result.weights_by_round:
        assert math.fsum(weights) == pytest.approx(1.0)
        byzantine = sum(w for w, bad in zip(weights, result.byzantine) if bad)
        assert byzantine < 0.01, weights
    # ... and the model learns despite them (10 classes: chance is 0.1).
    assert result.final_accuracy > 0.6


def test_mean_gives_everyone_the_same_weight_and_suffers():
    softmax = simulate(tiny(rounds=3)).network()
    mean = simulate(tiny(rule="mean", rounds=3)).network()
    assert mean.weights_by_round[-1] == pytest.approx([0.1] * 10)
    assert mean.final_accuracy < softmax.final_accuracy


def test_results_report_rounds_timing_and_call_back_each_round():
    seen = []
    result = simulate(tiny(rounds=2), on_round=seen.append)
    net = result.network("a")
    assert [r.round for r in seen] == [1, 2]
    assert [r.accuracy for r in seen] == net.accuracy_by_round
    assert torch.equal(seen[-1].model, net.final_model)
    assert net.worst_round_accuracy == min(net.accuracy_by_round)
    assert net.backdoor_success is None
    for phase in ("train_s", "evaluate_s", "aggregate_s", "test_s", "total_s"):
        assert result.timing[phase] >= 0
    assert result.timing["train_s"] > 0 and result.timing["evaluate_s"] > 0


@pytest.mark.parametrize("rule", ["fltrust", "centered_clipping", "krum", "multi_krum",
                                  "trimmed_mean", "bulyan", "median", "geometric_median"])
def test_every_baseline_gets_its_round_context(rule):
    result = simulate(tiny(rule=rule, attack="gaussian", rounds=2), rule=rule).network()
    assert result.rule == rule
    assert torch.isfinite(result.final_model).all()
    assert result.final_accuracy > 0.2


def test_backdoor_reports_its_success_rate():
    net = simulate(tiny(attack="backdoor", rounds=2,
                        attack_params={"target": 3, "fraction": 0.5})).network()
    assert len(net.backdoor_by_round) == 2
    assert 0.0 <= net.backdoor_success <= 1.0


def test_lying_validators_below_half_do_not_change_softmax_robustness():
    net = simulate(tiny(rounds=2, lying_validators=1, stakers=5)).network()
    byzantine = sum(w for w, bad in zip(net.weights_by_round[-1], net.byzantine) if bad)
    assert byzantine < 0.05


def test_f_defaults_to_the_byzantine_count_within_what_the_rule_allows():
    assert resolve_rule_params("krum", {}, candidates=10, byzantine=3) == {"f": 3}
    assert resolve_rule_params("krum", {}, candidates=10, byzantine=0) == {"f": 1}
    assert resolve_rule_params("bulyan", {}, candidates=10, byzantine=4) == {"f": 1}
    assert resolve_rule_params("krum", {"f": 2}, candidates=10, byzantine=4) == {"f": 2}
    assert resolve_rule_params("mean", {}, candidates=10, byzantine=4) == {}


def test_clipping_radius_is_the_median_offset_from_the_center():
    deltas = torch.tensor([[3.0, 4.0], [0.0, 1.0], [100.0, 0.0]], dtype=torch.float64)
    assert clipping_radius(deltas, None) == pytest.approx(5.0)
    assert clipping_radius(deltas, torch.tensor([0.0, 1.0], dtype=torch.float64)) == \
        pytest.approx(math.hypot(3, 3))


@pytest.mark.parametrize("attack", ["sign_flip", "alie", "ipm", "scaling"])
def test_a_diverged_round_does_not_stop_the_run(attack):
    """lr 1e4 makes honest training blow up to NaN/Inf: the attackers then have no
    finite honest update to build on, and the run must still go on (the grid did not)."""
    config = tiny(attack=attack, rounds=2)
    config.training.lr = 1e4
    result = simulate(config).network()
    assert len(result.accuracy_by_round) == 2
    for weights in result.weights_by_round:
        assert all(math.isfinite(w) for w in weights)


def test_round_without_admissible_candidate_keeps_the_model(monkeypatch):
    """Every candidate non-finite: the round fails as on chain (the model stays, no
    weights) and the run goes on."""
    from poft.drivers.simulation import SimNetwork

    monkeypatch.setattr(SimNetwork, "local_update",
                        lambda self, who, start: torch.full_like(start, float("nan")))
    config = tiny(rounds=2, fraction=0.0)
    config.experiment.parallel_workers = 1      # the patched local_update runs in this process
    result = simulate(config).network()
    assert result.weights_by_round == [[0.0] * 10, [0.0] * 10]
    assert len(result.accuracy_by_round) == 2
    assert result.accuracy_by_round[0] == result.accuracy_by_round[1]


def test_score_match_colluders_draw_their_own_jitter():
    # jitter 0: one vector sent three times, so robust_softmax's duplicate split gives the
    # three copies one equal, shared weight; jitter 0.5: each colluder's own copy (its
    # own generator), scored apart, and reproducibly so.
    def byzantine_weights(jitter):
        result = simulate(tiny(rule="robust_softmax", attack="score_match", rounds=2,
                               attack_params={"jitter": jitter})).network()
        return [[w for w, b in zip(ws, result.byzantine) if b] for ws in result.weights_by_round]
    copies, jittered = byzantine_weights(0.0), byzantine_weights(0.5)
    assert all(len(set(ws)) == 1 for ws in copies)
    assert all(len(set(ws)) == 3 for ws in jittered)
    assert byzantine_weights(0.5) == jittered
