"""Faster twins of three MMPose data-pipeline pieces, with outputs identical to MMPose's (bit for bit).

On 2 CPU cores the data loader's workers share the cores with the training step, so every millisecond a
sample costs in the pipeline is taken from the model. Three MMPose pieces cost most of a sample's time
on the CPU profile (top-down crops at 128x96, 133 heatmaps at 64x48), and each has a cheaper equivalent:

- :class:`FastCocoWholeBodyDataset`: ``CocoWholeBodyDataset`` without the deep copy of the dataset's
  keypoint metadata (flip pairs, skeleton links, ...: six lists of 17-133 small tuples) into every
  sample; the pipeline only reads them, so every sample shares the dataset's own (read-only) lists.
  The one a sample carries on (``flip_indices``, packed into its metainfo, which MMEngine deep-copies
  when it packs a sample and again when it moves a batch to the device) is a :class:`SharedList`, whose
  deep copy is itself.
- :class:`FastRandomBBoxTransform`: ``RandomBBoxTransform`` drawing its truncated normals as SciPy's
  ``truncnorm.rvs`` does (one uniform draw from NumPy's global generator, then the same inverse CDF)
  without SciPy's per-call machinery: the inverse CDF's constants are computed once, and its
  two-term log-sum-exp is written out in the same operations: the same numbers, from the same stream.
- :class:`FastMSRAHeatmap`: ``MSRAHeatmap`` whose unbiased (DARK) encoding evaluates the Gaussians of
  all labelled keypoints in one array expression instead of one keypoint at a time, the squared
  distances per row and per column broadcast into the grid; the element-wise arithmetic is the same, in
  the same dtypes, so every heatmap value is the same float.

``tests/test_fast_data.py`` checks each against MMPose's own on the embedded benchmark. Register them
with ``custom_imports = dict(imports=['fowkal.mmpose'])`` and use the names in a config.

:class:`SeededSampler` (with :class:`FastCocoWholeBodyDataset`) changes what is drawn, not how fast: every
training sample is augmented from its own ``(seed, epoch, position)``, so a resumed run, and every method
trained with one seed, sees the same samples (``tests/test_seeded_sampler.py``).
"""
from __future__ import annotations

import functools
import random

import numpy as np
import scipy.special as sc
from mmengine.dataset import DefaultSampler
from mmengine.registry import DATA_SAMPLERS
from mmpose.codecs import MSRAHeatmap
from mmpose.datasets import CocoWholeBodyDataset
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import DATASETS, KEYPOINT_CODECS, TRANSFORMS
from scipy.stats import truncnorm
from scipy.stats._continuous_distns import _log_gauss_mass, _norm_logcdf

#: The keys MMPose's ``BaseCocoStyleDataset.get_data_info`` copies from the metainfo into every sample.
SHARED_METAINFO_KEYS = ("upper_body_ids", "lower_body_ids", "flip_pairs", "dataset_keypoint_weights",
                        "flip_indices", "skeleton_links")


class SharedList(list):
    """A list that deep-copies to itself: read-only metadata shared by every sample (``flip_indices``).

    MMEngine's data elements deep-copy their metainfo on every ``set_metainfo`` and ``to``; for a list of
    133 ints that is ~0.2 ms of Python per sample, twice. Nothing in training or testing writes to it.
    """

    def __deepcopy__(self, memo):
        return self


@DATASETS.register_module()
class FastCocoWholeBodyDataset(CocoWholeBodyDataset):
    """``CocoWholeBodyDataset`` whose samples share the dataset's keypoint metadata instead of deep copies.

    MMPose deep-copies six metadata lists into every sample (~10 ms of Python per sample on a slow core,
    more than decoding its image); no transform of the pipeline writes to them. Arguments as
    ``CocoWholeBodyDataset``.
    """

    #: Reads the random state a :class:`SampleIndex` carries (what :class:`SeededSampler` checks for).
    seeds_samples = True

    def __getitem__(self, idx: int) -> dict:
        if isinstance(idx, SampleIndex):
            seed_sample(idx.key)
        return super().__getitem__(idx)

    def get_data_info(self, idx: int) -> dict:
        # mmengine's BaseDataset sample (skipping BaseCocoStyleDataset's copies), then the metadata by reference
        data_info = super(BaseCocoStyleDataset, self).get_data_info(idx)
        for key in SHARED_METAINFO_KEYS:
            if key in data_info:
                raise KeyError(f'"{key}" is a reserved key for `metainfo`, but already exists in the `data_info`')
            data_info[key] = self._metainfo[key]
        return data_info

    @classmethod
    def _load_metainfo(cls, *args, **kwargs) -> dict:  # the dataset's metadata, read once at construction
        metainfo = super()._load_metainfo(*args, **kwargs)
        if isinstance(metainfo.get("flip_indices"), list):
            metainfo["flip_indices"] = SharedList(metainfo["flip_indices"])
        return metainfo


class SampleIndex(int):
    """A dataset index that carries the random state its sample is augmented with: ``key`` is
    ``(seed, epoch, position)``, the position being the index's place in the epoch's order (all ranks)."""

    def __new__(cls, index: int, key: tuple):
        obj = super().__new__(cls, index)
        obj.key = tuple(int(k) for k in key)
        return obj

    def __reduce__(self):  # to the loader's workers with its key
        return SampleIndex, (int(self), self.key)


def seed_sample(key: tuple) -> None:
    """Seed the generators MMPose's transforms draw from (NumPy's and Python's global ones) from ``key``."""
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(4)
    np.random.seed(state)
    random.seed(int(state[0]) << 32 | int(state[1]))


@DATA_SAMPLERS.register_module()
class SeededSampler(DefaultSampler):
    """MMEngine's ``DefaultSampler`` whose indices carry their sample's random state (:class:`SampleIndex`).

    With ``DefaultSampler`` the augmentations come from each loader worker's generators, seeded once when the
    worker starts: a run resumed at epoch N restarts that stream and draws other augmentations from epoch N
    on than the same run uninterrupted (and than another method trained with the same seed but stopped
    elsewhere). Here every sample is augmented from ``(seed, epoch, position)``: the same samples whether or
    where a run was interrupted, and whatever the number of processes or workers. The dataset must seed
    from the index (``seeds_samples``: :class:`FastCocoWholeBodyDataset`); others are refused. Arguments as
    ``DefaultSampler``.
    """

    def __init__(self, dataset, *args, **kwargs):
        if not getattr(dataset, "seeds_samples", False):
            raise TypeError(f"SeededSampler needs a dataset that seeds each sample from its index "
                            f"(FastCocoWholeBodyDataset); got {type(dataset).__name__}")
        super().__init__(dataset, *args, **kwargs)

    def __iter__(self):
        # DefaultSampler yields every world_size-th index of the epoch's order, from this rank's place
        for j, index in enumerate(super().__iter__()):
            yield SampleIndex(index, (self.seed, self.epoch, self.rank + j * self.world_size))


@TRANSFORMS.register_module()
class FastRandomBBoxTransform(RandomBBoxTransform):
    """``RandomBBoxTransform`` with SciPy's truncated-normal draw minus SciPy's per-call overhead.

    ``truncnorm.rvs(-1, 1, size)`` is ``truncnorm._ppf(U, -1, 1)`` for ``U`` uniform from NumPy's global
    generator (``rv_continuous._rvs``), then ``* 1 + 0`` (scale, loc); done directly here, three times a
    sample, it draws the same numbers from the same stream. Arguments as ``RandomBBoxTransform``.
    """

    @staticmethod
    def _truncnorm(low: float = -1., high: float = 1., size: tuple = ()) -> np.ndarray:
        uniform = np.random.uniform(size=size)
        low, high = np.float64(low), np.float64(high)
        if low < 0:  # SciPy's left-tail branch, the one MMPose's (-1, 1) takes
            values = _truncnorm_ppf_left(np.asarray(uniform, dtype=np.float64), *_left_constants(low, high))
        else:
            values = truncnorm._ppf(uniform, low, high)
        return np.asarray(values * 1.0 + 0.0).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _left_constants(low: np.float64, high: np.float64) -> tuple:
    """``(log Φ(low), log(Φ(high) − Φ(low)))``: the parts of SciPy's truncated-normal inverse CDF that do not
    depend on the draw, computed by SciPy's own functions."""
    return _norm_logcdf(np.asarray(low)), _log_gauss_mass(np.asarray(low), np.asarray(high))


def _truncnorm_ppf_left(q: np.ndarray, log_cdf_low, log_mass) -> np.ndarray:
    """SciPy's ``truncnorm._ppf`` for ``low < 0``: ``ndtri_exp(logsumexp([log Φ(low), log q + log mass]))``,
    with SciPy's log-sum-exp of two terms written out (the larger term pulled out, ``log1p`` of the other's
    exponential, ``log`` of the count of maxima added), so every value is SciPy's float
    (``tests/test_fast_data.py`` compares them on millions of draws)."""
    term = np.log(q) + log_mass
    top, other = np.maximum(term, log_cdf_low), np.minimum(term, log_cdf_low)
    tie = term == log_cdf_low  # both are maxima: SciPy's sum of the rest is 0, and log(2) is added
    summed = np.log1p(np.where(tie, 0.0, np.exp(other - top))) + np.where(tie, np.log(2.0), 0.0) + top
    return sc.ndtri_exp(summed)


@KEYPOINT_CODECS.register_module()
class FastMSRAHeatmap(MSRAHeatmap):
    """``MSRAHeatmap`` whose unbiased (DARK) encoding is one array expression over the keypoints.

    Same arguments, decoding and outputs as ``MSRAHeatmap``; with ``unbiased=False`` it is
    ``MSRAHeatmap`` itself. The unbiased Gaussians are not truncated (every pixel of a labelled
    keypoint's heatmap is evaluated), so the vectorised form computes exactly the same values.
    """

    def encode(self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None) -> dict:
        if not self.unbiased:
            return super().encode(keypoints, keypoints_visible)
        if keypoints.shape[0] != 1:
            raise ValueError(f"{type(self).__name__} encodes one instance at a time, got {keypoints.shape[0]}")
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], dtype=np.float32)
        heatmaps, keypoint_weights = unbiased_gaussian_heatmaps(
            self.heatmap_size, keypoints / self.scale_factor, keypoints_visible, self.sigma)
        return dict(heatmaps=heatmaps, keypoint_weights=keypoint_weights)


def unbiased_gaussian_heatmaps(heatmap_size, keypoints: np.ndarray, keypoints_visible: np.ndarray,
                               sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """DARK's untruncated Gaussian heatmaps of one instance, all keypoints at once.

    Args:
        heatmap_size: ``(W, H)``.
        keypoints: ``[1, K, 2]`` in heatmap pixels; keypoints_visible: ``[1, K]``.
        sigma: the Gaussian's standard deviation in heatmap pixels.

    Returns:
        ``(heatmaps [K, H, W] float32, keypoint_weights [1, K])``: MMPose's
        ``generate_unbiased_gaussian_heatmaps`` outputs, value for value. A keypoint below visibility 0.5
        gets an empty heatmap; one whose 3σ box lies outside the heatmap, also weight 0.
    """
    width, height = heatmap_size
    num_keypoints = keypoints.shape[1]
    heatmaps = np.zeros((num_keypoints, height, width), dtype=np.float32)
    keypoint_weights = keypoints_visible.copy()
    radius = sigma * 3
    mu = keypoints[0]
    labelled = keypoints_visible[0] >= 0.5
    low, high = mu - radius, mu + radius + 1
    outside = (low[:, 0] >= width) | (low[:, 1] >= height) | (high[:, 0] < 0) | (high[:, 1] < 0)
    keypoint_weights[0, labelled & outside] = 0
    drawn = np.flatnonzero(labelled & ~outside)
    if drawn.size:
        x = np.arange(0, width, 1, dtype=np.float32)
        y = np.arange(0, height, 1, dtype=np.float32)[:, None]
        # mu[k, 0] is a scalar of mu's dtype in MMPose's loop: the same dtype promotion here
        mx, my = mu[drawn, 0][:, None, None], mu[drawn, 1][:, None, None]
        # MMPose's -((x − μx)² + (y − μy)²) / (2σ²), its squares taken per column and per row and summed
        # into the grid, then negated, divided and exponentiated in place: the same operations per value
        exponent = (x - mx) ** 2 + (y - my) ** 2
        np.negative(exponent, out=exponent)
        np.divide(exponent, 2 * sigma ** 2, out=exponent)
        # (heatmaps start at 0 and exp >= 0, so MMPose's np.maximum(gaussian, 0) is the Gaussian itself)
        heatmaps[drawn] = np.exp(exponent, out=exponent)
    return heatmaps, keypoint_weights


__all__ = ["FastCocoWholeBodyDataset", "FastRandomBBoxTransform", "FastMSRAHeatmap", "unbiased_gaussian_heatmaps",
           "SHARED_METAINFO_KEYS", "SharedList", "SampleIndex", "SeededSampler", "seed_sample"]
