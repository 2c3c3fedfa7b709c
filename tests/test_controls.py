"""The controls kal_lambda0 / kal_lambda1: KAL's part-normalised sum (Eq. 8) with λ fixed at 0 or 1, no KAF
head, and fowkal_lambda0: FoWKAL's with λ fixed at 0. Each equals its learned method fed a constant λ, the fused
twin equals the reference, and MMPose builds no KAF branch."""
from __future__ import annotations

import pytest
import torch

from fowkal import parts
from fowkal.losses import CONTROL_METHODS, KAL_METHODS, METHODS, build_loss

K = parts.NUM_KEYPOINTS


def inputs(seed=0, b=3, h=8, w=6):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(b, K, h, w, generator=gen, dtype=torch.float64)
    pred = (target + 0.2 * torch.randn(b, K, h, w, generator=gen, dtype=torch.float64)).requires_grad_(True)
    weight = (torch.rand(b, K, generator=gen, dtype=torch.float64) > 0.3).double()
    return pred, target, weight


def test_the_controls_are_the_kal_family_without_a_head():
    assert CONTROL_METHODS == ("kal_lambda0", "kal_lambda1", "fowkal_lambda0")
    assert not set(CONTROL_METHODS) & set(KAL_METHODS) and set(CONTROL_METHODS) <= set(METHODS)


@pytest.mark.parametrize("method, lam, learned", [("kal_lambda0", 0.0, "kal"), ("kal_lambda1", 1.0, "kal"),
                                                   ("fowkal_lambda0", 0.0, "fowkal")])
def test_a_control_is_its_learned_method_with_a_constant_lambda(method, lam, learned):
    pred, target, weight = inputs()
    control = build_loss(method, reference=True)(pred, target, weight)
    kal = build_loss(learned, reference=True)
    same = kal(pred, target, weight, kaf=torch.full((3, K), lam, dtype=torch.float64))
    torch.testing.assert_close(control, same, rtol=1e-12, atol=0)


def test_lambda0_is_part_normalised_mse_by_hand():
    pred, target, weight = inputs(seed=1)
    per_keypoint = ((pred - target) ** 2).mean(dim=(2, 3)) * weight  # ℓ^MSE_bk, pixel mean (MMPose's)
    by_hand = sum(per_keypoint[:, list(idx)].mean(dim=1) for idx in parts.PARTS.values()).mean()
    torch.testing.assert_close(build_loss("kal_lambda0", reference=True)(pred, target, weight), by_hand,
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", ["kal_lambda0", "kal_lambda1", "fowkal_lambda0"])
def test_fused_control_equals_the_reference_values_and_gradients(method):
    pred, target, weight = inputs(seed=2)
    ref = build_loss(method, reference=True)(pred, target, weight)
    (grad_ref,) = torch.autograd.grad(ref, pred)
    fused = build_loss(method)(pred, target, weight)
    (grad_fused,) = torch.autograd.grad(fused, pred)
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad_fused, grad_ref, rtol=1e-9, atol=1e-14)


def test_controls_refuse_a_lambda_and_options_that_need_one():
    pred, target, weight = inputs()
    with pytest.raises(ValueError, match="does not use kaf"):
        build_loss("kal_lambda0")(pred, target, weight, kaf=torch.zeros(3, K, dtype=torch.float64))
    with pytest.raises(ValueError, match="lambda_barrier acts on a learned λ"):
        build_loss("kal_lambda1", lambda_barrier=0.01)
    with pytest.raises(TypeError, match="does not take option"):
        build_loss("kal", fixed_lambda=0.3)  # the controls are methods, not an option of KAL
    from fowkal.losses import KALLoss
    with pytest.raises(ValueError, match="fixed_lambda must be a number in"):
        KALLoss(fixed_lambda=1.5)


def test_mmpose_builds_no_kaf_branch_for_a_control():
    pytest.importorskip("mmpose")
    import fowkal.mmpose  # noqa: F401  (registers the head)
    from mmpose.registry import MODELS

    codec = dict(type="MSRAHeatmap", input_size=(48, 64), heatmap_size=(12, 16), sigma=2, unbiased=True)
    heads = {m: MODELS.build(dict(type="KAFHeatmapHead", in_channels=8, out_channels=K, deconv_out_channels=None,
                                  loss=dict(type="FoWKALLoss", method=m), decoder=codec))
             for m in ("mse", "kal_lambda0", "kal")}
    assert heads["kal_lambda0"].kaf_head is None and heads["kal"].kaf_head is not None
    assert set(heads["kal_lambda0"].state_dict()) == set(heads["mse"].state_dict())
