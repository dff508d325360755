"""3-D surfaces of the label map: on the structure, thin nerves kept, one mesh per structure."""

from __future__ import annotations

import numpy as np
import pytest
from nvc_viewer_napari._surfaces import label_surfaces


def test_surfaces_sit_on_the_structures_and_keep_a_thin_nerve() -> None:
    spacing = np.array([0.5, 0.5, 0.5])
    shape = (40, 40, 40)
    idx = np.indices(shape).astype(float)
    labels = np.zeros(shape, np.uint8)
    # brainstem: a ball of 6 mm radius; facial nerve: a tube of 0.55 mm radius (1.1 mm, the
    # thinnest structure, about two voxels across) along the last axis
    centre = np.array([20.0, 20.0, 20.0])
    r_ball = np.sqrt(sum(((idx[a] - centre[a]) * spacing[a]) ** 2 for a in range(3)))
    labels[r_ball <= 6.0] = 1
    r_tube = np.sqrt(((idx[0] - 8) * spacing[0]) ** 2 + ((idx[1] - 8) * spacing[1]) ** 2)
    labels[r_tube <= 0.55] = 3

    meshes = {m.value: m for m in label_surfaces(labels, spacing)}
    assert set(meshes) == {1, 3}
    assert meshes[1].name == "brainstem" and meshes[3].name == "facial nerve (VII)"
    ball = np.linalg.norm((meshes[1].vertices - centre) * spacing, axis=1)
    assert abs(np.median(ball) - 6.0) < 0.4  # within a voxel of the true surface
    tube = meshes[3].vertices
    radius = np.linalg.norm((tube[:, :2] - [8.0, 8.0]) * spacing[:2], axis=1)
    assert 0.2 < np.median(radius) < 0.9
    # the tube runs the full length of the field of view (not broken up by the smoothing)
    assert np.ptp(tube[:, 2]) * spacing[2] > 18.0
    assert meshes[3].faces.max() < len(tube)


def test_slabs_give_the_same_smoothing_and_surface_as_one_piece() -> None:
    from nvc_viewer_napari._surfaces import (
        SLAB,
        _marching_cubes_in_slabs,
        _smooth_in_slabs,
    )
    from scipy import ndimage
    from skimage.measure import marching_cubes, mesh_surface_area

    rng = np.random.default_rng(3)
    mask = ndimage.binary_dilation(rng.random((5 * SLAB + 3, 20, 18)) > 0.97, iterations=2)
    mask = np.pad(mask.astype(np.float32), 1)
    sigma = np.array([0.7, 0.9, 0.9])
    whole = ndimage.gaussian_filter(mask, sigma, mode="constant")
    np.testing.assert_allclose(_smooth_in_slabs(mask, sigma, 5), whole, atol=1e-6)

    vertices, faces = _marching_cubes_in_slabs(whole, 0.5, marching_cubes)
    v1, f1, _, _ = marching_cubes(whole, level=0.5)
    assert mesh_surface_area(vertices, faces) == pytest.approx(mesh_surface_area(v1, f1), rel=1e-6)
    assert faces.max() < len(vertices)
