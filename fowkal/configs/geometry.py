"""Heatmap geometries of the CPU profile, as config overrides.

The CPU profile (``cpu_base.py``) predicts the paper's 64x48 heatmaps (sigma 2) from 128x96 crops:
the small HRNet's stride-4 features are 32x24, so the head adds one learned 2x upsampling. Its head,
``shuffle64``, is a 3x3 conv 16->64 (BN, ReLU) at 32x24 whose 64 channels a PixelShuffle rearranges into
16 channels at 64x48 for the 1x1 output layer: the arithmetic of the old 32x24 head, on 4x the pixels only
where it must be (the output, the loss). ``benchmarks/bench_geometry.py`` measured it against the old
32x24 profile and the other heads of ``HEADS_64x48``: a training step costs 1.15x (mse) and 1.40x
(fowkal) the 32x24 step in the same process once freed memory is kept (``fowkal.runs.malloc``, which
``fowkal.runs.train`` applies), 1.45x and 1.54x with glibc's default, which page-faults every 52 MiB
batch of heatmaps (3 runs on 2 shared cores).

``GEOMETRIES['32x24']`` rebuilds the profile as it was before 2026-11-27 (heatmaps read off the stride-4
features, no upsampling), for comparisons with the old records::

    build_config("fowkal", "cpu", **geometry_overrides("32x24"))
    python -m fowkal train --method fowkal --cfg-options $(python -m fowkal.configs.geometry 32x24)

``check_geometry(cfg)`` verifies a built config: every codec (the head's decoder, the training
pipeline's ``GenerateTarget`` encoder, ``codec``) is the same, and the head's upsampling turns the
backbone's stride-4 features into exactly the codec's heatmap size.
"""
from __future__ import annotations

import json
import sys
from types import MappingProxyType

#: The training pipeline step that generates the heatmap targets, in cpu_base.py's train_pipeline
#: (tests/test_geometry.py checks it is still there: dotted overrides address list items by index).
TARGET_STEP = 6
#: The small HRNet's output stride (its high-resolution branch): heatmap = input / 4 without upsampling.
BACKBONE_STRIDE = 4
SIGMA = 2  # the paper's, in heatmap pixels (MMPose's MSRAHeatmap default)

#: Heads for 64x48 heatmaps from the 16-channel stride-4 features, each with one learned x2 upsampling
#: before the 1x1 output layer (133 heatmaps). The old 32x24 head was a 3x3 conv 16->64 (+BN, ReLU) and
#: the 1x1 layer 64->133. The ``shuffle`` heads keep that 3x3 conv at 32x24 and rearrange its channels
#: into 4x fewer at 64x48 (sub-pixel convolution, ``KAFHeatmapHead(pixel_shuffle=2)``): ``shuffle64``,
#: the profile's, costs the old arithmetic. The ``deconv`` heads use MMPose's 4x4 stride-2 transposed
#: convolution.
HEADS_64x48 = MappingProxyType({
    "shuffle64": dict(deconv_out_channels=None, conv_out_channels=(64, ), conv_kernel_sizes=(3, ),
                      pixel_shuffle=2),
    "shuffle128": dict(deconv_out_channels=None, conv_out_channels=(128, ), conv_kernel_sizes=(3, ),
                       pixel_shuffle=2),
    "deconv16": dict(deconv_out_channels=(16, ), deconv_kernel_sizes=(4, ),
                     conv_out_channels=None, conv_kernel_sizes=None, pixel_shuffle=None),
    "deconv32": dict(deconv_out_channels=(32, ), deconv_kernel_sizes=(4, ),
                     conv_out_channels=None, conv_kernel_sizes=None, pixel_shuffle=None),
    "deconv64": dict(deconv_out_channels=(64, ), deconv_kernel_sizes=(4, ),
                     conv_out_channels=None, conv_kernel_sizes=None, pixel_shuffle=None),
    "deconv16_conv32": dict(deconv_out_channels=(16, ), deconv_kernel_sizes=(4, ),
                            conv_out_channels=(32, ), conv_kernel_sizes=(3, ), pixel_shuffle=None),
    "deconv16_conv64": dict(deconv_out_channels=(16, ), deconv_kernel_sizes=(4, ),
                            conv_out_channels=(64, ), conv_kernel_sizes=(3, ), pixel_shuffle=None),
})
DEFAULT_HEAD_64x48 = "shuffle64"  # cpu_base.py's head
#: The old 32x24 profile's head: the 3x3 conv and the 1x1 output layer at the features' resolution.
HEAD_32x24 = MappingProxyType(dict(deconv_out_channels=None, conv_out_channels=(64, ), conv_kernel_sizes=(3, ),
                                   pixel_shuffle=None))

#: (width, height) of the crop and of the heatmaps, MMPose's order; the head's layers on top.
GEOMETRIES = MappingProxyType({
    "64x48": dict(input_size=(96, 128), heatmap_size=(48, 64), head=DEFAULT_HEAD_64x48),  # cpu_base.py as it is
    "32x24": dict(input_size=(96, 128), heatmap_size=(24, 32), head=None),  # the earlier profile (CHANGELOG.md)
})
PROFILE_GEOMETRY = "64x48"


def geometry_overrides(geometry: str = "64x48", *, head: str | None = None) -> dict:
    """Dotted config keys that give the CPU profile ``geometry``'s heatmaps (``{}`` for the profile's own,
    '64x48' with its default head).

    ``head`` picks another 64x48 head from ``HEADS_64x48`` (default: ``DEFAULT_HEAD_64x48``).
    The keys set the codec everywhere a copy of it lives: ``codec``, ``heatmap_size``, the model's
    decoder, and the ``GenerateTarget`` encoder of ``train_pipeline`` and of the training dataset's
    pipeline (the one the runner uses). The validation pipeline has no codec.
    """
    if not isinstance(geometry, str) or geometry not in GEOMETRIES:
        raise ValueError(f"unknown heatmap geometry {geometry!r}; known: {', '.join(GEOMETRIES)}")
    spec = GEOMETRIES[geometry]
    if spec["head"] is None:
        if head is not None:
            raise ValueError(f"geometry {geometry!r} has one head (the old profile's); head={head!r} does not apply")
        layers = HEAD_32x24
    else:
        head = spec["head"] if head is None else head
        if not isinstance(head, str) or head not in HEADS_64x48:
            raise ValueError(f"unknown 64x48 head {head!r}; known: {', '.join(HEADS_64x48)}")
        if geometry == PROFILE_GEOMETRY and head == DEFAULT_HEAD_64x48:
            return {}
        layers = HEADS_64x48[head]
    out = {}
    if geometry != PROFILE_GEOMETRY:
        codec = dict(input_size=spec["input_size"], heatmap_size=spec["heatmap_size"], sigma=SIGMA)
        out.update({"input_size": spec["input_size"], "heatmap_size": spec["heatmap_size"]})
        for prefix in ("codec", "model.head.decoder", f"train_pipeline.{TARGET_STEP}.encoder",
                       f"train_dataloader.dataset.pipeline.{TARGET_STEP}.encoder"):
            out.update({f"{prefix}.{key}": value for key, value in codec.items()})
    out.update({f"model.head.{key}": value for key, value in layers.items()})
    return out


def check_geometry(cfg) -> tuple:
    """The (width, height) of ``cfg``'s heatmaps, after checking the config agrees with itself.

    Raises ValueError naming the disagreement: a codec copy that differs from the model's decoder,
    a training pipeline without exactly one ``GenerateTarget``, or a head whose upsampling does not
    map the backbone's stride-4 features onto the heatmap size.
    """
    decoder = dict(cfg.model.head.decoder)
    decoder.pop("_scope_", None)
    copies = {"codec": cfg.get("codec")}
    for name, pipeline in (("train_pipeline", cfg.get("train_pipeline")),
                           ("train_dataloader.dataset.pipeline", cfg.train_dataloader.dataset.pipeline)):
        steps = [i for i, t in enumerate(pipeline or []) if t.get("type") == "GenerateTarget"]
        if pipeline is not None and len(steps) != 1:
            raise ValueError(f"{name} has {len(steps)} GenerateTarget steps, expected 1")
        if steps:
            copies[f"{name}.{steps[0]}.encoder"] = pipeline[steps[0]].encoder
    for name, codec in copies.items():
        if codec is None:
            continue
        codec = {k: v for k, v in dict(codec).items() if k != "_scope_"}
        if _normalised(codec) != _normalised(decoder):
            raise ValueError(f"{name} = {codec} differs from model.head.decoder = {decoder}")
    (in_w, in_h), (hm_w, hm_h) = decoder["input_size"], decoder["heatmap_size"]
    upsampling = 2 ** len(cfg.model.head.get("deconv_out_channels") or ()) * (cfg.model.head.get("pixel_shuffle") or 1)
    expected = (in_w // BACKBONE_STRIDE * upsampling, in_h // BACKBONE_STRIDE * upsampling)
    if (in_w % BACKBONE_STRIDE or in_h % BACKBONE_STRIDE) or expected != (hm_w, hm_h):
        raise ValueError(f"the head makes {expected[0]}x{expected[1]} (w x h) heatmaps from a {in_w}x{in_h} crop "
                         f"(stride {BACKBONE_STRIDE}, then x{upsampling}), but the codec's heatmap_size is "
                         f"{hm_w}x{hm_h}")
    return hm_w, hm_h


def _normalised(codec: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in codec.items()}


def cli_options(geometry: str = "32x24", head: str | None = None) -> list[str]:
    """``key=value`` words for ``python -m fowkal train --cfg-options`` (values as JSON)."""
    return [f"{key}={json.dumps(value, separators=(',', ':'))}"
            for key, value in geometry_overrides(geometry, head=head).items()]


if __name__ == "__main__":  # python -m fowkal.configs.geometry 32x24 | 64x48 [head]: the --cfg-options words
    print(" ".join(cli_options(*sys.argv[1:3])))
