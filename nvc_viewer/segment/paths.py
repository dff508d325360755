"""Minimal paths through a tube-strength map: the search behind every nerve tracker.

Design note
-----------
A root is a dark tube of known calibre; the scale-normalised Hessian response at the matching
scale ("strength") is high on its axis. The cost of a voxel is the inverse of its strength
(`cost_from_strength`), so the cheapest path between two sets of voxels (`cheapest_path`, on
`centreline.VoxelGraph`) runs along the tube. Where a root has no known end -- the attached
segment lying on the pons, V running forward to Meckel's cave -- it is followed "as far as it
stays tubular" (`extend_tube`): the farthest voxel reachable at a bounded cost per mm, cut back
where the tube fades (`cut_weak_tail`). `attached_segment` combines both for the part of VII
that lies on the brainstem before the root detachment point.
"""

from __future__ import annotations

import numpy as np

from . import centreline as cl
from .crop import Box
from .roots import track_mask

__all__ = [
    "cost_from_strength",
    "cheapest_path",
    "extend_tube",
    "cut_weak_tail",
    "attached_segment",
]


def cost_from_strength(strength: np.ndarray, scale: float, floor: float = 0.03) -> np.ndarray:
    """Path cost per voxel from a tube-strength map: ``1 / (floor + min(strength / scale, 1))``.

    Strong tube voxels cost about 1, voxels without tube response ``1 / floor``.
    """
    s = np.clip(strength / scale, 0.0, 1.0)
    return (1.0 / (floor + s)).astype(np.float64)


def cheapest_path(
    cost: np.ndarray, starts: np.ndarray, ends: np.ndarray, spacing: np.ndarray
) -> np.ndarray | None:
    """Cheapest path (voxel indices) from any start to any end through the finite costs."""
    if len(starts) == 0 or len(ends) == 0:
        return None
    box = Box.of_mask(np.isfinite(cost), margin_vox=0)
    if box is None:
        return None
    lo = np.asarray(box.lo)
    g = cl.VoxelGraph(cost[box.slices], spacing)
    s_ids = g.node(np.asarray(starts) - lo)
    e_ids = g.node(np.asarray(ends) - lo)
    e_ids = e_ids[e_ids >= 0]
    if e_ids.size == 0 or (s_ids >= 0).sum() == 0:
        return None
    dist, pred = g.distances(s_ids)
    d_end = dist[e_ids]
    if not np.isfinite(d_end).any():
        return None
    return g.path_to(pred, int(e_ids[int(np.argmin(d_end))])) + lo


def extend_tube(
    cost: np.ndarray,
    start: np.ndarray,
    spacing: np.ndarray,
    *,
    max_mean_cost: float,
    reach_mm: float = 14.0,
    max_length_mm: float | None = None,
) -> np.ndarray | None:
    """Follow a tube from ``start`` as far as it stays tube-like.

    Among the voxels reachable from ``start`` whose path cost per mm stays under
    ``max_mean_cost`` (and whose geodesic distance is at most ``max_length_mm``), the one
    farthest (straight line) from ``start`` ends the path.
    """
    box = Box.around(start, reach_mm, spacing, cost.shape)
    c = np.array(cost[box.slices], dtype=np.float64)
    s = np.asarray(start) - np.asarray(box.lo)
    if not np.isfinite(c[tuple(s)]):
        c[tuple(s)] = 1.0
    g = cl.VoxelGraph(c, spacing)
    s_id = g.node(s[None])
    cum, pred = g.distances(s_id)
    length, _ = g.distances(s_id, unit=True)
    ok = np.isfinite(cum) & (length > 0) & (cum <= max_mean_cost * np.maximum(length, 1e-6))
    if max_length_mm is not None:
        ok &= length <= max_length_mm
    if not ok.any():
        return None
    ids = np.flatnonzero(ok)
    idx = g.ijk()[ids]
    dist = np.linalg.norm((idx - s) * spacing, axis=1)
    if dist.max() < 1.0:
        return None
    far = int(ids[int(np.argmax(dist))])
    return g.path_to(pred, far) + np.asarray(box.lo)


def cut_weak_tail(
    path: np.ndarray,
    strength: np.ndarray,
    spacing: np.ndarray,
    *,
    level: float = 0.035,
    run_mm: float = 1.0,
) -> np.ndarray:
    """Cut an extension where the tube fades: the first stretch of ``run_mm`` below ``level``."""
    if path is None or len(path) < 3:
        return path
    val = strength[tuple(path.T)]
    step = np.linalg.norm(np.diff(path * spacing, axis=0), axis=1)
    weak_len = 0.0
    for k in range(1, len(path)):
        weak_len = weak_len + step[k - 1] if val[k] < level else 0.0
        if weak_len >= run_mm:
            # back to where the weak stretch began
            back = k
            acc = 0.0
            while back > 0 and val[back] < level and acc < run_mm:
                acc += step[back - 1]
                back -= 1
            return path[: max(back + 1, 1)]
    return path


def attached_segment(
    cost: np.ndarray,
    band: np.ndarray,
    path: np.ndarray,
    strength: np.ndarray,
    spacing: np.ndarray,
) -> np.ndarray | None:
    """The root's attached segment: `extend_tube` from a path's first voxel within ``band``.

    Returns the voxel path from ``path[0]`` outward along the surface (cut where the tube
    fades), or None when there is none longer than two voxels.
    """
    surf_cost = np.where(band, cost, np.inf)
    surf_cost[track_mask(path[3:], 0.6, cost.shape, spacing)] = np.inf
    extended = extend_tube(
        surf_cost, path[0], spacing, max_mean_cost=6.0, reach_mm=12.0, max_length_mm=12.0
    )
    if extended is None:
        return None
    attached = cut_weak_tail(extended, strength, spacing)
    if attached is None or len(attached) <= 2:
        return None
    return attached
