"""The nerve plane: the oblique reformat through the nerve's axis beside the main canvas, on a
phantom whose nerves, landmarks and contact are known. It opens from the analysis panel (or its
key), goes through the facial root exit zone or the selected finding, carries the patient
letters of its own edges and a mm scale, and a position on it is a patient RAS position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from napari.utils.key_bindings import coerce_keybinding
from nvc_viewer_napari._analysis_panel import AnalysisPanel
from nvc_viewer_napari._case_view import case_view_for
from nvc_viewer_napari._dock import dock_panels
from nvc_viewer_napari._layers import volume_to_layer_data
from nvc_viewer_napari._nerve_plane import NERVE_PLANE_KEY, nerve_plane_for
from PIL import Image

from nvc_viewer.labels import ARTERY, CN7
from nvc_viewer.phantom import make_phantom

from ._phantoms import screenshot_dir, truth_as_result


@pytest.fixture(scope="module")
def phantom():  # type: ignore[no-untyped-def]
    return make_phantom("contact", side="left", seed=3, supersample=2)


def _open(make_napari_viewer, phantom, tmp_path: Path, *, show: bool = False):  # type: ignore[no-untyped-def]
    """A viewer with the phantom open, its truth taken as the analysis' result; shown: the
    workstation (the panels docked)."""
    viewer = make_napari_viewer(show=show)
    if show:
        viewer.window._qt_window.resize(1600, 1000)
        dock_panels(viewer, workspace=tmp_path / "ws")
    view = case_view_for(viewer, workspace=tmp_path / "ws")
    view.open_case(phantom.t2, phantom.tof, case_id="nerve-plane")
    view.session.apply_analysis(truth_as_result(phantom, view.session.findings.source))
    # the label map shown, as the analysis panel shows it
    view.show_labels(
        volume_to_layer_data(
            phantom.labels, name="labels", kind="labels", reference_grid=view.session.grid
        )
    )
    return viewer, view


def _landmark(view, side: str, name: str = "RDP") -> np.ndarray:  # type: ignore[no-untyped-def]
    (lm,) = [
        lm
        for lm in view.session.findings.landmarks
        if (lm.side, lm.nerve, lm.name) == (side, "VII", name)
    ]
    return np.asarray(lm.position_ras, dtype=float)


def _centre_pixel(plane) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.full(2, (plane.shape[0] - 1) / 2.0)


def test_the_nerve_plane_opens_on_the_facial_root_exit_zone_and_follows_the_finding(
    make_napari_viewer, tmp_path: Path, phantom
) -> None:
    viewer, view = _open(make_napari_viewer, phantom, tmp_path)
    panel = AnalysisPanel(viewer)
    nerve_plane = nerve_plane_for(viewer)
    assert not nerve_plane.enabled and nerve_plane.model is None  # nothing made until asked
    assert viewer.keymap.get(coerce_keybinding(NERVE_PLANE_KEY)) is not None
    panel.nerve_plane_button.click()
    assert nerve_plane.enabled and panel.nerve_plane_button.isChecked()
    assert nerve_plane.dock is not None and nerve_plane.dock.isVisibleTo(viewer.window._qt_window)

    # nothing selected: through the left facial RDP, the nerve across, superior up
    plane = nerve_plane.plane
    assert plane is not None, nerve_plane.message
    rdp = _landmark(view, "left")
    assert np.allclose(plane.ras_to_pixel(rdp)[:2], _centre_pixel(plane), atol=0.05)
    assert "VII left at the root exit zone" in nerve_plane.caption.text()
    image, labels = nerve_plane.layer("image"), nerve_plane.layer("labels")
    assert image.data is plane.image and labels.data is plane.labels
    assert str(image.units[0]) == "millimeter" and np.allclose(image.scale, plane.spacing_mm)
    # the main view's window and label colours (the faint cisterns)
    assert image.contrast_limits == pytest.approx(view.reference.contrast_limits)
    assert labels.opacity == view.labels_layer.opacity
    assert np.allclose(labels.colormap.map(2), view.labels_layer.colormap.map(2))
    view.reference.contrast_limits = (0.1, 0.6)  # the surgeon's window/level follows
    assert image.contrast_limits == pytest.approx((0.1, 0.6))
    c = int(_centre_pixel(plane)[0])
    assert (plane.labels[c - 1 : c + 2, c - 1 : c + 2] == CN7).any()
    # the letters on its edges are the plane's own, from its affine
    overlay = nerve_plane.orientation
    assert overlay.letters == plane.letters
    assert overlay.overlay("top").text.startswith("S") and overlay.overlay("top").visible
    assert overlay.overlay("right").text.startswith("L")
    assert nerve_plane.model.canvas.overlays.scale_bar.visible
    # the RDP is drawn on the plane, at its centre
    markers = nerve_plane.layer("points")
    assert len(markers.data)
    assert (
        np.min(np.linalg.norm(markers.data / plane.spacing_mm - _centre_pixel(plane), axis=1)) < 0.1
    )

    # a selected finding: the plane through its contact, turned towards its vessel
    (finding,) = view.session.findings.findings
    view.select(finding.id)
    plane = nerve_plane.plane
    assert plane is not None and plane.toward_vessel
    contact = np.asarray(finding.position_ras)
    assert np.allclose(plane.ras_to_pixel(contact)[:2], _centre_pixel(plane), atol=0.2)
    assert nerve_plane.side.currentText() == finding.side
    assert f"at the selected finding ({finding.vessel} contact)" in nerve_plane.caption.text()
    near = np.hypot(*(np.indices(plane.shape) - c)) * plane.spacing_mm <= 3.0
    assert (plane.labels[near] == ARTERY).sum() >= 3 and (plane.labels[near] == CN7).sum() >= 3

    # turned about the nerve: the same axis through the same point, another plane
    before = plane
    nerve_plane.roll.setValue(45)
    plane = nerve_plane.plane
    assert np.allclose(plane.nerve_point_ras, before.nerve_point_ras)
    assert np.allclose(plane.axis_ras, before.axis_ras)
    assert abs(float(plane.ras_to_pixel(plane.nerve_point_ras)[2])) < 1e-9
    assert abs(float(plane.normal_ras @ before.normal_ras)) == pytest.approx(
        np.cos(np.radians(45.0)), abs=1e-6
    )
    assert "turned 45° about the nerve" in nerve_plane.caption.text()
    nerve_plane.roll.setValue(0)

    # the other side: the selection goes, the plane through the right RDP
    nerve_plane.side.setCurrentText("right")
    assert view.selected_id is None
    plane = nerve_plane.plane
    assert np.allclose(plane.ras_to_pixel(_landmark(view, "right"))[:2], _centre_pixel(plane), 0.05)
    assert plane.letters.right.startswith("L")

    # hidden by the key's toggle, and the button follows
    nerve_plane.toggle()
    assert not nerve_plane.enabled and not panel.nerve_plane_button.isChecked()


def test_a_position_on_the_plane_is_a_patient_position(
    make_napari_viewer, tmp_path: Path, phantom
) -> None:
    viewer, view = _open(make_napari_viewer, phantom, tmp_path)
    nerve_plane = nerve_plane_for(viewer)
    nerve_plane.set_enabled(True)
    plane = nerve_plane.plane
    # a pixel off the centre, by its world position on the plane's canvas (mm on the plane)
    pixel = np.array([30.0, 52.0])
    world = pixel * plane.spacing_mm
    ras = nerve_plane.ras_at(world)
    assert np.allclose(ras, plane.pixel_to_ras(pixel))
    assert np.allclose(plane.ras_to_pixel(ras), [*pixel, 0.0], atol=1e-9)
    # the mouse read-out names it with its letters, and a click takes the main views there
    nerve_plane._on_mouse_move(nerve_plane.model, type("E", (), {"position": tuple(world)})())
    assert nerve_plane.cursor.text().endswith(" mm") and nerve_plane.cursor.text()[0] in "RL"
    nerve_plane.go_to(world)
    grid = view.session.grid
    shown = grid.display_to_ras(np.asarray(viewer.dims.point, dtype=float))
    half_voxel = 0.5 * np.linalg.norm(np.abs(np.asarray(grid.scale, dtype=float)))
    assert np.linalg.norm(shown - ras) <= half_voxel + 1e-6
    # without a case: nothing shown, and why
    view.session.close()
    assert nerve_plane.plane is None and not len(nerve_plane.model.layers)
    assert nerve_plane.caption.text() == "No case open."


def test_without_an_analysis_the_plane_says_what_is_missing(
    make_napari_viewer, tmp_path: Path, phantom
) -> None:
    viewer = make_napari_viewer()
    view = case_view_for(viewer, workspace=tmp_path / "ws")
    view.open_case(phantom.t2, case_id="not-analysed")
    nerve_plane = nerve_plane_for(viewer)
    nerve_plane.set_enabled(True)
    assert nerve_plane.plane is None
    assert "analyse the case" in nerve_plane.caption.text()


def test_screenshot_of_the_nerve_plane_at_the_contact(
    make_napari_viewer, qtbot, tmp_path: Path, phantom
) -> None:
    """The workstation with the nerve plane on the selected contact (written to
    docs/screenshots with NVC_WRITE_SCREENSHOTS=1)."""
    viewer, view = _open(make_napari_viewer, phantom, tmp_path, show=True)
    nerve_plane = nerve_plane_for(viewer)
    nerve_plane.set_enabled(True)
    view.show_plane("axial")
    (finding,) = view.session.findings.findings
    view.select(finding.id)
    qtbot.wait(300)  # the docks take their size, the plane is refitted to it
    # about 20 mm of the plane across the canvas, centred on the contact
    camera = nerve_plane.model.scene.camera
    assert min(nerve_plane.model.canvas.size) / camera.zoom == pytest.approx(20.0, rel=0.02)
    plane = nerve_plane.plane
    assert np.allclose(np.asarray(camera.center)[-2:] / plane.spacing_mm, _centre_pixel(plane))
    # the plane's own canvas without its markers: the facial nerve (the label's yellow over
    # the dark nerve) runs across the middle, the artery (red) touches it there
    markers = nerve_plane.layer("points")
    markers.visible = False
    rgb = nerve_plane.qt_viewer.screenshot(flash=False)[..., :3].astype(int)
    markers.visible = True
    height, width = rgb.shape[:2]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    yellow = (r - b > 50) & (g - b > 40) & (np.abs(r - g) < 40)
    red = (r - g > 50) & (np.abs(g - b) < 25)
    rows, cols = np.indices((height, width))
    near = np.hypot(rows - height / 2, cols - width / 2) < 0.15 * min(height, width)
    assert yellow[near].sum() > 100, "no facial nerve in the middle of the plane"
    assert red[near].sum() > 50, "no artery in the middle of the plane"
    ys, xs = rows[yellow & near], cols[yellow & near]
    assert np.ptp(xs) > 2 * np.ptp(ys), "the nerve does not run across"
    shot = viewer.screenshot(canvas_only=False, flash=False)
    image = Image.fromarray(shot[..., :3]).convert("P", palette=Image.ADAPTIVE, colors=128)
    out = screenshot_dir(tmp_path) / "nerve_plane.png"
    image.save(out, optimize=True)
    assert out.stat().st_size < 250_000
