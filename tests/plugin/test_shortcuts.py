"""The findings' keyboard shortcuts: napari's keymap, wherever the viewer has the keyboard.

Keys are sent as Qt key events to the widget that has them (the canvas, a button of a docked
panel, the findings table, a combo box), so that they take the path a real key press takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.components import ViewerModel
from napari.utils.key_bindings import coerce_keybinding
from nvc_viewer_napari._shortcuts import SHORTCUTS
from qtpy.QtCore import Qt

from .test_workspace_gui import SyntheticCase, _case_opened, _saved, click, truth_analyse
from .test_workspace_gui import cpa_case as cpa_case  # noqa: F401 (the module's fixture)


def _reviewing(make_napari_viewer: Any, tmp_path: Path, case: SyntheticCase):
    """The case open with the analysis' (truth) findings: (viewer, panels, view, session)."""
    viewer, panels, view = _case_opened(make_napari_viewer, tmp_path, case)
    session = view.session
    result = truth_analyse(case, [])(session.t2, session.tof, progress=lambda *a: None)
    session.apply_analysis(result)
    return viewer, panels, view, session


def _canvas(viewer: Any) -> Any:
    return viewer.window._qt_viewer.canvas.native


def test_shortcuts_act_from_the_canvas_and_from_any_panel_button(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    viewer, panels, view, session = _reviewing(make_napari_viewer, tmp_path, cpa_case)
    table = panels.findings
    canvas = _canvas(viewer)
    n_before = len(table.finding_ids)

    # "Add finding", then the click that places it; Ctrl+Z on the canvas (where the keyboard is
    # after that click) undoes it, Ctrl+Shift+Z brings it back
    qtbot.mouseClick(table.buttons["add"], Qt.LeftButton)
    assert view.placing
    click(viewer, session.grid.ras_to_display(cpa_case.centrelines["VII_left"][60]))
    manual = table.selected_id
    assert manual is not None and len(table.finding_ids) == n_before + 1
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert manual not in table.finding_ids
    assert session.last_error is None, session.last_error
    assert manual not in [f["id"] for f in _saved(tmp_path / "ws")["findings"]]
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert manual in table.finding_ids
    qtbot.keyClick(canvas, Qt.Key_N, Qt.ShiftModifier)  # Shift+N arms it, and again disarms it
    assert view.placing
    qtbot.keyClick(canvas, Qt.Key_N, Qt.ShiftModifier)
    assert not view.placing

    # after a View button of the Analysis panel was pressed, Shift+C confirms the selection
    first = table.finding_ids[0]
    table.select(first)
    button = panels.analysis.plane_buttons["coronal"]
    qtbot.mouseClick(button, Qt.LeftButton)
    assert tuple(viewer.dims.order) == (1, 0, 2)
    qtbot.keyClick(button, Qt.Key_C, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-confirmed"
    qtbot.keyClick(button, Qt.Key_R, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-rejected"
    # ... and from the Case panel's table
    qtbot.keyClick(panels.case.table, Qt.Key_C, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-confirmed"
    # ... and from napari's layer list
    layer_list = viewer.window._qt_viewer.layers
    qtbot.keyClick(layer_list, Qt.Key_R, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-rejected"
    qtbot.keyClick(layer_list, Qt.Key_C, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-confirmed"

    # Ctrl+Y stays napari's 2-D/3-D toggle: it redoes nothing
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert session.finding(first).origin == "auto-rejected"
    qtbot.keyClick(canvas, Qt.Key_Y, Qt.ControlModifier)
    assert viewer.dims.ndisplay == 3
    assert session.finding(first).origin == "auto-rejected"
    qtbot.keyClick(canvas, Qt.Key_Y, Qt.ControlModifier)
    assert viewer.dims.ndisplay == 2

    # napari's own keys keep their meaning: C on the canvas with the T2 image active is its
    # auto-contrast, not a review
    t2 = viewer.layers[0]
    viewer.layers.selection.active = t2
    t2.contrast_limits = (0.0, 0.01)
    qtbot.keyClick(canvas, Qt.Key_C)
    assert session.finding(first).origin == "auto-rejected"
    assert t2.contrast_limits[1] > 0.01


def test_findings_keyboard_shortcuts_in_the_table(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    """Shift+N, Escape, Shift+C, Shift+R, Shift+D, Ctrl+Z, Ctrl+Shift+Z while the table has the
    keyboard (it would take a letter to search its rows); Ctrl+Y is napari's, not a redo."""
    viewer, panels, view, session = _reviewing(make_napari_viewer, tmp_path, cpa_case)
    table = panels.findings
    first = table.finding_ids[0]
    keys = table.table
    keys.setFocus()

    def press(key: Any, modifier: Any = Qt.ShiftModifier) -> None:
        qtbot.keyClick(keys, key, modifier)

    press(Qt.Key_N)  # arms "Add finding"; Escape (or Shift+N again) disarms it
    assert view.placing
    press(Qt.Key_Escape, Qt.NoModifier)
    assert not view.placing and table.buttons["add"].text() == "Add finding (Shift+N)"
    press(Qt.Key_N)
    assert view.placing
    press(Qt.Key_N)
    assert not view.placing

    table.select(first)
    # in a combo box (which would pick an item by its letter): Shift+C confirms, the grade stays
    grade = table.editors["grade"]
    before = grade.currentText()
    qtbot.keyClick(grade, Qt.Key_C, Qt.ShiftModifier)
    assert grade.currentText() == before
    assert session.finding(first).origin == "auto-confirmed"
    # ... while the note field types the letter
    table.note_edit.setText("")
    qtbot.keyClick(table.note_edit, Qt.Key_C, Qt.ShiftModifier)
    assert table.note_edit.text().lower() == "c"

    keys.setFocus()
    press(Qt.Key_R)
    assert session.finding(first).origin == "auto-rejected"
    press(Qt.Key_C)
    assert session.finding(first).origin == "auto-confirmed"
    press(Qt.Key_D)
    assert first not in table.finding_ids and table.selected_id is None
    press(Qt.Key_Z, Qt.ControlModifier)
    assert first in table.finding_ids
    assert session.finding(first).origin == "auto-confirmed"
    press(Qt.Key_Z, Qt.ControlModifier)
    assert session.finding(first).origin == "auto-rejected"
    press(Qt.Key_Y, Qt.ControlModifier)  # napari's 3-D toggle
    assert session.finding(first).origin == "auto-rejected"
    viewer.dims.ndisplay = 2
    press(Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-confirmed"
    press(Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert first not in table.finding_ids
    saved = _saved(tmp_path / "ws")
    assert first not in [f["id"] for f in saved["findings"]]  # every step is on disk

    # a manual finding cannot be rejected (only deleted): Shift+R changes nothing
    assert table.start_add()
    click(viewer, session.grid.ras_to_display(cpa_case.centrelines["VII_left"][60]))
    manual = table.selected_id
    assert manual is not None and session.finding(manual).origin == "manual"
    keys.setFocus()
    press(Qt.Key_R)
    assert session.finding(manual).origin == "manual"
    assert not table.buttons["reject"].isEnabled()
    press(Qt.Key_D)
    assert manual not in table.finding_ids


def test_ctrl_z_undoes_the_brush_while_a_brush_tool_is_on(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    viewer, panels, view, session = _reviewing(make_napari_viewer, tmp_path, cpa_case)
    table = panels.findings
    first = table.finding_ids[0]
    table.select(first)
    table.confirm_selected()
    canvas = _canvas(viewer)
    qtbot.waitUntil(lambda: view.labels_layer is not None)  # made just after the first frame
    labels = view.labels_layer
    viewer.layers.selection.active = labels

    labels.mode = "paint"
    index = tuple(int(n) // 2 for n in labels.data.shape)
    before = int(labels.data[index])
    labels.paint(index, 7)
    assert labels.data[index] == 7 != before
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)  # the brush stroke, napari's undo
    assert labels.data[index] == before
    assert session.finding(first).origin == "auto-confirmed"
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert labels.data[index] == 7

    labels.mode = "pan_zoom"  # no brush: the findings' undo, the paint stays
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert session.finding(first).origin == "auto"
    assert labels.data[index] == 7


def test_no_shortcut_is_one_of_napari_s_own_and_each_is_listed(
    make_napari_viewer, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    import napari.layers as layers
    from napari._app_model import get_app_model

    _, panels, _ = _case_opened(make_napari_viewer, tmp_path, cpa_case)
    app_keys = {str(kb.keybinding) for kb in get_app_model().keybindings}
    for shortcut in SHORTCUTS:
        key = coerce_keybinding(shortcut.key)
        assert key not in ViewerModel.class_keymap, shortcut
        assert str(key) not in app_keys, shortcut
        for kind in (layers.Image, layers.Points, layers.Shapes, layers.Surface,
                     layers.Vectors, layers.Tracks):  # fmt: skip
            assert key not in kind.class_keymap, (shortcut, kind.__name__)
        if shortcut.action not in ("undo", "redo"):  # the brush's, kept (see the test above)
            assert key not in layers.Labels.class_keymap, shortcut
        # listed where the surgeon looks: the button, its tooltip, the help entry
        button = panels.findings.buttons[shortcut.action]
        assert shortcut.key in button.text() and shortcut.key in button.toolTip()
        assert shortcut.key in panels.findings.keys_help.text()
    assert "Ctrl+Y" not in panels.findings.keys_help.text()
    assert not panels.findings.keys_help.isVisibleTo(panels.findings)
    panels.findings.keys_button.click()
    assert panels.findings.keys_help.isVisibleTo(panels.findings)


def test_two_findings_panels_share_the_keys_and_the_last_closed_unbinds_them(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    """The docked panel and the Plugins menu's: the newer has the keys, the older again once
    the newer is closed; none is left bound when both are gone."""
    from nvc_viewer_napari._findings_panel import FindingsPanel
    from qtpy import sip

    viewer, panels, view, session = _reviewing(make_napari_viewer, tmp_path, cpa_case)
    first = panels.findings.finding_ids[0]
    panels.findings.select(first)
    second = FindingsPanel(viewer)
    canvas = _canvas(viewer)
    qtbot.keyClick(canvas, Qt.Key_R, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-rejected"
    assert "auto-rejected" in second.status.text() and panels.findings.status.text() == ""
    second.deleteLater()
    qtbot.waitUntil(lambda: sip.isdeleted(second))
    qtbot.keyClick(canvas, Qt.Key_C, Qt.ShiftModifier)
    assert session.finding(first).origin == "auto-confirmed"
    assert "auto-confirmed" in panels.findings.status.text()
    panels.findings.deleteLater()
    qtbot.waitUntil(lambda: sip.isdeleted(panels.findings))
    assert coerce_keybinding("Shift+C") not in viewer.keymap
    # the label layer is made a few turns of the event loop after the case opened
    qtbot.waitUntil(lambda: view.labels_layer is not None)
    assert coerce_keybinding("Ctrl+Z") not in view.labels_layer.keymap
