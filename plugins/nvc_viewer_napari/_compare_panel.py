"""The "Compare sides" panel: left and right of each nerve side by side, and a mirror view.

The table is `nvc_viewer.compare.comparison_rows` of the open case: per nerve (VII, VIII, V)
whether it was identified, RExP-RDP and RDP-TZ along the nerve, the free root's calibre and the
nearest vessel of each REZ segment (attached, RDP, TZ, cisternal), left in one column and right
in the other; a contact is shown in red. It is measured from the session's label map, landmarks
and findings (and the analysis' centrelines when the session has them), so a reopened case is
compared without a new analysis. It is redrawn when a case is opened, an analysis is applied or
restored, the findings or the label map change; while the panel is out of sight (its dock a tab
behind Findings, as after an analysis), when it next comes into sight. Measuring both sides takes
the GUI thread 50-150 ms: done for a table nobody saw, it fell in the turn of the event loop
that draws an analysis' findings, and came again with every finding edited or brush stroke.

"Mirror view" shows both facial root exit zones in one axial slice: the slice at the mean
height of the left and right VII root detachment points (RDP), the camera centred midway
between them and zoomed so that both, with 12 mm around each, fit the canvas. (Not napari's
grid mode: grid mode tiles layers, not two places of one layer.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ._case_view import case_view_for

if TYPE_CHECKING:
    import napari

    from nvc_viewer.compare import SidesComparison

__all__ = ["ComparePanel", "MIRROR_MARGIN_MM"]

#: Room around each RDP in the mirror view, mm.
MIRROR_MARGIN_MM = 12.0
_CONTACT = QColor(220, 40, 40)
_REFRESH_ON = ("case", "analysis", "analysis-restored", "findings", "labels", "closed")


class ComparePanel(QWidget):
    """Both sides of the open case compared in a table; a mirror view of both REZs.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.view = case_view_for(napari_viewer)
        self.comparison: SidesComparison | None = None
        self.status = QLabel("Open a case and run the analysis to compare the sides.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["", "left", "right"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        vertical, header = self.table.verticalHeader(), self.table.horizontalHeader()
        assert vertical is not None and header is not None
        vertical.setVisible(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.mirror_button = QPushButton("Mirror view")
        self.mirror_button.setToolTip(
            "One axial slice through both facial root detachment points (left and right VII "
            "RDP), centred midway, zoomed to show both"
        )
        self.mirror_button.clicked.connect(self.mirror_view)
        buttons = QHBoxLayout()
        buttons.addWidget(self.mirror_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # one redraw for a burst of changes
        self._timer.timeout.connect(self.refresh)
        #: Whether the case changed since the table was measured (out of sight, it is measured
        #: when it comes into sight).
        self.stale = self.view.session.is_open
        self._dock: QDockWidget | None = None
        self.view.session.subscribe(self._on_session)
        self.destroyed.connect(lambda *_: self.view.session.unsubscribe(self._on_session))

    @property
    def in_sight(self) -> bool:
        """Whether the table is on screen: the panel shown and, in a dock tabbed with others
        (which Qt keeps "visible" behind the current tab), its tab the current one."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def _on_session(self, what: str) -> None:
        if what in _REFRESH_ON:
            self.stale = True
            if self.in_sight:
                self._timer.start()

    def _came_into_sight(self) -> None:
        if self.stale:  # measured before the table is painted
            self._timer.stop()
            self.refresh()

    def _on_dock_visibility(self, visible: bool) -> None:
        if visible:
            self._came_into_sight()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        """Shown (the window, or its tab of a tab widget): measured if it is stale; a dock's
        tab coming to the front is its dock's ``visibilityChanged``."""
        super().showEvent(event)
        if self._dock is None:
            parent = self.parentWidget()
            while parent is not None and not isinstance(parent, QDockWidget):
                parent = parent.parentWidget()
            if parent is not None:
                self._dock = parent
                parent.visibilityChanged.connect(self._on_dock_visibility)
        if self.in_sight:
            self._came_into_sight()

    # -- the table ----------------------------------------------------------------------------
    def refresh(self) -> SidesComparison | None:
        """Measure the open case again and redraw the table; the comparison, or None."""
        session = self.view.session
        self.comparison = None
        self.stale = False
        if not session.is_open or session.findings is None:
            self._show_rows([], "Open a case and run the analysis to compare the sides.")
            return None
        if session.labels is None or not np.asarray(session.labels.data).any():
            self._show_rows([], "No label map yet: run the analysis to compare the sides.")
            return None
        # imported on the first measure: nvc_viewer.compare loads scipy's graph and k-d tree
        # modules and scikit-image, which the window does not need to open
        from nvc_viewer.compare import compare_case, comparison_rows

        self.comparison = compare_case(session.labels, session.findings, session.centrelines)
        rows = comparison_rows(self.comparison)
        course = "the analysis' centrelines" if session.centrelines else "the saved label map"
        self._show_rows(rows, f"Case {session.case_id}: measured on {course}.")
        return self.comparison

    def _show_rows(self, rows: list[tuple[str, str, str]], message: str) -> None:
        self.status.setText(message)
        self.table.setRowCount(0)
        if not rows:
            self.table.setHorizontalHeaderLabels(["", "left", "right"])
            return
        self.table.setHorizontalHeaderLabels(list(rows[0]))
        body = rows[1:]
        self.table.setRowCount(len(body))
        for r, row in enumerate(body):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c and text.split(" (")[0].endswith("contact"):
                    item.setForeground(_CONTACT)
                self.table.setItem(r, c, item)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's cells as shown, row by row (header excluded)."""
        out = []
        for r in range(self.table.rowCount()):
            cells = [self.table.item(r, c) for c in range(3)]
            out.append(tuple("" if i is None else i.text() for i in cells))
        return out

    # -- mirror view --------------------------------------------------------------------------
    def mirror_view(self) -> bool:
        """Show both facial RDPs in one axial slice at their mean height, centred midway.

        Returns
        -------
        bool
            False (and a message) when the case lacks the left or right VII RDP.
        """
        session = self.view.session
        case = session.findings
        rdps = {}
        if case is not None:
            rdps = {lm.side: lm.position_ras for lm in case.landmarks
                    if lm.nerve == "VII" and lm.name == "RDP"}  # fmt: skip
        if set(rdps) != {"left", "right"} or session.grid is None:
            self.status.setText("Mirror view needs the left and the right VII RDP landmarks.")
            return False
        world = np.array([self.view.ras_to_world(np.asarray(rdps[s], float)) for s in rdps])
        middle = world.mean(axis=0)
        self.view.show_plane("axial")
        self.viewer.dims.point = tuple(float(v) for v in middle)
        camera: Any = getattr(self.viewer, "scene", self.viewer).camera  # napari >= 0.9
        displayed = list(self.viewer.dims.displayed)
        camera.center = tuple(float(middle[a]) for a in displayed)
        extent = np.abs(world[0] - world[1])[displayed] + 2 * MIRROR_MARGIN_MM
        height, width = (int(v) for v in getattr(self.viewer, "canvas", self.viewer).size)
        if height > 0 and width > 0:
            camera.zoom = float(min(height / extent[0], width / extent[1]))
        self.status.setText(
            f"Mirror view: axial slice at S {float(np.mean([rdps[s][2] for s in rdps])):.1f} mm "
            "(RAS), both VII RDPs in view."
        )
        return True
