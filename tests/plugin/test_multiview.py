"""Four-up linked views and the workstation layout: axial, coronal and sagittal views beside the
main canvas, one point linking them (a click moves the others' slices), a selected finding
centred and zoomed in every view, the main canvas refitted when the window resizes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from nvc_viewer_napari._case_view import FINDING_FIELD_MM, case_view_for
from nvc_viewer_napari._layout import auto_fit_for
from nvc_viewer_napari._multiview import FOUR_UP_KEY, FOUR_UP_PLANES, four_up_for
from qtpy.QtWidgets import QApplication

from nvc_viewer.geometry import apply_affine

from ._phantoms import make_volume, screenshot_dir


def _open(make_napari_viewer, tmp_path: Path, *, show: bool = False):  # type: ignore[no-untyped-def]
    viewer = make_napari_viewer(show=show)
    volume = make_volume("oblique")  # an oblique acquisition: display != voxel axes
    view = case_view_for(viewer, workspace=tmp_path / "ws")
    view.open_case(volume, case_id="fourup")
    return viewer, view, volume


def _event(kind: str, position: np.ndarray, pos: tuple[float, float]) -> ReadOnlyWrapper:
    """A mouse event as napari's canvas hands it to the callbacks."""
    event = SimpleNamespace(
        type=kind,
        position=tuple(float(v) for v in position),
        pos=np.asarray(pos, dtype=float),
        button=1,
        modifiers=[],
        is_dragging=kind == "mouse_move",
        handled=False,
        view_direction=None,
        dims_displayed=[],
    )
    return ReadOnlyWrapper(event, exceptions=("handled",))


def _click(model, position: np.ndarray, *, drag_px: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    """Press, (move,) release on a view at a world position, as napari hands them on."""
    press = _event("mouse_press", position, (100.0, 100.0))
    mouse_press_callbacks(model, press)
    if drag_px:
        mouse_move_callbacks(model, _event("mouse_move", position, (100.0 + drag_px, 100.0)))
    mouse_release_callbacks(model, _event("mouse_release", position, (100.0 + drag_px, 100.0)))


def test_four_up_shows_the_three_planes_on_the_case_data(
    make_napari_viewer, tmp_path: Path
) -> None:
    viewer, view, _ = _open(make_napari_viewer, tmp_path)
    four_up = four_up_for(viewer)
    assert not four_up.enabled and not four_up.views  # one canvas until asked
    four_up.set_enabled(True)
    assert tuple(four_up.views) == FOUR_UP_PLANES
    displayed = {plane: tuple(v.model.dims.displayed) for plane, v in four_up.views.items()}
    # world axes (S, P, L): axial shows P down / L across, coronal S up / L, sagittal S up / P
    assert displayed == {"axial": (1, 2), "coronal": (0, 2), "sagittal": (0, 1)}
    orientation = {p: tuple(v.camera.orientation2d) for p, v in four_up.views.items()}
    assert orientation["coronal"][0] == "up" and orientation["sagittal"][0] == "up"
    letters = {p: v.orientation.letters for p, v in four_up.views.items()}
    # (an oblique series: two letters an edge, the nearer axis first)
    assert letters["axial"].top[0] == "A" and letters["axial"].right[0] == "L"
    assert letters["coronal"].top[0] == "S" and letters["coronal"].bottom[0] == "I"
    assert letters["sagittal"].top[0] == "S"
    # each view says where its slice is, in patient mm
    for plane, v in four_up.views.items():
        text = v.orientation.slice_overlay.text
        assert text.startswith(plane.capitalize()) and text.endswith(" mm"), text
        assert v.orientation.slice_overlay.visible
    # the case's image is shown from the same array, not a copy
    for v in four_up.views.values():
        mirror = next(layer for layer in v.model.layers if layer.name == view.reference.name)
        assert mirror.data is view.reference.data
        assert np.allclose(mirror.scale, view.reference.scale)
        assert np.allclose(mirror.translate, view.reference.translate)
    # hidden again: no mirrored layers left behind
    four_up.set_enabled(False)
    assert all(
        [layer.name for layer in v.model.layers] == ["crosshair"] for v in four_up.views.values()
    )


def test_a_click_in_one_view_moves_the_others_to_that_point(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    viewer, view, volume = _open(make_napari_viewer, tmp_path)
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    grid = view.session.grid
    # a voxel off the centre, its patient position by the volume's own affine
    voxel = np.array([7.0, 5.0, 9.0])
    ras = apply_affine(volume.affine, voxel)
    world = grid.ras_to_display(ras)
    # the coronal view's slice (P) through the voxel first: a drag on the sagittal view pans,
    # a click moves the point
    sagittal, coronal = four_up.views["sagittal"], four_up.views["coronal"]
    before = np.asarray(viewer.dims.point, dtype=float)
    _click(sagittal.model, world, drag_px=30.0)
    assert np.allclose(viewer.dims.point, before)
    _click(sagittal.model, world)  # S and P from the sagittal view
    _click(coronal.model, world)  # S and L from the coronal view
    half_voxel = 0.5 * np.abs(np.asarray(grid.scale, dtype=float))
    main_point = np.asarray(viewer.dims.point, dtype=float)
    assert np.all(np.abs(main_point - world) <= half_voxel + 1e-6), (main_point, world)
    assert np.linalg.norm(grid.display_to_ras(main_point) - ras) < np.linalg.norm(half_voxel)
    # the small views follow one per turn of the event loop, each re-sliced only when its
    # slice moves: then each shows the point, and its slice goes through it
    qtbot.waitUntil(lambda: not four_up.following)
    for plane, v in four_up.views.items():
        assert np.allclose(v.point, main_point), plane
        assert v.model.dims.point[v.across] == pytest.approx(world[v.across], abs=half_voxel[0])
    # the crosshair goes through the point in every view
    for v in four_up.views.values():
        rows, cols = v.model.dims.displayed
        lines = v.crosshair_lines.reshape(-1, 3)
        assert np.any(np.isclose(lines[:, rows], world[rows], atol=half_voxel[rows]))
        assert np.any(np.isclose(lines[:, cols], world[cols], atol=half_voxel[cols]))
    # a small view's own slider moves the point along its axis (and so the others' slices);
    # the point's other coordinates stay where they were
    axial = four_up.views["axial"]
    point = np.asarray(axial.model.dims.point, dtype=float)
    point[0] += 2.0
    point[1:] += 7.0  # in-plane coordinates of a view's own dims are not the point's
    axial.model.dims.point = tuple(point)
    assert viewer.dims.point[0] == pytest.approx(point[0], abs=half_voxel[0])  # on a slice
    assert np.allclose(viewer.dims.point[1:], main_point[1:])
    four_up.flush()
    assert four_up.views["coronal"].point[0] == pytest.approx(viewer.dims.point[0])
    lines = four_up.views["coronal"].crosshair_lines.reshape(-1, 3)
    assert np.any(np.isclose(lines[:, 0], viewer.dims.point[0]))  # its horizontal line moved


def test_a_click_on_the_main_view_moves_the_small_views(make_napari_viewer, tmp_path: Path) -> None:
    viewer, view, volume = _open(make_napari_viewer, tmp_path)
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    world = view.session.grid.ras_to_display(apply_affine(volume.affine, [4.0, 10.0, 6.0]))
    viewer.layers.selection.active = view.reference  # pan / zoom tool
    before_s = float(viewer.dims.point[0])
    _click(viewer, world)  # the main view is axial: P and L move, its slice stays
    four_up.flush()
    coronal = four_up.views["coronal"].model
    sagittal = four_up.views["sagittal"].model
    half_voxel = 0.5 * np.abs(np.asarray(view.session.grid.scale, dtype=float))
    assert coronal.dims.point[1] == pytest.approx(world[1], abs=half_voxel[1])
    assert sagittal.dims.point[2] == pytest.approx(world[2], abs=half_voxel[2])
    assert viewer.dims.point[0] == pytest.approx(before_s)
    four_up.set_enabled(False)  # hidden: a click on the main view is napari's own again
    _click(viewer, world + 5.0)
    assert viewer.dims.point[1] == pytest.approx(world[1])


def test_moving_the_point_draws_every_view_without_building_a_shader(
    make_napari_viewer, tmp_path: Path, monkeypatch
) -> None:
    """The crosshairs and the slice positions' boxes are vispy meshes: new lines, new shader
    code, unless each keeps its colour function (`._gl_programs`)."""
    from vispy.visuals.shaders.program import ModularProgram

    viewer, view, _ = _open(make_napari_viewer, tmp_path, show=True)
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    canvases = [viewer.window._qt_viewer.canvas] + [
        v.qt_viewer.canvas for v in four_up.views.values()
    ]

    def draw_all() -> None:
        for canvas in canvases:
            canvas._scene_canvas.native.grabFramebuffer()  # a paint: every visual drawn

    draw_all()  # the first frame builds each program
    built: list[str] = []
    build = ModularProgram._build
    monkeypatch.setattr(
        ModularProgram, "_build", lambda self: (built.append(repr(self)), build(self))[1]
    )
    extent = np.asarray(viewer.layers.extent.world, dtype=float)
    texts, lines = set(), []
    for fraction in (0.3, 0.45, 0.6, 0.7):
        four_up.move_point(extent[0] + fraction * (extent[1] - extent[0]))
        four_up.flush()
        draw_all()
        texts.add(four_up.views["coronal"].orientation.slice_overlay.text)
        lines.append(four_up.views["axial"].crosshair_lines.copy())
    # the views did change: new slice positions, crosshairs through the new points
    assert len(texts) == 4
    assert all(not np.allclose(a, b) for a, b in zip(lines, lines[1:], strict=False))
    assert built == []


def test_each_small_view_follows_after_a_frame_has_drawn_the_last_change(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    """A move of the point reaches the small views one at a time, each after a canvas has drawn
    (the main view's, then the last small view's): a frame holds at most the main canvas and
    one small view, however late the event loop runs. (A hidden window draws nothing: the
    frames are handed in by hand.)"""
    viewer, view, _ = _open(make_napari_viewer, tmp_path)
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    four_up.frame_wait_ms = 60_000  # only a drawn frame lets the next view follow
    synced: list[str] = []
    for plane, v in four_up.views.items():
        v.model.dims.events.point.connect(lambda event, plane=plane: synced.append(plane))
    extent = np.asarray(viewer.layers.extent.world, dtype=float)
    four_up.move_point(extent[0] + 0.3 * (extent[1] - extent[0]))
    qtbot.wait(100)
    assert synced == [] and four_up.following  # none re-sliced before the main view drew
    for n in range(1, len(FOUR_UP_PLANES) + 1):
        four_up._on_canvas_drawn()  # a frame (the main canvas, then the last small view)
        qtbot.waitUntil(lambda n=n: len(synced) == n)
        qtbot.wait(50)
        assert synced == list(FOUR_UP_PLANES[:n])  # one view a frame
    assert not four_up.following
    # no frame at all (nothing changed on screen): the views follow all the same
    four_up.frame_wait_ms = 5
    four_up.move_point(extent[0] + 0.6 * (extent[1] - extent[0]))
    qtbot.waitUntil(lambda: not four_up.following)
    assert synced[3:] == list(FOUR_UP_PLANES)


def test_a_move_of_the_point_draws_each_small_view_once(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    """napari places the canvas overlays again at the draw after a text change (the slice
    position), in float64, and vispy's float32 transforms took the same place for a move: each
    view drew a second frame (`._vispy_redraws`)."""
    viewer, view, _ = _open(make_napari_viewer, tmp_path, show=True)
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    qtbot.waitUntil(lambda: not four_up.following)
    qtbot.wait(300)
    drawn: dict[str, int] = dict.fromkeys(FOUR_UP_PLANES, 0)
    for plane, v in four_up.views.items():
        v.qt_viewer.canvas._scene_canvas.events.draw.connect(
            lambda event, plane=plane: drawn.__setitem__(plane, drawn[plane] + 1)
        )
    extent = np.asarray(viewer.layers.extent.world, dtype=float)
    texts = {p: v.orientation.slice_overlay.text for p, v in four_up.views.items()}
    four_up.move_point(extent[0] + 0.3 * (extent[1] - extent[0]))
    qtbot.waitUntil(lambda: not four_up.following)
    qtbot.waitUntil(lambda: all(drawn.values()))
    qtbot.wait(300)  # any frame asked for during the first
    # every view shows the new point (its slice position changed) and drew it once
    assert all(v.orientation.slice_overlay.text != texts[p] for p, v in four_up.views.items())
    assert drawn == dict.fromkeys(FOUR_UP_PLANES, 1)


def test_a_points_layer_reaches_its_mirrors_in_one_redraw(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    viewer, view, _ = _open(make_napari_viewer, tmp_path, show=True)
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    layer = view.ensure_point_layer("landmarks")
    copies = four_up.mirrors(layer)
    assert len(copies) == len(FOUR_UP_PLANES)
    drawn: list[int] = []  # the canvas node redraws on set_data
    for c in copies:
        c.events.set_data.connect(lambda event: drawn.append(id(event.source)))
    scale, translate = np.asarray(layer.scale), np.asarray(layer.translate)
    point = np.asarray(viewer.dims.point, dtype=float)  # every small view slices through it
    world = np.array([point, point + [0.0, 0.0, 2.0]])
    # the landmarks' way (`CaseView.redraw_landmarks`): data, features, then the style
    layer.data = (world - translate) / scale
    layer.features = {"name": ["RDP", "TZ"], "label": ["RDP VII-L", "TZ VII-L"]}
    layer.face_color = ["#ff0000", "#00ff00"]
    layer.size = [3.0, 5.0]
    qtbot.waitUntil(lambda: all(len(c.data) == 2 for c in copies))
    QApplication.processEvents()
    assert sorted(drawn) == sorted(id(c) for c in copies), drawn  # one redraw per mirror
    for plane, c in zip(FOUR_UP_PLANES, copies, strict=True):
        np.testing.assert_allclose(c.data, layer.data)
        np.testing.assert_allclose(c.face_color, layer.face_color)
        np.testing.assert_allclose(c.border_color, layer.border_color)
        np.testing.assert_allclose(c.size, layer.size)
        np.testing.assert_allclose(c.border_width, layer.border_width)
        assert list(c.symbol) == list(layer.symbol)
        assert list(c.features["label"]) == ["RDP VII-L", "TZ VII-L"]
        # what the canvas draws: the points of the view's slice, with their colours and sizes
        markers = four_up.views[plane].qt_viewer.canvas.layer_to_visual[c].node.points_markers
        shown = len(c._view_data)
        assert shown >= 1, plane
        assert len(markers._data) == shown, plane
        np.testing.assert_allclose(markers._data["a_bg_color"], c._view_face_color, atol=1e-6)
        np.testing.assert_allclose(markers._data["a_size"], c._view_size * abs(c.scale[-1]))
    # a point beyond the image: each small view's extent and dims take it in
    far = point + [0.0, 0.0, 500.0]
    layer.data = (np.array([point, far]) - translate) / scale
    qtbot.waitUntil(lambda: all(np.allclose(c.data, layer.data) for c in copies))
    for v in four_up.views.values():
        assert v.model.layers.extent.world[1][2] >= far[2] - 1e-6
        assert v.model.dims.range[2].stop >= far[2] - 1e-6


def test_selecting_a_finding_centres_and_zooms_every_view(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    from nvc_viewer.phantom import make_phantom

    from .test_markers import _open as open_phantom

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 900)
    phantom = make_phantom("sandwich", supersample=2, snr=None)
    view = open_phantom(viewer, phantom, tmp_path / "ws")
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    qtbot.wait(50)
    zooms = {p: v.camera.zoom for p, v in four_up.views.items()}
    main_zoom = viewer.scene.camera.zoom
    finding = view.session.findings.findings[-1]
    # each small view draws its crosshair once for its move and its zoom together
    crosshairs: dict[str, int] = dict.fromkeys(FOUR_UP_PLANES, 0)
    for plane, v in four_up.views.items():

        def counted(data, v=v, plane=plane, draw=v._set_crosshair):  # type: ignore[no-untyped-def]
            crosshairs[plane] += 1
            draw(data)

        v._set_crosshair = counted  # type: ignore[method-assign]
    view.select(finding.id)
    world = view.ras_to_world(np.asarray(finding.position_ras))
    half_voxel = 0.5 * np.abs(np.asarray(view.session.grid.scale, dtype=float))
    assert np.all(np.abs(np.asarray(viewer.dims.point) - world) <= half_voxel + 1e-6)
    assert np.allclose(viewer.scene.camera.center[-2:], world[list(viewer.dims.displayed)])
    assert viewer.scene.camera.zoom > main_zoom
    assert min(viewer.canvas.size) / viewer.scene.camera.zoom == pytest.approx(FINDING_FIELD_MM)
    qtbot.waitUntil(lambda: not four_up.following)  # the small views follow, one a turn
    for plane, v in four_up.views.items():
        displayed = list(v.model.dims.displayed)
        assert np.allclose(v.camera.center[-2:], world[displayed]), plane
        assert np.all(np.abs(v.point - world) <= half_voxel + 1e-6), plane
        assert v.camera.zoom > zooms[plane], plane
        # drawn once, at the new zoom: its width stays the same on screen
        assert crosshairs[plane] == 1, crosshairs
        assert v.crosshair.edge_width * v.camera.zoom == pytest.approx(1.2)
    # the crosshair's moves leave each view's dims as napari computes them from its layers
    for plane, v in four_up.views.items():
        extent = v.model.layers.extent
        ranges = np.stack([extent.world[0], extent.world[1], extent.step], axis=1)
        assert np.allclose([tuple(r) for r in v.model.dims.range], ranges), plane
    # the finding's ring is drawn in the small views too
    qtbot.waitUntil(
        lambda: all(
            len(m.data) == len(view.findings_layer.data)
            for m in four_up.mirrors(view.findings_layer)
        )
    )


def test_selecting_another_finding_changes_only_the_rings_sizes(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    """A new selection sets the findings layer's sizes alone (each property set refreshed the
    layer and its mirrors), and the tags layer, shown before and after, is not shown again
    (napari redraws the canvas' scene on every set of ``visible``)."""
    from nvc_viewer.phantom import make_phantom

    from .test_markers import _open as open_phantom

    viewer = make_napari_viewer(show=True)
    phantom = make_phantom("sandwich", supersample=2, snr=None)
    view = open_phantom(viewer, phantom, tmp_path / "ws")
    four_up = four_up_for(viewer)
    four_up.set_enabled(True)
    findings = view.session.findings.findings
    assert len(findings) >= 2
    view.select(findings[0].id)
    qtbot.waitUntil(lambda: not four_up.following)
    layer, tags = view.findings_layer, view.tags.layer
    assert tags is not None and tags.visible
    sets: dict[str, int] = {}
    for name in ("data", "features", "border_color", "face_color", "size"):
        getattr(layer.events, name).connect(
            lambda event, name=name: sets.__setitem__(name, sets.get(name, 0) + 1)
        )
    tags.events.visible.connect(lambda event: sets.__setitem__("tags", sets.get("tags", 0) + 1))
    view.select(findings[1].id)
    assert sets == {"size": 1}
    sizes = np.asarray(layer.size, dtype=float)
    assert sizes[1] > sizes[0]  # the selected ring is the larger
    assert tags.visible
    qtbot.waitUntil(lambda: not four_up.following)
    for mirror in four_up.mirrors(layer):
        np.testing.assert_allclose(mirror.size, sizes)


def test_the_main_canvas_is_refitted_when_the_window_resizes(
    make_napari_viewer, tmp_path: Path, qtbot
) -> None:
    viewer, view, _ = _open(make_napari_viewer, tmp_path, show=True)
    fit = auto_fit_for(viewer)
    viewer.window.resize(900, 700)
    qtbot.waitUntil(lambda: fit.refits >= 1)
    qtbot.wait(50)
    viewer.reset_view()
    small = viewer.scene.camera.zoom
    refits = fit.refits
    viewer.window.resize(1500, 1000)
    qtbot.waitUntil(lambda: fit.refits > refits)
    assert viewer.scene.camera.zoom > small * 1.2  # the image grew with the canvas
    # the surgeon zooms in: a resize keeps that zoom
    viewer.scene.camera.zoom = viewer.scene.camera.zoom * 2.0
    zoomed = viewer.scene.camera.zoom
    refits = fit.refits
    viewer.window.resize(1000, 760)
    for _ in range(5):
        QApplication.processEvents()
        qtbot.wait(60)
    assert fit.refits == refits
    assert viewer.scene.camera.zoom == pytest.approx(zoomed)


def test_the_analysis_panel_button_and_its_key_show_and_hide_the_four_up(
    make_napari_viewer, tmp_path: Path
) -> None:
    from napari.utils.key_bindings import coerce_keybinding
    from napari.utils.shortcuts import default_shortcuts
    from nvc_viewer_napari._analysis_panel import AnalysisPanel
    from nvc_viewer_napari._shortcuts import SHORTCUTS, VIEW_SHORTCUTS

    viewer, view, _ = _open(make_napari_viewer, tmp_path)
    panel = AnalysisPanel(viewer)
    four_up = four_up_for(viewer)
    assert not four_up.enabled and not panel.four_up_button.isChecked()
    panel.four_up_button.click()
    assert four_up.enabled and panel.four_up_button.isChecked()
    assert "Four-up" in viewer.window.dock_widgets and not four_up.dock.isHidden()
    assert all(v.model.layers[0].data is view.reference.data for v in four_up.views.values())
    # the key: not napari's, nor another of ours; it toggles, the button follows
    key = coerce_keybinding(FOUR_UP_KEY)
    taken = {str(coerce_keybinding(k)) for keys in default_shortcuts.values() for k in keys}
    taken |= {str(coerce_keybinding(s.key)) for s in (*SHORTCUTS, *VIEW_SHORTCUTS)}
    assert str(key) not in taken
    viewer.keymap[key](viewer)
    assert not four_up.enabled and not panel.four_up_button.isChecked()
    assert four_up.dock.isHidden()
    viewer.keymap[key](viewer)
    assert four_up.enabled and panel.four_up_button.isChecked()
    # the dock's own close button hides them too
    four_up.dock.close()
    assert not four_up.enabled and not panel.four_up_button.isChecked()


def test_four_up_screenshot_of_the_analysed_sample(
    make_napari_viewer, qtbot, tmp_path: Path, sample
) -> None:
    """The workstation at 1600 x 1000: the main canvas in 3-D over the three linked 2-D views,
    all on the selected finding (docs/screenshots/four_up.png)."""
    from nvc_viewer_napari._dock import dock_panels
    from nvc_viewer_napari._multiview import CROSSHAIR_COLOR

    viewer = make_napari_viewer(show=True)
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    viewer.window._qt_window.resize(1600, 1000)
    view = case_view_for(viewer)
    view.open_case(sample["t2"], sample["tof"], case_id="sample")
    analysis = panels.analysis
    analysis.in_process = False
    analysis.analyse = lambda t2, tof=None, **kwargs: sample["result"]
    with qtbot.waitSignal(analysis.finished, timeout=30_000):
        assert analysis.start()
    finding = view.session.findings.findings[0]
    panels.findings.select(finding.id)
    analysis.four_up_button.click()
    analysis.show_plane("3-D")
    four_up = four_up_for(viewer)
    qtbot.waitUntil(lambda: not four_up.following)  # the small views follow, one a turn
    qtbot.wait(300)
    world = view.ras_to_world(np.asarray(finding.position_ras))
    cyan = np.array([int(CROSSHAIR_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    path = screenshot_dir(tmp_path) / "four_up.png"
    image = viewer.screenshot(str(path), canvas_only=False)
    assert image.shape[1] >= 1600 and path.stat().st_size < 600_000
    for plane, small in four_up.views.items():
        # each small view: the anatomy around the finding, the crosshair through it
        assert np.allclose(small.camera.center[-2:], world[list(small.model.dims.displayed)])
        shot = small.qt_viewer.screenshot(flash=False)[..., :3].astype(int)
        gray = shot.mean(axis=2)
        assert np.mean(gray > 20) > 0.3 and gray.std() > 20, plane  # the sample's box is small
        assert (np.abs(shot - cyan).sum(axis=2) < 90).sum() > 50, f"no crosshair in {plane}"
        assert min(shot.shape[:2]) >= 200, (plane, shot.shape)
