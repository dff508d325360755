"""The nerve plane: the oblique reformat through the nerve's axis, docked beside the main canvas.

The plane in which a contact is judged (`nvc_viewer.reformat`): through the selected finding,
turned towards its vessel, or -- with nothing selected -- through the root detachment point of
the nerve and side chosen above the plane, superior up. A small napari ``ViewerModel`` with its
own canvas (as the four-up's views, `._multiview`) shows the T2 and the label map on the plane,
the landmarks and findings that lie on it, the patient letters of its edges
(`._orientation_overlay`, from the plane's own affine) and a scale bar in mm. The plane follows
the selected finding and the case; the surgeon can turn it about the nerve. The position under
the mouse reads in patient RAS mm, and a click moves the main views' slices there. Everything
is computed by the core; this module only wires it to widgets and layers.

A leaf above `._case_view`: the analysis panel imports it; it imports no panel.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
)

from nvc_viewer.errors import NVCError
from nvc_viewer.labels import LABELS, NERVE_LABELS
from nvc_viewer.orientation import format_ras
from nvc_viewer.reformat import Reformat, case_reformat

from ._case_view import ORIGIN_COLORS, case_view_for
from ._docked import DockedPanel
from ._layers import plane_layers
from ._multiview import on_left_click
from ._orientation_overlay import OrientationOverlay
from ._shortcuts import NERVE_PLANE_SHORTCUT
from ._viewer import close_with_window, one_per_viewer

if TYPE_CHECKING:
    import napari

__all__ = ["NERVE_PLANE_KEY", "NERVES", "NervePlane", "nerve_plane_for"]

#: Key that shows / hides the nerve plane (napari's notation; `._shortcuts`).
NERVE_PLANE_KEY = NERVE_PLANE_SHORTCUT.key
#: The nerves the plane can go through without a finding (those with root exit landmarks first).
NERVES = ("VII", "V", "VIII")
# Field of view (mm) the plane opens on, about its centre: the contact with the nerve's
# course either side of it (zoom out for the whole plane, `nvc_viewer.reformat.REFORMAT_SIZE_MM`).
_FIELD_MM = 20.0
# A landmark or finding this close to the plane (mm) is drawn on it.
_ON_PLANE_MM = 1.0
# Marker diameters on the plane, mm (as in the main view): a landmark, a finding, the
# selected finding.
_LANDMARK_MM = 1.6
_FINDING_MM = 3.0
_SELECTED_MM = 5.0
# Width of the plane's dock as a fraction of the window's width (at least _MIN_WIDTH_PX).
_WIDTH_FRACTION = 0.3
_MIN_WIDTH_PX = 300
# The turn about the nerve: a step of the spin box, and its range (degrees).
_ROLL_STEP_DEG = 15
_ROLL_MAX_DEG = 90

# What the plane's layers take from the main viewer's T2 and label layers.
_FOLLOWED = {"image": ("contrast_limits",), "labels": ("colormap", "opacity", "visible")}

_PLANES: weakref.WeakValueDictionary[int, NervePlane] = weakref.WeakValueDictionary()


class NervePlane(DockedPanel):
    """The nerve plane of a viewer (see the module), docked on the left of its canvas.

    Parameters
    ----------
    viewer : napari.Viewer
    """

    TITLE = "Nerve plane"
    AREA = "left"
    KEY = NERVE_PLANE_KEY

    def __init__(self, viewer: napari.Viewer) -> None:
        super().__init__(viewer)
        qt_window = viewer.window._qt_window  # type: ignore[attr-defined]
        self.case_view = case_view_for(viewer)
        #: The plane shown (None: nothing to reformat through; `message` says why).
        self.plane: Reformat | None = None
        self.message = ""
        self.model: Any = None
        self.qt_viewer: Any = None
        self.orientation: OrientationOverlay | None = None
        self._sources: dict[str, Any] = {}  # the main layers the plane's layers follow
        self._fitted_zoom: float | None = None
        self.side = QComboBox()
        self.side.addItems(["left", "right"])
        self.side.setToolTip("The side whose root exit zone the plane goes through")
        self.nerve = QComboBox()
        self.nerve.addItems(list(NERVES))
        self.nerve.setToolTip("The nerve the plane goes through (without a selected finding)")
        self.roll = QSpinBox()
        self.roll.setRange(-_ROLL_MAX_DEG, _ROLL_MAX_DEG)
        self.roll.setSingleStep(_ROLL_STEP_DEG)
        self.roll.setSuffix("°")
        self.roll.setToolTip("Turn the plane about the nerve's axis")
        for combo in (self.side, self.nerve):
            combo.currentTextChanged.connect(self._on_choice)
        self.roll.valueChanged.connect(lambda _value: self.refresh(keep_view=True))
        #: What the plane goes through, in words.
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        #: The patient RAS position under the mouse.
        self.cursor = QLabel()
        row = QHBoxLayout()
        for widget in (QLabel("Side:"), self.side, QLabel("Nerve:"), self.nerve):
            row.addWidget(widget)
        row.addWidget(QLabel("Turn:"))
        row.addWidget(self.roll)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.caption)
        self._canvas_row = layout.count()
        layout.addWidget(self.cursor)
        self.case_view.on_selection(self._on_selection)
        self.case_view.session.subscribe(self._on_session)
        close_with_window(qt_window, self, "close_canvas")

    # -- the canvas -------------------------------------------------------------------------
    def _build_canvas(self) -> None:
        """The plane's own napari model and canvas, made the first time it is shown."""
        if self.model is not None:
            return
        from napari.components.viewer_model import ViewerModel
        from napari.qt import QtViewer

        self.model = ViewerModel(title="nerve plane")
        self.qt_viewer = QtViewer(self.model)
        self.qt_viewer.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.qt_viewer.setMinimumSize(240, 240)
        self.layout().insertWidget(self._canvas_row, self.qt_viewer, 1)  # type: ignore[attr-defined]
        self.orientation = OrientationOverlay(self.model, lambda: self.plane)  # type: ignore[arg-type]
        scale_bar = self.model.canvas.overlays.scale_bar
        scale_bar.visible = True
        scale_bar.position = "bottom_left"
        self.model.mouse_move_callbacks.append(self._on_mouse_move)
        self.model.canvas.events.size.connect(self._on_canvas_size)
        self.model.mouse_drag_callbacks.append(on_left_click(self.go_to))  # to the main views

    def layer(self, kind: str) -> Any:
        """The plane's ``"image"``, ``"labels"`` or ``"points"`` layer, or None."""
        if self.model is None:
            return None
        for layer in self.model.layers:
            if type(layer).__name__.lower() == kind:
                return layer
        return None

    # -- showing and hiding -----------------------------------------------------------------
    def _on_show(self) -> None:
        """The nerve plane beside the main canvas."""
        self._build_canvas()
        width = self.viewer.window._qt_window.width()  # type: ignore[attr-defined]
        self._dock_shown(max(int(width * _WIDTH_FRACTION), _MIN_WIDTH_PX))
        self.refresh()

    # -- following the case -------------------------------------------------------------------
    def _on_selection(self, finding_id: str | None) -> None:
        self.refresh()

    def _on_session(self, what: str) -> None:
        if what in ("case", "closed", "analysis", "analysis-restored", "labels", "findings"):
            self.refresh(keep_view=what in ("findings", "labels"))

    def _on_choice(self, _text: str = "") -> None:
        """Another side or nerve: the plane through its root exit zone (the selection is
        left as it is only when it is on that nerve)."""
        finding = self._selected()
        if finding is not None and (finding.side, finding.nerve) != self._chosen():
            self.case_view.select(None, centre=False)  # refreshes
            return
        self.refresh()

    def _chosen(self) -> tuple[str, str]:
        return self.side.currentText(), self.nerve.currentText()

    def _selected(self) -> Any:
        session = self.case_view.session
        finding_id = self.case_view.selected_id
        if finding_id is None or session.findings is None:
            return None
        return next((f for f in session.findings.findings if f.id == finding_id), None)

    def refresh(self, *, keep_view: bool = False) -> None:
        """Reformat the plane for the selected finding, or the chosen nerve's root exit zone.

        ``keep_view``: keep the zoom and pan of the plane's canvas (the same centre).
        """
        if not self._enabled:
            return
        session = self.case_view.session
        finding = self._selected()
        if finding is not None:
            self._set_choice(finding.side, finding.nerve)
        previous = self.plane
        if session.t2 is None or session.findings is None:
            self._show(None, "No case open.")
            return
        side, nerve = self._chosen()
        try:
            plane = case_reformat(
                session.t2,
                side=side,
                nerve=nerve,
                labels=session.labels,
                centrelines=session.centrelines,
                landmarks=session.findings.landmarks,
                finding=finding,
                roll_deg=float(self.roll.value()),
            )
        except NVCError as exc:
            self._show(None, str(exc))
            return
        self._show(plane, self._describe(plane, finding))
        same_centre = previous is not None and np.allclose(previous.centre_ras, plane.centre_ras)
        if not (keep_view and same_centre):
            self.fit()

    def fit(self) -> None:
        """Centre the plane's canvas on the plane's centre, `_FIELD_MM` across."""
        from ._viewer import zoom_to_field

        if self.model is None or self.plane is None:
            return
        self.model.reset_view()  # centred on the plane's centre
        zoom_to_field(self.model, _FIELD_MM)
        self._fitted_zoom = float(self.model.scene.camera.zoom)

    def _on_canvas_size(self, event: Any = None) -> None:
        # the dock takes its size after it is shown: refit, unless the surgeon zoomed since
        zoom = float(self.model.scene.camera.zoom)
        if self._fitted_zoom is not None and abs(zoom / self._fitted_zoom - 1.0) < 1e-3:
            self.fit()

    def _set_choice(self, side: str, nerve: str) -> None:
        for combo, value in ((self.side, side), (self.nerve, nerve)):
            if combo.findText(value) < 0:
                combo.addItem(value)  # a finding on a nerve not offered (IX)
            combo.blockSignals(True)
            combo.setCurrentText(value)
            combo.blockSignals(False)

    def _describe(self, plane: Reformat, finding: Any) -> str:
        side, nerve = self._chosen()
        letters = plane.letters
        if finding is not None:
            where = f"at the selected finding ({finding.vessel} {finding.grade})"
            turned = "turned towards the vessel" if plane.toward_vessel else f"{letters.top} up"
        else:
            where, turned = "at the root exit zone (RDP)", f"{letters.top} up"
        roll = f", turned {self.roll.value()}° about the nerve" if self.roll.value() else ""
        return f"{nerve} {side} {where}: the nerve runs across, {turned}{roll}."

    # -- drawing ----------------------------------------------------------------------------
    def _show(self, plane: Reformat | None, message: str) -> None:
        self.plane, self.message = plane, message
        self.caption.setText(message)
        if self.model is None:
            return
        if plane is None:
            for layer in list(self.model.layers):
                self.model.layers.remove(layer)
        else:
            reference = self.case_view.reference
            window = None if reference is None else tuple(reference.contrast_limits)
            for index, (data, kwargs, kind) in enumerate(
                plane_layers(plane, contrast_limits=window)
            ):
                self._put(index, kind, data, kwargs)
            if plane.labels is None and self.layer("labels") is not None:
                self.model.layers.remove(self.layer("labels"))
            self._draw_markers(plane)
            self._follow_main(reference, self.case_view.labels_layer)
        if self.orientation is not None:
            self.orientation.update()

    def _put(self, index: int, kind: str, data: Any, kwargs: dict[str, Any]) -> None:
        """Replace a layer's data (making a layer is slow), or add it at ``index``."""
        layer = self.layer(kind)
        if layer is None:
            from napari.layers import Layer

            layers = self.model.layers
            layers.insert(min(index, len(layers)), Layer.create(data, kwargs, kind))
            return
        layer.data = data
        layer.scale = kwargs["scale"]
        layer.metadata = kwargs["metadata"]
        if kind == "image":
            layer.contrast_limits = kwargs["contrast_limits"]

    def _draw_markers(self, plane: Reformat) -> None:
        """The landmarks and findings within `_ON_PLANE_MM` of the plane, as in the main view
        but all hollow (the plane is seen close up: the nerve and the contact show through):
        landmarks as diamonds in their nerve's colour, findings as rings in the colour of their
        review state, the selected one larger."""
        case = self.case_view.session.findings
        items: list[tuple[Sequence[float], str, str, str, float]] = []
        if case is not None:
            for lm in case.landmarks:
                colour = LABELS[NERVE_LABELS[lm.nerve]].hex if lm.nerve in NERVE_LABELS else "white"
                items.append((lm.position_ras, "transparent", colour, "diamond", _LANDMARK_MM))
            for f in case.findings:
                colour = ORIGIN_COLORS.get(f.origin, "white")
                size = _SELECTED_MM if f.id == self.case_view.selected_id else _FINDING_MM
                items.append((f.position_ras, "transparent", colour, "disc", size))
        shown = []
        for item in items:
            row, col, depth = plane.ras_to_pixel(np.asarray(item[0], dtype=np.float64))
            on_plane = abs(depth) * plane.spacing_mm <= _ON_PLANE_MM
            if on_plane and 0 <= row <= plane.shape[0] - 1 and 0 <= col <= plane.shape[1] - 1:
                shown.append(((row * plane.spacing_mm, col * plane.spacing_mm), *item[1:]))
        layer = self.layer("points")
        if layer is None:
            layer = self.model.add_points(
                ndim=2, name="on this plane", border_width=0.07, units=("mm", "mm")
            )
        layer.data = np.asarray([s[0] for s in shown], dtype=np.float64).reshape(-1, 2)
        if shown:
            layer.face_color = [s[1] for s in shown]
            layer.border_color = [s[2] for s in shown]
            layer.symbol = [s[3] for s in shown]
            layer.size = [s[4] for s in shown]

    def _follow_main(self, reference: Any, labels: Any) -> None:
        """Keep the plane's window on the main T2 layer's (the surgeon's window/level) and its
        label colours, opacity and visibility on the main label layer's (the faint cisterns,
        structures hidden from the legend)."""
        sources = {"image": reference, "labels": labels}
        for kind, source in sources.items():
            old = self._sources.get(kind)
            if source is old:
                continue
            names = _FOLLOWED[kind]
            if old is not None:
                for name in names:
                    getattr(old.events, name).disconnect(self._sync_from_main)
            self._sources[kind] = source
            if source is not None:
                for name in names:
                    getattr(source.events, name).connect(self._sync_from_main)
        self._sync_from_main()

    def _sync_from_main(self, event: Any = None) -> None:
        for kind, names in _FOLLOWED.items():
            source, layer = self._sources.get(kind), self.layer(kind)
            if source is None or layer is None:
                continue
            for name in names:
                value = getattr(source, name)
                if name == "visible":  # the main view hides its label volume in 3-D
                    value = value or any(source is o for o in self.case_view.hidden_for_3d)
                setattr(layer, name, value)

    # -- the mouse --------------------------------------------------------------------------
    def ras_at(self, position_world: Sequence[float]) -> np.ndarray | None:
        """Patient RAS mm of a position on the plane's canvas (world mm on the plane)."""
        if self.plane is None:
            return None
        pixel = np.asarray(position_world, dtype=np.float64)[-2:] / self.plane.spacing_mm
        return self.plane.pixel_to_ras(pixel)

    def _on_mouse_move(self, model: Any, event: Any) -> None:
        ras = self.ras_at(event.position)
        self.cursor.setText("" if ras is None else format_ras(ras))

    def go_to(self, position_world: Sequence[float]) -> None:
        """Put the main views' slices through a position on the plane."""
        ras = self.ras_at(position_world)
        if ras is not None and self.case_view.reference is not None:
            self.case_view.centre_on(ras)

    def close_canvas(self) -> None:
        """Close the plane's canvas (frees its OpenGL resources): the main window is closing."""
        self._enabled = False
        if self.qt_viewer is not None:
            self.qt_viewer.close()
            self.qt_viewer.setParent(None)
            self.qt_viewer = None


def nerve_plane_for(viewer: napari.Viewer) -> NervePlane:
    """The `NervePlane` of ``viewer``, made on first use (hidden until `NervePlane.set_enabled`)."""
    return one_per_viewer(_PLANES, viewer, NervePlane)[0]
