"""Four-up: axial, coronal and sagittal 2-D views beside the main canvas, linked by one point.

Like the four-up layout of 3D Slicer: the main napari canvas (any plane, or 3-D) and three small
2-D views docked under it, each a napari ``ViewerModel`` with its own ``QtViewer`` canvas (the
pattern of napari's ``multiple_viewer_widget`` example). The small views show the case's image,
label and point layers as mirrors of the main viewer's: the same arrays (nothing is copied; a
brush stroke in the main view shows at once), the same colours, contrast and visibility. Surfaces
and measurement lines stay in the main view.

One point links them all: the main viewer's ``dims.point`` (napari world (S, P, L) mm, the
slice position saved with the case). Each small view slices through it and draws a crosshair on
it; a click (press and release without dragging) on a small view -- or on the main 2-D view
while four-up is on -- moves the point to the click, so the other views' slices go through the
same patient RAS point. Every view shows its patient letters and its slice position in mm
(`._orientation_overlay`).

Moving the point stays quick with four canvases: napari re-slices every layer of a viewer on
any change of its ``dims.point``, in-plane coordinates included, so a small view's own
``dims.point`` follows the linked point only across its plane (`PlaneView.point` holds the
rest), the main view's layers are not re-sliced by a move along its plane, and the small views
follow one per turn of the event loop, each canvas drawn before the next view is re-sliced.
New image or label data (a label map swapped in by the analysis) reaches them the same way, and a
points layer's several changes (data, features, colours, sizes) reach each mirror as one redraw.

A leaf above `._case_view`: the panels may import it; it imports no panel.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QHBoxLayout, QSizePolicy

from ._case_view import PLANES, case_view_for
from ._docked import DockedPanel
from ._gl_programs import keep_mesh_programs
from ._held import HeldRedraw
from ._layers import AXIS_LABELS
from ._orientation_overlay import OrientationOverlay
from ._shortcuts import FOUR_UP_SHORTCUT
from ._viewer import close_with_window, on_grid, one_per_viewer
from ._vispy_redraws import keep_still_transforms

if TYPE_CHECKING:
    import napari

__all__ = [
    "CROSSHAIR_COLOR",
    "FOUR_UP_KEY",
    "FOUR_UP_PLANES",
    "FourUp",
    "PlaneView",
    "four_up_for",
]

#: The three small views, left to right.
FOUR_UP_PLANES = ("axial", "coronal", "sagittal")
#: Key that shows / hides the small views (napari's notation; `._shortcuts`).
FOUR_UP_KEY = FOUR_UP_SHORTCUT.key
#: Crosshair colour: a cyan that no structure of the label table uses.
CROSSHAIR_COLOR = "#40e0ff"
# Crosshair line width and the gap left around the point (the contact stays visible), in
# screen pixels (converted to mm with the view's zoom).
_CROSSHAIR_WIDTH_PX = 1.2
_CROSSHAIR_GAP_PX = 10.0
# Layer kinds mirrored into the small views (surfaces and measurements stay in the main view).
_MIRRORED = ("image", "labels", "points")
# Properties copied from a main layer to its mirrors when they change.
_SYNCED = {
    "image": ("visible", "opacity", "blending", "contrast_limits", "colormap", "gamma"),
    "labels": ("visible", "opacity", "blending", "colormap"),
    "points": ("visible", "opacity", "blending"),
}
_COMMON = ("scale", "translate", "name")
# A drag longer than this (screen pixels) pans the view; a shorter one is a click.
_CLICK_SLOP_PX = 4.0
# Font size of a small view's slice position.
_SMALL_SLICE_SIZE = 9
# Height of the row of small views as a fraction of the window's height.
_ROW_FRACTION = 0.34
# Between a frame drawn and the next small view following a move of the linked point (ms).
_SYNC_INTERVAL_MS = 1
# The longest wait for that frame (ms): when nothing on screen changed, no canvas draws.
_FRAME_WAIT_MS = 40

_FOUR_UPS: weakref.WeakValueDictionary[int, FourUp] = weakref.WeakValueDictionary()


def _clicked(event: Any) -> Generator[None, None, bool]:
    """Follow a mouse press to its release (a napari drag callback's ``yield from``): whether
    it was a click, the pointer never moving more than ``_CLICK_SLOP_PX`` (a drag pans)."""
    start = np.asarray(getattr(event, "pos", (0.0, 0.0)), dtype=np.float64)
    moved = False
    yield
    while event.type == "mouse_move":
        now = np.asarray(getattr(event, "pos", start), dtype=np.float64)
        moved = moved or float(np.hypot(*(now - start))) > _CLICK_SLOP_PX
        yield
    return not moved


def on_left_click(act: Callable[[np.ndarray], None]) -> Callable[[Any, Any], Any]:
    """A napari drag callback that calls ``act(world position)`` on a left click (a press and
    release without moving; a drag pans, as everywhere)."""

    def callback(model: Any, event: Any) -> Any:
        if event.type != "mouse_press" or event.button not in (1, None):
            return
        position = np.asarray(event.position, dtype=np.float64)
        if (yield from _clicked(event)):
            act(position)

    return callback


def _draw_event(qt_viewer: Any) -> Any:
    """The draw event of a napari ``QtViewer``'s vispy canvas (emitted as it paints)."""
    return qt_viewer.canvas._scene_canvas.events.draw


def _kind(layer: Any) -> str:
    return type(layer).__name__.lower()


def _mirror_layer(layer: Any) -> Any:
    """A layer on the same data as ``layer`` (napari's layer data tuple: no array copied)."""
    from napari.layers import Layer

    data, meta, kind = layer.as_layer_data_tuple()
    copy = Layer.create(data, dict(meta), kind)
    copy.metadata = {**copy.metadata, "nvc_mirror_of": id(layer)}
    return copy


def _copy_points(source: Any, copy: Any) -> None:
    """Give a mirror the points of its source, with their features and style, in one redraw.

    napari refreshes a points layer (slices it, draws its thumbnail, clears its extent) on
    every property set, its canvas node redraws on every style event, and a view's dims are
    computed again from all its layers on every data event (twice for a new ``data``): eight
    sets made a mirror cost about 25 ms. Here the sets go in with the layer's refreshes and
    events held, and one refresh draws them all; the view's dims are told of the new data
    only when the layer's extent changed.
    """
    from napari.layers.base import ActionType

    extent = np.array(copy.extent.world, dtype=np.float64)
    with (
        copy._block_refresh(),
        copy.events.blocker_all(),
        copy._border.events.blocker_all(),
        copy._face.events.blocker_all(),
    ):
        copy.data = np.asarray(source.data)
        if len(source.data):
            copy.features = source.features
            copy.size = source.size
            copy.symbol = source.symbol
            copy.border_width = source.border_width
            copy.border_color = source.border_color
            copy.face_color = source.face_color
    copy.refresh()
    if not np.array_equal(extent, np.asarray(copy.extent.world), equal_nan=True):
        copy.events.data(
            value=copy.data,
            action=ActionType.CHANGED,
            data_indices=tuple(range(len(copy.data))),
            vertex_indices=((),),
        )


class PlaneView:
    """One small 2-D view: a napari ``ViewerModel`` on a plane, with its own canvas.

    Parameters
    ----------
    plane : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"`` (`._case_view.PLANES`).
    grid : callable
        Returns the shown case's `DisplayGrid` (or None), for the letters and slice position.
    on_click : callable
        Called with the world (S, P, L) position of a click on the view and the view's
        displayed axes (the coordinates the click sets).
    """

    def __init__(
        self,
        plane: str,
        grid: Callable[[], Any],
        on_click: Callable[[np.ndarray, Sequence[int]], None],
    ) -> None:
        from napari.components.viewer_model import ViewerModel
        from napari.layers import Vectors
        from napari.qt import QtViewer

        keep_mesh_programs()  # the crosshair and the slice box: drawn without a new shader
        keep_still_transforms()  # its slice position: one frame a move, not two
        order, vertical = PLANES[plane]  # type: ignore[misc]
        self.plane = plane
        self.model = ViewerModel(title=plane)
        self.model.dims.ndisplay = 2
        self.model.dims.axis_labels = AXIS_LABELS
        self.qt_viewer = QtViewer(self.model)
        self._order, self._vertical = order, vertical
        self.apply_plane()
        # napari resets the axis order when the number of dimensions changes (first layer)
        self.model.dims.events.ndim.connect(self.apply_plane)
        self._on_click = on_click
        #: The linked point the view shows (world (S, P, L) mm); None until it is first shown.
        #: Only its coordinate across the plane is the view's ``dims.point``: napari re-slices
        #: every layer on any change of ``dims.point``, the in-plane coordinates too.
        self.point: np.ndarray | None = None
        #: The crosshair through the linked point: two lines with a gap around it, as vectors
        #: (moved by new coordinates alone; a shapes layer triangulates its lines again).
        self.crosshair = Vectors(
            np.zeros((0, 2, 3)),
            ndim=3,
            name="crosshair",
            edge_color=CROSSHAIR_COLOR,
            edge_width=_CROSSHAIR_WIDTH_PX,
            length=1.0,
            vector_style="line",
            opacity=0.8,
        )
        self.crosshair.metadata["nvc_crosshair"] = True
        # while held (`crosshair_held`), the crosshair is drawn once at the end
        self._crosshair_redraw = HeldRedraw(self.update_crosshair)
        self.model.layers.append(self.crosshair)
        self.orientation = OrientationOverlay(self.model, grid)  # type: ignore[arg-type]
        # a small view: the slice position in the bottom-left corner, clear of the top letter
        slice_overlay = self.orientation.slice_overlay
        slice_overlay.position = "bottom_left"
        slice_overlay.font_size = _SMALL_SLICE_SIZE
        self.model.mouse_drag_callbacks.append(on_left_click(self.click))
        self.model.scene.camera.events.zoom.connect(self.update_crosshair)

    def apply_plane(self, event: Any = None) -> None:
        """Show the view's plane: its axis order and which way is up (as `CaseView.show_plane`)."""
        dims = self.model.dims
        if dims.ndim == 3 and tuple(dims.order) != self._order:
            dims.order = self._order
        if dims.axis_labels != AXIS_LABELS and dims.ndim == 3:
            dims.axis_labels = AXIS_LABELS
        self.camera.orientation2d = (self._vertical, "right")

    @property
    def camera(self) -> Any:
        """The view's camera (``model.scene.camera``)."""
        return self.model.scene.camera

    @property
    def across(self) -> int:
        """The world axis across the view's plane: its slice position is this coordinate."""
        return int(self._order[0])

    def show_point(self, point: Sequence[float], *, force: bool = False) -> bool:
        """Show the linked point: the crosshair through it, and the slice through it -- the
        view is re-sliced only when the point moves across its plane. Returns whether the
        view changed."""
        point = np.asarray(point, dtype=np.float64)
        if not force and self.point is not None and np.allclose(self.point, point, atol=1e-9):
            return False
        self.point = point.copy()
        dims = self.model.dims
        across = self.across
        if len(dims.point) == point.size and not np.isclose(
            dims.point[across], point[across], rtol=0.0, atol=1e-9
        ):
            dims.set_point(across, float(point[across]))
        self.update_crosshair()
        return True

    def centre(self, world: np.ndarray, field_mm: float | None) -> None:
        """Centre the view on a world point, zoomed to show ``field_mm`` (None: zoom kept);
        the crosshair is drawn again only when the zoom changed (its width and gap)."""
        from ._viewer import zoom_to_field

        self.camera.center = tuple(float(world[a]) for a in self.model.dims.displayed)
        if field_mm is not None:
            zoom_to_field(self.model, field_mm)

    def crosshair_held(self) -> AbstractContextManager[None]:
        """Draw the crosshair once, at the end, however many changes the block makes (a
        move of the point with a zoom: each would draw it)."""
        return self._crosshair_redraw.held()

    def click(self, position_world: Sequence[float]) -> None:
        """Move the linked point to a world position on this view (along its plane only)."""
        self._on_click(np.asarray(position_world, dtype=np.float64), self.model.dims.displayed)

    def layers_extent(self) -> np.ndarray | None:
        """World extent ``(2, 3)`` of the mirrored layers (not the crosshair), or None."""
        layers = [layer for layer in self.model.layers if layer is not self.crosshair]
        if not layers:
            return None
        extent = np.asarray(self.model.layers.get_extent(layers).world, dtype=np.float64)
        return extent if np.all(np.isfinite(extent)) else None

    @property
    def crosshair_lines(self) -> np.ndarray:
        """The crosshair's segments, ``(N, 2, 3)`` world (S, P, L) start and end points."""
        data = np.asarray(self.crosshair.data, dtype=np.float64).reshape(-1, 2, 3)
        return np.stack([data[:, 0], data[:, 0] + data[:, 1]], axis=1)

    def update_crosshair(self, event: Any = None) -> None:
        """Draw the crosshair through the current point, its width and gap in screen pixels."""
        if not self._crosshair_redraw.due():
            return
        extent = self.layers_extent()
        point = np.asarray(
            self.model.dims.point if self.point is None else self.point, dtype=np.float64
        )
        layer = self.crosshair
        if extent is None or point.size != 3:
            if len(layer.data):
                layer.data = np.zeros((0, 2, 3))
            return
        zoom = max(float(self.camera.zoom), 1e-6)
        gap = _CROSSHAIR_GAP_PX / zoom
        rows, cols = (int(a) for a in self.model.dims.displayed)
        vectors = []
        for axis in (cols, rows):
            lo, hi = extent[0, axis], extent[1, axis]
            for a, b in ((lo, point[axis] - gap), (point[axis] + gap, hi)):
                if b - a <= 0:
                    continue
                start, along = point.copy(), np.zeros(3)
                start[axis], along[axis] = a, b - a
                vectors.append(np.stack([start, along]))
        width = _CROSSHAIR_WIDTH_PX / zoom
        if not np.isclose(layer.edge_width, width):
            layer.edge_width = width
        self._set_crosshair(np.asarray(vectors, dtype=np.float64).reshape(-1, 2, 3))

    def _set_crosshair(self, data: np.ndarray) -> None:
        """New lines for the crosshair: its layer is refreshed and its canvas node redrawn; the
        view's dims hear of it only when the extent of its layers changed. (napari computes a
        view's dims again from all its layers on every data event, the larger part of a move of
        the crosshair; the lines lie within the other layers' extent.)"""
        layer = self.crosshair
        with layer.events.data.blocker():
            layer.data = data
        extent = self.model.layers.get_extent(list(self.model.layers))
        ranges = np.stack([extent.world[0], extent.world[1], extent.step], axis=1)
        shown = np.asarray([tuple(r) for r in self.model.dims.range], dtype=np.float64)
        if ranges.shape != shown.shape or not np.allclose(ranges, shown, equal_nan=True):
            layer.events.data(value=layer.data)

    def close(self) -> None:
        """Close the canvas (frees its OpenGL resources) and let it go."""
        self.qt_viewer.close()
        self.qt_viewer.setParent(None)  # owned by Python from here: freed with the last reference


class FourUp(DockedPanel):
    """The three small views of a viewer, docked under its main canvas (see the module).

    Parameters
    ----------
    viewer : napari.Viewer
        The main viewer; its layers are mirrored, its ``dims.point`` is the linked point.
    """

    TITLE = "Four-up"
    AREA = "bottom"
    KEY = FOUR_UP_KEY

    def __init__(self, viewer: napari.Viewer) -> None:
        super().__init__(viewer)
        qt_window = viewer.window._qt_window  # type: ignore[attr-defined]
        self.case_view = case_view_for(viewer)
        self.views: dict[str, PlaneView] = {}
        self._mirrors: dict[int, list[Any]] = {}  # id(main layer) -> its mirrors
        self._sources: dict[int, Any] = {}  # id(main layer) -> main layer
        self._syncing = False
        # A move of the linked point reaches the small views one per turn of the event loop
        # (`_sync_next`): each canvas draws before the next view is re-sliced, so the window
        # never waits for all four canvases at once.
        self._to_sync: list[PlaneView] = []
        self._to_centre: dict[str, tuple[np.ndarray, float | None]] = {}
        # New data of the main layers reaches the small views the same way (a label map swapped
        # in would otherwise have the four canvases upload and draw it in one turn; a points
        # layer's several changes are taken at once): plane -> the main layers (by id) whose
        # new data its mirrors are still to take.
        self._new_data: dict[str, set[int]] = {}
        # The next view follows once a canvas has drawn the last change (`_await_frame`): a
        # timer alone let two views, or a view and the main canvas, wait for one frame.
        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.timeout.connect(self._sync_next)
        self._awaiting_frame = False
        self.frame_wait_ms = _FRAME_WAIT_MS
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.case_view.on_centre(self._centre_views)
        close_with_window(qt_window, self, "close_views")

    def _build_views(self) -> None:
        """The three canvases, made the first time four-up is shown."""
        if self.views:
            return
        grid: Callable[[], Any] = lambda: (  # noqa: E731
            self.case_view.session.grid if self.case_view.is_shown else None
        )
        for plane in FOUR_UP_PLANES:
            view = PlaneView(plane, grid, self.move_point_along)
            view.qt_viewer.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
            view.qt_viewer.setMinimumSize(160, 160)
            self.layout().addWidget(view.qt_viewer)
            view.model.dims.events.point.connect(partial(self._on_view_point, view))
            view.model.events.status.connect(self._on_status)
            _draw_event(view.qt_viewer).connect(self._on_canvas_drawn)
            self.views[plane] = view

    # -- showing and hiding -----------------------------------------------------------------
    def _on_show(self) -> None:
        """The three small views under the main canvas; hidden, they hold no layers and follow
        nothing: one canvas, as before."""
        self._build_views()
        self._attach()
        qt_window: Any = self.viewer.window._qt_window  # type: ignore[attr-defined]
        if self.dock is None:
            # the row under the canvas only: the side panels keep the window's full height
            qt_window.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
            qt_window.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self._dock_shown(max(int(qt_window.height() * _ROW_FRACTION), 200))
        for view in self.views.values():
            view.model.reset_view()
            view.update_crosshair()

    def _on_hide(self) -> None:
        self._detach()

    # -- mirroring the main viewer's layers -------------------------------------------------
    def _attach(self) -> None:
        layers = self.viewer.layers
        for layer in layers:
            self._add_mirror(layer)
        layers.events.inserted.connect(self._on_inserted)
        layers.events.removed.connect(self._on_removed)
        layers.events.moved.connect(self._on_moved)
        layers.events.begin_batch.connect(self._begin_batch)
        layers.events.end_batch.connect(self._end_batch)
        self.viewer.dims.events.point.connect(self._on_main_point)
        self.viewer.mouse_drag_callbacks.append(self._main_drag)
        _draw_event(self.viewer.window._qt_viewer).connect(self._on_canvas_drawn)  # type: ignore[attr-defined]
        self._on_main_point()

    def _detach(self) -> None:
        self._sync_timer.stop()
        self._awaiting_frame = False
        _draw_event(self.viewer.window._qt_viewer).disconnect(self._on_canvas_drawn)  # type: ignore[attr-defined]
        self._to_sync.clear()
        self._to_centre.clear()
        self._new_data.clear()
        layers = self.viewer.layers
        layers.events.inserted.disconnect(self._on_inserted)
        layers.events.removed.disconnect(self._on_removed)
        layers.events.moved.disconnect(self._on_moved)
        layers.events.begin_batch.disconnect(self._begin_batch)
        layers.events.end_batch.disconnect(self._end_batch)
        self.viewer.dims.events.point.disconnect(self._on_main_point)
        if self._main_drag in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._main_drag)
        for key in list(self._mirrors):
            self._drop_mirror(key)

    def mirrors(self, layer: Any) -> list[Any]:
        """The small views' copies of a main layer (empty when it is not mirrored)."""
        return list(self._mirrors.get(id(layer), []))

    def _mirrored_before(self, layer: Any) -> int:
        """How many mirrored layers come before ``layer`` in the main list."""
        n = 0
        for other in self.viewer.layers:
            if other is layer:
                break
            n += id(other) in self._mirrors
        return n

    def _add_mirror(self, layer: Any) -> None:
        kind = _kind(layer)
        if kind not in _MIRRORED or id(layer) in self._mirrors:
            return
        index = self._mirrored_before(layer)
        copies = []
        for view in self.views.values():
            copy = _mirror_layer(layer)
            copy.visible = self._shown_in_2d(layer)
            view.model.layers.insert(min(index, len(view.model.layers) - 1), copy)
            copies.append(copy)
        self._mirrors[id(layer)] = copies
        self._sources[id(layer)] = layer
        for name in (*_SYNCED[kind], *_COMMON):
            getattr(layer.events, name).connect(self._on_property)
        layer.events.data.connect(self._on_data)
        if kind == "labels":
            layer.events.labels_update.connect(self._on_paint)
            layer.events.paint.connect(self._on_paint)
        if kind == "points":
            for name in ("border_color", "face_color", "size", "symbol", "border_width"):
                getattr(layer.events, name).connect(self._on_data)
        for view in self.views.values():
            view.update_crosshair()

    def _drop_mirror(self, key: int) -> None:
        layer = self._sources.pop(key, None)
        copies = self._mirrors.pop(key, [])
        if layer is not None:
            for emitter in layer.events.emitters.values():
                for method in (self._on_property, self._on_data, self._on_paint):
                    emitter.disconnect(method)
        for view, copy in zip(self.views.values(), copies, strict=False):
            if copy in view.model.layers:
                view.model.layers.remove(copy)

    def _on_inserted(self, event: Any) -> None:
        self._add_mirror(event.value)
        self._reorder()

    def _on_removed(self, event: Any) -> None:
        self._drop_mirror(id(event.value))

    def _begin_batch(self, event: Any = None) -> None:
        # the main list changes many layers at once (closing the viewer clears it): the small
        # views' canvases rebuild their scene once at the end, not once a mirror
        for view in self.views.values():
            view.model.layers.events.begin_batch()

    def _end_batch(self, event: Any = None) -> None:
        for view in self.views.values():
            view.model.layers.events.end_batch()

    def _on_moved(self, event: Any = None) -> None:
        self._reorder()

    def _reorder(self) -> None:
        """The mirrors in the main list's order, the crosshair on top."""
        ordered = [
            self._mirrors[id(layer)] for layer in self.viewer.layers if id(layer) in self._mirrors
        ]
        for n, view in enumerate(self.views.values()):
            wanted = [copies[n] for copies in ordered] + [view.crosshair]
            for target, layer in enumerate(wanted):
                current = view.model.layers.index(layer)
                if current != target:
                    view.model.layers.move(current, target)

    def _shown_in_2d(self, layer: Any) -> bool:
        """Whether a main layer is shown in 2-D: the image and label volumes the main view
        hides while it is in 3-D (`CaseView._on_ndisplay`) stay shown in the small views."""
        return bool(layer.visible) or any(layer is o for o in self.case_view.hidden_for_3d)

    def _on_property(self, event: Any) -> None:
        source = event.source
        name = event.type
        for copy in self._mirrors.get(id(source), []):
            value = self._shown_in_2d(source) if name == "visible" else getattr(source, name)
            if name == "contrast_limits":
                copy.contrast_limits_range = source.contrast_limits_range
            setattr(copy, name, value)
        if name in ("scale", "translate"):
            for view in self.views.values():
                view.update_crosshair()

    def _on_data(self, event: Any) -> None:
        """New data (or, for points, a new style) in a main layer: it reaches the small views
        one per turn of the event loop (`_sync_next`); a points layer changed in several steps
        (data, colours, sizes) is taken once, when the steps are done."""
        source = event.source
        if id(source) not in self._mirrors:
            return
        for plane in self.views:
            self._new_data.setdefault(plane, set()).add(id(source))
        self._to_sync = list(self.views.values())
        self._await_frame()

    def _take_new_data(self, view: PlaneView) -> bool:
        """Give a small view's mirrors the new data of their main layers; whether there was
        any."""
        keys = self._new_data.pop(view.plane, set())
        index = list(self.views).index(view.plane)
        taken = False
        for key in keys:
            source, copies = self._sources.get(key), self._mirrors.get(key, [])
            if source is None or index >= len(copies):
                continue
            copy = copies[index]
            if _kind(source) == "points":
                _copy_points(source, copy)
                taken = True
                continue
            copy.data = source.data
            if _kind(source) == "image":
                copy.contrast_limits_range = source.contrast_limits_range
                copy.contrast_limits = source.contrast_limits
            taken = True
        if taken:
            view.update_crosshair()  # the layers' extent may have changed
        return taken

    def _on_paint(self, event: Any) -> None:
        for copy in self._mirrors.get(id(event.source), []):
            copy.refresh()

    # -- the linked point -------------------------------------------------------------------
    def move_point(self, point_world: Sequence[float]) -> None:
        """Move the linked point (the main viewer's, then every small view's) to a world
        (S, P, L) position."""
        dims = self.viewer.dims
        point = on_grid(dims, point_world)
        if dims.ndisplay == 2 and np.allclose(
            [point[a] for a in dims.not_displayed],
            [dims.point[a] for a in dims.not_displayed],
            rtol=0.0,
            atol=1e-9,
        ):
            # along the main 2-D view's plane: its slice stays, and napari would slice every
            # layer again for nothing (its in-plane point is no part of a 2-D slice)
            update = self.viewer._update_layers
            with dims.events.point.blocker(update), dims.events.current_step.blocker(update):
                dims.point = point
        else:
            dims.point = point

    def move_point_along(self, position_world: Sequence[float], axes: Sequence[int]) -> None:
        """Move the linked point to a world position along some axes only (a click on a
        view: its displayed axes), the other coordinates kept."""
        point = np.asarray(self.viewer.dims.point, dtype=np.float64)
        for axis in axes:
            point[axis] = position_world[axis]
        self.move_point(point)

    def _on_main_point(self, event: Any = None) -> None:
        # a move may be reported more than once (set off napari's slice grid, it is reported
        # again on the grid): the views follow the last, one per turn of the event loop
        self._to_sync = list(self.views.values())
        if event is None:  # the views are shown: all of them, now
            self.flush(force=True)
        else:
            self._await_frame()

    def _sync_one(self, *, force: bool = False) -> None:
        """Bring the next small view that changes up to date: its layers' new data, the linked
        point, its pending centring; the views it passes over were there already."""
        point = np.asarray(self.viewer.dims.point, dtype=np.float64)
        while self._to_sync:
            view = self._to_sync.pop(0)
            self._syncing = True
            target = self._to_centre.pop(view.plane, None)
            try:
                with view.crosshair_held():  # drawn once: new point, new zoom
                    new_data = self._take_new_data(view)
                    changed = view.show_point(point, force=force)
                    if target is not None:
                        view.centre(*target)
            finally:
                self._syncing = False
            if new_data or changed or target is not None:
                return

    def _sync_next(self) -> None:
        """One small view this turn, the next after this view's canvas has drawn."""
        self._awaiting_frame = False
        self._sync_one()
        if self._to_sync:
            self._await_frame()

    def _await_frame(self) -> None:
        """Bring the next small view up to date after the next frame: one turn after a canvas
        draws (`_on_canvas_drawn`), or after ``frame_wait_ms`` if none draws. A frame then
        holds at most the main canvas and one small view, however late the event loop runs."""
        self._awaiting_frame = True
        self._sync_timer.start(self.frame_wait_ms)

    def _on_canvas_drawn(self, event: Any = None) -> None:
        if self._awaiting_frame and self._to_sync:
            self._awaiting_frame = False
            self._sync_timer.start(_SYNC_INTERVAL_MS)

    @property
    def following(self) -> bool:
        """Whether small views are still to follow the last move of the linked point (or the
        last new data of the main layers)."""
        return bool(self._to_sync)

    def flush(self, *, force: bool = False) -> None:
        """Bring every small view to the linked point and its layers' data now (what the event
        loop does next); ``force``: redraw each view's crosshair even where the point has not
        moved."""
        self._sync_timer.stop()
        self._awaiting_frame = False
        while self._to_sync:
            self._sync_one(force=force)

    def _on_view_point(self, view: PlaneView, event: Any) -> None:
        """A small view's own slider or scroll moved its slice: the point follows."""
        if self._syncing or not self._enabled:
            return
        point = np.asarray(self.viewer.dims.point, dtype=np.float64)
        value = np.asarray(event.value, dtype=np.float64)
        if value.size == point.size:
            point[view.across] = value[view.across]
            self.move_point(point)

    def _main_drag(self, viewer: Any, event: Any) -> Any:
        """A click on the main 2-D view (with napari's pan/zoom tool) moves the point too."""
        if event.type != "mouse_press" or viewer.dims.ndisplay != 2:
            return
        active = viewer.layers.selection.active
        if active is not None and getattr(active, "mode", "pan_zoom") != "pan_zoom":
            return
        position = np.asarray(event.position, dtype=np.float64)
        if (yield from _clicked(event)):
            self.move_point_along(position, viewer.dims.displayed)

    def _centre_views(self, world: np.ndarray, field_mm: float | None) -> None:
        """Centre every small view on a point (a selected finding), zoomed to ``field_mm``:
        each with its move to the linked point, one view per turn (`_sync_next`)."""
        if not self._enabled:
            return
        for plane in self.views:
            self._to_centre[plane] = (np.asarray(world, dtype=np.float64), field_mm)
        self._to_sync = list(self.views.values())
        self._await_frame()

    def _on_status(self, event: Any) -> None:
        self.viewer.status = event.value

    def close_views(self) -> None:
        """Close the small views' canvases (the main window is closing)."""
        if self._enabled:
            self._enabled = False
            self._detach()
        for view in self.views.values():
            view.close()
        self.views.clear()


def four_up_for(viewer: napari.Viewer) -> FourUp:
    """The `FourUp` of ``viewer``, made on first use (hidden until `FourUp.set_enabled`)."""
    return one_per_viewer(_FOUR_UPS, viewer, FourUp)[0]
