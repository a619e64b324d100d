"""Local training (SGD + momentum) and evaluation."""

import pytest
import torch

from poft.learning.datasets import ArrayDataset, load_dataset
from poft.learning.models import build_model
from poft.learning.params import flatten
from poft.learning.training import evaluate, local_train, make_generator


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train", seed=0), load_dataset("digits", "test", seed=0)


def fresh_model(seed=0):
    torch.manual_seed(seed)
    return build_model("mlp", (1, 8, 8), 10, hidden=32)


def test_training_reduces_loss_and_learns_digits(digits):
    train, test = digits
    model = fresh_model()
    loss_before, acc_before = evaluate(model, test)
    local_train(model, train, epochs=3, batch_size=32, lr=0.05, generator=make_generator(0))
    loss_after, acc_after = evaluate(model, test)
    assert loss_after < 0.5 * loss_before
    assert acc_after > 0.9 > acc_before


def test_same_seed_gives_identical_models_and_other_seed_differs(digits):
    train, _ = digits
    runs = []
    for seed in (1, 1, 2):
        model = fresh_model()
        local_train(model, train.subset(range(300)), epochs=1, batch_size=16, lr=0.05, generator=make_generator(seed))
        runs.append(flatten(model.state_dict()))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_int_seed_is_accepted_as_generator(digits):
    train, _ = digits
    a, b = fresh_model(), fresh_model()
    local_train(a, train.subset(range(100)), epochs=1, batch_size=10, lr=0.1, generator=5)
    local_train(b, train.subset(range(100)), epochs=1, batch_size=10, lr=0.1, generator=make_generator(5))
    assert torch.equal(flatten(a.state_dict()), flatten(b.state_dict()))


def test_evaluate_matches_a_hand_computation_and_restores_mode():
    model = build_model("logreg", (2,), 2)
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        model[1].bias.zero_()
    data = ArrayDataset(torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]), torch.tensor([0, 1, 1]), 2)
    model.train()
    loss, acc = evaluate(model, data, batch_size=2)  # batching must not change the means
    expected = torch.nn.functional.cross_entropy(model(data.x), data.y).item()
    assert loss == pytest.approx(expected, rel=1e-6)
    assert acc == pytest.approx(2 / 3)
    assert model.training


def test_zero_epochs_leave_the_model_unchanged_and_bad_arguments_are_refused(digits):
    train, _ = digits
    model = fresh_model()
    before = flatten(model.state_dict())
    local_train(model, train, epochs=0, batch_size=8, lr=0.1, generator=0)
    assert torch.equal(before, flatten(model.state_dict()))
    with pytest.raises(ValueError, match="learning rate"):
        local_train(model, train, epochs=1, batch_size=8, lr=0.0, generator=0)
    with pytest.raises(ValueError, match="batch_size"):
        local_train(model, train, epochs=1, batch_size=0, lr=0.1, generator=0)
    with pytest.raises(ValueError, match="empty dataset"):
        local_train(model, train.subset([]), epochs=1, batch_size=8, lr=0.1, generator=0)
