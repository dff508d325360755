"""Letters of the screen edges and RAS read-outs, as Slicer, ITK-SNAP and PACS show them."""

import numpy as np
import pytest

from nvc_viewer.geometry import LPS_TO_RAS, to_display
from nvc_viewer.orientation import (
    EdgeLetters,
    direction_letters,
    edge_letters,
    format_ras,
    format_slice,
    slice_position,
)
from nvc_viewer.volume import Volume

# The display planes as the viewer shows them: (displayed axes, screen vertical) in (S, P, L).
AXIAL = ((1, 2), "down")  # rows P downward, columns L rightward
CORONAL = ((0, 2), "up")  # rows S upward, columns L
SAGITTAL = ((0, 1), "up")  # rows S upward, columns P


def _grid(linear_ras: np.ndarray, shape=(8, 9, 10)):
    affine = np.eye(4)
    affine[:3, :3] = linear_ras
    affine[:3, 3] = [5.0, -7.0, 3.0]
    return to_display(Volume(np.zeros(shape, np.float32), affine))[1]


def _letters(grid, plane) -> EdgeLetters:
    displayed, vertical = plane
    return edge_letters(grid.affine_ras, displayed, vertical=vertical, horizontal="right")


def _rot_z(degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# A DICOM axial series (i -> patient left, j -> posterior, k -> superior), in RAS.
AXIAL_SERIES = LPS_TO_RAS[:3, :3] @ np.diag([0.5, 0.6, 0.8])
# A sagittal series: i -> posterior, j -> inferior, k -> patient left (LPS), in RAS.
SAGITTAL_SERIES = LPS_TO_RAS[:3, :3] @ np.array([[0, 0, 0.8], [0.5, 0, 0], [0, -0.6, 0]])


@pytest.mark.parametrize("series", [AXIAL_SERIES, SAGITTAL_SERIES], ids=["axial", "sagittal"])
def test_plain_series_give_the_radiological_letters_in_each_plane(series) -> None:
    grid = _grid(series)
    assert _letters(grid, AXIAL) == EdgeLetters(top="A", bottom="P", left="R", right="L")
    assert _letters(grid, CORONAL) == EdgeLetters(top="S", bottom="I", left="R", right="L")
    assert _letters(grid, SAGITTAL) == EdgeLetters(top="S", bottom="I", left="A", right="P")


def test_screen_flips_swap_the_letters() -> None:
    grid = _grid(AXIAL_SERIES)
    flipped = edge_letters(grid.affine_ras, (1, 2), vertical="up", horizontal="left")
    assert flipped == EdgeLetters(top="P", bottom="A", left="L", right="R")


def test_a_20_degree_oblique_series_carries_two_letters_dominant_first() -> None:
    # The axial series turned 20 degrees about S-I: its columns run left and a little anterior.
    grid = _grid(_rot_z(-20.0) @ AXIAL_SERIES)
    assert grid.obliquity_deg == pytest.approx(20.0, abs=1e-6)
    letters = _letters(grid, AXIAL)
    column_ras = grid.affine_ras[:3, 2] / np.linalg.norm(grid.affine_ras[:3, 2])
    assert column_ras[0] < -0.9 and column_ras[1] > 0.3  # left, then anterior
    assert letters.right == "LA"
    assert letters.left == "RP"
    assert letters.top == "AR"
    assert letters.bottom == "PL"
    # through-plane: still an axial slice, the S-I edges of the coronal view unchanged
    assert _letters(grid, CORONAL).top == "S"


def test_a_small_tilt_reads_as_a_plain_series() -> None:
    grid = _grid(_rot_z(5.0) @ AXIAL_SERIES)
    assert _letters(grid, AXIAL) == EdgeLetters(top="A", bottom="P", left="R", right="L")


def test_direction_letters() -> None:
    assert direction_letters((-1.0, 0.0, 0.0)) == "L"
    assert direction_letters((0.0, 0.0, 2.0)) == "S"
    assert direction_letters((0.0, -1.0, 0.0)) == "P"
    assert direction_letters((0.3, 0.0, -1.0)) == "IR"
    assert direction_letters((0.6, 0.6, 0.5)) in ("RAS", "ARS")
    with pytest.raises(ValueError):
        direction_letters((0.0, 0.0, 0.0))


def test_format_ras_spells_out_the_side_of_each_coordinate() -> None:
    assert format_ras((-12.66, -24.7, -33.8)) == "L 12.7  P 24.7  I 33.8 mm"
    assert format_ras((3.0, 4.04, 5.0)) == "R 3.0  A 4.0  S 5.0 mm"
    assert format_ras((-0.01, 0.0, 0.0)) == "R 0.0  A 0.0  S 0.0 mm"
    assert format_ras(np.array([1.234, -2.0, 0.5]), decimals=2) == "R 1.23  P 2.00  S 0.50 mm"


def test_slice_position_is_the_patient_coordinate_along_the_normal() -> None:
    grid = _grid(AXIAL_SERIES)
    assert format_slice(grid.affine_ras, 0, (4.0, -2.0, -33.8)) == "Axial  I 33.8 mm"
    assert format_slice(grid.affine_ras, 1, (4.0, -2.0, -33.8)) == "Coronal  P 2.0 mm"
    assert format_slice(grid.affine_ras, 2, (4.0, -2.0, -33.8)) == "Sagittal  R 4.0 mm"
    # oblique: the distance along the tilted normal, still named by its nearest plane
    tilted = _grid(_rot_z(-20.0) @ AXIAL_SERIES)
    name, letter, distance = slice_position(tilted.affine_ras, 2, (10.0, 0.0, 0.0))
    assert (name, letter) == ("Sagittal", "R")
    assert distance == pytest.approx(10.0 * np.cos(np.radians(20.0)), abs=1e-9)
