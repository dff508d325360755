"""The 3-D view presets on the analysed sample case: the surgeon's retrosigmoid view of each
side, the six anatomical directions, the 3-D button centred on the finding.

Where things land on the screen is measured, not taken from the camera's own numbers: a
point's world position goes through vispy's transform of a layer's node (data -> canvas pixels),
and the screen's up and right are measured the same way (`_screen_axes` of the orientation
tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nvc_viewer_napari._analysis_panel import AnalysisPanel
from nvc_viewer_napari._case_view import case_view_for
from qtpy.QtWidgets import QApplication

from nvc_viewer.geometry import RAS_TO_SPL

from ._phantoms import screenshot_dir
from .test_orientation_overlay import _screen_axes

SPL_TO_RAS = np.linalg.inv(RAS_TO_SPL)[:3, :3]
WAIT_MS = 30_000


def _analysed(make_napari_viewer, qtbot, tmp_path: Path, sample, *, show: bool = False):  # type: ignore[no-untyped-def]
    """A viewer with the sample opened and analysed through the panel (surfaces drawn)."""
    viewer = make_napari_viewer(show=show)
    if show:
        viewer.window._qt_window.resize(900, 760)
    view = case_view_for(viewer, workspace=tmp_path / "ws")
    view.open_case(sample["t2"], sample["tof"], case_id="sample")
    panel = AnalysisPanel(viewer)
    panel.in_process = False

    def analyse(t2, tof=None, *, progress=None, cancel=None):  # type: ignore[no-untyped-def]
        return sample["result"]

    panel.analyse = analyse
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        assert panel.start()
    assert outcome.args == ["done"], panel.status.text()
    assert view.meshes, "no surfaces built"
    return viewer, view, panel


def _landmark(view, side: str, name: str = "RDP", nerve: str = "VII") -> np.ndarray:  # type: ignore[no-untyped-def]
    for lm in view.session.findings.landmarks:
        if (lm.side, lm.name, lm.nerve) == (side, name, nerve):
            return np.asarray(lm.position_ras, dtype=float)
    raise AssertionError(f"no {nerve} {name} on the {side}")


def _pixel(viewer, layer, world: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """World (S, P, L) mm -> canvas pixels (x right, y down) through vispy's transform."""
    for _ in range(3):
        QApplication.processEvents()
    node = viewer.window._qt_viewer.canvas.layer_to_visual[layer].node
    transform = node.get_transform("visual", "canvas")
    displayed = list(viewer.dims.displayed)
    data = np.asarray(layer.world_to_data(world), dtype=float)
    mapped = transform.map(data[displayed][::-1])  # vispy: displayed axes, last first
    return np.asarray(mapped[:2] / mapped[3])


def _canvas_size(viewer) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(width, height) of the canvas, pixels."""
    return np.asarray(viewer.window._qt_viewer.canvas._scene_canvas.size, dtype=float)


def _view_ras(viewer) -> np.ndarray:  # type: ignore[no-untyped-def]
    world = np.zeros(3)
    world[list(viewer.dims.displayed)] = viewer.scene.camera.view_direction
    return SPL_TO_RAS @ world


def _screen_ras(viewer, layer) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    right, up = _screen_axes(viewer, layer)
    return SPL_TO_RAS @ right, SPL_TO_RAS @ up


def _centred(viewer, layer, world: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Offset of a point from the canvas centre, as a fraction of the canvas size."""
    size = _canvas_size(viewer)
    return (_pixel(viewer, layer, world) - size / 2) / size


def _field_mm(viewer, layer, world: np.ndarray, right_spl: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """How many mm across the screen's right span the canvas's smaller side."""
    a = _pixel(viewer, layer, world - 5.0 * right_spl)
    b = _pixel(viewer, layer, world + 5.0 * right_spl)
    return float(10.0 * _canvas_size(viewer).min() / np.linalg.norm(b - a))


@pytest.mark.parametrize("side", ["left", "right"])
def test_surgeon_s_view_looks_at_the_rez_from_behind_and_lateral(
    make_napari_viewer, qtbot, tmp_path: Path, sample, side: str
) -> None:
    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample, show=True)
    panel.view_buttons[f"surgeon {side}"].click()
    assert viewer.dims.ndisplay == 3
    rdp = view.ras_to_world(_landmark(view, side))
    layer = view.landmarks_layer
    offset = _centred(viewer, layer, rdp)
    assert np.all(np.abs(offset) < 0.10), f"the {side} RDP is {np.round(offset, 3)} off centre"

    # looking from posterior-lateral-superior towards the REZ: forward, medial, a little down
    direction = _view_ras(viewer)
    medial = 1.0 if side == "left" else -1.0
    assert direction[1] > 0.5, np.round(direction, 2)
    assert direction[0] * medial > 0.4, np.round(direction, 2)
    assert -0.5 < direction[2] < 0.0, np.round(direction, 2)
    right, up = _screen_ras(viewer, layer)
    assert up[2] > 0.8, f"screen-up in RAS is {np.round(up, 2)}"
    # not mirrored: the brainstem (medial) on the right of the left REZ, on the left of the
    # right one (as the surgeon standing behind the patient's head sees them)
    towards_brainstem = right[0] * medial
    assert towards_brainstem > 0.5 if side == "left" else towards_brainstem < -0.5, right
    # about 30 mm across the canvas
    right_spl = RAS_TO_SPL[:3, :3] @ right
    assert 24.0 < _field_mm(viewer, layer, rdp, right_spl) < 36.0
    assert "the VII RDP" in panel.status.text()
    # the brainstem made fainter, given back by another preset
    brainstem = next(lyr for lyr in view.surface_layers if lyr.metadata["nvc_group"] == "brainstem")
    assert brainstem.opacity < 0.4
    panel.view_buttons["anterior"].click()
    assert brainstem.opacity == pytest.approx(0.45)


def test_surgeon_s_view_centres_on_the_selected_finding_of_that_side(
    make_napari_viewer, qtbot, tmp_path: Path, sample
) -> None:
    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample, show=True)
    finding = next(f for f in view.session.findings.findings if f.side == "left")
    view.select(finding.id)
    panel.show_view("surgeon left")
    world = view.ras_to_world(np.asarray(finding.position_ras))
    assert np.all(np.abs(_centred(viewer, view.findings_layer, world)) < 0.10)
    assert "selected finding" in panel.status.text()
    # the other side's view does not look at a finding of this side: its own RDP
    panel.show_view("surgeon right")
    rdp = view.ras_to_world(_landmark(view, "right"))
    assert np.all(np.abs(_centred(viewer, view.landmarks_layer, rdp)) < 0.10)


# expected screen right and up, in patient RAS
_R, _A, _S = np.eye(3)
PRESETS = {
    "anterior": (-_R, _S),  # from the front: the patient's left on the screen's right
    "posterior": (_R, _S),
    "left": (-_A, _S),  # from the patient's left: anterior on the screen's left
    "right": (_A, _S),
    "superior": (_R, _A),  # from above, anterior up: the patient's left on the screen's left
    "inferior": (-_R, _A),  # from below, anterior up: the patient's left on the right
}


def test_the_six_anatomical_presets_put_up_and_left_where_they_belong(
    make_napari_viewer, qtbot, tmp_path: Path, sample
) -> None:
    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample, show=True)
    view.show_plane("3-D")
    centre = tuple(viewer.scene.camera.center)
    for name, (want_right, want_up) in PRESETS.items():
        panel.view_buttons[name].click()
        right, up = _screen_ras(viewer, view.landmarks_layer)
        assert np.dot(up, want_up) > 0.95, f"{name}: screen-up {np.round(up, 2)}"
        assert np.dot(right, want_right) > 0.95, f"{name}: screen-right {np.round(right, 2)}"
        eye = -_view_ras(viewer)
        assert np.dot(eye, np.cross(want_right, want_up)) > 0.95  # seen from that side
        np.testing.assert_allclose(viewer.scene.camera.center, centre, atol=1e-6)


def test_view_keys_turn_the_camera(make_napari_viewer, qtbot, tmp_path: Path, sample) -> None:
    from napari.utils.key_bindings import coerce_keybinding
    from napari.utils.shortcuts import default_shortcuts
    from nvc_viewer_napari._shortcuts import SHORTCUTS, VIEW_SHORTCUTS

    viewer, view, _ = _analysed(make_napari_viewer, qtbot, tmp_path, sample)
    napari_keys = {str(coerce_keybinding(k)) for keys in default_shortcuts.values() for k in keys}
    review_keys = {str(coerce_keybinding(s.key)) for s in SHORTCUTS}
    for shortcut in VIEW_SHORTCUTS:
        key = coerce_keybinding(shortcut.key)
        assert str(key) not in napari_keys | review_keys, shortcut.key
        viewer.keymap[key](viewer)
        direction = _view_ras(viewer)
        if shortcut.action == "surgeon left":
            assert direction[0] > 0.4 and direction[1] > 0.5
        elif shortcut.action == "superior":
            assert direction[2] < -0.99


def test_3d_button_centres_on_the_selected_finding_about_40_mm_across(
    make_napari_viewer, qtbot, tmp_path: Path, sample
) -> None:
    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample, show=True)
    finding = view.session.findings.findings[0]
    view.select(finding.id)
    panel.show_plane("axial")
    panel.plane_buttons["3-D"].click()
    assert viewer.dims.ndisplay == 3
    world = view.ras_to_world(np.asarray(finding.position_ras))
    offset = _centred(viewer, view.findings_layer, world)
    assert np.all(np.abs(offset) < 0.10), f"the finding is {np.round(offset, 3)} off centre"
    right, up = _screen_ras(viewer, view.findings_layer)
    assert up[2] > 0.9 and right[0] < -0.9  # from the front, superior up, left on the right
    assert 32.0 < _field_mm(viewer, view.findings_layer, world, RAS_TO_SPL[:3, :3] @ right) < 48.0

    # nothing selected: the facial root exit zone of the side with the compressing finding
    view.select(None)
    panel.show_plane("axial")
    panel.plane_buttons["3-D"].click()
    rdp = view.ras_to_world(_landmark(view, finding.side))
    assert np.all(np.abs(_centred(viewer, view.landmarks_layer, rdp)) < 0.10)


def test_surgeon_view_screenshot(make_napari_viewer, qtbot, tmp_path: Path, sample) -> None:
    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample, show=True)
    finding = next(f for f in view.session.findings.findings if f.side == "left")
    view.select(finding.id)
    panel.show_view("surgeon left")
    path = screenshot_dir(tmp_path) / "surgeon_view_left.png"
    shot = viewer.screenshot(str(path), canvas_only=True)
    rgb = shot[..., :3].astype(int)
    height, width = rgb.shape[:2]
    yellow = (rgb[..., 0] > 180) & (rgb[..., 1] > 150) & (rgb[..., 2] < 90)  # the facial nerve
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)  # the artery
    middle = (slice(height // 4, 3 * height // 4), slice(width // 4, 3 * width // 4))
    assert yellow[middle].sum() > 200, "no facial nerve in the middle of the view"
    assert red[middle].sum() > 200, "no artery in the middle of the view"
    assert path.stat().st_size < 250_000


def _red_brightness(viewer) -> float:  # type: ignore[no-untyped-def]
    """The 90th percentile of the red channel over the canvas's red (artery) pixels."""
    rgb = viewer.screenshot(canvas_only=True)[..., :3].astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = (r > 2 * g + 20) & (r > 2 * b + 20)
    assert red.sum() > 500, "no artery on the canvas"
    return float(np.percentile(r[red], 90))


def test_the_surfaces_are_lit_from_behind_the_camera_whichever_way_it_turns(
    make_napari_viewer, qtbot, tmp_path: Path, sample
) -> None:
    from nvc_viewer_napari._camera import head_light

    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample, show=True)
    canvas = viewer.window._qt_viewer.canvas
    for name in ("surgeon left", "posterior", "superior", None):
        if name is None:  # turned by hand (as a mouse drag does): napari resets its light
            angles = np.asarray(viewer.scene.camera.angles)
            viewer.scene.camera.angles = tuple(angles + (20.0, -30.0, 10.0))
        else:
            panel.show_view(name)
        for layer in view.surface_layers:
            node = canvas.layer_to_visual[layer].node
            transform = node.get_transform("scene", "render")
            eye = [np.asarray(transform.imap((0.0, 0.0, z)), float) for z in (0.0, 0.5)]
            into = eye[1][:3] / eye[1][3] - eye[0][:3] / eye[0][3]
            rays = np.asarray(node.shading_filter.light_dir, float)
            assert np.dot(rays, into) / np.linalg.norm(rays) / np.linalg.norm(into) > 0.4, name
            np.testing.assert_allclose(rays, head_light(node), atol=1e-6)
    # the arteries' lit faces are bright red, not the dark red of a light from the front
    panel.show_view("anterior")
    assert _red_brightness(viewer) > 180.0


def test_an_analysis_finishing_in_3d_keeps_the_volumes_behind_the_surfaces(
    make_napari_viewer, qtbot, tmp_path: Path, sample
) -> None:
    """In 3-D the surfaces are the picture: a label map coming in from an analysis (again, over
    surfaces already shown) stays hidden, as the T2 does, and both are shown again in 2-D; a
    layer the surgeon hid in 2-D stays hidden."""
    viewer, view, panel = _analysed(make_napari_viewer, qtbot, tmp_path, sample)
    t2, tof, labels = view.reference, viewer.layers[1], view.labels_layer
    assert labels is not None and tof.metadata.get("nvc_slot") == "tof"
    tof.visible = False  # the surgeon's choice, in 2-D
    panel.show_plane("3-D")
    surfaces = [layer for layer in view.surface_layers if layer in viewer.layers]
    assert surfaces and all(layer.visible for layer in surfaces)
    assert not t2.visible and not labels.visible
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS) as outcome:
        assert panel.start()
    assert outcome.args == ["done"], panel.status.text()
    assert viewer.dims.ndisplay == 3
    assert view.labels_layer is labels  # the new map went into the hidden layer
    assert not labels.visible and not t2.visible and not tof.visible
    assert all(layer.visible for layer in surfaces)
    panel.show_plane("axial")
    assert labels.visible and t2.visible and not tof.visible
    assert not any(layer.visible for layer in surfaces)
