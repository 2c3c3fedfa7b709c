"""fowkal.losses.compiled: the compiled pixel pass against the reference, and the eager fallback.

Values and gradients (wrt the heatmaps and λ) of every method through the compiled kernel agree with the
reference loss to rounding; ``FOWKAL_COMPILED_LOSS=0``, a missing compiler and a failing compilation each
run the eager fused pass (which the reference tests in ``test_fused.py`` cover) and say so.
"""
from __future__ import annotations

import pytest
import torch

from fowkal.losses import METHODS, build_loss, compiled_kernel_available
from fowkal.losses import compiled as compiled_module

needs_compiler = pytest.mark.skipif(not compiled_kernel_available("cpu"),
                                    reason="no C++ compiler for torch.compile's CPU backend on this machine")


def _inputs(dtype, batch=2, height=6, width=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(batch, 133, height, width, generator=g, dtype=dtype) * 0.9
    target[0, 7] = 0  # an all-zero heatmap
    pred = 0.8 * target + 0.05 * torch.randn(target.shape, generator=g, dtype=dtype)
    pred[1, 3, 0, 0] = 0.9  # far from the target: the linear branch of AWing
    weight = (torch.rand(batch, 133, generator=g) > 0.3).to(dtype)
    lam = torch.sigmoid(torch.randn(batch, 133, generator=g, dtype=dtype))
    return pred, target, weight, lam


def _value_and_grads(loss, pred, target, weight, lam):
    pred = pred.clone().requires_grad_()
    lam = lam.clone().requires_grad_()
    kaf = lam if loss.uses_kaf else None
    value = loss(pred, target, weight, kaf)
    value.backward()
    return value.detach(), pred.grad, (lam.grad if kaf is not None else None)


CASES = [(method, {}) for method in METHODS] + [
    ("fowkal", {"fwahr_reading": "gt_tau_pred"}), ("fowkal", {"fwahr_reading": "gt_tau_target"}),
    ("fowkal", {"detach_weight": True}), ("fowkal", {"term_normalisation": "batch"}),
    ("kal", {"pixel_reduction": "sum", "lambda_barrier": 0.01}), ("awing", {"epsilon": 2.0, "theta": 0.4})]


@pytest.mark.slow
@needs_compiler
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("method,options", CASES, ids=[f"{m}{'-' + '-'.join(o) if o else ''}" for m, o in CASES])
def test_compiled_loss_matches_the_reference(method, options, dtype):
    pred, target, weight, lam = _inputs(dtype)
    reference = _value_and_grads(build_loss(method, reference=True, **options), pred, target, weight, lam)
    compiled_module.KERNEL_USED["last"] = None
    loss = build_loss(method, **options)
    assert loss.compiled
    got = _value_and_grads(loss, pred, target, weight, lam)
    plan = loss._plan
    assert compiled_module.KERNEL_USED["last"] == ("compiled" if compiled_module.worth_compiling(plan) else "eager")
    rtol = 1e-10 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(got[0], reference[0], rtol=rtol, atol=0)
    scale = reference[1].abs().max()
    torch.testing.assert_close(got[1], reference[1], rtol=0, atol=float(scale) * rtol * 10)
    if reference[2] is not None:
        torch.testing.assert_close(got[2], reference[2], rtol=rtol * 10, atol=float(reference[2].abs().max()) * rtol)


@needs_compiler
def test_two_maps_come_from_one_pass_and_equal_one_map_passes(monkeypatch):
    """KAL with its terms rescaled per batch needs each term's derivative map: one pass makes both, with the
    values of one pass per map (bit for bit under FWAHR, the ablation's case), and the loss is the reference's."""
    calls = []
    build = compiled_module._compiled

    def counting(options, *args):
        kernel = build(options, *args)
        return lambda *inputs: (calls.append(dict(options)["maps"]), kernel(*inputs))[1]

    counting.cache_info = build.cache_info  # the kernels' names count the cached ones
    monkeypatch.setattr(compiled_module, "_compiled", counting)
    pred, target, weight, lam = _inputs(torch.float32)
    loss = build_loss("fowkal", term_normalisation="batch")
    got = _value_and_grads(loss, pred, target, weight, lam)
    assert calls == [2] and compiled_module.KERNEL_USED["last"] == "compiled"  # one pass, both maps
    reference = _value_and_grads(build_loss("fowkal", reference=True, term_normalisation="batch"),
                                 pred, target, weight, lam)
    torch.testing.assert_close(got[0], reference[0], rtol=2e-5, atol=0)
    torch.testing.assert_close(got[1], reference[1], rtol=0, atol=float(reference[1].abs().max()) * 2e-4)
    # the two maps of one pass against one pass per map
    q, p = pred.reshape(-1, 30), target.reshape(-1, 30)
    plan = loss._plan
    _, both = compiled_module.run_pixel_kernel(q, p, plan, pred.shape, 2, None)
    singles = []
    for slot in range(2):
        rows = torch.arange(q.shape[0]) % 133
        mix = tuple((plan.slot_terms[slot] == t).float()[rows].unsqueeze(1) for t in range(2))
        _, one = compiled_module.run_pixel_kernel(q, p, plan, pred.shape, 1, mix)
        singles += one
    assert len(both) == 2 and all(torch.equal(a, b) for a, b in zip(both, singles))


@needs_compiler
def test_compiled_loss_is_deterministic_and_off_switch_gives_the_eager_bits(monkeypatch):
    pred, target, weight, lam = _inputs(torch.float32, seed=1)
    loss = build_loss("fowkal")
    first = _value_and_grads(loss, pred, target, weight, lam)
    again = _value_and_grads(loss, pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "compiled"
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and torch.equal(first[2], again[2])
    eager = _value_and_grads(build_loss("fowkal", compiled=False), pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "eager"
    monkeypatch.setenv(compiled_module.ENV_SWITCH, "0")
    assert not compiled_kernel_available("cpu")
    switched_off = _value_and_grads(build_loss("fowkal"), pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "eager"
    assert torch.equal(switched_off[0], eager[0]) and torch.equal(switched_off[1], eager[1])
    torch.testing.assert_close(first[0], eager[0], rtol=1e-5, atol=0)


def test_without_a_compiler_the_eager_pass_runs(monkeypatch):
    monkeypatch.setattr(compiled_module.shutil, "which", lambda name: None)
    assert not compiled_kernel_available("cpu")
    pred, target, weight, lam = _inputs(torch.float64)
    got = _value_and_grads(build_loss("fowkal"), pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "eager"
    reference = _value_and_grads(build_loss("fowkal", reference=True), pred, target, weight, lam)
    torch.testing.assert_close(got[0], reference[0], rtol=1e-10, atol=0)


def test_a_failing_compilation_warns_and_falls_back(monkeypatch):
    monkeypatch.setattr(compiled_module, "compiled_kernel_available", lambda device="cpu": True)
    monkeypatch.setattr(compiled_module, "_FAILED", set())

    def broken(*key):
        def kernel(*args):
            raise RuntimeError("no compiler today")
        return kernel

    monkeypatch.setattr(compiled_module, "_compiled", broken)
    pred, target, weight, lam = _inputs(torch.float64)
    with pytest.warns(UserWarning, match="compiled loss kernel failed.*no compiler today"):
        got = _value_and_grads(build_loss("awing"), pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "eager"
    reference = _value_and_grads(build_loss("awing", reference=True), pred, target, weight, lam)
    torch.testing.assert_close(got[0], reference[0], rtol=1e-10, atol=0)


def test_plain_squared_error_stays_eager_and_the_switch_is_checked():
    pred, target, weight, lam = _inputs(torch.float64)
    _value_and_grads(build_loss("mse"), pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "eager"
    with pytest.raises(TypeError, match="compiled must be True or False"):
        build_loss("fowkal", compiled="yes")
