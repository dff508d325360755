"""The origin of an artery on a large one: the search confined to the arteries connected to the
contact finds what the geodesic over the whole box finds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.graph import MCP_Geometric

from nvc_viewer.segment.crop import Box
from nvc_viewer.segment.masks import dilate_mm
from nvc_viewer.segment.vessels import VesselMasks, _origin_on_large


def _origin_over_box(vm, piece, spacing, reach_mm):
    """The geodesic from ``piece`` to the large arteries over the whole box around it."""
    if not vm.large.any():
        return None
    art = vm.artery | vm.large
    box = Box.of_mask(
        piece, margin_vox=np.ceil(reach_mm / spacing).astype(int), grid_shape=art.shape
    )
    if box is None:
        return None
    sub = Box.of_mask(art[box.slices], margin_vox=1, offset=box.lo, grid_shape=art.shape)
    if sub is None:
        return None
    box = box.intersect(sub)
    a = art[box.slices]
    large = vm.large[box.slices] & ~dilate_mm(piece[box.slices], 1.0, spacing)
    if not large.any():
        return None
    starts = np.argwhere(piece[box.slices] & a)
    if len(starts) == 0:
        return None
    mcp = MCP_Geometric(np.where(a, 1.0, np.inf), sampling=tuple(float(s) for s in spacing))
    ends = np.argwhere(large)
    cum, _ = mcp.find_costs(
        [tuple(p) for p in starts[:: max(1, len(starts) // 50)]],
        [tuple(p) for p in ends],
        find_all_ends=False,
    )
    ec = cum[tuple(ends.T)]
    if not np.isfinite(ec).any():
        return None
    return ends[int(np.argmin(ec))] + np.asarray(box.lo)


@pytest.mark.parametrize("seed", range(6))
def test_origin_on_large_same_as_over_the_whole_box(seed):
    rng = np.random.default_rng(seed)
    found = 0
    for trial in range(12):
        shape = tuple(int(n) for n in rng.integers(16, 40, 3))
        spacing = rng.choice([0.4, 0.5, 0.6, 0.8], 3) if trial % 3 else np.full(3, 0.5)
        field = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1.0, 2.5))
        art = field > np.quantile(field, rng.uniform(0.6, 0.9))
        large = art & (field > np.quantile(field, rng.uniform(0.9, 0.97)))
        vein = field < np.quantile(field, 0.1)
        artery = art & ~large if trial % 2 else art
        radius = np.zeros(shape, np.float32)
        vm = VesselMasks(artery, vein, large, np.zeros(shape, bool), radius, True)
        centre = rng.integers(0, shape)
        grid = np.indices(shape).transpose(1, 2, 3, 0)
        ball = np.linalg.norm((grid - centre) * spacing, axis=-1) <= rng.uniform(1.0, 4.0)
        piece = ball & (artery | vein)
        reach = float(rng.choice([30.0, 5.0, 8.0]))
        want = _origin_over_box(vm, piece, spacing, reach)
        for _ in range(2):  # the pieces found on the first call are kept on the masks
            got = _origin_on_large(vm, piece, spacing, reach)
            assert (got is None) == (want is None)
            if want is not None:
                np.testing.assert_array_equal(got, want)
        found += want is not None
    assert found  # some draws reach a large artery
