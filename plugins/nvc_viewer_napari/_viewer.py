"""Small helpers on a napari viewer: making one, one object per viewer, closing with its window,
adding layer data, the first view, toasts.

A leaf of the plugin's import graph (it imports only `_layers`): the launcher and the case view
both use it, so neither needs the other.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._layers import AXIS_LABELS, LayerDataTuple

T = TypeVar("T")

if TYPE_CHECKING:
    import napari

__all__ = [
    "one_per_viewer",
    "close_with_window",
    "new_viewer",
    "settings_saved_once",
    "add_layer_data",
    "show_axial_centre",
    "zoom_to_field",
    "dismiss_notifications",
]


def one_per_viewer(
    registry: weakref.WeakValueDictionary[int, T], viewer: Any, make: Callable[[Any], T]
) -> tuple[T, bool]:
    """The object ``registry`` holds for ``viewer`` (a case view, an auto-fit, a four-up), made
    by ``make(viewer)`` on first use; and whether it was made now.

    napari hands plugin widgets a proxy of the viewer: the registry is keyed by the viewer
    itself, and the object (whose ``viewer`` is checked) goes with its last reference.
    """
    viewer = getattr(viewer, "__wrapped__", viewer)
    held = registry.get(id(viewer))
    if held is not None and getattr(held, "viewer", None) is viewer:
        return held, False
    made = make(viewer)
    registry[id(viewer)] = made
    return made, True


def close_with_window(window: Any, owner: Any, close: str) -> None:
    """Call ``owner.<close>()`` when the Qt ``window`` closes: the plugin's own canvases (four-up,
    nerve plane) free their OpenGL resources with the main window. ``owner`` (a QObject) is held
    weakly and parents the event filter."""
    from qtpy.QtCore import QEvent, QObject

    class _CloseWatcher(QObject):
        def __init__(self) -> None:
            super().__init__(owner)
            self._owner = weakref.ref(owner)

        def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Close:
                held = self._owner()
                if held is not None:
                    getattr(held, close)()
            return False

    watcher = _CloseWatcher()
    window.installEventFilter(watcher)
    owner._close_watcher = watcher  # a Python reference too, whatever the binding does


def new_viewer(*, show: bool = True, title: str = "nvc-viewer") -> napari.Viewer:
    """A napari viewer with the (S, P, L) axis labels of the display world."""
    import napari

    with settings_saved_once():
        viewer = napari.Viewer(title=title, show=show)
    viewer.dims.axis_labels = AXIS_LABELS
    return viewer


@contextmanager
def settings_saved_once() -> Iterator[None]:
    """Hold back napari's writes of its settings file for the duration, then write it once.

    napari rewrites its whole settings file (YAML, through pydantic) each time a dock widget
    settles in an area of the window: a dozen times while the window and the panels are made,
    on the way to the first frame. What is written at the end is the same. Without napari's
    switch for it (a private attribute) the writes go on as before.
    """
    try:
        from napari.settings import get_settings

        settings: Any = get_settings()
    except Exception:  # noqa: BLE001 - settings napari cannot read: its own defaults, no change
        yield
        return
    if not isinstance(getattr(settings, "_save_on_change", None), bool):
        yield
        return
    before = settings._save_on_change
    settings._save_on_change = False
    try:
        yield
    finally:
        settings._save_on_change = before
        if before and getattr(settings, "config_path", None):
            try:
                settings.save()
            except OSError:  # as napari: settings that cannot be saved do not stop the viewer
                pass


def add_layer_data(viewer: napari.Viewer, layers: Sequence[LayerDataTuple]) -> list[Any]:
    """Add ``(data, kwargs, layer_type)`` tuples to ``viewer``; returns the new layers."""
    added = []
    for data, kwargs, layer_type in layers:
        added.append(getattr(viewer, f"add_{layer_type}")(data, **kwargs))
    viewer.dims.axis_labels = AXIS_LABELS
    return added


def show_axial_centre(viewer: napari.Viewer) -> None:
    """2-D axial view (anterior up, patient's left on the right) through the data's centre."""
    viewer.dims.ndisplay = 2
    viewer.dims.order = (0, 1, 2)
    extent = np.asarray(viewer.layers.extent.world, dtype=float)
    centre = extent.mean(axis=0)
    viewer.dims.point = tuple(float(c) for c in centre)
    viewer.reset_view()


def on_grid(dims: Any, point: Sequence[float]) -> tuple[float, ...]:
    """A world point moved to the nearest step of each axis of ``dims`` (napari's ``Dims``).

    napari keeps the point on that grid: set off it, the point is reported twice (as set, then
    on the grid) and every layer is sliced twice.
    """
    return tuple(
        float(rng.start + round((float(v) - rng.start) / (rng.step or 1)) * (rng.step or 1))
        for v, rng in zip(point, dims.range, strict=True)
    )


def zoom_to_field(viewer: Any, field_mm: float) -> None:
    """Zoom a 2-D view in until ``field_mm`` of the world fill the canvas's shorter side.

    Never zooms out: a surgeon already closer in stays there. ``viewer`` is a napari viewer or
    a ``ViewerModel`` (world units are mm).
    """
    camera = viewer.scene.camera
    size = np.asarray(viewer.canvas.size, dtype=np.float64)  # (height, width) pixels
    if field_mm <= 0 or size.min() <= 1:
        return
    zoom = float(size.min()) / float(field_mm)
    if zoom > camera.zoom:
        camera.zoom = zoom


def dismiss_notifications(viewer: napari.Viewer) -> None:
    """Close napari's notification toasts (e.g. a Qt backend deprecation) over the canvas."""
    from qtpy.QtWidgets import QApplication, QWidget

    widgets = viewer.window._qt_window.findChildren(QWidget) + QApplication.topLevelWidgets()
    for widget in widgets:
        if type(widget).__name__ == "NapariQtNotification":
            widget.close()
