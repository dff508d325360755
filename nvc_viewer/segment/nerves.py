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
the IAM; VII then at its own scale with VIII's core forbidden (crossed at a cost only where the
two lie pressed together and no other path exists); TOF-bright voxels (arteries) cost more.
A path stops where it reaches the brainstem's surface; the attached segment of VII, which lies
on the pons for about 10 mm before the root detachment point (RDP), is then followed within
a thin band over the surface by a second, "as far as it stays tubular" path. When no such
segment can be followed from where the first path starts (it reached the surface on a vessel lying
on the pons and joined the root past the RDP), VII is traced again from that band; so it is
when its root exit point is not where anatomy puts it -- at the height of VIII's exit, in front
of it and medial to it (a vessel lying on the pons that the TOF does not show, followed down to
the surface above or below the pontomedullary sulcus). Where no attached segment is found at
all (a root with the pons's own T2 signal is no tube where it lies on the pons), it is the
darkest course just over the brainstem's smoothed surface from where the path starts down to
where the exit lies (`_attached_by_darkness`). Inside the IAM the roots nearly touch:
there each is followed along the canal's axis (`meatus.march`).

The voxel path is refined to sub-voxel positions (darkness centroid in the plane normal to the
path, with other structures masked out) and smoothed; the radius along it comes from the
partial-volume darkness integral of cross-sections (`roots.radius_profile`). The RDP is the knee
of the distance-to-brainstem profile along the nerve.

This module holds the trackers and the per-scene maps they share (`TrackingCosts`); the path
search is in `paths`, the meatus and the other porus targets in `meatus`, the geometry of a
traced root (centreline, radius, RDP, voxels) in `roots`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import numpy as np
from scipy import ndimage

from ..forked import side_by_side
from . import centreline as cl
from .crop import Box
from .masks import dilate_mm, erode_mm
from .meatus import cistern_wall, find_iam, lateral_edge, meatal_line
from .paths import attached_segment, cheapest_path, cost_from_strength, cut_weak_tail, extend_tube
from .roots import (
    NERVE_LEVEL,
    STEP_MM,
    balls,
    centreline_from_path,
    distance_to_surface,
    find_rdp,
    nerve_voxels,
    radius_profile,
    refine_centreline,
    track_mask,
)
from .scene import Scene
from .tubes import ScaleSpace, scale_space

__all__ = [
    "NerveTrack",
    "NERVE_RADIUS_MM",
    "NERVE_LEVEL",
    "STEP_MM",
    "TUBE_SIGMAS_MM",
    "TrackingCosts",
    "tracking_costs",
    "tube_scales",
    "track_facial_pair",
    "track_trigeminal",
    "track_nerves",
    # where they were first defined; they live in `meatus` and `roots`
    "find_iam",
    "refine_centreline",
    "radius_profile",
    "distance_to_surface",
    "find_rdp",
    "nerve_voxels",
]

T = TypeVar("T")

#: Typical radii (mm) in the CPA (docs/anatomy.md: diameters 1.1-1.2, 2.1-2.2, about 2.5).
NERVE_RADIUS_MM = {"VII": 0.58, "VIII": 1.08, "V": 1.25}


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


#: Scales (mm) of the shared dark-tube scale space: VII (r ~0.6), VIII (~1.1), V (~1.25) and
#: vessels of 0.3-2 mm radius.
TUBE_SIGMAS_MM = (0.4, 0.55, 0.75, 1.0, 1.4)


def tube_scales(scene: Scene, extra: np.ndarray | None = None) -> ScaleSpace:
    """The crop's dark-tube scale space (`tubes.scale_space`), computed once per scene.

    Evaluated on the dark tubes, the partial-volume band on the brainstem, the TOF-bright
    tubes and ``extra``, each grown by 0.5 mm.
    """
    if scene.scales is not None:
        return scene.scales
    m = scene.masks
    where = m.dark.copy()
    if extra is not None:
        where |= extra
    if scene.tof is not None:
        where |= (scene.tof > 0.29) & (scene.norm < 0.62) & m.cistern & ~m.brainstem
    where = dilate_mm(where, 0.5, scene.spacing)
    ss = scale_space(scene.norm, scene.spacing, TUBE_SIGMAS_MM, where)
    scene.scales = ss
    return ss


# -- the tracker ----------------------------------------------------------------------------------
@dataclass
class TrackingCosts:
    """The maps the trackers share in one scene (`tracking_costs`), kept as `Scene.costs`.

    Attributes
    ----------
    small, large, v : (I, J, K) ndarray
        Dark-tube strength at the scales of VII (sigma 0.4 mm), VIII (0.75) and V (1.0).
    cand : (I, J, K) bool ndarray
        Voxels a root may pass through (dark, in the cistern or the meatus, away from bone).
    shell : (I, J, K) bool ndarray
        Within 1.6 mm outside the brainstem: where a root's path starts.
    iam : (I, J, K) bool ndarray
        The internal auditory meatus (`meatus.find_iam`).
    arteries : (I, J, K) bool ndarray
        Candidate voxels bright on the aligned TOF, grown by hysteresis.
    artery_core : (I, J, K) bool ndarray
        Their bright cores, forbidden to a root.
    penalty : (I, J, K) float32 ndarray
        Cost factor, 1 where the TOF is dark, up to 20 on arteries.
    surface_band : (I, J, K) bool ndarray
        The thin band over the brainstem surface the attached segment of a root lies in.
    iam_near : (I, J, K) bool ndarray
        The meatus grown by 1.5 mm.
    path_viii, path_vii : (I, J, K) float64 ndarray
        Path cost of VIII and of VII (`paths.cost_from_strength` of ``large`` and ``small``
        times ``penalty``), before each side forbids what it must.
    """

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
    path_viii: np.ndarray
    path_vii: np.ndarray

    def at_scale(self, sigma_mm: float) -> np.ndarray:
        """The strength map closest to ``sigma_mm`` (0.4 VII, 0.75 VIII, 1.0 V)."""
        return min(
            (
                (abs(sigma_mm - s), a)
                for s, a in ((0.4, self.small), (0.75, self.large), (1.0, self.v))
            ),
            key=lambda x: x[0],
        )[1]


def tracking_costs(scene: Scene) -> TrackingCosts:
    """The trackers' maps for a scene (see `TrackingCosts`); the tube scale space is
    computed here (`tube_scales`) unless the scene already has one."""
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
    ss = scene.scales
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
    # the paths' costs, made once for both sides
    path8 = cost_from_strength(large, 0.2) * penalty
    path7 = cost_from_strength(small, 0.2) * penalty
    return TrackingCosts(
        small, large, v, cand, shell, iam, arteries, core, penalty, band, iam_near, path8, path7
    )


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


#: Cost factor for VII's path across VIII's core (see `track_facial_pair`).
VIII_CORE_PENALTY = 10.0
#: Largest share of VII's free path (from where it leaves the pons) that may run in VIII's
#: core: VII may lie pressed into VIII's groove over the distal part of the cistern, up to the
#: porus -- 5 mm of a 14 mm free path.
VIII_CORE_SHARE = 0.4


def track_facial_pair(scene: Scene, costs: TrackingCosts, side: str) -> list[NerveTrack]:
    """VIII then VII on one side (see the module note)."""
    sp = scene.spacing
    side_m = scene.side_mask(side)
    tracks: list[NerveTrack] = []
    allowed = costs.cand & side_m & ~costs.artery_core
    # the pair runs from the pontomedullary sulcus up to the meatus: a band of heights around
    # the meatus bounds the search (and its cost)
    iam_z = (
        scene.to_ras(np.argwhere(costs.iam & side_m))[:, 2] if (costs.iam & side_m).any() else None
    )
    if iam_z is not None:
        z = scene.z_ras()
        allowed &= (z >= iam_z.min() - 14.0) & (z <= iam_z.max() + 8.0)
    starts_all = costs.shell & allowed
    ends_all = costs.iam & allowed
    if not ends_all.any():
        # the meatus is outside the field of view (or not recognised): the roots then run to
        # where the cistern ends laterally (the porus lies on its wall) or to the lateral edge
        # of the crop; the tubes reaching either are the candidates
        scene.warnings.append(
            f"no internal auditory meatus found on the {side}: the roots are followed to the "
            "cistern's lateral wall"
        )
        ends_all = lateral_edge(scene, side, allowed)
        wall = cistern_wall(scene, allowed)
        if not (ends_all.any() or wall.any()):
            return tracks
    else:
        wall = np.zeros_like(ends_all)
    # VIII: the thicker root
    cost8 = np.where(allowed, costs.path_viii, np.inf)
    p8 = cheapest_path(cost8, np.argwhere(starts_all), np.argwhere(ends_all), sp)
    if p8 is None and wall.any():
        # no tube reaches the crop's edge: the roots end on the cistern's wall
        ends_all = wall
        p8 = cheapest_path(cost8, np.argwhere(starts_all), np.argwhere(ends_all), sp)
    forbid = costs.artery_core.copy()
    porus8 = None
    if p8 is not None:
        porus8 = p8[-1]
        meatal8 = meatal_line(
            scene, costs.iam, side_m, p8[-1], costs.artery_core, radius=NERVE_RADIUS_MM["VIII"]
        )
        if meatal8 is not None and len(meatal8) > 2:
            p8 = np.concatenate([p8.astype(np.float64), meatal8[1:]])
        # VIII's core only: at the porus the two roots are a tenth of a mm apart
        forbid |= track_mask(p8, 0.7 * NERVE_RADIUS_MM["VIII"], scene.shape, sp)
    cost7 = np.where(costs.cand & side_m & ~forbid, costs.path_vii, np.inf)
    p7 = cheapest_path(
        cost7, np.argwhere(starts_all & ~forbid), np.argwhere(ends_all & ~forbid), sp
    )
    if p7 is None and porus8 is not None:
        # VIII's core may cover all of the porus that was found: VII enters the same porus,
        # beside VIII, so it may end anywhere within 3 mm of where VIII's path ends
        near = balls(porus8[None].astype(np.float64), np.array([3.0]), scene.shape, sp)
        lab, _ = ndimage.label(np.isfinite(cost7), structure=np.ones((3, 3, 3)))
        reach = np.isin(lab, np.unique(lab[starts_all & ~forbid]))  # starts: finite, lab > 0
        p7 = cheapest_path(
            cost7,
            np.argwhere(starts_all & ~forbid),
            np.argwhere((ends_all | near) & reach),
            sp,
        )
    if p7 is None and porus8 is not None:
        # where the two roots lie pressed together in the cistern, VIII's core may cover VII's
        # course too (in coarse voxels it reaches the next voxel) and cut it: VII may then cross
        # that core, at VIII_CORE_PENALTY times the cost, for up to VIII_CORE_SHARE of its path
        core8 = forbid & ~costs.artery_core
        soft = np.where(costs.cand & side_m & ~costs.artery_core, costs.path_vii, np.inf)
        soft = np.where(core8, VIII_CORE_PENALTY * soft, soft)
        p7 = cheapest_path(
            soft, np.argwhere(starts_all & ~forbid), np.argwhere(ends_all & ~forbid), sp
        )
        if p7 is not None and np.mean(core8[tuple(p7.T)]) > VIII_CORE_SHARE:
            p7 = None
    if p7 is None:
        if p8 is not None:
            pts8, r8 = centreline_from_path(
                scene,
                p8,
                NERVE_RADIUS_MM["VIII"],
                costs.arteries & ~track_mask(p8, 0.3, scene.shape, sp),
            )
            tracks.append(_finish(scene, "VIII", side, pts8, r8))
        return tracks
    # the attached segment lies on the pons (its axis about 0.5 mm off the surface) for about
    # 10 mm: follow it within a thin shell, no farther than that
    surf_band = costs.surface_band & side_m
    attached = attached_segment(cost7, surf_band, p7, costs.small, sp)
    if attached is None:
        # The cheapest path may leave the shell (up to 1.6 mm from the pons) on a vessel lying
        # on the pons and join the root only past the RDP (with fine voxels more such vessel
        # voxels fall inside the shell): from there the attached segment cannot be reached.
        # Start then from the thin band on the surface the attached root lies in.
        p7b = cheapest_path(
            cost7, np.argwhere(surf_band & allowed & ~forbid), np.argwhere(ends_all & ~forbid), sp
        )
        if p7b is not None and len(p7b) > 3:
            attached_b = attached_segment(cost7, surf_band, p7b, costs.small, sp)
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
            p7c = cheapest_path(cost7, band, np.argwhere(ends_all & ~forbid), sp)
            if p7c is not None and len(p7c) > 3:
                attached_c = attached_segment(cost7, surf_band, p7c, costs.small, sp)
                if attached_c is not None and _beside_viii(scene, attached_c[-1:], p8[0])[0]:
                    p7, attached = p7c, attached_c
                elif _joins_on_pons(scene, p7c, p7):
                    # no attached segment to follow (the root lies on the pons with the pons's
                    # own signal, and the brainstem's mask takes it in), but a course from
                    # where anatomy puts the exit runs along the pons into the root that was
                    # found: the same root
                    p7, attached = p7c, None
    on_pons = None  # where a course over the pons found by its darkness joins the path
    stub = attached is not None and cl.arclength(attached * sp)[-1] < ATTACHED_STUB_MM
    if (attached is None or stub) and p8 is not None:
        # no attached segment could be followed as a tube, or only its first millimetres, where
        # the root rises off the pons: where the root has the pons's own T2 signal it is no
        # tube there, but still the darkest line over the pons; follow that on
        start = p7[0] if attached is None else attached[-1]
        course = _attached_by_darkness(scene, costs, start, side_m & ~forbid)
        if course is not None:
            on_pons = start
            attached = course if attached is None else np.concatenate([attached, course[1:]])
    # the path runs brainstem -> IAM; the meatal part follows the canal (see `meatal_line`)
    meatal = meatal_line(
        scene,
        costs.iam,
        side_m,
        p7[-1],
        forbid if p8 is None else track_mask(p8, 0.5, scene.shape, sp),
        radius=NERVE_RADIUS_MM["VII"],
    )
    path = p7
    if attached is not None:
        path = np.concatenate([attached[::-1][:-1], path])
    path = path.astype(np.float64)
    if meatal is not None and len(meatal) > 2:
        path = np.concatenate([path, meatal[1:]])
    exclude7 = (forbid | costs.arteries) & ~track_mask(path, 0.3, scene.shape, sp)
    pts7, r7 = centreline_from_path(scene, path, NERVE_RADIUS_MM["VII"], exclude7)
    tracks.append(_finish(scene, "VII", side, pts7, r7, on_pons))
    if p8 is not None:
        exclude8 = (costs.arteries & ~track_mask(p8, 0.3, scene.shape, sp)) | track_mask(
            pts7, NERVE_RADIUS_MM["VII"] + 0.25, scene.shape, sp
        )
        pts8, r8 = centreline_from_path(scene, p8, NERVE_RADIUS_MM["VIII"], exclude8)
        tracks.append(_finish(scene, "VIII", side, pts8, r8))
    return tracks


#: Where the axis of a root lying on the pons is, outside the brainstem's smoothed surface (mm).
ATTACHED_BAND_MM = (0.2, 1.4)
#: An attached segment followed as a tube for less than this (mm) is only the part next to the
#: RDP, where the root rises off the pons; the whole segment is about 10 mm (docs/anatomy.md).
ATTACHED_STUB_MM = 5.0


def _attached_by_darkness(
    scene: Scene, costs: TrackingCosts, start: np.ndarray, allowed: np.ndarray
) -> np.ndarray | None:
    """VII's attached segment as the darkest course over the pons from voxel ``start`` down to
    where its exit lies, or None.

    Where the root has about the pons's own T2 signal it lies on the pons as a ridge: dark
    against the CSF over the surface, but no tube to the Hessian (one side of it is the pons),
    so `paths.attached_segment` cannot follow it. The brainstem's surface smoothed over 2 mm
    (a Gaussian of its mask at half height) does not follow a 1.2 mm ridge: the root's axis is
    the darkest line ``ATTACHED_BAND_MM`` outside it. The course is the cheapest path through
    those voxels, at a cost falling with darkness (1 at or below 0.45 of CSF, none left at 0.75;
    TOF-bright voxels cost more), from ``start`` to where the exit lies: 4-10 mm away, at
    least 1 mm lower, 2 mm nearer the midline and not behind ``start`` (VII leaves the
    pontomedullary sulcus and runs up, out and back along the pons for about 10 mm;
    docs/anatomy.md). Cut where it fades for 1 mm, it stands when it still ends there, is at
    most 12 mm long and is about as dark as tissue on average past ``start`` (0.8 of the full
    darkness). The band's inner edge may reach the brainstem's own partial-volume rim, where
    the smoothed surface lies inside the mask; a course along that rim, from a root that leaves
    the pons with no attached segment, is paler (0.6-0.75 on average) or fades before the exit.
    """
    sp = scene.spacing
    # the course stays within 12 mm of ``start``; the smoothing reaches 8 mm (4 sigma): a box of
    # 20 mm gives the same surface there as the whole crop, in a fraction of the time
    box = Box.around(start, 20.0, sp, scene.shape)
    inside = ndimage.gaussian_filter(scene.masks.brainstem[box.slices].astype(np.float32), 2.0 / sp)
    inside = inside > 0.5
    out_mm = ndimage.distance_transform_edt(~inside, sp) - ndimage.distance_transform_edt(
        inside, sp
    )
    lo, hi = ATTACHED_BAND_MM
    band = np.zeros(scene.shape, bool)
    band[box.slices] = (out_mm >= lo) & (out_mm <= hi)
    band &= allowed & ~costs.artery_core & ~scene.masks.bone
    band[tuple(start)] = True
    dark = np.clip((0.75 - scene.norm) / 0.3, 0.0, 1.0)
    cost = np.where(band, costs.penalty / (0.03 + dark), np.inf)
    a = scene.to_ras(np.asarray(start)[None])[0]
    frame = scene.frame

    def at_exit(ijk: np.ndarray) -> np.ndarray:
        ras = scene.to_ras(ijk)
        medial = abs(a[0] - float(frame.midline_x(a[2]))) - np.abs(
            ras[:, 0] - frame.midline_x(ras[:, 2])
        )
        dist = np.linalg.norm(ras - a, axis=1)
        return (
            (ras[:, 2] <= a[2] - 1.0)
            & (medial >= 2.0)
            & (ras[:, 1] >= a[1])
            & (dist >= 4.0)
            & (dist <= 10.0)
        )

    vox = np.argwhere(band)
    path = cheapest_path(cost, np.asarray(start)[None], vox[at_exit(vox)], sp)
    if path is None or len(path) < 3:
        return None
    path = cut_weak_tail(path, dark, sp, level=0.3)
    if not at_exit(path[-1:])[0]:
        return None  # it fades before it gets there
    length = float(cl.arclength(path * sp)[-1])
    # the darkness of the course proper: ``start`` is where the path reached the pons, which
    # may lie beside the root (in coarse voxels one pale voxel weighs on a short course)
    if length > 12.0 or float(np.mean(dark[tuple(path[1:].T)])) < 0.8:
        return None
    return path


def _joins_on_pons(scene: Scene, path: np.ndarray, root: np.ndarray) -> bool:
    """Whether voxel ``path`` runs along the pons into ``root`` and on along it.

    The part of ``path`` before it first comes within 1 mm of ``root`` must be an attached
    segment's course: at most 10 mm long, on average within 1.5 mm of the brainstem; from
    there, 80 % of the root past its first 3 mm lies within 1 mm of the path.
    """
    sp = scene.spacing
    a, b = root * sp, path * sp
    past = a[cl.arclength(a) >= 3.0]
    if len(past) < 3:
        return False
    if np.mean(np.linalg.norm(past[:, None] - b[None], axis=2).min(axis=1) <= 1.0) < 0.8:
        return False
    near = np.linalg.norm(b[:, None] - a[None], axis=2).min(axis=1) <= 1.0
    before = path[: int(np.argmax(near)) + 1]
    if cl.arclength(before * sp)[-1] > 10.0:
        return False
    dist = distance_to_surface(before, scene.masks.brainstem, sp, scene.brainstem_tree())
    return bool(np.mean(dist) <= 1.5)


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


def _finish(
    scene: Scene,
    name: str,
    side: str,
    pts: np.ndarray,
    r: np.ndarray,
    on_pons: np.ndarray | None = None,
) -> NerveTrack:
    """A `NerveTrack` from a refined centreline: RDP, and the radius kept to the cisternal one
    where the darkness integral cannot be trusted (on the pons, in the meatus).

    ``on_pons``: the crop voxel where a course found over the pons by its darkness
    (`_attached_by_darkness`) joins the rest; the RDP is not before it.
    """
    sp = scene.spacing
    s = cl.arclength(pts * sp)
    dist = distance_to_surface(pts, scene.masks.brainstem, sp, scene.brainstem_tree())
    free = dist > 0.5 * NERVE_RADIUS_MM[name] + 0.5
    costs = scene.costs
    cisternal = free.copy()
    if costs is not None:
        # in the meatus the roots and the bone add to any darkness integral
        idx = np.clip(np.rint(pts).astype(int), 0, np.array(scene.shape) - 1)
        cisternal &= ~costs.iam_near[tuple(idx.T)]
    ref = cisternal if cisternal.sum() > 4 else free
    r_med = float(np.median(r[ref])) if ref.sum() > 4 else NERVE_RADIUS_MM[name]
    if name != "VII":
        i_rdp = int(np.argmin(np.abs(dist)))
    elif on_pons is None:
        i_rdp = find_rdp(dist, s, r_med)
    else:
        # the root may dip into the brainstem's mask there, a step no knee fit should take
        i0 = int(np.argmin(np.linalg.norm((pts - on_pons) * sp, axis=1)))
        i_rdp = i0 + find_rdp(dist[i0:], s[i0:], r_med)
    r = r.copy()
    # on the surface the root's embedded part is masked out of the darkness integral, and in
    # the meatus neighbours add to it: the radius there is the cisternal one
    r[:i_rdp] = r_med
    r[~cisternal] = r_med
    # a root keeps its calibre within a fifth except where something narrows it
    r = np.clip(r, 0.5 * r_med, 1.2 * r_med)
    return NerveTrack(name, side, pts, r, 0, i_rdp, 0.8, s)


def track_trigeminal(
    scene: Scene, costs: TrackingCosts, side: str, taken: np.ndarray, z_floor_ras: float | None
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
    sizes = ndimage.sum(thick[tb.slices], lab[tb.slices], index=touching)  # labels only there
    best = int(touching[int(np.argmax(sizes))])
    if sizes.max() * np.prod(sp) < 8.0:  # under ~2 mm of a 2.5 mm root: not a nerve
        return None
    piece = lab == best
    contact = np.argwhere(piece & costs.shell)
    strength = costs.v[tuple(contact.T)]
    # the contact voxel nearest the brainstem (deepest in the shell) and strongly tubular
    dist = distance_to_surface(
        contact.astype(float), scene.masks.brainstem, sp, scene.brainstem_tree()
    )
    start = contact[int(np.argmax(strength - 0.05 * dist))]
    cost = np.full(scene.shape, np.inf)
    cost[piece] = cost_from_strength(costs.v[piece], 0.2)
    far = extend_tube(cost, start, sp, max_mean_cost=12.0, reach_mm=24.0)
    if far is None or len(far) < 4:
        return None
    exclude = ~dilate_mm(piece, 0.8, sp)
    pts, r = centreline_from_path(scene, far, NERVE_RADIUS_MM["V"], exclude)
    track = _finish(scene, "V", side, pts, r)
    return track


def track_nerves(scene: Scene, *, fork: bool = False) -> dict[str, NerveTrack]:
    """Track VII and VIII, then V, on both sides of a scene.

    With ``fork`` the facial pair of the right side is tracked in a child process forked for
    it, beside the left one's (`nvc_viewer.forked.side_by_side`): the same tracks, sooner on two
    cores.
    """
    costs = tracking_costs(scene)
    scene.costs = costs
    # derived maps both sides read, made once before they part
    scene.z_ras()
    scene.brainstem_tree()
    scene.smoothed_norm()
    out: dict[str, NerveTrack] = {}
    for tracks in _per_side(scene, partial(track_facial_pair, scene, costs), fork):
        for t in tracks:
            out[t.key] = t
    taken = np.zeros(scene.shape, bool)
    for t in out.values():
        taken |= track_mask(t.points, float(np.max(t.radius_mm)) + 0.4, scene.shape, scene.spacing)
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


def _per_side(scene: Scene, work: Callable[[str], T], fork: bool) -> list[T]:
    """``work(side)`` for the left side, then the right, the two at the same time with
    ``fork``. The warnings each adds to the scene are added in that order, whichever process
    it ran in."""

    def on(side: str) -> tuple[T, list[str]]:
        n = len(scene.warnings)
        result = work(side)
        added = scene.warnings[n:]
        del scene.warnings[n:]
        return result, added

    out = []
    for result, added in side_by_side([partial(on, "left"), partial(on, "right")], "nvc-vii",
                                      fork=fork):  # fmt: skip
        scene.warnings.extend(added)
        out.append(result)
    return out
