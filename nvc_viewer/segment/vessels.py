"""Vessels: what is dark in the cisterns and not a nerve; arteries from the TOF, veins by calibre.

Design note
-----------
On heavy-T2 a nerve, an artery and a vein are all dark tubes in bright CSF; once the nerves are
tracked (`nerves`), the remaining dark tube voxels are vessels. The aligned TOF tells arteries
(bright) from veins and nerves (dark or grey); small arteries can be missing from the TOF
(slow or in-plane flow), so a TOF-dark tube wider than a vein (radius over about 0.55 mm) is
still called an artery, with less confidence. Without a TOF every vessel is classed by calibre
alone and its kind reported as unknown.

With a TOF, the dark voxels within 2 mm of a TOF-bright lumen (its T2 shadow and what the
alignment leaves) are judged apart from the TOF-dark rest (`_pieces`): a dark region touching
an artery -- an off-resonance band across the CSF, CSF darkened beside bone -- would otherwise
be named artery with it, and be proposed as a contact wherever it meets a root. Of the rest only
the tube-like voxels are kept (a band's sheet is not; beside the brainstem or a nerve, where
the tube filter reads a vessel lying on the tissue weakly, all are), and a TOF-dark piece of the
vertebral or basilar calibre is no artery (those are never dark on the TOF).

Large arteries (radius over 1.25 mm: vertebral and basilar) are kept as their own mask: the
origin of a smaller artery on them (on the vertebral artery below the pons: PICA; on the basilar
at the pons: AICA, SCA) names it (`identify`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from skimage.graph import MCP_Geometric

from .crop import Box
from .masks import _ball_steps, dilate_mm
from .nerves import tube_scales
from .roots import nerve_voxels
from .scene import Scene

__all__ = ["VesselMasks", "segment_vessels", "identify", "VEIN_RADIUS_MM", "LARGE_RADIUS_MM"]

#: Veins near the nerve roots are 0.5-1 mm wide (docs/anatomy.md); arteries 1-4 mm.
VEIN_RADIUS_MM = 0.5
#: Vertebral (2.8-3.9 mm) and basilar (3.1-3.6 mm) arteries are wider than 2.5 mm.
LARGE_RADIUS_MM = 1.25
#: Normalised TOF level above which a tube is arterial (arteries ~1, tissue ~0.25, CSF ~0.08).
TOF_ARTERY_LEVEL = 0.42
#: Gaussian sigma (mm) of the TOF smoothing before that test.
TOF_SMOOTH_MM = 0.5
#: Reach (mm, through the dark voxels) of a TOF-bright lumen: its T2 shadow and the up to 2 mm
#: that the TOF's alignment may leave.
TOF_REACH_MM = 2.0
#: Smallest vessel piece (mm3): smaller ones are partial-volume rims of tissue.
MIN_PIECE_MM3 = 1.0
#: Mean dark-tube response (`nerves.tube_scales`) of a vessel piece; with a TOF, also the
#: response of the cores kept of a TOF-dark piece that is no vessel as a whole.
TUBE_RESPONSE = 0.12


@dataclass
class VesselMasks:
    """Vessel voxels of a crop.

    Attributes
    ----------
    artery, vein : (I, J, K) bool ndarray
    large : (I, J, K) bool ndarray
        Vertebral / basilar arteries (radius over `LARGE_RADIUS_MM`).
    tof_bright : (I, J, K) bool ndarray
        Vessel voxels bright on the TOF (empty without a TOF).
    radius_mm : (I, J, K) float32 ndarray
        Local radius estimate (from the Hessian scale) on vessel voxels.
    kind_known : bool
        A TOF was available to tell arteries from veins.
    """

    artery: np.ndarray
    vein: np.ndarray
    large: np.ndarray
    tof_bright: np.ndarray
    radius_mm: np.ndarray
    kind_known: bool
    # `_trunks` by (spacing, min_mm3), found once: every contact's naming reads them
    _trunks: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    # `_artery_pieces`: the connected pieces of ``artery | large`` and their boxes, found once
    _pieces: tuple | None = field(default=None, init=False, repr=False, compare=False)


def segment_vessels(scene: Scene, nerve_mask: np.ndarray | None = None) -> VesselMasks:
    """Split the non-nerve dark tubes of a scene into arteries and veins.

    Parameters
    ----------
    scene : Scene
        With masks, nerves (`Scene.nerves`) and optionally the aligned TOF.
    nerve_mask : (I, J, K) bool ndarray, optional
        Voxels already given to nerves; default: every tracked root, named or not, padded by
        0.2 mm where the TOF shows no flow.

    Returns
    -------
    VesselMasks
    """
    sp = scene.spacing
    m = scene.masks
    norm = scene.norm
    if nerve_mask is None:
        nerve_mask = np.zeros(scene.shape, bool)
        # roots that could not be named are nerves all the same, not vessels
        core = np.zeros(scene.shape, bool)
        for t in [*scene.nerves.values(), *scene.unnamed]:
            nerve_mask |= nerve_voxels(t, scene.shape, sp, pad_mm=0.2)
            core |= nerve_voxels(t, scene.shape, sp)
        if scene.tof is not None:
            # the pad is for the root's partial-volume halo, dark on the TOF: a voxel of it
            # showing flow belongs to a thin artery passing the root (in coarse voxels one
            # such voxel is all that joins the artery's two halves there, `_bridges`)
            nerve_mask &= core | (scene.tof < 0.7 * TOF_ARTERY_LEVEL)
    cand = m.dark & ~nerve_mask
    # The partial-volume halo of a nerve is a voxel-thin shell around the nerve mask: near the
    # nerves, keep only what survives an opening (a vessel touching the nerve is thicker; a
    # thin artery cut in two there by the opening is given back, `_bridges`).
    near = dilate_mm(nerve_mask, 0.7, sp)
    opened = ndimage.binary_opening(cand, structure=ndimage.generate_binary_structure(3, 1))
    kept = np.where(near, opened, cand)
    cand = kept | _bridges(near & cand & ~opened, kept, scene.tof)
    tof_bright = np.zeros(scene.shape, bool)
    if scene.tof is not None:
        # TOF-bright tubes dark on T2, including those pressed against bone or the clivus
        # (there, brighter than the clivus's own TOF signal, about 0.4)
        loose = (norm < 0.62) & m.cistern & ~m.brainstem & ~nerve_mask
        level = np.where(m.bodies | m.bone, 0.62, TOF_ARTERY_LEVEL)
        # Noise alone, at 1.5 T, lifts single tissue voxels over the level: a piece must hold
        # voxels over it on the TOF smoothed over about one of its voxels (an artery keeps its
        # brightness, a speck does not); its extent is read off the TOF as it is (smoothing
        # would blur an artery into the dark nerve it touches).
        smooth = ndimage.gaussian_filter(scene.tof, TOF_SMOOTH_MM / sp)
        strong = (smooth > level) & loose
        weak = (scene.tof > 0.7 * level) & loose
        lab, n = ndimage.label(weak)
        if n:
            keep = np.zeros(n + 1, bool)
            keep[np.unique(lab[strong])] = True
            keep[0] = False
            tof_bright = keep[lab]
        cand |= tof_bright
    costs = scene.costs
    if costs is not None:
        # in the meatus the roots fill the canal: a vessel there must show on the TOF
        cand &= ~costs.iam_near | tof_bright
    # radius from the scale of the strongest dark-tube response
    ss = tube_scales(scene)
    radius = ss.radius_mm()
    radius[~cand] = 0
    # pieces: drop small or not tube-like ones (partial-volume rims of tissue)
    has_tof = scene.tof is not None
    # the tube filter reads a tube against CSF all round: next to the brainstem or a nerve (a
    # vessel lying on it, touching it) its response is weak, and there it is not asked for
    tube_like = (ss.response >= TUBE_RESPONSE) | near | dilate_mm(m.brainstem, 1.0, sp)
    lab, n = _pieces(cand, tof_bright if has_tof else None, tube_like, sp)
    artery, vein = _classify(lab, n, ss.response, tof_bright, radius, sp, has_tof)
    large = artery & (radius >= LARGE_RADIUS_MM)
    large = ndimage.binary_opening(large, iterations=1) if large.any() else large
    return VesselMasks(artery, vein, large, tof_bright & artery, radius, scene.tof is not None)


def _bridges(removed: np.ndarray, kept: np.ndarray, tof: np.ndarray | None) -> np.ndarray:
    """The pieces of ``removed`` that join two pieces of ``kept`` and show flow on the TOF.

    An artery one or two voxels across (a thin one in coarse voxels) does not survive the
    opening that takes the nerve's partial-volume halo off; where it passes the nerve, the
    voxels it loses cut it in two. A removed piece between two kept ones whose mean TOF signal
    is over the level of the TOF's weak voxels (0.7 of `TOF_ARTERY_LEVEL`: partial volume
    dims a thin artery) is that artery's course, and is given back; the halo, CSF and the
    other roots lying between two vessels are dark on the TOF. Without a TOF nothing is.
    """
    out = np.zeros_like(removed)
    box = Box.of_mask(removed, margin_vox=1, grid_shape=removed.shape)
    if tof is None or box is None:
        return out
    structure = np.ones((3, 3, 3))
    rem_lab, n = ndimage.label(removed[box.slices], structure=structure)
    # labelled whole: two pieces in the box may be one outside it
    kept_lab, m = ndimage.label(kept, structure=structure)
    kept_lab = kept_lab[box.slices]
    if m < 2:
        return out
    # per removed piece, the least and the greatest kept label it touches: two differ
    hi = ndimage.maximum_filter(kept_lab, footprint=structure)
    lo = ndimage.minimum_filter(np.where(kept_lab > 0, kept_lab, m + 1), footprint=structure)
    ids = np.arange(1, n + 1)
    touch_hi = np.asarray(ndimage.maximum(hi, rem_lab, ids))
    touch_lo = np.asarray(ndimage.minimum(lo, rem_lab, ids))
    flow = np.asarray(ndimage.mean(tof[box.slices], rem_lab, ids)) >= 0.7 * TOF_ARTERY_LEVEL
    joins = (touch_hi > 0) & (touch_lo <= m) & (touch_lo < touch_hi)
    out[box.slices] = np.concatenate([[False], joins & flow])[rem_lab]
    return out


def _pieces(
    cand: np.ndarray, tof_bright: np.ndarray | None, tube_like: np.ndarray, spacing: np.ndarray
) -> tuple[np.ndarray, int]:
    """Label the candidate vessel voxels in pieces, each judged as a whole (`_classify`).

    Without a TOF the pieces are the 26-connected components of ``cand``. With one, the part
    within `TOF_REACH_MM` of a TOF-bright voxel (through ``cand``: the artery's T2 shadow,
    wider than its bright lumen and shifted by what the alignment leaves) is split from the
    TOF-dark rest: a dark region that merely touches an artery (an off-resonance band, CSF
    darkened by bone) is not named artery with it, and a vein or an artery the TOF misses is
    judged on its own calibre. Of the rest only the voxels ``tube_like`` and the voxel around
    them are kept (a band's sheet is not), and a fragment smaller than `MIN_PIECE_MM3` stays
    with the TOF-bright piece it touches.
    """
    structure = np.ones((3, 3, 3))
    if tof_bright is None or not tof_bright.any():
        return ndimage.label(cand, structure=structure)
    step = ndimage.generate_binary_structure(3, 1)
    lumen = ndimage.binary_dilation(
        tof_bright & cand,
        structure=step,
        iterations=max(1, int(np.ceil(TOF_REACH_MM / float(np.mean(spacing))))),
        mask=cand,
    )
    rest = cand & ~lumen
    rest = ndimage.binary_dilation(rest & tube_like, structure=step, mask=rest)
    # fragments too small to be judged on their own stay with the piece they touch (where
    # the reach ends across a vessel, a sliver of it)
    rest_lab, m = ndimage.label(rest, structure=structure)
    if m:
        mm3 = np.bincount(rest_lab.ravel(), minlength=m + 1) * float(np.prod(spacing))
        small = mm3 < MIN_PIECE_MM3
        small[0] = False
        touching = np.zeros(m + 1, bool)
        touching[np.unique(rest_lab[ndimage.binary_dilation(lumen, structure=structure)])] = True
        joined = (small & touching)[rest_lab]
        lumen |= joined
        rest &= ~joined
    lab, n = ndimage.label(lumen, structure=structure)
    rest_lab, m = ndimage.label(rest, structure=structure)
    lab[rest_lab > 0] = rest_lab[rest_lab > 0] + n
    return lab, n + m


def _classify(
    lab: np.ndarray,
    n: int,
    response: np.ndarray,
    tof_bright: np.ndarray,
    radius: np.ndarray,
    spacing: np.ndarray,
    has_tof: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Artery and vein masks of labelled pieces: small or not tube-like pieces (partial-volume
    rims of tissue) are neither; TOF-bright ones and TOF-dark ones wider than a vein are
    arteries; the other tubes are veins."""
    if not n:
        return np.zeros(lab.shape, bool), np.zeros(lab.shape, bool)
    # per-piece sums over the labelled voxels only (`np.bincount`, in the order of the
    # voxels: the same sums as `ndimage.sum` / `ndimage.mean` over the whole crop)
    voxel_mm3 = float(np.prod(spacing))
    sel = lab.ravel() > 0
    lv = lab.ravel()[sel]
    count = np.bincount(lv, minlength=n + 1)[1:]
    vol = count * voxel_mm3
    resp = np.bincount(lv, response.ravel()[sel], minlength=n + 1)[1:] / count.astype(np.float64)
    bright = np.bincount(lv, tof_bright.ravel()[sel], minlength=n + 1)[1:] * voxel_mm3
    med_r = _median_per_label(radius, lab, n)
    tubey = (vol >= MIN_PIECE_MM3) & ((resp >= TUBE_RESPONSE) | (bright >= 0.5))
    if has_tof:
        # the vertebral and basilar arteries are never dark on the TOF: a TOF-dark piece of
        # their calibre is no artery (a wide off-resonance band, CSF darkened by bone)
        tubey &= (bright >= 0.5) | (med_r < LARGE_RADIUS_MM)
    is_art = tubey & ((bright >= 0.5) | (med_r >= VEIN_RADIUS_MM + 0.05))
    is_vein = tubey & ~is_art
    return np.concatenate([[False], is_art])[lab], np.concatenate([[False], is_vein])[lab]


def _median_per_label(values: np.ndarray, lab: np.ndarray, n: int) -> np.ndarray:
    flat = lab.ravel()
    sel = flat > 0
    lv = flat[sel]
    vv = values.ravel()[sel]
    order = np.lexsort((vv, lv))
    lv, vv = lv[order], vv[order]
    starts = np.searchsorted(lv, np.arange(1, n + 1))
    ends = np.searchsorted(lv, np.arange(1, n + 1), side="right")
    mid = (starts + ends - 1) // 2
    out = np.zeros(n)
    ok = ends > starts
    out[ok] = vv[mid[ok]]
    return out


def identify(
    scene: Scene,
    vm: VesselMasks,
    contact_ijk: np.ndarray,
    piece: np.ndarray,
    *,
    sulcus_z_ras: float | None,
    v_root_z_ras: float | None = None,
    axis: np.ndarray | None = None,
) -> tuple[str, str, float]:
    """Name the vessel of a contact: AICA, PICA, VA, BA, SCA, vein or unknown.

    Parameters
    ----------
    scene : Scene
    vm : VesselMasks
    contact_ijk : (3,) ndarray
        Crop voxel position of the contact.
    piece : (I, J, K) bool ndarray
        The vessel voxels near the contact.
    sulcus_z_ras : float or None
        Height (RAS z, mm) of the facial root exit (the pontomedullary sulcus).
    v_root_z_ras : float or None
        Height of the trigeminal root exit.
    axis : (3,) ndarray, optional
        Unit direction (crop axes, mm) of the vessel at the contact: the artery is followed
        along it both ways to its origin.

    Returns
    -------
    vessel : str
    kind : {"artery", "vein", "unknown"}
    confidence : float
        0..1, how sure the name is.
    """
    sp = scene.spacing
    if not vm.artery[piece].any():
        if vm.kind_known:
            return "vein", "vein", 0.6
        return "unknown", "unknown", 0.3
    kind = "artery" if vm.kind_known else "unknown"
    r_piece = float(np.median(vm.radius_mm[piece & vm.artery]))
    base_conf = 0.8 if vm.kind_known and vm.tof_bright[piece].any() else 0.5
    if r_piece >= LARGE_RADIUS_MM:
        mid = float(scene.frame.midline_x(scene.to_ras(contact_ijk)[2]))
        x = float(scene.to_ras(contact_ijk)[0])
        name = "BA" if abs(x - mid) < 3.0 else "VA"
        return name, "artery", base_conf
    # follow the artery from the contact to the large trunk it arises from: along its own
    # axis first (a geodesic through the artery mask crosses where two arteries touch, and a
    # PICA touching an AICA at the nerve would be traced to the AICA's origin)
    origin = None
    if axis is not None:
        trunk = _trunks(vm, sp)
        paths = [
            _follow_artery(scene, vm, trunk, contact_ijk * sp, sign * axis) for sign in (1.0, -1.0)
        ]
        hits = [(len(pts), hit) for pts, hit in paths if hit is not None]
        if hits:
            origin = min(hits, key=lambda h: h[0])[1]
        elif sulcus_z_ras is not None:
            # no origin seen: a PICA comes up from the medulla (its origin is often below the
            # slab) and goes back down to the cerebellum, both ways well below the sulcus; an
            # AICA stays about level with it on at least one side
            low = [float(scene.to_ras(pts / sp)[:, 2].min()) for pts, _ in paths]
            if max(low) < sulcus_z_ras - 4.0 and min(low) < sulcus_z_ras - 8.0:
                return "PICA", kind, base_conf * 0.7
    if origin is None:
        origin = _origin_on_large(vm, piece, sp)
    if origin is not None and sulcus_z_ras is not None:
        z = float(scene.to_ras(origin)[2])
        if z < sulcus_z_ras - 8.0:
            return "PICA", kind, base_conf * 0.9
        if v_root_z_ras is not None and z > v_root_z_ras - 2.0:
            return "SCA", kind, base_conf * 0.8
        return "AICA", kind, base_conf * 0.9
    # no connection seen: the way the piece runs is the only clue
    if sulcus_z_ras is not None:
        zmin = float(scene.to_ras(np.argwhere(piece))[:, 2].min())
        if zmin < sulcus_z_ras - 8.0:
            return "PICA", kind, 0.35
    return "unknown", kind, 0.3


def _trunks(vm: VesselMasks, spacing: np.ndarray, min_mm3: float = 20.0) -> np.ndarray:
    """The vertebral and basilar arteries: pieces of the large-artery mask of at least
    ``min_mm3`` (where small arteries touch each other or a nerve, a few voxels of their union
    can look as wide as a trunk)."""
    key = (*np.asarray(spacing, float).tolist(), float(min_mm3))
    if key not in vm._trunks:
        lab, n = ndimage.label(vm.large)
        if not n:
            return vm.large
        vol = np.bincount(lab.ravel(), minlength=n + 1)[1:] * float(np.prod(spacing))
        vm._trunks[key] = np.concatenate([[False], vol >= min_mm3])[lab]
    return vm._trunks[key]


def _follow_artery(
    scene: Scene,
    vm: VesselMasks,
    trunk: np.ndarray,
    start_mm: np.ndarray,
    direction: np.ndarray,
    max_mm: float = 40.0,
    step_mm: float = 0.5,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Follow an artery along its own axis from a point until it ends or meets a large artery.

    Each step goes ``step_mm`` ahead and re-centres on the darkness centroid of the artery's
    voxels in the 1 mm slab across the direction (within 1.5 mm of the axis); the direction
    turns half way toward the new centre, so where two arteries touch, the straighter
    continuation is kept.

    Returns
    -------
    points : (N, 3) ndarray
        The course (crop mm).
    origin : (3,) int ndarray or None
        The voxel of ``trunk`` (the large arteries) reached.
    """
    sp = scene.spacing
    shape = np.asarray(scene.shape)
    reach = np.ceil(2.0 / sp).astype(int)
    p, d = np.asarray(start_mm, float), direction / max(float(np.linalg.norm(direction)), 1e-9)
    pts = [p]
    for _ in range(int(max_mm / step_mm)):
        ahead = p + step_mm * d
        c = np.rint(ahead / sp).astype(int)
        lo, hi = np.maximum(c - reach, 0), np.minimum(c + reach + 1, shape)
        if np.any(hi <= lo):
            break
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        vox = np.argwhere(vm.artery[box]) + lo
        if len(vox) == 0:
            break
        rel = vox * sp - ahead
        along = rel @ d
        perp = np.linalg.norm(rel - along[:, None] * d, axis=1)
        sel = (np.abs(along) <= 0.5) & (perp <= 1.5)
        if not sel.any():
            break
        w = np.clip(1.0 - scene.norm[tuple(vox[sel].T)], 0.05, None)
        centre = (w[:, None] * vox[sel] * sp).sum(axis=0) / w.sum()
        centre -= ((centre - ahead) @ d) * d
        turn = centre - p
        d = d + turn / max(float(np.linalg.norm(turn)), 1e-9)
        d /= max(float(np.linalg.norm(d)), 1e-9)
        p = centre
        pts.append(p)
        at = np.clip(np.rint(p / sp).astype(int), 0, shape - 1)
        if trunk[tuple(at)]:
            return np.asarray(pts), at
    return np.asarray(pts), None


def _artery_pieces(vm: VesselMasks) -> tuple[np.ndarray, list]:
    """The 26-connected pieces of ``artery | large`` (labels) and each piece's bounding box
    (`scipy.ndimage.find_objects`), found once per set of vessel masks."""
    if vm._pieces is None:
        lab, _ = ndimage.label(vm.artery | vm.large, structure=np.ones((3, 3, 3)))
        vm._pieces = (lab, ndimage.find_objects(lab))
    return vm._pieces


def _origin_on_large(
    vm: VesselMasks, piece: np.ndarray, spacing: np.ndarray, reach_mm: float = 30.0
) -> np.ndarray | None:
    """Where the artery holding ``piece`` joins a large artery (geodesic within the arteries).

    The geodesic runs in the box ``reach_mm`` around ``piece`` (cut to the arteries in it), but
    only the arteries connected to ``piece`` can carry it: the search is made in the bounding
    box of their pieces (`_artery_pieces`), and not at all when none of them holds a large
    artery. The same voxels are reached in the same order as over the whole box: every voxel
    outside that bounding box is either outside the arteries or not connected to ``piece``.
    """
    if not vm.large.any():
        return None
    lab, objects = _artery_pieces(vm)
    shape = lab.shape
    box = Box.of_mask(piece, margin_vox=np.ceil(reach_mm / spacing).astype(int), grid_shape=shape)
    if box is None:
        return None
    sub = Box.of_mask(lab[box.slices] > 0, margin_vox=1, offset=box.lo, grid_shape=shape)
    if sub is None:
        return None
    box = box.intersect(sub)
    lab_box = lab[box.slices]
    ids = np.unique(lab_box[piece[box.slices] & (lab_box > 0)])
    if len(ids) == 0:
        return None  # no start
    # the bounding box (within the search box) of the pieces holding the starts
    lo = np.min([[s.start for s in objects[k - 1]] for k in ids], axis=0)
    hi = np.max([[s.stop for s in objects[k - 1]] for k in ids], axis=0)
    region = box.intersect(Box(tuple(lo), tuple(hi), shape))
    if not vm.large[region.slices].any():
        return None
    # the piece dilated as over the whole box: its voxels up to the dilation's reach around
    # the region count
    m = len(_ball_steps(1.0, spacing))
    wide = box.intersect(Box(tuple(np.subtract(region.lo, m)), tuple(np.add(region.hi, m)), shape))
    grown = dilate_mm(piece[wide.slices], 1.0, spacing)[wide.sub(region)]
    lab_r = lab[region.slices]
    a = lab_r > 0
    large = vm.large[region.slices] & ~grown
    if not (large & np.isin(lab_r, ids)).any():
        return None  # no large artery connected to the piece: no finite path
    cost = np.where(a, 1.0, np.inf)
    starts = np.argwhere(piece[region.slices] & a)
    mcp = MCP_Geometric(cost, sampling=tuple(float(s) for s in spacing))
    ends = np.argwhere(large)
    cum, _ = mcp.find_costs(
        [tuple(p) for p in starts[:: max(1, len(starts) // 50)]],
        [tuple(p) for p in ends],
        find_all_ends=False,
    )
    ec = cum[tuple(ends.T)]
    if not np.isfinite(ec).any():
        return None
    return ends[int(np.argmin(ec))] + np.asarray(region.lo)
