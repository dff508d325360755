"""Orientation everywhere: letters on the 2-D views' edges, one RAS read-out (canvas corner and
status bar), the slice position in mm, a 3-D view with superior up and patient axes."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from napari.utils.interactions import mouse_move_callbacks
from nvc_viewer_napari._case_view import case_view_for, text_overlay
from nvc_viewer_napari._orientation_overlay import EDGE_OVERLAYS, SLICE_OVERLAY
from qtpy.QtWidgets import QApplication
from scipy import ndimage

from nvc_viewer.geometry import RAS_TO_SPL

from ._phantoms import make_volume, screenshot_dir
from .test_orientation import _marker_phantom

_RAS = re.compile(r"([RL]) (\d+\.\d)  ([AP]) (\d+\.\d)  ([SI]) (\d+\.\d) mm")


def _parse_ras(text: str) -> np.ndarray:
    """``"L 12.7  P 24.7  I 33.8 mm"`` -> RAS ``(-12.7, -24.7, -33.8)``."""
    match = _RAS.search(text)
    assert match, f"no RAS position with letters in {text!r}"
    x, y, z = (float(match.group(n)) for n in (2, 4, 6))
    return np.array(
        [
            x if match.group(1) == "R" else -x,
            y if match.group(3) == "A" else -y,
            z if match.group(5) == "S" else -z,
        ]
    )


def _open(make_napari_viewer, tmp_path: Path, volume, *, show: bool = False):  # type: ignore[no-untyped-def]
    viewer = make_napari_viewer(show=show)
    view = case_view_for(viewer, workspace=tmp_path / "ws")
    view.open_case(volume, case_id="orientation")
    return viewer, view


def _edges(viewer) -> dict[str, tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    overlays = viewer.canvas.overlays
    return {
        edge: (overlays[key].text, str(overlays[key].position), overlays[key].visible)
        for edge, (key, _) in EDGE_OVERLAYS.items()
    }


def _letters(viewer) -> tuple[str, str, str, str]:  # type: ignore[no-untyped-def]
    edges = _edges(viewer)
    assert all(visible for _, _, visible in edges.values())
    return tuple(edges[e][0] for e in ("top", "bottom", "left", "right"))  # type: ignore[return-value]


def _move(viewer, position_world, view_direction=None) -> None:  # type: ignore[no-untyped-def]
    viewer.cursor.position = tuple(float(v) for v in position_world)
    event = SimpleNamespace(
        type="mouse_move",
        position=tuple(float(v) for v in position_world),
        view_direction=view_direction,
        dims_displayed=list(viewer.dims.displayed),
        modifiers=[],
        is_dragging=False,
        handled=False,
    )
    mouse_move_callbacks(viewer, event)


def test_the_edges_of_each_2d_view_carry_the_patient_letters(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer, view = _open(make_napari_viewer, tmp_path, make_volume("sagittal"))
    edges = _edges(viewer)
    assert edges["top"][:2] == ("A", "top_center")
    assert edges["bottom"][:2] == ("P", "bottom_center")
    assert edges["left"][:2] == ("R", "middle_left")
    assert edges["right"][:2] == ("L", "middle_right")
    assert _letters(viewer) == ("A", "P", "R", "L")

    view.show_plane("coronal")
    assert _letters(viewer) == ("S", "I", "R", "L")
    view.show_plane("sagittal")
    assert _letters(viewer) == ("S", "I", "A", "P")
    # napari's own axis controls: the letters follow dims.order and the camera's flips
    view.show_plane("axial")
    camera = viewer.scene.camera
    camera.orientation2d = ("up", "right")
    assert _letters(viewer) == ("P", "A", "R", "L")
    viewer.dims.order = (1, 0, 2)  # coronal plane (rows S, going up)
    assert _letters(viewer) == ("S", "I", "R", "L")

    # 3-D: no edge letters, the patient axes instead
    view.show_plane("3-D")
    assert not any(visible for _, _, visible in _edges(viewer).values())
    assert viewer.canvas.overlays.axes.visible
    assert tuple(viewer.dims.axis_labels) == ("S", "P", "L")  # the arrows' labels
    view.show_plane("axial")
    assert _letters(viewer) == ("A", "P", "R", "L")
    assert not viewer.canvas.overlays.axes.visible


def test_an_oblique_series_gets_the_letters_of_its_dominant_directions(
    make_napari_viewer, tmp_path: Path
) -> None:
    # the phantoms' oblique series: tilted 14 degrees about L-R, turned 9 degrees about S-I
    viewer, view = _open(make_napari_viewer, tmp_path, make_volume("oblique"))
    top, bottom, left, right = _letters(viewer)
    assert top[0] == "A" and bottom[0] == "P" and left[0] == "R" and right[0] == "L"
    view.show_plane("sagittal")
    top, bottom, left, right = _letters(viewer)
    # the rows of the sagittal view run 14 degrees off S-I: a second letter, A or P
    assert top[0] == "S" and len(top) == 2 and top[1] in "AP"
    assert bottom[0] == "I" and len(bottom) == 2 and bottom[1] in "AP" and bottom[1] != top[1]


def test_one_ras_readout_in_the_corner_and_the_status_bar(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer, view = _open(make_napari_viewer, tmp_path, _marker_phantom("axial"), show=True)
    overlay = text_overlay(viewer)
    target = np.array([-7.2, -1.6, 0.4])  # in the left marker, on a voxel plane
    world = view.ras_to_world(target)
    viewer.dims.set_point(0, world[0])
    viewer.mouse_over_canvas = True
    _move(viewer, world)
    assert overlay.visible
    assert overlay.text == "L 7.2  P 1.6  S 0.4 mm"
    np.testing.assert_allclose(_parse_ras(overlay.text), target, atol=0.051)

    # napari's status bar: the same patient position, not the (S, P, L) display coordinates
    viewer.update_status_from_cursor()
    status = viewer.status
    assert isinstance(status, dict)
    assert status["coordinates"].startswith("L 7.2  P 1.6  S 0.4 mm"), status
    assert status["value"], status  # the voxel value still given
    assert status["coordinates"] == f"L 7.2  P 1.6  S 0.4 mm: {status['value']}", status
    bar = viewer.window._qt_window.statusBar()
    assert "L 7.2  P 1.6  S 0.4 mm" in bar._coordinates.text()

    # the slice position, in patient mm along the slice normal
    assert viewer.canvas.overlays[SLICE_OVERLAY].text == "Axial  S 0.4 mm"
    viewer.dims.set_point(0, world[0] - 2.4)  # 3 slices down (0.8 mm voxels)
    assert viewer.canvas.overlays[SLICE_OVERLAY].text == "Axial  I 2.0 mm"
    np.testing.assert_allclose(_parse_ras(overlay.text), target - [0, 0, 2.4], atol=0.051)

    # the mouse leaves the canvas: no stale position anywhere
    viewer.mouse_over_canvas = False
    assert not overlay.visible and overlay.text == ""
    assert bar._coordinates.text() == ""

    # back, then 3-D: the 2-D position does not stay on the canvas
    viewer.mouse_over_canvas = True
    _move(viewer, world)
    assert overlay.visible
    view.show_plane("3-D")
    assert not overlay.visible and overlay.text == ""
    assert not viewer.canvas.overlays[SLICE_OVERLAY].visible
    # (napari's own status of a layer made later fails in 3-D without a real mouse ray)
    viewer.mouse_over_canvas = False


def _screen_axes(viewer, layer) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Screen-right and screen-up directions in world (S, P, L), measured through vispy's
    transform of the layer's node (data -> canvas pixels)."""
    for _ in range(3):
        QApplication.processEvents()
    node = viewer.window._qt_viewer.canvas.layer_to_visual[layer].node
    transform = node.get_transform("visual", "canvas")
    displayed = list(viewer.dims.displayed)
    centre = np.zeros(3)
    centre[displayed] = viewer.scene.camera.center
    centre = np.asarray(layer.world_to_data(centre), dtype=float)

    def pixel(data_point: np.ndarray) -> np.ndarray:
        mapped = transform.map(data_point[displayed][::-1])  # vispy: displayed axes, last first
        return mapped[:2] / mapped[3]

    base = pixel(centre)
    jacobian = []
    for axis in range(3):
        moved = centre.copy()
        moved[axis] += 1.0 / layer.scale[axis]  # 1 mm along the world axis
        jacobian.append(pixel(moved) - base)
    rows = np.array(jacobian).T  # (canvas x right, canvas y down) per world mm
    return rows[0] / np.linalg.norm(rows[0]), -rows[1] / np.linalg.norm(rows[1])


@pytest.mark.parametrize("how", ["panel", "napari toggle"])
def test_3d_comes_up_superior_up_seen_from_the_front_not_mirrored(
    make_napari_viewer, tmp_path: Path, how: str
) -> None:
    viewer, view = _open(make_napari_viewer, tmp_path, make_volume("axial"), show=True)
    view.show_plane("coronal")  # a 2-D view whose screen flips differ from the axial one
    if how == "panel":
        view.show_plane("3-D")
    else:
        viewer.dims.ndisplay = 3
    right, up = _screen_axes(viewer, view.reference)
    assert up[0] > 0.9, f"screen-up in (S, P, L) is {np.round(up, 2)}"
    assert right[2] > 0.9, f"the patient's left is not on the right: {np.round(right, 2)}"
    # a real view, not a mirror image: in patient RAS, right x up points to the viewer,
    # against the camera's view direction
    spl_to_ras = np.linalg.inv(RAS_TO_SPL)[:3, :3]
    towards_viewer = np.cross(spl_to_ras @ right, spl_to_ras @ up)
    view_world = np.zeros(3)
    view_world[list(viewer.dims.displayed)] = viewer.scene.camera.view_direction
    view_direction = spl_to_ras @ view_world
    assert np.dot(towards_viewer, view_direction) < -0.99
    assert view_direction[1] < -0.9  # looking from the front towards posterior
    assert viewer.canvas.overlays.axes.visible

    # the surgeon turns the view; 2-D and back keeps it
    order = list(viewer.dims.order)  # the camera's scene axes: world axes in dims order
    # seen from the patient's left (looking towards L), superior up
    viewer.scene.camera.set_view_direction(
        tuple(-1.0 if a == 2 else 0.0 for a in order), tuple(1.0 if a == 0 else 0.0 for a in order)
    )
    turned = np.asarray(viewer.scene.camera.view_direction)
    view.show_plane("axial")
    assert viewer.scene.camera.orientation2d == ("down", "right")
    viewer.dims.ndisplay = 3
    assert list(viewer.dims.order) == [0, 1, 2] and order == [1, 0, 2]
    np.testing.assert_allclose(viewer.scene.camera.view_direction, turned[[1, 0, 2]], atol=1e-6)
    _, up = _screen_axes(viewer, view.reference)
    assert up[0] > 0.9


def test_axial_screenshot_shows_letters_and_a_left_marker_on_the_right(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer, view = _open(make_napari_viewer, tmp_path, _marker_phantom("axial"), show=True)
    viewer.window._qt_window.resize(900, 760)
    view.reference.contrast_limits = (0.0, 1000.0)
    viewer.dims.set_point(0, 0.0)  # the axial slice through the markers
    viewer.mouse_over_canvas = True
    _move(viewer, view.ras_to_world(np.array([-7.5, 0.0, 0.0])))
    viewer.reset_view()
    out = screenshot_dir(tmp_path) / "orientation_axial.png"
    shot = viewer.screenshot(str(out), canvas_only=True)
    height, width = shot.shape[:2]

    rgb = shot[..., :3].astype(int)
    white = np.all(rgb > 200, axis=-1)  # the markers (1000 on a 0-1000 window)
    blobs, n = ndimage.label(white)
    sizes = ndimage.sum_labels(np.ones_like(blobs), blobs, index=range(1, n + 1))
    big = int(np.argmax(sizes)) + 1
    row, col = ndimage.center_of_mass(blobs == big)
    assert col > width / 2, "the patient's left is not on the screen's right"
    assert abs(row - height / 2) < height / 8

    yellow = (rgb[..., 0] > 200) & (rgb[..., 1] > 170) & (rgb[..., 2] < 150)  # the letters
    assert yellow[: height // 8, width // 3 : 2 * width // 3].any(), "no letter at the top"
    assert yellow[-height // 8 :, width // 3 : 2 * width // 3].any(), "no letter at the bottom"
    assert yellow[height // 3 : 2 * height // 3, : width // 10].any(), "no letter on the left"
    assert yellow[height // 3 : 2 * height // 3, -width // 10 :].any(), "no letter on the right"
    assert out.stat().st_size < 250_000


def test_3d_screenshot(make_napari_viewer, tmp_path: Path) -> None:
    viewer, view = _open(make_napari_viewer, tmp_path, _marker_phantom("axial"), show=True)
    viewer.window._qt_window.resize(900, 760)
    view.reference.contrast_limits = (0.0, 1000.0)
    view.show_plane("3-D")
    out = screenshot_dir(tmp_path) / "orientation_3d.png"
    shot = viewer.screenshot(str(out), canvas_only=True)
    assert shot[..., :3].max() > 200  # the markers are drawn
    assert out.stat().st_size < 250_000
