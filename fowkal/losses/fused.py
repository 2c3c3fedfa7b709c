"""Fused heatmap losses: the per-pixel work of :mod:`fowkal.losses` in one chunked pass, analytic backward.

:func:`fowkal.losses.build_loss` returns these by default. The reference losses compose autograd ops over
``[B, K, H, W]`` tensors: every op is a full pass over memory and autograd keeps most intermediates for the
backward. Here one :class:`torch.autograd.Function` computes, per pixel, AWing, the squared error, the (F)WAHR
weight W and the derivatives wrt p̂ of ``W·AWing`` and ``W·(p̂ − p)²``; it reduces them to per-keypoint sums
``[B, K]`` on the fly and keeps one derivative map for the backward (KAL/FoWKAL: the λ-blend of the two
terms' maps, since λ is known in the forward), which the backward scales in place into the gradient: one
heatmap-sized buffer in all. Work is done in cache-sized blocks of heatmap rows (rows = (b, k) pairs) with
preallocated scratch buffers, shared by a small thread pool; keypoints of target weight 0 (unlabelled, as
whole faces and hands often are in COCO-WholeBody) are skipped, since the loss multiplies them by 0.
Everything on ``[B, K]`` (target weight, part means, regulariser, barrier) stays plain autograd, so the λ
gradient is exact and cheap.

Where the fast path cannot serve, it does not guess: a second backward through a retained graph, or a
gradient through the separate KAL terms, recomputes the maps (same kernel, same bits); double backward
(``create_graph=True``) differentiates the reference's element-wise functions; forward-mode AD and
``torch.func`` transforms run the reference loss itself (``tests/test_fused.py`` checks each case).

AWing in the form used here (§2 of the loss decisions, rewritten so three transcendentals serve both
branches): with ``δ = |p̂ − p|``, ``δc = min(δ, θ)``, ``x = δc/ε``, ``y = α − p``, ``u = x^y = 2^(y·log2 x)``:
``g = ω·y·u / (ε·x·(1 + u))`` and ``AWing = ω·log1p(u) + g·(δ − δc)``, ``dAWing/dδ = g``. Below θ this is
the log branch and its slope; at and above θ, ``g`` is the linear branch's A and ``ω·log1p(u) − g·θ`` its −C.
The (F)WAHR weight adds ``p^γ`` (one ``pow``); its masks are float indicators blended with ``lerp``.

The per-pixel pass itself runs compiled (:mod:`fowkal.losses.compiled`: one generated loop instead of the ~40
eager ops per block) for the losses with AWing or a pixel weight, where a compiler is present; the eager pass
here serves everything else and is the fallback (``compiled=False`` asks for it).

Use :func:`build_fused_loss` exactly like :func:`fowkal.losses.build_reference_loss` (same methods, options, errors,
call signature ``loss(pred, target, target_weight=None, kaf=None)``). The reference stays the definition;
``tests/test_fused.py`` checks both agree to float64 precision, gradients included.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Sequence

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor, nn

from . import compiled
from .compiled import KERNEL_USED, run_pixel_kernel, scale_and_floor, scans_pass
from .functional import _check_finite, _check_target_range, awing, fwahr_weight, wahr_weight
from .reference import METHODS, AWingLoss, HeuristicLoss, KALLoss, MSELoss, build_reference_loss

#: torch runs an element-wise op on one thread below this many elements (``at::internal::GRAIN_SIZE``).
#: Blocks stay just under it, so a pool of ``torch.get_num_threads()`` Python threads can work on blocks in
#: parallel (ops release the GIL) without nested intra-op threads: no barrier per op (~40 per block),
#: which matters on busy machines, and ~20 scratch buffers of 128 kB per thread, in cache.
#: Heatmaps larger than this run one row per block on one thread with parallel ops.
BLOCK_ELEMENTS = 32768
#: On accelerators, blocks of ~1M elements: few kernel launches, and the scratch (~20 buffers of
#: 4 MB) stays small next to the [B, K, H, W] tensors.
ACCELERATOR_BLOCK_ELEMENTS = 1 << 20
TERMS = ("awing", "mse")
#: FWAHR's gradient entries below this magnitude are set to 0 (float32 and narrower; see :func:`_drop_underflow`).
GRADIENT_FLOOR = 2.0 ** -100


# --------------------------------------------------------------------------- per-pixel kernel
class _PixelPlan:
    """What to compute: the loss's element-wise options and, per keypoint, which terms."""

    def __init__(self, loss: "_FusedMixin", terms_per_keypoint: Sequence[tuple[str, ...]]):
        self.awing_params = dict(loss.awing_params)
        self.alpha, self.omega, self.epsilon, self.theta = (loss.awing_params[n] for n in
                                                            ("alpha", "omega", "epsilon", "theta"))
        self.weighting, self.gamma, self.tau = loss.weighting, loss.gamma, loss.tau
        self.reading, self.detach_weight = loss.fwahr_reading, loss.detach_weight
        # the reference clamps the target before p^γ; validated targets (check_inputs) are already >= 0
        self.clamp_target = not loss.check_inputs
        # the compiled pixel pass (fowkal.losses.compiled) where it can run, this module's eager pass otherwise
        self.compiled = getattr(loss, "compiled", True)
        # keypoints sharing the same term tuple form one group; a group's terms fill slots 0, 1, ...
        groups: dict[tuple[str, ...], list[int]] = {}
        for k, terms in enumerate(terms_per_keypoint):
            groups.setdefault(tuple(terms), []).append(k)
        self.groups = list(groups.items())
        self.num_slots = max(len(terms) for terms, _ in self.groups)
        # per slot and keypoint: index into TERMS of the term whose upstream gradient scales that slot's map
        # (len(TERMS) = none: a zero gradient)
        self.slot_terms = torch.full((self.num_slots, len(terms_per_keypoint)), len(TERMS), dtype=torch.long)
        for terms, keypoints in self.groups:
            for slot, term in enumerate(terms):
                self.slot_terms[slot, keypoints] = TERMS.index(term)
        self._blocks: dict = {}

    def blocks(self, batch: int, num_kpts: int, pixels: int, device, active: Tensor | None = None):
        """Work items ``(terms, rows)`` (rows: a slice or an index tensor of flat rows b·K + k) and the rows
        left out (an index tensor, or None).

        With ``active`` ([B, K] bool: non-zero target weight), runs of inactive rows long enough to make a
        block are left out; shorter gaps are computed anyway (their loss is multiplied by 0), so that blocks
        stay long. Without it, every row (cached per shape).
        """
        max_rows = _rows_per_block(pixels, device)
        key = (batch, pixels, str(device), max_rows)
        if active is None and key in self._blocks:
            return self._blocks[key], None
        items, skipped = [], []
        flags = None if active is None else active.flatten().tolist()
        for terms, keypoints in self.groups:
            rows = [b * num_kpts + k for b in range(batch) for k in keypoints]
            if flags is not None:
                rows, left_out = _rows_to_compute(rows, flags, min_gap=max(1, max_rows // 4))
                skipped += left_out
            items += [(terms, block if isinstance(block, slice) else block.to(device))
                      for block in _blocks_of_runs(_runs(rows), max_rows)]
        if active is None:
            self._blocks[key] = items
        return items, (torch.tensor(skipped, device=device) if skipped else None)


def _use_block_pool(pixels: int, device) -> bool:
    return torch.device(device).type == "cpu" and torch.get_num_threads() > 1 and pixels < BLOCK_ELEMENTS


def _rows_per_block(pixels: int, device) -> int:
    per_block = BLOCK_ELEMENTS - 1 if torch.device(device).type == "cpu" else ACCELERATOR_BLOCK_ELEMENTS
    return max(1, per_block // max(1, pixels))


_POOL: dict = {}  # one shared ThreadPoolExecutor, created on first use: its size and owner process


def _for_each(items: list, work, parallel: bool, context) -> None:
    """``work(item)`` for every item inside ``context()`` (entered once per thread); with ``parallel``, on
    torch.get_num_threads() threads, this one included."""
    workers = min(torch.get_num_threads(), len(items)) if parallel else 1
    if workers <= 1:
        with context():
            for item in items:
                work(item)
        return
    if _POOL.get("size", 0) < workers - 1 or _POOL.get("pid") != os.getpid():  # a forked child has no threads
        _POOL.update(size=workers - 1, pid=os.getpid(),
                     pool=ThreadPoolExecutor(workers - 1, thread_name_prefix="fowkal-fused"))
    order = itertools.count()  # a shared queue: next() on a count is atomic under the GIL

    def drain():
        with context():
            for i in iter(lambda: next(order), None):
                if i >= len(items):
                    return
                work(items[i])

    helpers = [_POOL["pool"].submit(drain) for _ in range(workers - 1)]
    try:
        drain()
    finally:
        for helper in helpers:
            helper.result()


def _num_rows(rows) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted integers as runs of consecutive values, ``[(start, stop), ...]``."""
    runs = []
    for row in rows:
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs


def _rows_to_compute(rows: list[int], flags: list[bool], min_gap: int) -> tuple[list[int], list[int]]:
    """Split sorted flat rows into (computed, left out): only runs of >= min_gap consecutive inactive rows
    (``flags[row]`` False) are left out."""
    keep, skip, i = [], [], 0
    while i < len(rows):
        if flags[rows[i]]:
            keep.append(rows[i])
            i += 1
            continue
        j = i + 1
        while j < len(rows) and not flags[rows[j]] and rows[j] == rows[j - 1] + 1:
            j += 1
        (skip if j - i >= min_gap else keep).extend(rows[i:j])
        i = j
    return keep, skip


def _blocks_of_runs(runs: list[tuple[int, int]], max_rows: int) -> list:
    """Blocks of at most ``max_rows`` rows: slices of long runs; short runs pooled into index tensors."""
    blocks, pooled = [], []
    for lo, hi in runs:
        if hi - lo >= max(1, max_rows // 4):
            blocks += [slice(s, min(hi, s + max_rows)) for s in range(lo, hi, max_rows)]
        else:  # a gather copy costs less than dispatching ~40 ops on a handful of rows
            pooled.extend(range(lo, hi))
    blocks += [torch.tensor(pooled[i:i + max_rows]) for i in range(0, len(pooled), max_rows)]
    return blocks


class _Workspace:
    """Named scratch buffers for one thread's blocks: ``ws.buf(name, rows)`` is a ``[rows, HW]`` view.

    Every temporary of the kernel lives here, allocated once per call and thread: a fresh half-megabyte
    tensor per op and block would cost a malloc and page faults each time. Views and constants are cached
    (a block dispatches ~45 ops; Python-side work per block is a large part of the cost).
    """

    def __init__(self, max_rows: int, like: Tensor):
        self.max_rows, self.like = max_rows, like
        self.views: dict = {}

    def buf(self, name: str, rows: int) -> Tensor:
        view = self.views.get((name, rows))
        if view is None:
            full = self.views.get((name, self.max_rows))
            if full is None:
                full = self.views[(name, self.max_rows)] = self.like.new_empty(self.max_rows, self.like.shape[1])
            view = self.views[(name, rows)] = full[:rows]
        return view

    def scalar(self, value: float) -> Tensor:
        """A 0-dim tensor (for ``scalar − tensor`` with ``out=``)."""
        const = self.views.get(value)
        if const is None:
            const = self.views[value] = self.like.new_tensor(value)
        return const


def _block_terms(ws: _Workspace, q: Tensor, p: Tensor, plan: _PixelPlan, terms: tuple[str, ...],
                 sums_out: Sequence[Tensor], maps_out: Sequence[Tensor] | None,
                 mix_rows: tuple[Tensor, Tensor] | None = None) -> None:
    """One block ``[rows, HW]``: per-row sums of W·f into ``sums_out`` (one per term f in ``terms``; AWing
    divided by ω, the caller scales the [B, K] results) and, when ``maps_out`` is given, derivative maps:

    - without ``mix_rows``, one map per term: d(W·AWing/ω)/dp̂ and d(W·(p̂ − p)²)/dp̂ / 2;
    - with ``mix_rows = (a, c)`` (``[rows, 1]`` each; terms = ('awing', 'mse')), one map,
      a·d(W·AWing/ω)/dp̂ + c·d(W·(p̂ − p)²)/dp̂ / 2: KAL keeps one map instead of two.

    Each derivative is W·f' + W'·f with f' = df/dp̂ (AWing: slope·sign(p̂ − p); (p̂ − p)²/2: p̂ − p) and
    W' = dW/dp̂; a mix is W·(a·f'_AW + c·f'_MSE) + W'·(a·f_AW + c·f_MSE).
    """
    rows = q.shape[0]
    want_grad = maps_out is not None
    mse_map = maps_out[terms.index("mse")] if want_grad and mix_rows is None and "mse" in terms else None
    # unweighted squared error: its map (per 2) is p̂ − p itself, so compute it there
    d = torch.sub(q, p, out=mse_map if mse_map is not None and plan.weighting == "none" else ws.buf("d", rows))
    if "awing" in terms:
        aw_value, aw_slope = _awing_over_omega(ws, d, p, plan)
    weight, dweight = (None, None) if plan.weighting == "none" else _pixel_weight(ws, q, p, plan, want_grad)
    d2 = torch.mul(d, d, out=ws.buf("d2", rows)) if "mse" in terms else None
    product = ws.buf("product", rows)
    for term, sums in zip(terms, sums_out):
        f = aw_value if term == "awing" else d2
        torch.sum(f if weight is None else torch.mul(weight, f, out=product), 1, out=sums)
    if not want_grad:
        return
    if mix_rows is not None:
        a, c = mix_rows
        out = maps_out[0]
        # a·f'_AW + c·f'_MSE, in the map itself when there is no weight
        slope = torch.copysign(aw_slope, d, out=ws.buf("slope_mix", rows) if weight is not None else out)
        slope.mul_(a).addcmul_(d, c)
        if weight is not None:
            torch.mul(weight, slope, out=out)
            if dweight is not None:
                out.addcmul_(dweight, torch.mul(aw_value, a, out=product).addcmul_(d2, c, value=0.5))
        return
    for term, out in zip(terms, maps_out):
        if term == "awing":  # d/dp̂ [W·AWing] = W·AWing'·sign(p̂ − p) + W'·AWing
            slope = torch.copysign(aw_slope, d, out=ws.buf("sign_d", rows) if weight is not None else out)
            if weight is not None:
                torch.mul(weight, slope, out=out)
                if dweight is not None:
                    out.addcmul_(dweight, aw_value)
        elif weight is not None:  # d/dp̂ [W·(p̂ − p)²] / 2 = W·(p̂ − p) + W'·(p̂ − p)²/2
            torch.mul(weight, d, out=out)
            if dweight is not None:
                out.addcmul_(dweight, d2, value=0.5)


def _awing_over_omega(ws: _Workspace, d: Tensor, p: Tensor, plan: _PixelPlan) -> tuple[Tensor, Tensor]:
    """AWing/ω and |dAWing/dδ|/ω per pixel: three transcendentals (log2, exp2, log1p) serve both branches.

    The slope is >= 0 and exactly 0 at δ = 0 (x^y = 0 there), so ``copysign(slope, p̂ − p)`` is
    AWing'·sign(p̂ − p), the reference's (sub-)gradient, in one op."""
    rows = d.shape[0]
    delta = torch.abs(d, out=ws.buf("excess", rows))
    x = torch.clamp(delta, max=plan.theta, out=ws.buf("x", rows))  # δc
    excess = delta.sub_(x)  # δ − δc: non-zero only on the linear branch
    if plan.epsilon != 1.0:
        x.div_(plan.epsilon)
        excess.div_(plan.epsilon)
    y = torch.sub(ws.scalar(plan.alpha), p, out=ws.buf("y", rows))  # α − p
    # x^y, exactly 0 at δ = 0 (log 0 = −inf); base 2: exp2 costs a third of exp on CPU
    u = torch.log2(x, out=ws.buf("u", rows)).mul_(y).exp2_()
    value = torch.log1p(u, out=ws.buf("value", rows))
    slope = torch.mul(u, y, out=ws.buf("slope", rows))
    # y·x^(y−1)/(1 + x^y) = y·u/(x + x·u): the log branch's slope, or A at δ >= θ; 0 (not 0/0) at δ = 0
    x.clamp_(min=torch.finfo(x.dtype).tiny)
    slope.div_(torch.addcmul(x, x, u, out=ws.buf("y", rows)))  # y is no longer needed: its buffer
    value.addcmul_(slope, excess)  # log1p(x^y) + slope·(δ − δc)/ε: the log branch, or A·δ − C
    if plan.epsilon != 1.0:
        slope.div_(plan.epsilon)
    return value, slope


def _pixel_weight(ws: _Workspace, q: Tensor, p: Tensor, plan: _PixelPlan,
                  want_grad: bool) -> tuple[Tensor, Tensor | None]:
    """(F)WAHR weight W and dW/dp̂ (None when not wanted), as :func:`fowkal.losses.fwahr_weight`.

    Masks are float indicators and ``lerp`` (bool masks and ``torch.where`` cost ~20x more on CPU).
    """
    rows = q.shape[0]
    # p^γ with pow: log + exp is faster on normal numbers, but log of 0 and of the subnormal values
    # in Gaussian tails takes a ~10x slower path
    p_gamma = ws.buf("p_gamma", rows)
    (torch.clamp(p, min=0, out=p_gamma).pow_(plan.gamma) if plan.clamp_target
     else torch.pow(p, plan.gamma, out=p_gamma))
    grad = want_grad and not plan.detach_weight
    # FWAHR's literal reading uses WAHR only where p̂ >= 2^(−1/γ) > 0: there |p̂| = p̂ and sign(p̂) = 1
    positive = plan.weighting == "fwahr" and plan.reading == "literal"
    abs_q = q if positive else torch.abs(q, out=ws.buf("abs_q", rows))
    # W = p^γ·|1 − p̂| + |p̂|·(1 − p^γ) = |p̂| + p^γ·(|1 − p̂| − |p̂|), and |1 − p̂| − |p̂| = clamp(1 − 2p̂, −1, 1)
    weight = torch.sub(ws.scalar(1.0), q, alpha=2.0, out=ws.buf("weight", rows)).clamp_(-1.0, 1.0)
    weight = torch.addcmul(abs_q, p_gamma, weight, out=weight)
    dweight = sign_q = None
    if grad:  # dW/dp̂ = sign(p̂) − p^γ·(sign(1 − p̂) + sign(p̂))
        signs = torch.sub(ws.scalar(1.0), q, out=ws.buf("dweight", rows)).sign_()
        if positive:
            dweight = torch.addcmul(ws.scalar(1.0), p_gamma, signs.add_(1.0), value=-1.0, out=signs)
        else:
            sign_q = torch.sign(q, out=ws.buf("sign_q", rows))
            dweight = torch.addcmul(sign_q, p_gamma, signs.add_(sign_q), value=-1.0, out=signs)
    if plan.weighting == "fwahr":
        threshold = 2.0 ** (-1.0 / plan.gamma)  # a Python float: exact compare, as the reference
        wahr_here = torch.ge(q if plan.reading == "literal" else p, threshold, out=ws.buf("wahr_here", rows))
        if plan.reading == "gt_tau_pred":
            torch.lerp(abs_q.mul_(plan.tau), weight, wahr_here, out=weight)
            if dweight is not None:
                torch.lerp(sign_q.mul_(plan.tau), dweight, wahr_here, out=dweight)
        else:
            torch.lerp(torch.mul(p, plan.tau, out=ws.buf("tau_p", rows)), weight, wahr_here, out=weight)
            if dweight is not None:
                dweight.mul_(wahr_here)
    return weight, dweight


def _run_kernel(q: Tensor, p: Tensor, plan: _PixelPlan, shape, active: Tensor | None, num_maps: int,
                coefficients: tuple[Tensor, Tensor] | None, scans: dict | None = None) -> tuple[dict, list]:
    """The pixel pass over ``q``, ``p`` (``[B·K, H·W]``): per-row sums ``{term: [B·K]}`` (AWing/ω) and
    ``num_maps`` derivative maps (see :func:`_block_terms`; ``coefficients``: the per-row mix, ``[B·K, 1]``).
    Given a dict ``scans``, the compiled pass puts the input checks' reductions in it (``"scans"``; the eager
    pass leaves it empty)."""
    if plan.compiled:
        found = run_pixel_kernel(q, p, plan, shape, num_maps, coefficients, scans is not None)
        if found is not None:
            sums, maps, checked = found
            if scans is not None:
                scans["scans"] = checked
            return sums, maps
    KERNEL_USED["last"] = "eager"
    batch, num_kpts, height, width = shape
    sums = {term: q.new_zeros(batch * num_kpts) for term in TERMS}
    maps = [torch.empty_like(q) for _ in range(num_maps)]
    want_grad = num_maps > 0
    blocks, skipped = plan.blocks(batch, num_kpts, height * width, q.device, active)
    if skipped is not None:  # rows left out: zero sums (above) and zero maps
        for grad_map in maps:
            grad_map.index_fill_(0, skipped, 0.0)

    inference = torch.is_inference_mode_enabled()  # thread-local: carried into the pool's threads
    max_rows = max(_num_rows(rows) for _, rows in blocks) if blocks else 0
    workspaces = {}  # thread id -> _Workspace, for this call only

    @contextlib.contextmanager
    def thread_context():  # per thread: its scratch; float32/64 math whatever the caller's autocast
        # (spec §9.4); no graph; the caller's inference mode (thread-local) carried into the pool
        with torch.inference_mode(inference), torch.no_grad(), torch.autocast(q.device.type, enabled=False):
            workspaces[threading.get_ident()] = _Workspace(max_rows, q)
            yield

    def work(item):  # blocks cover disjoint rows: threads never write the same memory
        terms, rows = item
        ws = workspaces[threading.get_ident()]
        mix_rows = None if coefficients is None else tuple(x[rows] for x in coefficients)
        if isinstance(rows, slice):  # views: results land in place
            _block_terms(ws, q[rows], p[rows], plan, terms, [sums[t][rows] for t in terms],
                         [m[rows] for m in maps] if want_grad else None, mix_rows)
            return
        n = len(rows)  # gathered rows: compute into scratch, then scatter
        block_sums = [q.new_empty(n) for _ in terms]
        block_maps = [ws.buf(f"map{i}", n) for i in range(num_maps)] if want_grad else None
        _block_terms(ws, q[rows], p[rows], plan, terms, block_sums, block_maps, mix_rows)
        for term, value in zip(terms, block_sums):
            sums[term].index_copy_(0, rows, value)
        for grad_map, block_map in zip(maps, block_maps or []):
            grad_map.index_copy_(0, rows, block_map)

    _for_each(blocks, work, _use_block_pool(height * width, q.device), thread_context)
    return sums, maps


def _flat(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    batch, num_kpts, height, width = pred.shape
    q = pred.detach().contiguous().view(batch * num_kpts, height * width)
    return q, target.detach().contiguous().view_as(q)


def _mix_coefficients(mix: Tensor, plan: _PixelPlan, like: Tensor) -> tuple[Tensor, Tensor]:
    """Per row, the mixed map's weights of the AWing map (λ·ω: it holds d(AWing/ω)) and of the MSE map
    (2·(1 − λ): it holds d(W·(p̂ − p)²)/2)."""
    lam = mix.detach().to(like.dtype).reshape(-1, 1)
    return lam * plan.omega, (1.0 - lam) * 2.0


class _FusedPixelSums(torch.autograd.Function):
    """(pred, target, mix) → per-keypoint pixel sums of W·AWing and W·(p̂ − p)², ``[B, K]`` each, and, with
    ``mix`` (λ, ``[B, K]``), their blend ``λ·ΣW·AWing + (1 − λ)·ΣW·(p̂ − p)²`` (else an empty tensor).

    A term a keypoint does not use is 0 there. Backward: d/dp̂ = Σ_term grad_term[b, k] · map_term[b, k, i, j],
    computed in place in the map saved by the forward: it becomes the gradient, no new buffer. With ``mix``
    one map holds λ·map_AW + (1 − λ)·map_MSE, which serves a gradient through the blend only. Where the saved
    maps cannot serve (a gradient through the separate sums as well, or a second backward through a retained
    graph), the same kernel recomputes the maps it needs (same blocks, same bits). Double backward
    (``create_graph=True``) differentiates the reference's element-wise functions instead
    (:func:`_reference_backward`).
    """

    @staticmethod
    def forward(ctx, pred: Tensor, target: Tensor, mix: Tensor | None, plan: _PixelPlan, active: Tensor | None,
                scans: dict | None = None):
        batch, num_kpts = pred.shape[:2]
        q, p = _flat(pred, target)
        num_maps = (1 if mix is not None else plan.num_slots) if ctx.needs_input_grad[0] else 0
        coefficients = None if mix is None else _mix_coefficients(mix, plan, q)
        sums, maps = _run_kernel(q, p, plan, pred.shape, active, num_maps, coefficients, scans)
        s_awing = sums["awing"].mul_(plan.omega).view(batch, num_kpts)  # the kernel works with AWing/ω
        s_mse = sums["mse"].view(batch, num_kpts)
        if mix is None:
            blend = q.new_empty(0)
            ctx.mark_non_differentiable(blend)
        else:
            lam = mix.detach().to(q.dtype)
            blend = lam * s_awing + (1.0 - lam) * s_mse  # as the reference writes Eq. 6
        # inputs, no copies, read only to recompute (see above); pred lives until the backward then (one
        # heatmap-sized tensor that would otherwise be freed after the forward in a network)
        ctx.save_for_backward(pred, target, mix)
        ctx.maps, ctx.plan, ctx.shape, ctx.active = maps, plan, pred.shape, active
        ctx.term_gap = None if mix is None else s_awing - s_mse  # d blend / dλ
        ctx.set_materialize_grads(False)
        return s_awing, s_mse, blend

    @staticmethod
    def backward(ctx, grad_awing: Tensor | None, grad_mse: Tensor | None, grad_blend: Tensor | None):
        maps, ctx.maps = ctx.maps, None  # the maps become the gradient: a second backward recomputes them
        if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable
            return _reference_backward(ctx, grad_awing, grad_mse, grad_blend)
        mixed = ctx.term_gap is not None
        grad_pred = grad_mix = None
        if mixed and ctx.needs_input_grad[2] and grad_blend is not None:
            grad_mix = grad_blend * ctx.term_gap
        if ctx.needs_input_grad[0] and not (grad_awing is None and grad_mse is None and grad_blend is None):
            plan, shape = ctx.plan, ctx.shape
            separate = grad_awing is not None or grad_mse is not None
            if maps is None or (mixed and separate):  # recompute: the mixed map, or one map per term
                pred, target, mix = ctx.saved_tensors
                q, p = _flat(pred, target)
                coefficients = _mix_coefficients(mix, plan, q) if mixed and not separate else None
                _, maps = _run_kernel(q, p, plan, shape, ctx.active, 1 if coefficients else plan.num_slots,
                                      coefficients)
            floored = False
            if mixed and not separate:
                scale = grad_blend.reshape(-1, 1).to(maps[0].dtype)
                if plan.weighting == "fwahr" and plan.compiled and maps[0].dtype != torch.float64:
                    floored = scale_and_floor(maps[0], scale, GRADIENT_FLOOR) is not None  # one pass for both
                grad_pred = maps[0] if floored else maps[0].mul_(scale)
            else:
                grad_pred = _combine_maps(ctx, maps, grad_awing, grad_mse, grad_blend)
            if plan.weighting == "fwahr" and not floored:
                _drop_underflow(grad_pred)
            grad_pred = grad_pred.view(shape)
        return grad_pred, None, grad_mix, None, None, None


def _drop_underflow(grad: Tensor) -> Tensor:
    """Set the entries of ``grad`` below :data:`GRADIENT_FLOOR` in magnitude to 0, in place (float64: untouched).

    FWAHR weights the background by τ·p, and a DARK target's tail runs down to 1e-45, so its gradient map holds
    values at float32's underflow. The network's backward multiplies them into subnormal products, which x86
    CPUs compute in microcode: the heatmap head's last convolution took ~1.7x as long. The gradient's largest
    entries are ~1e-5 on the CPU profile's batches, some 2^83 above the floor, so in the sums these values enter
    they fall under half a unit in the last place: dropping them leaves a network's parameter gradients bit for
    bit the same (``tests/test_fused.py`` checks one on DARK targets).
    """
    if grad.dtype != torch.float64:
        torch.hardshrink(grad, GRADIENT_FLOOR, out=grad)  # one pass, in place; NaN stays NaN
    return grad


def _combine_maps(ctx, maps: list[Tensor], grad_awing, grad_mse, grad_blend) -> Tensor:
    """Σ_slot upstream[b, k] · map_slot, in place in ``maps[0]``; the upstream gradient of each term includes
    its share of the blend's (λ for AWing, 1 − λ for MSE)."""
    plan, (batch, num_kpts) = ctx.plan, ctx.shape[:2]
    zero = maps[0].new_zeros(batch, num_kpts)
    grad_awing = zero if grad_awing is None else grad_awing
    grad_mse = zero if grad_mse is None else grad_mse
    if grad_blend is not None:
        lam = ctx.saved_tensors[2].detach().to(maps[0].dtype)
        grad_awing, grad_mse = grad_awing + lam * grad_blend, grad_mse + (1.0 - lam) * grad_blend
    # maps hold d(AWing/ω) and d(W·(p̂ − p)²)/2
    upstream = torch.stack([grad_awing * plan.omega, grad_mse * 2.0, zero])
    grad_pred = None
    for slot, grad_map in enumerate(maps):
        index = plan.slot_terms[slot].to(grad_map.device).expand(1, batch, num_kpts)
        g = upstream.gather(0, index).view(batch * num_kpts, 1)
        grad_pred = grad_map.mul_(g) if grad_pred is None else grad_pred.addcmul_(grad_map, g)
    return grad_pred


def _reference_backward(ctx, grad_awing, grad_mse, grad_blend):
    """The gradients by autograd through the reference's element-wise functions (double backward included,
    when the caller asked for a graph of the gradient: ``create_graph=True``)."""
    pred, target, mix = ctx.saved_tensors
    wanted = [(x, i) for i, x in ((0, pred), (2, mix)) if ctx.needs_input_grad[i]]
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        inputs = [x if create_graph else x.detach().requires_grad_() for x, _ in wanted]
        q = inputs[0] if ctx.needs_input_grad[0] else pred.detach()
        lam = inputs[-1] if ctx.needs_input_grad[2] else mix
        s_awing, s_mse = _reference_pixel_sums(ctx.plan, q, target)
        outputs = [(s_awing, grad_awing), (s_mse, grad_mse)]
        if lam is not None:
            outputs.append((lam * s_awing + (1.0 - lam) * s_mse, grad_blend))
        outputs = [(y, g) for y, g in outputs if g is not None]
        grads = torch.autograd.grad([y for y, _ in outputs], inputs, [g for _, g in outputs],
                                    create_graph=create_graph, allow_unused=True) if outputs else [None] * len(inputs)
    result = [None] * 6
    for (x, i), g in zip(wanted, grads):
        result[i] = torch.zeros_like(x) if g is None else g
    return tuple(result)


def _reference_pixel_sums(plan: _PixelPlan, pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Per-keypoint pixel sums of W·AWing and W·(p̂ − p)² (0 where a keypoint does not use the term), by the
    reference's element-wise functions (:mod:`fowkal.losses.functional`), differentiable."""
    batch, num_kpts = pred.shape[:2]
    sums = {term: pred.new_zeros(batch, num_kpts) for term in TERMS}
    for terms, keypoints in plan.groups:
        index = torch.tensor(keypoints, device=pred.device)
        q, p = pred.index_select(1, index), target.index_select(1, index)
        weight = None
        if plan.weighting == "wahr":
            weight = wahr_weight(q, p, gamma=plan.gamma)
        elif plan.weighting == "fwahr":
            weight = fwahr_weight(q, p, gamma=plan.gamma, tau=plan.tau, reading=plan.reading)
        if weight is not None and plan.detach_weight:
            weight = weight.detach()
        for term in terms:
            f = awing(q, p, **plan.awing_params) if term == "awing" else (q - p) ** 2
            per_keypoint = (f if weight is None else f * weight).sum(dim=(2, 3))
            sums[term] = sums[term].index_copy(1, index, per_keypoint)
    return sums["awing"], sums["mse"]


# --------------------------------------------------------------------------- the fused losses
class _FusedMixin:
    """Reuses the reference's options, checks and [B, K] logic; replaces the per-pixel part."""

    def _prepare(self, pred, target, target_weight, kaf, *, scan: bool | None = None):
        """The reference's checks, with its two full-tensor scans replaced by one cheap pass each, or by none.

        The reference tests ``isfinite`` on pred and target element-wise (about as long as the whole fused
        loss). Here a finite ``pred.sum()`` proves pred finite, and ``aminmax(target)`` within
        ``[0, α − 1]`` proves target finite and in range (NaN fails every comparison). Where the compiled pixel
        pass will run (:meth:`_scans_in_kernel`), it computes those reductions while it reads the heatmaps,
        and :meth:`pixel_sums` checks them before the loss returns. Anything else reruns the reference's own
        checks, so bad input raises exactly the reference's error. Nothing of the loss changes during the
        call (re-entrant: one loss may serve several threads).
        """
        check = self.check_inputs if scan is None else scan
        # shapes, dtypes, kaf presence: the reference's code, without the scans
        prepared = super()._prepare(pred, target, target_weight, kaf, scan=False)
        heatmaps = not (scan is None and self._scans_in_kernel(prepared[0]))
        if check and not self._inputs_pass_reference_checks(*prepared, heatmaps=heatmaps):
            super()._prepare(pred, target, target_weight, kaf, scan=True)  # raises the reference's error
        return prepared

    def _scans_in_kernel(self, pred: Tensor) -> bool:
        """Whether the heatmaps' value checks of this call ride along the compiled pixel pass. If the pass then
        does not run (its compilation failed), :meth:`pixel_sums` scans the heatmaps itself."""
        # from the options alone, so that _prepare and pixel_sums decide alike (plain squared error stays eager)
        worth = self.weighting != "none" or not isinstance(self, FusedMSELoss)
        return (self.check_inputs and getattr(self, "compiled", True) and worth and pred.dtype in
                (torch.float32, torch.float64) and compiled.compiled_kernel_available(pred.device))

    def _inputs_pass_reference_checks(self, pred, target, target_weight, kaf, *, heatmaps: bool = True) -> bool:
        """True only if every check of the reference's ``_prepare`` passes (False may be a false alarm);
        without ``heatmaps``, those of ``target_weight`` and ``kaf`` only."""
        if heatmaps and not bool(torch.isfinite(pred.sum())):  # also False if a finite sum overflows: recheck
            return False
        if heatmaps and target.numel():
            low, high = torch.aminmax(target)
            if not (float(low) >= 0 and float(high) <= self.awing_params["alpha"] - 1):
                return False
        if target_weight is not None and not (torch.isfinite(target_weight).all() and (target_weight >= 0).all()):
            return False
        return kaf is None or bool(torch.isfinite(kaf).all() and (kaf >= 0).all() and (kaf <= 1).all())

    def pixel_sums(self, pred: Tensor, target: Tensor, terms_per_keypoint, target_weight: Tensor | None = None,
                   mix: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Per-keypoint ``R_ij[W·AWing]``, ``R_ij[W·(p̂ − p)²]`` (R = pixel mean or sum) and, given ``mix`` (λ),
        ``λ·R_ij[W·AWing] + (1 − λ)·R_ij[W·(p̂ − p)²]`` (else an empty tensor), ``[B, K]`` each.

        Keypoints whose ``target_weight`` is 0 are skipped (their sums are 0): the loss multiplies them by
        0 anyway. Only when the inputs passed the checks and |p̂| <= 1e9, so that the reference's
        0 · (per-keypoint loss) is 0 too and not 0 · inf = NaN.
        """
        key = (tuple(terms_per_keypoint), tuple(self.awing_params.values()), self.weighting, self.gamma, self.tau,
               self.fwahr_reading, self.detach_weight, self.check_inputs, getattr(self, "compiled", True))
        if getattr(self, "_plan_key", None) != key:  # options may be changed after construction
            self._plan, self._plan_key = _PixelPlan(self, terms_per_keypoint), key
        scans = {} if self._scans_in_kernel(pred) else None
        active = None
        if target_weight is not None and self.check_inputs and scans is None:  # the compiled pass computes every row
            inactive = target_weight == 0
            if bool(inactive.any()):
                low, high = torch.aminmax(pred.detach())
                if max(-float(low), float(high)) <= 1e9:
                    active = ~inactive
        sums = _FusedPixelSums.apply(pred, target, mix, self._plan, active, scans)
        if scans is not None:  # the checks left to the pixel pass; the eager pass (a failed compile) scans here
            checked = scans.get("scans")
            alpha = self.awing_params["alpha"]
            passed = (scans_pass(checked, alpha) if checked is not None
                      else self._inputs_pass_reference_checks(pred, target, None, None))
            if not passed:
                _raise_heatmap_error(pred, target, alpha)  # the reference's error (or none: a false alarm)
        if self.pixel_reduction == "mean":
            scale = 1.0 / (pred.shape[2] * pred.shape[3])
            sums = tuple(s * scale for s in sums)
        return sums

    @staticmethod
    def with_target_weight(per_keypoint: Tensor, target_weight: Tensor | None) -> Tensor:
        return per_keypoint if target_weight is None else per_keypoint * target_weight

    def _loss(self, pred, target, target_weight, kaf):
        if pred.numel() == 0 or _needs_reference(pred, kaf):  # the reference's own result
            return super()._loss(pred, target, target_weight, kaf)
        return self._fused_loss(pred, target, target_weight, kaf)


def _raise_heatmap_error(pred: Tensor, target: Tensor, alpha: float) -> None:
    """The reference's value checks of the heatmaps, in its order (``target_weight`` and λ, which it checks in
    between, passed already): raises its error, or returns if the inputs pass after all."""
    _check_finite("pred", pred)
    _check_finite("target", target)
    _check_target_range(target, alpha)


def _needs_reference(*tensors: Tensor | None) -> bool:
    """Inputs the fused kernel does not serve: forward-mode AD (dual tensors) and ``torch.func`` transforms
    (``grad``, ``vmap``, ``jacrev``, ...), which need an autograd.Function to define ``jvp``/``vmap``. The
    reference's plain autograd ops support them, so these inputs go to the reference."""
    for x in tensors:
        if x is None:
            continue
        if _is_functorch_wrapped(x) or fwAD.unpack_dual(x).tangent is not None:
            return True
    return False


def _is_functorch_wrapped(x: Tensor) -> bool:
    """A torch.func transform's wrapper tensor (a private torch API: without it, torch's own error for an
    autograd.Function without vmap/jvp rules is raised instead, never a wrong value)."""
    check = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)
    return bool(check(x)) if check is not None else False


class FusedMSELoss(_FusedMixin, MSELoss):
    """:class:`fowkal.losses.MSELoss`, fused."""

    def _fused_loss(self, pred, target, target_weight, kaf):
        _, l_mse, _ = self.pixel_sums(pred, target, [("mse",)] * pred.shape[1], target_weight)
        return self.with_target_weight(l_mse, target_weight).mean()


class FusedAWingLoss(_FusedMixin, AWingLoss):
    """:class:`fowkal.losses.AWingLoss`, fused."""

    def _fused_loss(self, pred, target, target_weight, kaf):
        l_awing, _, _ = self.pixel_sums(pred, target, [("awing",)] * pred.shape[1], target_weight)
        return self.with_target_weight(l_awing, target_weight).mean()


class FusedHeuristicLoss(_FusedMixin, HeuristicLoss):
    """:class:`fowkal.losses.HeuristicLoss`, fused: MSE only on coarse keypoints, AWing only on dense ones."""

    def _fused_loss(self, pred, target, target_weight, kaf):
        coarse = self._index(self.coarse_parts, pred.device)
        dense = self._index(self.dense_parts, pred.device)
        dense_set = set(dense.tolist())
        terms = [("awing",) if k in dense_set else ("mse",) for k in range(pred.shape[1])]
        l_awing, l_mse, _ = self.pixel_sums(pred, target, terms, target_weight)
        l_awing = self.with_target_weight(l_awing, target_weight)
        l_mse = self.with_target_weight(l_mse, target_weight)
        l_bf = l_mse.index_select(1, coarse).mean(dim=1)
        l_fh = l_awing.index_select(1, dense).mean(dim=1)
        return self.combine(l_bf, l_fh, len(coarse), len(dense))


class FusedKALLoss(_FusedMixin, KALLoss):
    """:class:`fowkal.losses.KALLoss` (KAL, FoWKAL, KAL + WAHR), fused; ``terms()`` as the reference.

    Without term normalisation the kernel also blends the two terms with λ (Eq. 6) and keeps one derivative
    map for the blend: the loss (``total``) then costs one map, not two. A gradient through the per-keypoint
    terms ``awing``/``mse`` themselves is exact too, but recomputed (see :class:`_FusedPixelSums`).
    """

    def terms(self, pred, target, target_weight=None, kaf=None) -> dict[str, Tensor]:
        if isinstance(pred, Tensor) and (pred.numel() == 0 or _needs_reference(pred, kaf)):
            return super().terms(pred, target, target_weight, kaf)
        pred, target, target_weight, kaf = self._prepare(pred, target, target_weight, kaf)
        mix = kaf if self.term_normalisation == "none" else None  # 'batch' rescales the terms before the blend
        l_aw, l_mse, blend = self.pixel_sums(pred, target, [("awing", "mse")] * pred.shape[1], target_weight, mix)
        l_aw = self.with_target_weight(l_aw, target_weight)
        l_mse = self.with_target_weight(l_mse, target_weight)
        adaptive = None if mix is None else self.with_target_weight(blend, target_weight)
        return self.combine(kaf, l_aw, l_mse, adaptive=adaptive)


_FUSED_CLASSES = {MSELoss: FusedMSELoss, AWingLoss: FusedAWingLoss, HeuristicLoss: FusedHeuristicLoss,
                  KALLoss: FusedKALLoss}


def build_fused_loss(method: str, *, parts: Mapping[str, Sequence[int]] | None = None, compiled: bool = True,
                     **options) -> nn.Module:
    """The fused twin of :func:`fowkal.losses.build_reference_loss`: same methods, options, errors and call signature.

    ``compiled``: True (default) runs the pixel pass compiled (:mod:`fowkal.losses.compiled`) where a compiler
    is present, this module's eager pass elsewhere; False always the eager pass (bit-identical to earlier
    versions of this loss).

    Returns:
        ``nn.Module`` called as ``loss(pred, target, target_weight=None, kaf=None)`` → scalar, equal to the
        reference loss (float64: to rounding) with the same gradients wrt ``pred`` and ``kaf``.
    """
    reference = build_reference_loss(method, parts=parts, **options)  # the reference's validation and error messages
    if not isinstance(compiled, bool):
        raise TypeError(f"compiled must be True or False, got {compiled!r}")
    cls = _FUSED_CLASSES[type(reference)]
    fixed = METHODS[method][1]
    loss = cls(**fixed, **options) if cls in (FusedMSELoss, FusedAWingLoss) else cls(parts, **fixed, **options)
    loss.compiled = compiled
    return loss


__all__ = ["build_fused_loss", "FusedMSELoss", "FusedAWingLoss", "FusedHeuristicLoss", "FusedKALLoss",
           "BLOCK_ELEMENTS", "GRADIENT_FLOOR"]
