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
    _, both, _ = compiled_module.run_pixel_kernel(q, p, plan, pred.shape, 2, None)
    singles = []
    for slot in range(2):
        rows = torch.arange(q.shape[0]) % 133
        mix = tuple((plan.slot_terms[slot] == t).float()[rows].unsqueeze(1) for t in range(2))
        _, one, _ = compiled_module.run_pixel_kernel(q, p, plan, pred.shape, 1, mix)
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


def _break_the_compiler(monkeypatch):
    """Every compiled kernel fails when it runs, as a broken compiler makes it (no failure remembered yet)."""
    monkeypatch.setattr(compiled_module, "_FAILED", set())

    def broken(*key):
        def kernel(*args):
            raise RuntimeError("no compiler today")
        return kernel

    monkeypatch.setattr(compiled_module, "_compiled", broken)


def test_a_failing_compilation_warns_and_falls_back(monkeypatch):
    monkeypatch.setattr(compiled_module, "compiled_kernel_available", lambda device="cpu": True)
    _break_the_compiler(monkeypatch)
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


# --------------------------------------------------------------------------- checks and backward in the compiled pass
def _bad(dtype=torch.float32):
    pred, target, weight, lam = _inputs(dtype, seed=3)
    cases = {}
    for name, where, value in (("nan pred", "pred", float("nan")), ("inf pred", "pred", float("inf")),
                               ("nan target", "target", float("nan")), ("inf target", "target", float("inf")),
                               ("negative target", "target", -0.5), ("target above alpha - 1", "target", 3.0)):
        p, t = pred.clone(), target.clone()
        (p if where == "pred" else t)[1, 100, 2, 3] = value  # a face keypoint of the second sample
        cases[name] = (p, t)
    return cases, weight, lam


def _error(loss, pred, target, weight, lam):
    with pytest.raises(ValueError) as info:
        loss(pred, target, weight, lam if loss.uses_kaf else None)
    return str(info.value)


@needs_compiler
@pytest.mark.parametrize("method", ["fowkal", "awing"])
def test_the_compiled_pass_checks_the_heatmaps_and_raises_the_reference_errors(method, monkeypatch):
    """Where the compiled pass runs, the heatmaps are scanned by it (no scan before it) and bad values still
    raise exactly the reference's error."""
    from fowkal.losses import fused

    heatmap_scans = []
    original = fused._FusedMixin._inputs_pass_reference_checks

    def spy(self, *args, heatmaps=True, **kwargs):
        heatmap_scans.append(heatmaps)
        return original(self, *args, heatmaps=heatmaps, **kwargs)

    monkeypatch.setattr(fused._FusedMixin, "_inputs_pass_reference_checks", spy)
    cases, weight, lam = _bad()
    loss, reference = build_loss(method), build_loss(method, reference=True)
    pred, target, _, _ = _inputs(torch.float32, seed=3)
    _value_and_grads(loss, pred, target, weight, lam)
    assert compiled_module.KERNEL_USED["last"] == "compiled" and heatmap_scans == [False]
    for name, (p, t) in cases.items():
        compiled_module.KERNEL_USED["last"] = None
        assert _error(loss, p, t, weight, lam).replace("Fused", "") == _error(reference, p, t, weight, lam), name
        assert compiled_module.KERNEL_USED["last"] == "compiled", name  # the kernel's scans caught it


@needs_compiler
def test_bad_heatmaps_raise_when_the_compiled_pass_falls_back(monkeypatch):
    """The checks were left to the compiled pass, which failed to compile: the eager pass ran, and the
    heatmaps are scanned after it."""
    _break_the_compiler(monkeypatch)
    cases, weight, lam = _bad()
    loss, reference = build_loss("fowkal"), build_loss("fowkal", reference=True)
    for name, (p, t) in cases.items():
        with pytest.warns(UserWarning, match="compiled loss kernel failed"):
            got = _error(loss, p, t, weight, lam)
        assert compiled_module.KERNEL_USED["last"] == "eager"
        assert got.replace("Fused", "") == _error(reference, p, t, weight, lam), name
        compiled_module._FAILED.clear()  # each case meets the failure (and warns) afresh


def test_scans_pass_reads_the_reductions_as_the_reference_checks():
    ok = (torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.1]), torch.tensor([0.0, 0.01]), torch.tensor([0.9, 1.0]))
    assert compiled_module.scans_pass(ok, alpha=2.1)
    for index, value in ((0, float("nan")), (1, float("inf")), (2, -1e-6), (2, float("nan")), (3, 1.2),
                         (3, float("nan"))):
        bad = [x.clone() for x in ok]
        bad[index][1] = value
        assert not compiled_module.scans_pass(tuple(bad), alpha=2.1), (index, value)


@needs_compiler
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scale_and_floor_is_mul_then_hardshrink_bit_for_bit(dtype):
    g = torch.Generator().manual_seed(5)
    grad_map = torch.randn(40, 30, generator=g, dtype=dtype)
    grad_map[0, :6] = torch.tensor([1e-30, -1e-30, 2.0 ** -70, float("nan"), 0.0, 2.0 ** -100 * 4])
    scale = torch.rand(40, 1, generator=g, dtype=dtype) * 1e-5
    scale[0] = 0.25  # 2^-100·4·0.25 = the floor exactly: hardshrink sets it to 0
    expected = torch.hardshrink(grad_map * scale, 2.0 ** -100)
    got = grad_map.clone()
    out = compiled_module.scale_and_floor(got, scale, 2.0 ** -100)
    assert out is not None and out.data_ptr() == got.data_ptr()  # in place
    assert torch.equal(got.nan_to_num(7.0), expected.nan_to_num(7.0)) and bool(got[0, 3].isnan())
    assert got[0, 5] == 0 and got[0, 2] != 0


@needs_compiler
def test_fwahr_backward_scales_and_floors_in_one_compiled_pass(monkeypatch):
    """FoWKAL's backward through the blend: one compiled pass for the scaling and the underflow floor, with
    the gradient of the two eager ops."""
    from fowkal.losses import fused

    pred, target, weight, lam = _inputs(torch.float32, seed=4)
    target[0, 0] = 0.0  # a background of exact zeros: FWAHR's τ·p makes its gradient 0 there
    loss = build_loss("fowkal")
    used = _value_and_grads(loss, pred, target, weight, lam)
    calls = []
    monkeypatch.setattr(fused, "scale_and_floor", lambda *args: calls.append(1))  # None: the eager ops
    eager_ops = _value_and_grads(loss, pred, target, weight, lam)
    assert calls == [1]
    assert torch.equal(used[1], eager_ops[1]) and torch.equal(used[2], eager_ops[2])
