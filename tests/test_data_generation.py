"""Benchmark generation: the faster drawing code paints the same bytes as the plain code it replaced,
and generation reports its progress (where, how far, how long) and uses every usable core."""
import io

import cv2
import numpy as np
import pytest

from fowkal.data import generate, make_benchmark
from fowkal.data import render
from fowkal.data.render import _SHIFT, _fixed


# --------------------------------------------------------------------------- the plain code, as it was
def plain_draw(canvas, labels, kind, pts, radii, color, label, chirality=0.0):
    """fowkal.data.render._draw before it ran single points on Python floats (generator 1.0.0)."""
    color = tuple(float(c) for c in color)
    targets = [(canvas, color, cv2.LINE_AA)]
    if labels is not None:
        targets.append((labels, int(label), cv2.LINE_8))
    if kind == "poly":
        for img, col, aa in targets:
            cv2.fillPoly(img, [_fixed(pts)], col, aa, _SHIFT)
    elif kind == "disc":
        r = int(round(radii[0] * (1 << _SHIFT)))
        for img, col, aa in targets:
            cv2.circle(img, tuple(_fixed(pts[0])), max(r, 1), col, -1, aa, _SHIFT)
    elif kind == "capsule":
        (p0, p1), (r0, r1) = pts, radii
        d = p1 - p0
        n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6)
        quad = np.array([p0 + n * r0, p1 + n * r1, p1 - n * r1, p0 - n * r0])
        for img, col, aa in targets:
            cv2.fillPoly(img, [_fixed(quad)], col, aa, _SHIFT)
            for p, r in ((p0, r0), (p1, r1)):
                cv2.circle(img, tuple(_fixed(p)), max(int(round(r * (1 << _SHIFT))), 1), col, -1, aa, _SHIFT)
    elif kind == "edge":
        (p0, p1), (r0, r1) = pts, radii
        d = p1 - p0
        n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6) * chirality
        band = np.array([p0 + n * r0, p1 + n * r1, p1 + n * 0.2 * r1, p0 + n * 0.2 * r0])
        for img, col, aa in targets:
            cv2.fillPoly(img, [_fixed(band)], col, aa, _SHIFT)
    elif kind == "ellipse":
        c, a, b = pts[0], pts[1] - pts[0], pts[2] - pts[0]
        t = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)[:, None]
        for img, col, aa in targets:
            cv2.fillPoly(img, [_fixed(c + a * np.cos(t) + b * np.sin(t))], col, aa, _SHIFT)
    else:  # line, closed
        thickness = max(1, int(round(radii[0])))
        for img, col, aa in targets:
            cv2.polylines(img, [_fixed(pts)], kind == "closed", col, thickness, aa, _SHIFT)


def plain_finish(canvas_ss, rng, width, height):
    """fowkal.data.render._finish before it worked in place (generator 1.0.0)."""
    img = cv2.resize(canvas_ss, (width, height), interpolation=cv2.INTER_AREA)
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * (np.arange(width) / width - 0.5)[None, :]
            + np.sin(a) * (np.arange(height) / height - 0.5)[:, None])
    gain = rng.uniform(0.65, 1.25) * (1.0 + rng.uniform(0.0, 0.5) * ramp)
    cast = rng.uniform(0.85, 1.15, 3)
    out = img.astype(np.float32) * (gain[..., None] * cast).astype(np.float32)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(rng.uniform(1.0, 5.0))
    img = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    gamma = rng.uniform(0.8, 1.25)
    lut = np.array([round(255.0 * (i / 255.0) ** gamma) for i in range(256)], np.uint8)
    img = cv2.LUT(img, lut)
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0))
    return img


def random_shape(rng, kind):
    """Points with fractional parts that land on the fixed-point grid's rounding ties now and then."""
    n = {"poly": 5, "disc": 1, "capsule": 2, "edge": 2, "ellipse": 3, "line": 4, "closed": 4}[kind]
    pts = rng.uniform(-20, 160, (n, 2))
    tie = rng.random(n) < 0.3
    pts[tie] = np.round(pts[tie] * 32) / 32  # x·16 ends in .5: np.rint's and round's ties
    if kind in ("capsule", "edge") and rng.random() < 0.1:
        pts[1] = pts[0]  # a zero-length stick
    radii = tuple(rng.uniform(0.3, 9.0, 2))
    return pts, radii


@pytest.mark.parametrize("kind", ["poly", "disc", "capsule", "edge", "ellipse", "line", "closed"])
def test_draw_paints_the_plain_codes_pixels(kind):
    rng = np.random.default_rng(0)
    painted = 0
    for _ in range(150):
        pts, radii = random_shape(rng, kind)
        color, label, chirality = tuple(rng.uniform(0, 255, 3)), int(rng.integers(1, 500)), rng.choice([-1.0, 1.0])
        canvases = []
        for draw in (plain_draw, render._draw):
            canvas, labels = np.zeros((140, 150, 3), np.uint8), np.zeros((140, 150), np.uint16)
            draw(canvas, labels, kind, pts, radii, color, label, chirality)
            canvases.append((canvas, labels))
        painted += bool(canvases[0][0].any())
        for old, new in zip(*canvases):
            assert np.array_equal(old, new), kind
    assert painted > 100  # most shapes land on the canvas: the comparison is not of empty images


def test_finish_gives_the_plain_codes_image_and_random_stream():
    for seed in range(40):
        canvas = np.random.default_rng(seed).integers(0, 256, (64, 80, 3), dtype=np.uint8)
        rngs = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 1])
        old, new = plain_finish(canvas, rngs[0], 40, 32), render._finish(canvas, rngs[1], 40, 32)
        assert np.array_equal(old, new)
        assert rngs[0].random() == rngs[1].random()  # the same draws were taken


# --------------------------------------------------------------------------- progress and workers
def test_progress_says_where_how_far_and_how_long(tmp_path, capsys):
    make_benchmark(tmp_path / "b", seed=0, workers=1, train_images=4, val_images=2)
    err = capsys.readouterr().err
    assert str(tmp_path / "b") in err
    assert "6/6 images" in err and "100%" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"[fowkal.data] wrote {tmp_path / 'b'}: 6 images in ") and " s with 1 worker" in last


def test_progress_counts_every_image_of_a_worker_pool(tmp_path, capfd):
    make_benchmark(tmp_path / "b", seed=0, workers=2, train_images=60, val_images=6)  # >= 64: a pool
    err = capfd.readouterr().err
    assert "66/66 images" in err and "with 2 workers" in err


def test_progress_off_prints_nothing(tmp_path, capsys):
    make_benchmark(tmp_path / "b", seed=0, workers=1, progress=False, train_images=2, val_images=1)
    assert capsys.readouterr().err == ""


def test_progress_on_a_terminal_redraws_one_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = generate.Progress(3, "out", 2, stream=stream)
    for _ in range(3):
        progress.update()
    progress.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.startswith("\r[fowkal.data] generating out: ")
    assert "3/3 images" in text and "wrote out: 3 images in" in text


def test_default_workers_are_the_usable_cores(monkeypatch):
    monkeypatch.setattr(generate.os, "sched_getaffinity", lambda pid: {0, 1, 2, 5}, raising=False)
    assert generate._check_workers(None) == generate.usable_cores() == 4
