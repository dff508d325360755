"""Explicit review in the findings panel, and reopening a case where the surgeon left it.

Driven like a user: a combo changes a field, Confirm / Reject decide, Undo / Redo walk back and
forth; then the case is opened again in a fresh viewer, which must come back with the same
slice, zoom and selected finding, the Findings tab in front and the at-click tools enabled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nvc_viewer_napari._case_view import case_view_for
from nvc_viewer_napari._dock import dock_panels
from nvc_viewer_napari._findings_panel import EDITED_TEXT

from nvc_viewer.findings import Finding

from . import test_workspace_gui as _gui
from .test_workspace_gui import WAIT_MS, SyntheticCase, _front_tab, truth_analyse

#: The small analytic CPA case on disk (the fixture of the workspace tests).
cpa_case = _gui.cpa_case


def _analysed(make_napari_viewer: Any, qtbot: Any, workspace: Path, case: SyntheticCase) -> Any:
    """A viewer with the panels docked, ``case`` opened and analysed; a second proposal and a
    finding of the surgeon's own added. Returns (viewer, panels)."""
    viewer = make_napari_viewer()
    panels = dock_panels(viewer, workspace=workspace)
    panels.analysis.analyse = truth_analyse(case, [])
    panels.case.scan(case.folder)
    assert panels.case.open_case(), panels.case.status.text()
    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        assert panels.analysis.start()
    assert outcome.args == ["done"], panels.analysis.status.text()
    session = case_view_for(viewer).session
    # the machine explains its proposal in the rationale (the truth keeps it in the note)
    first = Finding.from_dict(
        {**session.findings.findings[0].to_dict(), "note": "", "rationale": "analytic truth"}
    )
    session.findings = session.findings.with_finding(first)
    second = Finding.from_dict({**first.to_dict(), "id": "auto-b", "vessel": "PICA",
                                "position_ras": list(np.add(first.position_ras, 2.0))})  # fmt: skip
    session.findings = session.findings.with_finding(second)
    session.add_manual(np.add(first.position_ras, -2.0))
    panels.findings.refresh()
    return viewer, panels


def _counts(panel: Any) -> tuple[int, int, int, int]:
    c = panel.counts
    return c.to_review, c.confirmed, c.rejected, c.own


def test_review_is_explicit_counted_and_undo_keeps_the_selection(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    viewer, panels = _analysed(make_napari_viewer, qtbot, tmp_path / "ws", cpa_case)
    table = panels.findings
    first, second, own = table.finding_ids
    assert _counts(table) == (2, 0, 0, 1)
    assert "To review: 2" in table.counts_label.text()

    # a combo corrects the proposal: it stays to review, and the row says so
    table.set_field(first, "grade", "indentation")
    finding = table.session.finding(first)
    assert (finding.origin, finding.grade, finding.edited) == ("auto", "indentation", True)
    assert table.cell_text(0, "origin") == f"auto · {EDITED_TEXT}"
    assert _counts(table) == (2, 0, 0, 1) and "1 edited" in table.counts_label.text()

    # the note is the surgeon's; the machine's rationale stays beside it
    table.set_note(first, "pulsatile loop at surgery")
    finding = table.session.finding(first)
    assert finding.note == "pulsatile loop at surgery"
    assert finding.rationale == "analytic truth"  # the truth's explanation, not overwritten
    assert "analytic truth" in table.rationale_label.text()
    assert table.cell_text(0, "note") == "pulsatile loop at surgery"
    assert table.cell_text(0, "rationale") == "analytic truth"

    # Confirm / Reject decide; the counts follow every step
    table.select(first)
    table.confirm_selected()
    assert _counts(table) == (1, 1, 0, 1)
    assert "Confirmed: 1" in table.counts_label.text()
    table.select(second)
    table.reject_selected()
    assert _counts(table) == (0, 1, 1, 1)
    assert "To review: 0" in table.counts_label.text()

    # undo says what it took back and keeps the selected finding selected
    table.select(first)
    assert table.undo()
    assert table.status.text() == "Undid: reject VII-L PICA contact"
    assert table.selected_id == first
    assert table.table.selectionModel().selectedRows()[0].row() == table.row_of(first)
    assert _counts(table) == (1, 1, 0, 1)
    assert table.redo()
    assert table.status.text() == "Redid: reject VII-L PICA contact"
    assert table.selected_id == first and _counts(table) == (0, 1, 1, 1)

    # delete and add change the counts too
    table.select(own)
    table.delete_selected()
    assert _counts(table) == (0, 1, 1, 0) and table.selected_id is None
    assert table.undo() and _counts(table) == (0, 1, 1, 1)
    assert table.status.text() == "Undid: delete VII-L AICA contact"
    saved = json.loads((tmp_path / "ws" / "cpa_case" / "findings.json").read_text())
    assert saved["schema_version"] == 3
    assert saved["findings"][0]["rationale"] == "analytic truth"


def test_reopening_restores_the_view_the_findings_tab_and_the_at_click_tools(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    workspace = tmp_path / "ws"
    viewer, panels = _analysed(make_napari_viewer, qtbot, workspace, cpa_case)
    view = case_view_for(viewer)
    second = panels.findings.finding_ids[1]
    panels.findings.select(second)
    viewer.dims.set_point(0, viewer.dims.point[0] + 3.2)  # the surgeon scrolls 4 slices up
    viewer.scene.camera.zoom = viewer.scene.camera.zoom * 2.5
    point = np.asarray(viewer.dims.point, dtype=float)
    zoom = viewer.scene.camera.zoom
    view.session.flush_view()  # as closing the case does
    viewer.close()

    fresh = make_napari_viewer()
    panels = dock_panels(fresh, workspace=workspace)
    panels.analysis.analyse = truth_analyse(cpa_case, [])
    panels.case.scan(cpa_case.folder)
    assert panels.case.open_case(), panels.case.status.text()
    qtbot.wait(50)  # the dock settles its tabs after the first turn of the event loop
    assert _front_tab(fresh, "Case") == "Findings"
    np.testing.assert_allclose(fresh.dims.point, point, atol=1e-3)
    assert fresh.scene.camera.zoom == pytest.approx(zoom, rel=1e-6)
    assert fresh.dims.ndisplay == 2
    assert panels.findings.selected_id == second
    assert panels.findings.table.selectionModel().selectedRows()[0].row() == 1
    # the analysis is recomputed in the background without asking: the tools come back
    qtbot.waitUntil(
        lambda: all(b.isEnabled() for b in panels.analysis.refine_buttons.values()),
        timeout=WAIT_MS,
    )
    assert case_view_for(fresh).session.result is not None
    assert len(panels.findings.finding_ids) == 3  # the saved findings, untouched
    assert panels.analysis.arm_refine("nerve")
