"""Geometry of a traced nerve root: centreline, calibre, detachment point, voxels.

Design note
-----------
A tracker (`nerves`) hands over a voxel path; this module turns it into a root. The path is
resampled to ``STEP_MM``, smoothed and moved to sub-voxel positions: each point goes to the
darkness centroid of the cross-section normal to the path, with other structures masked out
(`refine_centreline`). The radius along it comes from the partial-volume darkness integral of
cross-sections (`radius_profile`): CSF adds nothing, so partial volume is counted exactly to the
extent the root's own level is known. The root detachment point (RDP) is the knee of the
distance-to-brainstem profile along the nerve (`find_rdp`, `distance_to_surface`). A root's
voxels are the union of balls of its radius along the centreline (`nerve_voxels`, `balls`),
prolonged a little into the brainstem where the root enters it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from . import centreline as cl
from .masks import erode_mm

if TYPE_CHECKING:
    from .nerves import NerveTrack
    from .scene import Scene

__all__ = [
    "STEP_MM",
    "NERVE_LEVEL",
    "surface_tree",
    "distance_to_surface",
    "refine_centreline",
    "radius_profile",
    "find_rdp",
    "trim_bright_ends",
    "centreline_from_path",
    "track_mask",
    "nerve_voxels",
    "balls",
]

#: Normalised T2 of nerve tissue (docs/anatomy.md: 0.2-0.3, CSF = 1).
NERVE_LEVEL = 0.25
#: Path sample spacing (mm).
STEP_MM = 0.25


def distance_to_surface(
    points_ijk: np.ndarray, mask: np.ndarray, spacing: np.ndarray, tree: cKDTree | None = None
) -> np.ndarray:
    """Distance (mm) from points to the boundary voxels of ``mask`` (negative inside)."""
    if tree is None:
        tree = surface_tree(mask, spacing)
    d, _ = tree.query(np.asarray(points_ijk) * spacing)
    idx = np.clip(np.rint(points_ijk).astype(int), 0, np.array(mask.shape) - 1)
    inside = mask[tuple(idx.T)]
    return np.where(inside, -d, d)


def surface_tree(mask: np.ndarray, spacing: np.ndarray) -> cKDTree:
    """k-d tree (mm) of a mask's boundary voxels, shifted half a voxel outward on average."""
    surf = mask & ~erode_mm(mask, 0.01 + float(np.min(spacing)) * 0.6, spacing)
    pts = np.argwhere(surf).astype(np.float64) * spacing
    if len(pts) == 0:
        pts = np.zeros((1, 3))
    return cKDTree(pts)


def refine_centreline(
    norm: np.ndarray,
    points: np.ndarray,
    spacing: np.ndarray,
    radius_mm: float,
    *,
    exclude: np.ndarray | None = None,
    iterations: int = 2,
    max_move_mm: float = 0.6,
) -> np.ndarray:
    """Move centreline points to the darkness centroid of their cross-section.

    Parameters
    ----------
    norm : (I, J, K) ndarray
        Normalised T2 (CSF = 1).
    points : (N, 3) ndarray
        Crop voxel indices, uniformly spaced along the tube.
    spacing : (3,) ndarray
    radius_mm : float
        Expected tube radius; the centroid window is ``radius + 0.6 mm``.
    exclude : (I, J, K) bool ndarray, optional
        Voxels of other structures (vessels, the other nerve), ignored.
    iterations : int
    max_move_mm : float
        A point moves at most this far in total from its input position.

    Returns
    -------
    (N, 3) ndarray
    """
    pts = np.asarray(points, dtype=np.float64).copy()
    orig = pts.copy()
    win = radius_mm + 0.6
    half = np.ceil(win / spacing).astype(int)
    offs = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij"), -1)
    offs = offs.reshape(-1, 3)
    offs_mm = offs * spacing
    shape = np.array(norm.shape)
    for _ in range(iterations):
        tan = cl.tangents(pts * spacing)
        base = np.rint(pts).astype(int)
        vox = base[:, None, :] + offs[None]  # (N, M, 3)
        inside = np.all((vox >= 0) & (vox < shape), axis=2)
        voxc = np.clip(vox, 0, shape - 1)
        val = norm[tuple(voxc.transpose(2, 0, 1))]
        # darker than brainstem tissue (0.35-0.5) only: a root lying on the pons is not pulled
        # into it; partial-volume voxels weigh little, symmetrically about the axis
        w = np.clip(0.55 - val, 0.0, None)
        rel = (base[:, None, :] - pts[:, None, :]) * spacing + offs_mm[None]  # mm from point
        along = np.einsum("nmk,nk->nm", rel, tan)
        perp = rel - along[..., None] * tan[:, None, :]
        dperp = np.linalg.norm(perp, axis=2)
        keep = inside & (np.abs(along) <= 0.5 * max(spacing.max(), STEP_MM * 2)) & (dperp <= win)
        if exclude is not None:
            keep &= ~exclude[tuple(voxc.transpose(2, 0, 1))]
        w = np.where(keep, w, 0.0)
        sw = w.sum(axis=1)
        shift = np.einsum("nm,nmk->nk", w, perp) / np.maximum(sw, 1e-9)[:, None]
        shift[sw < 1e-6] = 0.0
        pts = pts + shift / spacing
        moved = (pts - orig) * spacing
        dist = np.linalg.norm(moved, axis=1)
        too = dist > max_move_mm
        pts[too] = orig[too] + (moved[too] * (max_move_mm / dist[too])[:, None]) / spacing
    return pts


def radius_profile(
    norm: np.ndarray,
    points: np.ndarray,
    spacing: np.ndarray,
    *,
    window_mm: float = 2.2,
    exclude: np.ndarray | None = None,
    tube_level: float = NERVE_LEVEL,
    slab_mm: float = 0.75,
    away_from: np.ndarray | None = None,
    across: np.ndarray | None = None,
) -> np.ndarray:
    """Tube radius (mm) along a centreline from the partial-volume darkness of cross-sections.

    A slab of thickness ``slab_mm`` normal to the tube holds the darkness
    ``sum(1 - T2) * voxel_volume = (1 - tube_level) * pi * r**2 * slab_mm``; CSF contributes
    nothing, so partial volume is accounted for exactly, to the extent the tube's own level is
    ``tube_level``.

    Parameters
    ----------
    norm : (I, J, K) ndarray
    points : (N, 3) ndarray
        Crop voxel indices.
    spacing : (3,) ndarray
    window_mm : float
        Largest distance from the axis that counts.
    exclude : (I, J, K) bool ndarray, optional
        Voxels of other structures (ignored).
    tube_level : float
        Normalised T2 of the tube's tissue.
    slab_mm : float
    away_from : (N, 3) ndarray, optional
        Unit vectors (mm frame); only the half cross-section opposite each one counts (and the
        area is doubled): the radius of a nerve measured away from a vessel touching it.
    across : (N, 3) ndarray, optional
        Unit vectors; only the two quarter-sectors centred on the perpendicular to both the
        axis and this vector count (area doubled): the nerve's width across a vessel lying
        against it, blind to the vessel and to whatever lies behind the nerve.

    Returns
    -------
    (N,) ndarray
    """
    pts = np.asarray(points, dtype=np.float64)
    half = np.ceil(window_mm / spacing).astype(int)
    offs = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij"), -1)
    offs = offs.reshape(-1, 3)
    shape = np.array(norm.shape)
    tan = cl.tangents(pts * spacing)
    base = np.rint(pts).astype(int)
    out = np.zeros(len(pts))
    vox_vol = float(np.prod(spacing))
    chunk = 64
    for c0 in range(0, len(pts), chunk):
        b = base[c0 : c0 + chunk]
        p = pts[c0 : c0 + chunk]
        t = tan[c0 : c0 + chunk]
        vox = b[:, None, :] + offs[None]
        inside = np.all((vox >= 0) & (vox < shape), axis=2)
        voxc = np.clip(vox, 0, shape - 1)
        val = norm[tuple(voxc.transpose(2, 0, 1))]
        rel = (vox - p[:, None, :]) * spacing
        along = np.einsum("nmk,nk->nm", rel, t)
        dperp = np.linalg.norm(rel - along[..., None] * t[:, None, :], axis=2)
        # soft slab edges: a voxel's share of the slab is its overlap along the axis
        share = np.clip(0.5 + (0.5 * slab_mm - np.abs(along)) / max(spacing.min(), 1e-6), 0.0, 1.0)
        keep = inside & (dperp <= window_mm)
        if away_from is not None:
            proj = np.einsum("nmk,nk->nm", rel, away_from[c0 : c0 + chunk])
            share = share * np.clip(0.5 - proj / float(spacing.min()), 0.0, 1.0)
        if across is not None:
            uu = across[c0 : c0 + chunk]
            ww = np.cross(t, uu)
            ww /= np.maximum(np.linalg.norm(ww, axis=1, keepdims=True), 1e-9)
            pu = np.abs(np.einsum("nmk,nk->nm", rel, uu))
            pw = np.abs(np.einsum("nmk,nk->nm", rel, ww))
            share = share * (pu <= pw)
        if exclude is not None:
            keep &= ~exclude[tuple(voxc.transpose(2, 0, 1))]
        dark = np.clip(1.0 - val, 0.0, None) * share * keep
        area = dark.sum(axis=1) * vox_vol / (slab_mm * (1.0 - tube_level))
        if away_from is not None or across is not None:
            area *= 2.0
        out[c0 : c0 + chunk] = np.sqrt(np.maximum(area, 0.0) / np.pi)
    return out


def find_rdp(dist_mm: np.ndarray, s_mm: np.ndarray, radius_mm: float) -> int:
    """Index of the root detachment point from the distance-to-brainstem profile.

    The attached segment lies on the surface (distance about a radius or less); past the RDP the
    distance grows. The RDP is the knee of a hinge (constant, then linear rise) fitted by least
    squares over the points up to where the nerve is ``3 * radius + 1`` mm from the surface.
    """
    n = len(dist_mm)
    if n < 4:
        return 0
    far = np.nonzero(dist_mm > 3.0 * radius_mm + 1.0)[0]
    end = int(far[0]) + 1 if far.size else n
    end = max(end, min(n, 6))
    d = dist_mm[:end]
    s = s_mm[:end]
    best, best_i = np.inf, 0
    for i in range(0, end - 1):
        a = float(np.median(d[: i + 1]))
        x = np.maximum(s - s[i], 0.0)
        r = d - a
        denom = float(x @ x)
        slope = max(float(x @ r) / denom, 0.0) if denom > 0 else 0.0
        err = float(np.sum((r - slope * x) ** 2))
        if err < best:
            best, best_i = err, i
    return best_i


def trim_bright_ends(smooth: np.ndarray, pts: np.ndarray, level: float = 0.6) -> np.ndarray:
    """Drop end points that lie in CSF (a path overshooting the end of a root)."""
    val = ndimage.map_coordinates(smooth, pts.T, order=1, mode="nearest")
    dark = np.nonzero(val < level)[0]
    if dark.size == 0:
        return pts
    return pts[dark[0] : dark[-1] + 1]


def centreline_from_path(
    scene: Scene, path: np.ndarray, radius: float, exclude: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A root's centreline and radii from the voxel path a tracker found.

    The path is resampled to ``STEP_MM`` and smoothed, its points moved to the darkness centroid
    of their cross-sections (`refine_centreline`; ``exclude``, the brainstem and bone ignored),
    smoothed again, its ends in CSF dropped (`trim_bright_ends`), and the radius measured along
    it (`radius_profile`).

    Parameters
    ----------
    scene : Scene
    path : (N, 3) ndarray
        Crop voxel indices, from the brainstem outward.
    radius : float
        Expected radius (mm).
    exclude : (I, J, K) bool ndarray
        Voxels of other structures.

    Returns
    -------
    points : (M, 3) ndarray
        Crop voxel indices, ``STEP_MM`` apart.
    radius_mm : (M,) ndarray
    """
    sp = scene.spacing
    mm = path.astype(np.float64) * sp
    mm = cl.resample(mm, STEP_MM)
    mm = cl.smooth(mm, 2.0)
    pts = mm / sp
    pts = refine_centreline(
        scene.norm, pts, sp, radius, exclude=exclude | scene.masks.brainstem | scene.masks.bone
    )
    mm = cl.smooth(pts * sp, 3.0)
    mm = cl.resample(mm, STEP_MM)
    pts = mm / sp
    pts = trim_bright_ends(scene.smoothed_norm(), pts)
    r = radius_profile(
        scene.norm,
        pts,
        sp,
        window_mm=radius + 0.55,
        exclude=exclude | scene.masks.brainstem | scene.masks.bone,
    )
    return pts, r


def track_mask(
    points: np.ndarray, radius: float, shape: tuple[int, ...], spacing: np.ndarray
) -> np.ndarray:
    """The voxels a path passes through, grown by ``radius`` mm (half a voxel more)."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) > 1:
        mm = cl.resample(pts * spacing, min(0.5 * float(np.min(spacing)), 0.25))
        pts = mm / spacing
    r = float(radius) + 0.5 * float(np.min(spacing))
    return balls(pts, np.full(len(pts), r), shape, spacing)


def nerve_voxels(
    track: NerveTrack,
    shape: tuple[int, ...],
    spacing: np.ndarray,
    *,
    pad_mm: float = 0.0,
    root_mm: float = 1.0,
) -> np.ndarray:
    """Voxels whose centre is within the track's radius (+ ``pad_mm``) of its centreline.

    The centreline is prolonged ``root_mm`` back from its first point (into the brainstem,
    where the root enters it). Results are cached on the track (a track is not edited).
    """
    key = (tuple(shape), round(float(pad_mm), 4), round(float(root_mm), 4))
    cached = track._masks.get(key)
    if cached is not None:
        return cached.copy()
    out = _nerve_voxels(track, shape, spacing, pad_mm, root_mm)
    track._masks[key] = out
    return out.copy()


def _nerve_voxels(
    track: NerveTrack, shape: tuple[int, ...], spacing: np.ndarray, pad_mm: float, root_mm: float
) -> np.ndarray:
    pts = track.points
    r = track.radius_mm
    if root_mm > 0 and len(pts) >= 3:
        t0 = pts[0] - pts[min(2, len(pts) - 1)]
        n0 = float(np.linalg.norm(t0 * spacing))
        if n0 > 1e-6:
            k = np.arange(1, int(np.ceil(root_mm / STEP_MM)) + 1)[::-1]
            back = pts[0] + (k[:, None] * STEP_MM / n0) * t0
            pts = np.vstack([back, pts])
            r = np.concatenate([np.full(len(back), r[0]), r])
    return balls(pts, r + pad_mm, shape, spacing)


def balls(
    pts: np.ndarray, r: np.ndarray, shape: tuple[int, ...], spacing: np.ndarray
) -> np.ndarray:
    """The union of balls of radius ``r[i]`` (mm) around points ``pts`` (voxel indices)."""
    out = np.zeros(shape, bool)
    if len(pts) == 0:
        return out
    rmax = float(np.max(r))
    # the point is up to half a voxel from the voxel it is rounded to
    half = np.ceil(rmax / spacing + 0.5).astype(int)
    offs = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij"), -1)
    offs = offs.reshape(-1, 3)
    shp = np.array(shape)
    chunk = 256
    for c0 in range(0, len(pts), chunk):
        p = pts[c0 : c0 + chunk]
        base = np.rint(p).astype(int)
        vox = base[:, None, :] + offs[None]
        d = np.linalg.norm((vox - p[:, None, :]) * spacing, axis=2)
        inside = (d <= r[c0 : c0 + chunk][:, None]) & np.all((vox >= 0) & (vox < shp), axis=2)
        out[tuple(vox[inside].T)] = True
    return out
