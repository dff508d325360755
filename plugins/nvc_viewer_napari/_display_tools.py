"""Display tools a surgeon knows from 3D Slicer, ITK-SNAP and PACS.

- **Window/level.** Presets for the heavy-T2 (CISS) and the TOF, each a pair of percentiles of
  the case's own intensities inside the head (`nvc_viewer.measure.WINDOW_PRESETS`), and a
  right-drag on the canvas as on a PACS: left/right narrows/widens the window, up/down makes the
  image brighter/darker (`enable_window_level_drag`). The left button keeps napari's pan and
  zoom; the right button is left alone while a drawing tool uses it (the label brush's
  encircle-and-fill).
- **Ruler and angle.** A Shapes layer, "Measurements" (`MeasurementsLayer`): a line's length in
  mm and the angle of a two-segment path (three clicks, the vertex in the middle) in degrees,
  written beside the shape, in the status line when the mouse is on it, and in the panel's
  list. World units are patient mm (docs/design.md, section 2); the arithmetic is
  `nvc_viewer.measure`.
- **Structures.** A legend of the label colours and a brush combo of the structures' names that
  sets the label layer's ``selected_label`` (and follows the label picker). The label layer
  itself names the structure under the mouse (its ``features``, `._layers.label_features`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Labels, Shapes
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nvc_viewer.labels import LABELS
from nvc_viewer.measure import (
    WINDOW_PRESETS,
    WindowPreset,
    describe_shape,
    drag_limits,
    preset_limits,
)

if TYPE_CHECKING:
    import napari

__all__ = [
    "DisplayToolsPanel",
    "MeasurementsLayer",
    "MEASUREMENTS_NAME",
    "apply_preset",
    "enable_window_level_drag",
    "measurements_layer",
    "image_for_role",
]

#: Name of the ruler / angle layer.
MEASUREMENTS_NAME = "Measurements"
_MEASURE_COLOR = "#ffe000"
_LINE_WIDTH_MM = 0.5
_DRAG_HINT = "Right-drag on the image: left/right window, up/down level (up brighter)."
_ANGLE_HINT = "Angle: click an arm's end, the vertex, the other arm's end; double-click the last."


class MeasurementsLayer(Shapes):
    """The ruler and angle layer: every line and path carries its measurement.

    The ``measurement`` feature of each shape is its length (``"12.3 mm"``; a line, or a path of
    two or of more than three vertices) or angle (``"87.5°"``; a path of three vertices),
    recomputed in world mm whenever the shapes change, and drawn beside the shape. The status
    line names the measurement of the shape under the mouse.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("name", MEASUREMENTS_NAME)
        kwargs.setdefault("ndim", 3)
        kwargs.setdefault("edge_color", _MEASURE_COLOR)
        kwargs.setdefault("face_color", "transparent")
        kwargs.setdefault("features", {"measurement": np.array([], dtype=object)})
        kwargs.setdefault(
            "text",
            {
                "string": "{measurement}",
                "color": _MEASURE_COLOR,
                "size": 11,
                "anchor": "upper_left",
            },
        )
        super().__init__(*args, **kwargs)
        self.feature_defaults = {"measurement": ""}
        self._measuring = False
        self.events.data.connect(self._remeasure)
        self.events.set_data.connect(self._remeasure)
        self._remeasure()

    def measurements(self) -> list[str]:
        """The measurement of each shape, in the layer's order (``""`` for other shapes)."""
        world = self._world_vertices()
        return [describe_shape(points, kind) for points, kind in zip(world, self.shape_type)]

    def _world_vertices(self) -> list[np.ndarray]:
        return [
            np.array([self.data_to_world(vertex) for vertex in np.asarray(shape)])
            for shape in self.data
        ]

    def _remeasure(self, event: Any = None) -> None:
        if self._measuring or len(self.features) != self.nshapes:
            return  # re-entered, or napari is between adding a shape and its features
        self._measuring = True
        try:
            values = np.array(self.measurements(), dtype=object)
            if list(self.features["measurement"]) != list(values):
                self.features = {"measurement": values}
        finally:
            self._measuring = False

    def get_status(self, position: Any = None, **kwargs: Any) -> dict[str, str]:
        """napari's status, with the measurement of the shape under the mouse."""
        status = super().get_status(position, **kwargs)
        if position is None:
            return status
        value = self.get_value(
            position,
            view_direction=kwargs.get("view_direction"),
            dims_displayed=kwargs.get("dims_displayed"),
            world=kwargs.get("world", False),
        )
        index = value[0] if isinstance(value, tuple) else None
        if index is not None and index < len(self.features):
            text = str(self.features["measurement"].iloc[index])
            if text:
                status["value"] = f"{status.get('value', '')}; {text}".lstrip("; ")
                status["coordinates"] = f"{status.get('coordinates', '')}; {text}"
        return status


def _reference_image(viewer: napari.Viewer) -> Any:
    """The case's T2 layer, else the bottom visible image layer."""
    return image_for_role(viewer, "t2")


def image_for_role(viewer: napari.Viewer, role: str) -> Any:
    """The image layer of a series role (``"t2"`` or ``"tof"``) in ``viewer``, or None.

    The case's layers carry their role in ``metadata["nvc_role"]``; without one, the T2 is the
    bottom visible image layer and the TOF an image layer named so.
    """
    images = [layer for layer in viewer.layers if isinstance(layer, Image)]
    for layer in images:
        if layer.metadata.get("nvc_role") == role:
            return layer
    if role == "t2":
        visible = [layer for layer in images if layer.visible]
        return (visible or images or [None])[0]
    return next((layer for layer in images if role.lower() in layer.name.lower()), None)


def apply_preset(viewer: napari.Viewer, preset: WindowPreset) -> Any:
    """Set the contrast limits of the preset's image (`image_for_role`); return the layer."""
    layer = image_for_role(viewer, preset.role)
    if layer is not None:
        layer.contrast_limits = preset_limits(np.asarray(layer.data), preset)
    return layer


def _drag_target(viewer: napari.Viewer) -> Any:
    """The image a right-drag windows: the active image, else (while the active layer's mouse
    is in pan/zoom mode) the T2; None while a tool of the active layer uses the right button."""
    active = viewer.layers.selection.active
    if isinstance(active, Image):
        return active
    if active is not None and str(getattr(active, "mode", "pan_zoom")) != "pan_zoom":
        return None
    return _reference_image(viewer)


def _window_level_drag(viewer: Any, event: Any) -> Iterator[None]:
    """Right-drag: window and level of `_drag_target` (see `nvc_viewer.measure.drag_limits`)."""
    if getattr(event, "button", None) != 2 or getattr(event, "modifiers", None):
        return
    layer = _drag_target(viewer)
    if layer is None:
        return
    event.handled = True  # the camera does not zoom on this right-drag
    start = np.asarray(event.pos, dtype=float)
    limits = tuple(float(v) for v in layer.contrast_limits)
    value_range = tuple(float(v) for v in layer.contrast_limits_range)
    yield
    while event.type == "mouse_move":
        dx, dy = (np.asarray(event.pos, dtype=float) - start)[:2]
        layer.contrast_limits = drag_limits(limits, float(dx), float(dy), value_range)
        event.handled = True
        yield
    event.handled = True


def enable_window_level_drag(viewer: napari.Viewer) -> None:
    """Window/level by right-drag on ``viewer``'s canvas (once per viewer)."""
    viewer = getattr(viewer, "__wrapped__", viewer)
    if _window_level_drag not in viewer.mouse_drag_callbacks:
        viewer.mouse_drag_callbacks.append(_window_level_drag)


def measurements_layer(viewer: napari.Viewer) -> MeasurementsLayer:
    """The viewer's Measurements layer, made (on the T2's grid) if there is none."""
    for layer in viewer.layers:
        if isinstance(layer, MeasurementsLayer):
            return layer
    reference = _reference_image(viewer)
    kwargs: dict[str, Any] = {}
    if reference is not None and reference.ndim == 3:
        kwargs = {
            "scale": tuple(reference.scale),
            "translate": tuple(reference.translate),
            "edge_width": _LINE_WIDTH_MM / float(np.min(np.abs(reference.scale))),
        }
    layer = MeasurementsLayer(**kwargs)
    viewer.add_layer(layer)
    return layer


def _labels_layer(viewer: napari.Viewer) -> Any:
    """The label map's layer: the active Labels layer, else the case's, else the first."""
    active = viewer.layers.selection.active
    if isinstance(active, Labels):
        return active
    labels = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    for layer in labels:
        if layer.metadata.get("nvc_slot") == "labels" or layer.metadata.get("nvc_role") == "label":
            return layer
    return labels[0] if labels else None


def _swatch(hex_colour: str, size: int = 14) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(hex_colour))
    return pixmap


class DisplayToolsPanel(QWidget):
    """Window/level presets, ruler and angle, the structures' legend and brush.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        enable_window_level_drag(napari_viewer)
        layout = QVBoxLayout(self)

        # window / level
        box = QGroupBox("Window / level")
        inner = QVBoxLayout(box)
        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Preset ...", None)
        for preset in WINDOW_PRESETS:
            self.preset_combo.addItem(preset.name, preset)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, preset.text, Qt.ToolTipRole
            )
        self.preset_combo.activated.connect(self._on_preset)
        inner.addWidget(self.preset_combo)
        hint = QLabel(_DRAG_HINT)
        hint.setWordWrap(True)
        inner.addWidget(hint)
        layout.addWidget(box)

        # ruler and angle
        box = QGroupBox("Measure (mm, degrees)")
        inner = QVBoxLayout(box)
        row = QHBoxLayout()
        self.ruler_button = QPushButton("Ruler")
        self.ruler_button.setToolTip("Draw a line: its length in mm")
        self.angle_button = QPushButton("Angle")
        self.angle_button.setToolTip(_ANGLE_HINT)
        self.clear_button = QPushButton("Clear")
        self.ruler_button.clicked.connect(lambda: self.start("ruler"))
        self.angle_button.clicked.connect(lambda: self.start("angle"))
        self.clear_button.clicked.connect(self.clear_measurements)
        for button in (self.ruler_button, self.angle_button, self.clear_button):
            row.addWidget(button)
        inner.addLayout(row)
        self.measure_list = QListWidget()
        self.measure_list.setMaximumHeight(110)
        self.measure_list.currentRowChanged.connect(self._on_row)
        inner.addWidget(self.measure_list)
        layout.addWidget(box)

        # structures: brush and legend
        box = QGroupBox("Structures")
        inner = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Brush:"))
        self.brush_combo = QComboBox()
        self.brush_combo.addItem(QIcon(_swatch("#000000")), "background (erase)", 0)
        for value, info in LABELS.items():
            self.brush_combo.addItem(QIcon(_swatch(info.hex)), info.name, value)
        self.brush_combo.activated.connect(self._on_brush)
        row.addWidget(self.brush_combo, 1)
        inner.addLayout(row)
        legend = QGridLayout()
        legend.setHorizontalSpacing(6)
        legend.setVerticalSpacing(2)
        for n, (value, info) in enumerate(LABELS.items()):
            swatch = QLabel()
            swatch.setPixmap(_swatch(info.hex))
            text = QLabel(f"{info.name}  ({value})")
            legend.addWidget(swatch, n, 0)
            legend.addWidget(text, n, 1)
        legend.setColumnStretch(1, 1)
        inner.addLayout(legend)
        layout.addWidget(box)
        layout.addStretch(1)

        self._watched: list[tuple[Any, Callable[..., Any]]] = []  # (emitter, callback)
        napari_viewer.layers.events.inserted.connect(self._on_layers)
        napari_viewer.layers.events.removed.connect(self._on_layers)
        napari_viewer.layers.selection.events.active.connect(self._sync_brush)
        self._on_layers()

    # -- window / level --------------------------------------------------------------------
    def _on_preset(self, index: int) -> None:
        preset = self.preset_combo.itemData(index)
        if preset is not None:
            self.apply_preset(preset.name)

    def apply_preset(self, name: str) -> Any:
        """Apply the preset called ``name``; return the layer it windowed (or None)."""
        preset = next(p for p in WINDOW_PRESETS if p.name == name)
        self.preset_combo.setCurrentIndex(self.preset_combo.findText(name))
        layer = apply_preset(self.viewer, preset)
        if layer is None:
            self.viewer.status = f"{preset.name}: no {preset.role.upper()} image is open"
        return layer

    # -- measurements ----------------------------------------------------------------------
    def start(self, tool: str) -> MeasurementsLayer:
        """Make the Measurements layer active with the ``"ruler"`` (line) or ``"angle"`` (path)
        tool."""
        layer = measurements_layer(self.viewer)
        self.viewer.layers.selection.active = layer
        layer.mode = "add_line" if tool == "ruler" else "add_path"
        self.viewer.status = _ANGLE_HINT if tool == "angle" else "Ruler: drag along the distance"
        return layer

    def clear_measurements(self) -> None:
        """Remove every measurement."""
        for layer in self.viewer.layers:
            if isinstance(layer, MeasurementsLayer) and layer.nshapes:
                layer.selected_data = set(range(layer.nshapes))
                layer.remove_selected()

    def measurement_rows(self) -> list[str]:
        """The list's rows: ``"1. ruler: 12.3 mm"``."""
        return [self.measure_list.item(n).text() for n in range(self.measure_list.count())]

    def _refresh_list(self, event: Any = None) -> None:
        rows: list[str] = []
        for layer in self.viewer.layers:
            if isinstance(layer, MeasurementsLayer):
                for n, text in enumerate(layer.features["measurement"], start=1):
                    if text:
                        kind = "angle" if str(text).endswith("°") else "ruler"
                        rows.append(f"{n}. {kind}: {text}")
        if rows != self.measurement_rows():
            self.measure_list.blockSignals(True)
            self.measure_list.clear()
            self.measure_list.addItems(rows)
            self.measure_list.blockSignals(False)
        if rows and event is not None:
            self.viewer.status = f"{MEASUREMENTS_NAME}: {rows[-1]}"

    def _on_row(self, row: int) -> None:
        text = self.measure_list.item(row).text() if row >= 0 else ""
        for layer in self.viewer.layers:
            if isinstance(layer, MeasurementsLayer) and text:
                layer.selected_data = {int(text.split(".", 1)[0]) - 1}

    # -- structures ------------------------------------------------------------------------
    def _on_brush(self, index: int) -> None:
        self.set_brush(int(self.brush_combo.itemData(index)))

    def set_brush(self, value: int) -> Any:
        """Set the label layer's ``selected_label`` to ``value``; return the layer (or None)."""
        layer = _labels_layer(self.viewer)
        if layer is not None:
            layer.selected_label = value
        self._select_in_combo(value)
        return layer

    def _select_in_combo(self, value: int) -> None:
        index = self.brush_combo.findData(int(value))
        if index >= 0 and index != self.brush_combo.currentIndex():
            self.brush_combo.blockSignals(True)
            self.brush_combo.setCurrentIndex(index)
            self.brush_combo.blockSignals(False)

    def _sync_brush(self, event: Any = None) -> None:
        layer = _labels_layer(self.viewer)
        if layer is not None:
            self._select_in_combo(int(layer.selected_label))

    def _on_layers(self, event: Any = None) -> None:
        """Follow the measurement and label layers present (their events)."""
        for emitter, callback in self._watched:
            emitter.disconnect(callback)
        self._watched = []
        for layer in self.viewer.layers:
            if isinstance(layer, MeasurementsLayer):
                self._watched.append((layer.events.features, self._refresh_list))
            elif isinstance(layer, Labels):
                self._watched.append((layer.events.selected_label, self._sync_brush))
        for emitter, callback in self._watched:
            emitter.connect(callback)
        self._refresh_list()
        self._sync_brush()
