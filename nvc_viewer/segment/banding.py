"""Off-resonance bands of balanced-SSFP (CISS / FIESTA) images, filled in the cisterns.

Design note
-----------
Balanced steady-state sequences darken thin sheets wherever the off-resonance phase crosses
odd multiples of pi: dark bands, a fraction of a mm to about a mm thick, that run straight
through CSF, nerves and vessels alike. In the cisterns such a band between a nerve and a vessel
looks like tissue bridging them ("no CSF between": a contact), and pieces of bands look like
small vessels.

A band is told from the structures by shape and surroundings, not by intensity alone: at the
scale of its thickness (Gaussian sigma 0.5 mm) the Hessian is plate-like -- one large positive
eigenvalue across the sheet, the other two small -- where a nerve or a vessel is tube-like (two
large) and an edge of the brainstem has tissue on one side; and 0.8 mm to either side across the
sheet lies CSF. A band follows a surface of the static field and crosses the cisterns over
centimetres, so only a connected sheet of such voxels that spans ``min_span_mm`` in two
directions and holds ``min_mm3`` counts: plate-like voxels in small pieces or along one line are
noise, the seam between two touching tubes, or the edge of a nerve. Those sheets are filled with
the CSF on their two sides, together with their partial-volume rim (plate-like, darker than both
sides, both sides at least 0.6); nothing is ever darkened. Where a band crosses a nerve or a
vessel, or lies in the narrow gap between two (its sides are no CSF), it is left as it is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .hessian import eigvalsh3, eigvec3, hessian_at, smooth_mm

__all__ = ["BAND_WARNING_MM3", "fill_bands"]

#: Filled off-resonance bands (mm^3) from which the case says so in a warning, and contacts
#: with a structure traced to no artery are no longer proposed (`nvc_viewer.compression`).
BAND_WARNING_MM3 = 20.0

#: Normalised T2 (CSF = 1) on both sides of a band: CSF.
_CSF = 0.8


def fill_bands(
    norm: np.ndarray,
    spacing_mm: np.ndarray,
    *,
    sigma_mm: float = 0.5,
    side_mm: float = 0.8,
    min_mm3: float = 30.0,
    min_span_mm: float = 8.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the off-resonance bands that cross the CSF (see the module note).

    Parameters
    ----------
    norm : (I, J, K) float ndarray
        Normalised T2 (CSF = 1, tissue about 0.38).
    spacing_mm : (3,) array_like
        Voxel size in mm.
    sigma_mm : float
        Scale of the Hessian (about half a band's thickness).
    side_mm : float
        How far to either side of a band its CSF is read.
    min_mm3 : float
        Smallest band core (mm^3) that is filled.
    min_span_mm : float
        Smallest extent of a band core in its second-longest direction (four standard
        deviations of its voxels' positions): a sheet, not a line.

    Returns
    -------
    filled : (I, J, K) float32 ndarray
        ``norm`` with the band voxels raised to the mean of the CSF on their two sides.
    band : (I, J, K) bool ndarray
        The voxels raised.
    """
    norm = np.asarray(norm, dtype=np.float32)
    sp = np.asarray(spacing_mm, dtype=np.float64)
    cand = (norm < _CSF) & ndimage.binary_dilation(norm > 0.9, iterations=2)
    cand[[0, -1], :, :] = False  # the Hessian's differences need both neighbours
    cand[:, [0, -1], :] = False
    cand[:, :, [0, -1]] = False
    flat = np.flatnonzero(cand)
    band = np.zeros(norm.shape, bool)
    if flat.size == 0:
        return norm.copy(), band
    h = hessian_at(smooth_mm(norm, sp, sigma_mm), flat, sp, sigma_mm * sigma_mm)
    w = eigvalsh3(*h)  # ascending
    across = w[2]
    plate = (across > 0.08) & (np.abs(w[1]) < 0.3 * across) & (np.abs(w[0]) < 0.3 * across)
    normal = eigvec3(*h, across)
    ijk = np.column_stack(np.unravel_index(flat, norm.shape)).astype(np.float64)
    step = side_mm * normal / sp
    side_a = ndimage.map_coordinates(norm, (ijk + step).T, order=1, mode="nearest")
    side_b = ndimage.map_coordinates(norm, (ijk - step).T, order=1, mode="nearest")
    own = norm.ravel()[flat]
    below = np.minimum(side_a, side_b) - own
    core = plate & (side_a > _CSF) & (side_b > _CSF) & (below > 0.15)
    rim = plate & (side_a > 0.6) & (side_b > 0.6) & (below > 0.05)
    cores = np.zeros(norm.shape, bool)
    cores.ravel()[flat[core]] = True
    lab, n = ndimage.label(cores, structure=np.ones((3, 3, 3)))
    if n == 0:
        return norm.copy(), band
    keep = np.zeros(n + 1, bool)
    for i, box in enumerate(ndimage.find_objects(lab), start=1):
        if box is None:
            continue
        pts = np.argwhere(lab[box] == i) * sp
        if len(pts) * float(np.prod(sp)) < min_mm3:
            continue
        spread = np.linalg.eigvalsh(np.cov(pts.T))  # ascending variances
        keep[i] = 4.0 * np.sqrt(max(spread[1], 0.0)) >= min_span_mm
    cores = keep[lab]
    rims = np.zeros(norm.shape, bool)
    rims.ravel()[flat[rim]] = True
    band = cores | (ndimage.binary_dilation(cores, structure=np.ones((3, 3, 3))) & rims)
    fill = np.zeros(norm.shape, np.float32)
    fill.ravel()[flat] = 0.5 * (side_a + side_b)
    filled = norm.copy()
    filled[band] = np.maximum(norm[band], fill[band])
    return filled, band
