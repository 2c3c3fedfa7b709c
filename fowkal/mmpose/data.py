"""Faster twins of three MMPose data-pipeline pieces, with outputs identical to MMPose's (bit for bit).

On 2 CPU cores the data loader's workers share the cores with the training step, so every millisecond a
sample costs in the pipeline is taken from the model. Three MMPose pieces cost most of a sample's time
on the CPU profile (top-down crops at 128x96, 133 heatmaps at 64x48), and each has a cheaper equivalent:

- :class:`FastCocoWholeBodyDataset`: ``CocoWholeBodyDataset`` without the deep copy of the dataset's
  keypoint metadata (flip pairs, skeleton links, ...: six lists of 17-133 small tuples) into every
  sample; the pipeline only reads them, so every sample shares the dataset's own (read-only) lists.
- :class:`FastRandomBBoxTransform`: ``RandomBBoxTransform`` drawing its truncated normals as SciPy's
  ``truncnorm.rvs`` does (one uniform draw from NumPy's global generator, then the same inverse CDF)
  without SciPy's per-call argument machinery: the same numbers, from the same random stream.
- :class:`FastMSRAHeatmap`: ``MSRAHeatmap`` whose unbiased (DARK) encoding evaluates the Gaussians of
  all labelled keypoints in one array expression instead of one keypoint at a time; the element-wise
  arithmetic is the same, in the same dtypes, so every heatmap value is the same float.

``tests/test_fast_data.py`` checks each against MMPose's own on the embedded benchmark. Register them
with ``custom_imports = dict(imports=['fowkal.mmpose'])`` and use the names in a config.
"""
from __future__ import annotations

import numpy as np
from mmpose.codecs import MSRAHeatmap
from mmpose.datasets import CocoWholeBodyDataset
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import DATASETS, KEYPOINT_CODECS, TRANSFORMS
from scipy.stats import truncnorm

#: The keys MMPose's ``BaseCocoStyleDataset.get_data_info`` copies from the metainfo into every sample.
SHARED_METAINFO_KEYS = ("upper_body_ids", "lower_body_ids", "flip_pairs", "dataset_keypoint_weights",
                        "flip_indices", "skeleton_links")


@DATASETS.register_module()
class FastCocoWholeBodyDataset(CocoWholeBodyDataset):
    """``CocoWholeBodyDataset`` whose samples share the dataset's keypoint metadata instead of deep copies.

    MMPose deep-copies six metadata lists into every sample (~10 ms of Python per sample on a slow core,
    more than decoding its image); no transform of the pipeline writes to them. Arguments as
    ``CocoWholeBodyDataset``.
    """

    def get_data_info(self, idx: int) -> dict:
        # mmengine's BaseDataset sample (skipping BaseCocoStyleDataset's copies), then the metadata by reference
        data_info = super(BaseCocoStyleDataset, self).get_data_info(idx)
        for key in SHARED_METAINFO_KEYS:
            if key in data_info:
                raise KeyError(f'"{key}" is a reserved key for `metainfo`, but already exists in the `data_info`')
            data_info[key] = self._metainfo[key]
        return data_info


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
        values = truncnorm._ppf(uniform, np.float64(low), np.float64(high)) * 1.0 + 0.0
        return np.asarray(values).astype(np.float32)


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
        # (heatmaps start at 0 and exp >= 0, so MMPose's np.maximum(gaussian, 0) is the Gaussian itself)
        heatmaps[drawn] = np.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * sigma ** 2))
    return heatmaps, keypoint_weights


__all__ = ["FastCocoWholeBodyDataset", "FastRandomBBoxTransform", "FastMSRAHeatmap", "unbiased_gaussian_heatmaps",
           "SHARED_METAINFO_KEYS"]
