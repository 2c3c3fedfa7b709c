"""The fused losses' pixel pass as one compiled kernel (``torch.compile``; Inductor's vectorised C++ on the CPU).

:mod:`fowkal.losses.fused` runs the per-pixel work of every loss as ~40 eager element-wise ops per block of
rows: each op is a pass over memory plus Python dispatch, which is what the fused loss costs, not its
arithmetic. Written once as plain tensor expressions and compiled, the same work is one loop over the pixels
(a few transcendentals per pixel, each input read once, the derivative map written once).

:func:`run_pixel_kernel` is a drop-in for the eager pass: the same per-row sums (``Σ W·AWing/ω``,
``Σ W·(p̂ − p)²``) and derivative maps, in the same conventions (see ``fused._block_terms``). It computes
every row: rows of target weight 0, which the eager pass skips, cost no Python here, and their results are
multiplied by 0 by the loss (the fused loss only takes this path for inputs that passed its checks).

:func:`compiled_kernel_available` says whether it can run: a C++ compiler on the CPU (Triton on CUDA), and
``FOWKAL_COMPILED_LOSS`` not set to ``0``. It serves the losses with AWing or a pixel weight
(:func:`worth_compiling`); plain squared error stays eager. Compilation happens on the first call for each
set of options and row count (~10-60 s on 2 cores; Inductor caches the result on disk for later processes). A failure to compile falls back
to the eager pass with a warning, and :attr:`KERNEL_USED` says which pass ran last, for run records.
Summation order differs from the eager pass, and p^γ is computed as 2^(γ·log2 p), so values agree to rounding,
not bit for bit (``tests/test_compiled.py`` checks values and gradients against the reference).

The pass also does what would otherwise cost extra passes over the heatmaps: it reduces them for the loss's
input checks (:func:`scans_pass`), and FWAHR's backward scales the saved map and floors its underflow in one
compiled pass (:func:`scale_and_floor`).
"""
from __future__ import annotations

import functools
import itertools
import os
import shutil
import types
import warnings

import torch
from torch import Tensor

#: Environment switch: ``0`` turns the compiled kernel off (the eager fused pass runs), ``1`` or unset: on where
#: it can run.
ENV_SWITCH = "FOWKAL_COMPILED_LOSS"
#: Which pass computed the last fused loss in this process: 'compiled', 'eager' or None (none yet).
KERNEL_USED: dict = {"last": None}
_FAILED: set = set()  # option sets whose compilation failed in this process (not retried)


def compiled_kernel_available(device: torch.device | str = "cpu") -> bool:
    """True where the compiled pixel pass can run on ``device``: torch.compile present, a C++ compiler on the
    CPU (Triton on CUDA), and the ``FOWKAL_COMPILED_LOSS`` switch not ``0``."""
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    if not hasattr(torch, "compile"):
        return False
    kind = torch.device(device).type
    if kind == "cpu":
        return any(shutil.which(cxx) for cxx in (os.environ.get("CXX", "c++"), "g++", "clang++"))
    if kind == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
        return True
    return False


def _pixel_function(*, weighting: str, reading: str, detach_weight: bool, clamp_target: bool, gamma: float,
                    tau: float, alpha: float, omega: float, epsilon: float, theta: float, maps: int,
                    scans: bool = False):
    """The per-pixel work for one set of options, as a function of ``[N, HW]`` tensors (compiled by the caller).

    ``fn(q, p, use_awing, use_mse, a, c)`` → ``(Σ W·AWing/ω, Σ W·(p̂ − p)², maps, scans)``: sums per row
    (``[N]``, zero where ``use_*`` is 0); with ``maps=1``, ``maps`` holds
    ``a·d(W·AWing/ω)/dp̂ + c·d(W·(p̂ − p)²)/dp̂ / 2`` (``maps=0``: an empty tuple). With ``maps=2``,
    ``fn(q, p, use_awing, use_mse, a0, c0, a1, c1)``: two blends from one pass over the pixels (the separate
    terms' maps, which KAL needs when it rescales its terms). With ``scans``, ``scans`` holds per row
    ``(Σ p̂, Σ p, min p, max p)``, from which the input checks follow without another pass (else None).
    """
    del omega  # the kernel works with AWing/ω, as the eager pass (the caller scales the [B, K] sums)
    threshold = 2.0 ** (-1.0 / gamma)  # a Python float: the reference's exact comparison

    def fn(q: Tensor, p: Tensor, use_awing: Tensor, use_mse: Tensor, *mixes: Tensor):
        d = q - p
        delta = d.abs()
        dc = delta.clamp(max=theta)
        x = dc / epsilon
        y = alpha - p
        u = torch.exp2(y * torch.log2(x))  # x^y, exactly 0 at δ = 0
        # y·x^(y−1)/(1 + x^y): the log branch's slope, A at δ >= θ; 0 (not 0/0) at δ = 0
        slope = u * y / (x.clamp(min=torch.finfo(x.dtype).tiny) * (1.0 + u))
        value = torch.log1p(u) + slope * ((delta - dc) / epsilon)  # log branch, or A·δ − C (per ω)
        slope = slope / epsilon
        d2 = d * d
        if weighting == "none":
            s_awing, s_mse = value.sum(1), d2.sum(1)
        else:
            # p^γ as 2^(γ·log2 p): the same value to rounding, half the cost of a vectorised pow (exactly 0 at p = 0)
            p_gamma = torch.exp2(gamma * torch.log2(p.clamp(min=0) if clamp_target else p))
            weight = p_gamma * (1.0 - q).abs() + q.abs() * (1.0 - p_gamma)
            dweight = torch.sign(q) * (1.0 - p_gamma) - p_gamma * torch.sign(1.0 - q)
            if weighting == "fwahr":
                wahr_here = (q if reading == "literal" else p) >= threshold
                if reading == "gt_tau_pred":
                    weight = torch.where(wahr_here, weight, tau * q.abs())
                    dweight = torch.where(wahr_here, dweight, tau * torch.sign(q))
                else:
                    weight = torch.where(wahr_here, weight, tau * p)
                    dweight = torch.where(wahr_here, dweight, torch.zeros_like(q))
            s_awing, s_mse = (weight * value).sum(1), (weight * d2).sum(1)
        s_awing, s_mse = s_awing * use_awing, s_mse * use_mse
        # the checks' reductions ride along the pass that reads q and p anyway
        checked = (q.sum(1), p.sum(1), p.amin(1), p.amax(1)) if scans else None
        if not maps:
            return s_awing, s_mse, (), checked
        slope_signed = torch.copysign(slope, d)

        def blend(a: Tensor, c: Tensor) -> Tensor:
            if weighting == "none":
                return a * slope_signed + c * d
            grad_map = weight * (a * slope_signed + c * d)
            if not detach_weight:
                grad_map = grad_map + dweight * (a * value + c * (0.5 * d2))
            return grad_map

        return s_awing, s_mse, tuple(blend(mixes[2 * m], mixes[2 * m + 1]) for m in range(maps)), checked

    return fn


@functools.lru_cache(maxsize=256)
def _compiled(options: tuple, shape: tuple, dtype: torch.dtype, device_type: str) -> object:
    """The compiled kernel of one set of options for one input shape (a run sees two: its full batches and its
    last one). Static shapes: the shape-generic kernel measured ~1.6x slower on the CPU. Each gets a code object
    of its own: dynamo keeps its compiled versions per code object, and past ``cache_size_limit`` of them it
    quietly runs the function eagerly, which would make a kernel's arithmetic depend on what the process ran
    before (a training step would not repeat bit for bit in another process)."""
    fn = _pixel_function(**dict(options))
    name = f"fowkal_pixel_kernel_{_compiled.cache_info().currsize}"
    code = fn.__code__.replace(co_name=name, co_qualname=name)
    fn = types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    return torch.compile(fn, dynamic=False)


def _scale_and_floor(grad_map: Tensor, scale: Tensor, floor: float) -> Tensor:
    scaled = grad_map * scale
    # hardshrink's rule (|x| <= floor -> 0; NaN stays NaN), written into grad_map: one pass, no new buffer
    grad_map.copy_(torch.where(scaled.abs() <= floor, torch.zeros_like(scaled), scaled))
    return grad_map


@functools.lru_cache(maxsize=64)
def _compiled_scale_and_floor(shape: tuple, dtype: torch.dtype, device_type: str, floor: float) -> object:
    name = f"fowkal_scale_and_floor_{_compiled_scale_and_floor.cache_info().currsize}"
    code = _scale_and_floor.__code__.replace(co_name=name, co_qualname=name)  # own code object: see _compiled
    fn = functools.partial(types.FunctionType(code, _scale_and_floor.__globals__, name), floor=floor)
    return torch.compile(fn, dynamic=False)


def scale_and_floor(grad_map: Tensor, scale: Tensor, floor: float) -> Tensor | None:
    """``grad_map · scale`` with entries of magnitude <= ``floor`` set to 0, in place in ``grad_map``, by one
    compiled pass (the eager way, ``mul_`` then ``hardshrink``, reads and writes the map twice); bit for bit the
    eager result. None where no compiled pass can run (the caller then runs the eager ops)."""
    if grad_map.dtype not in (torch.float32, torch.float64) or not compiled_kernel_available(grad_map.device):
        return None
    key = (tuple(grad_map.shape), grad_map.dtype, grad_map.device.type, float(floor))
    if key in _FAILED:
        return None
    try:
        with torch.no_grad():
            return _compiled_scale_and_floor(*key)(grad_map, scale)
    except Exception as err:  # noqa: BLE001 - any compiler failure: the eager ops serve instead
        _FAILED.add(key)
        warnings.warn(f"fowkal: the compiled gradient scaling failed ({type(err).__name__}: {err}); "
                      f"the eager ops run instead (set {ENV_SWITCH}=0 to skip compiling)")
        return None


def worth_compiling(plan) -> bool:
    """Whether the compiled pass is the faster one for ``plan``: when it has AWing or a pixel weight. An
    unweighted squared error is a few cheap ops per pixel, where the eager pass, which skips keypoints of
    target weight 0 (often whole faces and hands), is at least as fast."""
    return plan.weighting != "none" or any("awing" in terms for terms, _ in plan.groups)


def _options(plan, maps: int, scans: bool = False) -> tuple:
    return tuple(sorted(dict(weighting=plan.weighting, reading=plan.reading, detach_weight=plan.detach_weight,
                             clamp_target=plan.clamp_target, gamma=float(plan.gamma), tau=float(plan.tau),
                             alpha=float(plan.alpha), omega=float(plan.omega), epsilon=float(plan.epsilon),
                             theta=float(plan.theta), maps=maps, scans=scans).items()))


def serves(plan, like: Tensor, num_maps: int = 1) -> bool:
    """Whether :func:`run_pixel_kernel` runs for ``plan`` on tensors like ``like`` with ``num_maps`` maps (unless
    its compilation fails): the plan asks for it, it has AWing or a pixel weight, float32/64, a compiler."""
    return (plan.compiled and worth_compiling(plan) and like.dtype in (torch.float32, torch.float64)
            and num_maps <= 2 and compiled_kernel_available(like.device))


def scans_pass(scans: tuple[Tensor, ...], alpha: float) -> bool:
    """True only if the kernel's per-row ``(Σ p̂, Σ p, min p, max p)`` prove the inputs pass the reference's
    value checks: p̂ and p finite (a finite sum; an overflowing one is a false alarm), ``0 <= p <= α − 1``.
    NaN fails every comparison."""
    pred_sum, target_sum, low, high = scans
    if not bool(torch.isfinite(pred_sum.sum() + target_sum.sum())):
        return False
    return not low.numel() or (float(low.min()) >= 0 and float(high.max()) <= alpha - 1)


def run_pixel_kernel(q: Tensor, p: Tensor, plan, shape, num_maps: int,
                     coefficients: tuple[Tensor, Tensor] | None,
                     scans: bool = False) -> tuple[dict, list, tuple | None] | None:
    """The compiled pixel pass over ``q``, ``p`` (``[B·K, H·W]``): ``(sums, maps, scans)``, the first two as the
    eager ``fused._run_kernel``, the last the per-row reductions of :func:`scans_pass` when asked for (else
    None); or None where it cannot run (the caller then runs the eager pass)."""
    if not serves(plan, q, num_maps):  # a keypoint has at most the two terms, so at most two maps
        return None
    batch, num_kpts = shape[:2]
    # per keypoint: does it use each term (plan.slot_terms: slot -> index into TERMS, len(TERMS) = none)
    slot_terms = plan.slot_terms.to(q.device)
    uses = [(slot_terms == t).any(0).to(q.dtype).repeat(batch).unsqueeze(1) for t in range(2)]
    if coefficients is not None:
        mixes = [coefficients]
    else:  # one map per slot: slot s maps the term slot_terms[s, k] of keypoint k
        mixes = [tuple((slot_terms[s] == t).to(q.dtype).repeat(batch).unsqueeze(1) for t in range(2))
                 for s in range(num_maps)]
    if not mixes:
        mixes = [(q.new_zeros(q.shape[0], 1), q.new_zeros(q.shape[0], 1))]
    options = _options(plan, len(mixes) if num_maps else 0, scans)
    if options in _FAILED:
        return None
    kernel = _compiled(options, tuple(q.shape), q.dtype, q.device.type)
    try:
        with torch.no_grad():  # one pass over the pixels, however many maps
            s_awing, s_mse, maps, checked = kernel(q, p, uses[0][:, 0], uses[1][:, 0], *itertools.chain(*mixes))
        sums = {"awing": s_awing, "mse": s_mse}
        maps = list(maps)
    except Exception as err:  # noqa: BLE001 - any compiler failure: the eager pass serves instead
        _FAILED.add(options)
        warnings.warn(f"fowkal: the compiled loss kernel failed ({type(err).__name__}: {err}); "
                      f"the eager fused pass runs instead (set {ENV_SWITCH}=0 to skip compiling)")
        return None
    KERNEL_USED["last"] = "compiled"
    return sums, maps, checked


__all__ = ["compiled_kernel_available", "run_pixel_kernel", "scale_and_floor", "scans_pass", "serves",
           "worth_compiling", "ENV_SWITCH", "KERNEL_USED"]
