"""The 133 COCO-WholeBody keypoints: the one place that defines their layout.

Order and values follow the COCO-WholeBody v1.0 annotation files and MMPose's
``configs/_base_/datasets/coco_wholebody.py`` (a test checks the names, flip pairs and sigmas
against MMPose when it is installed).

    body        0-16   17 COCO body keypoints
    foot       17-22    6 (left big toe, small toe, heel; then right)
    face       23-90   68 (iBUG-68 layout: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67)
    left hand  91-111  21 (root, then thumb/forefinger/middle/ring/pinky with 4 joints each)
    right hand 112-132 21
"""
from __future__ import annotations

from types import MappingProxyType

NUM_BODY, NUM_FOOT, NUM_FACE, NUM_HAND_SIDE = 17, 6, 68, 21
NUM_KEYPOINTS = NUM_BODY + NUM_FOOT + NUM_FACE + 2 * NUM_HAND_SIDE  # 133


def _span(start: int, length: int) -> tuple[int, ...]:
    return tuple(range(start, start + length))


BODY = _span(0, NUM_BODY)
FOOT = _span(BODY[-1] + 1, NUM_FOOT)
FACE = _span(FOOT[-1] + 1, NUM_FACE)
LEFT_HAND = _span(FACE[-1] + 1, NUM_HAND_SIDE)
RIGHT_HAND = _span(LEFT_HAND[-1] + 1, NUM_HAND_SIDE)
HAND = LEFT_HAND + RIGHT_HAND

#: The paper's four parts (Eq. 7/8), in the paper's order: body, foot, face, hand.
PARTS = MappingProxyType({"body": BODY, "foot": FOOT, "face": FACE, "hand": HAND})

#: The five parts the COCO-WholeBody evaluation scores separately (hand AP = mean of both hands).
EVAL_PARTS = MappingProxyType(
    {"body": BODY, "foot": FOOT, "face": FACE, "lefthand": LEFT_HAND, "righthand": RIGHT_HAND}
)

#: Field names of each part in a COCO-WholeBody annotation, in keypoint order.
ANNOTATION_FIELDS = MappingProxyType(
    {
        "keypoints": BODY,
        "foot_kpts": FOOT,
        "face_kpts": FACE,
        "lefthand_kpts": LEFT_HAND,
        "righthand_kpts": RIGHT_HAND,
    }
)

_BODY_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_FOOT_NAMES = tuple(
    f"{side}_{name}" for side in ("left", "right") for name in ("big_toe", "small_toe", "heel")
)
_FACE_NAMES = tuple(f"face-{i}" for i in range(NUM_FACE))
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand_names(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",) + tuple(
        f"{side}_{finger}{joint}" for finger in _FINGERS for joint in range(1, 5)
    )


KEYPOINT_NAMES = (
    _BODY_NAMES + _FOOT_NAMES + _FACE_NAMES + _hand_names("left") + _hand_names("right")
)

# iBUG-68 face landmarks, by region (indices into the 68 face points, not the 133).
FACE_REGIONS = MappingProxyType(
    {
        "jaw": tuple(range(0, 17)),
        "right_brow": tuple(range(17, 22)),
        "left_brow": tuple(range(22, 27)),
        "nose_bridge": tuple(range(27, 31)),
        "nose_base": tuple(range(31, 36)),
        "right_eye": tuple(range(36, 42)),
        "left_eye": tuple(range(42, 48)),
        "outer_lip": tuple(range(48, 60)),
        "inner_lip": tuple(range(60, 68)),
    }
)

# Mirror image of each iBUG-68 point under a horizontal flip (face-local indices).
_FACE_MIRROR = (
    [(i, 16 - i) for i in range(8)]  # jaw
    + [(17 + i, 26 - i) for i in range(5)]  # brows
    + [(31, 35), (32, 34)]  # nostrils
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    + [(60, 64), (61, 63), (65, 67)]  # inner lip
)


def _flip_pairs() -> tuple[tuple[int, int], ...]:
    pairs = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
    pairs += [(FOOT[i], FOOT[i + 3]) for i in range(3)]
    pairs += [(FACE[a], FACE[b]) for a, b in _FACE_MIRROR]
    pairs += list(zip(LEFT_HAND, RIGHT_HAND))
    return tuple(pairs)


#: Keypoints that swap under a horizontal flip (61 pairs).
FLIP_PAIRS = _flip_pairs()


def flip_indices() -> list[int]:
    """Index permutation of a horizontal flip: ``flipped[:, k] = x[:, flip_indices()[k]]``."""
    perm = list(range(NUM_KEYPOINTS))
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


# OKS sigmas of the official COCO-WholeBody evaluation (per keypoint, same order).
_BODY_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)
_FOOT_SIGMAS = (0.068, 0.066, 0.066, 0.092, 0.094, 0.094)
_FACE_SIGMAS = (
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032,
    0.037, 0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011,
    0.011, 0.013, 0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010,
    0.017, 0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034,
    0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007,
    0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008,
)
_HAND_SIGMAS = (
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024,
    0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031,
)
SIGMAS = _BODY_SIGMAS + _FOOT_SIGMAS + _FACE_SIGMAS + _HAND_SIGMAS + _HAND_SIGMAS

#: The person category's skeleton (1-based keypoint ids, COCO convention), body and feet.
SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
    (16, 18), (16, 19), (16, 20), (17, 21), (17, 22), (17, 23),
)

# Hand bones (hand-local, 0 = root): each finger is a chain root -> 1 -> 2 -> 3 -> 4.
HAND_BONES = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4)
)


def part_of(keypoint: int, parts=PARTS) -> str:
    """Name of the part that holds ``keypoint``."""
    for name, idx in parts.items():
        if keypoint in idx:
            return name
    raise ValueError(f"keypoint {keypoint} is in none of the parts {list(parts)}")


def validate_parts(parts, num_keypoints: int) -> dict[str, tuple[int, ...]]:
    """Check that ``parts`` (name -> indices) partitions ``range(num_keypoints)``.

    Returns the parts as a plain dict of int tuples; raises ValueError naming the problem.
    """
    if not hasattr(parts, "items") or len(parts) == 0:
        raise TypeError(f"parts must be a non-empty mapping name -> keypoint indices, got {parts!r}")
    clean: dict[str, tuple[int, ...]] = {}
    owner: dict[int, str] = {}
    for name, idx in parts.items():
        idx = tuple(int(i) for i in idx)
        if not idx:
            raise ValueError(f"part {name!r} has no keypoints")
        for i in idx:
            if i in owner:
                raise ValueError(f"parts overlap: keypoint {i} is in both {owner[i]!r} and {name!r}")
            if not 0 <= i < num_keypoints:
                raise ValueError(
                    f"part {name!r} holds keypoint {i}, outside 0..{num_keypoints - 1} "
                    f"(the heatmaps have K={num_keypoints} channels)"
                )
            owner[i] = name
        clean[name] = idx
    missing = sorted(set(range(num_keypoints)) - set(owner))
    if missing:
        shown = missing[:10] + (["..."] if len(missing) > 10 else [])
        raise ValueError(
            f"parts leave {len(missing)} of K={num_keypoints} keypoints out: {shown}; "
            f"pass parts that cover every heatmap channel (default parts are for the "
            f"{NUM_KEYPOINTS} COCO-WholeBody keypoints)"
        )
    return clean
