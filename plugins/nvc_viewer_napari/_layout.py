"""The workstation layout: the image dominates the window, and is refitted when it resizes.

`AutoFit` refits the main canvas to the case when the canvas changes size (the window is
maximised, a panel is docked or closed), a moment after the last change, unless the surgeon
has zoomed since the last fit (a zoom on a contact is kept). `arrange_docks` gives the canvas
the room: one column of panels on the right (napari's layer list and layer controls are tabs
in it), about 30% of the window, and every panel scrolls (`scrollable`) rather than asking
the window for its full height: the workspace fits a 1366 x 768 screen with two thirds of its
width for the image.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QObject, Qt, QTimer
from qtpy.QtWidgets import QFrame, QScrollArea, QWidget

from ._viewer import one_per_viewer

if TYPE_CHECKING:
    import napari

__all__ = ["AutoFit", "arrange_docks", "auto_fit_for", "scrollable"]

# Milliseconds after the last resize before the canvas is refitted (a window being dragged
# larger sends many resizes).
_REFIT_DELAY_MS = 150
# A zoom this far (relative) from the last fit's is the surgeon's own.
_ZOOM_TOLERANCE = 1e-3
# Width of napari's layer column and share of the window taken by the panels' column.
_LAYER_COLUMN_PX = 230
_PANEL_FRACTION = 0.30
_PANEL_MIN_PX = 470
_PANEL_MAX_PX = 560
# Share of the panels' column's height taken by its upper tab group (the findings table).
_UPPER_FRACTION = 0.58

_FITS: weakref.WeakValueDictionary[int, AutoFit] = weakref.WeakValueDictionary()


class AutoFit(QObject):
    """Refits a viewer's canvas to its layers after the canvas is resized (see the module).

    Parameters
    ----------
    viewer : napari.Viewer
    delay_ms : int
        Wait after the last resize.
    """

    def __init__(self, viewer: napari.Viewer, *, delay_ms: int = _REFIT_DELAY_MS) -> None:
        super().__init__(viewer.window._qt_window)  # type: ignore[attr-defined]
        self.viewer = viewer
        self._fitted_zoom: float | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.refit)
        viewer.canvas.events.size.connect(self._on_resize)
        viewer.events.reset_view.connect(self._on_fit)  # napari's reset_view and fit_to_view
        #: How many times the canvas was refitted after a resize.
        self.refits = 0

    @property
    def user_zoomed(self) -> bool:
        """Whether the zoom was changed since the last fit (by the surgeon, or to a finding)."""
        if self._fitted_zoom is None:
            return False
        zoom = float(self.viewer.scene.camera.zoom)
        return abs(zoom / self._fitted_zoom - 1.0) > _ZOOM_TOLERANCE

    def _on_fit(self, event: Any = None) -> None:
        self._fitted_zoom = float(self.viewer.scene.camera.zoom)

    def _on_resize(self, event: Any = None) -> None:
        if not self.user_zoomed:
            self._timer.start()

    def refit(self) -> bool:
        """Fit the layers to the canvas now, unless the surgeon zoomed; whether it did.

        In 3-D the camera's direction is kept (napari's ``fit_to_view``; ``reset_view`` would
        turn the patient back to napari's default).
        """
        if self.user_zoomed or not len(self.viewer.layers):
            return False
        self.viewer.fit_to_view()
        self.refits += 1
        return True


def auto_fit_for(viewer: napari.Viewer) -> AutoFit:
    """The `AutoFit` of ``viewer``, installed on first use."""
    return one_per_viewer(_FITS, viewer, AutoFit)[0]


def scrollable(panel: QWidget) -> QScrollArea:
    """``panel`` in a frameless scroll area: docked, it scrolls when the window is lower (or
    narrower) than it would like, instead of making the window taller than the screen."""
    area = QScrollArea()
    area.setObjectName(f"{panel.objectName() or type(panel).__name__}_scroll")
    area.setFrameShape(QFrame.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
    area.setWidget(panel)
    return area


def arrange_docks(viewer: napari.Viewer, panel_docks: list[Any]) -> None:
    """Give the canvas the room: one column of panels on the right, about 30% of the window,
    everything else the image.

    The column holds two tab groups, one above the other: the upper one (the case, the
    findings) gets about 60% of its height; napari's layer list and layer controls become
    tabs of the lower one (behind the analysis panel), so there is no column on the left.
    Without panels, napari's layer list and controls share one narrow column on the left.

    Parameters
    ----------
    viewer : napari.Viewer
    panel_docks : list of QDockWidget
        The panels' docks on the right, one of each tab group, top first.
    """
    window: Any = viewer.window
    qt_window = window._qt_window
    qt_viewer = window._qt_viewer
    layer_list = getattr(qt_viewer, "dockLayerList", None)
    controls = getattr(qt_viewer, "dockLayerControls", None)
    napari_docks = [d for d in (layer_list, controls) if d is not None]
    host = panel_docks[-1] if panel_docks else (napari_docks[0] if napari_docks else None)
    for dock in napari_docks:
        if dock is not host and dock not in qt_window.tabifiedDockWidgets(host):
            qt_window.tabifyDockWidget(host, dock)
    if host is not None:
        host.raise_()  # the analysis panel (or napari's layer list) in front
    width = max(int(qt_window.width()), 1024)
    if panel_docks:
        column = min(max(int(width * _PANEL_FRACTION), _PANEL_MIN_PX), _PANEL_MAX_PX)
        qt_window.resizeDocks(list(panel_docks[:1]), [column], Qt.Horizontal)
    elif host is not None:
        qt_window.resizeDocks([host], [_LAYER_COLUMN_PX], Qt.Horizontal)
    if len(panel_docks) >= 2:
        height = max(int(qt_window.height()), 600)
        upper = int(height * _UPPER_FRACTION)
        qt_window.resizeDocks(list(panel_docks[:2]), [upper, height - upper], Qt.Vertical)
