"""The workstation layout: the image dominates the window at 1366 x 768 and larger, the panels
fit beside it (tabs, scrolling), and the window is no taller than the screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvc_viewer_napari._dock import dock_panels, raise_dock
from nvc_viewer_napari._layout import _FITS, auto_fit_for
from qtpy.QtWidgets import QApplication, QScrollArea

from ._phantoms import make_volume


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_image_dominates_the_window(
    make_napari_viewer, qtbot, tmp_path: Path, size: tuple[int, int]
) -> None:
    from nvc_viewer_napari._case_view import case_view_for

    viewer = make_napari_viewer(show=True)
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    case_view_for(viewer).open_case(make_volume("oblique"), case_id="layout")
    window = viewer.window._qt_window
    window.resize(*size)
    qtbot.wait(50)
    for _ in range(5):
        QApplication.processEvents()
    # the window is what was asked: no panel makes it taller or wider than the screen
    assert (window.width(), window.height()) == size
    height, width = viewer.canvas.size
    assert width >= 0.62 * size[0], f"the canvas is {width} px of {size[0]}"
    assert height >= 0.80 * size[1], f"the canvas is {height} px high of {size[1]}"
    # napari's layer list and controls are tabs beside the panels, not a column of their own
    qt_viewer = viewer.window._qt_viewer
    assert window.dockWidgetArea(qt_viewer.dockLayerList) == window.dockWidgetArea(
        panels.analysis.parent().parent().parent()
    )
    # every panel scrolls instead of asking for the window's height; none scrolls sideways
    for name, panel in panels.items():
        raise_dock(panel)
        for _ in range(3):
            QApplication.processEvents()
        area = panel.parent().parent()
        assert isinstance(area, QScrollArea), name
        assert area.isVisible() and not area.horizontalScrollBar().isVisible(), name
    # the canvas is refitted when the window resizes (installed with the panels)
    fit = _FITS.get(id(viewer))
    assert fit is not None and auto_fit_for(viewer) is fit
    qtbot.waitUntil(lambda: fit.refits >= 1)


@pytest.mark.parametrize("size", [(1400, 900), (1600, 1000)])
def test_the_findings_table_fits_its_column_and_shows_everything_on_request(
    make_napari_viewer, qtbot, tmp_path: Path, size: tuple[int, int]
) -> None:
    """As a worklist: no scrolling sideways at 1400 px and wider, long text elided; the hidden
    columns come back from the header's menu, and the selected finding's measurements, note
    and rationale are under the table (and in every cell's tooltip)."""
    from nvc_viewer_napari._findings_panel import EDITED_TEXT, FINDING_COLUMNS, HIDDEN_COLUMNS

    from nvc_viewer.phantom import make_phantom

    from .test_markers import _open as open_phantom

    viewer = make_napari_viewer(show=True)
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    open_phantom(viewer, make_phantom("sandwich", supersample=2, snr=None), tmp_path / "ws")
    window = viewer.window._qt_window
    window.resize(*size)
    findings = panels.findings
    first = findings.finding_ids[0]
    # the widest texts a row holds: a corrected proposal, a long note
    findings.set_field(first, "grade", "displacement")
    findings.set_field(first, "vessel", "perforator")
    findings.set_note(first, "pulsatile loop, seen again on the coronal CISS at the REZ")
    assert findings.cell_text(0, "origin") == f"auto · {EDITED_TEXT}"
    raise_dock(findings)
    qtbot.wait(50)
    for _ in range(5):
        QApplication.processEvents()
    table = findings.table
    shown = [n for n in range(table.columnCount()) if not table.isColumnHidden(n)]
    widths = sum(table.columnWidth(n) for n in shown)
    assert widths <= table.viewport().width(), (widths, table.viewport().width())
    assert not table.horizontalScrollBar().isVisible()
    # every column is named in the header's menu, ticked when shown
    menu = findings.column_menu()
    assert [a.text() for a in menu.actions()] == [h for h, _ in FINDING_COLUMNS]
    assert [a.isChecked() for a in menu.actions()] == [
        f not in HIDDEN_COLUMNS for _, f in FINDING_COLUMNS
    ]
    # what tells a proposal from a possible contact stays in sight
    assert findings.column_shown("confidence")
    confidence = findings.session.finding(first).confidence
    assert findings.cell_text(0, "confidence") == f"{confidence:.2f}"
    # what the hidden columns hold: under the table for the selected finding, in the tooltip
    f = findings.session.finding(first)
    assert f"Ø {f.vessel_diameter_mm:.1f} mm" in findings.details_label.text()
    assert f"confidence {f.confidence:.2f}" in findings.details_label.text()
    assert findings.note_edit.text() == f.note
    assert f.rationale in findings.rationale_label.text()
    tip = table.item(0, 0).toolTip()
    assert f.note in tip and f.rationale in tip and EDITED_TEXT in tip
    # a hidden column shown from the menu holds its text; the table still fits
    note = next(a for a in menu.actions() if a.text() == "Note")
    note.setChecked(True)
    assert findings.column_shown("note") and findings.cell_text(0, "note") == f.note
    for _ in range(3):
        QApplication.processEvents()
    assert not table.horizontalScrollBar().isVisible()


def test_a_viewer_closed_before_its_docks_settle(make_napari_viewer, qtbot, tmp_path: Path) -> None:
    """The docks are arranged and a tab raised a turn of the event loop after they are docked:
    a viewer closed before that turn (a script, a test, a quick second thought) is left alone,
    without an error from the window or panels gone meanwhile."""
    viewer = make_napari_viewer(show=True)
    dock_panels(viewer, workspace=tmp_path / "ws")
    with qtbot.captureExceptions() as exceptions:
        viewer.close()
        qtbot.wait(100)
        for _ in range(3):
            QApplication.processEvents()
    assert not exceptions, [str(e[1]) for e in exceptions]
