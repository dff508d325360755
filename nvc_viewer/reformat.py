"""An oblique reformat through a nerve's axis: the plane in which a contact is judged.

Design note
-----------
A neurovascular contact is judged in the plane that holds the nerve's own axis at the root exit
zone and the vessel that touches it: there the nerve is a long strip and the vessel a round or
oval section pressed against its side, whatever the acquisition's orientation. `reformat`
resamples that plane from a volume; `case_reformat` chooses it for a case:

- **Centre.** A selected finding's contact point, else the nerve's root detachment point (RDP,
  the middle of the facial root exit zone; docs/anatomy.md), else the centreline's first point.
- **Axis.** The chord of the nerve's centreline over `AXIS_CHORD_MM` each side of the point of
  the centreline nearest the centre (the analysis' centreline; after reopening a case without
  it, the polyline RExP -> RDP -> TZ of the saved landmarks).
- **Second in-plane direction.** Towards the offending vessel when there is a finding (the
  vessel voxels of the label map near the contact, on the contact's side of the nerve; without
  them the contact point itself), else the direction perpendicular to the nerve closest to
  patient superior. The surgeon may turn the plane about the nerve axis from there
  (``roll_deg``) to look round the nerve.

The plane's pixel ``(row, column)`` maps to patient RAS mm through its own affine
(`Reformat.affine_ras`, 4x4, the third column the unit normal times the spacing), built from the
volume's exact voxel -> RAS affine: a position picked on the plane goes back to patient space
exactly, never through a display's scale. Rows run downwards on the screen and columns to the
right. The nerve runs along the rows (the columns' direction), oriented as the main viewer's
axial and coronal views are: the patient's left on the screen's right. Up is the second
direction with its sign chosen so that it points superior (anterior when it lies within 10
degrees of the axial plane); the edge letters (`nvc_viewer.orientation.edge_letters` of the
plane's affine) say what each edge faces.

Pure numpy and scipy: no GUI import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from .errors import AnalysisError, InvalidVolumeError
from .labels import ARTERY, VEIN
from .orientation import OBLIQUE_LETTER_MIN, EdgeLetters, edge_letters
from .volume import Volume

__all__ = [
    "REFORMAT_SIZE_MM",
    "AXIS_CHORD_MM",
    "VESSEL_SEARCH_MM",
    "Reformat",
    "closest_on_polyline",
    "nerve_axis",
    "toward_vessel",
    "plane_directions",
    "plane_affine",
    "sample_plane",
    "reformat",
    "case_reformat",
]

#: Side of the square plane, mm: the root exit zone with the brainstem, the nerve's cisternal
#: course and the vessels around it.
REFORMAT_SIZE_MM = 40.0
#: Half length of the chord that gives the nerve's local axis, mm: long enough to average out
#: the voxel steps of a tracked centreline, short enough to follow the root's bend at the RDP.
AXIS_CHORD_MM = 3.0
#: Vessel voxels within this distance of a contact point give the direction to the vessel, mm.
VESSEL_SEARCH_MM = 3.0
# A contact point closer than this to the nerve axis says nothing of the vessel's side, mm.
_MIN_OFFSET_MM = 0.1


@dataclass(frozen=True, eq=False)
class Reformat:
    """A plane resampled through a volume, with the way back to patient space.

    Attributes
    ----------
    image : (N, N) float32 ndarray
        The volume's values on the plane (trilinear); 0 outside the volume.
    labels : (N, N) uint8 ndarray or None
        The label map on the plane (nearest voxel), when one was given.
    affine_ras : (4, 4) ndarray
        Pixel ``(row, column, 0)`` -> patient RAS mm. Column 0 is the screen's downward
        direction times `spacing_mm`, column 1 the rightward (the nerve axis), column 2 the unit
        normal times `spacing_mm`.
    spacing_mm : float
        Pixel size, mm (the volume's finest voxel size unless asked otherwise).
    centre_ras : (3,) ndarray
        The centre pixel's position (``((N - 1) / 2, (N - 1) / 2)``).
    nerve_point_ras : (3,) ndarray
        The point of the nerve axis the plane goes through (on the centreline).
    axis_ras : (3,) ndarray
        Unit direction of the nerve axis, as drawn (towards the screen's right).
    up_ras : (3,) ndarray
        Unit in-plane direction drawn upwards (orthogonal to ``axis_ras``).
    toward_vessel : bool
        Whether ``up_ras`` (or its opposite) was chosen towards a vessel rather than superior.
    """

    image: np.ndarray
    labels: np.ndarray | None
    affine_ras: np.ndarray
    spacing_mm: float
    centre_ras: np.ndarray
    nerve_point_ras: np.ndarray
    axis_ras: np.ndarray
    up_ras: np.ndarray
    toward_vessel: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the plane."""
        rows, cols = self.image.shape
        return int(rows), int(cols)

    @property
    def normal_ras(self) -> np.ndarray:
        """Unit normal of the plane in patient RAS."""
        normal = self.affine_ras[:3, 2]
        return normal / np.linalg.norm(normal)

    @property
    def letters(self) -> EdgeLetters:
        """The patient letters of the plane's four edges, rows drawn downwards and columns to
        the right (`nvc_viewer.orientation.edge_letters`)."""
        return edge_letters(self.affine_ras, (0, 1), vertical="down", horizontal="right")

    def pixel_to_ras(self, pixel: np.ndarray | Sequence[float]) -> np.ndarray:
        """Pixel ``(row, column)`` positions ``(..., 2)`` -> patient RAS mm ``(..., 3)``."""
        rc = np.asarray(pixel, dtype=np.float64)
        linear = self.affine_ras[:3, :2]
        return rc @ linear.T + self.affine_ras[:3, 3]

    def ras_to_pixel(self, position_ras: np.ndarray | Sequence[float]) -> np.ndarray:
        """Patient RAS mm ``(..., 3)`` -> ``(row, column, depth)`` ``(..., 3)``: depth is the
        distance off the plane along its normal, in pixels (0 on the plane)."""
        ras = np.asarray(position_ras, dtype=np.float64)
        inverse = np.linalg.inv(self.affine_ras)
        return ras @ inverse[:3, :3].T + inverse[:3, 3]


def _point(value: Any, what: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be 3 finite numbers (RAS mm), got {value!r}")
    return array


def _unit(value: Any, what: str) -> np.ndarray:
    array = _point(value, what)
    norm = float(np.linalg.norm(array))
    if norm == 0.0:
        raise ValueError(f"{what} must be a non-zero vector, got {array.tolist()}")
    return array / norm


def _polyline(points: Any, what: str) -> np.ndarray:
    """The distinct consecutive points of an ``(N, 3)`` polyline (at least two)."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3 or not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be an (N, 3) array of finite RAS mm, got {array.shape}")
    if len(array):
        keep = np.ones(len(array), dtype=bool)
        keep[1:] = np.linalg.norm(np.diff(array, axis=0), axis=1) > 1e-9
        array = array[keep]
    if len(array) < 2:
        raise ValueError(f"{what} needs two distinct points, got {len(array)}")
    return array


def closest_on_polyline(
    points_ras: np.ndarray, position_ras: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, float]:
    """The point of a polyline nearest a position, and its arclength from the first point.

    Parameters
    ----------
    points_ras : (N, 3) ndarray
        The polyline (a centreline), RAS mm, N >= 2.
    position_ras : (3,) array_like
        RAS mm.

    Returns
    -------
    point_ras : (3,) ndarray
    arclength_mm : float
    """
    line = _polyline(points_ras, "a centreline")
    p = _point(position_ras, "position_ras")
    starts, steps = line[:-1], np.diff(line, axis=0)
    lengths2 = np.einsum("ij,ij->i", steps, steps)
    t = np.clip(np.einsum("ij,ij->i", p - starts, steps) / lengths2, 0.0, 1.0)
    feet = starts + t[:, None] * steps
    best = int(np.argmin(np.linalg.norm(feet - p, axis=1)))
    before = float(np.sum(np.sqrt(lengths2[:best])))
    return feet[best], before + float(t[best] * np.sqrt(lengths2[best]))


def _at_arclength(line: np.ndarray, s_mm: float) -> np.ndarray:
    lengths = np.linalg.norm(np.diff(line, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(lengths)])
    s_mm = float(np.clip(s_mm, 0.0, s[-1]))
    return np.array([np.interp(s_mm, s, line[:, axis]) for axis in range(3)])


def nerve_axis(
    centreline_ras: np.ndarray,
    near_ras: np.ndarray | Sequence[float],
    *,
    chord_mm: float = AXIS_CHORD_MM,
) -> tuple[np.ndarray, np.ndarray]:
    """A nerve's local axis near a point: the point of the centreline nearest it and the unit
    direction of the chord ``chord_mm`` either side of that point (clipped at the ends).

    Parameters
    ----------
    centreline_ras : (N, 3) ndarray
        RAS mm, ordered from the brainstem outward (as the analysis stores them).
    near_ras : (3,) array_like
        RAS mm: a landmark, a contact point.
    chord_mm : float, optional
        Half length of the chord, mm.

    Returns
    -------
    point_ras : (3,) ndarray
        The nearest point of the centreline.
    direction_ras : (3,) ndarray
        Unit vector, pointing away from the brainstem (the centreline's order).
    """
    if not chord_mm > 0:
        raise ValueError(f"chord_mm must be positive, got {chord_mm}")
    line = _polyline(centreline_ras, "a centreline")
    foot, s = closest_on_polyline(line, near_ras)
    chord = _at_arclength(line, s + chord_mm) - _at_arclength(line, s - chord_mm)
    return foot, _unit(chord, "the centreline's chord")


def toward_vessel(
    contact_ras: np.ndarray | Sequence[float],
    nerve_point_ras: np.ndarray | Sequence[float],
    axis_ras: np.ndarray | Sequence[float],
    labels: Volume | None = None,
    *,
    search_mm: float = VESSEL_SEARCH_MM,
) -> np.ndarray | None:
    """The unit direction from a nerve's axis towards the vessel of a contact, or None.

    The centroid of the artery and vein voxels of ``labels`` within ``search_mm`` of the
    contact that lie on the contact's side of the nerve (a second vessel on the other side, as
    in a sandwich, is left out), seen from the axis; without such voxels, the contact point
    itself (a machine contact point lies midway between the nerve's and the vessel's surfaces).
    The direction is made orthogonal to the axis.

    Parameters
    ----------
    contact_ras : (3,) array_like
        The finding's position, RAS mm.
    nerve_point_ras : (3,) array_like
        The point of the nerve axis nearest the contact (`nerve_axis`).
    axis_ras : (3,) array_like
        The nerve's unit direction there.
    labels : Volume, optional
        The case's label map (docs/design.md, section 3).
    search_mm : float, optional

    Returns
    -------
    (3,) ndarray or None
        None when neither the vessel voxels nor the contact point lie off the axis.
    """
    contact = _point(contact_ras, "contact_ras")
    foot = _point(nerve_point_ras, "nerve_point_ras")
    axis = _unit(axis_ras, "axis_ras")

    def across(vector: np.ndarray) -> np.ndarray | None:
        vector = vector - float(np.dot(vector, axis)) * axis
        norm = float(np.linalg.norm(vector))
        return None if norm < _MIN_OFFSET_MM else vector / norm

    side = across(contact - foot)
    if labels is not None:
        vessels = _vessel_points_near(labels, contact, search_mm)
        if side is not None and len(vessels):
            vessels = vessels[(vessels - foot) @ side > 0.0]
        if len(vessels):
            found = across(vessels.mean(axis=0) - foot)
            if found is not None:
                return found
    return side


def _vessel_points_near(labels: Volume, centre: np.ndarray, radius_mm: float) -> np.ndarray:
    """RAS positions ``(M, 3)`` of the artery and vein voxels within ``radius_mm`` of a point."""
    ijk = labels.ijk_of(centre)
    reach = radius_mm / labels.spacing_mm
    lo = np.maximum(np.floor(ijk - reach).astype(int), 0)
    hi = np.minimum(np.ceil(ijk + reach).astype(int) + 1, np.asarray(labels.shape))
    if np.any(hi <= lo):
        return np.empty((0, 3))
    box = np.asarray(labels.data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
    found = np.argwhere((box == ARTERY) | (box == VEIN)) + lo
    if not len(found):
        return np.empty((0, 3))
    ras = labels.ras_of(found.astype(np.float64))
    return ras[np.linalg.norm(ras - centre, axis=1) <= radius_mm]


def plane_directions(
    axis_ras: np.ndarray | Sequence[float],
    toward_ras: np.ndarray | Sequence[float] | None = None,
    *,
    roll_deg: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The plane's rightward and upward unit directions on the screen, patient RAS.

    Parameters
    ----------
    axis_ras : (3,) array_like
        The nerve's axis (either sense).
    toward_ras : (3,) array_like, optional
        The second direction of the plane (towards the vessel); default patient superior
        (anterior for a nerve within 10 degrees of the S-I axis).
    roll_deg : float, optional
        Turn the plane about the nerve axis by this angle, degrees (right-handed about
        ``right_ras``): the surgeon looks round the nerve for the contact.

    Returns
    -------
    right_ras : (3,) ndarray
        The axis, in the sense that points to the patient's left (the patient's left on the
        screen's right, as the axial view); the axis's own sense when it is exactly along A-P
        or S-I.
    up_ras : (3,) ndarray
        ``toward_ras`` made orthogonal to the axis, in the sense that points superior (anterior
        when it lies within 10 degrees of the axial plane).

    Raises
    ------
    ValueError
        For a zero axis, or a ``toward_ras`` along the axis.
    """
    axis = _unit(axis_ras, "axis_ras")
    right = -axis if axis[0] > 0 else axis
    if toward_ras is None:
        superior = np.array([0.0, 0.0, 1.0])
        hint = superior if abs(float(axis[2])) < np.cos(np.radians(10.0)) else np.eye(3)[1]
    else:
        hint = _unit(toward_ras, "toward_ras")
    up = hint - float(np.dot(hint, right)) * right
    if float(np.linalg.norm(up)) < 1e-6:
        raise ValueError(f"toward_ras {hint.tolist()} lies along the nerve axis")
    up = up / np.linalg.norm(up)
    key = 2 if abs(float(up[2])) >= OBLIQUE_LETTER_MIN else 1
    if up[key] < 0:
        up = -up
    if roll_deg:
        if not np.isfinite(roll_deg):
            raise ValueError(f"roll_deg must be a finite angle, got {roll_deg}")
        angle = np.radians(float(roll_deg))
        up = np.cos(angle) * up + np.sin(angle) * np.cross(right, up)
    return right, up


def plane_affine(
    centre_ras: np.ndarray | Sequence[float],
    right_ras: np.ndarray | Sequence[float],
    up_ras: np.ndarray | Sequence[float],
    *,
    size: int,
    spacing_mm: float,
) -> np.ndarray:
    """Pixel ``(row, column, 0)`` -> RAS affine of a ``size`` x ``size`` plane centred on
    ``centre_ras`` (its centre pixel ``((size - 1) / 2, (size - 1) / 2)``), rows downwards
    (``-up_ras``) and columns along ``right_ras``; column 2 the unit normal times the spacing."""
    right = _unit(right_ras, "right_ras")
    up = _unit(up_ras, "up_ras")
    if abs(float(np.dot(right, up))) > 1e-6:
        raise ValueError("right_ras and up_ras must be orthogonal")
    if not spacing_mm > 0 or size < 1:
        raise ValueError(f"a plane needs a positive spacing and size, got {spacing_mm}, {size}")
    down = -up
    normal = np.cross(down, right)
    half = (size - 1) / 2.0
    affine = np.eye(4)
    affine[:3, 0] = spacing_mm * down
    affine[:3, 1] = spacing_mm * right
    affine[:3, 2] = spacing_mm * normal
    affine[:3, 3] = _point(centre_ras, "centre_ras") - half * spacing_mm * (down + right)
    return affine


def sample_plane(
    volume: Volume, affine_ras: np.ndarray, shape: tuple[int, int], *, order: int = 1
) -> np.ndarray:
    """A volume's values on a plane, by `scipy.ndimage.map_coordinates`.

    Parameters
    ----------
    volume : Volume
    affine_ras : (4, 4) ndarray
        Pixel ``(row, column, 0)`` -> RAS (`plane_affine`).
    shape : (rows, columns)
    order : {0, 1}
        0: nearest voxel (label maps; the volume's dtype kept), 1: trilinear (float32).

    Returns
    -------
    (rows, columns) ndarray
        0 where the plane leaves the volume.
    """
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (linear), got {order}")
    rows, cols = (int(n) for n in shape)
    r, c = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64))
    pixels = np.stack([r.T.ravel(), c.T.ravel(), np.zeros(rows * cols), np.ones(rows * cols)])
    to_voxel = np.linalg.inv(volume.affine) @ np.asarray(affine_ras, dtype=np.float64)
    ijk = (to_voxel @ pixels)[:3]
    data = np.asarray(volume.data)
    if order == 0:
        # nearest by rounding (map_coordinates' order 0 rounds half-way points inconsistently)
        return ndimage.map_coordinates(
            data, np.rint(ijk), order=0, mode="constant", cval=0, output=data.dtype
        ).reshape(rows, cols)
    return ndimage.map_coordinates(
        data.astype(np.float32, copy=False),
        ijk,
        order=1,
        mode="constant",
        cval=0.0,
        output=np.float32,
    ).reshape(rows, cols)


def reformat(
    volume: Volume,
    centre_ras: np.ndarray | Sequence[float],
    axis_ras: np.ndarray | Sequence[float],
    *,
    toward_ras: np.ndarray | Sequence[float] | None = None,
    labels: Volume | None = None,
    nerve_point_ras: np.ndarray | Sequence[float] | None = None,
    size_mm: float = REFORMAT_SIZE_MM,
    spacing_mm: float | None = None,
    roll_deg: float = 0.0,
) -> Reformat:
    """Resample the plane that holds a nerve's axis, centred on a point.

    Parameters
    ----------
    volume : Volume
        The image (the heavy-T2); values sampled trilinearly.
    centre_ras : (3,) array_like
        The plane's centre, RAS mm (a landmark, a contact point); projected onto the plane
        through ``nerve_point_ras`` when that is given.
    axis_ras : (3,) array_like
        The nerve's local direction (`nerve_axis`).
    toward_ras : (3,) array_like, optional
        The plane's second direction (towards the vessel, `toward_vessel`); default superior
        (`plane_directions`).
    labels : Volume, optional
        A label map on any grid, sampled at the nearest voxel.
    nerve_point_ras : (3,) array_like, optional
        A point of the nerve axis the plane must go through; default ``centre_ras``.
    size_mm : float, optional
        Side of the square plane, mm.
    spacing_mm : float, optional
        Pixel size; default the volume's finest voxel size.
    roll_deg : float, optional
        Turn the plane about the nerve axis (`plane_directions`).

    Returns
    -------
    Reformat
    """
    right, up = plane_directions(axis_ras, toward_ras, roll_deg=roll_deg)
    centre = _point(centre_ras, "centre_ras")
    through = centre if nerve_point_ras is None else _point(nerve_point_ras, "nerve_point_ras")
    normal = np.cross(right, up)
    centre = centre - float(np.dot(centre - through, normal)) * normal
    spacing = float(np.min(volume.spacing_mm)) if spacing_mm is None else float(spacing_mm)
    if not spacing > 0 or not size_mm > 0:
        raise InvalidVolumeError(
            f"reformat: size_mm and spacing_mm must be positive, got {size_mm}, {spacing}"
        )
    size = 2 * int(round(size_mm / spacing / 2.0)) + 1  # odd: a pixel at the centre
    affine = plane_affine(centre, right, up, size=size, spacing_mm=spacing)
    image = sample_plane(volume, affine, (size, size), order=1)
    label_plane = None
    if labels is not None:
        label_plane = sample_plane(labels, affine, (size, size), order=0).astype(np.uint8)
    return Reformat(
        image=image,
        labels=label_plane,
        affine_ras=affine,
        spacing_mm=spacing,
        centre_ras=centre,
        nerve_point_ras=through,
        axis_ras=right,
        up_ras=up,
        toward_vessel=toward_ras is not None,
    )


def _landmarks_of(landmarks: Sequence[Any], side: str, nerve: str) -> dict[str, np.ndarray]:
    """Name -> RAS position of the landmarks of one nerve on one side."""
    return {
        lm.name: np.asarray(lm.position_ras, dtype=np.float64)
        for lm in landmarks
        if lm.side == side and lm.nerve == nerve
    }


def case_reformat(
    t2: Volume,
    *,
    side: str,
    nerve: str = "VII",
    labels: Volume | None = None,
    centrelines: Mapping[str, np.ndarray] | None = None,
    landmarks: Sequence[Any] = (),
    finding: Any = None,
    size_mm: float = REFORMAT_SIZE_MM,
    spacing_mm: float | None = None,
    roll_deg: float = 0.0,
) -> Reformat:
    """The reformat through a nerve of a case at its root exit zone, or at a finding.

    Parameters
    ----------
    t2 : Volume
        The case's heavy-T2.
    side : {"left", "right"}
    nerve : {"VII", "VIII", "V", ...}
        The nerve's name as the centrelines and landmarks key it.
    labels : Volume, optional
        The case's label map (shown on the plane; its vessels orient the plane at a finding).
    centrelines : mapping, optional
        ``"VII_left"`` -> ``(N, 3)`` RAS mm, from the brainstem outward (the analysis').
    landmarks : sequence of `nvc_viewer.findings.Landmark`
        RExP, RDP and TZ: the centre without a finding, and the axis when the nerve has no
        centreline.
    finding : `nvc_viewer.findings.Finding`, optional
        Centre the plane on its contact point and turn it towards its vessel; its own side and
        nerve then replace ``side`` and ``nerve``.
    size_mm, spacing_mm, roll_deg : float, optional
        As `reformat`.

    Returns
    -------
    Reformat

    Raises
    ------
    AnalysisError
        When the nerve has neither a centreline nor two landmarks on that side (the case is
        not analysed, or the nerve was not found).
    """
    if finding is not None:
        side, nerve = str(finding.side), str(finding.nerve)
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    line: np.ndarray | None = None
    centreline = (centrelines or {}).get(f"{nerve}_{side}")
    if centreline is not None and len(centreline) >= 2:
        line = np.asarray(centreline, dtype=np.float64)
    marks = _landmarks_of(landmarks, side, nerve)
    if line is None:
        ordered = [marks[name] for name in ("RExP", "RDP", "TZ") if name in marks]
        if len(ordered) >= 2 and np.ptp(np.asarray(ordered), axis=0).max() > 1e-6:
            line = np.asarray(ordered)
    if line is None:
        raise AnalysisError(
            f"no {nerve} of the {side} side to reformat through: it has no centreline and no "
            "root exit zone landmarks; analyse the case (or trace the nerve at a click) first"
        )
    if finding is not None:
        centre = _point(finding.position_ras, "the finding's position_ras")
    elif "RDP" in marks:
        centre = marks["RDP"]
    else:
        centre = line[0]
    foot, axis = nerve_axis(line, centre)
    toward = None
    if finding is not None:
        toward = toward_vessel(centre, foot, axis, labels)
    return reformat(
        t2,
        centre,
        axis,
        toward_ras=toward,
        labels=labels,
        nerve_point_ras=foot,
        size_mm=size_mm,
        spacing_mm=spacing_mm,
        roll_deg=roll_deg,
    )
