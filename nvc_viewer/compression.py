"""Neurovascular contact detection and grading along a tracked nerve.

Design note
-----------
For every nerve root the vessel voxels within reach of its centreline are split into local
pieces; for each piece the closest approach is found between two models -- the nerve's refined
centreline and the vessel's local axis (darkness centroid of its cross-sections, slid along its
principal direction to where it passes closest) -- and measured twice:

- the *surface gap*: centre distance minus the nerve's usual radius minus the vessel's radius,
  the latter from the partial-volume darkness integral of its half cross-section facing away
  from the nerve (`nvc_viewer.segment.roots.radius_profile`);
- the *CSF signal between* them: the brightest T2 (CSF = 1) along the segment joining the two
  axes, averaged over three parallel lines. Touching tubes leave no CSF between them (below
  about 0.55); a gap of half a voxel or more shows CSF (above about 0.75).

A piece may touch the nerve more than once (a vessel looping back, or two vessels touching each
other where they touch the nerve, whose voxels then form one piece): after its best contact,
the run more than 2.5 mm away on either side is searched again, and the far side of the nerve
(a sandwich).

Decision (`CompressionSettings`): contact when the CSF signal is at most ``contact_brightness``
(0.56) and the gap is not plainly apart (at most ``apart_mm``, 0.7 mm, and half the largest
voxel size's excess over 0.6 mm more: the vessel model rests on the few voxels the vessel and
the nerve's partial-volume halo share, and its gap is off by a few tenths of a mm where they are
contested, more in coarse voxels) and some straight path from the nerve's axis to a
voxel of the vessel crosses no CSF (its brightest sample at most ``gap_brightness``: a vessel
axis fitted to a neighbour's darkness sees no CSF where the vessel itself is apart), with
confidence 0.75-0.85; a sub-voxel gap that heavy-T2 cannot tell from contact (signal up to
``gap_brightness`` 0.78, gap up to ``ambiguous_mm`` 0.45 mm) is reported as a *low-confidence*
contact (confidence under 0.5); beyond that, nothing. A vessel that touches the root at
several points along it (running along it, or winding round it) is one finding; a contact
with a structure that the TOF shows in part but that leads to no arterial trunk is reported
as possible only -- except a plain contact at the facial root exit zone (attached segment, RDP,
TZ: where the culprit of hemifacial spasm lies) on a case without off-resonance bands.

Grades (docs/anatomy.md): *indentation* when the nerve's width across the vessel (line integral
of its darkness along the direction normal to the nerve and to the vessel, smallest of three
directions) is at least ``indentation_ratio`` (15 %) below its width 2.5-6 mm away -- not on
the attached segment, where those lines cross the pons's rim too (the width is kept as evidence
and said in the note); *displacement* when the centreline at the contact deviates from the
chord of the neighbouring free course (up to 8 mm either side -- a vessel bows the whole
cisternal root -- but from the RDP on: the root's bend where it leaves the pons is no
displacement) by more than ``displacement_mm`` (0.8 mm, about 0.7 of VII's diameter), away from
the vessel; otherwise *contact*. The segment (attached /
RDP / TZ / cisternal / meatal) and ``distance_from_brainstem_mm`` follow from the arclength
from the root detachment point.
Everything measured is kept as evidence with the finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .anatomy import ROOT_EXIT_ZONE, segment_name
from .segment import centreline as cl
from .segment.banding import BAND_WARNING_MM3
from .segment.crop import Box
from .segment.landmarks import TZ_DISTANCE_MM
from .segment.nerves import NerveTrack
from .segment.roots import nerve_voxels, radius_profile
from .segment.scene import Scene
from .segment.vessels import VesselMasks, identify

__all__ = [
    "ContactFinding",
    "CompressionSettings",
    "POSSIBLE_ONLY",
    "find_contacts",
    "segment_name",
]

#: Highest confidence of a contact reported as possible only (not proposed as an offender).
POSSIBLE_ONLY = 0.45
#: Least vessel volume (mm3) within 1.5 mm of a vessel's axis point: a tube 0.4 mm in radius
#: crossing that ball holds about 1.5 mm3; less is a fragment (of a band, of a halo).
FRAGMENT_MM3 = 1.5


@dataclass(frozen=True)
class CompressionSettings:
    """Thresholds of contact detection (mm unless said otherwise; CSF signal: normalised T2)."""

    contact_mm: float = 0.25
    ambiguous_mm: float = 0.45
    apart_mm: float = 0.7
    search_mm: float = 1.6
    indentation_ratio: float = 0.15
    displacement_mm: float = 0.8
    displacement_window_mm: float = 8.0
    #: Two contacts of one vessel within this distance along the nerve are one finding (a little
    #: over the 2.5 mm the search of one vessel piece keeps its contacts apart).
    same_vessel_mm: float = 3.0
    vessel_level: float = 0.18
    contact_brightness: float = 0.56
    gap_brightness: float = 0.78
    #: The two signal thresholds above hold for a nerve and a vessel whose own T2 is at most
    #: this level (CSF = 1); brighter structures raise them in proportion (`_on_reference_scale`).
    dark_level: float = 0.3
    #: Nerves whose contacts are proposed with full confidence: VII (hemifacial spasm) and V
    #: (trigeminal neuralgia). Contacts on VIII, where the AICA loops closely around the root
    #: near the porus, are reported as possible only (confidence under 0.5).
    proposed_nerves: tuple[str, ...] = ("VII", "V")


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
    settings: CompressionSettings | None = None,
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
    settings = settings or CompressionSettings()
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
    vessel_ijk: list[np.ndarray] = []
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
            for gap, i, info in _contacts_of_piece(
                scene, track, vm, piece_vox, run, other, r_nom, settings
            ):
                vessel_ijk.append(info["q"] / sp)
                out.append(
                    _finding(
                        scene,
                        track,
                        vm,
                        i,
                        gap,
                        info,
                        settings,
                        porus_index,
                        sulcus_z_ras,
                        v_root_z_ras,
                        pts_mm,
                        tangents,
                    )
                )
    out = _merge_one_vessel(out, [q - lo for q in vessel_ijk], vessel[box.slices], sp, settings)
    return _merge_close(out)


def _contacts_of_piece(
    scene, track, vm, piece_vox, run, other, r_nom, settings, depth=0, opposite=False
):
    """Every contact of one vessel piece with the nerve along a run.

    After the best one, the run more than 2.5 mm away on either side is searched again (a
    vessel touching twice, or two vessels touching each other where they touch the nerve:
    their voxels form one piece that never leaves the nerve in between), and, twice at most,
    the piece's voxels on the other side of the nerve (a sandwich: two vessels joined through
    the partial-volume halo count as one piece); ``opposite`` marks a search of the far side.
    """
    sp = scene.spacing
    cand = _measure(scene, track, vm, piece_vox, run, other, r_nom, settings)
    if cand is None:
        return []
    gap, i, info = cand
    found = []
    if depth == 0:
        ok = _plain_contact(gap, info, settings) or (
            gap <= settings.ambiguous_mm and info["bright"] <= settings.gap_brightness
        )
    elif opposite:
        # the far side of a piece wrapping round the nerve is a second vessel (a sandwich) only
        # where it plainly touches: no CSF seen and no gap
        ok = gap <= settings.contact_mm and info["bright"] <= settings.contact_brightness - 0.06
    else:
        # farther along the nerve: a second vessel, or the same one touching again, proposed
        # when no CSF is seen between (a sub-voxel gap there is not)
        ok = _plain_contact(gap, info, settings)
    if ok:
        found.append(cand)
    s = track.s_mm
    if not opposite:
        # each side is searched whether or not this one was a contact: the best of a long run
        # may be a near miss next to a plain contact; `_measure` keeps to the points it is
        # given, so the search ends (each part is at least 2.5 mm shorter)
        for part in (run[s[run] < s[i] - 2.5], run[s[run] > s[i] + 2.5]):
            if len(part) >= 2:
                found += _contacts_of_piece(
                    scene, track, vm, piece_vox, part, other, r_nom, settings, depth + 1
                )
    if depth >= 2:
        return found
    p = track.points[i] * sp
    side = (piece_vox * sp - p) @ info["u"]
    far_side = piece_vox[side < -0.3 * r_nom]
    if len(far_side) >= 4:
        near_run = run[np.abs(s[run] - s[i]) <= 2.5]
        found += _contacts_of_piece(
            scene, track, vm, far_side, near_run, other, r_nom, settings, depth + 1, True
        )
    return found


def _measure(scene, track, vm, piece_vox, idx, other, r_nom, settings):
    """Closest approach of one vessel piece to the nerve points ``idx``."""
    sp = scene.spacing
    pts_mm = track.points * sp
    tree = cKDTree(piece_vox * sp)
    d, j = tree.query(pts_mm[idx])
    r_v0 = float(np.median(vm.radius_mm[tuple(piece_vox.T)]))
    r_v0 = float(np.clip(r_v0, 0.3, 2.0))
    own = nerve_voxels(track, scene.shape, sp, pad_mm=0.45)

    # For nerve points along the run (closest first), the vessel's axis point nearest them:
    # darkness centroid of the vessel's cross-section (a straight line fitted to a looping
    # vessel would be wrong), slid along the local axis to where it passes closest. The pair
    # with the least CSF between them (then the closest) is the contact.
    def candidate(i: int) -> tuple[float, int, np.ndarray, np.ndarray] | None:
        k = int(np.nonzero(idx == i)[0][0])
        q = piece_vox[j[k]] * sp
        axis = _vessel_axis(scene, piece_vox, q, r_v0)
        if axis is None:
            return None
        e = axis[1]
        for _ in range(2):
            q = q + float((pts_mm[i] - q) @ e) * e
            q = _section_centre(scene, piece_vox, q, e, r_v0)
            axis = _vessel_axis(scene, piece_vox, q, r_v0)
            if axis is not None:
                e = axis[1]
        dist = float(np.linalg.norm(q - pts_mm[i]))
        if dist < 0.8 * r_nom + 0.3 * r_v0:
            return None  # a "vessel" inside the nerve: its partial-volume halo, not a vessel
        return _touch_score(scene, pts_mm[i], q, e), int(i), q, e

    def best_of(points) -> tuple[float, int, np.ndarray, np.ndarray] | None:
        found = [c for c in (candidate(int(i)) for i in points) if c is not None]
        return min(found, key=lambda c: c[0]) if found else None

    order = idx[np.argsort(d)][:: max(1, len(idx) // 16)][:16]
    best = best_of(order)
    if best is not None:
        # every nerve point within 0.75 mm of the best sampled one: the CSF seen between two
        # axes changes over a few tenths of a mm, and a stride over the run may step over
        # the point where the vessel touches
        s_best = track.s_mm[best[1]]
        close = idx[(np.abs(track.s_mm[idx] - s_best) <= 0.75) & ~np.isin(idx, order)]
        best = min([c for c in (best, best_of(close)) if c is not None], key=lambda c: c[0])
    if best is None:
        return None
    _, i, q, e = best
    # the nerve point within 1 mm with the least CSF between it and that vessel point (then
    # the closest): where the vessel crosses obliquely, the foot of the perpendicular may see
    # CSF past the vessel's edge while a point a few tenths of a mm along touches it
    inside = 0.8 * r_nom + 0.3 * r_v0
    near_i = idx[np.abs(track.s_mm[idx] - track.s_mm[i]) <= 1.0]
    i_best = int(near_i[int(np.argmin([_touch_score(scene, pts_mm[k], q, e) for k in near_i]))])
    if np.linalg.norm(q - pts_mm[i_best]) >= inside:
        i = i_best
    elif not vm.tof_bright[tuple(piece_vox.T)].any():
        # that point lies nearer the vessel's axis than the two radii allow: on the T2 alone
        # the piece may be the nerve's partial-volume halo, or a vessel the track itself runs
        # along, not a vessel beside the nerve
        return None
    else:
        # a vessel the TOF shows (small, or cut in two by the nerve's mask): the best point
        # outside it, else the one the search found
        outside = near_i[np.linalg.norm(pts_mm[near_i] - q, axis=1) >= inside]
        if len(outside):
            score = [_touch_score(scene, pts_mm[k], q, e) for k in outside]
            i = int(outside[int(np.argmin(score))])
    u = q - pts_mm[i]
    centre_d = float(np.linalg.norm(u))
    u = u / max(centre_d, 1e-9)
    # each radius on the half cross-section facing away from the other structure
    r_v = float(
        radius_profile(
            scene.norm,
            np.vstack([q - 0.5 * e, q, q + 0.5 * e]) / sp,
            sp,
            window_mm=max(2.0 * r_v0, 1.2),
            exclude=own | other | scene.masks.brainstem | scene.masks.bone,
            tube_level=settings.vessel_level,
            away_from=np.tile(-u, (3, 1)),
        )[1]
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
    r_here = float(
        np.median([_min_width(scene, pts_mm[k], tans[k], u, r_nom, (45, 90, 135)) for k in near_i])
    )
    r_ref_local = (
        float(
            np.median(
                [
                    _min_width(scene, pts_mm[k], tans[k], u, r_nom, (0, 45, 90, 135))
                    for k in ref_i[::2]
                ]
            )
        )
        if len(ref_i)
        else r_here
    )
    # the gap is measured with the nerve's usual radius: where a vessel indents the nerve it
    # sits in the dent, and the gap stays about zero either way
    gap = centre_d - r_nom - r_v
    # the CSF seen between them, on the scale of structures at the reference level: where
    # the nerve or the vessel is itself brighter (balanced-SSFP inflow, coarse voxels), what
    # lies between two touching tubes is brighter too
    level = _dark_level(scene, pts_mm, s, i, q, e)
    bright = _on_reference_scale(_gap_brightness(scene, pts_mm[i], q, tangent=e), level, settings)
    bridge = _on_reference_scale(
        _darkest_bridge(
            scene, pts_mm, idx, piece_vox, r_nom, other | scene.masks.brainstem | scene.masks.bone
        ),
        level,
        settings,
    )
    info = dict(
        q=q,
        u=u,
        r_v=r_v,
        r_here=r_here,
        centre_d=centre_d,
        axis_e=e,
        r_v0=r_v0,
        bright=bright,
        bridge=bridge,
        r_nom=r_nom,
        r_ref_local=r_ref_local,
        dark_level=level,
        # the radii the gap rests on are read off partial volume: in coarse voxels they are
        # off by more, and "plainly apart" starts farther (half the excess over 0.6 mm)
        apart_mm=settings.apart_mm + 0.5 * max(float(np.max(sp)) - 0.6, 0.0),
    )
    return gap, i, info


def _dark_level(
    scene: Scene, pts_mm: np.ndarray, s: np.ndarray, i: int, q: np.ndarray, e: np.ndarray
) -> float:
    """The brighter of the nerve's and the vessel's own T2 at the contact (CSF = 1).

    Medians of the normalised T2 sampled (trilinear) on the nerve's axis within 2 mm along it
    and on the vessel's axis within 0.5 mm.
    """
    sp = scene.spacing
    nerve = pts_mm[np.abs(s - s[i]) <= 2.0]
    vessel = q[None] + np.array([-0.5, 0.0, 0.5])[:, None] * e[None]
    levels = [
        float(np.median(ndimage.map_coordinates(scene.norm, (p / sp).T, order=1, mode="nearest")))
        for p in (nerve, vessel)
    ]
    return max(levels)


def _on_reference_scale(value: float, level: float, settings: CompressionSettings) -> float:
    """A T2 signal between two structures, rescaled as if they were at the reference level.

    The fraction of the way from the structures' own level to CSF is kept: with the level at or
    below ``settings.dark_level`` the value is unchanged; levels above 0.6 count as 0.6.
    """
    ref = settings.dark_level
    # a "structure" brighter than about 0.6 of CSF is mostly CSF itself: no rescaling past it
    low = min(max(level, ref), 0.6)
    return float(ref + (value - low) / (1.0 - low) * (1.0 - ref)) if value > low else value


def _line_radius(
    scene: Scene, p_mm: np.ndarray, w: np.ndarray, r_nom: float, level: float = 0.25
) -> float:
    """Half the dark chord of a tube along ``w`` through its axis point (line integral, mm)."""
    sp = scene.spacing
    half = r_nom + 1.0
    t = np.arange(-half, half + 1e-9, 0.1)
    pts = p_mm[None] + t[:, None] * w[None]
    val = ndimage.map_coordinates(scene.norm, (pts / sp).T, order=1, mode="nearest")
    dark = np.clip(1.0 - val, 0.0, None)
    return float(dark.sum() * 0.1 / (2.0 * (1.0 - level)))


def _min_width(
    scene: Scene,
    p_mm: np.ndarray,
    t: np.ndarray,
    u: np.ndarray,
    r_nom: float,
    angles_deg: tuple[int, ...],
) -> float:
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


def _darkest_bridge(
    scene: Scene,
    pts_mm: np.ndarray,
    idx: np.ndarray,
    piece_vox: np.ndarray,
    r_nom: float,
    blocked: np.ndarray,
) -> float:
    """The least CSF met going straight from the nerve's axis to any voxel of the vessel.

    For each nerve point of the run and each vessel voxel within ``r_nom + 1.5`` mm of it, the
    T2 is sampled (trilinear, 0.1 mm) along the segment between them, from the nerve's surface
    on; the segment's brightest sample is the CSF it crosses. The smallest of these over all
    pairs is returned: about the vessel's own level where the two touch, CSF (about 1) across
    a gap. It needs no model of the vessel, so it holds where the vessel's axis is hard to fit.
    Samples in ``blocked`` (another nerve, the brainstem, bone) count as CSF: a path through
    them is no contact.
    """
    sp = scene.spacing
    tree = cKDTree(piece_vox * sp)
    best = np.inf
    for i in idx[:: max(1, len(idx) // 24)]:
        p = pts_mm[i]
        near = tree.query_ball_point(p, r=r_nom + 1.5)
        if not near:
            continue
        v = piece_vox[np.asarray(near)] * sp
        d = v - p
        n = np.linalg.norm(d, axis=1)
        ok = n > 1e-6
        v, d, n = v[ok], d[ok], n[ok]
        if len(v) == 0:
            continue
        t0 = np.minimum(0.8 * r_nom / n, 0.9)
        steps = np.linspace(0.0, 1.0, 12)
        t = t0[:, None] + (1.0 - t0)[:, None] * steps[None]
        samples = p[None, None] + t[..., None] * d[:, None, :]
        coords = (samples.reshape(-1, 3) / sp).T
        val = ndimage.map_coordinates(scene.norm, coords, order=1, mode="nearest")
        vox = np.clip(np.rint(coords).astype(int).T, 0, np.array(scene.shape) - 1)
        val = np.where(blocked[tuple(vox.T)], 1.0, val).reshape(t.shape)
        best = min(best, float(val.max(axis=1).min()))
    return best if np.isfinite(best) else 1.0


def _gap_brightness(
    scene: Scene, p_mm: np.ndarray, q_mm: np.ndarray, *, tangent: np.ndarray
) -> float:
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


def _touch_score(scene: Scene, p_mm: np.ndarray, q_mm: np.ndarray, e: np.ndarray) -> float:
    """How plainly a nerve axis point and a vessel axis point touch (lower: more plainly).

    Where they touch there is no CSF between the axes: ranked by that first, by the distance
    between the axes second (0.1 per mm).
    """
    return _gap_brightness(scene, p_mm, q_mm, tangent=e) + 0.1 * float(np.linalg.norm(q_mm - p_mm))


def _plain_contact(gap: float, info: dict[str, Any], settings: CompressionSettings) -> bool:
    """No CSF between nerve and vessel, and a model gap not plainly apart.

    Two readings of "no CSF between": along the segment joining the two axes
    (``info["bright"]``), and on the darkest straight path from the nerve's axis to any voxel
    of the vessel (``info["bridge"]``). The second needs no model of the vessel: where every
    such path crosses CSF (or the brainstem, or another root), the vessel's axis was fitted to
    something else and the two do not touch.
    """
    return (
        gap <= info["apart_mm"]
        and info["bright"] <= settings.contact_brightness
        and info["bridge"] <= settings.gap_brightness
    )


def _finding(
    scene, track, vm, i, gap, info, settings, porus_index, sulcus_z, v_root_z, pts_mm, tangents
) -> ContactFinding:
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
    # The root bends where it leaves the pons: a chord across the RDP cuts that corner, and a
    # vessel in the angle would always look like it pushed the nerve aside. An attached root
    # cannot be displaced, so the window starts at the RDP, and a contact within a quarter of
    # the window from it has too little free course on its near side to tell.
    a = max(a, int(track.i_rdp))
    deviation = 0.0
    if b - a >= 4 and s[i] - s[a] >= 0.25 * w:
        chord = pts_mm[b] - pts_mm[a]
        cn = chord / max(np.linalg.norm(chord), 1e-9)
        seg_pts = pts_mm[a : b + 1]
        rel = seg_pts - pts_mm[a]
        off = rel - (rel @ cn)[:, None] * cn
        k = i - a
        deviation = float(-(off[k] @ info["u"]))  # positive: pushed away from the vessel
    grade = "contact"
    # lines across a root lying on the pons cross the pons's partial-volume rim too: its width
    # there is evidence, not a grade
    calibre_graded = seg != "attached"
    narrowed = ratio >= settings.indentation_ratio
    if deviation >= settings.displacement_mm:
        grade = "displacement"
    elif calibre_graded and narrowed:
        grade = "indentation"
    bright = info["bright"]
    # the CSF signal decides; the model gap (whose vessel axis can be off by a few tenths of a
    # mm where the vessel loops) only vetoes what is plainly apart
    if _plain_contact(gap, info, settings):
        confidence = 0.85 if grade == "contact" else 0.75
        note = f"auto: no CSF between nerve and vessel (surface gap {gap:.2f} mm)"
    else:
        # CSF partly seen, or a gap of a few tenths of a mm: heavy-T2 cannot decide
        confidence = float(
            np.clip(
                POSSIBLE_ONLY
                - 0.5 * max(gap - settings.contact_mm, 0.0)
                - 0.5 * max(bright - settings.contact_brightness, 0.0),
                0.1,
                POSSIBLE_ONLY,
            )
        )
        note = f"auto: possible contact, sub-voxel gap ({gap:.2f} mm, CSF signal {bright:.2f})"
    if narrowed and not calibre_graded:
        note += f"; width {100 * ratio:.0f}% below its neighbours, not graded on the attached root"
    if track.name not in settings.proposed_nerves:
        # shown for completeness, not proposed as an offender (see CompressionSettings)
        confidence = min(confidence, POSSIBLE_ONLY)
        note += f"; {track.name} is not a usual site of neurovascular compression"
    q_ijk = info["q"] / sp
    box = Box.around(q_ijk, 3.0, sp, scene.shape)
    grid = np.stack(
        np.meshgrid(*[np.arange(a, b) for a, b in zip(box.lo, box.hi)], indexing="ij"), -1
    )
    dist = np.linalg.norm((grid - q_ijk) * sp, axis=-1)
    vessel = (vm.artery | vm.vein)[box.slices]
    piece = np.zeros(scene.shape, bool)
    piece[box.slices] = (dist <= 3.0) & vessel
    name, kind, id_conf = identify(
        scene,
        vm,
        q_ijk,
        piece,
        sulcus_z_ras=sulcus_z,
        v_root_z_ras=v_root_z,
        axis=info["axis_e"],
    )
    if vm.kind_known and name == "unknown":
        # bright on TOF in part, yet traced to no trunk: a vessel the TOF shows only in
        # pieces, or a dark neighbour (another root, the meatus's wall) beside TOF-bright voxels.
        # Only a plain contact at the facial root exit zone, the culprit's place in hemifacial
        # spasm, stays proposed -- unless bands crossed the cisterns (a piece of one may be it)
        rez = track.name == "VII" and seg in ROOT_EXIT_ZONE and _plain_contact(gap, info, settings)
        if not rez or scene.band_mm3 >= BAND_WARNING_MM3:
            confidence = min(confidence, POSSIBLE_ONLY)
        note += "; the structure touching it could not be traced to an artery"
    touching = (dist <= 1.5) & vessel
    if (
        vm.kind_known
        and scene.band_mm3 >= BAND_WARNING_MM3
        and not vm.tof_bright[box.slices][touching].any()
        and (seg == "cisternal" or touching.sum() * float(np.prod(sp)) < FRAGMENT_MM3)
    ):
        # on a scan crossed by off-resonance bands, a structure touching the root that the
        # TOF does not show where it touches may be a band's piece, or (in the cistern) the
        # other root, beside an artery: possible only. Along the pons, where the TOF often
        # misses a small artery, only a fragment is.
        confidence = min(confidence, POSSIBLE_ONLY)
        note += "; not seen on the TOF where it touches, on a scan crossed by bands"
    t = tangents[i]
    angle = float(np.degrees(np.arccos(np.clip(abs(float(t @ info["axis_e"])), 0.0, 1.0))))
    p_n = pts_mm[i] + info["u"] * min(info["r_here"], info["r_nom"])
    p_v = info["q"] - info["u"] * info["r_v"]
    pos = scene.to_ras(0.5 * (p_n + p_v) / sp)
    tof_seen = bool(vm.tof_bright[piece].any())
    u_ras = scene.affine[:3, :3] @ (info["u"] / sp)
    u_ras = u_ras / max(float(np.linalg.norm(u_ras)), 1e-9)
    evidence = {
        "surface_gap_mm": round(float(gap), 3),
        "centre_distance_mm": round(float(info["centre_d"]), 3),
        "nerve_radius_here_mm": round(float(info["r_here"]), 3),
        "nerve_radius_reference_mm": round(r_ref, 3),
        "indentation_ratio": round(float(ratio), 3),
        "displacement_mm": round(float(deviation), 3),
        "vessel_radius_mm": round(float(info["r_v"]), 3),
        "csf_signal_between": round(float(info["bright"]), 3),
        "csf_signal_darkest_bridge": round(float(info["bridge"]), 3),
        "structures_own_signal": round(float(info["dark_level"]), 3),
        "vessel_identity_confidence": round(float(id_conf), 2),
        "sequences": ["T2"] + (["TOF"] if tof_seen else []),
        "approach_direction_ras": [round(float(x), 3) for x in u_ras],
    }
    return ContactFinding(
        side=track.side,
        nerve=track.name,
        vessel=name,
        vessel_kind=kind,
        segment=seg,
        grade=grade,
        position_ras=(float(pos[0]), float(pos[1]), float(pos[2])),
        distance_from_brainstem_mm=round(d_rdp, 2),
        vessel_diameter_mm=round(2.0 * float(info["r_v"]), 2),
        crossing_angle_deg=round(angle, 1),
        confidence=round(confidence, 2),
        note=note,
        evidence=evidence,
    )


def _merge_one_vessel(
    found: list[ContactFinding],
    vessel_ijk: list[np.ndarray],
    vessel: np.ndarray,
    spacing: np.ndarray,
    settings: CompressionSettings,
) -> list[ContactFinding]:
    """One finding per vessel lying along the root.

    A vessel that runs along the nerve, or winds round it, touches it at several points a
    few mm apart, and each is measured as a contact of its own. Two findings on one nerve are
    the same vessel when they carry the same name (not "unknown"), lie within
    ``settings.same_vessel_mm`` of each other along the nerve, and their vessel points are
    joined through the vessel mask within a box around them. The one with less CSF between
    nerve and vessel stays, with the others' distances in its evidence. Within 1.5 mm along
    the nerve the name and the side decide: a vessel crossing over the root is measured on
    both sides of the crossing, and the nerve's own voxels split it there. Two vessels on
    opposite sides at one place (a sandwich: approach directions more than about 135 degrees
    apart) are never merged.

    Parameters
    ----------
    found : list of ContactFinding
    vessel_ijk : list of (3,) ndarray
        Each finding's vessel axis point, in the voxel indices of ``vessel``.
    vessel : (I, J, K) bool ndarray
        Artery and vein voxels.
    spacing : (3,) ndarray
        Voxel size (mm).
    """
    order = sorted(range(len(found)), key=lambda k: found[k].evidence["csf_signal_between"])
    kept: list[int] = []
    for k in order:
        f = found[k]
        twin = next(
            (
                m
                for m in kept
                if _same_vessel(
                    found[m], f, vessel_ijk[m], vessel_ijk[k], vessel, spacing, settings
                )
            ),
            None,
        )
        if twin is None:
            kept.append(k)
        else:
            also = found[twin].evidence.setdefault("also_touches_at_mm", [])
            also.append(f.distance_from_brainstem_mm)
    return [found[k] for k in sorted(kept)]


def _same_vessel(
    a: ContactFinding,
    b: ContactFinding,
    qa: np.ndarray,
    qb: np.ndarray,
    vessel: np.ndarray,
    spacing: np.ndarray,
    settings: CompressionSettings,
) -> bool:
    if (a.side, a.nerve, a.vessel) != (b.side, b.nerve, b.vessel) or a.vessel == "unknown":
        return False
    da, db = a.distance_from_brainstem_mm, b.distance_from_brainstem_mm
    if da is None or db is None or abs(da - db) > settings.same_vessel_mm:
        return False
    ua = np.asarray(a.evidence["approach_direction_ras"])
    ub = np.asarray(b.evidence["approach_direction_ras"])
    if abs(da - db) <= 1.5:
        return float(ua @ ub) >= -0.7  # opposite: a sandwich
    centre = 0.5 * (qa + qb)
    radius = 0.5 * float(np.linalg.norm((qa - qb) * spacing)) + 4.0
    box = Box.around(centre, radius, spacing, vessel.shape)
    local = vessel[box.slices]
    lab, _ = ndimage.label(local, structure=np.ones((3, 3, 3)))
    vox = np.argwhere(local)
    if len(vox) == 0:
        return False
    ends = []
    for q in (qa, qb):
        d = np.linalg.norm((vox + np.asarray(box.lo) - q) * spacing, axis=1)
        j = int(np.argmin(d))
        if d[j] > 1.0:
            return False
        ends.append(lab[tuple(vox[j])])
    return ends[0] == ends[1]


def _merge_close(found: list[ContactFinding], within_mm: float = 2.0) -> list[ContactFinding]:
    """One finding per contact.

    Two findings on the same nerve whose contacts lie within ``within_mm`` of each other along
    it, with the vessel coming from the same side (approach directions less than about 70
    degrees apart), are one contact seen twice: the one with less CSF between nerve and vessel
    stays. Vessels on opposite sides (a sandwich) stay apart.
    """
    out: list[ContactFinding] = []
    for f in sorted(found, key=lambda f: f.evidence["csf_signal_between"]):
        u = np.asarray(f.evidence["approach_direction_ras"])
        dup = False
        for g in out:
            if (g.side, g.nerve) != (f.side, f.nerve):
                continue
            dg, df = g.distance_from_brainstem_mm, f.distance_from_brainstem_mm
            along = (
                abs(dg - df)
                if dg is not None and df is not None
                else float(np.linalg.norm(np.subtract(g.position_ras, f.position_ras)))
            )
            if (
                along <= within_mm
                and float(u @ np.asarray(g.evidence["approach_direction_ras"])) > 0.35
            ):
                dup = True
                break
        if not dup:
            out.append(f)
    return out
