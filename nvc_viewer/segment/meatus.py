"""The porus a facial-pair root runs to: the internal acoustic meatus, or what stands for it.

Design note
-----------
VII and VIII cross the cerebellopontine cistern into the internal auditory meatus (IAM), a
CSF-filled canal in the petrous bone. The canal is recognised as cistern voxels enclosed by bone
in most directions (`find_iam`). Inside it the two roots run parallel to its axis and nearly
touch, too close for a minimal path to keep them apart: there each root is followed along the
canal's principal axis by a ridge follower (`meatal_line`, `march`). When the meatus is outside
the field of view or not recognised, the roots are taken to the crop's lateral face
(`lateral_edge`), else to where the cistern ends laterally against tissue away from the
brainstem (`cistern_wall`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .crop import Box
from .masks import dilate_mm
from .scene import Scene

__all__ = ["find_iam", "meatal_line", "march", "lateral_edge", "cistern_wall"]


def find_iam(
    bone: np.ndarray,
    cistern: np.ndarray,
    spacing: np.ndarray,
    *,
    reach_mm: float = 4.5,
    enclosed: float = 0.6,
    coarse_mm: float = 1.0,
) -> np.ndarray:
    """Internal auditory meatus (and other CSF pockets deep in bone) as a mask.

    A voxel of ``cistern`` is in the canal when rays cast from it in the 26 grid directions
    meet bone within ``reach_mm`` in at least ``enclosed`` of the directions: inside the canal
    (radius 2-2.6 mm) every direction but those near its axis meets bone, beside a flat bone
    face at most half of them do. The test runs on a ``coarse_mm`` grid (the canal is 4-5 mm
    wide) and the result is brought back to the input grid.
    """
    from .masks import block_mean, coarse_factors

    f = coarse_factors(spacing, coarse_mm)
    shape0 = bone.shape
    pad = [(0, (-n) % k) for n, k in zip(shape0, f)]
    b = block_mean(np.pad(bone, pad, mode="edge").astype(np.float32), f) > 0.5
    cis = block_mean(np.pad(cistern, pad, mode="edge").astype(np.float32), f) > 0.5
    csp = np.asarray(spacing) * np.asarray(f)
    shape = np.array(b.shape)
    near = cis & ~b & dilate_mm(b, reach_mm, csp)
    cand = np.argwhere(near)
    coarse = np.zeros(b.shape, bool)
    if len(cand):
        dirs = np.array(
            [
                (x, y, z)
                for x in (-1, 0, 1)
                for y in (-1, 0, 1)
                for z in (-1, 0, 1)
                if (x, y, z) != (0, 0, 0)
            ]
        )
        hits = np.zeros(len(cand), np.int32)
        flat_bone = b.ravel()
        strides = np.array([shape[1] * shape[2], shape[2], 1])
        for d in dirs:
            n_steps = int(np.ceil(reach_mm / float(np.linalg.norm(d * csp))))
            hit = np.zeros(len(cand), bool)
            for k in range(1, n_steps + 1):
                q = cand + k * d
                inside = np.all((q >= 0) & (q < shape), axis=1)
                hit |= inside & flat_bone[np.where(inside, q @ strides, 0)]
            hits += hit
        coarse[tuple(cand[hits >= enclosed * len(dirs)].T)] = True
    fine = coarse
    for ax, k in enumerate(f):
        fine = np.repeat(fine, k, axis=ax)
    return fine[: shape0[0], : shape0[1], : shape0[2]] & cistern & ~bone


def meatal_line(
    scene: Scene,
    iam: np.ndarray,
    side_m: np.ndarray,
    start: np.ndarray,
    exclude: np.ndarray,
    *,
    radius: float,
    length_mm: float = 12.0,
) -> np.ndarray | None:
    """The root's course in the internal auditory meatus: straight along the canal's axis.

    Inside the canal VII and VIII run parallel to it and nearly touch, too close for a
    minimal path to keep them apart: the root is followed from the porus along the canal's
    principal axis by `march`, which stops where the root ends.

    Parameters
    ----------
    scene : Scene
    iam : (I, J, K) bool ndarray
        The meatus (`find_iam`).
    side_m : (I, J, K) bool ndarray
        The side of the brainstem midline the root is on.
    start : (3,) ndarray
        Crop voxel where the root's cisternal path reaches the meatus.
    exclude : (I, J, K) bool ndarray
        Voxels of other structures, ignored.
    radius : float
        The root's radius (mm).
    length_mm : float
        Longest course followed.

    Returns
    -------
    (N, 3) ndarray or None
        Crop voxel indices from ``start`` outward.
    """
    sp = scene.spacing
    canal = iam & side_m
    box = Box.of_mask(canal)  # the pieces lie inside it: label the box, not the whole crop
    if box is None:
        return None
    lo = np.asarray(box.lo)
    lab, _ = ndimage.label(canal[box.slices], structure=np.ones((3, 3, 3)))
    vox = np.argwhere(lab > 0) + lo
    near = lab[tuple(vox[int(np.argmin(np.linalg.norm((vox - start) * sp, axis=1)))] - lo)]
    pts = (np.argwhere(lab == near) + lo) * sp
    if len(pts) < 10:
        return None
    c = pts.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov((pts - c).T))
    a = evecs[:, -1]
    s0 = start * sp
    if (c - s0) @ a < 0:
        a = -a
    return march(scene, s0, a, radius, exclude, length_mm)


def march(
    scene: Scene,
    start_mm: np.ndarray,
    direction: np.ndarray,
    radius: float,
    exclude: np.ndarray,
    length_mm: float,
    *,
    step_mm: float = 0.5,
    max_side_step_mm: float = 0.25,
    level: float = 0.6,
) -> np.ndarray | None:
    """Follow a dark tube from a point along a known direction (a ridge follower).

    Each step moves ``step_mm`` along ``direction`` and then towards the darkness centroid
    of the disk normal to it (at most ``max_side_step_mm``; ``exclude`` and bone ignored); the
    walk stops where the tube ends (the T2 there brighter than ``level``) or leaves the crop.
    """
    sp = scene.spacing
    shape = np.array(scene.shape)
    a = direction / np.linalg.norm(direction)
    win = radius + 0.6
    half = np.ceil(win / sp).astype(int)
    offs = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij"), -1)
    offs = offs.reshape(-1, 3)
    smooth = scene.smoothed_norm()
    blocked = exclude | scene.masks.bone
    p = np.asarray(start_mm, dtype=np.float64)
    out = [p / sp]
    for _ in range(int(length_mm / step_mm)):
        q = p + step_mm * a
        base = np.rint(q / sp).astype(int)
        vox = base + offs
        ok = np.all((vox >= 0) & (vox < shape), axis=1)
        vox = vox[ok]
        rel = vox * sp - q
        along = rel @ a
        perp = rel - along[:, None] * a
        keep = (
            (np.abs(along) <= 0.5 * max(sp.max(), step_mm))
            & (np.linalg.norm(perp, axis=1) <= win)
            & ~blocked[tuple(vox.T)]
        )
        w = np.clip(0.55 - scene.norm[tuple(vox.T)], 0.0, None) * keep
        if w.sum() > 1e-6:
            shift = (w[:, None] * perp).sum(axis=0) / w.sum()
            n = np.linalg.norm(shift)
            if n > max_side_step_mm:
                shift *= max_side_step_mm / n
            q = q + shift
        ijk = q / sp
        if np.any(ijk < 0) or np.any(ijk > shape - 1):
            break
        val = float(ndimage.map_coordinates(smooth, ijk[:, None], order=1)[0])
        if val > level or scene.masks.bone[tuple(np.rint(ijk).astype(int))]:
            break
        out.append(ijk)
        p = q
    if len(out) < 3:
        return None
    return np.array(out)


def lateral_edge(scene: Scene, side: str, allowed: np.ndarray, band_mm: float = 3.0) -> np.ndarray:
    """Allowed voxels within ``band_mm`` of the crop's lateral face on ``side``."""
    a = scene.affine
    # the array axis closest to R-L and which end of it is lateral on this side
    ax = int(np.argmax(np.abs(a[0, :3]) / scene.spacing))
    toward_right = a[0, ax] > 0
    n = scene.shape[ax]
    k = max(1, int(np.ceil(band_mm / scene.spacing[ax])))
    sl = [slice(None)] * 3
    lateral_high = toward_right == (side == "right")
    sl[ax] = slice(n - k, n) if lateral_high else slice(0, k)
    out = np.zeros(scene.shape, bool)
    out[tuple(sl)] = allowed[tuple(sl)]
    return out


def cistern_wall(
    scene: Scene, allowed: np.ndarray, *, min_reach_mm: float = 6.0, within_mm: float = 1.5
) -> np.ndarray:
    """Allowed voxels where the cistern ends against tissue, away from the brainstem.

    A root leaves the cisternal CSF at the porus of its canal, on the cistern's lateral wall;
    the wall is the tissue bodies other than the brainstem (petrous bone, cerebellum, brain),
    and a porus is at least ``min_reach_mm`` from the brainstem (the cisternal segments of VII
    and VIII are 11-14 mm long).
    """
    sp = scene.spacing
    m = scene.masks
    near_stem = dilate_mm(m.brainstem, min_reach_mm, sp)
    outer = (m.bodies | m.bone | ~m.cistern) & ~near_stem
    return allowed & dilate_mm(outer, within_mm, sp) & ~near_stem
