"""Docking the panels (case, analysis, findings, display) beside the canvas, or in one widget.

The panels of one viewer share one `._case_view.CaseView` (and so one case and one undo
history), whichever way they were opened: docked by `dock_panels`, opened one by one from the
Plugins menu, or together as `WorkspaceWidget`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDockWidget, QTabWidget, QVBoxLayout, QWidget

from ._analysis_panel import AnalysisPanel
from ._case_panel import CasePanel
from ._compare_panel import ComparePanel
from ._display_tools import DisplayToolsPanel
from ._findings_panel import FindingsPanel
from ._layout import arrange_docks, auto_fit_for, scrollable
from ._viewer import settings_saved_once

if TYPE_CHECKING:
    import napari

__all__ = ["Panels", "dock_panels", "raise_dock", "WorkspaceWidget"]


class Panels(dict):
    """The docked panels by name: ``"case"``, ``"analysis"``, ``"findings"``, ``"display"``."""

    @property
    def case(self) -> CasePanel:
        return self["case"]

    @property
    def analysis(self) -> AnalysisPanel:
        return self["analysis"]

    @property
    def findings(self) -> FindingsPanel:
        return self["findings"]

    @property
    def compare(self) -> ComparePanel:
        return self["compare"]

    @property
    def display(self) -> DisplayToolsPanel:
        return self["display"]


def dock_panels(
    viewer: napari.Viewer, *, workspace: str | os.PathLike[str] | None = None
) -> Panels:
    """Dock the case, analysis and findings panels in ``viewer``'s window.

    Parameters
    ----------
    viewer : napari.Viewer
    workspace : path-like, optional
        Where findings are autosaved (default `._session.default_workspace`).

    Returns
    -------
    Panels
    """
    with settings_saved_once():  # napari would write its settings file at each dock
        return _dock_panels(viewer, workspace)


def _dock_panels(viewer: napari.Viewer, workspace: str | os.PathLike[str] | None) -> Panels:
    panels = Panels(
        case=CasePanel(viewer, workspace=workspace),
        analysis=AnalysisPanel(viewer),
        findings=FindingsPanel(viewer),
        compare=ComparePanel(viewer),
        display=DisplayToolsPanel(viewer),
    )
    window: Any = viewer.window

    def add(panel: QWidget, name: str, *, tabify: bool) -> QDockWidget:
        # in a scroll area: a panel taller than the window scrolls (`._layout.scrollable`)
        return window.add_dock_widget(
            scrollable(panel), name=name, area="right", tabify=tabify, add_vertical_stretch=False
        )

    # Case and Findings share one tab area (the table needs the width); Analysis sits below.
    upper = add(panels.case, "Case", tabify=False)
    add(panels.findings, "Findings", tabify=True)
    add(panels.compare, "Compare sides", tabify=True)
    lower = add(panels.analysis, "Analysis", tabify=False)
    # window/level, ruler and angle, the structures' legend: a tab beside Analysis
    add(panels.display, "Display", tabify=True)
    # the image dominates: narrow columns beside it, refitted when the window resizes
    auto_fit_for(viewer)
    arrange_docks(viewer, [upper, lower])
    QTimer.singleShot(
        0,
        lambda: (
            arrange_docks(viewer, [upper, lower])
            if _window_open(viewer) and _exists(upper) and _exists(lower)
            else None
        ),
    )
    panels.case.opened.connect(lambda _case_id: raise_dock(panels.findings))
    # after an analysis the surgeon reviews: its proposals and what it could not establish
    panels.analysis.finished.connect(
        lambda outcome: raise_dock(panels.findings) if outcome == "done" else None
    )
    # Tabs settle when the window is shown: raise the Case tab after that -- or the Findings tab
    # when a case was opened meanwhile (``nvc-viewer view CASE``, a case reopened at once).
    QTimer.singleShot(
        0,
        lambda: raise_dock(panels.findings if panels.findings.session.is_open else panels.case),
    )
    return panels


def raise_dock(panel: QWidget) -> None:
    """Bring the tab of a docked panel to the front (nothing when its window was closed)."""
    if not _exists(panel):
        return
    dock = panel.parent()
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parent()
    if dock is not None:
        dock.raise_()


def _exists(widget: QWidget) -> bool:
    """Whether the Qt widget behind ``widget`` is still there (closing the viewer's window
    deletes its docks and panels, and a call on one of them raises ``RuntimeError``)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


def _window_open(viewer: napari.Viewer) -> bool:
    """Whether ``viewer``'s window is still open (napari drops its Qt window on closing)."""
    qt_window = getattr(viewer.window, "_qt_window", None)
    return qt_window is not None and _exists(qt_window)


class WorkspaceWidget(QWidget):
    """The panels as tabs of one widget (the Plugins menu's "MVD workspace").

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.case = CasePanel(napari_viewer)
        self.analysis = AnalysisPanel(napari_viewer)
        self.findings = FindingsPanel(napari_viewer)
        self.compare = ComparePanel(napari_viewer)
        self.display = DisplayToolsPanel(napari_viewer)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.case, "Case")
        self.tabs.addTab(self.analysis, "Analysis")
        self.tabs.addTab(self.findings, "Findings")
        self.tabs.addTab(self.compare, "Compare sides")
        self.tabs.addTab(self.display, "Display")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
