"""Cranial nerve roots: facial (VII), vestibulocochlear (VIII) and trigeminal (V), per side.

Design note
-----------
Nerves are recognised by anatomy, never by a label: VII and VIII run from the brainstem, at the
lateral end of the pontomedullary sulcus, across the cerebellopontine cistern into the internal
auditory meatus (IAM), a CSF-filled canal in the petrous bone; VIII (about 2.1 mm) is twice as
thick as VII (about 1.2 mm). V (about 2.5 mm) leaves the mid-pons and runs forward, up and out.

Tracking is by minimal paths (`centreline.minimal_path`) through a cost that is low on the axis
of a dark tube of the nerve's calibre: the scale-normalised Hessian eigenvalue at a scale matched
to the radius (sigma ~ r / 1.4). VIII is traced first at its scale, from the brainstem surface to
the IAM; VII then at its own scale with VIII's core forbidden; TOF-bright voxels (arteries) cost
more. A path stops where it reaches the brainstem's surface; the attached segment of VII, which
lies on the pons for about 10 mm before the root detachment point (RDP), is then followed within
a thin band over the surface by a second, "as far as it stays tubular" path. When no such
segment can be followed from where the first path starts (it reached the surface on a vessel lying
on the pons and joined the root past the RDP), VII is traced again from that band; so it is
when its root exit point is not where anatomy puts it -- at the height of VIII's exit, in front
of it and medial to it (a vessel lying on the pons that the TOF does not show, followed down to
the surface above or below the pontomedullary sulcus). Inside the IAM the roots nearly touch:
there each is followed along the canal's axis (`_march`).

The voxel path is refined to sub-voxel positions (darkness centroid in the plane normal to the
path, with other structures masked out) and smoothed; the radius along it comes from the
partial-volume darkness integral of cross-sections (`radius_profile`). The RDP is the knee of the
distance-to-brainstem profile along the nerve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from . import centreline as cl
from .crop import Box
from .masks import dilate_mm, erode_mm
from .scene import Scene
from .tubes import ScaleSpace, scale_space

__all__ = [
    "NerveTrack",
    "NERVE_RADIUS_MM",
    "find_iam",
    "track_nerves",
    "refine_centreline",
    "radius_profile",
    "distance_to_surface",
    "find_rdp",
    "nerve_voxels",
]

#: Typical radii (mm) in the CPA (docs/anatomy.md: diameters 1.1-1.2, 2.1-2.2, about 2.5).
NERVE_RADIUS_MM = {"VII": 0.58, "VIII": 1.08, "V": 1.25}
#: Normalised T2 of nerve tissue (docs/anatomy.md: 0.2-0.3, CSF = 1).
NERVE_LEVEL = 0.25
#: Path sample spacing (mm).
STEP_MM = 0.25


@dataclass
class NerveTrack:
    """One nerve root's centreline in a crop.

    Attributes
    ----------
    name : {"VII", "VIII", "V"}
    side : {"left", "right"}
    points : (N, 3) ndarray
        Crop voxel indices (fractional), from the root exit point outward, ``STEP_MM`` apart.
    radius_mm : (N,) ndarray
        Radius along the centreline.
    i_rexp, i_rdp : int
        Indices of the root exit and root detachment points.
    confidence : float
        0..1, how tube-like and complete the track is.
    s_mm : (N,) ndarray
        Arclength (mm) from the first point.
    """

    name: str
    side: str
    points: np.ndarray
    radius_mm: np.ndarray
    i_rexp: int = 0
    i_rdp: int = 0
    confidence: float = 0.5
    s_mm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _masks: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> str:
        """``"VII_left"`` etc."""
        return f"{self.name}_{self.side}"

    def s_from_rdp(self) -> np.ndarray:
        """Arclength (mm) of every point from the RDP (negative on the attached segment)."""
        return self.s_mm - self.s_mm[self.i_rdp]


# -- anatomy helpers ---------------------------------------------------------------------------
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
    from .masks import block_mean

    f = tuple(int(max(1, round(coarse_mm / s))) for s in spacing)
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


# -- paths -------------------------------------------------------------------------------------
def _cost_from_strength(strength: np.ndarray, scale: float, floor: float = 0.03) -> np.ndarray:
    s = np.clip(strength / scale, 0.0, 1.0)
    return (1.0 / (floor + s)).astype(np.float64)


def _path(cost: np.ndarray, starts: np.ndarray, ends: np.ndarray,
          spacing: np.ndarray) -> np.ndarray | None:
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


def _attached_segment(
    cost: np.ndarray,
    band: np.ndarray,
    path: np.ndarray,
    strength: np.ndarray,
    spacing: np.ndarray,
) -> np.ndarray | None:
    """The root's attached segment: `_extend` from a path's first voxel within ``band``.

    Returns the voxel path from ``path[0]`` outward along the surface (cut where the tube
    fades), or None when there is none longer than two voxels.
    """
    surf_cost = np.where(band, cost, np.inf)
    surf_cost[_track_mask(path[3:], 0.6, cost.shape, spacing)] = np.inf
    attached = _cut_weak_tail(
        _extend(surf_cost, path[0], spacing, max_mean_cost=6.0, reach_mm=12.0,
                max_length_mm=12.0),
        strength,
        spacing,
    )
    if attached is None or len(attached) <= 2:
        return None
    return attached


def _extend(cost: np.ndarray, start: np.ndarray, spacing: np.ndarray, *,
            max_mean_cost: float, reach_mm: float = 14.0,
            max_length_mm: float | None = None) -> np.ndarray | None:
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


def _cut_weak_tail(
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


def _meatal_line(
    scene: Scene,
    costs: _Costs,
    side_m: np.ndarray,
    start: np.ndarray,
    exclude: np.ndarray,
    *,
    radius: float = NERVE_RADIUS_MM["VII"],
    length_mm: float = 12.0,
) -> np.ndarray | None:
    """The root's course in the internal auditory meatus: straight along the canal's axis.

    Inside the canal VII and VIII run parallel to it and nearly touch, too close for a
    minimal path to keep them apart: the root is followed from the porus along the canal's
    principal axis by `_march`, which stops where the root ends.
    """
    sp = scene.spacing
    lab, n = ndimage.label(costs.iam & side_m, structure=np.ones((3, 3, 3)))
    if n == 0:
        return None
    vox = np.argwhere(lab > 0)
    near = lab[tuple(vox[int(np.argmin(np.linalg.norm((vox - start) * sp, axis=1)))])]
    pts = np.argwhere(lab == near) * sp
    if len(pts) < 10:
        return None
    c = pts.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov((pts - c).T))
    a = evecs[:, -1]
    s0 = start * sp
    if (c - s0) @ a < 0:
        a = -a
    return _march(scene, s0, a, radius, exclude, length_mm)


def _march(
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
    smooth = _smoothed(scene)
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


# -- centreline refinement -----------------------------------------------------------------------
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


#: Scales (mm) of the shared dark-tube scale space: VII (r ~0.6), VIII (~1.1), V (~1.25) and
#: vessels of 0.3-2 mm radius.
TUBE_SIGMAS_MM = (0.4, 0.55, 0.75, 1.0, 1.4)


def tube_scales(scene: Scene, extra: np.ndarray | None = None) -> ScaleSpace:
    """The crop's dark-tube scale space (`tubes.scale_space`), computed once per scene.

    Evaluated on the dark tubes, the partial-volume band on the brainstem, the TOF-bright
    tubes and ``extra``, each grown by 0.5 mm.
    """
    ss = scene.info.get("_scales")
    if ss is not None:
        return ss
    m = scene.masks
    where = m.dark.copy()
    if extra is not None:
        where |= extra
    if scene.tof is not None:
        where |= (scene.tof > 0.29) & (scene.norm < 0.62) & m.cistern & ~m.brainstem
    where = dilate_mm(where, 0.5, scene.spacing)
    ss = scale_space(scene.norm, scene.spacing, TUBE_SIGMAS_MM, where)
    scene.info["_scales"] = ss
    return ss


# -- the tracker ----------------------------------------------------------------------------------
@dataclass
class _Costs:
    small: np.ndarray
    large: np.ndarray
    v: np.ndarray
    cand: np.ndarray
    shell: np.ndarray
    iam: np.ndarray
    arteries: np.ndarray
    artery_core: np.ndarray
    penalty: np.ndarray
    surface_band: np.ndarray
    iam_near: np.ndarray

    def at_scale(self, sigma_mm: float) -> np.ndarray:
        """The strength map closest to ``sigma_mm`` (0.4 VII, 0.75 VIII, 1.0 V)."""
        return min(
            (
                (abs(sigma_mm - s), a)
                for s, a in ((0.4, self.small), (0.75, self.large), (1.0, self.v))
            ),
            key=lambda x: x[0],
        )[1]


def _costs(scene: Scene) -> _Costs:
    m = scene.masks
    sp = scene.spacing
    norm = scene.norm
    shell = dilate_mm(m.brainstem, 1.6, sp) & ~m.brainstem
    band = dilate_mm(m.brainstem, 1.1, sp) & ~erode_mm(m.brainstem, 0.3, sp)
    iam = find_iam(m.bone, m.cistern, sp)
    # nerves never touch bone outside the meatus's far end: its partial-volume rim is not a tube
    near_bone = dilate_mm(m.bone, 0.5, sp)
    # a 1.2 mm root in 0.8 mm voxels is partial volume through and through: with coarse voxels
    # paths may run through brighter voxels (up to 0.75; the cost keeps them on the darkest line)
    h = float(np.max(sp))
    level = 0.62 + 0.13 * float(np.clip((h - 0.55) / 0.2, 0.0, 1.0))
    loose = (norm < level) & m.cistern & ~m.bodies & ~m.brainstem
    cand = (m.dark | loose | (shell & (norm < 0.62)) | (iam & (norm < 0.75))) & ~near_bone
    ss = scene.info.get("_scales")
    if ss is None:
        ss = tube_scales(scene, extra=cand)
    small, large, v = ss.at(0.4), ss.at(0.75), ss.at(1.0)
    arteries = np.zeros(norm.shape, bool)
    core = np.zeros(norm.shape, bool)
    penalty = np.ones(norm.shape, np.float32)
    if scene.tof is not None:
        arteries = _tof_arteries(scene.tof, cand)
        # TOF-bright voxels cost more to a nerve's path, in proportion; only the bright core
        # of an artery is forbidden (the TOF's blur reaches onto a nerve touching it)
        core = (scene.tof > 0.75) & cand
        penalty = (1.0 + 19.0 * np.clip((scene.tof - 0.3) / 0.5, 0.0, 1.0)).astype(np.float32)
    iam_near = dilate_mm(iam, 1.5, sp)
    return _Costs(small, large, v, cand, shell, iam, arteries, core, penalty, band, iam_near)


def _tof_arteries(tof: np.ndarray, cand: np.ndarray, level: float = 0.42) -> np.ndarray:
    """Candidate voxels that are bright on the aligned TOF (arteries), grown by hysteresis."""
    strong = tof > level
    weak = tof > 0.7 * level
    lab, n = ndimage.label(weak & cand)
    if n == 0:
        return np.zeros(tof.shape, bool)
    keep = np.zeros(n + 1, bool)
    keep[np.unique(lab[strong & cand])] = True
    keep[0] = False
    return keep[lab]


def _voxel_path_to_track(
    scene: Scene, path: np.ndarray, name: str, side: str, radius: float, exclude: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
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
    pts = _trim_bright_ends(_smoothed(scene), pts)
    r = radius_profile(
        scene.norm,
        pts,
        sp,
        window_mm=radius + 0.55,
        exclude=exclude | scene.masks.brainstem | scene.masks.bone,
    )
    return pts, r


def _smoothed(scene: Scene) -> np.ndarray:
    """The normalised T2 smoothed by 0.3 mm (computed once per scene)."""
    sm = scene.info.get("_norm_s")
    if sm is None:
        sm = ndimage.gaussian_filter(scene.norm, 0.3 / scene.spacing)
        scene.info["_norm_s"] = sm
    return sm


def _trim_bright_ends(smooth: np.ndarray, pts: np.ndarray, level: float = 0.6) -> np.ndarray:
    """Drop end points that lie in CSF (a path overshooting the end of a root)."""
    val = ndimage.map_coordinates(smooth, pts.T, order=1, mode="nearest")
    dark = np.nonzero(val < level)[0]
    if dark.size == 0:
        return pts
    return pts[dark[0] : dark[-1] + 1]


def _track_mask(points: np.ndarray, radius: float, shape: tuple[int, ...],
                spacing: np.ndarray) -> np.ndarray:
    """The voxels a path passes through, grown by ``radius`` mm (half a voxel more)."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) > 1:
        mm = cl.resample(pts * spacing, min(0.5 * float(np.min(spacing)), 0.25))
        pts = mm / spacing
    r = float(radius) + 0.5 * float(np.min(spacing))
    return _balls(pts, np.full(len(pts), r), shape, spacing)


def _lateral_edge(scene: Scene, side: str, allowed: np.ndarray, band_mm: float = 3.0
                  ) -> np.ndarray:
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


def _cistern_wall(scene: Scene, allowed: np.ndarray, *, min_reach_mm: float = 6.0,
                  within_mm: float = 1.5) -> np.ndarray:
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


def track_facial_pair(scene: Scene, costs: _Costs, side: str) -> list[NerveTrack]:
    """VIII then VII on one side (see the module note)."""
    sp = scene.spacing
    side_m = scene.side_mask(side)
    tracks: list[NerveTrack] = []
    allowed = costs.cand & side_m & ~costs.artery_core
    # the pair runs from the pontomedullary sulcus up to the meatus: a band of heights around
    # the meatus bounds the search (and its cost)
    iam_z = scene.to_ras(np.argwhere(costs.iam & side_m))[:, 2] if (costs.iam & side_m).any() \
        else None
    if iam_z is not None:
        z = scene.z_ras()
        allowed &= (z >= iam_z.min() - 14.0) & (z <= iam_z.max() + 8.0)
    starts_all = costs.shell & allowed
    ends_all = costs.iam & allowed
    if not ends_all.any():
        # the meatus is outside the field of view (or not recognised): the roots then run to
        # where the cistern ends laterally (the porus lies on its wall) or to the lateral edge
        # of the crop; the tubes reaching either are the candidates
        scene.info.setdefault("warnings", []).append(
            f"no internal auditory meatus found on the {side}: the roots are followed to the "
            "cistern's lateral wall"
        )
        ends_all = _lateral_edge(scene, side, allowed)
        wall = _cistern_wall(scene, allowed)
        if not (ends_all.any() or wall.any()):
            return tracks
    else:
        wall = np.zeros_like(ends_all)
    # VIII: the thicker root
    cost8 = _cost_from_strength(costs.large, 0.2) * costs.penalty
    cost8[~allowed] = np.inf
    p8 = _path(cost8, np.argwhere(starts_all), np.argwhere(ends_all), sp)
    if p8 is None and wall.any():
        # no tube reaches the crop's edge: the roots end on the cistern's wall
        ends_all = wall
        p8 = _path(cost8, np.argwhere(starts_all), np.argwhere(ends_all), sp)
    forbid = costs.artery_core.copy()
    if p8 is not None:
        meatal8 = _meatal_line(
            scene, costs, side_m, p8[-1], costs.artery_core, radius=NERVE_RADIUS_MM["VIII"]
        )
        if meatal8 is not None and len(meatal8) > 2:
            p8 = np.concatenate([p8.astype(np.float64), meatal8[1:]])
        # VIII's core only: at the porus the two roots are a tenth of a mm apart
        forbid |= _track_mask(p8, 0.7 * NERVE_RADIUS_MM["VIII"], scene.shape, sp)
    cost7 = _cost_from_strength(costs.small, 0.2) * costs.penalty
    cost7[~(costs.cand & side_m) | forbid] = np.inf
    p7 = _path(cost7, np.argwhere(starts_all & ~forbid), np.argwhere(ends_all & ~forbid), sp)
    if p7 is None:
        if p8 is not None:
            pts8, r8 = _voxel_path_to_track(
                scene,
                p8,
                "VIII",
                side,
                NERVE_RADIUS_MM["VIII"],
                costs.arteries & ~_track_mask(p8, 0.3, scene.shape, sp),
            )
            tracks.append(_finish(scene, "VIII", side, pts8, r8))
        return tracks
    # the attached segment lies on the pons (its axis about 0.5 mm off the surface) for about
    # 10 mm: follow it within a thin shell, no farther than that
    surf_band = costs.surface_band & side_m
    attached = _attached_segment(cost7, surf_band, p7, costs.small, sp)
    if attached is None:
        # The cheapest path may leave the shell (up to 1.6 mm from the pons) on a vessel lying
        # on the pons and join the root only past the RDP (with fine voxels more such vessel
        # voxels fall inside the shell): from there the attached segment cannot be reached.
        # Start then from the thin band on the surface the attached root lies in.
        p7b = _path(
            cost7, np.argwhere(surf_band & allowed & ~forbid), np.argwhere(ends_all & ~forbid), sp
        )
        if p7b is not None and len(p7b) > 3:
            attached_b = _attached_segment(cost7, surf_band, p7b, costs.small, sp)
            if attached_b is not None:
                p7, attached = p7b, attached_b
    if p8 is not None:
        # VII leaves the brainstem at the lateral end of the pontomedullary sulcus, in front of
        # VIII and medial to it at the same height: a root exit elsewhere is a vessel lying on
        # the pons (one the TOF does not show) followed down to the surface, or VIII's own
        # exit. Trace VII again from the part of the surface band where anatomy puts it; the
        # new course stands only with an attached segment on the pons ending there too (a
        # path that merely starts there may be no root at all).
        start7 = p7[0] if attached is None else attached[-1]
        if not _beside_viii(scene, start7[None], p8[0])[0]:
            band = np.argwhere(surf_band & allowed & ~forbid)
            band = band[_beside_viii(scene, band, p8[0])]
            p7c = _path(cost7, band, np.argwhere(ends_all & ~forbid), sp)
            if p7c is not None and len(p7c) > 3:
                attached_c = _attached_segment(cost7, surf_band, p7c, costs.small, sp)
                if attached_c is not None and _beside_viii(scene, attached_c[-1:], p8[0])[0]:
                    p7, attached = p7c, attached_c
    # the path runs brainstem -> IAM; the meatal part follows the canal (see `_meatal_line`)
    meatal = _meatal_line(
        scene,
        costs,
        side_m,
        p7[-1],
        forbid if p8 is None else _track_mask(p8, 0.5, scene.shape, sp),
    )
    path = p7
    if attached is not None:
        path = np.concatenate([attached[::-1][:-1], path])
    path = path.astype(np.float64)
    if meatal is not None and len(meatal) > 2:
        path = np.concatenate([path, meatal[1:]])
    exclude7 = (forbid | costs.arteries) & ~_track_mask(path, 0.3, scene.shape, sp)
    pts7, r7 = _voxel_path_to_track(scene, path, "VII", side, NERVE_RADIUS_MM["VII"], exclude7)
    tracks.append(_finish(scene, "VII", side, pts7, r7))
    if p8 is not None:
        exclude8 = (costs.arteries & ~_track_mask(p8, 0.3, scene.shape, sp)) | _track_mask(
            pts7, NERVE_RADIUS_MM["VII"] + 0.25, scene.shape, sp
        )
        pts8, r8 = _voxel_path_to_track(scene, p8, "VIII", side, NERVE_RADIUS_MM["VIII"], exclude8)
        tracks.append(_finish(scene, "VIII", side, pts8, r8))
    return tracks


def _beside_viii(scene: Scene, ijk: np.ndarray, viii_start: np.ndarray) -> np.ndarray:
    """Which crop voxels ``ijk`` could be VII's root exit point, given where VIII's path starts.

    VII leaves the lateral end of the pontomedullary sulcus, in front of VIII and about 1 mm
    medial to it (docs/anatomy.md): the exit is at VIII's height (5 mm below to 1.5 mm above its
    path's start on the shell around the brainstem, which lies up to a few mm out along VIII), at
    least 0.5 mm nearer the midline and 1 mm more anterior.
    """
    a = scene.to_ras(np.asarray(ijk, dtype=np.float64))
    b = scene.to_ras(np.asarray(viii_start, dtype=np.float64)[None])[0]
    mid = scene.frame.midline_x(a[:, 2])
    medial = abs(b[0] - float(scene.frame.midline_x(b[2]))) - np.abs(a[:, 0] - mid)
    anterior = a[:, 1] - b[1]
    dz = a[:, 2] - b[2]
    return (medial >= 0.5) & (anterior >= 1.0) & (dz >= -5.0) & (dz <= 1.5)


def _finish(scene: Scene, name: str, side: str, pts: np.ndarray, r: np.ndarray) -> NerveTrack:
    sp = scene.spacing
    s = cl.arclength(pts * sp)
    tree = scene.info.get("_bs_tree")
    if tree is None:
        tree = surface_tree(scene.masks.brainstem, sp)
        scene.info["_bs_tree"] = tree
    dist = distance_to_surface(pts, scene.masks.brainstem, sp, tree)
    free = dist > 0.5 * NERVE_RADIUS_MM[name] + 0.5
    costs = scene.info.get("_costs")
    cisternal = free.copy()
    if costs is not None:
        # in the meatus the roots and the bone add to any darkness integral
        idx = np.clip(np.rint(pts).astype(int), 0, np.array(scene.shape) - 1)
        cisternal &= ~costs.iam_near[tuple(idx.T)]
    ref = cisternal if cisternal.sum() > 4 else free
    r_med = float(np.median(r[ref])) if ref.sum() > 4 else NERVE_RADIUS_MM[name]
    i_rdp = find_rdp(dist, s, r_med) if name == "VII" else int(np.argmin(np.abs(dist)))
    r = r.copy()
    # on the surface the root's embedded part is masked out of the darkness integral, and in
    # the meatus neighbours add to it: the radius there is the cisternal one
    r[:i_rdp] = r_med
    r[~cisternal] = r_med
    # a root keeps its calibre within a fifth except where something narrows it
    r = np.clip(r, 0.5 * r_med, 1.2 * r_med)
    return NerveTrack(name, side, pts, r, 0, i_rdp, 0.8, s)


def track_trigeminal(
    scene: Scene, costs: _Costs, side: str, taken: np.ndarray, z_floor_ras: float | None
) -> NerveTrack | None:
    """V on one side: the thickest dark tube leaving the pons above the facial pair.

    Thick-tube voxels (strength at sigma 0.85 mm) touching the brainstem surface, above the
    facial nerve's root detachment (when known), not arterial and not already taken, are grouped
    into connected pieces; the largest is V. Its centreline runs from its contact with the
    brainstem to its farthest voxel (geodesic).
    """
    sp = scene.spacing
    side_m = scene.side_mask(side)
    thick = (costs.v > 0.06) & costs.cand & side_m & ~costs.artery_core & ~taken
    if z_floor_ras is not None:
        z = scene.to_ras(np.argwhere(thick))[:, 2]
        idx = np.argwhere(thick)[z < z_floor_ras]
        thick[tuple(idx.T)] = False
    tb = Box.of_mask(thick, margin_vox=1)
    if tb is None:
        return None
    lab = np.zeros(scene.shape, np.int32)
    lab[tb.slices], n = ndimage.label(thick[tb.slices], structure=np.ones((3, 3, 3)))
    if n == 0:
        return None
    touching = np.unique(lab[thick & costs.shell])
    touching = touching[touching > 0]
    if touching.size == 0:
        return None
    sizes = ndimage.sum(thick, lab, index=touching)
    best = int(touching[int(np.argmax(sizes))])
    if sizes.max() * np.prod(sp) < 8.0:  # under ~2 mm of a 2.5 mm root: not a nerve
        return None
    piece = lab == best
    contact = np.argwhere(piece & costs.shell)
    strength = costs.v[tuple(contact.T)]
    # the contact voxel nearest the brainstem (deepest in the shell) and strongly tubular
    dist = distance_to_surface(
        contact.astype(float), scene.masks.brainstem, sp, scene.info.get("_bs_tree")
    )
    start = contact[int(np.argmax(strength - 0.05 * dist))]
    cost = np.where(piece, _cost_from_strength(costs.v, 0.2), np.inf)
    far = _extend(cost, start, sp, max_mean_cost=12.0, reach_mm=24.0)
    if far is None or len(far) < 4:
        return None
    exclude = ~dilate_mm(piece, 0.8, sp)
    pts, r = _voxel_path_to_track(scene, far, "V", side, NERVE_RADIUS_MM["V"], exclude)
    track = _finish(scene, "V", side, pts, r)
    return track


def track_nerves(scene: Scene) -> dict[str, NerveTrack]:
    """Track VII and VIII, then V, on both sides of a scene."""
    costs = _costs(scene)
    scene.info["_costs"] = costs
    scene.info["_bs_tree"] = surface_tree(scene.masks.brainstem, scene.spacing)
    out: dict[str, NerveTrack] = {}
    for side in ("left", "right"):
        for t in track_facial_pair(scene, costs, side):
            out[t.key] = t
    taken = np.zeros(scene.shape, bool)
    for t in out.values():
        taken |= _track_mask(t.points, float(np.max(t.radius_mm)) + 0.4, scene.shape, scene.spacing)
    for side in ("left", "right"):
        # V leaves the pons above the facial pair: its root detachment on this side, else on
        # the other (a thin slab or a missed root); `identify` checks the height again
        other = "right" if side == "left" else "left"
        vii = out.get(f"VII_{side}") or out.get(f"VII_{other}")
        z_floor = float(scene.to_ras(vii.points[vii.i_rdp])[2]) + 3.0 if vii else None
        v = track_trigeminal(scene, costs, side, taken, z_floor)
        if v is not None:
            out[v.key] = v
    return out


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
    return _balls(pts, r + pad_mm, shape, spacing)


def _balls(pts: np.ndarray, r: np.ndarray, shape: tuple[int, ...],
           spacing: np.ndarray) -> np.ndarray:
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
