"""Legible tags of the findings and landmarks drawn over the images.

A finding is tagged with its number (its row in the findings table, counted from 1) in a dark
box with a border of the finding's colour, set off the contact and joined to it by a leader
line, so that neither the tag nor its line covers the contact. A landmark's name (RExP, RDP, TZ
with nerve and side) is tagged the same way only when the view is zoomed in far enough for it to
fit; otherwise it is read on hover (the Points layer's status and tooltip show its features).

Placement is greedy in screen pixels (`place_tags`): the findings first, then the landmarks,
each tag takes the first of a ring of candidate offsets around its point whose box overlaps no
tag placed before it and covers no marker. It is recomputed when the view zooms, the slice
changes or the plane turns. In 3-D only the findings' numbers are shown, spread the same way in
the plane of the screen; landmark names are never drawn in 3-D (hover instead).

The 2-D tags' Shapes layer is shown only while it holds tags: an empty layer drawn still costs
every paint its visuals. The first draw of the layer builds its shader programs (boxes, leaders,
text: 100-150 ms of the GUI thread, more than the tags' own drawing), so `MarkerTags.prepare`
makes it a moment after a case opens and has the canvas draw it once, empty, while the surgeon
looks at the case: neither the analysis' landmarks nor the first tag a move of the linked point
brings on screen pays for it.

The placement is plain numpy (no napari); `MarkerTags` draws it in a viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._held import HeldRedraw

__all__ = ["Marker", "MarkerTags", "place_tags", "tag_size_px", "TAG_FONT_SIZE"]

#: Font size of the tags' text (points, as napari's layer text).
TAG_FONT_SIZE = 12
#: The tags' box and text colours: a dark box reads over bright CSF and over dark tissue alike
#: (its coloured border tells it from a dark structure).
TAG_FACE = "#000000d9"
TAG_TEXT = "white"
#: Pixels of clear space between a marker's edge and its tag, and between two tags.
_CLEARANCE_PX = 6.0
_MARGIN_PX = 2.0
#: Candidate directions (screen x right, y down), the preferred first: up-right, then around.
_DIRECTIONS = np.array(
    [(1, -1), (1, 0), (1, 1), (0, -1), (0, 1), (-1, -1), (-1, 0), (-1, 1)], dtype=float
)
#: Rings of candidate distances (pixels beyond the clearance), nearest first.
_RINGS_PX = (0.0, 10.0, 24.0, 42.0, 66.0)
#: Landmark names are drawn in 2-D only from this zoom (screen pixels per mm) on, and only in
#: the two nearest rings; below it they are read on hover.
NAME_ZOOM_PX_PER_MM = 14.0
_NAME_RINGS = 2
_LEADER_PX = 1.5
_BORDER_PX = 1.5
#: In 3-D the tags are drawn this far (mm) towards the camera, in front of the surfaces.
_TOWARDS_CAMERA_MM = 15.0
#: How long (ms) `MarkerTags.prepare` shows the empty 2-D layer: time for a paint of the canvas.
_PREPARE_SHOWN_MS = 300


def tag_size_px(text: str, font_size: float = TAG_FONT_SIZE) -> tuple[float, float]:
    """Width and height (screen pixels) of a tag's box for ``text`` at ``font_size`` points.

    A generous estimate of napari's text (about 0.62 em a character, at 96 dpi), with padding.
    """
    em = font_size * 96.0 / 72.0
    return (max(len(text), 1) * 0.62 * em + 8.0, 1.2 * em + 4.0)


def _boxes_overlap(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    """Whether boxes (x0, y0, x1, y1) overlap, counting ``margin`` pixels around them."""
    return bool(
        a[0] < b[2] + margin
        and b[0] < a[2] + margin
        and a[1] < b[3] + margin
        and b[1] < a[3] + margin
    )


def _box_near_point(box: np.ndarray, point: np.ndarray, radius: float) -> bool:
    """Whether a box comes within ``radius`` pixels of a point."""
    nearest = np.clip(point, box[:2], box[2:])
    return bool(np.hypot(*(nearest - point)) < radius)


def _segment_hits_box(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> bool:
    """Whether the segment a-b passes through a box (sampled; leaders are short)."""
    t = np.linspace(0.0, 1.0, 24)[:, None]
    points = a + t * (b - a)
    inside = np.all((points > box[:2]) & (points < box[2:]), axis=1)
    return bool(inside.any())


def place_tags(
    anchors: np.ndarray,
    sizes: np.ndarray,
    obstacles: np.ndarray,
    obstacle_radii: np.ndarray,
    *,
    optional: Sequence[bool] | None = None,
    anchor_radii: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy placement of tag boxes around their points, in screen pixels.

    Parameters
    ----------
    anchors : (N, 2) ndarray
        Each tag's point (x right, y down, pixels), in the order they are placed (the most
        important first).
    sizes : (N, 2) ndarray
        Each tag's box width and height (pixels).
    obstacles : (M, 2) ndarray
        Points no tag may cover (every marker shown, the tags' own points among them).
    obstacle_radii : (M,) ndarray
        Each obstacle's radius (pixels): a tag keeps `_CLEARANCE_PX` beyond it.
    optional : sequence of bool, optional
        Tags that are left out (NaN) when they fit only far from their point; a tag not optional
        always gets a box, overlapping as little as it can when nothing is free.
    anchor_radii : (N,) ndarray, optional
        Radius of each tag's own marker (pixels); the first ring starts beyond it. Default 4.

    Returns
    -------
    (N, 4) ndarray
        Each tag's box (x0, y0, x1, y1) in pixels; NaN for an optional tag left out.
    """
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    obstacles = np.asarray(obstacles, dtype=float).reshape(-1, 2)
    obstacle_radii = np.asarray(obstacle_radii, dtype=float).reshape(-1)
    n = len(anchors)
    optional = [False] * n if optional is None else list(optional)
    anchor_radii = np.full(n, 4.0) if anchor_radii is None else np.asarray(anchor_radii, float)
    directions = _DIRECTIONS / np.linalg.norm(_DIRECTIONS, axis=1)[:, None]
    placed: list[np.ndarray] = []
    leaders: list[tuple[np.ndarray, np.ndarray]] = []
    out = np.full((n, 4), np.nan)
    for i in range(n):
        half = sizes[i] / 2.0
        best: tuple[float, np.ndarray] | None = None
        rings = _RINGS_PX[:_NAME_RINGS] if optional[i] else _RINGS_PX
        for ring in rings:
            for d in directions:
                # the box's nearest edge `ring` + clearance pixels beyond the marker's edge
                extent = abs(d[0]) * half[0] + abs(d[1]) * half[1]
                centre = anchors[i] + d * (anchor_radii[i] + _CLEARANCE_PX + ring + extent)
                box = np.concatenate([centre - half, centre + half])
                cost = sum(_boxes_overlap(box, other, _MARGIN_PX) for other in placed)
                cost += sum(
                    _box_near_point(box, p, r + _CLEARANCE_PX / 2)
                    for p, r in zip(obstacles, obstacle_radii)
                )
                start = anchors[i] + d * anchor_radii[i]
                cost += sum(_segment_hits_box(start, centre, other) for other in placed)
                cost += sum(_segment_hits_box(a, b, box) for a, b in leaders)
                if cost == 0:
                    best = (0.0, box)
                    break
                if best is None or cost < best[0]:
                    best = (float(cost), box)
            if best is not None and best[0] == 0.0:
                break
        assert best is not None
        if best[0] > 0 and optional[i]:
            continue
        out[i] = best[1]
        placed.append(best[1])
        centre = (best[1][:2] + best[1][2:]) / 2.0
        leaders.append((anchors[i], centre))
    return out


@dataclass(frozen=True)
class Marker:
    """A point to tag: its world position (mm, napari world axes), text, colour, radius."""

    world: np.ndarray
    text: str
    color: str
    radius_mm: float
    optional: bool  # a landmark name: drawn only where it fits


def _leader_start(anchor: np.ndarray, box: np.ndarray, radius: float) -> np.ndarray:
    """The leader's start on the marker's edge, towards the box's centre."""
    centre = (box[:2] + box[2:]) / 2.0
    d = centre - anchor
    length = float(np.hypot(*d))
    return anchor if length == 0 else anchor + d / length * radius


def _leader_end(anchor: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The point of the box's border nearest the marker (where the leader meets it)."""
    return np.clip(anchor, box[:2], box[2:])


class MarkerTags:
    """Draws the tags of a `CaseView`'s findings and landmarks, kept placed as the view moves.

    Two layers, made on first use: a Shapes layer of boxes (with their text) and leader lines
    for the 2-D views, and a Points layer of numbered square tags for the 3-D view.

    Parameters
    ----------
    view : CaseView
        The case view (``viewer``, ``reference``, ``transform``, ``_insert_below_points``,
        ``_keeping_selection``, ``_later``); not imported here, `._case_view` imports this
        module.
    """

    def __init__(self, view: Any) -> None:
        self.view = view
        self.markers: list[Marker] = []
        self.layer: Any = None  # 2-D: Shapes (leaders and boxes)
        self.layer_3d: Any = None  # 3-D: Points (numbered squares)
        #: What was drawn last: each tag's text and box in screen pixels (x0, y0, x1, y1), and
        #: each marker's screen position and radius (pixels); for the tests and for reading.
        self.drawn: list[tuple[str, np.ndarray]] = []
        self.drawn_markers: list[tuple[str, np.ndarray, float]] = []
        self._redraw = HeldRedraw(self.update)
        viewer = view.viewer
        camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9
        self._camera = camera
        camera.events.zoom.connect(self.update)
        camera.events.angles.connect(self._update_3d_only)
        viewer.dims.events.point.connect(self._on_point)
        #: The slice the 2-D tags were last drawn on: (hidden axis, its slice index).
        self._slice: tuple[int, int] | None = None
        viewer.dims.events.order.connect(self.update)
        viewer.dims.events.ndisplay.connect(self.update)

    # -- what to tag ----------------------------------------------------------------------
    def set_markers(self, markers: Sequence[Marker]) -> None:
        """Tag these markers (the findings, numbered, then the landmarks) and draw them."""
        self.markers = list(markers)
        self.update()

    def prepare(self) -> None:
        """Make the 2-D tags layer ahead of need and have the canvas draw it once, empty.

        The layer's first draw builds its shader programs (see the module); done a moment
        after the case opens, it is not paid when the first tags come. The empty layer is
        shown for `_PREPARE_SHOWN_MS`, then hidden again unless tags were drawn meanwhile
        (a layer kept from a case opened before is drawn once more: a paint of nothing).
        """
        view = self.view
        if view.reference is None:
            return
        layer = self._ensure_layer()
        if not layer.visible and layer.nshapes == 0:
            layer.visible = True
            view._later(_PREPARE_SHOWN_MS, self._hide_if_empty)

    def _hide_if_empty(self) -> None:
        if self.layer is not None and self.layer.nshapes == 0:
            self.layer.visible = False

    # -- drawing --------------------------------------------------------------------------
    def _update_3d_only(self, event: Any = None) -> None:
        if self.view.viewer.dims.ndisplay == 3:
            self.update()

    def _on_point(self, event: Any = None) -> None:
        # the tags depend on the slice only: a move of the point within it changes nothing
        dims = self.view.viewer.dims
        if dims.ndisplay == 3:
            return
        if self._slice is None or self._slice != self._slice_shown():
            self.update()

    def _slice_shown(self) -> tuple[int, int] | None:
        """The 2-D view's slice: (hidden axis, slice index), or None in 3-D."""
        dims = self.view.viewer.dims
        hidden = [a for a in range(len(dims.point)) if a not in dims.displayed]
        return (hidden[0], int(dims.current_step[hidden[0]])) if len(hidden) == 1 else None

    def held(self) -> AbstractContextManager[None]:
        """Draw the tags once, at the end, however many changes the block makes (a selected
        finding: its marker, the slice, the centre and the zoom)."""
        return self._redraw.held()

    def update(self, event: Any = None) -> None:
        """Place and draw the tags for the view as it is now."""
        if not self._redraw.due():
            return
        view = self.view
        if view.reference is None:
            return
        markers = self.markers
        if not markers and self.layer is None and self.layer_3d is None:
            return
        if view.viewer.dims.ndisplay == 3:
            self._draw_2d([])
            self._draw_3d([m for m in markers if not m.optional])
        else:
            self._draw_3d([])
            self._draw_2d(markers)

    def _screen_basis(self) -> tuple[list[int], np.ndarray]:
        """Displayed world axes and the (2, 2) map from their mm to screen pixels (x, y)."""
        dims = self.view.viewer.dims
        displayed = list(dims.displayed)
        zoom = float(self._camera.zoom)
        vertical, horizontal = getattr(self._camera, "orientation2d", ("down", "right"))
        sy = zoom if vertical == "down" else -zoom
        sx = zoom if horizontal == "right" else -zoom
        return displayed, np.array([[0.0, sx], [sy, 0.0]])  # rows: x, y; columns: row, col axes

    def _draw_2d(self, markers: list[Marker]) -> None:
        view = self.view
        viewer = view.viewer
        if not markers and self.layer is None:
            return
        displayed, to_px = self._screen_basis()
        (hidden,) = [a for a in range(3) if a not in displayed] or [None]
        point = np.asarray(viewer.dims.point, dtype=float)
        scale = np.asarray(view.reference.scale, dtype=float)
        self._slice = self._slice_shown()
        if hidden is not None:
            half = 0.5 * scale[hidden]
            markers = [m for m in markers if abs(m.world[hidden] - point[hidden]) <= half]
        if not markers and not self.drawn_markers and self._ensure_layer().nshapes == 0:
            return  # no tag on this slice nor on the last: nothing to draw
        zoom = float(self._camera.zoom)
        px = np.array([to_px @ m.world[displayed] for m in markers]).reshape(-1, 2)
        radii = np.array([m.radius_mm * zoom for m in markers])
        show_names = zoom >= NAME_ZOOM_PX_PER_MM
        index = [k for k, m in enumerate(markers) if show_names or not m.optional]
        chosen = [markers[k] for k in index]
        boxes = place_tags(
            px[index] if chosen else np.zeros((0, 2)),
            np.array([tag_size_px(m.text) for m in chosen]).reshape(-1, 2),
            px,
            radii,
            optional=[m.optional for m in chosen],
            anchor_radii=radii[index] if chosen else None,
        )
        back = np.linalg.inv(to_px)

        def world(p: np.ndarray) -> np.ndarray:
            w = point.copy()
            w[displayed] = back @ p
            return w

        lines, rects, texts, colors = [], [], [], []
        self.drawn = []
        self.drawn_markers = [(m.text, px[k], radii[k]) for k, m in enumerate(markers)]
        for m, k, box in zip(chosen, index, boxes):
            if np.isnan(box).any():
                continue
            self.drawn.append((m.text, box))
            start = _leader_start(px[k], box, radii[k])
            lines.append(np.array([world(start), world(_leader_end(px[k], box))]))
            corners = [box[[0, 1]], box[[2, 1]], box[[2, 3]], box[[0, 3]]]
            rects.append(np.array([world(c) for c in corners]))
            texts.append(m.text)
            colors.append(m.color)
        self._set_shapes(lines, rects, texts, colors, zoom)

    def _set_shapes(
        self,
        lines: list[np.ndarray],
        rects: list[np.ndarray],
        texts: list[str],
        colors: list[str],
        zoom: float,
    ) -> None:
        view = self.view
        transform = view.transform
        scale, translate = np.asarray(transform["scale"]), np.asarray(transform["translate"])
        data = [((w - translate) / scale, "line") for w in lines]
        data += [((w - translate) / scale, "rectangle") for w in rects]
        layer = self._ensure_layer()
        # one redraw: the shapes with their widths, colours and text added together, not a
        # refresh of the layer for every property set
        unit = zoom * float(np.min(scale))
        with layer.events.blocker_all():
            layer.data = []
            if data:
                layer.add(
                    [d for d, _ in data],
                    shape_type=[kind for _, kind in data],
                    edge_width=[_LEADER_PX / unit] * len(lines) + [_BORDER_PX / unit] * len(rects),
                    edge_color=colors + colors,
                    face_color=["transparent"] * len(lines) + [TAG_FACE] * len(rects),
                )
            layer.features = {"text": [""] * len(lines) + texts}
        if layer.visible != bool(data):  # napari redraws the canvas' scene on every set
            layer.visible = bool(data)
        layer.refresh()

    def _ensure_layer(self) -> Any:
        view = self.view
        if self.layer is not None and self.layer in view.viewer.layers:
            return self.layer
        from napari.layers import Shapes

        layer = Shapes(
            ndim=3,
            name="finding and landmark tags",
            features={"text": []},
            text={
                "string": "{text}",
                "color": TAG_TEXT,
                "size": TAG_FONT_SIZE,
                "anchor": "center",
            },
            opacity=1.0,
            visible=False,  # shown by `_set_shapes` while it holds tags
            metadata={"nvc_role": "tags"},
            **view.transform,
        )
        layer.editable = False
        view._insert_below_points(layer)
        self.layer = layer
        return layer

    def _draw_3d(self, markers: list[Marker]) -> None:
        view = self.view
        if not markers and self.layer_3d is None:
            return
        layer = self._ensure_layer_3d()
        if not markers:
            layer.data = np.zeros((0, 3))
            layer.visible = False
            return
        camera = self._camera
        zoom = float(camera.zoom)
        displayed = list(view.viewer.dims.displayed)
        forward = np.asarray(camera.view_direction, dtype=float)
        up = np.asarray(camera.up_direction, dtype=float)
        right = np.cross(forward, up)
        right /= np.linalg.norm(right) or 1.0
        up = np.cross(right, forward)
        to_px = np.array([right, -up]) * zoom  # (2, 3): displayed mm -> screen x, y (pixels)
        px = np.array([to_px @ m.world[displayed] for m in markers])
        radii = np.array([m.radius_mm * zoom for m in markers])
        sizes = np.array([tag_size_px(m.text) for m in markers])
        side = sizes.max(axis=1)  # square tags
        boxes = place_tags(px, np.stack([side, side], axis=1), px, radii, anchor_radii=radii)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        pinv = np.linalg.pinv(to_px)
        worlds = []
        for m, c, p in zip(markers, centres, px):
            w = m.world.copy()
            w[displayed] = m.world[displayed] + pinv @ (c - p) - forward * _TOWARDS_CAMERA_MM
            worlds.append(w)
        self.drawn = [(m.text, b) for m, b in zip(markers, boxes)]
        self.drawn_markers = [(m.text, px[k], radii[k]) for k, m in enumerate(markers)]
        scale = np.asarray(view.transform["scale"])
        translate = np.asarray(view.transform["translate"])
        layer.data = (np.array(worlds) - translate) / scale
        layer.features = {"text": [m.text for m in markers]}
        layer.size = side / zoom / float(np.min(scale))
        layer.border_color = [m.color for m in markers]
        layer.visible = True

    def _ensure_layer_3d(self) -> Any:
        view = self.view
        if self.layer_3d is not None and self.layer_3d in view.viewer.layers:
            return self.layer_3d
        from napari.layers import Points

        layer = Points(
            np.zeros((0, 3)),
            name="finding numbers (3-D)",
            features={"text": []},
            symbol="square",
            face_color=TAG_FACE,
            border_width=0.08,
            text={
                "string": "{text}",
                "color": TAG_TEXT,
                "size": TAG_FONT_SIZE,
                "anchor": "center",
            },
            metadata={"nvc_role": "tags-3d"},
            **view.transform,
        )
        layer.editable = False
        with view._keeping_selection():
            view.viewer.layers.append(layer)
        self.layer_3d = layer
        return layer
