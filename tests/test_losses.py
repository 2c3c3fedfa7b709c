"""The loss library against the closed forms of ``book/loss_decisions.md``, hand computations, invariants and MMPose."""
import math

import pytest
import torch

from fowkal import parts
from fowkal.losses import (KAL_METHODS, METHODS, AWingLoss, HeuristicLoss, KALLoss, MSELoss, awing,
                           build_reference_loss, fwahr_weight, wahr_weight)
from fowkal.losses.functional import _awing_constants

D = torch.float64


def build_loss(method, **options):
    """These tests pin the definition, the reference losses (``build_loss(..., reference=True)``);
    tests/test_fused.py pins the fused losses, build_loss's default, to them."""
    return build_reference_loss(method, **options)


def t(*values):
    return torch.tensor(values, dtype=D)


def const_maps(preds, targets, h=2, w=3):
    """[1, K, h, w] constant maps from per-keypoint values."""
    p = torch.tensor(preds, dtype=D).view(1, -1, 1, 1).expand(1, len(preds), h, w).clone()
    g = torch.tensor(targets, dtype=D).view(1, -1, 1, 1).expand(1, len(targets), h, w).clone()
    return p, g


def gaussian_batch(b=2, k=parts.NUM_KEYPOINTS, h=8, w=6, seed=0, dtype=D):
    """Gaussian targets (σ = 2, random centres) and perturbed predictions kept away from 0 and 1."""
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dtype), torch.arange(w, dtype=dtype), indexing="ij")
    cy = torch.rand(b, k, 1, 1, generator=gen, dtype=dtype) * h
    cx = torch.rand(b, k, 1, 1, generator=gen, dtype=dtype) * w
    target = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * 2.0 ** 2))
    pred = (0.8 * target + 0.1 + 0.05 * torch.rand(b, k, h, w, generator=gen, dtype=dtype)).clamp(0.06, 0.94)
    tw = (torch.rand(b, k, generator=gen) > 0.2).to(dtype)
    lam = torch.rand(b, k, generator=gen, dtype=dtype) * 0.8 + 0.1
    return pred, target, tw, lam


# --------------------------------------------------------------------------- AWing closed forms (§11)
@pytest.mark.parametrize("p, p_hat, value", [
    (0, 0, 0.0), (0, 0.25, 0.7417313320), (0, -0.25, 0.7417313320), (0, 0.5, 2.9352350865),
    (0, 1, 8.4959459105), (1, 0.75, 2.7567767023), (1, 0, 10.2593828115), (0.5, 0, 3.9912101597),
    (0.5, 1, 3.9912101597), (0.5, 0.25, 1.4461345218), (1, 1.5, 5.3604580087), (0.3, 0.31, 0.0035161994),
])
def test_awing_closed_form(p, p_hat, value):
    assert awing(t(p_hat), t(p)).item() == pytest.approx(value, abs=1e-9)


def test_awing_log_branch_formula():
    assert awing(t(0.25), t(0.0)).item() == pytest.approx(14 * math.log(1 + 0.25 ** 2.1), abs=1e-12)


@pytest.mark.parametrize("p, a, c", [
    (0, 11.1214216480, 2.6254757375), (0.25, 11.2486382595, 2.1968281047), (0.5, 11.1126734642, 1.5651265724),
    (0.75, 10.6505236897, 0.6919430122), (1, 9.7978496056, -0.4615332059),
])
def test_awing_a_and_c(p, a, c):
    _, a_val, c_val = _awing_constants(t(p), 2.1, 14.0, 1.0, 0.5)
    assert a_val.item() == pytest.approx(a, abs=1e-9)
    assert c_val.item() == pytest.approx(c, abs=1e-9)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_awing_is_c1_at_theta(p):
    theta = 0.5
    left, right = t(p + theta - 1e-9).requires_grad_(), t(p + theta + 1e-9).requires_grad_()
    f_left, f_right = awing(left, t(p)), awing(right, t(p))
    assert abs(f_left.item() - f_right.item()) < 1e-7
    (g_left,) = torch.autograd.grad(f_left, left)
    (g_right,) = torch.autograd.grad(f_right, right)
    assert g_left.item() == pytest.approx(g_right.item(), abs=1e-6)


def test_awing_symmetric_monotone_nonnegative():
    p = torch.linspace(0, 1, 11, dtype=D).view(-1, 1)
    deltas = torch.linspace(0, 3, 61, dtype=D).view(1, -1)
    up, down = awing(p + deltas, p.expand_as(deltas + p)), awing(p - deltas, p.expand_as(deltas + p))
    torch.testing.assert_close(up, down, rtol=0, atol=1e-12)
    assert (up >= 0).all() and (up[:, 0] == 0).all() and (up[:, 1:] > 0).all()
    assert (up[:, 1:] > up[:, :-1]).all()  # strictly increasing in |δ|


def test_awing_exceeds_mse_by_4_9_in_the_working_range():
    """Spec §5.4 / invariant 9: the reason λ is pushed to 0 under the paper's objective."""
    gen = torch.Generator().manual_seed(1)
    p = torch.rand(20000, generator=gen, dtype=D)
    delta = 10 ** (torch.rand(20000, generator=gen, dtype=D) * (math.log10(2) + 4) - 4)  # 1e-4 .. 2
    sign = torch.where(torch.rand(20000, generator=gen) > 0.5, 1.0, -1.0).to(D)
    p_hat = p + sign * delta
    assert (awing(p_hat, p) >= 4.9 * (p_hat - p) ** 2).all()


def test_awing_gradient_is_zero_and_finite_at_perfect_prediction():
    p_hat = t(0.0, 0.3, 1.0).requires_grad_()
    awing(p_hat, t(0.0, 0.3, 1.0)).sum().backward()
    assert torch.equal(p_hat.grad, torch.zeros(3, dtype=D))


def test_awing_large_residual_gradient_is_finite():
    p_hat = t(1e30, -1e20, 3.0).requires_grad_()
    value = awing(p_hat, t(0.0, 1.0, 0.5))
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(p_hat.grad).all()


# --------------------------------------------------------------------------- WAHR / FWAHR (§11)
@pytest.mark.parametrize("p, p_hat, value", [
    (1, 0.8, 0.2), (0, 0.3, 0.3), (0.5, 0.5, 0.5), (0.5, 0.2, 0.7958554973), (0.5, -0.1, 1.0930924954),
    (0.3, 1.4, 0.4119675405), (1e-40, 0.1, 0.4184857364),
])
def test_wahr_weight(p, p_hat, value):
    assert wahr_weight(t(p_hat), t(p)).item() == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("reading, p, p_hat, value", [
    ("literal", 0.5, -0.1, 0.005), ("literal", 0, -0.2, 0.0), ("literal", 0, 0.2, 0.2),
    ("gt_tau_pred", 0, 0.3, 0.003), ("gt_tau_pred", 0, -0.2, 0.002), ("gt_tau_target", 0, 0.3, 0.0),
])
def test_fwahr_weight(reading, p, p_hat, value):
    assert fwahr_weight(t(p_hat), t(p), reading=reading).item() == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("reading", ["literal", "gt_tau_target", "gt_tau_pred"])
def test_fwahr_equals_wahr_on_confident_foreground(reading):
    p, p_hat = t(0.5, 0.3, 1.0, 0.1), t(0.2, 1.4, 0.8, 0.05)
    torch.testing.assert_close(fwahr_weight(p_hat, p, reading=reading), wahr_weight(p_hat, p))


def test_fwahr_threshold_is_exact_in_float32():
    thr = 2.0 ** -100
    p = torch.tensor([0.5, 0.5], dtype=torch.float32)
    p_hat = torch.tensor([thr, thr / 2], dtype=torch.float32)
    w = fwahr_weight(p_hat, p)
    assert w[0].item() == pytest.approx(wahr_weight(p_hat, p)[0].item())
    assert w[1].item() == pytest.approx(0.005)


def test_wahr_live_weight_attractor_documented():
    """Spec §6.5: with a live W, p̂ = 0.95 on p = 0.135 is pulled toward 1; detached W pulls it to p."""
    for detach, expected in ((False, -0.527), (True, 0.111)):
        loss = MSELoss(weighting="wahr", detach_weight=detach)
        p_hat = torch.full((1, 1, 1, 1), 0.95, dtype=D, requires_grad=True)
        loss(p_hat, torch.full((1, 1, 1, 1), 0.135, dtype=D)).backward()
        assert p_hat.grad.item() == pytest.approx(expected, abs=1e-3)


# --------------------------------------------------------------------------- MMPose parity
def _mmpose_losses():
    pytest.importorskip("mmpose", reason="MMPose not installed")
    from mmpose.models.losses.heatmap_loss import AdaptiveWingLoss, KeypointMSELoss
    return KeypointMSELoss(use_target_weight=True), AdaptiveWingLoss(use_target_weight=True)


@pytest.mark.mmpose
def test_mse_and_awing_match_mmpose_in_float64():
    mm_mse, mm_awing = _mmpose_losses()
    pred, target, tw, _ = gaussian_batch(b=3, h=16, w=12)
    pred = pred + torch.linspace(-0.7, 0.7, pred.numel(), dtype=D).view_as(pred)  # both AWing branches
    ours_mse = build_loss("mse")(pred, target, tw)
    ours_awing = build_loss("awing")(pred, target, tw)
    torch.testing.assert_close(ours_mse, mm_mse(pred, target, tw), rtol=1e-12, atol=0)
    torch.testing.assert_close(ours_awing, mm_awing(pred, target, tw), rtol=1e-12, atol=0)
    # without weights, too
    torch.testing.assert_close(build_loss("mse")(pred, target), mm_mse(pred, target, torch.ones_like(tw)))


def test_mse_and_awing_match_transcribed_mmpose_formulas():
    """MMPose's reductions, written out (Apache-2.0 formulas): mean over all B·K·H·W of w-scaled terms."""
    pred, target, tw, _ = gaussian_batch(b=2, h=8, w=6, seed=3)
    pred = pred + torch.linspace(-0.9, 0.9, pred.numel(), dtype=D).view_as(pred)
    w = tw[:, :, None, None]
    ref_mse = ((pred - target) ** 2 * w).mean()
    delta = (w * target - w * pred).abs()
    y = 2.1 - w * target
    a = 14 * (1 / (1 + 0.5 ** y)) * y * 0.5 ** (y - 1)
    c = 0.5 * a - 14 * torch.log(1 + 0.5 ** y)
    ref_awing = torch.where(delta < 0.5, 14 * torch.log(1 + delta ** y), a * delta - c).mean()
    torch.testing.assert_close(build_loss("mse")(pred, target, tw), ref_mse, rtol=1e-12, atol=0)
    torch.testing.assert_close(build_loss("awing")(pred, target, tw), ref_awing, rtol=1e-12, atol=0)


def test_non_binary_target_weight_convention():
    """Spec invariant 16: we multiply the per-keypoint loss by tw (MMPose 1.x MSE convention)."""
    p_hat, p = torch.ones(1, 1, 1, 1, dtype=D), torch.zeros(1, 1, 1, 1, dtype=D)
    half = torch.full((1, 1), 0.5, dtype=D)
    assert build_loss("mse")(p_hat, p, half).item() == pytest.approx(0.5)
    assert build_loss("awing")(p_hat, p, half).item() == pytest.approx(0.5 * 8.4959459105, abs=1e-9)


# --------------------------------------------------------------------------- heuristic (§4)
def test_heuristic_oracle_literal_and_swapped():
    """Constant maps: bf keypoints MSE 0.25, fh keypoints AWing 3.9912101597 (p = 0.5, p̂ = 0)."""
    pred = torch.zeros(1, 133, 2, 2, dtype=D)
    target = torch.full((1, 133, 2, 2), 0.5, dtype=D)
    literal = build_loss("heuristic")(pred, target)
    swapped = build_loss("heuristic", balance="swapped")(pred, target)
    assert literal.item() == pytest.approx(0.8969761930, abs=1e-9)
    assert swapped.item() == pytest.approx(3.3442339667, abs=1e-9)
    # by hand: (110/133)·0.25 + (23/133)·3.9912101597 and (23·0.25 + 110·3.9912101597)/133
    assert literal.item() == pytest.approx(110 / 133 * 0.25 + 23 / 133 * 3.9912101597, abs=1e-9)
    assert swapped.item() == pytest.approx((23 * 0.25 + 110 * 3.9912101597) / 133, abs=1e-9)


def test_heuristic_identities_on_random_maps():
    pred, target, tw, _ = gaussian_batch(seed=5)
    bf, fh = list(parts.BODY + parts.FOOT), list(parts.FACE + parts.HAND)
    mse_k = (((pred - target) ** 2).mean(dim=(2, 3)) * tw)
    aw_k = (awing(pred, target).mean(dim=(2, 3)) * tw)
    literal = (110 / 133 * mse_k[:, bf].mean(1) + 23 / 133 * aw_k[:, fh].mean(1)).mean()
    uniform = torch.cat([mse_k[:, bf], aw_k[:, fh]], dim=1).mean()
    torch.testing.assert_close(build_loss("heuristic")(pred, target, tw), literal)
    torch.testing.assert_close(build_loss("heuristic", balance="swapped")(pred, target, tw), uniform)


# --------------------------------------------------------------------------- KAL / FoWKAL: hand-checked toy
TOY_PARTS = {"a": [0], "b": [1, 2]}
TOY_PRED, TOY_TARGET = [1.0, 0.0, 0.75], [0.0, 0.5, 1.0]
TOY_LAMBDA = [[0.2, 0.4, 0.8]]


def test_kal_toy_by_hand():
    # per keypoint: (MSE, AWing) = (1, 8.4959459105), (0.25, 3.9912101597), (0.0625, 2.7567767023)
    part_a = 0.2 * 8.4959459105 + 0.8 * 1.0
    part_b = ((0.4 * 3.9912101597 + 0.6 * 0.25) + (0.8 * 2.7567767023 + 0.2 * 0.0625)) / 2
    reg = 0.0 + ((0.4 - 0.6) ** 2 + (0.8 - 0.6) ** 2) / 2  # population variance of part b
    expected = part_a + part_b + reg
    assert expected == pytest.approx(4.5213918950, abs=1e-9)
    pred, target = const_maps(TOY_PRED, TOY_TARGET)
    loss = build_loss("kal", parts=TOY_PARTS)(pred, target, kaf=torch.tensor(TOY_LAMBDA, dtype=D))
    assert loss.item() == pytest.approx(expected, abs=1e-9)
    # the sum reduction scales the data term by H·W = 6 and leaves the regulariser alone
    loss_sum = build_loss("kal", parts=TOY_PARTS, pixel_reduction="sum")(pred, target, kaf=torch.tensor(TOY_LAMBDA, dtype=D))
    assert loss_sum.item() == pytest.approx(6 * (part_a + part_b) + reg, abs=1e-9)


def test_fowkal_toy_by_hand():
    # FWAHR literal weights: k0 (p 0, p̂ 1) → |p̂| = 1; k1 (p̂ = 0 < 2^-100) → τ·p = 0.005;
    # k2 (p 1, p̂ 0.75) → 1·0.25 + 0.75·0 = 0.25
    part_a = 0.2 * 8.4959459105 * 1 + 0.8 * 1.0 * 1
    k1 = 0.4 * 3.9912101597 * 0.005 + 0.6 * 0.25 * 0.005
    k2 = 0.8 * 2.7567767023 * 0.25 + 0.2 * 0.0625 * 0.25
    expected = part_a + (k1 + k2) / 2 + 0.04
    assert expected == pytest.approx(2.8207955625, abs=1e-9)
    pred, target = const_maps(TOY_PRED, TOY_TARGET)
    loss = build_loss("fowkal", parts=TOY_PARTS)(pred, target, kaf=torch.tensor(TOY_LAMBDA, dtype=D))
    assert loss.item() == pytest.approx(expected, abs=1e-9)


def test_kal_with_one_part_and_constant_lambda_is_mse_or_awing():
    pred, target, tw, _ = gaussian_batch(k=5, seed=7)
    one = {"all": list(range(5))}
    zeros, ones = torch.zeros(2, 5, dtype=D), torch.ones(2, 5, dtype=D)
    torch.testing.assert_close(build_loss("kal", parts=one)(pred, target, tw, kaf=zeros), build_loss("mse")(pred, target, tw))
    torch.testing.assert_close(build_loss("kal", parts=one)(pred, target, tw, kaf=ones), build_loss("awing")(pred, target, tw))


def test_kal_lambda_zero_is_sum_of_part_means():
    pred, target, tw, _ = gaussian_batch(seed=8)
    mse_k = ((pred - target) ** 2).mean(dim=(2, 3)) * tw
    expected = sum(mse_k[:, list(idx)].mean(1) for idx in parts.PARTS.values()).mean()
    loss = build_loss("kal")(pred, target, tw, kaf=torch.zeros(2, 133, dtype=D))
    torch.testing.assert_close(loss, expected)
    # equal ℓ everywhere → 4× the global MSE
    p0, g0 = torch.zeros(1, 133, 2, 2, dtype=D), torch.full((1, 133, 2, 2), 0.5, dtype=D)
    assert build_loss("kal")(p0, g0, kaf=torch.zeros(1, 133, dtype=D)).item() == pytest.approx(4 * 0.25)


def test_regulariser_invariants():
    pred, target, tw, lam = gaussian_batch(seed=9)
    loss = build_loss("kal", reg_weight=1.0)
    reg = lambda kaf: loss.terms(pred, target, tw, kaf)["reg"]  # noqa: E731
    per_part_const = torch.zeros(2, 133, dtype=D)
    for i, idx in enumerate(parts.PARTS.values()):
        per_part_const[:, list(idx)] = 0.1 + 0.2 * i
    per_part_const.requires_grad_()
    r = reg(per_part_const)
    assert r.item() == 0.0
    (g,) = torch.autograd.grad(r, per_part_const)
    assert torch.equal(g, torch.zeros_like(g))
    # permutation inside a part and a constant shift of a part leave it unchanged
    perm = lam.clone()
    face = list(parts.FACE)
    perm[:, face] = lam[:, face[::-1]]
    shifted = lam.clone()
    shifted[:, face] = (lam[:, face] + 0.05)
    torch.testing.assert_close(reg(perm), reg(lam))
    torch.testing.assert_close(reg(shifted), reg(lam))
    two = build_loss("kal", parts={"x": [0, 1]})
    p, g = const_maps([0.0, 0.0], [0.0, 0.0])
    assert two.terms(p, g, kaf=torch.tensor([[0.0, 1.0]], dtype=D))["reg"].item() == pytest.approx(0.25)


def test_fowkal_without_weighting_is_kal_and_fixed_vector_lambda():
    pred, target, tw, lam = gaussian_batch(seed=10)
    kal = build_loss("kal")(pred, target, tw, kaf=lam)
    fowkal_plain = KALLoss(weighting="none")(pred, target, tw, kaf=lam)
    torch.testing.assert_close(kal, fowkal_plain)
    vec = lam[0]  # one λ per keypoint, shared by the batch
    torch.testing.assert_close(build_loss("kal")(pred, target, tw, kaf=vec),
                               build_loss("kal")(pred, target, tw, kaf=vec.expand(2, -1)))


def test_heuristic_is_not_kal_with_part_constant_lambda():
    pred, target, tw, _ = gaussian_batch(seed=11)
    lam = torch.zeros(2, 133, dtype=D)
    lam[:, list(parts.FACE + parts.HAND)] = 1.0
    assert not torch.isclose(build_loss("heuristic")(pred, target, tw), build_loss("kal")(pred, target, tw, kaf=lam))


def test_lambda_gradient_is_positive_for_visible_keypoints_without_regulariser():
    pred, target, _, lam = gaussian_batch(seed=12)
    lam.requires_grad_()
    build_loss("kal", reg_weight=0.0)(pred, target, kaf=lam).backward()
    assert (lam.grad > 0).all()


@pytest.mark.parametrize("method", list(METHODS))
def test_invisible_keypoint_has_no_influence(method):
    pred, target, tw, lam = gaussian_batch(seed=13)
    tw[:, 40] = 0
    kaf = lam if method in KAL_METHODS else None
    loss = build_loss(method)
    pred = pred.clone().requires_grad_()
    base = loss(pred, target, tw, kaf=kaf)
    other = pred.detach().clone()
    other[:, 40] = 0.9
    torch.testing.assert_close(loss(other, target, tw, kaf=kaf), base.detach())
    (g,) = torch.autograd.grad(base, pred)
    assert torch.equal(g[:, 40], torch.zeros_like(g[:, 40]))
    if kaf is not None:
        lam2 = lam.clone().requires_grad_()
        build_loss(method, reg_weight=0.0)(pred.detach(), target, tw, kaf=lam2).backward()
        assert lam2.grad[:, 40].abs().max().item() == 0.0


@pytest.mark.parametrize("method", list(METHODS))
def test_batch_duplication_leaves_loss_unchanged(method):
    pred, target, tw, lam = gaussian_batch(seed=14)
    kaf = lam if method in KAL_METHODS else None
    twice = lambda x: None if x is None else torch.cat([x, x])  # noqa: E731
    loss = build_loss(method)
    torch.testing.assert_close(loss(pred, target, tw, kaf=kaf), loss(twice(pred), twice(target), twice(tw), kaf=twice(kaf)))


def test_lambda_barrier_creates_interior_pull():
    pred, target, tw, _ = gaussian_batch(seed=15)
    lam = torch.full((2, 133), 0.02, dtype=D, requires_grad=True)
    build_loss("kal", lambda_barrier=1.0)(pred, target, tw, kaf=lam).backward()
    assert (lam.grad < 0).all()  # the barrier pushes small λ up, against the data term


def test_term_normalisation_batch_values_and_lambda_push():
    pred, target, tw, lam = gaussian_batch(seed=21)
    plain = build_loss("kal", reg_weight=0.0).terms(pred, target, tw, lam)
    scaled = build_loss("kal", reg_weight=0.0, term_normalisation="batch")
    terms = scaled.terms(pred, target, tw, lam)
    torch.testing.assert_close(terms["awing"], plain["awing"])  # the logged terms stay unscaled
    aw, mse = plain["awing"] / plain["awing"].mean(), plain["mse"] / plain["mse"].mean()
    by_hand = sum((lam * aw + (1 - lam) * mse)[:, list(idx)].mean(1) for idx in parts.PARTS.values()).mean()
    torch.testing.assert_close(terms["total"], by_hand)
    lam = lam.clone().requires_grad_()
    scaled(pred, target, tw, kaf=lam).backward()
    # the paper's objective pushes every visible λ down (§5.4); on a common scale some go up
    assert (lam.grad[tw > 0] < 0).any() and (lam.grad[tw > 0] > 0).any()


def test_term_normalisation_no_push_when_terms_are_proportional():
    pred, target, tw, lam = gaussian_batch(seed=22)
    loss = build_loss("kal", reg_weight=0.0, term_normalisation="batch")
    l_aw = torch.rand(2, 133, dtype=D) + 0.1
    lam = lam.clone().requires_grad_()
    loss.combine(lam, 7.0 * l_aw, l_aw)["total"].backward()  # AWing = 7 x MSE everywhere: no preference
    assert lam.grad.abs().max().item() < 1e-12
    lam.grad = None
    build_loss("kal", reg_weight=0.0).combine(lam, 7.0 * l_aw, l_aw)["total"].backward()
    assert (lam.grad > 0).all()  # unscaled: every λ pushed to the MSE side


def test_term_normalisation_unknown_value_named():
    with pytest.raises(ValueError, match="term_normalisation"):
        build_loss("kal", term_normalisation="per_part")
    with pytest.raises(TypeError, match="term_normalisation"):
        build_loss("heuristic", term_normalisation="batch")


# --------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("method", list(METHODS))
def test_gradcheck_every_method(method):
    pred, target, tw, lam = gaussian_batch(b=2, k=parts.NUM_KEYPOINTS, h=3, w=2, seed=16)
    loss = build_loss(method)
    pred = pred.clone().requires_grad_()
    if method in KAL_METHODS:
        logits = torch.logit(lam).requires_grad_()
        assert torch.autograd.gradcheck(lambda p, z: loss(p, target, tw, kaf=torch.sigmoid(z)), (pred, logits),
                                        eps=1e-6, atol=1e-5)
    else:
        assert torch.autograd.gradcheck(lambda p: loss(p, target, tw), (pred,), eps=1e-6, atol=1e-5)


def test_gradcheck_awing_elementwise_both_branches():
    target = torch.linspace(0, 1, 12, dtype=D)
    pred = (target + torch.linspace(-0.9, 0.9, 12, dtype=D)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: awing(p, target), (pred,), eps=1e-6, atol=1e-5)


# --------------------------------------------------------------------------- mixed precision
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("method", list(METHODS))
def test_half_precision_inputs_give_float32_losses(method, dtype):
    pred, target, tw, lam = gaussian_batch(seed=17, h=16, w=12, dtype=torch.float32)
    pred_h, target_h = pred.to(dtype), target.to(dtype)
    kaf = lam.float() if method in KAL_METHODS else None
    loss = build_loss(method)
    out = loss(pred_h, target_h, tw.to(dtype), kaf=None if kaf is None else kaf.to(dtype))
    ref = loss(pred_h.float(), target_h.float(), tw.float(), kaf=None if kaf is None else kaf.to(dtype).float())
    assert out.dtype == torch.float32 and torch.isfinite(out)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=0)


def test_large_residuals_do_not_overflow_in_half_precision():
    """fp16 would overflow A·δ (and a pixel-summed loss) near 6e4; the fp32 compute does not."""
    target = torch.zeros(2, 133, 8, 6, dtype=torch.float16)
    for method in METHODS:
        kaf = torch.full((2, 133), 0.5) if method in KAL_METHODS else None
        pred = torch.full_like(target, 6.0e4).requires_grad_()
        value = build_loss(method, pixel_reduction="sum")(pred, target, kaf=kaf)
        assert value.dtype == torch.float32 and torch.isfinite(value), method
        # W-weighted losses grow like |p̂|³, whose gradient cannot fit fp16 at 6e4: check at 100
        pred_small = torch.full_like(target, 100.0 if METHODS[method][1].get("weighting", "none") != "none" else 6.0e4).requires_grad_()
        (g,) = torch.autograd.grad(build_loss(method)(pred_small, target, kaf=kaf), pred_small)
        assert torch.isfinite(g).all(), method


# --------------------------------------------------------------------------- bad input
def _call(method="fowkal", pred_shape=(2, 133, 4, 3), **kw):
    pred = kw.pop("pred", torch.rand(pred_shape))
    target = kw.pop("target", torch.rand(pred_shape) * 0.9)
    kaf = kw.pop("kaf", torch.full(pred_shape[:2], 0.5) if method in KAL_METHODS else None)
    return build_loss(method, **kw.pop("options", {}))(pred, target, kw.pop("tw", None), kaf=kaf)


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(target=torch.rand(2, 133, 4, 4)), ValueError, "shapes differ"),
    (dict(pred=torch.rand(133, 4, 3), target=torch.rand(133, 4, 3)), ValueError, r"\[B, K, H, W\]"),
    (dict(pred_shape=(2, 17, 4, 3)), ValueError, "leave 116 of K=17|outside 0..16"),
    (dict(kaf=None), ValueError, "needs kaf"),
    (dict(kaf=torch.full((2, 133), 1.5)), ValueError, r"\[0, 1\]"),
    (dict(kaf=torch.full((2, 132), 0.5)), ValueError, "kaf must have shape"),
    (dict(tw=torch.ones(2, 133, 1)), ValueError, "target_weight must have shape"),
    (dict(target=torch.full((2, 133, 4, 3), 2.0)), ValueError, "alpha - 1"),
    (dict(pred=torch.full((2, 133, 4, 3), float("nan"))), ValueError, "pred contains NaN"),
    (dict(target=torch.full((2, 133, 4, 3), float("inf"))), ValueError, "target contains inf"),
    (dict(method="mse", kaf=torch.full((2, 133), 0.5)), ValueError, "does not use kaf"),
    (dict(pred=torch.zeros(2, 133, 4, 3, dtype=torch.long)), TypeError, "floating-point"),
    (dict(pred=[[1.0]]), TypeError, "torch.Tensor"),
])
def test_bad_input_is_named(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        _call(**kwargs)


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match="unknown method 'kl'.*mse, awing, heuristic, kal"):
        build_loss("kl")
    with pytest.raises(TypeError, match="does not take option"):
        build_loss("mse", reg_weight=2.0)
    with pytest.raises(ValueError, match="unknown fwahr_reading"):
        build_loss("fowkal", fwahr_reading="R4")
    with pytest.raises(ValueError, match="overlap"):
        build_loss("kal", parts={"a": [0, 1], "b": [1, 2]})(torch.rand(1, 3, 2, 2), torch.rand(1, 3, 2, 2) * 0.5,
                                                           kaf=torch.full((1, 3), 0.5))
    with pytest.raises(ValueError, match="leave 1 of K=3"):
        build_loss("kal", parts={"a": [0], "b": [1]})(torch.rand(1, 3, 2, 2), torch.rand(1, 3, 2, 2) * 0.5,
                                                     kaf=torch.full((1, 3), 0.5))
    with pytest.raises(ValueError, match="heuristic loss needs parts"):
        build_loss("heuristic", parts={"a": [0], "b": [1]})
    with pytest.raises(ValueError, match="must be > 0"):
        build_loss("awing", omega=0)


def test_mmpose_free_import():
    import subprocess
    import sys
    code = "import sys, fowkal.losses; assert not any(m.startswith(('mmpose', 'mmengine', 'mmcv')) for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_class_names_are_exported():
    assert {MSELoss, AWingLoss, HeuristicLoss, KALLoss} == {cls for cls, _ in METHODS.values()}
