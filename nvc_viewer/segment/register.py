"""Rigid alignment of the TOF angiogram to the heavy-T2, on the vessels.

Design note
-----------
The two series are acquired minutes apart and the head moves: a 1-2 degree, 0.5-1 mm motion is
usual, as large as the vessels one wants to tell apart. The scanner affines alone therefore do
not put the TOF's bright arteries on the T2's dark tubes. After resampling the TOF into the T2
crop through both affines, a rigid correction is estimated by Gauss-Newton on the normalised
cross-correlation between TOF brightness and T2 darkness at the tube voxels (and a shell of CSF
around them): arteries are dark on one and bright on the other, CSF the reverse, and nerves,
dark on both, only add a constant that the correlation ignores. Gradients are analytic (image
gradient times the Jacobian of a small rotation about the crop's centre), so a dozen iterations
over a few ten thousand voxels take a fraction of a second.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["rigid_matrix", "register_to_darkness"]


def rigid_matrix(theta: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """4x4 rigid map from 6 parameters: rotation vector (rad) about ``centre`` then a shift (mm).

    Parameters
    ----------
    theta : (6,) array_like
        ``(wx, wy, wz, tx, ty, tz)``.
    centre : (3,) array_like
        Centre of rotation (mm, same frame as the points it is applied to).
    """
    w = np.asarray(theta[:3], dtype=np.float64)
    t = np.asarray(theta[3:], dtype=np.float64)
    angle = float(np.linalg.norm(w))
    if angle < 1e-12:
        rot = np.eye(3)
    else:
        k = w / angle
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * (kx @ kx)
    out = np.eye(4)
    out[:3, :3] = rot
    c = np.asarray(centre, dtype=np.float64)
    out[:3, 3] = c - rot @ c + t
    return out


def register_to_darkness(
    moving: np.ndarray,
    darkness: np.ndarray,
    points_ijk: np.ndarray,
    spacing_mm: np.ndarray,
    *,
    sigma_mm: float = 0.5,
    iterations: int = 20,
    max_shift_mm: float = 3.0,
    max_angle_deg: float = 5.0,
    max_points: int = 30000,
) -> tuple[np.ndarray, float]:
    """Rigid motion that best aligns a bright-vessel image with a dark-vessel one.

    Both images are on the same grid (the moving one resampled there through the scanner
    affines). Positions are in the grid's own mm frame, ``ijk * spacing_mm``.

    Parameters
    ----------
    moving : (I, J, K) ndarray
        TOF resampled into the grid (bright arteries).
    darkness : (I, J, K) ndarray
        What the TOF should look like: T2 darkness (``1 - normalised T2``) in the cisterns.
    points_ijk : (N, 3) int ndarray
        Voxels where the match is measured (tube voxels and a shell around them).
    spacing_mm : (3,) ndarray
        Voxel size.
    sigma_mm : float
        Smoothing of the moving image (widens the capture range).
    iterations : int
        Gauss-Newton steps at most.
    max_shift_mm, max_angle_deg : float
        Bounds on the correction; a larger estimate is refused (identity returned).
    max_points : int
        At most this many points are used (a regular subsample).

    Returns
    -------
    matrix : (4, 4) ndarray
        Maps a grid-mm position in ``darkness`` to the grid-mm position in ``moving`` that shows
        the same anatomy.
    ncc : float
        Normalised cross-correlation reached (-1..1).
    """
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    pts_ijk = np.asarray(points_ijk, dtype=np.int64)
    if len(pts_ijk) > max_points:
        # a regular subsample keeps the cost bounded and the spatial spread
        pts_ijk = pts_ijk[:: int(np.ceil(len(pts_ijk) / max_points))]
    # work on the points' bounding box only (plus the smoothing and motion margins)
    margin = np.ceil((3 * sigma_mm + max_shift_mm + 1.0) / spacing).astype(int)
    lo = np.maximum(pts_ijk.min(axis=0) - margin, 0)
    hi = np.minimum(pts_ijk.max(axis=0) + margin + 1, moving.shape)
    sub = np.asarray(moving[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], np.float32)
    smoothed = ndimage.gaussian_filter(sub, sigma_mm / spacing)
    grads = [g / np.float32(s) for g, s in zip(np.gradient(smoothed), spacing)]
    target = np.asarray(darkness, np.float32)[tuple(pts_ijk.T)].astype(np.float64)
    pts_ijk = pts_ijk - lo
    target = target - target.mean()
    tnorm = np.linalg.norm(target)
    if tnorm < 1e-9 or len(pts_ijk) < 50:
        return np.eye(4), 0.0
    target /= tnorm
    x = pts_ijk.astype(np.float64) * spacing  # sub-box mm
    centre = x.mean(axis=0)
    theta = np.zeros(6)

    def sample(arr: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(arr, (y_mm / spacing).T, order=1, mode="nearest")

    def ncc_of(th: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        m = rigid_matrix(th, centre)
        y = x @ m[:3, :3].T + m[:3, 3]
        v = sample(smoothed, y).astype(np.float64)
        vc = v - v.mean()
        n = np.linalg.norm(vc)
        return (float(vc @ target / n) if n > 1e-12 else 0.0), y, vc

    best, y, vc = ncc_of(theta)
    for _ in range(iterations):
        g = np.stack([sample(gr, y) for gr in grads], axis=1).astype(np.float64)
        q = y - centre
        jac = np.concatenate([np.cross(q, g), g], axis=1)  # d value / d (w, t)
        # Fit the moving values to the target (scale a): residual r = a*target - vc
        a = float(vc @ target)
        r = a * target - (vc - 0.0)
        jc = jac - jac.mean(axis=0)
        jtj = jc.T @ jc
        step = np.linalg.solve(jtj + 1e-9 * np.trace(jtj) * np.eye(6), jc.T @ r)
        improved = False
        for damp in (1.0, 0.5, 0.25):
            cand = theta + damp * step
            val, y_c, vc_c = ncc_of(cand)
            if val > best + 1e-6:
                theta, best, y, vc = cand, val, y_c, vc_c
                improved = True
                break
        if not improved or np.linalg.norm(step[3:]) < 1e-3 and np.linalg.norm(step[:3]) < 1e-5:
            break
    m = rigid_matrix(theta, centre)
    angle = np.degrees(np.linalg.norm(theta[:3]))
    shift = np.linalg.norm(theta[3:])
    if angle > max_angle_deg or shift > max_shift_mm:
        return np.eye(4), ncc_of(np.zeros(6))[0]
    # back from the sub-box frame to the full grid's mm frame
    off = np.eye(4)
    off[:3, 3] = lo * spacing
    return off @ m @ np.linalg.inv(off), best
