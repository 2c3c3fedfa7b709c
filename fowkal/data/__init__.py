"""The embedded whole-body benchmark: generated images in the COCO-WholeBody v1.0 format.

    from fowkal.data import default_benchmark, make_benchmark
    root = default_benchmark()            # cached under $FOWKAL_DATA_ROOT or <repo>/data/
    make_benchmark("data/noisy", seed=1, noise_face=0.05)

Command line: ``python -m fowkal.data make --out DIR --seed 0 [--param value ...]`` and
``python -m fowkal.data sheet --root DIR --out sheet.png`` (a contact sheet, drawn by
:mod:`fowkal.viz.contact_sheet`).
"""
from .generate import (MANIFEST, TRAIN_ANN, VAL_ANN, VAL_DETECTIONS, annotation_file, benchmark_identity,
                       benchmark_key, content_sha256, default_benchmark, default_data_root, image_prefix,
                       make_benchmark, read_manifest)
from .params import DEFAULT_PARAMS, GENERATOR_VERSION, NOISE_PARTS, NOISE_SCALE

__all__ = [
    "DEFAULT_PARAMS", "GENERATOR_VERSION", "MANIFEST", "NOISE_PARTS", "NOISE_SCALE", "TRAIN_ANN", "VAL_ANN",
    "VAL_DETECTIONS", "annotation_file", "benchmark_identity", "benchmark_key", "content_sha256",
    "default_benchmark", "default_data_root",
    "image_prefix", "make_benchmark", "read_manifest",
]
