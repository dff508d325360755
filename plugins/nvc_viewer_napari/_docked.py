"""A panel of the plugin's own docked in the viewer's window, shown and hidden as a whole.

The four-up's small views and the nerve plane are such panels: each is shown or hidden by its
button (`DockedPanel.set_enabled`), its key (`DockedPanel.bind_key`) or the dock's close button,
and tells who listens (`DockedPanel.enabled_changed`). What it does when shown or hidden is its
own (`DockedPanel._on_show`, `DockedPanel._on_hide`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QDockWidget, QWidget

if TYPE_CHECKING:
    import napari

__all__ = ["DockedPanel"]


class DockedPanel(QWidget):
    """A widget docked in ``viewer``'s window on first show (see the module).

    Subclasses set `TITLE`, `AREA` (``"left"``, ``"bottom"``...) and `KEY`, and define
    `_on_show` (build what they need, then `_dock_shown`) and, if need be, `_on_hide`.
    """

    TITLE = ""
    AREA = "right"
    KEY = ""

    #: Emitted with the new state when the panel is shown or hidden (also by the dock's close
    #: button).
    enabled_changed = Signal(bool)

    def __init__(self, viewer: napari.Viewer) -> None:
        super().__init__(viewer.window._qt_window)  # type: ignore[attr-defined]  # owned by the window until it is docked
        self.hide()
        self.viewer = viewer
        self.dock: QDockWidget | None = None
        self._enabled = False

    @property
    def enabled(self) -> bool:
        """Whether the panel is shown (and follows the viewer)."""
        return self._enabled

    def set_enabled(self, on: bool) -> None:
        """Show the panel, or hide it."""
        if on == self._enabled:
            return
        self._enabled = on
        if on:
            self._on_show()
        else:
            if self.dock is not None:
                self.dock.hide()
            self._on_hide()
        self.enabled_changed.emit(on)

    def toggle(self) -> bool:
        """Show the panel when hidden and hide it when shown; returns the new state."""
        self.set_enabled(not self._enabled)
        return self._enabled

    def bind_key(self) -> None:
        """Bind `KEY` in the viewer's keymap to `toggle`."""

        def on_key(_viewer: Any) -> None:
            self.toggle()

        self.viewer.bind_key(self.KEY, on_key, overwrite=True)

    def _on_show(self) -> None:
        raise NotImplementedError

    def _on_hide(self) -> None:
        """What hiding undoes (nothing by default)."""

    def _dock_shown(self, size_px: int) -> None:
        """Dock the panel on first use (no floating window: a canvas taken out of the main
        window loses its GL context), show it, ``size_px`` across the dock area."""
        window: Any = self.viewer.window
        if self.dock is None:
            self.dock = window.add_dock_widget(self, name=self.TITLE, area=self.AREA, menu=None)
            self.dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable)
            self.dock.visibilityChanged.connect(self._on_dock_visibility)
        self.dock.show()
        across = Qt.Vertical if self.AREA in ("top", "bottom") else Qt.Horizontal
        window._qt_window.resizeDocks([self.dock], [size_px], across)

    def _on_dock_visibility(self, visible: bool) -> None:
        # the dock's own close button: as the toggle (a tabified dock hidden behind a tab is
        # not closed, and stays enabled)
        if not visible and self.dock is not None and self.dock.isHidden() and self._enabled:
            self._enabled = False
            self._on_hide()
            self.enabled_changed.emit(False)
