"""Where things are: the brainstem, its axis and midline, the CSF, and the cisterns that matter.

Design note
-----------
Localisation runs on a coarse copy of the T2 (block means to about 1.2 mm), so that a
512 x 512 x 160 scan costs a fraction of a second: tissue (neither CSF-bright nor bone-dark) is
opened to drop nerves and vessels, the brainstem is the thick tissue body closest to the middle
of the field (or to a seed), and its axis is followed slice by slice. A marker watershed on the
distance map separates it from the cerebellum, which touches it through the peduncles.

The fine masks are then made on a crop of the full-resolution T2 (`fine_masks`): CSF is brighter
than the half-way level between tissue and fluid; the brainstem is the tissue inside the dilated
coarse mask, opened by more than the largest nerve radius so that roots lying on its surface stay
out of it; the *cistern region* is the CSF closed by a ball (which fills the dark tubes lying in
it) and dilated by a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from ..errors import AnalysisError
from .crop import Box
from .normalise import IntensityReference

__all__ = [
    "BrainstemFrame",
    "block_mean",
    "localise_brainstem",
    "FineMasks",
    "fine_masks",
    "ball_open",
    "ball_close",
    "dilate_mm",
    "erode_mm",
]

#: Normalised-T2 levels (CSF = 1): between brainstem (0.35-0.5) and CSF, and above bone.
CSF_LEVEL = 0.68
BONE_LEVEL = 0.2


def _edt(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    return ndimage.distance_transform_edt(mask, sampling=spacing).astype(np.float32)


def _ball_steps(radius_mm: float, spacing: np.ndarray) -> list[tuple[int, tuple[int, ...]]]:
    """Steps of 3x3x3 dilations whose succession approximates a ball of ``radius_mm``.

    6-neighbour and 18-neighbour steps alternate: the resulting polyhedron's volume is within
    about 13 % of the ball's from a radius of 3 voxels on (an exact distance transform costs
    about 1 s per million voxels here, this a few hundredths). An axis drops out once its reach
    (mm) is enough, so anisotropic voxels get an ellipsoid of the right size in mm.

    Returns
    -------
    list of (connectivity, axes)
        ``connectivity`` 1 (faces) or 2 (faces and edges), over the array ``axes`` still active.
    """
    spacing = np.asarray(spacing, dtype=np.float64)
    reach = np.zeros(3)
    steps: list[tuple[int, tuple[int, ...]]] = []
    n = 0
    while True:
        active = reach + 0.5 * spacing < radius_mm
        if not active.any():
            return steps
        steps.append((1 + n % 2, tuple(int(a) for a in np.flatnonzero(active))))
        reach += active * spacing
        n += 1


def _shift_or(src: np.ndarray, out: np.ndarray, axis: int) -> None:
    """``out |= src`` shifted by +1 and -1 voxel along ``axis`` (a 1-D dilation by 3)."""
    a = [slice(None)] * src.ndim
    b = [slice(None)] * src.ndim
    a[axis], b[axis] = slice(1, None), slice(None, -1)
    out[tuple(a)] |= src[tuple(b)]
    out[tuple(b)] |= src[tuple(a)]


def _dilate_step(mask: np.ndarray, connectivity: int, axes: tuple[int, ...]) -> np.ndarray:
    """One dilation by the 6- or 18-neighbour element over ``axes``, by shifted ORs (fast)."""
    out = mask.copy()
    if connectivity == 1 or len(axes) == 1:
        for a in axes:
            _shift_or(mask, out, a)
        return out
    # 18-neighbourhood = union over coordinate planes of 3x3 squares (separable)
    for n, a in enumerate(axes):
        for b in axes[n + 1 :]:
            line = mask.copy()
            _shift_or(mask, line, a)
            _shift_or(line, out, b)
            out |= line
    return out


def dilate_mm(mask: np.ndarray, radius_mm: float, spacing: np.ndarray) -> np.ndarray:
    """Dilation by (a close polyhedral approximation of) a ball of ``radius_mm``."""
    out = np.asarray(mask, dtype=bool)
    for conn, axes in _ball_steps(radius_mm, spacing):
        out = _dilate_step(out, conn, axes)
    return out


def erode_mm(mask: np.ndarray, radius_mm: float, spacing: np.ndarray) -> np.ndarray:
    """Erosion by a ball of ``radius_mm`` (voxels outside the array count as inside)."""
    return ~dilate_mm(~np.asarray(mask, dtype=bool), radius_mm, spacing)


def ball_open(mask: np.ndarray, radius_mm: float, spacing: np.ndarray) -> np.ndarray:
    """Morphological opening by a ball: removes parts thinner than ``2 * radius_mm``."""
    return dilate_mm(erode_mm(mask, radius_mm, spacing), radius_mm, spacing) & mask


def ball_close(mask: np.ndarray, radius_mm: float, spacing: np.ndarray) -> np.ndarray:
    """Morphological closing by a ball: fills gaps narrower than ``2 * radius_mm``."""
    return erode_mm(dilate_mm(mask, radius_mm, spacing), radius_mm, spacing) | mask


def coarse_factors(spacing: np.ndarray, coarse_mm: float) -> tuple[int, int, int]:
    """Per axis, how many voxels of ``spacing`` make one coarse voxel of about ``coarse_mm``."""
    fi, fj, fk = (int(max(1, round(coarse_mm / s))) for s in spacing)
    return fi, fj, fk


def block_mean(data: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Mean over non-overlapping blocks (the grid is cut to a multiple of the factors)."""
    f = tuple(max(1, int(x)) for x in factors)
    n = [s // k for s, k in zip(data.shape, f)]
    if min(n) < 1:
        raise AnalysisError(f"the image {data.shape} is smaller than one block {f}")
    cut = data[: n[0] * f[0], : n[1] * f[1], : n[2] * f[2]]
    out = np.zeros(n, dtype=np.float32)
    # sum block by block along each axis, without a float copy of the whole volume
    for a in range(f[0]):
        for b in range(f[1]):
            for c in range(f[2]):
                out += cut[a :: f[0], b :: f[1], c :: f[2]]
    out /= float(np.prod(f))
    return out


@dataclass(frozen=True)
class BrainstemFrame:
    """The brainstem found on the coarse grid.

    Attributes
    ----------
    mask_coarse : (I', J', K') bool ndarray
        Brainstem on the coarse grid.
    factors : tuple of int
        Coarse voxel = ``factors`` fine voxels along ``i, j, k``.
    axis_ras : (M, 3) ndarray
        Points on the brainstem axis, RAS mm, one per coarse slice that holds brainstem, ordered
        inferior -> superior.
    box : Box
        Fine-grid box around the brainstem and both cerebellopontine angles.
    """

    mask_coarse: np.ndarray
    factors: tuple[int, int, int]
    axis_ras: np.ndarray
    box: Box

    def midline_x(self, z_ras: np.ndarray | float) -> np.ndarray:
        """RAS x (mm) of the brainstem axis at the heights ``z_ras`` (mm)."""
        z = self.axis_ras[:, 2]
        order = np.argsort(z)
        return np.interp(z_ras, z[order], self.axis_ras[order, 0])

    def side_of(self, position_ras: np.ndarray) -> np.ndarray:
        """``"left"`` / ``"right"`` of each RAS point ``(N, 3)`` from the brainstem midline."""
        p = np.atleast_2d(position_ras)
        right = p[:, 0] > self.midline_x(p[:, 2])
        return np.where(right, "right", "left")


def _coarse_affine(affine: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    scale = np.diag(list(factors) + [1]).astype(np.float64)
    shift = np.eye(4)
    shift[:3, 3] = (np.asarray(factors) - 1) / 2.0
    return affine @ shift @ scale


def _depth(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Chamfer distance (mm) to the outside of ``mask`` (borders count as inside).

    A 3-4-5 chamfer is within a few per cent of the Euclidean distance and several times
    faster than scipy's exact transform on a whole-head coarse grid.
    """
    padded = np.pad(mask, 1, mode="edge")
    d = ndimage.distance_transform_cdt(padded, metric="taxicab").astype(np.float32)
    d2 = ndimage.distance_transform_cdt(padded, metric="chessboard").astype(np.float32)
    # taxicab overestimates diagonals, chessboard underestimates: their mean is close
    out = 0.5 * (d + d2)[1:-1, 1:-1, 1:-1] * float(np.mean(spacing))
    return out


def _csf_directions(
    csf: np.ndarray, si_axis: int, spacing: np.ndarray, reach_mm: float
) -> np.ndarray:
    """For every voxel, in how many of 8 in-plane directions CSF lies within ``reach_mm``."""
    a, b = (ax for ax in range(3) if ax != si_axis)
    count = np.zeros(csf.shape, np.uint8)
    for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        step = float(np.hypot(da * spacing[a], db * spacing[b]))
        hit = np.zeros(csf.shape, bool)
        for k in range(1, int(reach_mm / step) + 1):
            src = [slice(None)] * 3
            dst = [slice(None)] * 3
            for ax, d in ((a, da), (b, db)):
                n = csf.shape[ax]
                if d > 0:  # looking towards +: voxel x sees csf at x + k
                    src[ax], dst[ax] = slice(k * d, n), slice(0, n - k * d)
                elif d < 0:
                    src[ax], dst[ax] = slice(0, n + k * d), slice(-k * d, n)
            hit[tuple(dst)] |= csf[tuple(src)]
        count += hit
    return count


def localise_brainstem(
    data: np.ndarray,
    affine: np.ndarray,
    ref: IntensityReference,
    *,
    seed_ras: np.ndarray | None = None,
    coarse_mm: float = 1.2,
    lateral_mm: float = 36.0,
    anterior_mm: float = 14.0,
    posterior_mm: float = 6.0,
) -> BrainstemFrame:
    """Find the brainstem on a coarse copy of a heavy-T2 volume.

    Parameters
    ----------
    data : (I, J, K) ndarray
        The T2 in scanner units.
    affine : (4, 4) ndarray
        Voxel -> RAS mm.
    ref : IntensityReference
        The T2's levels (`normalise.t2_reference`): the coarse copy is normalised with them.
    seed_ras : (3,) array_like, optional
        A point inside the brainstem (a surgeon's click); default: found automatically.
    coarse_mm : float
        Coarse voxel size.
    lateral_mm, anterior_mm, posterior_mm : float
        Extent of the returned box beyond the brainstem axis (lateral) and surface (A-P): the
        cerebellopontine angles to the internal auditory meatus.

    Returns
    -------
    BrainstemFrame

    Raises
    ------
    AnalysisError
        When no brainstem-like body is found.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    factors = coarse_factors(spacing, coarse_mm)
    # a strided sample, smoothed: the whole scan is read once, cheaply
    coarse = ref.normalise(data[:: factors[0], :: factors[1], :: factors[2]])
    c_aff = affine @ np.diag(list(factors) + [1]).astype(np.float64)
    c_sp = spacing * np.asarray(factors)
    sm = ndimage.gaussian_filter(coarse, 0.8 * np.asarray(factors) / factors)
    tissue = (sm > BONE_LEVEL + 0.05) & (sm < CSF_LEVEL)
    tissue = ball_open(tissue, 2.2, c_sp)
    if tissue.sum() < 10:
        raise AnalysisError("no tissue darker than CSF in the T2 image: is it a heavy-T2 scan?")
    si_axis = int(np.argmax(np.abs(c_aff[2, :3]) / c_sp))
    # The brainstem is tissue wrapped in CSF (cisterns in front and at the sides, the fourth
    # ventricle behind the pons); brain and cerebellum are not.
    enclosed = tissue & (_csf_directions(sm > CSF_LEVEL, si_axis, c_sp, 25.0) >= 6)
    depth = _depth(tissue, c_sp)
    depth_enc = np.where(enclosed, depth, 0.0).astype(np.float32)
    # RAS of every coarse voxel (separable is not assumed: obliques allowed)
    ii, jj, kk = np.indices(coarse.shape, dtype=np.float32)
    ras = [c_aff[a, 0] * ii + c_aff[a, 1] * jj + c_aff[a, 2] * kk + c_aff[a, 3] for a in range(3)]
    if seed_ras is None:
        centre = c_aff[:3, :3] @ ((np.asarray(coarse.shape) - 1) / 2.0) + c_aff[:3, 3]
        dx = np.abs(ras[0] - centre[0])
        dy = np.abs(ras[1] - centre[1])
        score = depth_enc - 0.4 * dx - 0.1 * dy
        score[(dx > 10.0) | ~enclosed | (depth_enc < 3.0)] = -np.inf
        best = np.unravel_index(int(np.argmax(score)), score.shape)
        if not np.isfinite(score[best]):
            raise AnalysisError("no brainstem found near the middle of the field of view")
        seed_ijk = np.asarray(best)
    else:
        seed_ijk = np.rint(np.linalg.solve(c_aff[:3, :3], np.asarray(seed_ras) - c_aff[:3, 3]))
        seed_ijk = np.clip(seed_ijk.astype(int), 0, np.asarray(coarse.shape) - 1)
    # Follow the axis through the slices (along the array axis closest to S-I).
    axis_pts = _track_axis(depth_enc, tissue, seed_ijk, si_axis, c_sp)
    if len(axis_pts) < 3:
        raise AnalysisError("the brainstem could not be followed through the slices")
    # Markers: the axis (radius 3 mm) for the brainstem; deep tissue far from it for the rest.
    near_axis = np.zeros(coarse.shape, bool)
    for p in axis_pts:
        near_axis[tuple(p)] = True
    dist_axis = _depth(~near_axis, c_sp)
    markers = np.zeros(coarse.shape, np.int32)
    markers[(dist_axis <= 3.0) & tissue] = 1
    far = (dist_axis > 18.0) & tissue & (depth > 2.0)
    markers[far] = 2
    labels = watershed(-depth, markers, mask=tissue)
    mask = labels == 1
    mask = ndimage.binary_fill_holes(mask)
    axis_ras = np.array([c_aff[:3, :3] @ p + c_aff[:3, 3] for p in axis_pts])
    # Fine box: the brainstem widened by lateral/anterior/posterior margins in RAS.
    pts = np.stack([r[mask] for r in ras], axis=1)
    lo_ras = pts.min(axis=0)
    hi_ras = pts.max(axis=0)
    x_mid = float(np.median(axis_ras[:, 0]))
    lo_ras = np.array([x_mid - lateral_mm, lo_ras[1] - posterior_mm, lo_ras[2] - 2.0])
    hi_ras = np.array([x_mid + lateral_mm, hi_ras[1] + anterior_mm, hi_ras[2] + 2.0])
    corners = np.array(
        [
            [x, y, z]
            for x in (lo_ras[0], hi_ras[0])
            for y in (lo_ras[1], hi_ras[1])
            for z in (lo_ras[2], hi_ras[2])
        ]
    )
    ijk = np.linalg.solve(affine[:3, :3], (corners - affine[:3, 3]).T).T
    box = Box(
        tuple(np.floor(ijk.min(axis=0)).astype(int)),
        tuple(np.ceil(ijk.max(axis=0)).astype(int) + 1),
        data.shape,
    )
    return BrainstemFrame(mask, factors, axis_ras, box)


def _track_axis(
    depth: np.ndarray, tissue: np.ndarray, seed: np.ndarray, si_axis: int, spacing: np.ndarray
) -> list[np.ndarray]:
    """Brainstem axis: per slice, the deepest tissue point near the previous slice's point."""
    other = [a for a in range(3) if a != si_axis]
    pts = {int(seed[si_axis]): np.asarray(seed, dtype=int)}
    reach = 4.0  # mm the axis may move between neighbouring coarse slices
    r_vox = np.ceil(reach / spacing[other]).astype(int)
    for direction in (1, -1):
        cur = np.asarray(seed, dtype=int)
        k = int(seed[si_axis]) + direction
        while 0 <= k < depth.shape[si_axis]:
            sl: list[slice | int] = [slice(None)] * 3
            sl[si_axis] = k
            plane = depth[tuple(sl)]
            c = cur[other]
            lo = np.maximum(c - r_vox, 0)
            hi = np.minimum(c + r_vox + 1, plane.shape)
            win = plane[lo[0] : hi[0], lo[1] : hi[1]]
            if win.size == 0 or win.max() < 2.0:
                break
            a, b = np.unravel_index(int(np.argmax(win)), win.shape)
            nxt = np.zeros(3, int)
            nxt[si_axis] = k
            nxt[other[0]] = lo[0] + a
            nxt[other[1]] = lo[1] + b
            pts[k] = nxt
            cur = nxt
            k += direction
    return [pts[k] for k in sorted(pts)]


@dataclass(frozen=True)
class FineMasks:
    """Masks on a crop of the T2 grid.

    Attributes
    ----------
    brainstem, csf, cistern, bone, dark, bodies : (I, J, K) bool ndarray
        ``cistern``: the region that matters (CSF closed over the tubes in it, dilated).
        ``bone``: darker than any soft tissue (petrous bone, clivus). ``dark``: darker than half
        way between CSF and the darkest tubes, inside the cistern and outside the brainstem --
        the nerves and vessels (partial-volume threshold). ``bodies``: tissue thicker than any
        vessel (brainstem, cerebellum, bone).
    """

    brainstem: np.ndarray
    csf: np.ndarray
    cistern: np.ndarray
    bone: np.ndarray
    dark: np.ndarray
    bodies: np.ndarray


def fine_masks(
    norm: np.ndarray,
    spacing: np.ndarray,
    brainstem_prior: np.ndarray,
    *,
    tube_level: float = 0.62,
    close_mm: float = 2.5,
    margin_mm: float = 1.0,
    large_mm: float = 3.0,
) -> FineMasks:
    """Fine masks on a normalised T2 crop (CSF = 1).

    Parameters
    ----------
    norm : (I, J, K) float32 ndarray
        Normalised T2 crop.
    spacing : (3,) ndarray
        Voxel size (mm).
    brainstem_prior : (I, J, K) bool ndarray
        The coarse brainstem resampled to the crop.
    tube_level : float
        Partial-volume threshold of dark tubes (half way between CSF 1.0 and tubes about 0.25).
    close_mm : float
        Radius of the closing that fills the tubes lying in the CSF (the vertebral artery is up
        to 4 mm wide).
    margin_mm : float
        Dilation of the cistern region.
    large_mm : float
        Bodies that hold a ball of this radius are tissue, not tubes (the widest vessel, the
        vertebral artery, is under 4 mm across).
    """
    sm = ndimage.gaussian_filter(norm, 0.35 / spacing)
    csf = sm > CSF_LEVEL
    bone = sm < BONE_LEVEL
    # Bodies thicker than the widest vessel: brainstem, cerebellum, bone, clivus, brain. Thin
    # bright lines (CSF between cerebellar folia) must not cut them into tube-thin slabs.
    bodies = ball_open(~ball_open(csf, 0.6, spacing), large_mm, spacing)
    prior = dilate_mm(brainstem_prior, 2.0, spacing)
    brainstem = ball_open(bodies & ~bone & prior, 1.6, spacing)
    lab, n = ndimage.label(brainstem)
    if n > 1:
        sizes = ndimage.sum(brainstem, lab, index=np.arange(1, n + 1))
        brainstem = lab == (1 + int(np.argmax(sizes)))
    brainstem = ndimage.binary_fill_holes(brainstem)
    cistern = ball_close(csf, close_mm, spacing)
    cistern = dilate_mm(cistern, margin_mm, spacing) & ~erode_mm(brainstem, 0.5, spacing)
    # Thin bone (the petrous apex, the clivus's edge) escapes the opening: bone-dark voxels
    # connected to a bone body are bone, not vessels (the darkest arteries are as dark, but
    # they are recognised on the TOF, see `vessels`).
    lab, n = ndimage.label(bone)
    if n:
        # big pieces only: the dark core of a vertebral artery pressed against the medulla is
        # under 200 mm3, petrous bone and clivus are thousands
        vol = ndimage.sum(bone, lab, index=np.arange(n + 1)) * float(np.prod(spacing))
        keep = vol > 300.0
        keep[0] = False
        bone = keep[lab]
    # Partial-volume rims: the brainstem's boundary voxels half-way to CSF belong to it; a
    # voxel-thin rim along bone is bone (vessels touching bone are taken back from the TOF).
    rim = dilate_mm(brainstem, float(np.min(spacing)) * 1.01, spacing) & ~brainstem
    brainstem = brainstem | (rim & (sm < 0.5 * (1.0 + 0.42)) & (norm > 0.45))
    near_bone = dilate_mm(bone, 0.75, spacing)
    dark = (norm < tube_level) & cistern & ~bodies & ~near_bone & ~brainstem
    return FineMasks(brainstem, csf, cistern, bone, dark, bodies)
