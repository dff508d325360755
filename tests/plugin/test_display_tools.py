"""Display tools: window/level presets and right-drag, ruler and angle in mm, structure names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari.utils._test_utils import read_only_mouse_event
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from nvc_viewer_napari._display_tools import (
    MEASUREMENTS_NAME,
    DisplayToolsPanel,
    MeasurementsLayer,
    measurements_layer,
)
from nvc_viewer_napari._dock import WorkspaceWidget
from nvc_viewer_napari._layers import case_layers, volume_to_layer_data
from qtpy.QtWidgets import QLabel

from nvc_viewer.labels import ARTERY, CN7, LABELS
from nvc_viewer.measure import WINDOW_PRESETS

from ._phantoms import make_volume, screenshot_dir

# Anisotropic voxels (S, P, L mm): a length or angle in data indices is not one in mm.
SCALE = (2.0, 0.5, 0.25)


def _head(shape: tuple[int, int, int], first: float) -> tuple[np.ndarray, np.ndarray]:
    """Values ``first, first + 1, ...`` in a block (the head), zeros around it (air)."""
    data = np.zeros(shape, np.float32)
    inner = tuple(slice(2, n - 2) for n in shape)
    count = int(np.prod([n - 4 for n in shape]))
    head = np.arange(first, first + count, dtype=np.float32)
    data[inner] = head.reshape([n - 4 for n in shape])
    return data, head


def _case_images(viewer: Any) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    t2_data, t2_head = _head((12, 16, 16), 200.0)
    tof_data, tof_head = _head((12, 16, 16), 100.0)
    t2 = viewer.add_image(t2_data, name="T2", scale=SCALE, metadata={"nvc_role": "t2"})
    tof = viewer.add_image(
        tof_data, name="TOF", scale=SCALE, colormap="red", blending="additive",
        metadata={"nvc_role": "tof"},
    )  # fmt: skip
    return t2, tof, t2_head, tof_head


def test_presets_window_each_series_from_its_own_percentiles(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    t2, tof, t2_head, tof_head = _case_images(viewer)
    panel = DisplayToolsPanel(viewer)
    names = [panel.preset_combo.itemText(n) for n in range(panel.preset_combo.count())]
    assert [p.name for p in WINDOW_PRESETS] == names[1:]
    tof_before = tuple(tof.contrast_limits)
    for preset in WINDOW_PRESETS[:2]:
        assert panel.apply_preset(preset.name) is t2
        expected = np.percentile(t2_head, [preset.low, preset.high])
        np.testing.assert_allclose(t2.contrast_limits, expected, rtol=1e-6)
    assert tuple(tof.contrast_limits) == tof_before  # a CISS preset leaves the TOF alone
    t2_before = tuple(t2.contrast_limits)
    # chosen from the combo, as the surgeon does
    panel.preset_combo.setCurrentIndex(names.index("TOF: arteries"))
    panel.preset_combo.activated.emit(names.index("TOF: arteries"))
    np.testing.assert_allclose(tof.contrast_limits, np.percentile(tof_head, [98.0, 99.9]))
    assert tuple(t2.contrast_limits) == t2_before


def _drag(viewer: Any, button: int, *moves: tuple[float, float]) -> list[bool]:
    """A drag on the canvas from pixel (100, 100) through ``moves``, as napari delivers it.
    Returns whether the press and each move were marked handled (kept from the camera)."""
    position = tuple(float(v) for v in viewer.dims.point)
    press = read_only_mouse_event(
        type="mouse_press", button=button, pos=np.array([100.0, 100.0]), position=position
    )
    mouse_press_callbacks(viewer, press)
    handled = [bool(getattr(press, "handled", False))]
    for pos in moves:
        move = read_only_mouse_event(
            type="mouse_move", is_dragging=True, button=button, pos=np.array(pos),
            position=position,
        )  # fmt: skip
        mouse_move_callbacks(viewer, move)
        handled.append(bool(getattr(move, "handled", False)))
    release = read_only_mouse_event(
        type="mouse_release", button=button, pos=np.array(moves[-1]), position=position
    )
    mouse_release_callbacks(viewer, release)
    return handled


def test_right_drag_sets_window_and_level_left_drag_does_not(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    t2, tof, _, _ = _case_images(viewer)
    DisplayToolsPanel(viewer)
    viewer.layers.selection.active = t2
    t2.contrast_limits = (400.0, 600.0)
    # the left button: napari's pan, the contrast stays
    assert _drag(viewer, 1, (160.0, 40.0)) == [False, False]
    assert tuple(t2.contrast_limits) == (400.0, 600.0)
    # right, then rightwards: a wider window about the same level
    assert all(_drag(viewer, 2, (120.0, 100.0), (140.0, 100.0)))
    low, high = t2.contrast_limits
    assert high - low > 200.0 and (low + high) / 2 == pytest.approx(500.0)
    # right, then leftwards and upwards: narrower and brighter (a lower level)
    t2.contrast_limits = (400.0, 600.0)
    _drag(viewer, 2, (80.0, 60.0))
    low, high = t2.contrast_limits
    assert high - low < 200.0 and (low + high) / 2 < 500.0
    # downwards: darker
    t2.contrast_limits = (400.0, 600.0)
    _drag(viewer, 2, (100.0, 150.0))
    assert sum(t2.contrast_limits) / 2 > 500.0
    # the active image is the one windowed
    viewer.layers.selection.active = tof
    tof_before, t2_before = tuple(tof.contrast_limits), tuple(t2.contrast_limits)
    _drag(viewer, 2, (150.0, 100.0))
    assert tuple(t2.contrast_limits) == t2_before and tuple(tof.contrast_limits) != tof_before


def test_right_drag_leaves_the_label_brush_its_right_button(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    t2, _, _, _ = _case_images(viewer)
    DisplayToolsPanel(viewer)
    labels = viewer.add_labels(np.zeros((12, 16, 16), np.uint8), scale=SCALE)
    viewer.layers.selection.active = labels
    t2.contrast_limits = (400.0, 600.0)
    labels.mode = "paint"
    _drag(viewer, 2, (150.0, 100.0))
    assert tuple(t2.contrast_limits) == (400.0, 600.0)
    labels.mode = "pan_zoom"  # the label layer only looked at: the T2 is windowed
    _drag(viewer, 2, (150.0, 100.0))
    assert tuple(t2.contrast_limits) != (400.0, 600.0)


def test_right_drag_on_the_canvas_does_not_zoom(make_napari_viewer, qtbot) -> None:
    """Through vispy's own mouse events: napari's camera zooms on a right-drag unless the
    window/level drag keeps the events."""
    viewer = make_napari_viewer(show=True)
    t2, _, _, _ = _case_images(viewer)
    qt_canvas = viewer.window._qt_viewer.canvas
    canvas = qt_canvas._scene_canvas

    def shown_width() -> float:
        """Width of the world shown (vispy's camera; napari's model follows it later)."""
        return float(qt_canvas.view.camera.rect.width)

    def right_drag() -> None:
        press = canvas.events.mouse_press(pos=(200, 200), button=2, buttons=[2], modifiers=())
        last = press
        for y in (190, 170, 150):
            last = canvas.events.mouse_move(
                pos=(230, y), button=2, buttons=[2], modifiers=(), press_event=press,
                last_event=last,
            )  # fmt: skip
            qtbot.wait(20)  # napari takes mouse moves through a throttle (a timer)
        canvas.events.mouse_release(pos=(230, 150), button=2, buttons=[], modifiers=())

    width, limits = shown_width(), tuple(t2.contrast_limits)
    right_drag()  # without the display tools: napari zooms, the contrast stays
    assert shown_width() != pytest.approx(width) and tuple(t2.contrast_limits) == limits
    DisplayToolsPanel(viewer)
    viewer.layers.selection.active = t2
    width = shown_width()
    right_drag()
    assert shown_width() == pytest.approx(width)
    low, high = t2.contrast_limits
    assert high - low > limits[1] - limits[0]  # dragged right: wider


def _on_slice(viewer: Any, layer: Any, s_index: float) -> None:
    """Show the axial slice of the layer's data index ``s_index``."""
    viewer.dims.set_point(0, layer.data_to_world((s_index, 0.0, 0.0))[0])


def test_ruler_reports_mm_on_anisotropic_voxels(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    _case_images(viewer)
    panel = DisplayToolsPanel(viewer)
    layer = panel.start("ruler")
    assert isinstance(layer, MeasurementsLayer) and layer.name == MEASUREMENTS_NAME
    assert viewer.layers.selection.active is layer and str(layer.mode) == "add_line"
    np.testing.assert_allclose(layer.scale, SCALE)  # on the T2's grid
    # data indices (S, P, L): 2 slices, 8 rows and 12 columns apart -> 4, 4 and 3 mm
    layer.add_lines(np.array([[4.0, 2.0, 1.0], [6.0, 10.0, 13.0]]))
    expected = np.sqrt(4.0**2 + 4.0**2 + 3.0**2)
    assert list(layer.features["measurement"]) == [f"{expected:.1f} mm"]
    assert panel.measurement_rows() == [f"1. ruler: {expected:.1f} mm"]
    # in-plane: hovering the line names its length in the status line
    layer.add_lines(np.array([[5.0, 2.0, 2.0], [5.0, 10.0, 14.0]]))  # 4 mm by 3 mm: 5.0 mm
    _on_slice(viewer, layer, 5.0)
    viewer.layers.selection.active = layer
    layer.mode = "select"
    middle = layer.data_to_world((5.0, 6.0, 8.0))
    status = layer.get_status(middle, world=True, dims_displayed=[1, 2], view_direction=None)
    assert "5.0 mm" in status["value"]
    assert panel.measurement_rows()[-1] == "2. ruler: 5.0 mm"
    panel.clear_measurements()
    assert layer.nshapes == 0 and panel.measurement_rows() == []


def test_angle_of_a_right_angle_in_mm_is_90(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    _case_images(viewer)
    panel = DisplayToolsPanel(viewer)
    layer = panel.start("angle")
    assert str(layer.mode) == "add_path"
    # arms (0, 1, 1) mm and (0, 1, -1) mm: perpendicular in mm, not in data indices
    vertex = np.array([5.0, 8.0, 8.0])
    arm1 = np.array([0.0, 1.0, 1.0]) / np.array(SCALE)
    arm2 = np.array([0.0, 1.0, -1.0]) / np.array(SCALE)
    cos_in_indices = arm1 @ arm2 / (np.linalg.norm(arm1) * np.linalg.norm(arm2))
    assert abs(cos_in_indices) > 0.5
    layer.add_paths(np.array([vertex + arm1, vertex, vertex + arm2]))
    assert list(layer.features["measurement"]) == ["90.0°"]
    assert panel.measurement_rows() == ["1. angle: 90.0°"]


def _labelled_viewer(viewer: Any) -> Any:
    volume = make_volume("axial", data=np.zeros((8, 10, 12), np.uint8))
    data, kwargs, kind = volume_to_layer_data(volume, name="labels", kind="labels")
    assert kind == "labels"
    data[4, 5, 6] = ARTERY
    data[4, 5, 7] = CN7
    return viewer.add_labels(data, **kwargs)


def test_hover_over_an_artery_voxel_names_it(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    layer = _labelled_viewer(viewer)
    viewer.layers.selection.active = layer
    _on_slice(viewer, layer, 4.0)
    at_artery = layer.data_to_world((4.0, 5.0, 6.0))
    viewer.cursor.position = at_artery
    viewer.mouse_over_canvas = True
    viewer.update_status_from_cursor()
    status = viewer.status if isinstance(viewer.status, str) else str(viewer.status)
    assert LABELS[ARTERY].name in status  # "Artery", next to the value 6
    assert LABELS[ARTERY].name.lower() == "artery"
    nerve = layer.get_status(layer.data_to_world((4.0, 5.0, 7.0)), world=True)
    assert LABELS[CN7].name in nerve["value"]


def test_brush_combo_sets_and_follows_the_selected_label(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    layer = _labelled_viewer(viewer)
    panel = DisplayToolsPanel(viewer)
    index = panel.brush_combo.findText(LABELS[ARTERY].name)
    assert index >= 0
    panel.brush_combo.setCurrentIndex(index)
    panel.brush_combo.activated.emit(index)
    assert layer.selected_label == ARTERY
    layer.selected_label = CN7  # napari's label picker
    assert panel.brush_combo.currentText() == LABELS[CN7].name
    legend = {label.text() for label in panel.findChildren(QLabel)}
    for value, info in LABELS.items():
        assert f"{info.name}  ({value})" in legend


def test_workspace_has_the_display_tab(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    widget = WorkspaceWidget(viewer)
    tabs = [widget.tabs.tabText(n) for n in range(widget.tabs.count())]
    assert "Display" in tabs and isinstance(widget.display, DisplayToolsPanel)


def test_screenshot_of_the_legend_and_a_ruler(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    """The panel beside a fused phantom with a ruler across the cistern (pixels checked; written
    to docs/screenshots with NVC_WRITE_SCREENSHOTS=1)."""
    from nvc_viewer.phantom import make_phantom

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1300, 800)
    phantom = make_phantom("contact", supersample=2, snr=None)
    for data, kwargs, kind in case_layers(phantom.t2, phantom.tof, phantom.labels):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    viewer.layers[-1].opacity = 0.3  # the label map over the T2, as a case shows it
    panel = DisplayToolsPanel(viewer)
    dock = viewer.window.add_dock_widget(panel, name="Display", area="right")
    panel.apply_preset("CISS: CSF/nerves")
    layer = measurements_layer(viewer)
    s_mid = viewer.layers[0].data.shape[0] // 2
    _on_slice(viewer, layer, float(s_mid))
    rows, cols = viewer.layers[0].data.shape[1:]
    layer.add_lines(np.array([[s_mid, rows * 0.3, cols * 0.25], [s_mid, rows * 0.3, cols * 0.7]]))
    layer.add_paths(
        np.array([[s_mid, rows * 0.75, cols * 0.3], [s_mid, rows * 0.55, cols * 0.3],
                  [s_mid, rows * 0.55, cols * 0.5]])
    )  # fmt: skip
    viewer.layers.selection.active = layer
    viewer.reset_view()
    qtbot.waitUntil(dock.isVisible)
    assert panel.isVisible()
    assert panel.measurement_rows()[1] == "2. angle: 90.0°"
    assert panel.preset_combo.currentText() == "CISS: CSF/nerves"
    image = viewer.screenshot(canvas_only=False, flash=False)
    rgb = image[..., :3].astype(int)
    ruler = (rgb[..., 0] > 200) & (rgb[..., 1] > 190) & (rgb[..., 2] < 80)
    assert ruler.sum() > 50  # the yellow ruler and its text are drawn
    from PIL import Image

    path = screenshot_dir(tmp_path) / "display_tools.png"
    Image.fromarray(image[..., :3]).save(path, optimize=True)  # true colours for the legend
    assert path.stat().st_size < 200_000
