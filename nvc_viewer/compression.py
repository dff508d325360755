"""Neurovascular contact detection and grading along a tracked nerve.

Design note
-----------
For every nerve root the vessels within reach of its centreline are found; where one comes
close, the closest approach is measured in mm between two models -- the nerve's refined
centreline with its radius, and the vessel's local axis (principal direction of its voxels near
the nerve, darkness-weighted) with its radius -- both radii from the partial-volume darkness
integral of cross-sections (`nvc_viewer.segment.nerves.radius_profile`), which resolves much
less than a voxel. The surface gap ``centre distance - r_nerve - r_vessel`` then classes the
relation:

- gap <= ``contact_mm`` (0.1): contact;
- up to ``ambiguous_mm`` (0.45): a sub-voxel gap, which heavy-T2 cannot tell from contact at
  0.4-0.8 mm voxels -- reported as a *low-confidence* contact;
- beyond: no finding.

Grades (DOMAIN.md): *indentation* when the nerve's radius at the contact, measured on the half
cross-section away from the vessel, is at least ``indentation_ratio`` (15 %) below its radius
elsewhere; *displacement* when the centreline at the contact deviates from the chord of the
neighbouring course by more than ``displacement_mm`` (0.8 mm, about 0.7 of VII's diameter),
away from the vessel; otherwise *contact*. The segment (attached / RDP / TZ / cisternal /
meatal) and ``distance_from_brainstem_mm`` follow from the arclength from the root detachment
point. Everything measured is kept as evidence with the finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .segment import centreline as cl
from .segment.crop import Box
from .segment.landmarks import TZ_DISTANCE_MM
from .segment.nerves import NerveTrack, nerve_voxels, radius_profile
from .segment.scene import Scene
from .segment.vessels import VesselMasks, identify

__all__ = ["ContactFinding", "CompressionSettings", "find_contacts", "segment_name"]


@dataclass(frozen=True)
class CompressionSettings:
    """Thresholds of contact detection (mm unless said otherwise)."""

    contact_mm: float = 0.25
    ambiguous_mm: float = 0.45
    search_mm: float = 1.6
    indentation_ratio: float = 0.15
    displacement_mm: float = 0.8
    displacement_window_mm: float = 4.5
    vessel_level: float = 0.18
    contact_brightness: float = 0.56
    gap_brightness: float = 0.78


@dataclass
class ContactFinding:
    """A nerve-vessel relation, with the section-4 fields and its evidence."""

    side: str
    nerve: str
    vessel: str
    vessel_kind: str
    segment: str
    grade: str
    position_ras: tuple[float, float, float]
    distance_from_brainstem_mm: float | None
    vessel_diameter_mm: float | None
    crossing_angle_deg: float | None
    confidence: float
    note: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def segment_name(d_from_rdp_mm: float, tz_mm: float, porus_mm: float | None) -> str:
    """REZ segment of a point ``d_from_rdp_mm`` along the nerve from the RDP.

    ``attached`` more than 1 mm proximal to the RDP; ``RDP`` up to half way to the TZ; ``TZ``
    up to half that distance again past it; ``cisternal`` to the porus of the internal auditory
    meatus; ``meatal`` beyond.
    """
    if d_from_rdp_mm < -1.0:
        return "attached"
    if d_from_rdp_mm < tz_mm / 2:
        return "RDP"
    if d_from_rdp_mm < 1.5 * tz_mm:
        return "TZ"
    if porus_mm is None or d_from_rdp_mm < porus_mm:
        return "cisternal"
    return "meatal"


def _runs(idx: np.ndarray, max_gap: int) -> list[np.ndarray]:
    if idx.size == 0:
        return []
    cuts = np.nonzero(np.diff(idx) > max_gap)[0] + 1
    return np.split(idx, cuts)


def _vessel_axis(
    scene: Scene, voxels: np.ndarray, near_mm: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Local axis (centroid, unit direction; mm) of vessel voxels near a point.

    The voxels within ``max(2, 2.5 * radius)`` mm of ``near_mm`` and connected to the one
    nearest it, weighted by darkness; the axis is their principal direction.
    """
    sp = scene.spacing
    pts = voxels * sp
    d = np.linalg.norm(pts - near_mm, axis=1)
    sel = d <= max(2.0, 2.5 * radius)
    if sel.sum() >= 4:
        sub = voxels[sel]
        lo = sub.min(axis=0)
        grid = np.zeros(tuple(sub.max(axis=0) - lo + 1), bool)
        grid[tuple((sub - lo).T)] = True
        lab, _ = ndimage.label(grid, structure=np.ones((3, 3, 3)))
        seed = sub[int(np.argmin(d[sel]))] - lo
        keep = lab[tuple((sub - lo).T)] == lab[tuple(seed)]
        sel_idx = np.flatnonzero(sel)[keep]
        sel = np.zeros(len(voxels), bool)
        sel[sel_idx] = True
    if sel.sum() < 4:
        return None
    p = pts[sel]
    w = np.clip(1.0 - scene.norm[tuple(voxels[sel].T)], 0.05, None)
    c = (w[:, None] * p).sum(axis=0) / w.sum()
    cov = ((p - c) * w[:, None]).T @ (p - c) / w.sum()
    evals, evecs = np.linalg.eigh(cov)
    return c, evecs[:, -1]


def _section_centre(
    scene: Scene, voxels: np.ndarray, near_mm: np.ndarray, e: np.ndarray, radius: float
) -> np.ndarray:
    """Darkness centroid (mm) of a vessel's voxels in the 1 mm slab normal to ``e`` at a point."""
    sp = scene.spacing
    pts = voxels * sp
    rel = pts - near_mm
    along = rel @ e
    perp = np.linalg.norm(rel - along[:, None] * e, axis=1)
    sel = (np.abs(along) <= 0.5) & (perp <= radius + 1.0)
    if sel.sum() < 2:
        return near_mm
    w = np.clip(0.6 - scene.norm[tuple(voxels[sel].T)], 0.02, None)
    c = (w[:, None] * pts[sel]).sum(axis=0) / w.sum()
    # keep the point on the slab's plane
    return c - ((c - near_mm) @ e) * e


def find_contacts(
    scene: Scene,
    track: NerveTrack,
    vm: VesselMasks,
    *,
    settings: CompressionSettings = CompressionSettings(),
    porus_index: int | None = None,
    sulcus_z_ras: float | None = None,
    v_root_z_ras: float | None = None,
) -> list[ContactFinding]:
    """Vessel contacts along one nerve.

    Parameters
    ----------
    scene : Scene
    track : NerveTrack
    vm : VesselMasks
    settings : CompressionSettings
    porus_index : int, optional
        Centreline index where the nerve enters the internal auditory meatus.
    sulcus_z_ras, v_root_z_ras : float, optional
        Heights used to name the vessel (see `nvc_viewer.segment.vessels.identify`).

    Returns
    -------
    list of ContactFinding
        One per vessel piece touching (or nearly touching) the nerve.
    """
    sp = scene.spacing
    vessel = vm.artery | vm.vein
    pts_mm = track.points * sp
    n = len(pts_mm)
    if n < 4 or not vessel.any():
        return []
    r_nom = float(np.median(track.radius_mm))
    reach = r_nom + 4.0
    lo = np.maximum(np.floor(track.points.min(axis=0) - reach / sp).astype(int), 0)
    hi = np.minimum(np.ceil(track.points.max(axis=0) + reach / sp).astype(int) + 1, scene.shape)
    box = Box(tuple(lo), tuple(hi), scene.shape)
    nerves_all = np.zeros(box.shape, bool)
    others_wide = np.zeros(box.shape, bool)
    for t in scene.nerves.values():
        nerves_all |= nerve_voxels(t, scene.shape, sp, pad_mm=0.15)[box.slices]
        if t.key != track.key:
            # wide enough to hold the partial-volume halo: it would add to radii measured next
            # to it
            others_wide |= nerve_voxels(t, scene.shape, sp, pad_mm=0.45)[box.slices]
    vbox = vessel[box.slices] & ~nerves_all
    vox = np.argwhere(vbox)
    if len(vox) == 0:
        return []
    tree = cKDTree((vox + lo) * sp)
    d, _ = tree.query(pts_mm)
    near = np.nonzero(d <= r_nom + settings.search_mm)[0]
    tangents = cl.tangents(pts_mm)
    step = float(np.median(np.diff(track.s_mm))) if n > 1 else 0.25
    other = np.zeros(scene.shape, bool)
    other[box.slices] = others_wide
    out: list[ContactFinding] = []
    for run in _runs(near, max(1, int(round(1.0 / step)))):
        # the vessel voxels around this stretch of nerve, split into connected pieces (a
        # sandwich: one piece on each side)
        hits = tree.query_ball_point(pts_mm[run], r=r_nom + 2.5)
        ids = np.unique(np.concatenate([np.asarray(h, dtype=int) for h in hits]))
        local = np.zeros(box.shape, bool)
        local[tuple(vox[ids].T)] = True
        lab, n_lab = ndimage.label(local, structure=np.ones((3, 3, 3)))
        for lab_id in range(1, n_lab + 1):
            piece_vox = np.argwhere(lab == lab_id) + lo
            if len(piece_vox) * float(np.prod(sp)) < 0.3:
                continue
            cand = _measure(scene, track, vm, piece_vox, run, other, r_nom, settings)
            if cand is None:
                continue
            gap, i, info = cand
            if gap > settings.ambiguous_mm or info["bright"] > settings.gap_brightness:
                continue
            out.append(_finding(scene, track, vm, i, gap, info, settings, porus_index,
                                sulcus_z_ras, v_root_z_ras, pts_mm, tangents))
    return _merge_close(out)


def _measure(scene, track, vm, piece_vox, idx, other, r_nom, settings):
    """Closest approach of one vessel piece to the nerve points ``idx``."""
    sp = scene.spacing
    pts_mm = track.points * sp
    tree = cKDTree(piece_vox * sp)
    d, j = tree.query(pts_mm[idx])
    r_v0 = float(np.median(vm.radius_mm[tuple(piece_vox.T)]))
    r_v0 = float(np.clip(r_v0, 0.3, 2.0))
    piece_mask = np.zeros(scene.shape, bool)
    piece_mask[tuple(piece_vox.T)] = True
    own = nerve_voxels(track, scene.shape, sp, pad_mm=0.45)
    # For nerve points along the run (closest first), the vessel's axis point nearest them:
    # darkness centroid of the vessel's cross-section (a straight line fitted to a looping
    # vessel would be wrong), slid along the local axis to where it passes closest. The
    # closest such pair is the contact.
    order = idx[np.argsort(d)][:: max(1, len(idx) // 16)][:16]
    best = None
    for i in order:
        k = int(np.nonzero(idx == i)[0][0])
        q = piece_vox[j[k]] * sp
        axis = _vessel_axis(scene, piece_vox, q, r_v0)
        if axis is None:
            continue
        e = axis[1]
        for _ in range(2):
            q = q + float((pts_mm[i] - q) @ e) * e
            q = _section_centre(scene, piece_vox, q, e, r_v0)
            axis = _vessel_axis(scene, piece_vox, q, r_v0)
            if axis is not None:
                e = axis[1]
        dist = float(np.linalg.norm(q - pts_mm[i]))
        if best is None or dist < best[0]:
            best = (dist, int(i), q, e)
    if best is None:
        return None
    _, i, q, e = best
    # the nerve point closest to that vessel point
    near_i = np.nonzero(np.abs(track.s_mm - track.s_mm[i]) <= 1.0)[0]
    i = int(near_i[int(np.argmin(np.linalg.norm(pts_mm[near_i] - q, axis=1)))])
    u = q - pts_mm[i]
    centre_d = float(np.linalg.norm(u))
    u = u / max(centre_d, 1e-9)
    # each radius on the half cross-section facing away from the other structure
    r_v = float(
        radius_profile(scene.norm, np.vstack([q - 0.5 * e, q, q + 0.5 * e]) / sp, sp,
                       window_mm=max(2.0 * r_v0, 1.2),
                       exclude=own | other | scene.masks.brainstem | scene.masks.bone,
                       tube_level=settings.vessel_level, away_from=np.tile(-u, (3, 1)))[1]
    )
    if not np.isfinite(r_v) or r_v <= 0.15:
        r_v = r_v0
    # The nerve's width across the vessel (along w, normal to both the nerve and the direction
    # to the vessel) here and 2.5-4 mm to either side: the vessel lies off that line, so the
    # ratio of the two is the calibre loss.
    s = track.s_mm
    tans = cl.tangents(pts_mm)
    near_i = np.nonzero(np.abs(s - s[i]) <= 0.3)[0]
    # reference points on the same kind of course (attached to the pons, or free): lines
    # across an attached root also cross the pons's partial-volume rim
    attached = np.arange(len(s)) < track.i_rdp - 2
    same = attached == attached[i]
    ref_i = np.nonzero((np.abs(s - s[i]) >= 2.5) & (np.abs(s - s[i]) <= 6.0) & same)[0]
    if len(ref_i) < 4:
        ref_i = np.nonzero(np.abs(s - s[i]) >= 2.5)[0]
    r_here = float(np.median([_min_width(scene, pts_mm[k], tans[k], u, r_nom, (45, 90, 135))
                              for k in near_i]))
    r_ref_local = float(np.median([_min_width(scene, pts_mm[k], tans[k], u, r_nom,
                                              (0, 45, 90, 135)) for k in ref_i[::2]])
                        ) if len(ref_i) else r_here
    # the gap is measured with the nerve's usual radius: where a vessel indents the nerve it
    # sits in the dent, and the gap stays about zero either way
    gap = centre_d - r_nom - r_v
    bright = _gap_brightness(scene, pts_mm[i], q, tangent=e)
    info = dict(q=q, u=u, r_v=r_v, r_here=r_here, centre_d=centre_d, axis_e=e,
                r_v0=r_v0, bright=bright, r_nom=r_nom, r_ref_local=r_ref_local)
    return gap, i, info


def _line_radius(scene: Scene, p_mm: np.ndarray, w: np.ndarray, r_nom: float,
                 level: float = 0.25) -> float:
    """Half the dark chord of a tube along ``w`` through its axis point (line integral, mm)."""
    sp = scene.spacing
    half = r_nom + 1.0
    t = np.arange(-half, half + 1e-9, 0.1)
    pts = p_mm[None] + t[:, None] * w[None]
    val = ndimage.map_coordinates(scene.norm, (pts / sp).T, order=1, mode="nearest")
    dark = np.clip(1.0 - val, 0.0, None)
    return float(dark.sum() * 0.1 / (2.0 * (1.0 - level)))


def _min_width(scene: Scene, p_mm: np.ndarray, t: np.ndarray, u: np.ndarray, r_nom: float,
               angles_deg: tuple[int, ...]) -> float:
    """Smallest half-chord (`_line_radius`) of a nerve over directions normal to it.

    Directions are at ``angles_deg`` from ``u`` (projected normal to ``t``); the smallest is
    the one least disturbed by neighbours (a vessel, the other root, the brainstem).
    """
    u0 = u - (u @ t) * t
    n = float(np.linalg.norm(u0))
    if n < 1e-6:
        u0 = np.cross(t, [1.0, 0.0, 0.0])
        n = float(np.linalg.norm(u0))
    u0 /= n
    v0 = np.cross(t, u0)
    out = []
    for a in angles_deg:
        ang = np.radians(a)
        out.append(_line_radius(scene, p_mm, np.cos(ang) * u0 + np.sin(ang) * v0, r_nom))
    return float(min(out))


def _gap_brightness(scene: Scene, p_mm: np.ndarray, q_mm: np.ndarray, *,
                    tangent: np.ndarray) -> float:
    """Brightest T2 (CSF = 1) between two axes: CSF in a gap shows, touching tubes do not.

    The segment from the nerve's axis point to the vessel's is sampled every 0.1 mm (trilinear)
    on three parallel lines 0.25 mm apart along ``tangent``; the maximum of their mean over the
    middle 80 % of the segment is returned.
    """
    sp = scene.spacing
    d = q_mm - p_mm
    n = max(int(np.linalg.norm(d) / 0.1), 4)
    t = np.linspace(0.1, 0.9, n)
    prof = []
    for off in (-0.25, 0.0, 0.25):
        pts = (p_mm + off * tangent)[None] + t[:, None] * d[None]
        prof.append(ndimage.map_coordinates(scene.norm, (pts / sp).T, order=1, mode="nearest"))
    return float(np.max(np.mean(prof, axis=0)))


def _finding(scene, track, vm, i, gap, info, settings, porus_index, sulcus_z, v_root_z,
             pts_mm, tangents) -> ContactFinding:
    sp = scene.spacing
    s = track.s_mm
    d_rdp = float(s[i] - s[track.i_rdp])
    tz = TZ_DISTANCE_MM.get(track.name, 2.0)
    porus_mm = None if porus_index is None else float(s[porus_index] - s[track.i_rdp])
    seg = segment_name(d_rdp, tz, porus_mm)
    r_ref = info["r_ref_local"]
    ratio = 1.0 - info["r_here"] / max(r_ref, 1e-6)
    # displacement: deviation from the chord of the neighbouring course, away from the vessel
    w = settings.displacement_window_mm
    a = int(np.clip(np.searchsorted(s, s[i] - w), 0, len(s) - 1))
    b = int(np.clip(np.searchsorted(s, s[i] + w), 0, len(s) - 1))
    deviation = 0.0
    if b - a >= 4:
        chord = pts_mm[b] - pts_mm[a]
        cn = chord / max(np.linalg.norm(chord), 1e-9)
        seg_pts = pts_mm[a : b + 1]
        rel = seg_pts - pts_mm[a]
        off = rel - (rel @ cn)[:, None] * cn
        k = i - a
        deviation = float(-(off[k] @ info["u"]))  # positive: pushed away from the vessel
    grade = "contact"
    if deviation >= settings.displacement_mm:
        grade = "displacement"
    elif ratio >= settings.indentation_ratio:
        grade = "indentation"
    bright = info["bright"]
    if gap <= settings.contact_mm and bright <= settings.contact_brightness:
        confidence = 0.85 if grade == "contact" else 0.75
        note = f"auto: no CSF between nerve and vessel (surface gap {gap:.2f} mm)"
    else:
        # CSF partly seen, or a gap of a few tenths of a mm: heavy-T2 cannot decide
        confidence = float(np.clip(0.45 - 0.5 * max(gap - settings.contact_mm, 0.0)
                                   - 0.5 * max(bright - settings.contact_brightness, 0.0),
                                   0.1, 0.45))
        note = f"auto: possible contact, sub-voxel gap ({gap:.2f} mm, CSF signal {bright:.2f})"
    q_ijk = info["q"] / sp
    box = Box.around(q_ijk, 3.0, sp, scene.shape)
    grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(box.lo, box.hi)],
                                indexing="ij"), -1)
    ball = np.linalg.norm((grid - q_ijk) * sp, axis=-1) <= 3.0
    piece = np.zeros(scene.shape, bool)
    piece[box.slices] = ball & (vm.artery | vm.vein)[box.slices]
    name, kind, id_conf = identify(scene, vm, q_ijk, piece, sulcus_z_ras=sulcus_z,
                                   v_root_z_ras=v_root_z)
    t = tangents[i]
    angle = float(np.degrees(np.arccos(np.clip(abs(float(t @ info["axis_e"])), 0.0, 1.0))))
    p_n = pts_mm[i] + info["u"] * min(info["r_here"], info["r_nom"])
    p_v = info["q"] - info["u"] * info["r_v"]
    pos = scene.to_ras(0.5 * (p_n + p_v) / sp)
    tof_seen = bool(vm.tof_bright[piece].any())
    evidence = {
        "surface_gap_mm": round(float(gap), 3),
        "centre_distance_mm": round(float(info["centre_d"]), 3),
        "nerve_radius_here_mm": round(float(info["r_here"]), 3),
        "nerve_radius_reference_mm": round(r_ref, 3),
        "indentation_ratio": round(float(ratio), 3),
        "displacement_mm": round(float(deviation), 3),
        "vessel_radius_mm": round(float(info["r_v"]), 3),
        "csf_signal_between": round(float(info["bright"]), 3),
        "vessel_identity_confidence": round(float(id_conf), 2),
        "sequences": ["T2"] + (["TOF"] if tof_seen else []),
    }
    return ContactFinding(
        side=track.side, nerve=track.name, vessel=name, vessel_kind=kind, segment=seg,
        grade=grade, position_ras=(float(pos[0]), float(pos[1]), float(pos[2])),
        distance_from_brainstem_mm=round(d_rdp, 2),
        vessel_diameter_mm=round(2.0 * float(info["r_v"]), 2),
        crossing_angle_deg=round(angle, 1), confidence=round(confidence, 2), note=note,
        evidence=evidence,
    )


def _merge_close(found: list[ContactFinding], within_mm: float = 2.0) -> list[ContactFinding]:
    """Keep one finding per vessel where two lie within ``within_mm`` (the best gap)."""
    out: list[ContactFinding] = []
    for f in sorted(found, key=lambda f: f.evidence["surface_gap_mm"]):
        dup = any(
            g.vessel == f.vessel
            and np.linalg.norm(np.subtract(g.position_ras, f.position_ras)) < within_mm
            for g in out
        )
        if not dup:
            out.append(f)
    return out
