"""fowkal.mmpose: the registered FoWKALLoss and KAFHeatmapHead, against fowkal.losses and HeatmapHead."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("mmpose")
pytestmark = pytest.mark.mmpose

import fowkal.mmpose as fm  # noqa: E402  (registers FoWKALLoss and KAFHeatmapHead)
from mmengine.structures import InstanceData, PixelData  # noqa: E402
from mmpose.registry import MODELS  # noqa: E402
from mmpose.structures import PoseDataSample  # noqa: E402

from fowkal import parts  # noqa: E402
from fowkal.losses import KAL_METHODS, METHODS, build_loss  # noqa: E402

K = parts.NUM_KEYPOINTS
CODEC = dict(type="MSRAHeatmap", input_size=(48, 64), heatmap_size=(12, 16), sigma=2, unbiased=True)


def head_cfg(method=None, loss=None, out_channels=K, in_channels=8, **kwargs):
    loss = loss or dict(type="FoWKALLoss", method=method)
    return dict(type="KAFHeatmapHead", in_channels=in_channels, out_channels=out_channels,
                deconv_out_channels=None, loss=loss, decoder=CODEC, **kwargs)


def batch(b=3, k=K, c=8, h=16, w=12, seed=0):
    """Features, target heatmaps in [0, 1], binary keypoint weights and PoseDataSamples holding them."""
    gen = torch.Generator().manual_seed(seed)
    feats = (torch.randn(b, c, h, w, generator=gen),)
    target = torch.rand(b, k, h, w, generator=gen)
    weights = (torch.rand(b, k, generator=gen) > 0.3).float()
    samples = []
    for i in range(b):
        s = PoseDataSample(metainfo=dict(flip_indices=parts.flip_indices() if k == K else list(range(k)),
                                         input_size=(48, 64), input_center=(24.0, 32.0),
                                         input_scale=(48.0, 64.0)))
        s.gt_fields = PixelData(heatmaps=target[i])
        s.gt_instance_labels = InstanceData(keypoint_weights=weights[i:i + 1])
        samples.append(s)
    return feats, target, weights, samples


# --------------------------------------------------------------------------- the loss adapter
@pytest.mark.parametrize("method", list(METHODS))
def test_registered_loss_equals_build_loss(method):
    loss = MODELS.build(dict(type="FoWKALLoss", method=method))
    gen = torch.Generator().manual_seed(1)
    pred, target = torch.rand(2, K, 8, 6, generator=gen), torch.rand(2, K, 8, 6, generator=gen)
    weights = (torch.rand(2, K, generator=gen) > 0.3).float()
    kaf = torch.rand(2, K, generator=gen) if method in KAL_METHODS else None
    expected = build_loss(method)(pred, target, weights, kaf)
    assert loss(pred, target, weights, kaf=kaf).item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.uses_kaf == (method in KAL_METHODS)


@pytest.mark.parametrize("method", ["fowkal", "mse", "heuristic_fwahr"])
def test_registered_loss_is_the_fused_one_unless_asked_for_the_reference(method):
    """The adapter builds what build_loss builds: fused by default, also with older records' fused=True, and
    the reference with reference=True (or fused=False); a contradiction is refused when the config builds."""
    from fowkal.losses import build_fused_loss, build_reference_loss

    fused_type, reference_type = type(build_fused_loss(method)), type(build_reference_loss(method))
    assert type(MODELS.build(dict(type="FoWKALLoss", method=method)).criterion) is fused_type
    assert type(MODELS.build(dict(type="FoWKALLoss", method=method, fused=True)).criterion) is fused_type
    assert type(MODELS.build(dict(type="FoWKALLoss", method=method, reference=True)).criterion) is reference_type
    assert type(MODELS.build(dict(type="FoWKALLoss", method=method, fused=False)).criterion) is reference_type
    with pytest.raises(ValueError, match="contradict"):
        MODELS.build(dict(type="FoWKALLoss", method=method, fused=True, reference=True))
    assert MODELS.build(dict(type="FoWKALLoss", method=method)).criterion.compiled
    assert not MODELS.build(dict(type="FoWKALLoss", method=method, compiled=False)).criterion.compiled


def test_registered_loss_passes_options_and_target_weight_switch():
    gen = torch.Generator().manual_seed(2)
    pred, target = torch.rand(2, K, 8, 6, generator=gen), torch.rand(2, K, 8, 6, generator=gen)
    weights, kaf = (torch.rand(2, K, generator=gen) > 0.5).float(), torch.rand(2, K, generator=gen)
    loss = MODELS.build(dict(type="FoWKALLoss", method="fowkal", use_target_weight=False, reg_weight=0.3,
                             pixel_reduction="sum"))
    expected = build_loss("fowkal", reg_weight=0.3, pixel_reduction="sum")(pred, target, None, kaf)
    assert loss(pred, target, weights, kaf=kaf).item() == pytest.approx(expected.item(), rel=1e-6)


def test_mse_matches_mmpose_keypoint_mse_loss():
    gen = torch.Generator().manual_seed(3)
    pred, target = torch.rand(2, K, 8, 6, generator=gen), torch.rand(2, K, 8, 6, generator=gen)
    weights = (torch.rand(2, K, generator=gen) > 0.3).float()
    ours = MODELS.build(dict(type="FoWKALLoss", method="mse"))(pred, target, weights)
    theirs = MODELS.build(dict(type="KeypointMSELoss", use_target_weight=True))(pred, target, weights)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_loss_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown method 'focal'.*fowkal"):
        MODELS.build(dict(type="FoWKALLoss", method="focal"))
    loss = MODELS.build(dict(type="FoWKALLoss", method="kal"))
    pred = torch.rand(1, K, 4, 4)
    with pytest.raises(ValueError, match="KAFHeatmapHead"):
        loss(pred, pred.clone(), torch.ones(1, K))  # a plain HeatmapHead passes no λ
    with pytest.raises(ValueError, match="mask"):
        loss(pred, pred.clone(), torch.ones(1, K), mask=torch.ones(1, 1, 4, 4), kaf=torch.rand(1, K))


def test_kal_method_in_plain_heatmap_head_fails_clearly():
    head = MODELS.build(dict(type="HeatmapHead", in_channels=8, out_channels=K, deconv_out_channels=None,
                             loss=dict(type="FoWKALLoss", method="fowkal")))
    feats, _, _, samples = batch()
    with pytest.raises(ValueError, match="KAFHeatmapHead"):
        head.loss(feats, samples)


# --------------------------------------------------------------------------- the head
@pytest.mark.parametrize("method", ["mse", "fowkal"])
def test_pixel_shuffle_head_doubles_the_heatmaps_with_heatmap_heads_keys(method):
    """The sub-pixel head (fowkal.configs.geometry's 64x48): x2 heatmaps, the conv layers' keys unchanged,
    the output layer reading C / 4 channels; nothing else differs from the same head without it."""
    layers = dict(conv_out_channels=(16, ), conv_kernel_sizes=(3, ))
    torch.manual_seed(0)
    shuffled = MODELS.build(head_cfg(method, pixel_shuffle=2, **layers))
    plain = MODELS.build(head_cfg(method, **layers))
    assert list(shuffled.state_dict()) == list(plain.state_dict())
    assert shuffled.final_layer.weight.shape == (K, 4, 1, 1) and plain.final_layer.weight.shape == (K, 16, 1, 1)
    feats, _, _, _ = batch()
    assert shuffled.forward(feats).shape == (3, K, 32, 24) and plain.forward(feats).shape == (3, K, 16, 12)
    _, target, weights, samples = batch()
    big = [s.clone() for s in samples]
    for s in big:  # targets at the shuffled head's resolution
        s.gt_fields = PixelData(heatmaps=torch.nn.functional.interpolate(s.gt_fields.heatmaps[None], scale_factor=2)[0])
    losses = shuffled.loss(feats, big)
    assert torch.isfinite(losses["loss_kpt"]) and losses["loss_kpt"].requires_grad
    without_convs = MODELS.build(head_cfg(method, pixel_shuffle=2))  # shuffles the 8 input channels
    assert without_convs.final_layer.weight.shape == (K, 2, 1, 1)
    assert without_convs.forward(feats).shape == (3, K, 32, 24)


@pytest.mark.parametrize("factor", [2, 3])
def test_sub_pixel_shuffle_is_torchs_pixel_shuffle_in_values_and_gradients(factor):
    """Tolerance: none (a rearrangement). The head's shuffle equals torch.nn.PixelShuffle on a contiguous and on a
    channels-last input, forward and backward; a bad shape is named."""
    from fowkal.mmpose.head import SubPixelShuffle
    torch.manual_seed(0)
    x = torch.randn(2, 5 * factor ** 2, 4, 3)
    upstream = torch.randn(2, 5, 4 * factor, 3 * factor)
    for layout in (torch.contiguous_format, torch.channels_last):
        ours_in = x.clone().to(memory_format=layout).requires_grad_()
        theirs_in = x.clone().to(memory_format=layout).requires_grad_()
        ours, theirs = SubPixelShuffle(factor)(ours_in), torch.nn.PixelShuffle(factor)(theirs_in)
        assert torch.equal(ours, theirs)
        (ours * upstream).sum().backward()
        (theirs * upstream).sum().backward()
        assert torch.equal(ours_in.grad, theirs_in.grad)
    with pytest.raises(ValueError, match=r"divisible by 4, got shape \(2, 6, 4, 3\)"):
        SubPixelShuffle(2)(torch.zeros(2, 6, 4, 3))


@pytest.mark.parametrize("factor, layers, match", [
    (1, {}, "integer >= 2"), (True, {}, "integer >= 2"), (2.0, {}, "integer >= 2"),
    (3, dict(conv_out_channels=(16, ), conv_kernel_sizes=(3, )), r"\(16\) divisible by 9"),
    (2, dict(final_layer=None), "final_layer is None"),
])
def test_pixel_shuffle_rejects_bad_settings(factor, layers, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(head_cfg("mse", pixel_shuffle=factor, **layers))


@pytest.mark.parametrize("method", [m for m in METHODS if m not in KAL_METHODS])
def test_non_kal_head_is_heatmap_head(method):
    head = MODELS.build(head_cfg(method))
    plain = MODELS.build(dict(head_cfg(method), type="HeatmapHead"))
    assert head.kaf_head is None and not head.uses_kaf
    assert list(head.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(head.state_dict())
    feats, _, _, samples = batch()
    ours, theirs = head.loss(feats, samples), plain.loss(feats, samples)
    assert set(ours) == set(theirs) == {"loss_kpt", "acc_pose"}
    assert ours["loss_kpt"].item() == pytest.approx(theirs["loss_kpt"].item(), rel=1e-6)
    assert ours["acc_pose"].item() == theirs["acc_pose"].item()  # MMPose's accuracy, exactly
    assert head.last_kaf is None and head.last_loss_terms is None


def test_the_training_accuracy_is_mmposes_pose_pck_accuracy():
    """acc_pose from one pass per heatmap against MMPose's two: Gaussian targets, ties, flat and
    negative heatmaps, unlabelled keypoints, a NaN."""
    from mmpose.evaluation.functional import pose_pck_accuracy

    from fowkal.mmpose.head import heatmap_maximum, heatmap_pck_accuracy

    rng = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(12.0), indexing="ij")
    centres = torch.rand(4, 9, 2, generator=rng) * torch.tensor([12.0, 16.0])
    target = torch.exp(-((xs - centres[..., :1, None]) ** 2 + (ys - centres[..., 1:, None]) ** 2) / 8)
    target[0, 0] = 0.0  # unlabelled: an empty heatmap
    target[0, 1] = 0.0
    target[0, 1, 3, 4] = target[0, 1, 7, 2] = 0.5  # a tie: the first maximum counts
    pred = target + 0.3 * torch.randn(target.shape, generator=rng)
    pred[1, 2] = -1.0  # all negative: no maximum (-1)
    pred[2, 3] = 0.25  # flat
    weights = (torch.rand(4, 9, generator=rng) > 0.2).float()
    for p in (pred, target.clone()):
        expected = pose_pck_accuracy(p.numpy(), target.numpy(), weights.numpy() > 0)[1]
        assert heatmap_pck_accuracy(p, target, weights).item() == expected
        from mmpose.codecs.utils import get_heatmap_maximum

        for got, want in zip(heatmap_maximum(p), get_heatmap_maximum(p.numpy())):
            assert np.array_equal(got, want)
    pred[3, 4, 5, 6] = float("nan")
    expected = pose_pck_accuracy(pred.numpy(), target.numpy(), weights.numpy() > 0)[1]
    assert heatmap_pck_accuracy(pred, target, weights).item() == expected


@pytest.mark.parametrize("method", KAL_METHODS)
def test_kal_head_loss_uses_kaf_of_input_features(method):
    head = MODELS.build(head_cfg(method))
    with torch.no_grad():  # move λ away from its constant start so a wrong λ would show
        head.kaf_head.mlp[-1].weight.normal_(0, 0.5)
    feats, target, weights, samples = batch()
    losses = head.loss(feats, samples)
    with torch.no_grad():
        kaf = head.kaf_head(feats[-1])
        expected = build_loss(method)(head.forward(feats), target, weights, kaf)
    assert losses["loss_kpt"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert head.last_kaf.shape == (3, K) and not head.last_kaf.requires_grad
    torch.testing.assert_close(head.last_kaf, kaf)
    for name, idx in parts.PARTS.items():
        assert losses[f"kaf_{name}"].item() == pytest.approx(kaf[:, list(idx)].mean().item(), rel=1e-6)
    terms = head.last_loss_terms
    assert terms["awing"].shape == terms["mse"].shape == (K,)
    assert {"data", "reg"} <= set(terms)
    assert not any("loss" in key for key in losses if key != "loss_kpt")  # MMEngine sums keys with 'loss'


def test_kaf_branch_gets_gradients():
    head = MODELS.build(head_cfg("fowkal"))
    feats, _, _, samples = batch()
    head.loss(feats, samples)["loss_kpt"].backward()
    grad = head.kaf_head.mlp[-1].bias.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("flip_test", [False, True])
def test_predict_is_unchanged_by_kaf_branch(flip_test):
    kaf_head = MODELS.build(head_cfg("fowkal"))
    plain = MODELS.build(dict(head_cfg("fowkal"), type="HeatmapHead"))
    missing, unexpected = plain.load_state_dict(kaf_head.state_dict(), strict=False)
    assert not missing and all(k.startswith("kaf_head.") for k in unexpected)
    kaf_head.eval(), plain.eval()
    feats, _, _, samples = batch()
    if flip_test:
        feats = [feats, (feats[0].flip(-1),)]
    test_cfg = dict(flip_test=flip_test, flip_mode="heatmap", shift_heatmap=True, output_heatmaps=True)
    with torch.no_grad():
        (ours, our_maps), (theirs, their_maps) = (h.predict(feats, samples, test_cfg=test_cfg)
                                                  for h in (kaf_head, plain))
    for a, b in zip(ours, theirs):
        assert (a.keypoints == b.keypoints).all() and (a.keypoint_scores == b.keypoint_scores).all()
    for a, b in zip(our_maps, their_maps):
        assert torch.equal(a.heatmaps, b.heatmaps)


def test_kaf_options_reach_the_kaf_head():
    head = MODELS.build(head_cfg("kal", kaf_cfg=dict(hidden=16, lambda_init=0.3)))
    assert head.kaf_head.mlp[0].out_features == 16
    assert head.kaf_head(torch.randn(2, 8, 4, 4)).mean().item() == pytest.approx(0.3, abs=1e-6)
    with pytest.raises(ValueError, match="does not use"):
        MODELS.build(head_cfg("mse", kaf_cfg=dict(hidden=16)))


def test_other_keypoint_counts_need_matching_parts():
    with pytest.raises(ValueError, match="17 keypoints"):
        MODELS.build(head_cfg("fowkal", out_channels=17))
    with pytest.raises(ValueError, match="17 keypoints"):
        MODELS.build(head_cfg("heuristic", out_channels=17))
    split = {"body": list(range(0, 5)), "foot": [5, 6], "face": list(range(7, 12)), "hand": list(range(12, 17))}
    head = MODELS.build(head_cfg(loss=dict(type="FoWKALLoss", method="fowkal", parts=split), out_channels=17))
    feats, _, _, samples = batch(k=17)
    losses = head.loss(feats, samples)
    assert torch.isfinite(losses["loss_kpt"]) and head.last_kaf.shape == (3, 17)
    assert set(k for k in losses if k.startswith("kaf_")) == {f"kaf_{n}" for n in split}
    mse = MODELS.build(head_cfg("mse", out_channels=17))  # part-free methods take any K
    assert mse.kaf_head is None


@pytest.mark.slow
def test_custom_imports_registers_from_a_config(tmp_path):
    """A fresh process that never imports fowkal gets both types from a config's custom_imports."""
    cfg_file = tmp_path / "head.py"
    cfg_file.write_text("custom_imports = dict(imports=['fowkal.mmpose'], allow_failed_imports=False)\n"
                        "head = dict(type='KAFHeatmapHead', in_channels=8, out_channels=133,\n"
                        "            deconv_out_channels=None, loss=dict(type='FoWKALLoss', method='kal'))\n")
    code = ("import sys; from mmengine.config import Config; cfg = Config.fromfile(sys.argv[1]); "
            "from mmpose.registry import MODELS; head = MODELS.build(cfg.head); "
            "print(type(head).__name__, head.loss_module.method, head.kaf_head is not None)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(cfg_file)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["KAFHeatmapHead", "kal", "True"]


# --------------------------------------------------------------------------- opt-in compilation of the network
def test_compile_model_hook_compiles_backbone_and_head_once_with_the_same_outputs():
    from types import SimpleNamespace

    from mmpose.registry import HOOKS

    torch.manual_seed(0)
    model = torch.nn.Module()
    model.backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU())
    model.head = torch.nn.Conv2d(8, 4, 1)
    x = torch.randn(2, 3, 16, 12)
    eager_out = model.head(model.backbone(x))
    hook = HOOKS.build(dict(type="CompileModelHook"))
    runner = SimpleNamespace(model=model)
    hook.before_run(runner)
    compiled_forward = model.backbone.forward
    assert model.backbone.fowkal_compiled and model.head.fowkal_compiled
    hook.before_run(runner)  # a second call does not wrap again
    assert model.backbone.forward is compiled_forward
    out = model.head(model.backbone(x))
    torch.testing.assert_close(out, eager_out, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert model.backbone[0].weight.grad is not None
    # the state dict keeps its keys (no wrapper module): checkpoints load either way
    assert set(model.state_dict()) == {"backbone.0.weight", "backbone.0.bias", "backbone.1.weight", "backbone.1.bias",
                                       "backbone.1.running_mean", "backbone.1.running_var",
                                       "backbone.1.num_batches_tracked", "head.weight", "head.bias"}


def test_compile_model_hook_evaluates_the_current_weights_after_training_changed_them():
    """Tolerance: float32 rounding (1e-4). Train, evaluate under no_grad, train again, evaluate again: the second
    evaluation scores the trained weights and batch-norm statistics, as the eager network does (a graph that
    folded conv + eval batch norm at compile time, as torch 2.1's Inductor does, would score the old ones)."""
    import copy
    from types import SimpleNamespace

    from mmpose.registry import HOOKS

    torch.manual_seed(0)
    model = torch.nn.Module()
    model.backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                         torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8))
    model.head = torch.nn.Conv2d(8, 4, 1)
    eager = copy.deepcopy(model)
    HOOKS.build(dict(type="CompileModelHook")).before_run(SimpleNamespace(model=model))
    x, x_val = torch.randn(4, 3, 16, 12), torch.randn(2, 3, 16, 12) * 3 + 1

    def train_steps(net, steps):
        net.train()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
        for _ in range(steps):
            optimizer.zero_grad()
            net.head(net.backbone(x)).square().mean().backward()
            optimizer.step()

    def evaluate(net):
        net.eval()
        with torch.no_grad():
            return net.head(net.backbone(x_val))

    for net in (model, eager):
        train_steps(net, 1)
    torch.testing.assert_close(evaluate(model), evaluate(eager), rtol=1e-4, atol=1e-4)
    before = evaluate(eager)
    for net in (model, eager):
        train_steps(net, 3)
    after = evaluate(eager)
    assert (after - before).abs().max() > 0.1  # the training steps moved the outputs
    torch.testing.assert_close(evaluate(model), after, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_the_compiled_profile_network_trains_what_the_eager_one_trains_to_rounding(pipeline_bench):
    """Tolerance: float32 summation order. The cpu profile's network, eager and compiled from the same weights, on
    the same batches, for three SGD steps: the same loss (rtol 1e-5), the same gradient of the heatmap head's last
    layer (rtol 1e-4), every parameter's gradient within 5 % where its norm is not at rounding level (a bias in
    front of a batch norm has gradient 0, so its computed value is rounding noise), the same batch-norm buffers
    (atol 1e-5). Rounding grows through the backbone's ~30 batch norms; a wrong compiled graph would differ by far
    more."""
    import copy
    import tempfile
    from types import SimpleNamespace

    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpose.registry import MODELS

    from fowkal.configs import build_config
    from fowkal.mmpose.hooks import CompileModelHook

    torch.manual_seed(0)
    cfg = build_config("mse", "cpu", data_root=pipeline_bench, work_dir=tempfile.mkdtemp())
    # batch 2, as the resume tests: the backbone compiles to the graph they compile (Inductor caches it on disk)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    init_default_scope("mmpose")
    eager = MODELS.build(cfg.model)
    eager.init_weights()
    eager.train()
    compiled = copy.deepcopy(eager)
    CompileModelHook().before_run(SimpleNamespace(model=compiled))
    batches = iter(Runner.build_dataloader(cfg.train_dataloader, seed=0))
    for _ in range(3):
        batch = next(batches)
        found = []
        for model in (eager, compiled):
            model.zero_grad()
            data = model.data_preprocessor(batch, training=True)
            loss = model.loss(data["inputs"], data["data_samples"])["loss_kpt"]
            loss.backward()
            found.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
        (loss_e, grad_e), (loss_c, grad_c) = found
        torch.testing.assert_close(loss_c, loss_e, rtol=1e-5, atol=0)
        torch.testing.assert_close(grad_c["head.final_layer.weight"], grad_e["head.final_layer.weight"], rtol=1e-4,
                                   atol=1e-9)
        largest = max(float(g.norm()) for g in grad_e.values())
        for name, g in grad_e.items():
            if float(g.norm()) > 1e-5 * largest:
                assert float((grad_c[name] - g).norm()) <= 0.05 * float(g.norm()), name
        for (name, a), (_, b) in zip(eager.named_buffers(), compiled.named_buffers()):
            torch.testing.assert_close(b.float(), a.float(), rtol=0, atol=1e-5, msg=name)
        with torch.no_grad():  # the same plain SGD step for both
            for model, grads in ((eager, grad_e), (compiled, grad_c)):
                for name, p in model.named_parameters():
                    p -= 1e-3 * grads[name]


def test_compile_model_hook_is_an_opt_in_config_override(pipeline_bench):
    from fowkal.configs import build_config
    from fowkal.runs.runconfig import prepare_config

    plain = prepare_config(build_config("mse", "cpu", data_root=pipeline_bench), launcher="none", device="cpu",
                           resume=False, max_iters=None, world_size=1, deterministic=False)
    assert "CompileModelHook" not in {h["type"] for h in plain.custom_hooks}
    cfg = build_config("mse", "cpu", data_root=pipeline_bench, custom_hooks=[dict(type="CompileModelHook")])
    cfg = prepare_config(cfg, launcher="none", device="cpu", resume=False, max_iters=None, world_size=1,
                         deterministic=False)
    assert [h["type"] for h in cfg.custom_hooks] == ["CompileModelHook", "KAFLoggingHook", "EpochSeedHook"]
