"""Pure coordinate math: LPS/RAS, the display grid, resampling one volume into another's grid.

Design note
-----------
Patient coordinates are **RAS** mm everywhere in the program (nibabel's convention); DICOM's LPS
appears only inside the DICOM reader and the Slicer markups writer.

The viewer's world axes are **(S, P, L) in mm**: the first array axis runs inferior -> superior,
the second anterior -> posterior, the third right -> left. In napari's axial 2-D view (the last
two axes on screen, rows downward, columns rightward) anterior is up and the patient's left is on
the screen's right -- the radiological convention surgeons read in.

The reference volume (the T2 series) is put on the display grid by axis flips and transposes only,
never by interpolation (`to_display`). What is left of its direction matrix after that (the
*residual rotation* of an oblique acquisition) cannot be shown by a napari ``scale``/``translate``
and is kept in `DisplayGrid`; every position that leaves the program goes back through the exact
affine (`DisplayGrid.display_to_ras`). Every other volume of the case is resampled into the
reference grid (`resample_like`), so all layers share one ``scale`` and ``translate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import InvalidVolumeError
from .volume import Volume

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "LPS_TO_RAS",
    "RAS_TO_SPL",
    "lps_to_ras",
    "apply_affine",
    "axis_codes",
    "DisplayGrid",
    "to_display",
    "resample_like",
]

#: Flips x and y: an LPS affine or point <-> RAS (the matrix is its own inverse).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: RAS mm -> display world (S, P, L) mm.
RAS_TO_SPL = np.array(
    [[0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def lps_to_ras(affine_lps: np.ndarray) -> np.ndarray:
    """Convert a voxel -> LPS affine to voxel -> RAS (and back: the map is an involution)."""
    return LPS_TO_RAS @ np.asarray(affine_lps, dtype=np.float64)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 affine to ``(N, 3)`` or ``(3,)`` points."""
    affine = np.asarray(affine, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    return points @ affine[:3, :3].T + affine[:3, 3]


@dataclass(frozen=True)
class DisplayGrid:
    """How the reference volume sits in the viewer's (S, P, L) world.

    Attributes
    ----------
    shape : tuple of int
        Shape of the display-ordered array.
    affine_ras : (4, 4) ndarray
        Exact display-array index -> patient RAS mm.
    scale : (3,) ndarray
        Voxel size in mm along the display axes (napari ``scale``).
    translate : (3,) ndarray
        Display world position (S, P, L mm) of voxel ``(0, 0, 0)`` (napari ``translate``).
    residual_rotation : (3, 3) ndarray
        Rotation between the voxel axes and the exact (S, P, L) axes; identity for a
        non-oblique acquisition.
    permutation : tuple of int
        Source array axis shown on each display axis.
    flips : tuple of bool
        Whether each display axis runs backward through that source axis.
    """

    shape: tuple[int, int, int]
    affine_ras: np.ndarray
    scale: np.ndarray
    translate: np.ndarray
    residual_rotation: np.ndarray
    permutation: tuple[int, int, int]
    flips: tuple[bool, bool, bool]

    @property
    def obliquity_deg(self) -> float:
        """Angle of the residual rotation in degrees (0 for an axis-aligned acquisition)."""
        cos = (np.trace(self.residual_rotation) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))

    def display_to_index(self, points_display: np.ndarray) -> np.ndarray:
        """Display world (S, P, L) mm -> fractional display-array index."""
        return (np.asarray(points_display, dtype=np.float64) - self.translate) / self.scale

    def index_to_display(self, index: np.ndarray) -> np.ndarray:
        """Display-array index -> display world (S, P, L) mm."""
        return np.asarray(index, dtype=np.float64) * self.scale + self.translate

    def display_to_ras(self, points_display: np.ndarray) -> np.ndarray:
        """Display world mm (as napari reports them) -> exact patient RAS mm."""
        return apply_affine(self.affine_ras, self.display_to_index(points_display))

    def ras_to_display(self, position_ras: np.ndarray) -> np.ndarray:
        """Patient RAS mm -> display world mm (where to draw a point)."""
        index = apply_affine(np.linalg.inv(self.affine_ras), position_ras)
        return self.index_to_display(index)


# -- voxel axes -> nearest patient axes ------------------------------------------------------
# nibabel's orientation rules (``nibabel.orientations``: io_orientation, apply_orientation,
# inv_ornt_aff, aff2axcodes), written out here: importing nibabel takes a quarter of a second,
# and reading DICOM or opening the viewer needs only these few lines of it. An orientation
# array has one row per voxel axis: (nearest output axis, +1 or -1), NaN for a dropped axis.

_RAS_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


def _io_orientation(affine: np.ndarray) -> np.ndarray:
    """Orientation array of a ``(q + 1, p + 1)`` affine's ``p`` input axes (nibabel's rule)."""
    affine = np.asarray(affine, dtype=np.float64)
    q, p = affine.shape[0] - 1, affine.shape[1] - 1
    rzs = affine[:q, :p]
    zooms = np.sqrt(np.sum(rzs * rzs, axis=0))
    zooms[zooms == 0] = 1
    rs = rzs / zooms
    # the nearest shear-free matrix (polar decomposition), on the affine's rank
    u, sv, vt = np.linalg.svd(rs, full_matrices=False)
    keep = sv > sv.max() * max(rs.shape) * np.finfo(sv.dtype).eps
    r = u[:, keep] @ vt[keep]
    ornt = np.full((p, 2), np.nan)
    # the strongest input axes choose first (stable on ties); a chosen output axis is taken
    for in_ax in np.argsort(np.min(-(r**2), axis=0), kind="stable"):
        col = r[:, in_ax]
        if not np.allclose(col, 0):
            out_ax = int(np.argmax(np.abs(col)))
            ornt[in_ax] = (out_ax, -1.0 if col[out_ax] < 0 else 1.0)
            r[out_ax, :] = 0
    return ornt


def _apply_orientation(arr: np.ndarray, ornt: np.ndarray) -> np.ndarray:
    """``arr`` flipped and transposed as ``ornt`` says (a view, no copy)."""
    if np.any(np.isnan(ornt[:, 0])):
        raise InvalidVolumeError("the affine drops a voxel axis: no orientation to apply")
    out = np.asarray(arr)
    for axis, flip in enumerate(ornt[:, 1]):
        if flip == -1:
            out = np.flip(out, axis=axis)
    order = np.arange(out.ndim)
    order[: len(ornt)] = np.argsort(ornt[:, 0])
    return out.transpose(order)


def _inv_ornt_aff(ornt: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Affine from indices of the re-oriented array (`_apply_orientation`) to the original's."""
    if np.any(np.isnan(ornt)):
        raise InvalidVolumeError("the affine drops a voxel axis: no orientation to invert")
    p = len(ornt)
    size = np.asarray(shape, dtype=np.float64)[:p]
    undo_reorder = np.eye(p + 1)[[int(v) for v in ornt[:, 0]] + [p], :]
    undo_flip = np.diag([*ornt[:, 1], 1.0])
    centre = -(size - 1) / 2.0
    undo_flip[:p, p] = ornt[:, 1] * centre - centre
    return undo_flip @ undo_reorder


def axis_codes(affine: np.ndarray) -> str:
    """Letters of the patient directions the voxel axes run towards, e.g. ``"RAS"`` or
    ``"LPS"`` (nibabel's ``aff2axcodes`` of a voxel -> RAS affine); ``?`` for a dropped axis."""
    return "".join(
        "?" if np.isnan(out) else _RAS_LABELS[int(out)][int(flip > 0)]
        for out, flip in _io_orientation(affine)
    )


def _display_orientation(affine_ras: np.ndarray) -> np.ndarray:
    """Orientation array taking the voxel axes to the nearest (S, P, L) axes."""
    return _io_orientation(RAS_TO_SPL @ affine_ras)


def to_display(volume: Volume) -> tuple[np.ndarray, DisplayGrid]:
    """Put a volume on the viewer's (S, P, L) grid by flips and transposes only.

    Parameters
    ----------
    volume : Volume
        Any orientation (axial, sagittal, coronal, oblique).

    Returns
    -------
    data : (S, P, L) ndarray
        A view of ``volume.data`` (no copy, no interpolation) in display order.
    grid : DisplayGrid
        Scale, translate and the exact display-index -> RAS affine.
    """
    ornt = _display_orientation(volume.affine)
    data = _apply_orientation(volume.data, ornt)
    # maps new (display) indices to old indices
    affine_ras = volume.affine @ _inv_ornt_aff(ornt, volume.shape)
    affine_spl = RAS_TO_SPL @ affine_ras
    scale = np.linalg.norm(affine_spl[:3, :3], axis=0)
    rotation = affine_spl[:3, :3] / scale
    permutation = [0, 0, 0]
    flips = [False, False, False]
    for src_axis, (dst_axis, flip) in enumerate(ornt):
        permutation[int(dst_axis)] = src_axis
        flips[int(dst_axis)] = bool(flip < 0)
    grid = DisplayGrid(
        shape=data.shape,
        affine_ras=affine_ras,
        scale=scale,
        translate=affine_spl[:3, 3].copy(),
        residual_rotation=rotation,
        permutation=tuple(permutation),  # type: ignore[arg-type]
        flips=tuple(flips),  # type: ignore[arg-type]
    )
    return data, grid


def resample_like(
    moving: Volume,
    reference: Volume,
    *,
    order: int = 1,
    cval: float = 0.0,
    dtype: np.dtype | type | None = None,
) -> Volume:
    """Resample ``moving`` onto the voxel grid of ``reference`` through both exact affines.

    Parameters
    ----------
    moving : Volume
        The volume to move (e.g. the TOF series, or a label map with ``order=0``).
    reference : Volume
        The volume whose grid (shape and affine) the result takes (the T2 series).
    order : int, optional
        Spline order: 0 nearest (labels), 1 trilinear (images, default), up to 5.
    cval : float, optional
        Value outside ``moving``'s field of view.
    dtype : dtype, optional
        Output dtype; default float32 for ``order > 0``, ``moving``'s dtype for ``order == 0``.

    Returns
    -------
    Volume
        Same shape and affine as ``reference``; meta of ``moving``.
    """
    if not 0 <= order <= 5:
        raise InvalidVolumeError(f"order must be between 0 and 5, got {order}")
    # reference index -> RAS -> moving index
    matrix = np.linalg.inv(moving.affine) @ reference.affine
    out_dtype = (
        np.dtype(dtype)
        if dtype is not None
        else (moving.data.dtype if order == 0 else np.dtype(np.float32))
    )
    src = moving.data
    if order > 0 and not np.issubdtype(src.dtype, np.floating):
        src = src.astype(np.float32)
    if _is_identity(matrix) and moving.shape == reference.shape:
        out = src.astype(out_dtype, copy=True)
    else:
        out = _affine_transform(src, matrix, reference.shape, order=order, cval=cval)
        out = out.astype(out_dtype, copy=False)
    return Volume(out, reference.affine, moving.meta)


def _affine_transform(
    src: np.ndarray, matrix: np.ndarray, shape: tuple[int, ...], *, order: int, cval: float
) -> np.ndarray:
    """`scipy.ndimage.affine_transform` taking the fast paths: memory order and diagonal maps."""
    if src.flags.f_contiguous and not src.flags.c_contiguous:
        # Work on the C-ordered transpose (reversed axes on both sides): twice as fast as
        # striding through a Fortran-ordered array (DICOM readers produce those).
        rev = np.eye(4)[[2, 1, 0, 3]]
        out = _affine_transform(
            src.T, rev @ matrix @ rev, tuple(shape[::-1]), order=order, cval=cval
        )
        return out.T
    from scipy import ndimage  # here: opening a case on one grid needs no scipy.ndimage

    linear = matrix[:3, :3]
    if np.allclose(linear, np.diag(np.diag(linear)), atol=1e-12):
        linear = np.diag(linear)  # scipy's zoom/shift path: no full matrix product per voxel
    return ndimage.affine_transform(
        src,
        linear,
        offset=matrix[:3, 3],
        output_shape=shape,
        order=order,
        mode="constant",
        cval=cval,
        prefilter=order > 1,
    )


def _is_identity(matrix: np.ndarray, tol: float = 1e-6) -> bool:
    return bool(np.allclose(matrix, np.eye(4), atol=tol))
