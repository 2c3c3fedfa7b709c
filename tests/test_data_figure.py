"""Geometry of the benchmark's cartoon person: face layout, feet and hands the right way round."""
from __future__ import annotations

import numpy as np

from fowkal.data import face as face_model
from fowkal.data.figure import _foot, _hand, build_figure
from fowkal.data.palette import Palette
from fowkal.parts import BODY, FACE, FACE_REGIONS, FLIP_PAIRS, LEFT_HAND, RIGHT_HAND


def test_face_template_is_ibug68_and_mirror_symmetric():
    tpl = face_model.template_2d()
    assert tpl.shape == (68, 2)
    perm = list(range(68))
    for a, b in FLIP_PAIRS:  # the face pairs of the flip, in face-local indices
        if a in FACE:
            perm[a - FACE[0]], perm[b - FACE[0]] = b - FACE[0], a - FACE[0]
    mirrored = tpl[perm] * [-1, 1]
    assert np.allclose(mirrored, tpl, atol=1e-9), "mirroring the face swaps exactly the flip pairs"
    y = {region: tpl[list(idx), 1].mean() for region, idx in FACE_REGIONS.items()}
    assert y["right_brow"] < y["right_eye"] < y["nose_base"] < y["outer_lip"] < tpl[8, 1]
    assert tpl[36, 0] < tpl[39, 0] < 0 < tpl[42, 0] < tpl[45, 0], "subject's right eye on image left"


def test_big_toe_is_on_the_inner_side_of_each_foot():
    size = {"ankle": 0.035, "foot": 0.13}
    leg = {"toe_out": 0.0, "ankle": 0.0}
    down = np.array([0.0, 1.0, 0.0])
    left = _foot(np.array([0.08, 0.9, 0.0]), down, leg, 1.0, size)  # subject's left is +x
    right = _foot(np.array([-0.08, 0.9, 0.0]), down, leg, -1.0, size)
    assert left[0, 0] < left[1, 0] and right[0, 0] > right[1, 0]
    assert left[2, 2] < 0 < left[0, 2], "heel behind the ankle, toes in front"


def test_left_hand_curls_towards_the_body_when_the_thumb_points_forward():
    grip = {"curl": np.full(5, 0.8), "spread": 1.0}
    for palm_angle in np.linspace(0.0, 2.0 * np.pi, 181):
        hand = _hand(np.zeros(3), np.array([0.0, 1.0, 0.0]), palm_angle, 1.0, 0.12, grip)
        thumb = hand[1] - hand[0]
        if thumb[2] > 0 and abs(thumb[0]) < 0.2 * abs(thumb[2]):
            break
    assert hand[8, 0] < -0.01, "a hanging left hand with the thumb forward has its palm inwards"
    assert hand.shape == (21, 3)


def test_figure_keypoints_are_anatomically_ordered():
    fig = build_figure(np.random.default_rng(0), head_size=0.2, hand_size=0.12, foot_size=0.125, palette=Palette())
    kp = fig.keypoints
    nose, l_shoulder, r_shoulder = kp[BODY[0]], kp[BODY[5]], kp[BODY[6]]
    assert l_shoulder[0] > r_shoulder[0], "subject's left is +x"
    assert nose[1] < l_shoulder[1] < kp[BODY[11], 1], "head above shoulders above hips"
    assert np.allclose(kp[LEFT_HAND[0]], kp[BODY[9]]) and np.allclose(kp[RIGHT_HAND[0]], kp[BODY[10]])
    assert set(fig.part_size) == {"face", "hand", "foot"} and all(v > 0 for v in fig.part_size.values())
