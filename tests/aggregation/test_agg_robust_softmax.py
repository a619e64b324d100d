"""Robust SABFL (poft.aggregation.robust_softmax) and the validator report
(poft.learning.robust_scoring): formula, gate, clipping, medians, NaN handling,
determinism through aggregate_round."""

import math

import pytest
import torch

from poft.aggregation import CONTEXT, RULES
from poft.aggregation.robust_softmax import (
    capped_shares,
    median_norm_clip,
    robust_softmax,
    robust_softmax_weights,
)
from poft.learning.datasets import ArrayDataset
from poft.learning.models import build_model
from poft.learning.params import flatten
from poft.learning.robust_scoring import reference_update, robust_report
from poft.protocol.aggregate import AggregationSpec, RoundInputs, aggregate_round


def reports(values, cosines):
    """(v, 2n) from per-validator value and cosine rows."""
    return torch.cat([torch.tensor(values, dtype=torch.float64),
                      torch.tensor(cosines, dtype=torch.float64)], dim=1)


def test_registered_with_its_context():
    assert RULES["robust_softmax"] is robust_softmax
    assert CONTEXT["robust_softmax"] == {"reports": True}


def test_weights_are_softmax_of_median_value_over_the_gated():
    r = reports([[1.0, 0.0, 2.0, 5.0], [3.0, 0.0, 2.0, 5.0], [2.0, 1.0, 9.0, 5.0]],
                [[0.5, 0.2, 0.1, -0.3], [0.4, 0.1, 0.3, -0.2], [0.6, 0.3, -0.1, 0.9]])
    # medians: value [2, 0, 2, 5]; cosine [0.5, 0.2, 0.1, -0.2] -> candidate 3 gated out
    w = robust_softmax_weights(r, 4, temperature=1.0)
    e = [math.exp(2.0), math.exp(0.0), math.exp(2.0), 0.0]
    assert w.tolist() == pytest.approx([x / sum(e) for x in e], rel=1e-12)
    assert w.dtype == torch.float64 and float(w.sum()) == pytest.approx(1.0)
    ungated = robust_softmax_weights(r, 4, gate=False)
    assert float(ungated[3]) > float(ungated[0])


def test_temperature_and_clamp():
    r = reports([[0.0, 1.0]], [[0.5, 0.5]])
    cold = robust_softmax_weights(r, 2, temperature=0.1)
    assert float(cold[1]) > 0.9999
    # a lying validator's huge value is clamped before the median: with 1 validator it
    # is the median, so clamp bounds it
    big = robust_softmax_weights(reports([[0.0, 1e9]], [[0.5, 0.5]]), 2, clamp=2.0,
                                 temperature=1.0)
    assert big.tolist() == pytest.approx([1 / (1 + math.exp(2)), math.exp(2) / (1 + math.exp(2))])


def test_cap_water_fills_shares_above_the_cap():
    assert capped_shares([10.0, 1.0, 1.0, 1.0, 0.0], 2.0) == pytest.approx([0.5, 1 / 6, 1 / 6, 1 / 6, 0])
    assert capped_shares([5.0, 4.0, 1.0], 1.5) == pytest.approx([0.5, 0.4, 0.1])
    assert capped_shares([3.0, 2.0, 1.0], 1.0) == pytest.approx([1 / 3] * 3)   # cap 1: uniform
    # a share pushed over the cap by the redistribution is capped in turn
    shares = capped_shares([100.0, 50.0, 1.0, 1.0, 1.0], 1.5)
    assert shares[:2] == pytest.approx([0.3, 0.3]) and sum(shares) == pytest.approx(1.0)
    assert max(shares) <= 1.5 / 5 + 1e-12
    r = reports([[0.0, 1.0, 9.0]], [[0.5, 0.5, 0.5]])
    w = robust_softmax_weights(r, 3, temperature=1.0, cap=1.2)
    assert float(w.max()) == pytest.approx(0.4) and float(w.sum()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cap must be a number >= 1"):
        robust_softmax_weights(r, 3, cap=0.5)


def test_nan_reports_are_refusals_and_nothing_passing_gives_zero_weights():
    nan = math.nan
    r = reports([[nan, 1.0], [nan, 1.0], [0.0, 1.0]], [[nan, 0.5], [nan, 0.5], [0.5, 0.5]])
    assert robust_softmax_weights(r, 2).tolist() == [0.0, 1.0]
    # one validator's refusal cannot exclude a candidate
    r = reports([[nan, 1.0], [0.0, 1.0], [0.0, 1.0]], [[nan, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert float(robust_softmax_weights(r, 2)[0]) > 0
    r = reports([[1.0, 1.0]], [[-0.5, 0.0]])
    assert robust_softmax_weights(r, 2).tolist() == [0.0, 0.0]
    assert robust_softmax(torch.ones(2, 3), reports=r).tolist() == [0.0, 0.0, 0.0]


def test_bad_report_shape():
    with pytest.raises(ValueError, match="2n"):
        robust_softmax_weights(torch.zeros(3, 5), 3)


def test_median_norm_clip():
    x = torch.tensor([[3.0, 4.0], [0.0, 1.0], [0.0, 2.0], [30.0, 40.0]], dtype=torch.float64)
    clipped, c = median_norm_clip(x)
    assert c == pytest.approx(3.5)   # norms 5, 1, 2, 50 -> averaged median 3.5
    assert clipped[1].tolist() == [0.0, 1.0] and clipped[2].tolist() == [0.0, 2.0]
    assert clipped[0].tolist() == pytest.approx([2.1, 2.8])
    assert clipped[3].tolist() == pytest.approx([2.1, 2.8])
    sub, c2 = median_norm_clip(x, torch.tensor([True, True, True, False]))
    assert c2 == 2.0


def test_registry_rule_is_the_weighted_sum_of_clipped_rows():
    x = torch.tensor([[3.0, 4.0], [0.0, 1.0], [0.0, 2.0], [30.0, 40.0]], dtype=torch.float64)
    r = reports([[0.0, 0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]])
    undiscounted = robust_softmax(x, reports=r, gate_z=0.0, clip_discount=False)  # d = 2: 3/√2 > 1
    assert undiscounted.tolist() == pytest.approx([(2.1 + 0 + 0 + 2.1) / 4, (2.8 + 1 + 2 + 2.8) / 4])
    # The clip discount: equal scores, so the weights are min(1, 2c/‖δ‖)² with c = 3.5:
    # 1 for the rows up to twice the median norm, (7/50)² for the last.
    f = [1.0, 1.0, 1.0, (7 / 50) ** 2]
    w = [x / sum(f) for x in f]
    out = robust_softmax(x, reports=r, gate_z=0.0)
    assert out.tolist() == pytest.approx([w[0] * 2.1 + w[3] * 2.1,
                                          w[0] * 2.8 + w[1] * 1 + w[2] * 2 + w[3] * 2.8])
    raw = robust_softmax(x, reports=r, clip=False, gate_z=0.0)
    assert raw.tolist() == pytest.approx(x.mean(0).tolist())


def test_aggregate_round_is_deterministic_and_skips_missing_candidates():
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(30, generator=g)
    cands = theta + 0.1 * torch.randn(5, 30, generator=g)
    cands[4] = math.nan
    r = torch.randn(3, 10, generator=g, dtype=torch.float64)
    r[:, 5:] = r[:, 5:].abs()
    spec = AggregationSpec(rule="robust_softmax")
    a = aggregate_round(RoundInputs(theta, cands, r), spec)
    b = aggregate_round(RoundInputs(theta.clone(), cands.clone(), r.clone()), spec)
    assert torch.equal(a.model, b.model) and torch.equal(a.weights, b.weights)
    assert float(a.weights[4]) == 0.0 and float(a.weights.sum()) == pytest.approx(1.0)
    assert bool(torch.isfinite(a.model).all())
    with pytest.raises(ValueError, match="robust_softmax reports"):
        aggregate_round(RoundInputs(theta, cands, r[:, :5]), spec)


def tiny_setup():
    torch.manual_seed(0)
    model = build_model("mlp", (4,), 3, hidden=8)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(120, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    data = ArrayDataset(x, y, 3)
    theta = flatten(model.state_dict())
    return model, data, theta


def test_robust_report_cosines_gate_and_values():
    model, data, theta = tiny_setup()
    ref = reference_update(model, theta, data, epochs=1, batch_size=16, lr=0.1,
                           generator=torch.Generator().manual_seed(2))
    assert ref.dtype == torch.float64 and float(ref.norm()) > 0
    good = theta + ref.float()
    back = theta - ref.float()
    far = theta + 20 * ref.float()
    broken = torch.full_like(theta, math.nan)
    cands = torch.stack([good, good + 0.01 * ref.float(), back, far, broken])
    rep = robust_report(model, theta, cands, data, ref)
    n = 5
    assert rep.shape == (2 * n,) and rep.dtype == torch.float64
    value, cos = rep[:n], rep[n:]
    assert cos[:2].tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert float(cos[2]) == pytest.approx(-1.0, abs=1e-5)
    assert math.isnan(float(value[4])) and math.isnan(float(cos[4]))
    # the step back, outside the gate, would hurt the aggregate; the forward steps help
    assert float(value[2]) < min(float(value[0]), float(value[1]))
    assert torch.isfinite(value[:4]).all()


def test_cosine_score_ablation_is_proportional_to_the_median_cosine():
    r = reports([[9.0, 0.0, 0.0]], [[0.2, 0.6, -0.1]])
    assert robust_softmax_weights(r, 3, score="cosine").tolist() == pytest.approx([0.25, 0.75, 0.0])
    with pytest.raises(ValueError, match="score"):
        robust_softmax_weights(r, 3, score="loss")


def test_gate_threshold_is_z_over_sqrt_d():
    from poft.aggregation.robust_softmax import gate_threshold
    assert gate_threshold(None) == 0.0
    assert gate_threshold(10000) == pytest.approx(0.03)
    r = reports([[0.0, 0.0, 0.0]], [[0.02, 0.04, 0.5]])
    # d = 10000: threshold 0.03 keeps candidates 1 and 2 only
    w = robust_softmax_weights(r, 3, dim=10000)
    assert float(w[0]) == 0.0 and w[1:].tolist() == pytest.approx([0.5, 0.5])
    assert float(robust_softmax_weights(r, 3, dim=10000, gate_z=0.0)[0]) > 0
    # random directions rarely pass: a Gaussian vector's cosine with a fixed one is ~N(0, 1/d)
    g = torch.Generator().manual_seed(0)
    d = 40000
    ref = torch.randn(d, generator=g, dtype=torch.float64)
    noise = torch.randn(200, d, generator=g, dtype=torch.float64)
    cos = noise @ ref / (noise.norm(dim=1) * ref.norm())
    assert int((cos > gate_threshold(d)).sum()) <= 2


def test_clip_discount_divides_a_scaled_update_s_weight_by_its_scale():
    # Four equal-scored candidates; the last is the first scaled 10x: clipping makes it
    # the same step as the first, the discount gives it (2/10)² of the first's weight.
    g = torch.Generator().manual_seed(3)
    theta = torch.zeros(6)
    base = torch.randn(3, 6, generator=g)
    base = base / base.norm(dim=1, keepdim=True)          # unit norms: the median is 1
    cands = torch.cat([base, 10 * base[:1]])
    r = reports([[0.0] * 4], [[1.0] * 4])
    # (The scaled copy points the same way as row 0: the duplicate split is off here.)
    spec = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0, "split_duplicates": False})
    w = aggregate_round(RoundInputs(theta, cands, r), spec).weights.tolist()
    assert w == pytest.approx([1 / 3.04, 1 / 3.04, 1 / 3.04, 0.04 / 3.04])
    off = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0, "clip_discount": False,
                                                         "split_duplicates": False})
    assert aggregate_round(RoundInputs(theta, cands, r), off).weights.tolist() == pytest.approx([0.25] * 4)
    direct = robust_softmax_weights(r, 4, discount=[1.0, 1.0, 1.0, 0.04])
    assert direct.tolist() == pytest.approx(w)


def test_report_without_the_gate_scores_against_every_candidate():
    model, data, theta = tiny_setup()
    ref = reference_update(model, theta, data, epochs=1, batch_size=16, lr=0.1,
                           generator=torch.Generator().manual_seed(2))
    cands = torch.stack([theta + ref.float(), theta - ref.float(), theta + 0.5 * ref.float()])
    gated = robust_report(model, theta, cands, data, ref)
    ungated = robust_report(model, theta, cands, data, ref, gate=False)
    # The step back is outside the gate's aggregate (value of adding it) but inside the
    # ungated one (value of keeping it): its score changes, the cosines do not.
    assert ungated[3:].tolist() == pytest.approx(gated[3:].tolist())
    assert float(ungated[1]) != pytest.approx(float(gated[1]))


def test_score_floor_shrinks_scores_whose_spread_is_small_against_the_loss():
    model, data, theta = tiny_setup()
    ref = reference_update(model, theta, data, epochs=1, batch_size=16, lr=0.1,
                           generator=torch.Generator().manual_seed(2))
    cands = torch.stack([theta + ref.float(), theta + 0.9 * ref.float(), theta + 1.1 * ref.float()])
    plain = robust_report(model, theta, cands, data, ref)
    floored = robust_report(model, theta, cands, data, ref, score_floor=10.0)
    assert float(plain[:3].std(correction=0)) == pytest.approx(1.0)   # divided by the spread
    assert float(floored[:3].abs().max()) < 0.1                       # divided by 10 x the loss
    assert torch.equal(torch.sign(floored[:3]), torch.sign(plain[:3]))


def test_duplicate_counts_find_colluders_who_send_one_vector():
    from poft.aggregation.robust_softmax import duplicate_counts
    g = torch.Generator().manual_seed(4)
    honest = torch.randn(14, 500, generator=g, dtype=torch.float64) + 0.3   # alike, not equal
    copies = torch.randn(1, 500, generator=g, dtype=torch.float64).repeat(6, 1)
    x = torch.cat([honest, copies])
    assert duplicate_counts(x) == [1] * 14 + [6] * 6
    # A refused (non-admissible) copy neither counts nor is counted.
    admissible = torch.ones(20, dtype=torch.bool)
    admissible[15] = False
    assert duplicate_counts(x, admissible) == [1] * 14 + [5, 1, 5, 5, 5, 5]
    # Honest workers with IID-like updates (cosines ~0.9 between them) are not split.
    similar = torch.randn(1, 500, generator=g, dtype=torch.float64) + 0.3 * honest
    assert duplicate_counts(similar) == [1] * 14


def test_the_duplicate_split_divides_a_copy_s_weight_by_its_copies():
    g = torch.Generator().manual_seed(5)
    theta = torch.zeros(50)
    honest = torch.randn(4, 50, generator=g)
    honest = honest / honest.norm(dim=1, keepdim=True)
    cands = torch.cat([honest, honest[:1].repeat(2, 1)])     # row 0 sent three times
    r = reports([[0.0] * 6], [[1.0] * 6])
    spec = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0, "split_duplicates": True,
                                                          "duplicate_power": 1})
    w = aggregate_round(RoundInputs(theta, cands, r), spec).weights.tolist()
    third = 1 / 3
    assert w == pytest.approx([third / 4, 1 / 4, 1 / 4, 1 / 4, third / 4, third / 4])
    # The default power 2: the three copies together get a third of one weight.
    default = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0})
    w = aggregate_round(RoundInputs(theta, cands, r), default).weights.tolist()
    ninth = 1 / 9 / (3 + 1 / 3)
    assert w == pytest.approx([ninth, 0.3, 0.3, 0.3, ninth, ninth])
    assert sum(w[i] for i in (0, 4, 5)) == pytest.approx(w[1] / 3)
    plain = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0, "split_duplicates": False})
    assert aggregate_round(RoundInputs(theta, cands, r), plain).weights.tolist() == pytest.approx([1 / 6] * 6)


def test_the_clipping_radius_ignores_candidates_the_gate_refuses():
    # Four unit updates pass the gate; three short ones (IPM-like) fail it and are left
    # out of the radius (over the candidates past the gate: 1).
    theta = torch.zeros(4)
    honest = torch.eye(4)
    short = -0.01 * torch.ones(3, 4) / 2
    cands = torch.cat([honest, short])
    r = reports([[0.0] * 7], [[0.5, 0.5, 0.5, 0.5, -0.5, -0.5, -0.5]])
    spec = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0})
    out = aggregate_round(RoundInputs(theta, cands, r), spec)
    assert out.weights.tolist() == pytest.approx([1 / 4] * 4 + [0.0] * 3)
    assert out.model.tolist() == pytest.approx([1 / 4] * 4)


def test_the_clipping_radius_is_capped_when_scaled_updates_dominate_the_gate():
    # Two honest unit updates pass the gate, three fail it, and three scaled ones (x50)
    # pass: the median norm past the gate would be 50. The radius is capped at twice
    # every admissible candidate's median m = 1, so the scaled updates are clipped to
    # norm 2; the discount measures them against 2m: each keeps (2 / 50)^2 of its weight.
    theta = torch.zeros(8)
    honest = torch.eye(8)[:5]
    scaled = 50.0 * torch.eye(8)[5:]
    cands = torch.cat([honest, scaled])
    r = reports([[0.0] * 8], [[0.5, 0.5, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5]])

    def run(**params):
        spec = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0, **params})
        return aggregate_round(RoundInputs(theta, cands, r), spec)

    def weights(kept):
        return [1 / (2 + 3 * kept)] * 2 + [0.0] * 3 + [kept / (2 + 3 * kept)] * 3

    kept = (2 / 50) ** 2
    default = run()
    assert default.weights.tolist() == pytest.approx(weights(kept))
    assert float(default.model[5:].max()) == pytest.approx(2 * kept / (2 + 3 * kept))
    # The discount against 2c instead (c = 2): (4 / 50)^2.
    assert run(discount_admissible=False).weights.tolist() == pytest.approx(weights((4 / 50) ** 2))
    # Neither: the radius is 50, and the scaled updates keep their weight and length.
    plain = run(cap_radius=False, discount_admissible=False)
    assert plain.weights.tolist() == pytest.approx(weights(1.0))
    assert float(plain.model[5:].max()) == pytest.approx(10.0)
