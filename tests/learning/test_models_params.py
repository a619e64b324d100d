"""Models by name, and state dicts <-> flat vectors with their compatibility checks."""

import pytest
import torch

from poft.learning.models import MaxPool2x2, build_model
from poft.learning.params import (
    check_compatible,
    check_finite,
    flatten,
    flatten_many,
    load_state,
    num_params,
    unflatten,
)


@pytest.mark.parametrize(
    "name, shape, params",
    [
        ("logreg", (1, 8, 8), 64 * 10 + 10),
        ("mlp", (20,), 20 * 128 + 128 + 128 * 10 + 10),
        ("cnn", (1, 28, 28), (16 * 9 + 16) + (32 * 16 * 9 + 32) + 32 * 7 * 7 * 10 + 10),
        ("cnn", (1, 8, 8), (16 * 9 + 16) + (32 * 16 * 9 + 32) + 32 * 2 * 2 * 10 + 10),
    ],
)
def test_models_map_a_batch_to_logits(name, shape, params):
    model = build_model(name, shape, 10)
    assert model(torch.zeros(5, *shape)).shape == (5, 10)
    assert num_params(model) == params


@pytest.mark.parametrize("shape", [(3, 4, 28, 28), (2, 3, 7, 9), (1, 2, 2, 3)])
def test_fast_pooling_equals_max_pool2d_in_values_and_gradients(shape):
    torch.manual_seed(0)
    x = torch.randn(shape)
    x[0, 0, 0, 0] = float("nan")  # NaN must propagate the same way
    expected = torch.nn.functional.max_pool2d(x, 2)
    with torch.no_grad():
        got = MaxPool2x2()(x)
    assert got.shape == expected.shape
    assert torch.equal(got.nan_to_num(7.0), expected.nan_to_num(7.0))
    # with gradients (training) it is the stock kernel: same gradient routing
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    MaxPool2x2()(a).nansum().backward()
    torch.nn.functional.max_pool2d(b, 2).nansum().backward()
    assert torch.equal(a.grad, b.grad)


def test_init_is_deterministic_under_manual_seed():
    torch.manual_seed(7)
    a = build_model("cnn", (1, 28, 28), 10)
    torch.manual_seed(7)
    b = build_model("cnn", (1, 28, 28), 10)
    assert torch.equal(flatten(a.state_dict()), flatten(b.state_dict()))
    assert not torch.equal(flatten(a.state_dict()), flatten(build_model("cnn", (1, 28, 28), 10).state_dict()))


def test_model_errors_name_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: logreg, mlp, cnn"):
        build_model("resnet", (1, 28, 28), 10)
    with pytest.raises(ValueError, match="image input"):
        build_model("cnn", (20,), 10)
    with pytest.raises(ValueError, match="allowed: hidden"):
        build_model("mlp", (20,), 10, width=3)
    assert build_model("mlp", (20,), 10, hidden=7)[1].out_features == 7


def test_flatten_uses_sorted_key_order_and_unflatten_inverts_it():
    state = {"b": torch.tensor([3.0, 4.0]), "a": torch.tensor([[1.0], [2.0]])}
    vec = flatten(state)
    assert vec.tolist() == [1.0, 2.0, 3.0, 4.0] and vec.dtype == torch.float32
    back = unflatten(vec.double(), state)  # float64 (aggregation) comes back as the template dtype
    assert back["a"].shape == (2, 1) and back["a"].dtype == torch.float32
    assert all(torch.equal(back[k], state[k]) for k in state)


def test_round_trip_on_a_model_preserves_its_outputs():
    torch.manual_seed(0)
    model = build_model("cnn", (1, 8, 8), 10)
    x = torch.randn(4, 1, 8, 8)
    before = model(x)
    other = build_model("cnn", (1, 8, 8), 10)
    load_state(other, unflatten(flatten(model.state_dict()), other))
    assert torch.equal(other(x), before)


def test_unflatten_refuses_a_vector_of_the_wrong_length():
    template = build_model("logreg", (4,), 3).state_dict()
    with pytest.raises(ValueError, match="has 14 entries but the architecture has 15"):
        unflatten(torch.zeros(14), template)
    with pytest.raises(ValueError, match="1-D"):
        unflatten(torch.zeros(3, 5), template)


def test_incompatible_state_is_refused_naming_what_differs():
    model = build_model("mlp", (20,), 10)
    wrong = build_model("mlp", (20,), 10, hidden=64).state_dict()
    with pytest.raises(ValueError, match=r"1\.weight: shape \(64, 20\), expected \(128, 20\)"):
        check_compatible(wrong, model)
    with pytest.raises(ValueError, match=r"missing keys \['3\.bias', '3\.weight'\]; 1\.bias: shape"):
        check_compatible(build_model("logreg", (20,), 10).state_dict(), model)
    state = dict(model.state_dict())
    state["1.bias"] = state["1.bias"].double()
    with pytest.raises(ValueError, match="1.bias: dtype torch.float64, expected torch.float32"):
        load_state(model, state)
    state = dict(model.state_dict(), extra=torch.zeros(1))
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        check_compatible(state, model)


def test_check_finite_and_flatten_many():
    model = build_model("logreg", (4,), 3)
    good = model.state_dict()
    bad = {k: v.clone() for k, v in good.items()}
    bad["1.bias"][0] = float("nan")
    check_finite(good)
    with pytest.raises(ValueError, match=r"NaN or Inf values in \['1\.bias'\]"):
        check_finite(bad)
    matrix = flatten_many([good, bad])
    assert matrix.shape == (2, 15) and torch.isnan(matrix[1]).sum() == 1
