"""Off-resonance bands (balanced SSFP) are filled in the CSF, and nothing else is touched."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nvc_viewer.segment.banding import fill_bands

SP = np.array([0.5, 0.5, 0.5])


def _scene(seed: int = 0):
    """CSF (1.0) with a brainstem half-space (0.38), a nerve along i (0.25, radius 0.7 mm), and
    a dark band (a plane 0.6 mm thick, depth 0.7) crossing all of them, blurred and noisy."""
    shape = (60, 60, 40)
    ijk = np.indices(shape).astype(float)
    x, y, z = (ijk[a] * SP[a] for a in range(3))
    img = np.ones(shape)
    img[y < 6.0] = 0.38  # brainstem
    r2 = (y - 18.0) ** 2 + (z - 10.0) ** 2
    nerve = r2 < 0.7**2
    img[nerve] = 0.25
    d = (x + 0.3 * z) / np.hypot(1.0, 0.3) - 15.0  # distance to the band's plane
    band = np.abs(d) < 0.3
    img = img * (1.0 - 0.7 * band)
    img = ndimage.gaussian_filter(img, 0.5)
    rng = np.random.default_rng(seed)
    noisy = (img + rng.normal(0, 0.03, shape)).astype(np.float32)
    return noisy, nerve, r2 < 0.45**2, np.abs(d) < 0.6, y


def test_a_band_across_the_csf_is_filled_and_the_structures_are_not():
    img, nerve, core, near_band, y = _scene()
    filled, band = fill_bands(img, SP)
    csf = (y > 8.0) & ~ndimage.binary_dilation(nerve, iterations=4)
    # the band's voxels in open CSF come back to the CSF's level
    in_csf = near_band & csf
    assert float(np.median(img[in_csf])) < 0.6
    assert float(np.median(filled[in_csf])) > 0.85
    # the nerve stays dark (a partial-volume voxel of its rim at most), the brainstem is not
    # raised, nothing is darkened
    assert float(filled[core].max()) < 0.6
    assert int((band & nerve).sum()) <= 0.02 * nerve.sum()
    assert not band[y < 5.0].any()
    assert (filled >= img).all()


def test_an_image_without_bands_is_left_alone():
    img, nerve, _, _, y = _scene()
    plain = img.copy()
    plain[:] = np.where(y < 6.0, 0.38, 1.0)
    plain[nerve] = 0.25
    plain = ndimage.gaussian_filter(plain, 0.5).astype(np.float32)
    filled, band = fill_bands(plain, SP)
    assert not band.any()
    assert np.array_equal(filled, plain)


def test_small_dark_sheets_and_lines_in_the_csf_are_left_alone():
    # A membrane piece 6 mm across and a thin dark line 20 mm long: plate-like voxels, but not
    # a band crossing the cistern (a band spans centimetres in two directions).
    shape = (60, 60, 40)
    ijk = np.indices(shape).astype(float)
    x, y, z = (ijk[a] * SP[a] for a in range(3))
    img = np.where(y < 6.0, 0.38, 1.0)
    piece = (np.abs(x - 10.0) < 0.3) & (np.abs(y - 18.0) < 3.0) & (np.abs(z - 10.0) < 3.0)
    line = (np.abs(x - 20.0) < 0.3) & (np.abs(z - 10.0) < 0.4) & (y > 8.0) & (y < 28.0)
    img = img * (1.0 - 0.7 * (piece | line))
    img = ndimage.gaussian_filter(img, 0.5).astype(np.float32)
    filled, band = fill_bands(img, SP)
    assert not band.any()
    assert np.array_equal(filled, img)
