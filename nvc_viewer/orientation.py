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

Pure numpy: no GUI import. The napari plugin only draws the strings made here.
"""

from __future__ import annotations

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
