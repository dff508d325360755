"""Multiscale ridge (vesselness) filter on synthetic tubes of known radius."""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.segment.tubes import ridge_filter, scale_space

SPACING = np.array([0.5, 0.5, 0.5])
SIGMAS = (0.35, 0.5, 0.7, 1.0, 1.4)


def tube_image(
    radius_mm: float,
    *,
    n: int = 28,
    level: float = 0.25,
    bright: bool = False,
    direction=(0.3, 1.0, 0.2),
    supersample: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """A straight tube through the centre of a cube with partial volume; returns (image, axis
    voxel positions)."""
    d = np.asarray(direction, float)
    d /= np.linalg.norm(d)
    g = (np.arange(n * supersample) + 0.5) / supersample * SPACING[0] - n * SPACING[0] / 2
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    p = np.stack([x, y, z], -1)
    dist = np.linalg.norm(p - (p @ d)[..., None] * d, axis=-1)
    frac = (dist < radius_mm).astype(np.float32)
    frac = frac.reshape(n, supersample, n, supersample, n, supersample).mean(axis=(1, 3, 5))
    img = 1.0 - frac * (1.0 - level)
    if bright:
        img = 1.0 - img
    t = np.linspace(-3.0, 3.0, 13)
    axis_vox = (t[:, None] * d + n * SPACING[0] / 2) / SPACING[0] - 0.5
    return img.astype(np.float32), axis_vox


def _at(arr: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return arr[tuple(np.rint(pts).astype(int).T)]


@pytest.mark.parametrize("radius", [0.6, 1.1, 1.8])
def test_dark_tube_responds_on_axis_and_not_in_the_background(radius):
    img, axis = tube_image(radius)
    res = ridge_filter(img, SPACING, SIGMAS, polarity="dark")
    on_axis = np.median(_at(res.response, axis))
    assert on_axis > 0.5
    # CSF far from the tube: nothing
    assert res.response[:3, :3, :3].max() < 0.05
    # the other polarity sees no tube here
    other = ridge_filter(img, SPACING, SIGMAS, polarity="bright")
    assert np.median(_at(other.response, axis)) < 0.05


def test_scale_grows_with_radius_and_estimates_it():
    estimates = []
    for radius in (0.5, 0.8, 1.2, 1.8):
        img, axis = tube_image(radius)
        res = ridge_filter(img, SPACING, SIGMAS)
        r_est = 1.4 * float(np.median(_at(res.sigma_mm, axis)))
        estimates.append(r_est)
        assert r_est == pytest.approx(radius, rel=0.35)
    assert estimates == sorted(estimates)


def test_bright_tube_on_tof():
    img, axis = tube_image(0.9, bright=True)
    res = ridge_filter(img, SPACING, SIGMAS, polarity="bright")
    assert np.median(_at(res.response, axis)) > 0.5


def test_mask_gives_the_same_values_where_it_is_set():
    img, axis = tube_image(0.8)
    mask = np.zeros(img.shape, bool)
    mask[8:20, 8:20, 8:20] = True
    full = ridge_filter(img, SPACING, SIGMAS)
    part = ridge_filter(img, SPACING, SIGMAS, mask=mask)
    np.testing.assert_allclose(part.response[mask], full.response[mask], atol=1e-5)
    np.testing.assert_allclose(part.strength[mask], full.strength[mask], atol=1e-5)
    assert not part.response[~mask].any()
    ss = scale_space(img, SPACING, SIGMAS, mask)
    np.testing.assert_allclose(ss.response[mask], full.response[mask], atol=1e-5)
    np.testing.assert_allclose(
        ss.strength.max(axis=0)[mask], np.maximum(full.strength, 0)[mask], atol=1e-5
    )


def test_bad_arguments():
    img = np.zeros((8, 8, 8), np.float32)
    with pytest.raises(ValueError, match="3-D"):
        ridge_filter(np.zeros((8, 8)), SPACING, SIGMAS)
    with pytest.raises(ValueError, match="sigmas_mm"):
        ridge_filter(img, SPACING, (0.0, 1.0))
    with pytest.raises(ValueError, match="polarity"):
        ridge_filter(img, SPACING, SIGMAS, polarity="grey")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask shape"):
        ridge_filter(img, SPACING, SIGMAS, mask=np.ones((4, 4, 4), bool))
