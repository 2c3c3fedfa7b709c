"""What a run's config is built from, defined once: the profiles, their data layouts, and the checks of
:func:`fowkal.configs.build_config`'s arguments.

:class:`fowkal.runs.options.TrainOptions` holds the same arguments as options of the same names and
validates them here, so the command line, the notebooks and ``build_config`` refuse the same input
with the same message, which names the option and its value.
"""
from __future__ import annotations

import numbers
from pathlib import Path

from ..losses import METHODS

#: The profiles: 'cpu' (a small HRNet on the embedded benchmark, minutes on a CPU) and 'paper'
#: (HRNet-w32 + DARK at 256x192 on COCO-WholeBody, the paper's setting).
PROFILES = ("cpu", "paper")

#: The cpu profile's named schedules: (epochs, validate every this many epochs); None: the profile's own.
#: 'quick' is its file's 3 epochs, what the main job and the 3-epoch ablation run. 'converged' is what the
#: ablation at convergence trains: the book's convergence page draws the curves it was chosen from (40-epoch
#: runs, then one run 1.5x as long, whose body, foot and face AP still rose by 1.2-2.5 points); the
#: learning-rate steps stay at the paper's 81 % and 95 % (after epochs 49 and 57).
SCHEDULES = {"quick": (None, None), "converged": (60, 4)}

#: Per profile: annotation/detection files and image folders, relative to the data root.
DEFAULT_FILES = {
    "cpu": dict(  # the embedded benchmark's layout (fowkal.data)
        ann_train="annotations/wholebody_train.json",
        ann_val="annotations/wholebody_val.json",
        det_file="annotations/person_detections_val.json",
        img_train="images/train/",
        img_val="images/val/",
    ),
    "paper": dict(  # the official COCO-WholeBody v1.0 layout, as in MMPose's configs
        ann_train="annotations/coco_wholebody_train_v1.0.json",
        ann_val="annotations/coco_wholebody_val_v1.0.json",
        det_file="person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
        img_train="train2017/",
        img_val="val2017/",
    ),
}

#: Integer arguments and their smallest value; ``None`` (the profile's default) is allowed where marked.
MINIMUMS = {"epochs": (1, True), "batch_size": (1, True), "seed": (0, False), "gpus": (1, False),
            "val_interval": (1, True)}


def check_choice(name: str, value, valid) -> None:
    """Raise ValueError unless ``value`` is one of ``valid`` (the message lists them)."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"option {name!r} is {value!r}; valid: {', '.join(valid)}")


def check_integer(name: str, value) -> int | None:
    """``value`` as an int, or None where ``MINIMUMS`` allows it; ValueError naming the option otherwise."""
    minimum, optional = MINIMUMS[name]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        default = " (or None: the default)" if optional else ""
        raise ValueError(f"option {name!r} must be an integer >= {minimum}{default}, got {value!r}")
    return int(value)


def resolve_schedule(profile: str, schedule: str, epochs=None, val_interval=None) -> tuple:
    """(epochs, val_interval) of ``schedule`` (:data:`SCHEDULES`): the named schedule's values where
    ``epochs``/``val_interval`` are None; a given value that differs from the schedule's is refused."""
    check_choice("schedule", schedule, SCHEDULES)
    if schedule == "quick":
        return epochs, val_interval
    if profile != "cpu":
        raise ValueError(f"option 'schedule' is {schedule!r}, a schedule of the cpu profile; the {profile!r} "
                         "profile trains its own (set option 'epochs' to change its length)")
    named = dict(zip(("epochs", "val_interval"), SCHEDULES[schedule]))
    for name, given in (("epochs", epochs), ("val_interval", val_interval)):
        if given is not None and given != named[name]:
            raise ValueError(f"option {name!r} is {given!r} but schedule {schedule!r} sets {named[name]}: "
                             "give one or the other")
    return named["epochs"], named["val_interval"]


def default_work_dir(profile: str, method: str, seed: int, schedule: str = "quick") -> Path:
    """``work_dirs/<profile>/<method>-seed<seed>``; a named schedule other than 'quick' gets
    ``work_dirs/<profile>-<schedule>/...``, so its runs never resume a quick run's checkpoints."""
    folder = profile if schedule == "quick" else f"{profile}-{schedule}"
    return Path("work_dirs") / folder / f"{method}-seed{seed}"


def check_arguments(method: str, profile: str, *, data_root=None, det_file=None, gt_boxes: bool = False,
                    epochs=None, batch_size=None, seed=0, gpus=1, pretrained=None,
                    from_scratch: bool = False, val_interval=None) -> None:
    """Check the arguments of one run's config before anything is built or written.

    Raises:
        ValueError/TypeError naming the option and its value; FileNotFoundError for a data root or a
        weights file that is not there (files inside the data root are checked by ``build_config``).
    """
    check_choice("method", method, METHODS)
    check_choice("profile", profile, PROFILES)
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed), ("gpus", gpus),
                        ("val_interval", val_interval)):
        check_integer(name, value)
    for name, value in (("gt_boxes", gt_boxes), ("from_scratch", from_scratch)):
        if not isinstance(value, bool):
            raise TypeError(f"option {name!r} must be True or False, got {value!r}")
    if gt_boxes and det_file is not None:
        raise ValueError(f"give either option 'gt_boxes' or option 'det_file' ({det_file!r}), not both")
    if data_root is not None:
        root = Path(data_root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"option 'data_root': folder {str(root)!r} does not exist")
    elif profile == "paper":
        raise ValueError("option 'data_root' is required for profile 'paper': the COCO-WholeBody folder holding "
                         "annotations/coco_wholebody_{train,val}_v1.0.json, train2017/, val2017/ and "
                         "person_detection_results/ (the embedded benchmark is the cpu profile's)")
    if pretrained is not None and from_scratch:
        raise ValueError("give either option 'pretrained' or option 'from_scratch', not both")
    if pretrained is not None and not Path(pretrained).expanduser().is_file():
        raise FileNotFoundError(f"option 'pretrained': weights file {str(pretrained)!r} does not exist")
    if profile == "paper" and pretrained is None and not from_scratch:
        raise ValueError("the paper profile starts from ImageNet-pretrained HRNet-w32 weights, as the paper "
                         "does: give option 'pretrained' (--pretrained PATH), or option 'from_scratch' "
                         "(--from-scratch) to train from random weights on purpose")
