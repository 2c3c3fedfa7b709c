"""An articulated cartoon person in 3D: its 133 keypoints and the shapes that draw it.

Body space: x points to the subject's left, y down, z to the subject's front; the unit is the
standing height H (crown to sole). A person facing the camera therefore has its left side on the
image's right, as in COCO. ``Figure.project`` turns body space into image pixels (a yaw about the
vertical axis for the viewpoint, an orthographic projection, an in-plane rotation and a scale).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..parts import BODY, FACE, FOOT, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND
from . import face as face_model
from .palette import Palette

SIDES = {"l": 1.0, "r": -1.0}  # x sign of the subject's left / right


@dataclass
class Shape:
    """One drawing primitive in body space, painted in depth order.

    kind: ``poly`` (filled polygon), ``capsule`` (tapered stick between two points; ``radius`` per
    point), ``edge`` (a dark band along one side of a capsule, see ``chirality``), ``disc``,
    ``ellipse`` (centre, a point on its major axis end, and a point on its minor axis end),
    ``line`` or ``closed`` (polyline of thickness ``radius[0]``).
    """

    kind: str
    points: np.ndarray
    radius: tuple = ()
    color: tuple = (0, 0, 0)
    segment: str = ""
    z_bias: float = 0.0
    face_index: tuple = ()  # for face strokes: the face points they run through
    chirality: float = 0.0  # for ``edge``: +1 paints the clockwise edge, -1 the other one


@dataclass
class Figure:
    keypoints: np.ndarray  # (133, 3) body space
    face_normals: np.ndarray  # (68, 3) outward normals of the face points, body space
    shapes: list = field(default_factory=list)
    part_size: dict = field(default_factory=dict)  # face height, hand and foot length, in H
    head_yaw: float = 0.0  # head yaw relative to the body, radians

    def project(self, yaw: float, roll: float, scale: float, offset) -> "Projection":
        """Image coordinates (pixels) and depths of everything, for one viewpoint and placement."""
        c, s = np.cos(yaw), np.sin(yaw)
        rot_yaw = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        cr, sr = np.cos(roll), np.sin(roll)
        rot_roll = np.array([[cr, -sr], [sr, cr]])
        offset = np.asarray(offset, dtype=float)

        def to_image(points):
            world = np.asarray(points, dtype=float) @ rot_yaw.T
            return world[:, :2] @ rot_roll.T * scale + offset, world[:, 2]

        keypoints, depth = to_image(self.keypoints)
        normals_z = (self.face_normals @ rot_yaw.T)[:, 2]
        return Projection(self, to_image, keypoints, depth, normals_z, scale)


@dataclass
class Projection:
    figure: Figure
    to_image: object
    keypoints: np.ndarray  # (133, 2) pixels
    depth: np.ndarray  # (133,) towards the camera, in H
    face_normals_z: np.ndarray  # (68,) > 0: the face point looks at the camera
    scale: float  # pixels per H

    def face_point_visible(self) -> np.ndarray:
        """Face points on the side of the head that faces the camera (self-occlusion)."""
        return self.face_normals_z > -0.15


# ----------------------------------------------------------------------------- geometry helpers
def _cross(a, b):
    """Cross product of two 3-vectors (np.cross is slow on tiny arrays)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / max(math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), 1e-9)


def _rotate(v, axis, angle):
    """Rodrigues: rotate ``v`` about unit ``axis`` by ``angle``."""
    axis = _unit(axis)
    c, s = math.cos(angle), math.sin(angle)
    return v * c + _cross(axis, v) * s + axis * (float(axis @ v) * (1.0 - c))


def _bend(direction, towards, angle):
    """Turn ``direction`` by ``angle`` towards ``towards`` (a hinge perpendicular to both)."""
    axis = _cross(direction, towards)
    if float(axis @ axis) < 1e-12:  # degenerate: pick any perpendicular hinge
        axis = _cross(direction, [1.0, 0.0, 0.0])
    return _rotate(direction, axis, angle)


def _sphere_dir(abduction, flexion, side):
    """A limb direction: 0/0 hangs down; abduction swings it out sideways, flexion forwards."""
    return _unit(np.array([side * np.sin(abduction) * np.cos(flexion),
                           np.cos(abduction) * np.cos(flexion), np.sin(flexion)]))


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# ----------------------------------------------------------------------------- pose sampling
_ARCHETYPES = ("stand", "walk", "raise", "reach", "crouch", "kick", "free")
_ARCHETYPE_P = (0.22, 0.2, 0.16, 0.12, 0.1, 0.08, 0.12)


def sample_pose(rng: np.random.Generator) -> dict:
    """Joint angles (radians) of a plausible pose from a few archetypes, with jitter."""
    u, d = rng.uniform, np.deg2rad
    kind = _ARCHETYPES[rng.choice(len(_ARCHETYPES), p=_ARCHETYPE_P)]
    pose = {"kind": kind, "bend": d(u(-5, 15)), "lean": d(u(-8, 8)),
            "head_yaw": d(u(-35, 35)), "head_pitch": d(u(-15, 15)), "head_roll": d(u(-15, 15))}
    swing = d(u(-35, 35))
    for side, sign in (("l", 1.0), ("r", -1.0)):
        arm = dict(ab=d(u(5, 30)), fl=d(u(-20, 20)), elbow=d(u(0, 40)))
        leg = dict(ab=d(u(0, 12)), fl=d(u(-10, 15)), knee=d(u(0, 15)))
        if kind == "walk":
            arm.update(fl=sign * swing, elbow=d(u(10, 60)))
            leg.update(fl=-sign * swing * 0.9, knee=d(u(0, 45)))
        elif kind == "raise" and (side == "l" or rng.random() < 0.5):
            arm.update(ab=d(u(80, 170)), fl=d(u(-20, 30)), elbow=d(u(0, 110)))
        elif kind == "reach" and rng.random() < 0.7:
            arm.update(ab=d(u(0, 40)), fl=d(u(50, 110)), elbow=d(u(0, 40)))
        elif kind == "crouch":
            leg.update(ab=d(u(5, 30)), fl=d(u(50, 100)), knee=d(u(70, 130)))
            arm.update(fl=d(u(0, 60)), elbow=d(u(20, 90)))
        elif kind == "kick" and side == "l":
            leg.update(ab=d(u(15, 60)), fl=d(u(20, 80)), knee=d(u(0, 60)))
            arm.update(ab=d(u(30, 100)))
        elif kind == "free":
            arm = dict(ab=d(u(0, 170)), fl=d(u(-40, 110)), elbow=d(u(0, 140)))
            leg = dict(ab=d(u(-8, 45)), fl=d(u(-25, 90)), knee=d(u(0, 120)))
        arm["twist"] = d(u(-60, 60))
        arm["wrist"] = d(u(-40, 40))
        arm["palm"] = d(u(0, 360))
        arm["grip"] = _sample_grip(rng)
        leg["toe_out"] = d(u(-10, 30))
        leg["ankle"] = d(u(-15, 25))
        pose[side + "_arm"], pose[side + "_leg"] = arm, leg
    if kind == "crouch":
        pose["bend"] = d(u(10, 35))
    return pose


def _sample_grip(rng):
    """Finger curls 0 (straight) .. 1 (fist) for thumb, index, middle, ring, pinky."""
    style = rng.choice(4, p=[0.35, 0.35, 0.15, 0.15])
    if style == 0:  # open, fingers spread
        curl = rng.uniform(0.0, 0.2, 5)
    elif style == 1:  # relaxed
        curl = rng.uniform(0.15, 0.55, 5)
    elif style == 2:  # fist
        curl = rng.uniform(0.7, 1.0, 5)
    else:  # pointing
        curl = rng.uniform(0.7, 1.0, 5)
        curl[1] = rng.uniform(0.0, 0.15)
    return {"curl": curl, "spread": rng.uniform(0.6, 1.4)}


# ----------------------------------------------------------------------------- the figure
def _proportions(head_size: float, foot_size: float, rng: np.random.Generator) -> dict:
    """Segment lengths in H; the body below the head is scaled so that crown to sole is 1."""
    body = dict(neck=0.035, torso=0.30, upper_arm=0.165, forearm=0.14, thigh=0.235, shin=0.225,
                ankle=0.035, shoulder=0.115, hip=0.075, foot=0.13)
    jitter = {k: rng.uniform(0.92, 1.08) for k in body}
    squash = (1.0 - head_size) / 0.83  # 0.83: neck + torso + thigh + shin + ankle
    out = {k: v * squash * jitter[k] for k, v in body.items()}
    out["foot"] = foot_size * jitter["foot"]  # not part of the height: no squash (same draws as before)
    out["head"] = head_size
    out["girth"] = rng.uniform(0.85, 1.25)  # slim .. stocky
    return out


_HAND_FINGER_BASE = np.array([  # (along the hand, towards the thumb side), in hand lengths
    [0.12, 0.20], [0.44, 0.13], [0.46, 0.04], [0.44, -0.05], [0.39, -0.13]])
_HAND_FINGER_SEGMENTS = np.array([  # thumb: CMC->MCP->IP->tip; fingers: MCP->PIP->DIP->tip
    [0.22, 0.17, 0.14], [0.23, 0.14, 0.11], [0.26, 0.16, 0.11], [0.24, 0.15, 0.11],
    [0.19, 0.11, 0.09]])
_HAND_FINGER_FAN = np.array([0.75, 0.13, 0.0, -0.12, -0.26])  # radians towards the thumb side


def _hand(wrist, direction, palm_angle, side, length, grip):
    """21 hand keypoints (wrist, then thumb and four fingers, base to tip) in body space."""
    a = _unit(direction)
    ref = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    b = _rotate(_unit(_cross(a, ref)), a, palm_angle)  # thumb side
    c = _cross(a, b) * -side  # the way the palm faces; a left hand is a mirrored right hand
    points = [wrist]
    for finger in range(5):
        along, across = _HAND_FINGER_BASE[finger]
        base = wrist + length * (along * a + across * b)
        fan = _HAND_FINGER_FAN[finger] * grip["spread"]
        seg_dir = np.cos(fan) * a + np.sin(fan) * b
        curl = grip["curl"][finger]
        bends = np.array([0.9, 1.6, 1.1]) * curl if finger else np.array([0.5, 0.7, 0.8]) * curl
        points.append(base)
        p = base
        for seg in range(3):
            seg_dir = _bend(seg_dir, c if finger else (c - 0.3 * b), bends[seg])
            p = p + length * _HAND_FINGER_SEGMENTS[finger, seg] * seg_dir
            points.append(p)
    return np.array(points)


def build_figure(rng: np.random.Generator, *, head_size: float, hand_size: float, foot_size: float,
                 palette: Palette) -> Figure:
    """A random person: pose, proportions, clothes; keypoints and shapes in body space.

    ``head_size``, ``hand_size``, ``foot_size``: head height, hand length and foot segment (ankle's
    sole point to the toes' line) over the person's height (``fowkal.data.params``)."""
    pose = sample_pose(rng)
    P = _proportions(head_size, foot_size, rng)
    kp = np.zeros((NUM_KEYPOINTS, 3))
    torso_rot = _rot_z(pose["lean"]) @ _rot_x(-pose["bend"])
    pelvis = np.zeros(3)
    neck = pelvis + torso_rot @ [0.0, -P["torso"], 0.0]
    body = {}
    for side, sign in SIDES.items():
        body[side + "_shoulder"] = neck + torso_rot @ [sign * P["shoulder"], 0.025, 0.0]
        body[side + "_hip"] = pelvis + [sign * P["hip"], 0.0, 0.0]
    hands, feet = {}, {}
    for side, sign in SIDES.items():
        arm = pose[side + "_arm"]
        upper = torso_rot @ _sphere_dir(arm["ab"], arm["fl"], sign)
        towards = _rotate(torso_rot @ [0.0, 0.0, 1.0], upper, arm["twist"])
        fore = _bend(upper, towards, arm["elbow"])
        body[side + "_elbow"] = body[side + "_shoulder"] + P["upper_arm"] * upper
        body[side + "_wrist"] = body[side + "_elbow"] + P["forearm"] * fore
        hand_dir = _bend(fore, towards, arm["wrist"])
        hands[side] = _hand(body[side + "_wrist"], hand_dir, arm["palm"], sign, hand_size,
                            arm["grip"])
        leg = pose[side + "_leg"]
        thigh = _sphere_dir(leg["ab"], leg["fl"], sign)
        back = _rotate(np.array([0.0, 0.0, -1.0]), thigh, sign * 0.1)
        shin = _bend(thigh, back, leg["knee"])
        body[side + "_knee"] = body[side + "_hip"] + P["thigh"] * thigh
        body[side + "_ankle"] = body[side + "_knee"] + P["shin"] * shin
        feet[side] = _foot(body[side + "_ankle"], shin, leg, sign, P)

    head = _head(neck, torso_rot, pose, P, rng)
    body.update(head["body"])
    names = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
             "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle",
             "r_ankle")
    kp[list(BODY)] = [body[n] for n in names]
    kp[list(FOOT)] = np.concatenate([feet["l"], feet["r"]])
    kp[list(FACE)] = head["face"]
    kp[list(LEFT_HAND)] = hands["l"]
    kp[list(RIGHT_HAND)] = hands["r"]

    colors = palette.person(rng)
    shapes = _body_shapes(body, neck, pelvis, torso_rot, P, colors)
    for side in SIDES:
        shapes += _hand_shapes(hands[side], side, hand_size, colors)
        shapes += _foot_shapes(feet[side], body[side + "_ankle"], side, P, colors)
    shapes += head["shapes"](colors)
    face_height = np.linalg.norm(head["face"][8] - head["face"][27]) * 1.45  # chin .. brow line
    return Figure(keypoints=kp, face_normals=head["normals"], shapes=shapes,
                  part_size={"face": face_height, "hand": hand_size, "foot": P["foot"]},
                  head_yaw=pose["head_yaw"])


def _foot(ankle, shin, leg, sign, P):
    """Big toe, small toe, heel of one foot (COCO-WholeBody order)."""
    forward = np.array([0.0, 0.0, 1.0])
    foot_dir = _unit(forward - np.dot(forward, shin) * shin)  # perpendicular to the shin
    foot_dir = _rotate(foot_dir, shin, sign * leg["toe_out"])
    foot_dir = _bend(foot_dir, shin, leg["ankle"])
    lateral = _unit(_cross(shin, foot_dir))  # towards the subject's left (+x standing upright)
    sole = ankle + shin * P["ankle"]
    # the big toe is on the inner side of each foot, the small toe on the outer side
    big = sole + foot_dir * P["foot"] * 0.85 - lateral * sign * P["foot"] * 0.15
    small = sole + foot_dir * P["foot"] * 0.65 + lateral * sign * P["foot"] * 0.22
    heel = sole - foot_dir * P["foot"] * 0.25
    return np.array([big, small, heel])


def _head(neck, torso_rot, pose, P, rng):
    """Face points, their normals, nose/eyes/ears, and a function that draws the head."""
    hh = P["head"]
    head_rot = torso_rot @ _rot_y(pose["head_yaw"]) @ _rot_x(pose["head_pitch"]) @ _rot_z(
        pose["head_roll"])
    neck_top = neck + torso_rot @ [0.0, -P["neck"], 0.0]
    centre = neck_top + head_rot @ [0.0, -0.5 * hh, 0.0]
    unit = 0.40 * hh  # one face-template unit
    tpl = face_model.expression(rng)
    z = face_model.depth(tpl)
    local = np.column_stack([tpl[:, 0] * unit, tpl[:, 1] * unit + 0.07 * hh, z * unit + 0.06 * hh])
    face = centre + local @ head_rot.T
    grad = np.column_stack([tpl[:, 0], (tpl[:, 1] - 0.15) / 1.15 ** 2, z / 0.75 ** 2])
    normals = grad / np.linalg.norm(grad, axis=1, keepdims=True) @ head_rot.T
    body = {"nose": face[30], "l_eye": face[42:48].mean(0), "r_eye": face[36:42].mean(0)}
    for side, sign in SIDES.items():
        body[side + "_ear"] = centre + head_rot @ [sign * 0.43 * hh, 0.02 * hh, -0.08 * hh]
    forehead_t = np.linspace(0.15, np.pi - 0.15, 9)
    forehead = np.column_stack([-np.cos(forehead_t) * 0.92 * unit,
                                (-0.25 - 0.55 * np.sin(forehead_t)) * unit + 0.07 * hh,
                                np.full(9, 0.25 * unit)])
    forehead = centre + forehead @ head_rot.T
    axes = {name: head_rot @ v for name, v in
            (("up", np.array([0.0, -1.0, 0.0])), ("side", np.array([1.0, 0.0, 0.0])))}

    def shapes(colors):
        return _head_shapes(centre, axes, face, forehead, body, hh, colors)

    return {"face": face, "normals": normals, "body": body, "shapes": shapes}


# ----------------------------------------------------------------------------- shapes
def _body_shapes(body, neck, pelvis, torso_rot, P, colors):
    g = P["girth"]
    shapes = []
    shirt, pants = colors["shirt"], colors["pants"]
    t = lambda v: torso_rot @ np.asarray(v, dtype=float)  # noqa: E731  (torso frame -> body)
    sh, hip = P["shoulder"], P["hip"]
    outline = [neck + t([sh + 0.02, 0.02, 0]), neck + t([0.04, -0.01, 0]),
               neck + t([-0.04, -0.01, 0]), neck + t([-sh - 0.02, 0.02, 0]),
               pelvis + t([-0.08 * g, -0.12, 0]), pelvis + [-hip - 0.035 * g, 0.02, 0],
               pelvis + [hip + 0.035 * g, 0.02, 0], pelvis + t([0.08 * g, -0.12, 0])]
    shapes.append(Shape("poly", np.array(outline), color=shirt, segment="torso"))
    shapes.append(Shape("capsule", np.array([neck + t([0, 0.04, 0]), pelvis + t([0, -0.05, 0])]),
                        (0.075 * g, 0.07 * g), shirt, "torso", -0.01))
    shapes.append(Shape("capsule", np.array([body["l_hip"], body["r_hip"]]),
                        (0.05 * g, 0.05 * g), pants, "torso", 0.001))
    shapes.append(Shape("capsule", np.array([neck + t([0, 0.02, 0]), neck + t([0, -P["neck"], 0])]),
                        (0.028, 0.026), colors["skin"], "neck", -0.02))
    for side in SIDES:
        s = lambda n: body[side + "_" + n]  # noqa: E731
        sleeve = shirt if colors["long_sleeves"] else colors["skin"]
        shapes.append(Shape("capsule", np.array([s("shoulder"), s("elbow")]),
                            (0.038 * g, 0.03 * g), shirt, side + "_upper_arm"))
        shapes.append(Shape("capsule", np.array([s("elbow"), s("wrist")]),
                            (0.029 * g, 0.022 * g), sleeve, side + "_forearm"))
        shapes.append(Shape("capsule", np.array([s("hip"), s("knee")]),
                            (0.055 * g, 0.04 * g), pants, side + "_thigh"))
        shapes.append(Shape("capsule", np.array([s("knee"), s("ankle")]),
                            (0.04 * g, 0.028 * g), pants, side + "_shin"))
        for (a, b), (r0, r1), color, seg in (
                (("shoulder", "elbow"), (0.038, 0.03), shirt, "_upper_arm"),
                (("elbow", "wrist"), (0.029, 0.022), sleeve, "_forearm"),
                (("hip", "knee"), (0.055, 0.04), pants, "_thigh"),
                (("knee", "ankle"), (0.04, 0.028), pants, "_shin")):
            shapes.append(_edge(s(a), s(b), r0 * g, r1 * g, color, side + seg, side))
        marker = colors["marker"]
        for joint, seg, r in (("shoulder", "_upper_arm", 0.03), ("elbow", "_forearm", 0.026),
                              ("wrist", "_forearm", 0.022), ("hip", "_thigh", 0.034),
                              ("knee", "_shin", 0.03), ("ankle", "_shin", 0.026)):
            shapes.append(Shape("disc", s(joint)[None], (r,), marker, side + seg, 0.03))
    return shapes


def _edge(p0, p1, r0, r1, color, segment, side):
    """A dark band down one edge of a limb: the clockwise edge (seen from the proximal end) on
    the subject's left, the other on the right. Unlike colours, this survives a horizontal
    flip consistently: the mirror image of a left limb looks like a right limb."""
    return Shape("edge", np.array([p0, p1]), (r0, r1), tuple(np.asarray(color) * 0.4), segment,
                 0.001, chirality=SIDES[side])


_FINGER_SHADE = (0.55, 0.75, 0.9, 1.05, 1.2)  # thumb darkest .. pinky lightest


def _hand_shapes(points, side, length, colors):
    glove = np.asarray(colors["glove"], dtype=float)
    seg = side + "_hand"
    palm = points[[0, 1, 5, 9, 13, 17]]
    shapes = [Shape("poly", palm, color=tuple(glove * 0.85), segment=seg)]
    for finger in range(5):
        chain = points[1 + 4 * finger:5 + 4 * finger]  # base, two joints, tip
        color = tuple(np.clip(glove * _FINGER_SHADE[finger], 0, 255))
        for j in range(3):
            shapes.append(Shape("capsule", chain[j:j + 2], (0.06 * length, 0.05 * length), color,
                                seg, 0.002))
        for j in range(1, 4):  # knuckles: dark dots at the joints and tips
            shapes.append(Shape("disc", chain[j][None], (0.035 * length,), colors["knuckle"], seg,
                                0.004))
    shapes.append(Shape("disc", points[0][None], (0.06 * length,), colors["knuckle"], seg, 0.003))
    return shapes


def _foot_shapes(foot, ankle, side, P, colors):
    big, small, heel = foot
    toe_mid = (big + small) / 2
    marker = colors["marker"]
    seg = side + "_foot"
    return [Shape("capsule", np.array([heel, toe_mid]), (0.03, 0.028), colors["shoes"], seg),
            Shape("capsule", np.array([ankle, heel]), (0.027, 0.027), colors["shoes"], seg),
            _edge(heel, toe_mid, 0.03, 0.028, colors["shoes"], seg, side),
            Shape("disc", big[None], (0.02,), marker, seg, 0.01),
            Shape("disc", small[None], (0.015,), tuple(np.asarray(marker) * 0.7), seg, 0.01),
            Shape("disc", heel[None], (0.018,), colors["knuckle"], seg, 0.005)]


def _head_shapes(centre, axes, face, forehead, body, hh, colors):
    skin, hair = colors["skin"], colors["hair"]
    up, side = axes["up"], axes["side"]
    dark = tuple(np.asarray(skin) * 0.45)

    def ellipse(c, ry, rx, color, seg, bias):
        return Shape("ellipse", np.array([c, c + up * ry, c + side * rx]), (), color, seg, bias)

    shapes = [ellipse(centre + up * 0.06 * hh, 0.52 * hh, 0.45 * hh, hair, "head", 0.0),
              ellipse(centre - up * 0.02 * hh, 0.47 * hh, 0.39 * hh, skin, "head", 0.01)]
    for s in SIDES:
        shapes.append(ellipse(body[s + "_ear"], 0.11 * hh, 0.06 * hh,
                              tuple(np.asarray(skin) * 0.8), "head", 0.0))
    outline = np.concatenate([face[0:17], forehead[::-1]])
    shapes.append(Shape("poly", outline, color=skin, segment="face", z_bias=0.02))
    w = lambda k: (k * hh,)  # noqa: E731  (stroke widths scale with the head)
    F = lambda a, b: face[a:b]  # noqa: E731
    strokes = [((0, 17), 0.03, dark), ((17, 22), 0.05, hair), ((22, 27), 0.05, hair),
               ((27, 31), 0.025, dark), ((31, 36), 0.035, dark)]
    for i, ((a, b), width, color) in enumerate(strokes):
        shapes.append(Shape("line", F(a, b), w(width), color, "face", 0.029 + 0.0001 * i,
                            tuple(range(a, b))))
    feats = [
             ("poly", F(36, 42), (), colors["eye_white"]),
             ("poly", F(42, 48), (), colors["eye_white"]),
             ("closed", F(36, 42), w(0.02), colors["iris"]),
             ("closed", F(42, 48), w(0.02), colors["iris"]),
             ("poly", F(48, 60), (), colors["lips"]), ("poly", F(60, 68), (), colors["mouth"]),
             ("closed", F(60, 68), w(0.015), colors["mouth"])]
    for i, (kind, pts, radius, color) in enumerate(feats):
        shapes.append(Shape(kind, pts, radius, color, "face", 0.03 + 0.0001 * i))
    for eye in (F(36, 42), F(42, 48)):
        shapes.append(Shape("disc", eye.mean(0)[None], (0.035 * hh,), colors["iris"], "face",
                            0.032))
    return shapes
