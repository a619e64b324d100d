"""Batched evaluation of many candidates equals the per-model loop."""

import math

import pytest
import torch

from poft.learning.batched_eval import (
    activations_per_sample,
    batched_accuracies,
    batched_losses,
    batched_metrics,
    pass_shape,
    stack_states,
)
from poft.learning.datasets import load_dataset
from poft.learning.models import build_model
from poft.learning.training import evaluate


@pytest.fixture(scope="module")
def digits_test():
    return load_dataset("digits", "test", seed=0)


def candidates(name, shape, n, seed0=0):
    states = []
    for i in range(n):
        torch.manual_seed(seed0 + i)
        states.append(build_model(name, shape, 10).state_dict())
    return states


def looped(model_name, shape, states, data):
    model = build_model(model_name, shape, 10)
    results = []
    for state in states:
        model.load_state_dict(state)
        results.append(evaluate(model, data))
    return torch.tensor([r[0] for r in results], dtype=torch.float64), torch.tensor([r[1] for r in results], dtype=torch.float64)


@pytest.mark.parametrize("strategy", ["auto", "vmap", "loop"])
@pytest.mark.parametrize("name", ["cnn", "mlp", "logreg"])
def test_batched_losses_equal_the_per_model_loop(name, strategy, digits_test):
    states = candidates(name, (1, 8, 8), 5)
    model = build_model(name, (1, 8, 8), 10)
    loop_loss, loop_acc = looped(name, (1, 8, 8), states, digits_test)
    losses = batched_losses(model, states, digits_test, batch_size=128, strategy=strategy)
    assert losses.dtype == torch.float64 and losses.shape == (5,)
    torch.testing.assert_close(losses, loop_loss, atol=1e-5, rtol=0)
    accuracies = batched_accuracies(model, states, digits_test, strategy=strategy)
    torch.testing.assert_close(accuracies, loop_acc, atol=1e-9, rtol=0)
    assert len(set(losses.tolist())) == 5  # candidates really differ


def test_chunking_and_stacked_input_give_the_same_answer(digits_test):
    data = digits_test.subset(range(60))
    states = candidates("cnn", (1, 8, 8), 7)
    model = build_model("cnn", (1, 8, 8), 10)
    whole = batched_losses(model, states, data, strategy="vmap")
    assert pass_shape(model, data, 7) == (7, 60)  # small: one pass for everything
    per_sample = activations_per_sample(model, data.x[:1])
    budget = 25 * per_sample  # room for 25 candidate-sample pairs: one candidate, 25 samples
    assert pass_shape(model, data, 7, max_activations=budget) == (1, 25)
    one_at_a_time = batched_losses(model, states, data, max_activations=budget, strategy="vmap")
    stacked = batched_losses(model, stack_states(states, model), data, strategy="vmap")
    torch.testing.assert_close(one_at_a_time, whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(stacked, whole, atol=0, rtol=0)


def test_non_finite_parameters_poison_only_their_own_candidate(digits_test):
    states = candidates("cnn", (1, 8, 8), 4)
    states[1] = {k: v.clone() for k, v in states[1].items()}
    states[1]["0.weight"][0, 0, 0, 0] = float("nan")
    states[3] = {k: v.clone() for k, v in states[3].items()}
    states[3]["3.bias"][0] = float("inf")
    model = build_model("cnn", (1, 8, 8), 10)
    for strategy in ("vmap", "loop"):
        losses, accuracies = batched_metrics(model, states, digits_test, strategy=strategy)
        assert math.isnan(losses[1]) and not math.isfinite(losses[3])
    assert math.isnan(losses[1]) and not math.isfinite(losses[3])
    clean = looped("cnn", (1, 8, 8), [states[0], states[2]], digits_test)[0]
    torch.testing.assert_close(losses[[0, 2]], clean, atol=1e-5, rtol=0)


def test_model_own_parameters_are_not_used_and_mode_is_restored(digits_test):
    states = candidates("mlp", (1, 8, 8), 2)
    model = build_model("mlp", (1, 8, 8), 10)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    model.train()
    losses = batched_losses(model, states, digits_test)
    assert torch.isfinite(losses).all() and model.training


def test_wrong_architecture_is_refused(digits_test):
    model = build_model("mlp", (1, 8, 8), 10)
    foreign = build_model("logreg", (1, 8, 8), 10).state_dict()
    with pytest.raises(ValueError, match="candidate 0 does not fit"):
        batched_losses(model, [foreign], digits_test)
    stacked = stack_states(candidates("mlp", (1, 8, 8), 2), model)
    stacked["1.weight"] = stacked["1.weight"][:, :5]
    with pytest.raises(ValueError, match="stacked 1.weight"):
        batched_losses(model, stacked, digits_test)
    with pytest.raises(ValueError, match="at least one candidate"):
        batched_losses(model, [], digits_test)
    with pytest.raises(ValueError, match="strategy must be one of"):
        batched_losses(model, stack_states(candidates("mlp", (1, 8, 8), 1), model), digits_test,
                       strategy="fast")
