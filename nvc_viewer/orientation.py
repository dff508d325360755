"""Orientation read-outs: patient-direction letters of the screen edges, RAS with letters.

What the surgeon compares with 3D Slicer, ITK-SNAP and PACS: each edge of a 2-D view carries the
patient direction it faces (R/L, A/P, S/I), the cursor's position is given in patient RAS mm with
the side of each coordinate spelt out (``L 12.7  P 24.7  I 33.8 mm``), and the slice shown is
named with its position along the slice normal (``Axial  I 33.8 mm``).

The viewer's world is the (S, P, L) display grid of `nvc_viewer.geometry`: a display-array index
maps to patient RAS through `DisplayGrid.affine_ras`, which keeps an oblique acquisition's
residual rotation. Letters are therefore computed from that exact affine, not from the world axis
names: for an oblique series a screen edge faces a mix of patient directions and carries the
letters of the dominant ones, largest first (``"LA"``), as 3D Slicer labels its slice views.

The 3-D camera presets are here too: the six anatomical views and the retrosigmoid surgeon's
view of each side, as a view direction and an up direction in patient RAS (`CameraView`), and
their conversion to napari's camera (scene axes, un-mirrored orientation, Euler angles, zoom).

Pure numpy (and scipy's rotations): no GUI import. The napari plugin only draws the strings
made here and hands the angles to its camera.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "OBLIQUE_LETTER_MIN",
    "PLANE_NAMES",
    "VIEW_3D_SPL",
    "UP_3D_SPL",
    "EdgeLetters",
    "direction_letters",
    "display_axis_directions",
    "edge_letters",
    "format_ras",
    "slice_normal",
    "slice_position",
    "format_slice",
    "ANATOMICAL_VIEWS",
    "SURGEON_AZIMUTH_DEG",
    "SURGEON_ELEVATION_DEG",
    "SURGEON_FIELD_MM",
    "OVERVIEW_FIELD_MM",
    "CameraView",
    "camera_view",
    "anatomical_view",
    "surgeon_view",
    "ras_direction_to_spl",
    "unmirrored_orientation",
    "scene_vector",
    "napari_camera_angles",
    "zoom_for_field",
]

#: Letter of the positive and of the negative direction of each RAS axis.
_LETTERS = (("R", "L"), ("A", "P"), ("S", "I"))

#: A patient direction takes part in an edge's letters when the screen axis has at least this
#: component along it (sin 10 degrees): an acquisition tilted by less reads as a plain one.
OBLIQUE_LETTER_MIN = float(np.sin(np.radians(10.0)))

#: The plane whose slice normal is closest to each RAS axis (x: sagittal, y: coronal, z: axial).
PLANE_NAMES = ("Sagittal", "Coronal", "Axial")

#: Default 3-D camera in the display world (S, P, L): looking from the front (towards posterior)
#: and a little from below (20 degrees), superior up -- the patient's left on the screen's right.
VIEW_3D_SPL: tuple[float, float, float] = (
    float(np.sin(np.radians(20.0))),
    float(np.cos(np.radians(20.0))),
    0.0,
)
UP_3D_SPL: tuple[float, float, float] = (1.0, 0.0, 0.0)


@dataclass(frozen=True)
class EdgeLetters:
    """The patient directions the four edges of a 2-D view face (e.g. top ``"A"``)."""

    top: str
    bottom: str
    left: str
    right: str


def direction_letters(
    direction_ras: np.ndarray | tuple[float, float, float],
    *,
    min_component: float = OBLIQUE_LETTER_MIN,
) -> str:
    """Letters of the patient directions a vector points to, the dominant one first.

    Parameters
    ----------
    direction_ras : (3,) array_like
        A direction in patient RAS (any length but zero).
    min_component : float, optional
        Smallest component (of the unit vector) that adds its letter; the largest component
        always gives one.

    Returns
    -------
    str
        E.g. ``"L"`` for ``(-1, 0, 0)``, ``"LA"`` for a left direction turned 20 degrees to
        anterior.

    Raises
    ------
    ValueError
        For a zero or non-finite vector.
    """
    vector = np.asarray(direction_ras, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(f"a direction needs a finite non-zero vector, got {vector.tolist()}")
    unit = vector / norm
    order = np.argsort(-np.abs(unit), kind="stable")
    letters = []
    for rank, axis in enumerate(order):
        if rank > 0 and abs(unit[axis]) < min_component:
            break
        letters.append(_LETTERS[axis][0 if unit[axis] > 0 else 1])
    return "".join(letters)


def display_axis_directions(affine_ras: np.ndarray) -> np.ndarray:
    """Unit patient-RAS direction of each display-array axis, as columns of a (3, 3) array.

    ``affine_ras`` is the display-index -> RAS affine (`DisplayGrid.affine_ras`), 4x4 or 3x3.
    """
    linear = np.asarray(affine_ras, dtype=np.float64)[:3, :3]
    return linear / np.linalg.norm(linear, axis=0)


def edge_letters(
    affine_ras: np.ndarray,
    displayed: tuple[int, int] | list[int],
    *,
    vertical: Literal["up", "down"] = "down",
    horizontal: Literal["left", "right"] = "right",
) -> EdgeLetters:
    """The patient letters on the four edges of a 2-D view of the display grid.

    Parameters
    ----------
    affine_ras : (4, 4) ndarray
        Display-index -> patient RAS (`DisplayGrid.affine_ras`).
    displayed : (2,) sequence of int
        The display axes on screen: rows (vertical), then columns (horizontal), as napari's
        ``dims.displayed`` gives them in 2-D.
    vertical : {"down", "up"}
        Which way the row axis runs on screen (napari ``camera.orientation2d[0]``).
    horizontal : {"right", "left"}
        Which way the column axis runs (napari ``camera.orientation2d[1]``).

    Returns
    -------
    EdgeLetters
        Axial view of a plain axial series (rows P downward, columns L rightward): top A,
        bottom P, left R, right L.
    """
    if vertical not in ("up", "down") or horizontal not in ("left", "right"):
        raise ValueError(f"unknown screen orientation ({vertical!r}, {horizontal!r})")
    row_axis, col_axis = (int(a) for a in displayed)
    directions = display_axis_directions(affine_ras)
    down = directions[:, row_axis] * (1.0 if vertical == "down" else -1.0)
    right = directions[:, col_axis] * (1.0 if horizontal == "right" else -1.0)
    return EdgeLetters(
        top=direction_letters(-down),
        bottom=direction_letters(down),
        left=direction_letters(-right),
        right=direction_letters(right),
    )


def _signed(value: float, positive: str, negative: str, decimals: int) -> str:
    rounded = round(float(value), decimals)
    letter = negative if rounded < 0 else positive
    return f"{letter} {abs(rounded):.{decimals}f}"


def format_ras(position_ras: np.ndarray | tuple[float, float, float], *, decimals: int = 1) -> str:
    """A patient RAS position with the side of each coordinate: ``"L 12.7  P 24.7  I 33.8 mm"``.

    x > 0 is R, x < 0 L; y > 0 A, y < 0 P; z > 0 S, z < 0 I (a coordinate that rounds to zero
    takes the positive letter).
    """
    x, y, z = (float(v) for v in np.asarray(position_ras, dtype=np.float64).reshape(3))
    parts = [
        _signed(value, positive, negative, decimals)
        for value, (positive, negative) in zip((x, y, z), _LETTERS)
    ]
    return "  ".join(parts) + " mm"


def slice_normal(affine_ras: np.ndarray, axis: int) -> np.ndarray:
    """Unit patient-RAS normal of the planes of constant index along display axis ``axis``.

    Oriented so that its dominant component is positive (towards R, A or S): the slice
    position along it then reads like the coordinate of a plain series.
    """
    linear = np.asarray(affine_ras, dtype=np.float64)[:3, :3]
    normal = np.linalg.inv(linear)[int(axis)]  # gradient of that index in RAS
    normal = normal / np.linalg.norm(normal)
    dominant = int(np.argmax(np.abs(normal)))
    return normal if normal[dominant] > 0 else -normal


def slice_position(
    affine_ras: np.ndarray, axis: int, point_ras: np.ndarray | tuple[float, float, float]
) -> tuple[str, str, float]:
    """Name, letter and distance (mm) of the slice through ``point_ras`` normal to ``axis``.

    Returns
    -------
    name : str
        ``"Axial"``, ``"Coronal"`` or ``"Sagittal"``: the plane closest to the slice.
    letter : str
        The side of the patient's origin the slice is on along the normal (e.g. ``"I"``).
    distance_mm : float
        Unsigned distance from the RAS origin along the normal.
    """
    normal = slice_normal(affine_ras, axis)
    dominant = int(np.argmax(np.abs(normal)))
    offset = float(np.dot(np.asarray(point_ras, dtype=np.float64).reshape(3), normal))
    positive, negative = _LETTERS[dominant]
    return PLANE_NAMES[dominant], (negative if round(offset, 1) < 0 else positive), abs(offset)


def format_slice(
    affine_ras: np.ndarray, axis: int, point_ras: np.ndarray | tuple[float, float, float]
) -> str:
    """The slice shown, as a surgeon reads it: ``"Axial  I 33.8 mm"``."""
    name, letter, distance = slice_position(affine_ras, axis, point_ras)
    return f"{name}  {letter} {distance:.1f} mm"


# -- 3-D camera presets ---------------------------------------------------------------------

#: The six anatomical directions a 3-D view can be seen from (``"anterior"``: from the front).
ANATOMICAL_VIEWS: tuple[str, ...] = (
    "anterior",
    "posterior",
    "left",
    "right",
    "superior",
    "inferior",
)

#: Retrosigmoid line of sight, seen from above: the angle between the sagittal plane and the
#: view, degrees. The keyhole behind the sigmoid sinus lies about as far lateral of the root
#: exit zone as behind it; the line of sight runs from there forward and medially.
SURGEON_AZIMUTH_DEG = 40.0
#: Retrosigmoid line of sight: how far it looks down (the keyhole is a little above the REZ).
SURGEON_ELEVATION_DEG = 15.0
#: Field of view of the surgeon's view, mm across the canvas's smaller side.
SURGEON_FIELD_MM = 30.0
#: Field of view of the 3-D overview centred on a finding or the root exit zone, mm.
OVERVIEW_FIELD_MM = 40.0

#: (seen from, view direction in RAS, up in RAS): superior up for the four horizontal views,
#: anterior up for the views from above and below.
_ANATOMICAL: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "anterior": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "superior": ((0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    "inferior": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}

#: napari's default 3-D axes orientation (depth, vertical, horizontal): a right-handed frame.
_NAPARI_DEFAULT_ORIENTATION = ("towards", "down", "right")


@dataclass(frozen=True)
class CameraView:
    """Where a 3-D camera looks: a view direction and the direction drawn up, in patient RAS.

    Attributes
    ----------
    name : str
        What the view is called in the viewer (``"anterior"``, ``"surgeon left"``).
    view_ras : (3,) tuple of float
        Unit direction of the line of sight, from the eye towards the scene.
    up_ras : (3,) tuple of float
        Unit direction shown upwards on the screen, orthogonal to ``view_ras``.
    """

    name: str
    view_ras: tuple[float, float, float]
    up_ras: tuple[float, float, float]

    @property
    def right_ras(self) -> tuple[float, float, float]:
        """Unit direction shown to the screen's right (the view is not mirrored)."""
        right = np.cross(np.asarray(self.up_ras), -np.asarray(self.view_ras))
        return _tuple3(right / np.linalg.norm(right))

    @property
    def view_spl(self) -> tuple[float, float, float]:
        """``view_ras`` in the display world (S, P, L)."""
        return ras_direction_to_spl(self.view_ras)

    @property
    def up_spl(self) -> tuple[float, float, float]:
        """``up_ras`` in the display world (S, P, L)."""
        return ras_direction_to_spl(self.up_ras)


def _tuple3(vector: np.ndarray) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in np.asarray(vector, dtype=np.float64).reshape(3))
    return (x, y, z)


def _unit(vector: np.ndarray | tuple[float, float, float], what: str) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(f"{what} needs a finite non-zero vector, got {array.tolist()}")
    return array / norm


def camera_view(
    name: str,
    view_ras: np.ndarray | tuple[float, float, float],
    up_ras: np.ndarray | tuple[float, float, float],
) -> CameraView:
    """A `CameraView` from any view direction and an up hint (projected off the view).

    Raises
    ------
    ValueError
        For a zero vector, or an up hint along the line of sight.
    """
    view = _unit(view_ras, "a view direction")
    up = np.asarray(up_ras, dtype=np.float64).reshape(3)
    up = up - float(np.dot(up, view)) * view
    if float(np.linalg.norm(up)) < 1e-6:
        raise ValueError(f"the up direction {np.asarray(up_ras).tolist()} is along the view")
    return CameraView(name, _tuple3(view), _tuple3(_unit(up, "an up direction")))


def anatomical_view(name: str) -> CameraView:
    """The view of the patient from one of the six anatomical directions.

    ``"anterior"`` is seen from the front (looking towards posterior, the patient's left on the
    screen's right), ``"left"`` from the patient's left (anterior on the screen's left),
    ``"superior"`` from above (anterior up, the patient's right on the screen's right);
    superior is up in the four horizontal views, anterior up seen from above or below.

    Raises
    ------
    ValueError
        For a name not in `ANATOMICAL_VIEWS`.
    """
    if name not in _ANATOMICAL:
        raise ValueError(f"view must be one of {ANATOMICAL_VIEWS}, got {name!r}")
    view, up = _ANATOMICAL[name]
    return CameraView(name, view, up)


def surgeon_view(
    side: Literal["left", "right"],
    *,
    azimuth_deg: float = SURGEON_AZIMUTH_DEG,
    elevation_deg: float = SURGEON_ELEVATION_DEG,
) -> CameraView:
    """The retrosigmoid surgeon's line of sight to the cerebellopontine angle of one side.

    The eye is posterior, lateral and a little superior of the root exit zone (behind the
    sigmoid sinus); it looks forward (towards A), medially (towards the midline: R for the left
    side, L for the right) and a little down. Superior, projected off the line of sight, is up.

    Parameters
    ----------
    side : {"left", "right"}
        The patient's side operated on.
    azimuth_deg : float, optional
        Angle between the sagittal plane and the line of sight seen from above (0: straight
        forward, 90: straight medial).
    elevation_deg : float, optional
        How far the line of sight looks down from the horizontal plane.

    Returns
    -------
    CameraView
        For the left side with the defaults, view ``(0.62, 0.74, -0.26)`` and up
        ``(0.17, 0.20, 0.97)`` in RAS.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    medial = 1.0 if side == "left" else -1.0  # towards the midline: R on the left side
    azimuth, elevation = np.radians(azimuth_deg), np.radians(elevation_deg)
    view = (
        medial * np.cos(elevation) * np.sin(azimuth),
        np.cos(elevation) * np.cos(azimuth),
        -np.sin(elevation),
    )
    return camera_view(f"surgeon {side}", view, (0.0, 0.0, 1.0))


def ras_direction_to_spl(
    direction_ras: np.ndarray | tuple[float, float, float],
) -> tuple[float, float, float]:
    """A patient RAS direction in the display world (S, P, L): ``(z, -y, -x)``."""
    from .geometry import RAS_TO_SPL

    return _tuple3(RAS_TO_SPL[:3, :3] @ np.asarray(direction_ras, dtype=np.float64).reshape(3))


def unmirrored_orientation(
    displayed: tuple[int, int, int] | list[int],
    orientation: tuple[str, str, str] = _NAPARI_DEFAULT_ORIENTATION,
) -> tuple[str, str, str]:
    """napari's 3-D axes orientation that draws the patient as seen, not mirrored.

    The (S, P, L) world is left-handed in patient space; napari's default orientation
    (``("towards", "down", "right")``) draws its scene axes right-handed. When the displayed
    axes (``dims.order[-3:]``) and the orientation disagree, the depth axis is flipped, the
    vertical and horizontal kept (docs/design.md, "3-D handedness").

    Parameters
    ----------
    displayed : (3,) sequence of int
        World axes of napari's scene axes, in order.
    orientation : (3,) tuple of str
        The camera's current ``orientation`` (depth, vertical, horizontal).
    """
    from .geometry import RAS_TO_SPL

    scene_to_ras = np.linalg.inv(RAS_TO_SPL)[:3, :3][:, [int(a) for a in displayed]]
    want_left = bool(np.linalg.det(scene_to_ras) < 0)
    depth, vertical, horizontal = (str(o) for o in orientation)
    flips = sum(a != b for a, b in zip((depth, vertical, horizontal), _NAPARI_DEFAULT_ORIENTATION))
    if (flips % 2 == 1) != want_left:
        depth = "away" if depth == "towards" else "towards"
    return (depth, vertical, horizontal)


def scene_vector(
    world_spl: np.ndarray | tuple[float, float, float], displayed: tuple[int, int, int] | list[int]
) -> tuple[float, float, float]:
    """A world (S, P, L) direction in napari's scene coordinates (the displayed axes)."""
    world = np.asarray(world_spl, dtype=np.float64).reshape(3)
    return _tuple3(world[[int(a) for a in displayed]])


def napari_camera_angles(
    view: CameraView,
    displayed: tuple[int, int, int] | list[int],
    orientation: tuple[str, str, str],
) -> tuple[float, float, float]:
    """napari's camera Euler angles (degrees) that show ``view`` in the (S, P, L) world.

    The same arithmetic as napari's ``Camera.set_view_direction``: the rotation that takes
    the orientation's home view (looking along the depth axis, the vertical axis up) to the
    view and up directions in scene coordinates, as intrinsic XYZ Euler angles, negated.
    ``orientation`` should be the un-mirrored one (`unmirrored_orientation`).
    """
    from scipy.spatial.transform import Rotation

    direction = _unit(scene_vector(view.view_spl, displayed), "a view direction")
    up = np.asarray(scene_vector(view.up_spl, displayed))
    up = _unit(up - float(np.dot(up, direction)) * direction, "an up direction")
    depth, vertical, _ = (str(o) for o in orientation)
    home_view = np.array([-1.0 if depth == "towards" else 1.0, 0.0, 0.0])
    home_up = np.array([0.0, -1.0 if vertical == "down" else 1.0, 0.0])
    camera = np.stack([direction, up, np.cross(direction, up)], axis=1)
    home = np.stack([home_view, home_up, np.cross(home_view, home_up)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: still the same rotation
        angles = Rotation.from_matrix(camera @ home.T).as_euler("XYZ", degrees=True)
    return _tuple3(-angles)


def zoom_for_field(field_mm: float, canvas_px: tuple[int, int] | list[int]) -> float:
    """napari 3-D camera zoom (pixels per mm) that fits ``field_mm`` across the canvas's
    smaller side."""
    if not field_mm > 0:
        raise ValueError(f"a field of view must be positive, got {field_mm}")
    return float(min(int(p) for p in canvas_px)) / float(field_mm)
