"""The fused losses (fowkal.losses.fused) against the reference (fowkal.losses): values, gradients, errors."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fowkal.losses import fused
from fowkal import parts
from fowkal.losses.fused import build_fused_loss
from fowkal.losses import FWAHR_READINGS, KAL_METHODS, METHODS, build_loss, build_reference_loss


@pytest.fixture(autouse=True)
def _eager_pixel_pass(monkeypatch):
    """These tests hold the fused loss's eager pass to the reference (and its fallbacks); the compiled pass,
    the default where a compiler is present, is held to the reference by tests/test_compiled.py (compiling
    every shape and option set met here would take minutes)."""
    monkeypatch.setenv("FOWKAL_COMPILED_LOSS", "0")

D = torch.float64
REPO = Path(__file__).resolve().parents[1]


def make_inputs(b=2, k=parts.NUM_KEYPOINTS, h=8, w=6, seed=0, dtype=D):
    """Gaussian targets (zeros for invisible keypoints) and predictions that hit every special case.

    Predictions: near the target, far from it (AWing's linear branch), negative, above 1, and exactly
    0, 1, the target (δ = 0), target + θ (the branch boundary) and FWAHR's threshold on some pixels (and
    targets exactly at the threshold): the kinks and switches where the reference's autograd picks a
    sub-gradient or branch, which the analytic backward must pick too.
    """
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dtype), torch.arange(w, dtype=dtype), indexing="ij")
    cy = torch.rand(b, k, 1, 1, generator=gen, dtype=dtype) * h
    cx = torch.rand(b, k, 1, 1, generator=gen, dtype=dtype) * w
    target = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * 2.0 ** 2))
    visible = torch.rand(b, k, generator=gen) > 0.25
    target = target * visible.view(b, k, 1, 1).to(dtype)
    pred = 0.8 * target + 0.3 * (torch.rand(b, k, h, w, generator=gen, dtype=dtype) - 0.4)
    pick = torch.randint(0, 12, (b, k, h, w), generator=gen)
    pred = torch.where(pick == 0, torch.zeros_like(pred), pred)
    pred = torch.where(pick == 1, torch.ones_like(pred), pred)
    pred = torch.where(pick == 2, target, pred)
    pred = torch.where(pick == 3, target + 0.5, pred)
    pred = torch.where(pick == 4, target - 1.7, pred)
    pred = torch.where(pick == 5, target + 1.4, pred)
    threshold = 2.0 ** -100  # FWAHR's 2^(−1/γ): W switches branch exactly here (>=)
    pred = torch.where(pick == 6, torch.full_like(pred, threshold), pred)
    target = torch.where(pick == 7, torch.full_like(target, threshold), target)
    tw_binary = visible.to(dtype)
    tw_soft = torch.rand(b, k, generator=gen, dtype=dtype) * visible
    lam = torch.rand(b, k, generator=gen, dtype=dtype) * 0.9 + 0.05
    return pred, target, tw_binary, tw_soft, lam


def loss_and_grads(loss, pred, target, tw, lam, method):
    pred = pred.detach().clone().requires_grad_()
    kaf = lam.detach().clone().requires_grad_() if method in KAL_METHODS else None
    value = loss(pred, target, tw, kaf)
    inputs = [pred] + ([kaf] if kaf is not None else [])
    grads = torch.autograd.grad(value, inputs)
    return value, grads


def assert_same(method, options, pred, target, tw, lam, rtol=1e-12, atol=1e-14):
    ref_value, ref_grads = loss_and_grads(build_reference_loss(method, **options), pred, target, tw, lam, method)
    new_value, new_grads = loss_and_grads(build_fused_loss(method, **options), pred, target, tw, lam, method)
    assert new_value.dtype == ref_value.dtype
    torch.testing.assert_close(new_value, ref_value, rtol=rtol, atol=atol)
    for name, ref, new in zip(("d/dpred", "d/dkaf"), ref_grads, new_grads):
        assert new.dtype == ref.dtype
        torch.testing.assert_close(new, ref, rtol=rtol, atol=atol, msg=lambda m: f"{name}: {m}")


# --------------------------------------------------------------------------- every method, every option
COMMON_OPTIONS = [
    {}, {"pixel_reduction": "sum"}, {"detach_weight": True}, {"loss_weight": 2.5},
    *({"fwahr_reading": r} for r in FWAHR_READINGS),
    {"fwahr_reading": "gt_tau_pred", "detach_weight": True, "pixel_reduction": "sum"},
    {"gamma": 0.05, "tau": 0.2},
    {"alpha": 2.4, "omega": 9.0, "epsilon": 0.7, "theta": 0.3},  # ε ≠ 1 takes its own code path
]
CLASS_OPTIONS = {
    "heuristic": [{"balance": "swapped"}],
    "kal": [{"reg_weight": 0.0}, {"reg_weight": 3.0}, {"lambda_barrier": 0.2},
            {"reg_weight": 0.5, "lambda_barrier": 0.1, "pixel_reduction": "sum"},
            {"term_normalisation": "batch"}],
}


def method_options():
    for method in METHODS:
        family = "kal" if method in KAL_METHODS else ("heuristic" if "heuristic" in method else None)
        for options in COMMON_OPTIONS + CLASS_OPTIONS.get(family, []):
            yield pytest.param(method, options, id=f"{method}-{'-'.join(f'{k}={v}' for k, v in options.items())}")


@pytest.mark.parametrize("method, options", list(method_options()))
@pytest.mark.parametrize("weights", ["binary", "soft", "none"])
def test_matches_reference_in_float64(method, options, weights):
    pred, target, tw_binary, tw_soft, lam = make_inputs()
    tw = {"binary": tw_binary, "soft": tw_soft, "none": None}[weights]
    assert_same(method, options, pred, target, tw, lam)


@pytest.mark.parametrize("method", list(METHODS))
def test_unchecked_inputs_with_negative_targets_match_reference(method):
    """check_inputs=False: the reference clamps the target at 0 before p^γ; so must the fused loss."""
    pred, target, tw, _, lam = make_inputs(seed=3)
    target = target - 0.02  # some targets below 0
    assert (target < 0).any()
    assert_same(method, {"check_inputs": False}, pred, target, tw, lam)


@pytest.mark.parametrize("method", ["heuristic_fwahr", "heuristic", "fowkal"])
def test_custom_parts_match_reference(method):
    """Interleaved parts: the heuristic's keypoint groups are not runs (pooled gather blocks)."""
    k = 12
    custom = {"body": range(0, k, 4), "foot": range(1, k, 4), "face": range(2, k, 4), "hand": range(3, k, 4)}
    pred, target, tw, _, lam = make_inputs(k=k, seed=4)
    ref = build_reference_loss(method, parts=custom)
    new = build_fused_loss(method, parts=custom)
    ref_value, ref_grads = loss_and_grads(ref, pred, target, tw, lam, method)
    new_value, new_grads = loss_and_grads(new, pred, target, tw, lam, method)
    torch.testing.assert_close(new_value, ref_value, rtol=1e-12, atol=1e-14)
    for ref_grad, new_grad in zip(ref_grads, new_grads):
        torch.testing.assert_close(new_grad, ref_grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["mse", "fowkal", "heuristic"])
def test_zero_weight_keypoints_are_skipped_only_when_that_changes_nothing(method):
    """tw = 0 rows are skipped (0 · loss = 0), except when the reference's 0 · inf gives NaN."""
    pred, target, tw, _, lam = (x.float() for x in make_inputs(b=3, h=32, w=24, seed=13))
    unlabelled = list(parts.FACE) + list(parts.HAND)  # whole parts: runs long enough to be skipped
    tw[0, unlabelled] = 0.0
    target[0, unlabelled] = 0.0
    hidden = tw == 0
    assert hidden.any() and (~hidden).any()
    assert_same(method, {}, pred, target, tw, lam, rtol=2e-6, atol=1e-8)
    huge = pred.clone()
    huge[0, parts.FACE[0]] = 3e38  # AWing's A·δ and (p̂ − p)² overflow float32 on a zero-weight keypoint
    kaf = lam if method in KAL_METHODS else None
    ref, new = build_reference_loss(method)(huge, target, tw, kaf), build_fused_loss(method)(huge, target, tw, kaf)
    assert torch.isnan(ref) and torch.isnan(new)


def test_kal_terms_match_reference():
    pred, target, tw, _, lam = make_inputs(seed=5)
    ref = build_reference_loss("fowkal", lambda_barrier=0.1).terms(pred, target, tw, lam)
    new = build_fused_loss("fowkal", lambda_barrier=0.1).terms(pred, target, tw, lam)
    assert set(new) == set(ref)
    for name in ref:
        torch.testing.assert_close(new[name], ref[name], rtol=1e-12, atol=1e-14)


def test_fused_losses_are_the_reference_classes():
    """Code that inspects the loss (parts, terms, uses_kaf, options) keeps working."""
    for method, (cls, fixed) in METHODS.items():
        loss = build_fused_loss(method)
        assert isinstance(loss, cls)
        assert loss.weighting == fixed.get("weighting", "none")


# --------------------------------------------------------------------------- execution paths
@pytest.mark.parametrize("block_elements, threads", [(3 * 48 + 1, 2), (3 * 48 + 1, 1), (40, 2)])
@pytest.mark.parametrize("method", ["fowkal", "heuristic_fwahr", "awing"])
def test_block_paths_match_reference(monkeypatch, method, block_elements, threads):
    """Many small blocks (3 rows) on the thread pool or on one thread, and one-row blocks of heatmaps
    larger than a block (parallel ops), give the reference's result; zero-weight rows are left out."""
    monkeypatch.setattr(fused, "BLOCK_ELEMENTS", block_elements)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        pred, target, tw, _, lam = make_inputs(b=3, seed=6)
        assert_same(method, {}, pred, target, tw, lam)
        with torch.inference_mode():  # thread-local mode carried into the pool: no in-place error
            value = build_fused_loss(method)(pred, target, tw, lam if method in KAL_METHODS else None)
        torch.testing.assert_close(value, build_reference_loss(method)(pred, target, tw, lam if method in KAL_METHODS
                                                             else None), rtol=1e-12, atol=1e-14)
    finally:
        torch.set_num_threads(previous)


def test_no_grad_gives_the_same_value():
    pred, target, tw, _, lam = make_inputs(seed=7)
    with torch.no_grad():
        assert build_fused_loss("fowkal")(pred, target, tw, lam).item() == pytest.approx(
            build_reference_loss("fowkal")(pred, target, tw, lam).item(), rel=1e-12)


def test_gradcheck_fowkal_wrt_pred_and_lambda_logits():
    """The analytic backward against finite differences (away from the kinks, as the reference's test)."""
    gen = torch.Generator().manual_seed(8)
    k = parts.NUM_KEYPOINTS
    target = torch.rand(1, k, 3, 2, generator=gen, dtype=D) * 0.9
    pred = (0.06 + 0.88 * torch.rand(1, k, 3, 2, generator=gen, dtype=D)).requires_grad_()
    logits = torch.randn(1, k, generator=gen, dtype=D).requires_grad_()
    tw = (torch.rand(1, k, generator=gen) > 0.2).to(D)
    loss = build_fused_loss("fowkal")
    assert torch.autograd.gradcheck(lambda p, z: loss(p, target, tw, torch.sigmoid(z)), (pred, logits),
                                    eps=1e-6, atol=1e-5)


# --------------------------------------------------------------------------- where the saved maps cannot serve
def _grads(loss, method, pred, target, tw, lam, **grad_kwargs):
    pred = pred.detach().clone().requires_grad_()
    kaf = lam.detach().clone().requires_grad_() if method in KAL_METHODS else None
    inputs = [pred] + ([kaf] if kaf is not None else [])
    return pred, kaf, loss(pred, target, tw, kaf), inputs


@pytest.mark.parametrize("method", ["fowkal", "heuristic_fwahr", "awing", "kal_wahr", "mse"])
def test_double_backward_falls_back_to_the_reference(method):
    """create_graph=True (e.g. a gradient penalty): the fused backward differentiates the reference's
    element-wise functions, so second derivatives are the reference's (inputs away from the kinks, where
    second derivatives are undefined; both branches of AWing)."""
    gen = torch.Generator().manual_seed(14)
    k = parts.NUM_KEYPOINTS
    target = torch.rand(2, k, 4, 3, generator=gen, dtype=D) * 0.9
    pred = target + (0.05 + 0.9 * torch.rand(2, k, 4, 3, generator=gen, dtype=D)) * torch.sign(
        torch.rand(2, k, 4, 3, generator=gen, dtype=D) - 0.5)  # |p̂ − p| in (0.05, 0.95): θ = 0.5 on both sides
    tw = (torch.rand(2, k, generator=gen) > 0.2).to(D)
    lam = torch.rand(2, k, generator=gen, dtype=D) * 0.9 + 0.05
    results = []
    for build in (build_reference_loss, build_fused_loss):
        _, _, value, inputs = _grads(build(method), method, pred, target, tw, lam)
        first = torch.autograd.grad(value, inputs, create_graph=True)
        penalty = sum((g ** 2).sum() for g in first)
        results.append([*first, *torch.autograd.grad(penalty, inputs)])
    for ref, new in zip(*results):
        assert torch.isfinite(ref).all()
        torch.testing.assert_close(new, ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method", ["fowkal", "heuristic", "kal"])
def test_second_backward_through_a_retained_graph_recomputes_the_same_gradient(method):
    """The first backward turns the saved map into the gradient; a second one recomputes it, bit for bit."""
    pred, target, tw, _, lam = make_inputs(seed=15)
    _, _, value, inputs = _grads(build_fused_loss(method), method, pred, target, tw, lam)
    first = [g.clone() for g in torch.autograd.grad(value, inputs, retain_graph=True)]
    second = torch.autograd.grad(value, inputs)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    _, ref_grads = loss_and_grads(build_reference_loss(method), pred, target, tw, lam, method)
    for ref, new in zip(ref_grads, second):
        torch.testing.assert_close(new, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options", [{}, {"term_normalisation": "batch"}])
def test_gradient_through_the_kal_terms_themselves_matches_reference(options):
    """KAL keeps one map for the λ blend; a gradient through ℓ^AW and ℓ^MSE as well recomputes both maps."""
    pred, target, tw, _, lam = make_inputs(seed=16)
    results = []
    for build in (build_reference_loss, build_fused_loss):
        pred_ = pred.detach().clone().requires_grad_()
        kaf = lam.detach().clone().requires_grad_()
        terms = build("fowkal", **options).terms(pred_, target, tw, kaf)
        value = terms["total"] + 0.3 * terms["awing"].sum() - 0.7 * terms["mse"].sum()
        results.append(torch.autograd.grad(value, [pred_, kaf]))
    for ref, new in zip(*results):
        torch.testing.assert_close(new, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["fowkal", "mse"])
def test_gradient_wrt_kaf_only_and_pred_only(method):
    pred, target, tw, _, lam = make_inputs(seed=17)
    kaf = lam if method in KAL_METHODS else None
    for wants in ("pred", "kaf"):
        if wants == "kaf" and kaf is None:
            continue
        results = []
        for build in (build_reference_loss, build_fused_loss):
            x = (pred if wants == "pred" else kaf).detach().clone().requires_grad_()
            args = (x, target, tw, kaf) if wants == "pred" else (pred, target, tw, x)
            results.append(torch.autograd.grad(build(method)(*args), x)[0])
        torch.testing.assert_close(results[1], results[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["fowkal", "heuristic_fwahr"])
def test_forward_mode_ad_and_torch_func_fall_back_to_the_reference(method):
    """Dual tensors and torch.func transforms need jvp/vmap rules the fused Function lacks: the reference
    (plain autograd ops) serves them, with its values."""
    import torch.autograd.forward_ad as fwAD
    from torch.func import grad as func_grad

    pred, target, tw, _, lam = make_inputs(seed=18)
    kaf = lam if method in KAL_METHODS else None
    tangent = torch.randn(pred.shape, generator=torch.Generator().manual_seed(0), dtype=D)
    jvps = []
    for build in (build_reference_loss, build_fused_loss):
        with fwAD.dual_level():
            value = build(method)(fwAD.make_dual(pred, tangent), target, tw, kaf)
            jvps.append(fwAD.unpack_dual(value).tangent)
    torch.testing.assert_close(jvps[1], jvps[0], rtol=1e-12, atol=1e-14)
    ref = func_grad(lambda x: build_reference_loss(method)(x, target, tw, kaf))(pred)
    new = func_grad(lambda x: build_fused_loss(method)(x, target, tw, kaf))(pred)
    torch.testing.assert_close(new, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- precision
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("method", list(METHODS))
def test_half_inputs_give_float32_equal_to_reference_on_upcast_inputs(method, dtype):
    pred64, target64, tw, _, lam = make_inputs(seed=9)
    pred_half, target_half = pred64.to(dtype), target64.clamp(max=1.0).to(dtype)
    kaf = lam.float() if method in KAL_METHODS else None
    ref_pred = pred_half.float().requires_grad_()
    ref_value = build_reference_loss(method)(ref_pred, target_half.float(), tw.float(), kaf)
    (ref_grad,) = torch.autograd.grad(ref_value, ref_pred)
    new_pred = pred_half.clone().requires_grad_()
    new_value = build_fused_loss(method)(new_pred, target_half, tw.float(), kaf)
    (new_grad,) = torch.autograd.grad(new_value, new_pred)
    assert new_value.dtype == torch.float32 and new_grad.dtype == dtype
    torch.testing.assert_close(new_value, ref_value, rtol=2e-6, atol=1e-7)
    torch.testing.assert_close(new_grad, ref_grad.to(dtype), rtol=1e-2, atol=1e-6)  # rounded to half
    torch.testing.assert_close(new_grad.float(), ref_grad, rtol=1e-2, atol=1e-2 * ref_grad.abs().max().item())


@pytest.mark.parametrize("method", ["fowkal", "awing", "heuristic_wahr"])
def test_float32_matches_reference(method):
    pred, target, tw, _, lam = (x.float() for x in make_inputs(b=4, h=16, w=12, seed=10))
    assert_same(method, {}, pred, target, tw, lam, rtol=2e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["awing", "fowkal"])
def test_perfect_prediction_has_exactly_zero_gradient_in_float32(method):
    """δ = 0 near a peak (y = α − p close to 1): x^y does not underflow in float32, sign(0) must zero it."""
    target = torch.linspace(0.6, 1.0, parts.NUM_KEYPOINTS * 4).view(1, -1, 2, 2)
    pred = target.clone().requires_grad_()
    kaf = torch.full((1, parts.NUM_KEYPOINTS), 0.5) if method in KAL_METHODS else None
    (grad,) = torch.autograd.grad(build_fused_loss(method)(pred, target, None, kaf), pred)
    assert (grad == 0).all()


# --------------------------------------------------------------------------- bad input: the reference's errors
def _error(build, method, pred, target, tw=None, kaf=None):
    """(type, message) of the error; messages that name the loss class say e.g. FusedKALLoss for KALLoss."""
    with pytest.raises((ValueError, TypeError)) as info:
        build(method)(pred, target, tw, kaf)
    return info.type, str(info.value).replace("Fused", "")


def _bad_inputs():
    pred, target, tw, _, lam = (x.float() for x in make_inputs(b=2, seed=11))
    nan_pred, inf_target, neg_target, big_target = pred.clone(), target.clone(), target.clone(), target.clone()
    nan_pred[0, 3, 2, 2] = math.nan
    inf_target[1, 5, 0, 0] = math.inf
    neg_target[0, 0, 0, 0] = -0.5
    big_target[0, 0, 0, 0] = 3.0
    neg_tw, nan_tw = tw.clone(), tw.clone()
    neg_tw[0, 0], nan_tw[1, 1] = -1.0, math.nan
    return {
        "nan pred": (nan_pred, target, tw, lam),
        "inf target": (pred, inf_target, tw, lam),
        "negative target": (pred, neg_target, tw, lam),
        "target above alpha - 1": (pred, big_target, tw, lam),
        "negative target_weight": (pred, target, neg_tw, lam),
        "nan target_weight": (pred, target, nan_tw, lam),
        "kaf above 1": (pred, target, tw, lam + 1.0),
        "kaf wrong shape": (pred, target, tw, lam[:, :5]),
        "kaf missing": (pred, target, tw, None),
        "target_weight wrong shape": (pred, target, tw[:, :7], lam),
        "shapes differ": (pred, target[:, :, :4], tw, lam),
        "3-d pred": (pred[0], target[0], tw, lam),
        "integer pred": (pred.long(), target, tw, lam),
        "list target": (pred, target.tolist(), tw, lam),
    }


@pytest.mark.parametrize("method, case", [("fowkal", case) for case in _bad_inputs()] +
                         [("awing", case) for case in _bad_inputs() if not case.startswith("kaf")])
def test_bad_input_raises_the_reference_error(method, case):
    pred, target, tw, kaf = _bad_inputs()[case]
    kaf = kaf if method in KAL_METHODS else None  # only the KAL methods take (and check) kaf
    assert _error(build_fused_loss, method, pred, target, tw, kaf) == _error(build_reference_loss, method, pred, target, tw, kaf)


def test_kaf_given_to_a_method_without_kaf_raises_the_reference_error():
    pred, target, tw, _, lam = make_inputs(seed=12)
    assert _error(build_fused_loss, "heuristic", pred, target, tw, lam) == \
        _error(build_reference_loss, "heuristic", pred, target, tw, lam)


@pytest.mark.parametrize("method, options, error", [
    ("nope", {}, ValueError), ("kal", {"balance": "literal"}, TypeError),
    ("mse", {"pixel_reduction": "max"}, ValueError), ("fowkal", {"fwahr_reading": "both"}, ValueError),
    ("fowkal", {"reg_weight": -1.0}, ValueError), ("awing", {"alpha": 0.5}, ValueError), (3, {}, ValueError),
])
def test_bad_options_raise_the_reference_error(method, options, error):
    with pytest.raises(error) as ref:
        build_reference_loss(method, **options)
    with pytest.raises(error) as new:
        build_fused_loss(method, **options)
    assert str(new.value) == str(ref.value)


def test_overflowing_sum_is_not_mistaken_for_bad_input():
    """pred.sum() overflows to inf with finite values: the fused loss rechecks and carries on, as the reference."""
    pred = torch.zeros(1, parts.NUM_KEYPOINTS, 2, 2)
    pred[0, :2, 0, 0] = 3e38
    target = torch.zeros_like(pred)
    assert torch.isinf(pred.sum())
    assert build_fused_loss("mse")(pred, target).item() == build_reference_loss("mse")(pred, target).item() == math.inf


# --------------------------------------------------------------------------- FWAHR's underflowing gradient
def _dark_batch(batch=2, dtype=torch.float32, seed=0):
    """Features ``[B, 16, 64, 48]``, DARK-style untruncated Gaussian targets (σ = 2, float32: their tails reach
    subnormal values, as the data pipeline's do), half the keypoints visible, and λ ``[B, K]``."""
    gen = torch.Generator().manual_seed(seed)
    k, h, w = parts.NUM_KEYPOINTS, 64, 48
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dtype), torch.arange(w, dtype=dtype), indexing="ij")
    cy = torch.rand(batch, k, 1, 1, generator=gen, dtype=dtype) * h
    cx = torch.rand(batch, k, 1, 1, generator=gen, dtype=dtype) * w
    target = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * 2.0 ** 2))
    visible = (torch.rand(batch, k, generator=gen) > 0.5).to(dtype)
    features = torch.randn(batch, 16, h, w, generator=gen, dtype=dtype)
    lam = torch.rand(batch, k, generator=gen, dtype=dtype) * 0.9 + 0.05
    return features, target * visible.view(batch, k, 1, 1), visible, lam


def _head_gradients(method, features, target, visible, lam, *, seed=0):
    """A 1x1 convolution as the heatmap head (as the CPU profile's last layer) trained one step on ``method``:
    the gradient wrt the heatmaps and wrt the convolution's weight and bias."""
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(16, parts.NUM_KEYPOINTS, 1).to(features.dtype)
    with torch.no_grad():
        conv.weight.mul_(0.1)
    pred = conv(features)
    pred.retain_grad()
    kaf = lam if method in KAL_METHODS else None
    build_fused_loss(method)(pred, target, visible, kaf).backward()
    return pred.grad, conv.weight.grad, conv.bias.grad


@pytest.mark.parametrize("method", ["fowkal", "heuristic_fwahr"])  # the λ-blended map and the combined maps
def test_fwahr_gradient_below_the_floor_is_dropped_and_nothing_else(monkeypatch, method):
    inputs = _dark_batch()
    grad, *params = _head_gradients(method, *inputs)
    monkeypatch.setattr(fused, "GRADIENT_FLOOR", 0.0)  # hardshrink at 0: the map as the kernel made it
    full, *full_params = _head_gradients(method, *inputs)
    tiny = full.abs() <= 2.0 ** -100
    assert bool((tiny & (full != 0)).any()), "the DARK tails should give FWAHR gradient entries below the floor"
    assert bool(((full != 0) & (full.abs() < torch.finfo(torch.float32).tiny)).any())  # subnormal ones too
    assert (grad[tiny] == 0).all()
    assert torch.equal(grad[~tiny], full[~tiny])
    # what the network gets from them is the same, bit for bit
    for new, old in zip(params, full_params):
        assert torch.equal(new, old)


def test_gradient_floor_leaves_float64_and_unweighted_losses_alone(monkeypatch):
    features, target, visible, lam = (x.double() for x in _dark_batch(batch=1))
    grad = _head_gradients("fowkal", features, target, visible, lam)[0]
    target32 = target.float()
    mse = _head_gradients("kal_wahr", features.float(), target32, visible.float(), lam.float())[0]
    monkeypatch.setattr(fused, "GRADIENT_FLOOR", 1.0)  # would zero nearly everything where it applies
    assert torch.equal(_head_gradients("fowkal", features, target, visible, lam)[0], grad)
    assert torch.equal(_head_gradients("kal_wahr", features.float(), target32, visible.float(), lam.float())[0], mse)


def test_drop_underflow_keeps_nan_and_works_in_place():
    grad = torch.tensor([1e-35, -1e-35, 2.0 ** -100, 2.0 ** -99, -3.0, float("nan"), 0.0])
    out = fused._drop_underflow(grad)
    assert out.data_ptr() == grad.data_ptr()
    assert grad[:3].eq(0).all() and grad[3] == 2.0 ** -99 and grad[4] == -3.0 and grad[5].isnan()


# --------------------------------------------------------------------------- the benchmark
@pytest.mark.slow
def test_benchmark_quick_mode_writes_valid_json(tmp_path):
    """Smoke test of benchmarks/bench_losses.py --quick (no timing assertion: shared machines are noisy)."""
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_losses.py"), "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"machine", "commit", "settings", "losses", "memory", "train_step", "targets"} <= set(result)
    cases = {(row["method"], row["implementation"]) for row in result["losses"]}
    assert {(m, impl) for m in METHODS for impl in ("reference", "fused")} <= cases
    assert {("mse", "mmpose"), ("awing", "mmpose")} <= cases
    for row in result["losses"]:
        assert row["median_s"] > 0 and len(row["times_s"]) == row["repeats"] >= 1
        assert row["ratio_to_mmpose_awing"] == pytest.approx(row["median_s"] / row["mmpose_awing_median_s"])
    fowkal_memory = [r for r in result["memory"] if (r["method"], r["implementation"]) == ("fowkal", "fused")]
    assert fowkal_memory and fowkal_memory[0]["peak_extra_buffers"] >= 1.0  # at least the gradient itself
    assert {r["method"] for r in result["train_step"]["rows"]} == {"mse", "fowkal"}
    assert "| method |" in run.stdout


def test_benchmark_rejects_bad_arguments_before_writing(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_losses.py"), "--repeats", "0",
                          "--out", str(out)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode != 0 and "repeats" in run.stderr
    assert not out.exists()


def test_build_loss_is_fused_by_default_and_the_reference_one_keyword_away():
    for method in METHODS:
        assert type(build_loss(method)) is type(build_fused_loss(method))
        assert type(build_loss(method, fused=True)) is type(build_fused_loss(method))  # the former switch
        assert type(build_loss(method, reference=True)) is type(build_reference_loss(method))
        assert type(build_loss(method, fused=False)) is type(build_reference_loss(method))
        assert type(build_loss(method, reference=True)) is not type(build_loss(method))


def test_build_loss_refuses_contradictory_or_non_boolean_switches():
    with pytest.raises(ValueError, match="contradict"):
        build_loss("fowkal", reference=True, fused=True)
    with pytest.raises(TypeError, match="reference must be True or False"):
        build_loss("fowkal", reference="yes")
    with pytest.raises(TypeError, match="fused must be True or False"):
        build_loss("fowkal", fused=1)


@pytest.mark.parametrize("method", list(METHODS))
def test_the_default_loss_runs_the_kernel_once_per_forward_and_backward(monkeypatch, method):
    """build_loss's default is the fast path: one kernel pass in the forward, none in a plain backward
    (the saved map becomes the gradient), and no reference fallback."""
    calls = []
    run_kernel = fused._run_kernel
    monkeypatch.setattr(fused, "_run_kernel", lambda *a, **k: calls.append(1) or run_kernel(*a, **k))
    monkeypatch.setattr(fused, "_reference_backward", lambda *a: pytest.fail("unexpected reference fallback"))
    pred, target, tw, _, lam = make_inputs(seed=19)
    _, _, value, inputs = _grads(build_loss(method), method, pred, target, tw, lam)
    assert len(calls) == 1
    torch.autograd.grad(value, inputs)
    assert len(calls) == 1


def test_fused_checks_leave_the_loss_unchanged_during_a_call(monkeypatch):
    """Re-entrant: the fused loss never switches its own ``check_inputs`` off while checking (another thread
    using the same loss would then skip its checks)."""
    from fowkal.losses.reference import KALLoss

    loss = build_loss("fowkal")
    seen = []
    original = KALLoss._prepare

    def spy(self, *args, **kwargs):
        seen.append(self.check_inputs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KALLoss, "_prepare", spy)
    target = torch.rand(2, 133, 4, 3) * 0.9
    loss(target * 0.5, target, torch.ones(2, 133), torch.full((2, 133), 0.5))
    assert seen and all(seen)
    with pytest.raises(ValueError, match="pred contains NaN"):
        loss(torch.full_like(target, float("nan")), target, torch.ones(2, 133), torch.full((2, 133), 0.5))
    assert loss.check_inputs
