"""The open case drawn in one napari viewer: image layers, surfaces, landmarks, findings.

One `CaseView` per viewer (`case_view_for`) holds the `CaseSession` and the layers made from it;
the panels share it. Everything drawn comes from the session: the findings and landmarks are
kept in patient RAS mm (`nvc_viewer.findings.CaseFindings`) and converted to the T2 layer's data
coordinates with the exact display grid (``grid.ras_to_display`` then
``grid.display_to_index``); every layer takes the T2 image layer's ``scale`` and ``translate``
(built once, in `._layers`). A click goes the other way, through ``grid.display_to_ras``.

Where the surgeon is looking -- the slice position (patient RAS mm), the zoom, 2-D or 3-D and
the selected finding -- is handed to the session on every change (`CaseSession.set_view`, which
saves it with the case) and put back when the case is opened again (`CaseView.restore_view`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from nvc_viewer.findings import Finding
from nvc_viewer.geometry import apply_affine
from nvc_viewer.labels import ARTERY, BRAINSTEM, CN5, CN7, CN8, LABELS, NERVE_LABELS, VEIN
from nvc_viewer.orientation import UP_3D_SPL, VIEW_3D_SPL, format_ras
from nvc_viewer.volume import Volume
from nvc_viewer.workspace import Workspace

from ._gl_programs import keep_mesh_programs
from ._layers import LayerDataTuple, iter_case_layers
from ._markers import Marker, MarkerTags
from ._orientation_overlay import OrientationOverlay
from ._session import CaseSession, default_workspace
from ._surfaces import SurfaceMesh
from ._viewer import on_grid, one_per_viewer
from ._vispy_redraws import keep_still_transforms

if TYPE_CHECKING:
    import napari

__all__ = ["CaseView", "case_view_for", "ORIGIN_COLORS", "PLANES", "SURFACE_GROUPS"]

#: Colour of a finding's point and table row by its review state.
ORIGIN_COLORS: dict[str, str] = {
    "auto": "#ffd000",  # proposed, not yet reviewed
    "auto-confirmed": "#30d060",
    "manual": "#30b0ff",
    "auto-rejected": "#808080",
}
#: A landmark is drawn in its nerve's label colour.
_LANDMARK_COLORS = {nerve: LABELS[value].hex for nerve, value in NERVE_LABELS.items()}
# Marker diameters in mm (converted to data units of the T2 layer). A finding is a thin ring
# (the contact shows through it), the selected one a wider ring around it.
_FINDING_SIZE_MM = 3.0
_SELECTED_SIZE_MM = 5.0
_LANDMARK_SIZE_MM = 1.6
# Labels the 3-D click picks first: nerves and vessels, then the brainstem.
_PICK_FIRST = (CN7, CN8, CN5, ARTERY, VEIN)
#: Display-axis order and screen-vertical direction of each 2-D plane (world axes S, P, L).
PLANES: dict[str, tuple[tuple[int, int, int], str] | None] = {
    "axial": ((0, 1, 2), "down"),  # rows P downward: anterior up; columns L: left on the right
    "coronal": ((1, 0, 2), "up"),  # rows S upward; columns L
    "sagittal": ((2, 0, 1), "up"),  # rows S upward; columns P: anterior on the left
    "3-D": None,
}
#: Field of view (mm) a selected finding is shown in: the contact with its nerve and vessel.
FINDING_FIELD_MM = 40.0
#: The two surface layers (see `CaseView.show_surfaces`).
SURFACE_GROUPS = ("brainstem", "nerves and vessels")
_SURFACE_NAMES = {"brainstem": "brainstem (3-D)", "nerves and vessels": "nerves and vessels (3-D)"}
_POINT_STYLES: dict[str, dict[str, Any]] = {
    "landmarks": {
        "name": "landmarks (RExP, RDP, TZ)",
        "features": ("name", "label"),
        "border_color": "black",
        "border_width": 0.05,
        "symbol": "diamond",
        "size_mm": _LANDMARK_SIZE_MM,
    },
    "findings": {
        "name": "findings",
        "features": ("number", "id", "origin", "label"),
        "border_color": "white",
        "border_width": 0.07,
        "symbol": "disc",
        "size_mm": _FINDING_SIZE_MM,
    },
}
# Delays after opening a case: background imports, then the empty label, point and surface
# layers of a new case (see `CaseView.open_case`).
_WARM_UP_DELAY_MS = 200
_EMPTY_LAYERS_DELAY_MS = 700
# The label map over the T2: structures visible, the image still readable.
_LABELS_OPACITY = 0.4
# Milliseconds after the last brush stroke before the corrected label map is saved.
_LABELS_SAVE_DELAY_MS = 1500

_VIEWS: weakref.WeakValueDictionary[int, CaseView] = weakref.WeakValueDictionary()


def text_overlay(viewer: napari.Viewer) -> Any:
    """The viewer's canvas text overlay (``viewer.canvas.overlays.text`` from napari 0.9 on)."""
    canvas = getattr(viewer, "canvas", None)
    overlays = getattr(canvas, "overlays", None)
    if overlays is not None and hasattr(overlays, "text"):
        return overlays.text
    return viewer.text_overlay


def case_view_for(
    viewer: napari.Viewer, *, workspace: str | os.PathLike[str] | None = None
) -> CaseView:
    """The `CaseView` of ``viewer``, made on first use (one per viewer, shared by the panels).

    Parameters
    ----------
    viewer : napari.Viewer
    workspace : path-like, optional
        Where findings are autosaved; default `._session.default_workspace`. Changes the
        workspace of an existing view only while no case is open in it.
    """
    view, made = one_per_viewer(
        _VIEWS, viewer, lambda v: CaseView(v, CaseSession(workspace or default_workspace()))
    )
    if not made and workspace is not None and not view.session.is_open:
        view.session.workspace = Workspace(workspace)
    return view


def _import_pandas() -> None:
    """napari imports pandas when it makes the first Labels or Points layer (about 0.8 s on
    the GUI thread): import it beforehand, in the background."""
    try:
        import pandas  # noqa: F401
    except ImportError:  # napari then does without
        pass


def _update_layer(layer: Any, data: Any, kwargs: dict[str, Any]) -> None:
    """Give an existing layer new data and the attributes `._layers` chose for it.

    Attributes that do not change are not set: each setter makes napari recompute and redraw
    (a tenth of a second on the GUI thread for a label map), even for an equal value. Whether
    the layer is shown is the view's to say (`CaseView._show_volume`).
    """
    layer.data = data
    if not np.array_equal(np.asarray(layer.scale), np.asarray(kwargs["scale"])):
        layer.scale = kwargs["scale"]
    if not np.array_equal(np.asarray(layer.translate), np.asarray(kwargs["translate"])):
        layer.translate = kwargs["translate"]
    if layer.name != kwargs["name"]:
        layer.name = kwargs["name"]
    layer.metadata = kwargs["metadata"]
    if "contrast_limits" in kwargs:  # an image
        layer.reset_contrast_limits_range()
        layer.contrast_limits = kwargs["contrast_limits"]
        layer.colormap = kwargs["colormap"]
        layer.blending = kwargs["blending"]


class CaseView:
    """Draws a `CaseSession` in a napari viewer and turns clicks into findings.

    Parameters
    ----------
    viewer : napari.Viewer
    session : CaseSession
    """

    def __init__(self, viewer: napari.Viewer, session: CaseSession) -> None:
        keep_mesh_programs()  # the tags, text boxes and crosshairs: no shader built per move
        keep_still_transforms()  # the canvas overlays: no second frame after a text change
        self.viewer = viewer
        self.session = session
        self.reference: Any = None  # the T2 Image layer
        self.labels_layer: Any = None
        self.findings_layer: Any = None
        self.landmarks_layer: Any = None
        self.surface_layers: list[Any] = []
        self.selected_id: str | None = None
        self._placing: Callable[[Finding | None, str], None] | None = None
        self._picking: Callable[[np.ndarray | None, str], None] | None = None
        self._selection_listeners: list[Callable[[str | None], None]] = []
        self._centre_listeners: list[Callable[[np.ndarray, float | None], None]] = []
        self._labels_timer: Any = None
        self._labels_painted = False
        self._label_savers: list[Any] = []
        self._workers: list[Any] = []
        self._drawn_landmarks: tuple = ()
        # what the findings layer shows (ids, origins, positions, labels), on which layer and
        # image grid: a new selection changes only the sizes
        self._drawn_findings: tuple = ()
        self._drawn_findings_on: tuple = ()
        #: The numbered tags of the findings and the landmarks' names (`._markers`).
        self.tags = MarkerTags(self)
        #: The structures' meshes by label value, and those hidden in 3-D.
        self.meshes: dict[int, SurfaceMesh] = {}
        self.hidden_structures: set[int] = set()
        self._stale_surfaces: set[str] = set()  # groups to draw when the view turns 3-D
        self._hidden_in_3d: list[Any] = []
        session.subscribe(self._on_session)
        viewer.dims.events.ndisplay.connect(self._on_ndisplay)
        # the cursor's RAS readout: from the first mouse move over the canvas on, and kept up to
        # date when the slice changes under a still mouse
        self._cursor_seen = False
        self._cursor_text = ""  # what the read-out last wrote on the canvas
        viewer.mouse_move_callbacks.append(self._on_mouse_move)
        viewer.dims.events.current_step.connect(self._refresh_cursor)
        viewer.events.mouse_over_canvas.connect(self._refresh_cursor)  # leaving clears it
        viewer.layers.events.inserted.connect(self._status_in_ras)  # napari's status bar too
        #: Patient letters on the 2-D views' edges, the slice position, the 3-D patient axes.
        self.orientation = OrientationOverlay(
            viewer, lambda: self.session.grid if self.is_shown else None
        )
        self._in_3d = viewer.dims.ndisplay == 3
        self._view_3d: tuple[Any, tuple, tuple] | None = None  # (T2 layer, view, up) left in 3-D
        # where the surgeon looks goes to the session, which saves it with the case
        self._restoring_view = False
        camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9
        viewer.dims.events.point.connect(self._record_view)
        viewer.dims.events.ndisplay.connect(self._record_view)
        camera.events.zoom.connect(self._record_view)
        # the surfaces lit from behind the camera, whichever way it turns
        from ._camera import install_head_light

        surfaces_ref = weakref.ref(self)
        install_head_light(
            viewer, lambda: [] if (view := surfaces_ref()) is None else list(view.surface_layers)
        )

    # -- case -----------------------------------------------------------------------------
    def open_case(
        self,
        t2: Volume,
        tof: Volume | None = None,
        *,
        case_id: str | None = None,
        input_path: str | os.PathLike[str] | None = None,
        extra_layers: Sequence[LayerDataTuple] = (),
    ) -> None:
        """Open a case in the session (restoring saved work) and draw it.

        ``extra_layers`` (further inputs, already on the T2 grid) are drawn after the case's
        own layers. The layers of a case shown before are reused (napari takes a quarter of a
        second to remove a layer), so switching or reopening a case is quick.
        """
        self.flush_labels()
        self._restoring_view = True  # drawing the case moves the view: not the surgeon's doing
        try:
            self.session.open(t2, tof, case_id=case_id, input_path=input_path)
        except BaseException:
            self._restoring_view = False
            raise
        from ._viewer import show_axial_centre

        # A label layer for every case, empty for a new one: the surgeon can paint before any
        # analysis, and the analysis' map later only replaces its data (making a Labels layer
        # freezes the viewer for up to a second, most of it napari importing pandas; a Points
        # layer with text, a good fraction of one). For a new case they are made a moment after
        # the first frame, pandas having been imported meanwhile in a background thread, so the
        # window shows up sooner and the analysis result goes in without a freeze.
        labels = self.session.labels
        with_labels = labels is not None or self._has_labels_layer
        if labels is None:
            labels = t2.with_data(np.zeros(t2.shape, np.uint8), role="label", description="")
        slots = ["t2"] + (["tof"] if tof is not None else []) + (["labels"] if with_labels else [])
        slots += [f"extra-{n}" for n in range(len(extra_layers))]
        # one layer at a time: the T2 is drawn before the TOF is resampled into its grid
        tuples = chain(iter_case_layers(t2, tof, labels if with_labels else None), extra_layers)
        drawn = self._draw_slots(zip(slots, tuples, strict=True))
        self.reference = drawn["t2"]
        if with_labels:
            self._adopt_labels_layer(drawn["labels"])
        else:
            self.labels_layer = None
            self._later(_EMPTY_LAYERS_DELAY_MS, self.ensure_labels_layer)
        # Background work that would slow the first frame (the GIL is shared): imports and the
        # findings validator, a moment after it.
        self._later(_WARM_UP_DELAY_MS, self._warm_up)
        # The point and surface layers too, one per turn of the event loop, before they are
        # needed; then the tags' layer, drawn once empty (`MarkerTags.prepare`).
        later: list[Callable[[], Any]] = [
            lambda: self.ensure_point_layer("landmarks"),
            lambda: self.ensure_point_layer("findings"),
        ] + [lambda g=group: self._ensure_surface_layer(g) for group in SURFACE_GROUPS]
        later.append(self.tags.prepare)
        for n, action in enumerate(later, start=1):
            self._later(_EMPTY_LAYERS_DELAY_MS + n * 200, action)
        self.selected_id = None
        self.redraw_landmarks()
        self.redraw_findings()
        if self.session.labels is not None:
            self._surfaces_in_background()  # then replaces the surfaces shown
        else:
            self.show_surfaces([])
        try:
            show_axial_centre(self.viewer)
        finally:
            self._restoring_view = False
        self.restore_view()

    # -- the view saved with the case -----------------------------------------------------
    def restore_view(self) -> bool:
        """Put back the view saved with the open case (`CaseSession.view_state`): the slice
        position, 2-D or 3-D, the zoom and the selected finding. False when none was saved."""
        state = self.session.view_state
        if not state or self.reference is None or self.session.grid is None:
            return False
        camera = getattr(self.viewer, "scene", self.viewer).camera
        self._restoring_view = True
        try:
            if state.get("ndisplay") == 3:
                self.show_plane("3-D")
                angles = state.get("angles")
                if isinstance(angles, list) and len(angles) == 3:
                    camera.angles = tuple(float(a) for a in angles)
            point = state.get("point_ras")
            if isinstance(point, list) and len(point) == 3:
                self.centre_on(point)
            selected = state.get("selected")
            case = self.session.findings
            if case is not None and selected in {f.id for f in case.findings}:
                self.select(selected, centre=False)
            zoom = state.get("zoom")
            if isinstance(zoom, int | float) and zoom > 0:
                camera.zoom = float(zoom)
        finally:
            self._restoring_view = False
        return True

    def _record_view(self, event: Any = None) -> None:
        """Hand the current view to the session (saved with the case a moment later)."""
        grid = self.session.grid
        if self._restoring_view or grid is None or not self.session.is_open or not self.is_shown:
            return
        camera = getattr(self.viewer, "scene", self.viewer).camera
        point = np.asarray(self.viewer.dims.point, dtype=np.float64)
        if point.size != 3:
            return
        self.session.set_view(
            point_ras=[round(float(v), 3) for v in grid.display_to_ras(point)],
            zoom=float(camera.zoom),
            ndisplay=int(self.viewer.dims.ndisplay),
            angles=[float(a) for a in camera.angles],
            selected=self.selected_id,
        )

    def _draw_slots(self, slots: Iterable[tuple[str, LayerDataTuple]]) -> dict[str, Any]:
        """Show layer data in named slots, updating the slot's layer when there is one (in
        order: a slot's data may be made only when the slot before it is drawn)."""
        existing = {
            layer.metadata.get("nvc_slot"): layer
            for layer in self.viewer.layers
            if layer.metadata.get("nvc_slot") is not None
        }
        drawn: dict[str, Any] = {}
        for slot, (data, kwargs, kind) in slots:
            kwargs = {**kwargs, "metadata": {**kwargs["metadata"], "nvc_slot": slot}}
            layer = existing.pop(slot, None)
            if layer is not None and type(layer).__name__.lower() != kind:
                self.viewer.layers.remove(layer)
                layer = None
            if layer is None:
                # hidden from the start when the 3-D view hides the volumes: not uploaded
                kwargs = {**kwargs, "visible": not self._volumes_hidden}
                layer = getattr(self.viewer, f"add_{kind}")(data, **kwargs)
            else:
                _update_layer(layer, data, kwargs)
            self._show_volume(layer)
            drawn[slot] = layer
        for layer in existing.values():
            self.viewer.layers.remove(layer)
        from ._layers import AXIS_LABELS

        self.viewer.dims.axis_labels = AXIS_LABELS
        return drawn

    def _surfaces_in_background(self) -> None:
        """Mesh the restored label map off the GUI thread, then show the surfaces."""
        from napari.qt.threading import create_worker

        from ._surfaces import label_surfaces

        if self.labels_layer is None or self.session.grid is None:
            return
        reference = self.reference
        worker = create_worker(
            label_surfaces,
            np.asarray(self.labels_layer.data),
            self.session.grid.scale,
            _start_thread=False,
            _connect={
                "returned": lambda meshes: self._if_shown(reference, self.show_surfaces, meshes),
                "errored": lambda exc: None,  # surfaces are a convenience: the 2-D view stays
                "finished": lambda: self._workers.remove(worker),
            },
        )
        self._workers.append(worker)
        worker.start()

    @property
    def transform(self) -> dict[str, tuple[float, ...]]:
        """``scale`` and ``translate`` of the T2 layer: every other layer of the case takes them."""
        if self.reference is None:
            raise RuntimeError("no case is shown")
        return {
            "scale": tuple(float(s) for s in self.reference.scale),
            "translate": tuple(float(t) for t in self.reference.translate),
        }

    def _on_mouse_move(self, viewer: Any, event: Any) -> None:
        self._cursor_seen = True
        self._show_cursor(
            event.position,
            view_direction=getattr(event, "view_direction", None),
            dims_displayed=getattr(event, "dims_displayed", None),
        )

    def _refresh_cursor(self, event: Any = None) -> None:
        """The slice changed under a still mouse (update), or the mouse left the canvas (clear:
        a position the mouse is no longer at is not shown)."""
        if getattr(event, "type", None) == "mouse_over_canvas" and not event.value:
            self._cursor_seen = False
            self._show_cursor(None)
            if self.is_shown:
                self.viewer.status = "Ready"  # napari keeps the last position otherwise
            return
        if self._cursor_seen:
            cursor = self.viewer.cursor
            self._show_cursor(
                cursor.position, view_direction=getattr(cursor, "_view_direction", None)
            )

    def cursor_ras(
        self,
        position_world: Sequence[float] | None,
        *,
        view_direction: Sequence[float] | None = None,
        dims_displayed: Sequence[int] | None = None,
    ) -> np.ndarray | None:
        """Patient RAS mm of the point under the cursor, or None when there is none.

        2-D: the cursor's point on the slice. 3-D: the first nerve, vessel (else brainstem)
        voxel along the viewing ray (`pick_ras`); None without a ray or when it meets nothing.
        """
        grid = self.session.grid
        if grid is None or position_world is None or not self.is_shown:
            return None
        position = np.asarray(position_world, dtype=np.float64)
        if position.size != 3:
            return None
        if self.viewer.dims.ndisplay == 2:
            # through the plane: the slice napari draws (the nearest voxel plane), as the
            # slice position says (`._orientation_overlay`)
            index = grid.display_to_index(position)
            for axis in self.viewer.dims.not_displayed:
                index[axis] = np.clip(np.rint(index[axis]), 0, grid.shape[axis] - 1)
            return apply_affine(grid.affine_ras, index)
        if view_direction is None:
            return None
        return self.pick_ras(position, view_direction=view_direction, dims_displayed=dims_displayed)

    def _show_cursor(
        self,
        position_world: Sequence[float] | None,
        *,
        view_direction: Sequence[float] | None = None,
        dims_displayed: Sequence[int] | None = None,
    ) -> None:
        """The patient RAS position under the cursor with its letters (``L 12.7  P 24.7  I 33.8
        mm``), in the canvas's bottom-left corner; napari's status bar shows the same
        (`_status_in_ras`).

        The surgeon compares positions with the scanner console, PACS and 3D Slicer, in patient
        millimetres. In 3-D the position is that of the structure under the cursor; nothing is
        shown when there is none (the cursor is a ray, not a point).
        """
        overlay = text_overlay(self.viewer)
        ras = self.cursor_ras(
            position_world, view_direction=view_direction, dims_displayed=dims_displayed
        )
        if ras is None:
            if self._cursor_text and overlay.text == self._cursor_text:
                overlay.text, overlay.visible = "", False
            self._cursor_text = ""
            return
        self._cursor_text = format_ras(ras)
        overlay.position = "bottom_left"
        overlay.text = self._cursor_text
        overlay.visible = True

    def _status_in_ras(self, event: Any) -> None:
        """napari's status bar gives the cursor's patient RAS position with letters (the same
        as the canvas corner), not napari's (S, P, L) display coordinates: each layer's
        ``get_status`` is wrapped when the layer is added to the viewer."""
        layer = event.value
        if getattr(layer, "_nvc_status_in_ras", False):
            return
        original = layer.get_status
        view_ref = weakref.ref(self)

        def get_status(position: Any = None, **kwargs: Any) -> dict[str, str]:
            if kwargs.get("view_direction") is None:
                # without a view ray (no mouse move over a 3-D canvas yet) napari reads the
                # value at the point anyway; a Labels layer with features would otherwise
                # pass ``np.asarray(None)`` on as a ray and fail
                kwargs = {**kwargs, "dims_displayed": None}
            status = original(position, **kwargs)
            view = view_ref()
            if view is None or position is None or not kwargs.get("world", False):
                return status
            try:
                ras = view.cursor_ras(
                    position,
                    view_direction=kwargs.get("view_direction"),
                    dims_displayed=kwargs.get("dims_displayed"),
                )
            except Exception:  # noqa: BLE001 - the status line never breaks the viewer
                return status
            if ras is None and not view.is_shown:
                return status
            coords = format_ras(ras) if ras is not None else ""
            value = status.get("value", "")
            return {
                **status,
                "coords": coords,
                "coordinates": f"{coords}: {value}" if coords and value else coords or value,
            }

        layer.get_status = get_status
        layer._nvc_status_in_ras = True

    def ras_to_data(self, position_ras: np.ndarray) -> np.ndarray:
        """Patient RAS mm -> data coordinates of the case's layers, ``(N, 3)`` or ``(3,)``."""
        grid = self.session.grid
        assert grid is not None
        return grid.display_to_index(grid.ras_to_display(position_ras))

    def ras_to_world(self, position_ras: np.ndarray) -> np.ndarray:
        """Patient RAS mm -> napari world (S, P, L) mm."""
        assert self.session.grid is not None
        return self.session.grid.ras_to_display(position_ras)

    # -- analysis results -----------------------------------------------------------------
    def show_labels(self, layer_data: LayerDataTuple) -> None:
        """Show a label map (``volume_to_layer_data(..., kind="labels")``), replacing the old."""
        data, kwargs, _ = layer_data
        kwargs = {**kwargs, "metadata": {**kwargs["metadata"], "nvc_slot": "labels"}}
        if self.labels_layer is not None and self.labels_layer in self.viewer.layers:
            _update_layer(self.labels_layer, data, kwargs)
            self._show_volume(self.labels_layer)
        else:
            from napari.layers import Labels

            layer = Labels(data, **kwargs)
            self._show_volume(layer)  # before it is added: a hidden layer is not uploaded
            self._insert_below_points(layer)
            self._adopt_labels_layer(layer)

    @property
    def _has_labels_layer(self) -> bool:
        return self.labels_layer is not None and self.labels_layer in self.viewer.layers

    def _warm_up(self) -> None:
        threading.Thread(target=_import_pandas, daemon=True).start()
        self.session.warm_up()

    def _later(self, delay_ms: int, action: Callable[[], Any]) -> None:
        """Run ``action`` after ``delay_ms`` unless the case's T2 layer has gone meanwhile
        (another case opened, the viewer closed)."""
        from qtpy.QtCore import QTimer

        reference = self.reference
        QTimer.singleShot(delay_ms, lambda: self._if_shown(reference, action))

    def _if_shown(self, reference: Any, action: Callable[..., Any], *args: Any) -> None:
        """``action(*args)`` if the case whose T2 layer is ``reference`` is still shown."""
        if reference is not None and reference is self.reference:
            if reference in self.viewer.layers:
                action(*args)

    @property
    def is_shown(self) -> bool:
        """Whether a case is drawn in a viewer that is still open."""
        return self.reference is not None and self.reference in self.viewer.layers

    def ensure_labels_layer(self) -> Any:
        """The case's Labels layer, made (empty) if there is none yet."""
        if self._has_labels_layer or self.session.t2 is None or self.session.grid is None:
            return self.labels_layer
        from ._layers import volume_to_layer_data

        t2 = self.session.t2
        empty = t2.with_data(np.zeros(t2.shape, np.uint8), role="label", description="")
        self.show_labels(
            volume_to_layer_data(
                empty, name="labels", kind="labels", reference_grid=self.session.grid
            )
        )
        return self.labels_layer

    def _adopt_labels_layer(self, layer: Any) -> None:
        if layer is self.labels_layer:
            return
        self.labels_layer = layer
        # The cisterns fill most of the field: a faint tint keeps the T2 readable beneath.
        from napari.utils.colormaps import DirectLabelColormap

        colors = dict(layer.colormap.color_dict)
        if 2 in colors:
            rgba = np.array(colors[2], dtype=float)
            rgba[3] = 0.25
            colors[2] = rgba
            layer.colormap = DirectLabelColormap(color_dict=colors)
        layer.opacity = _LABELS_OPACITY
        layer.events.paint.connect(self._on_paint)

    def show_surfaces(
        self, meshes: Sequence[SurfaceMesh], *, groups: Sequence[str] = SURFACE_GROUPS
    ) -> None:
        """Show the 3-D surfaces of the structures (replacing those shown).

        Two Surface layers: the brainstem, translucent, and the nerves and vessels, opaque, one
        colour per structure. (A napari layer costs the GUI thread 0.15-0.3 s to make; one per
        structure would freeze the viewer for a second.) `set_structure_visible` hides a
        structure. ``groups`` limits the update to some of the two layers, so that a caller can
        spread the work over turns of the event loop.

        The surfaces are seen in 3-D only: in the 2-D view the meshes are kept and drawn when
        the view turns 3-D, so that an analysis finishing under a 2-D view does not freeze the
        viewer for the upload of meshes nobody sees (a few tenths of a second for a brainstem).
        """
        self.meshes = {m.value: m for m in meshes}
        self._stale_surfaces.update(groups)
        if self.viewer.dims.ndisplay == 3:
            self._draw_stale_surfaces()
            if self._surfaces_shown and not self._hidden_in_3d:
                self._on_ndisplay()

    def _draw_stale_surfaces(self) -> None:
        """Draw the surface groups whose meshes changed since they were last drawn."""
        for group in SURFACE_GROUPS:
            if group in self._stale_surfaces:
                self._stale_surfaces.discard(group)
                self._draw_surface_group(group)

    @property
    def surfaces_pending(self) -> bool:
        """Whether surfaces wait for the 3-D view to be drawn (see `show_surfaces`)."""
        return bool(self._stale_surfaces)

    def set_structure_visible(self, value: int, visible: bool) -> None:
        """Show or hide one structure (label value) in the 3-D surfaces."""
        if visible:
            self.hidden_structures.discard(value)
        else:
            self.hidden_structures.add(value)
        self._stale_surfaces.update(SURFACE_GROUPS)
        if self.viewer.dims.ndisplay == 3:
            self._draw_stale_surfaces()

    def _draw_surface_group(self, group: str) -> None:
        from napari.utils.colormaps.standardize_color import transform_color

        values = (
            (BRAINSTEM,)
            if group == "brainstem"
            else tuple(v for v in self.meshes if v != BRAINSTEM)
        )
        parts = [
            self.meshes[v]
            for v in values
            if v in self.meshes and v not in self.hidden_structures and len(self.meshes[v].faces)
        ]
        layer = self._surface_layer(group)
        if not parts:
            if layer is not None:
                layer.metadata["nvc_empty"] = True
                layer.visible = False
            return
        vertices = np.concatenate([m.vertices for m in parts])
        offsets = np.cumsum([0] + [len(m.vertices) for m in parts[:-1]])
        faces = np.concatenate([m.faces + o for m, o in zip(parts, offsets)])
        colors = np.concatenate(
            [np.tile(transform_color(m.color)[0], (len(m.vertices), 1)) for m in parts]
        )
        # Shown in 3-D only: in 2-D the label map already outlines the structures.
        layer = self._ensure_surface_layer(group)
        layer.vertex_colors = None  # its length must follow the vertices
        layer.data = (vertices, faces)
        layer.vertex_colors = colors
        layer.metadata["nvc_empty"] = False
        layer.visible = self.viewer.dims.ndisplay == 3

    def _ensure_surface_layer(self, group: str) -> Any:
        """The Surface layer of a group, made (empty, hidden) if missing."""
        layer = self._surface_layer(group)
        if layer is not None or self.reference is None:
            return layer
        from napari.layers import Surface

        brainstem = group == "brainstem"
        layer = Surface(
            (np.zeros((3, 3), np.float32), np.array([[0, 1, 2]])),  # napari wants a mesh
            name=_SURFACE_NAMES[group],
            shading="smooth",
            opacity=0.45 if brainstem else 1.0,
            blending="translucent" if brainstem else "opaque",
            visible=False,
            metadata={"nvc_role": "surface", "nvc_group": group, "nvc_empty": True},
            **self.transform,
        )
        self._insert_below_points(layer)
        self.surface_layers.append(layer)
        return layer

    @property
    def hidden_for_3d(self) -> tuple[Any, ...]:
        """The image and label layers hidden while the view is in 3-D (shown again in 2-D;
        the linked 2-D views of `._multiview` keep showing them)."""
        return tuple(self._hidden_in_3d)

    @property
    def _volumes_hidden(self) -> bool:
        """Whether the view hides the image and label layers: in 3-D, while there are surfaces
        to show instead (`_on_ndisplay`)."""
        return self.viewer.dims.ndisplay == 3 and self._surfaces_shown

    def _show_volume(self, layer: Any) -> None:
        """Show an image or label layer that was given new data, as the view wants it: in 2-D
        shown (a new case, a new label map); in 3-D with surfaces hidden, like the other
        volumes, and shown again when the view turns 2-D (`_on_ndisplay`)."""
        if self._volumes_hidden:
            if not any(layer is hidden for hidden in self._hidden_in_3d):
                self._hidden_in_3d.append(layer)
            if layer.visible:
                layer.visible = False
        elif not layer.visible:
            layer.visible = True

    @property
    def _surfaces_shown(self) -> bool:
        """Whether there are surfaces to show in 3-D."""
        return any(
            not layer.metadata.get("nvc_empty", False)
            for layer in self.surface_layers
            if layer in self.viewer.layers
        )

    def _surface_layer(self, group: str) -> Any:
        for layer in self.surface_layers:
            if layer.metadata.get("nvc_group") == group and layer in self.viewer.layers:
                return layer
        return None

    def _on_ndisplay(self, event: Any = None) -> None:
        """In 3-D the surfaces are the picture: the image and label volumes are hidden (their
        rendering would fill the box) while there are surfaces. In 2-D the volumes are shown
        again and the surfaces hidden (the label map outlines the same structures). The
        landmarks' names are shown in 2-D only: in 3-D the twelve of them pile up on each other
        over the findings' names (their colours tell the nerve).

        Entering 3-D the camera shows the patient as seen, not mirrored, superior up: from the
        front and a little below the first time (`nvc_viewer.orientation.VIEW_3D_SPL`), else
        from where the surgeon left the 3-D view of this case. The cursor's 2-D read-out is
        cleared on any switch (it would name a point the mouse no longer shows)."""
        from napari.layers import Image, Labels

        three_d = self.viewer.dims.ndisplay == 3
        if three_d != self._in_3d:
            self._in_3d = three_d
            self._show_cursor(None)
            if three_d:
                self._enter_3d_camera()
            else:
                camera = getattr(self.viewer, "scene", self.viewer).camera
                self._view_3d = (
                    self.reference,
                    self._world_vector(camera.view_direction),
                    self._world_vector(camera.up_direction),
                )
        if self.landmarks_layer is not None:
            self.landmarks_layer.text.visible = not three_d
        if three_d:
            self._draw_stale_surfaces()
        for layer in self.surface_layers:
            if layer in self.viewer.layers:
                layer.visible = three_d and not layer.metadata.get("nvc_empty", False)
        if three_d and self._surfaces_shown:
            self._hidden_in_3d += [
                layer
                for layer in self.viewer.layers
                if isinstance(layer, Image | Labels) and layer.visible
            ]
            for layer in self._hidden_in_3d:
                layer.visible = False
        elif not three_d:
            for layer in self._hidden_in_3d:
                if layer in self.viewer.layers:
                    layer.visible = True
            self._hidden_in_3d = []

    def _world_vector(self, scene: Sequence[float], *, to_scene: bool = False) -> tuple:
        """A 3-D camera direction between napari's scene coordinates (the displayed axes, in
        ``dims.order``) and the world (S, P, L) axes."""
        displayed = list(self.viewer.dims.order[-3:])  # also while the view turns 2-D
        vector = np.zeros(3)
        for k, axis in enumerate(displayed):
            if to_scene:
                vector[k] = scene[axis]
            else:
                vector[axis] = scene[k]
        return tuple(float(v) for v in vector)

    def _enter_3d_camera(self, *, default: bool = False) -> None:
        """Point the 3-D camera: the patient's own handedness, superior up.

        The (S, P, L) world is a left-handed frame in patient space; napari's default camera
        orientation draws its axes right-handed, which shows a mirror image of the patient (the
        left on the screen's right when seen from the front is only right in a mirror). The
        depth axis is flipped when the displayed frame and the camera disagree.
        """
        from nvc_viewer.geometry import RAS_TO_SPL

        camera = getattr(self.viewer, "scene", self.viewer).camera
        displayed = list(self.viewer.dims.order[-3:])
        if len(displayed) != 3:
            return
        scene_to_ras = np.linalg.inv(RAS_TO_SPL)[:3, :3][:, displayed]
        want_left = bool(np.linalg.det(scene_to_ras) < 0)
        if (str(camera.handedness) == "left") != want_left:
            depth, vertical, horizontal = (str(o) for o in camera.orientation)
            depth = "away" if depth == "towards" else "towards"
            camera.orientation = (depth, vertical, horizontal)
        view, up = VIEW_3D_SPL, UP_3D_SPL
        kept = self._view_3d
        if not default and kept is not None and kept[0] is self.reference:
            view, up = kept[1], kept[2]
        camera.set_view_direction(
            self._world_vector(view, to_scene=True), self._world_vector(up, to_scene=True)
        )

    def _insert_below_points(self, layer: Any) -> None:
        """Add a layer under the point layers (moving layers afterwards costs a redraw),
        leaving the surgeon's active layer active."""
        points = [
            self.viewer.layers.index(p)
            for p in (self.landmarks_layer, self.findings_layer)
            if p is not None and p in self.viewer.layers
        ]
        with self._keeping_selection():
            self.viewer.layers.insert(min(points) if points else len(self.viewer.layers), layer)

    @contextmanager
    def _keeping_selection(self) -> Iterator[None]:
        """napari makes a new layer the active one; a layer made behind the scenes should not
        take the controls from the one the surgeon works with."""
        active = self.viewer.layers.selection.active
        try:
            yield
        finally:
            if active is not None and active in self.viewer.layers:
                self.viewer.layers.selection.active = active

    def _keep_points_on_top(self) -> None:
        """Landmarks then findings as the top layers (moved only if they are not)."""
        points = [
            p
            for p in (self.landmarks_layer, self.findings_layer)
            if p is not None and p in self.viewer.layers
        ]
        if list(self.viewer.layers)[-len(points) :] == points:
            return
        for layer in points:
            self.viewer.layers.move(self.viewer.layers.index(layer), len(self.viewer.layers))

    # -- points ---------------------------------------------------------------------------
    def _size(self, mm: float) -> float:
        """A marker's diameter in mm as a size in the T2 layer's data units."""
        return mm / float(np.min(self.reference.scale))

    def _finding_size_mm(self, finding_id: str) -> float:
        return _SELECTED_SIZE_MM if finding_id == self.selected_id else _FINDING_SIZE_MM

    def _retag(self) -> None:
        """Give the tags the findings (numbered as the table's rows) and landmarks drawn."""
        case = self.session.findings
        if case is None or self.reference is None:
            return
        markers = [
            Marker(
                self.ras_to_world(np.asarray(f.position_ras, dtype=np.float64)),
                str(n),
                ORIGIN_COLORS[f.origin],
                self._finding_size_mm(f.id) / 2,
                optional=False,
            )
            for n, f in enumerate(case.findings, start=1)
        ]
        markers += [
            Marker(
                self.ras_to_world(np.asarray(lm.position_ras, dtype=np.float64)),
                f"{lm.name} {lm.nerve}-{lm.side[0].upper()}",
                _LANDMARK_COLORS.get(lm.nerve, "white"),
                _LANDMARK_SIZE_MM / 2,
                optional=True,
            )
            for lm in self._drawn_landmarks
        ]
        self.tags.set_markers(markers)

    def ensure_point_layer(self, kind: str) -> Any:
        """The ``"landmarks"`` or ``"findings"`` Points layer, made (empty) if missing."""
        attr = f"{kind}_layer"
        layer = getattr(self, attr)
        if layer is not None and layer in self.viewer.layers:
            return layer
        style = _POINT_STYLES[kind]
        with self._keeping_selection():
            layer = self._add_points(kind, style)
        # Drawn from the model, never edited directly: changes go through the panels.
        layer.editable = False
        setattr(self, attr, layer)
        self._keep_points_on_top()
        return layer

    def _add_points(self, kind: str, style: dict[str, Any]) -> Any:
        return self.viewer.add_points(
            np.zeros((0, 3)),
            name=style["name"],
            features={name: [] for name in style["features"]},
            border_color=style["border_color"],
            border_width=style["border_width"],
            symbol=style["symbol"],
            size=self._size(style["size_mm"]),
            # no text on the points: their tags are drawn apart (`._markers`); hovering a point
            # shows its features ("label": the landmark's name) in the status bar and tooltip
            metadata={"nvc_role": kind},
            **self.transform,
        )

    def ensure_point_layers(self) -> None:
        """Make both Points layers (ahead of the data, to spread the cost of new layers)."""
        self.ensure_point_layer("landmarks")
        self.ensure_point_layer("findings")

    def redraw_landmarks(self, landmarks: Sequence[Any] | None = None) -> None:
        """Draw the RExP / RDP / TZ landmarks of the findings record (or ``landmarks``: those
        an analysis result is about to bring, drawn a turn of the event loop ahead)."""
        case = self.session.findings
        if case is None or self.reference is None:
            return
        landmarks = case.landmarks if landmarks is None else tuple(landmarks)
        self._drawn_landmarks = landmarks
        if not landmarks and self.landmarks_layer is None:
            return
        layer = self.ensure_point_layer("landmarks")
        layer.data = (
            self.ras_to_data(np.array([lm.position_ras for lm in landmarks]))
            if landmarks
            else np.zeros((0, 3))
        )
        layer.features = {
            "name": [lm.name for lm in landmarks],
            "label": [f"{lm.name} {lm.nerve}-{lm.side[0].upper()}" for lm in landmarks],
        }
        if landmarks:
            layer.face_color = [_LANDMARK_COLORS.get(lm.nerve, "white") for lm in landmarks]
            layer.size = self._size(_LANDMARK_SIZE_MM)
        self._retag()

    def redraw_findings(self) -> None:
        """Draw the findings: colour by review state, the selected one larger."""
        case = self.session.findings
        if case is None or self.reference is None:
            return
        findings = case.findings
        if not findings and self.findings_layer is None:
            return
        if self.selected_id not in {f.id for f in findings}:
            self.selected_id = None
        layer = self.ensure_point_layer("findings")
        drawn = tuple((f.id, f.origin, tuple(f.position_ras), f.label) for f in findings)
        sizes = [self._size(self._finding_size_mm(f.id)) for f in findings]
        shown_on = [ref() for ref in self._drawn_findings_on] or [None, None]
        same_layers = shown_on[0] is layer and shown_on[1] is self.reference
        if drawn and drawn == self._drawn_findings and same_layers:
            # the same findings, another one selected: only the rings' sizes change (setting
            # every property refreshed the layer and its three mirrors once per property)
            if not np.allclose(layer.size, sizes):
                layer.size = sizes
                layer.events.size()  # napari's setter tells no one: the four-up's mirrors
            self._retag()
            return
        self._drawn_findings = drawn
        self._drawn_findings_on = (weakref.ref(layer), weakref.ref(self.reference))
        layer.data = (
            self.ras_to_data(np.array([f.position_ras for f in findings]))
            if findings
            else np.zeros((0, 3))
        )
        layer.features = {
            "number": list(range(1, len(findings) + 1)),  # the table's row numbers
            "id": [f.id for f in findings],
            "origin": [f.origin for f in findings],
            "label": [f.label for f in findings],
        }
        if findings:
            # Rings, not discs: the contact itself stays visible under its marker.
            layer.border_color = [ORIGIN_COLORS[f.origin] for f in findings]
            layer.face_color = "transparent"
            layer.size = sizes
        self._retag()

    def _on_session(self, what: str) -> None:
        if what in ("findings", "analysis"):
            self.redraw_findings()
            case = self.session.findings
            if case is not None and case.landmarks != self._drawn_landmarks:
                self.redraw_landmarks()

    # -- planes ---------------------------------------------------------------------------
    def show_plane(self, plane: str) -> None:
        """Show the axial, coronal or sagittal 2-D view, or the 3-D view.

        Axial: anterior up, the patient's left on the right (radiological). Coronal: superior
        up, the patient's left on the right. Sagittal: superior up, anterior on the left. The
        slice shown goes through the current point (e.g. the selected finding); the view's
        edges carry the patient letters (`._orientation_overlay`). 3-D: seen from the front
        and a little below, superior up, the patient's left on the right, not mirrored,
        centred on the selected finding or the facial root exit zone, about 40 mm across
        (`._camera.show_overview`; the whole volume when the case has neither).
        """
        if plane not in PLANES:
            raise ValueError(f"plane must be one of {tuple(PLANES)}, got {plane!r}")
        camera = getattr(self.viewer, "scene", self.viewer).camera  # napari >= 0.9
        if plane == "3-D":
            from ._camera import show_overview

            show_overview(self)
            return
        order, vertical = PLANES[plane]  # type: ignore[misc]
        self.viewer.dims.ndisplay = 2
        self.viewer.dims.order = order
        camera.orientation2d = (vertical, "right")
        point = self.viewer.dims.point
        camera.center = tuple(float(point[a]) for a in order[1:])

    def show_view(self, name: str) -> str:
        """Turn the 3-D view to a preset: ``"surgeon left"`` / ``"surgeon right"`` (the
        retrosigmoid view of that side's facial root exit zone) or one of the six anatomical
        views (`nvc_viewer.orientation.ANATOMICAL_VIEWS`), see `._camera`. Returns what the
        view is centred on."""
        from ._camera import show_anatomical_view, show_surgeon_view

        if name in ("surgeon left", "surgeon right"):
            return show_surgeon_view(self, "left" if name.endswith("left") else "right")
        show_anatomical_view(self, name)
        return "the current centre"

    # -- selection ------------------------------------------------------------------------
    def on_selection(self, listener: Callable[[str | None], None]) -> None:
        """Call ``listener(finding_id)`` when the selected finding changes."""
        self._selection_listeners.append(listener)

    def select(self, finding_id: str | None, *, centre: bool = True) -> None:
        """Select a finding and centre every view (2-D slices and 3-D camera) on it."""
        if finding_id == self.selected_id:
            if centre and finding_id is not None:
                position = self.session.finding(finding_id).position_ras
                self.centre_on(position, field_mm=FINDING_FIELD_MM)
            return
        self.selected_id = finding_id
        with self.tags.held():
            self.redraw_findings()
            if finding_id is not None and centre:
                position = self.session.finding(finding_id).position_ras
                self.centre_on(position, field_mm=FINDING_FIELD_MM)
        self._record_view()
        for listener in list(self._selection_listeners):
            listener(finding_id)

    def on_centre(self, listener: Callable[[np.ndarray, float | None], None]) -> None:
        """Call ``listener(world_point, field_mm)`` when the view is centred on a point (a
        selected finding): the linked 2-D views (`._multiview`) centre and zoom on it too."""
        self._centre_listeners.append(listener)

    def centre_on(self, position_ras: Sequence[float], *, field_mm: float | None = None) -> None:
        """Put the three slice planes through a point and centre the camera on it.

        ``field_mm``: in 2-D also zoom in until about that many mm around the point fill the
        canvas (never zooms out).
        """
        world = self.ras_to_world(np.asarray(position_ras, dtype=np.float64))
        with self.tags.held():
            self.viewer.dims.point = on_grid(self.viewer.dims, world)
            camera = getattr(self.viewer, "scene", self.viewer).camera  # napari >= 0.9
            displayed = list(self.viewer.dims.displayed)
            camera.center = tuple(float(world[a]) for a in displayed)
            if field_mm is not None and self.viewer.dims.ndisplay == 2:
                from ._viewer import zoom_to_field

                zoom_to_field(self.viewer, field_mm)
        for listener in list(self._centre_listeners):
            listener(world, field_mm)

    # -- placing a finding by a click -----------------------------------------------------
    @property
    def placing(self) -> bool:
        """Whether the next click places a finding or picks a point."""
        return self._placing is not None or self._picking is not None

    def start_placing(self, done: Callable[[Finding | None, str], None]) -> None:
        """The next click on the image (2-D or 3-D) places a manual finding.

        ``done(finding, message)`` is called after the click (``finding`` None when the click
        hit nothing usable, ``message`` says why).
        """
        if self.reference is None:
            raise RuntimeError("no case is shown")
        self.stop_placing()
        self._placing = done
        self.viewer.mouse_drag_callbacks.append(self._on_click)

    def start_picking(self, picked: Callable[[np.ndarray | None, str], None]) -> None:
        """The next click on the image (2-D or 3-D) is handed to ``picked(position_ras,
        message)`` (``position_ras`` None when the click met no structure in 3-D)."""
        if self.reference is None:
            raise RuntimeError("no case is shown")
        self.stop_placing()
        self._picking = picked
        self.viewer.mouse_drag_callbacks.append(self._on_click)

    def stop_placing(self) -> None:
        """Leave placing (or picking) mode without doing anything."""
        self._placing = None
        self._picking = None
        if self._on_click in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._on_click)

    def _on_click(self, viewer: Any, event: Any) -> None:
        if event.type != "mouse_press":
            return
        where = {
            "view_direction": getattr(event, "view_direction", None),
            "dims_displayed": list(getattr(event, "dims_displayed", viewer.dims.displayed)),
        }
        picked = self._picking
        if picked is not None:
            self.stop_placing()
            ras = self.pick_ras(event.position, **where)
            picked(ras, "" if ras is not None else "the click met no structure")
            return
        self.place_at(event.position, **where)

    def pick_ras(
        self,
        position_world: Sequence[float],
        *,
        view_direction: Sequence[float] | None = None,
        dims_displayed: Sequence[int] | None = None,
    ) -> np.ndarray | None:
        """Patient RAS mm of a click.

        In 2-D the click's world position is the point. In 3-D the viewing ray through the click
        is followed into the label map: the first nerve or vessel voxel it meets (else the first
        brainstem voxel) is the point; None when it meets no structure.
        """
        grid = self.session.grid
        assert grid is not None and self.reference is not None
        position = np.asarray(position_world, dtype=np.float64)
        if self.viewer.dims.ndisplay == 2 or view_direction is None:
            return grid.display_to_ras(position)
        start, end = self.reference.get_ray_intersections(
            position, view_direction, list(dims_displayed or self.viewer.dims.displayed), True
        )
        if start is None or end is None or self.labels_layer is None:
            return None
        labels = np.asarray(self.labels_layer.data)
        n = max(int(np.ceil(np.linalg.norm(np.subtract(end, start)) * 4)), 2)  # 1/4 voxel
        ray = np.linspace(start, end, n)
        index = np.clip(np.rint(ray).astype(int), 0, np.array(labels.shape) - 1)
        values = labels[tuple(index.T)]
        for wanted in (_PICK_FIRST, (BRAINSTEM,)):
            hits = np.flatnonzero(np.isin(values, wanted))
            if len(hits):
                return apply_affine(grid.affine_ras, ray[hits[0]])
        return None

    def place_at(
        self,
        position_world: Sequence[float],
        *,
        view_direction: Sequence[float] | None = None,
        dims_displayed: Sequence[int] | None = None,
        **fields: Any,
    ) -> tuple[Finding | None, str]:
        """Place a manual finding where the user clicked (see `pick_ras`) and select it.

        Ends placing mode (`start_placing`) and tells its ``done`` callback.

        Returns
        -------
        finding : Finding or None
        message : str
            What was placed, or why nothing was.
        """
        done = self._placing
        self.stop_placing()
        ras = self.pick_ras(
            position_world, view_direction=view_direction, dims_displayed=dims_displayed
        )
        finding: Finding | None = None
        if ras is None:
            message = "the click met no nerve, vessel or brainstem: click on a structure"
        else:
            finding = self.session.add_manual(ras, **fields)
            self.select(finding.id, centre=False)
            where = (
                f"{finding.distance_from_brainstem_mm:.1f} mm from the RDP"
                if finding.distance_from_brainstem_mm is not None
                else "distance unknown"
            )
            message = f"placed {finding.label}, {finding.segment}, {where}"
        if done is not None:
            done(finding, message)
        return finding, message

    # -- label corrections ----------------------------------------------------------------
    def _on_paint(self, event: Any = None) -> None:
        """A brush stroke: save the corrected label map a moment after the last stroke."""
        from qtpy.QtCore import QTimer

        self._labels_painted = True
        if self._labels_timer is None:
            self._labels_timer = QTimer()
            self._labels_timer.setSingleShot(True)
            self._labels_timer.setInterval(_LABELS_SAVE_DELAY_MS)
            self._labels_timer.timeout.connect(self.flush_labels)
        self._labels_timer.start()

    @property
    def labels_dirty(self) -> bool:
        """Whether brush corrections have not been handed to the session yet."""
        return self._labels_painted

    def flush_labels(self) -> Volume | None:
        """Hand brush corrections to the session now (saved into the workspace).

        Returns the session's label map (None without one).
        """
        if self._labels_timer is not None:
            self._labels_timer.stop()
        painted, self._labels_painted = self._labels_painted, False
        if (
            painted
            and self.session.is_open
            and self.labels_layer is not None
            and self.labels_layer in self.viewer.layers
        ):
            labels = self.session.set_labels_from_display(self.labels_layer.data, save=False)
            self._save_labels_in_background()
            return labels
        return self.session.labels

    def _save_labels_in_background(self) -> None:
        """Write the corrected label map off the GUI thread (a compressed NIfTI takes time)."""
        from napari.qt.threading import create_worker

        def failed(exc: BaseException) -> None:
            self.session.last_error = f"the label map could not be saved: {exc}"
            self.session.notify("save-failed")

        worker = create_worker(
            self.session.save_labels,
            report=False,
            _start_thread=False,
            _connect={
                "errored": failed,
                "finished": lambda: self._label_savers.remove(worker),
            },
        )
        self._label_savers.append(worker)
        worker.start()

    def wait_for_saves(self, timeout_s: float = 30.0) -> None:
        """Block until background label saves are written (tests, closing)."""
        import time

        from qtpy.QtWidgets import QApplication

        end = time.monotonic() + timeout_s
        while self._label_savers and time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)
