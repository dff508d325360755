"""Orientation on the canvas: patient letters on the edges of a 2-D view, the slice position,
the patient axes in 3-D.

The strings come from the core (`nvc_viewer.orientation`); this module only draws them, as
napari canvas text overlays (one per edge, one for the slice) and napari's canvas axes overlay
(labelled with the display world's axis names S, P, L: each arrow points to that patient
direction). A leaf of the plugin's import graph: it imports nothing of the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nvc_viewer.geometry import DisplayGrid, apply_affine
from nvc_viewer.orientation import EdgeLetters, edge_letters, format_slice

if TYPE_CHECKING:
    import napari

__all__ = ["EDGE_OVERLAYS", "SLICE_OVERLAY", "OrientationOverlay", "canvas_overlays"]

#: Canvas overlay key of each edge's letters and where napari puts it.
EDGE_OVERLAYS: dict[str, tuple[str, str]] = {
    "top": ("nvc_orientation_top", "top_center"),
    "bottom": ("nvc_orientation_bottom", "bottom_center"),
    "left": ("nvc_orientation_left", "middle_left"),
    "right": ("nvc_orientation_right", "middle_right"),
}
#: Canvas overlay key of the slice position ("Axial  I 33.8 mm"), in the top-left corner.
SLICE_OVERLAY = "nvc_slice_position"
# Letters in a soft yellow, larger than napari's default text, as in Slicer's slice views.
_LETTER_COLOR = "#ffd866"
_LETTER_SIZE = 14
_SLICE_SIZE = 11


def canvas_overlays(viewer: napari.Viewer) -> Any:
    """The viewer's canvas overlays (``viewer.canvas.overlays``, napari >= 0.9), else None."""
    return getattr(getattr(viewer, "canvas", None), "overlays", None)


class OrientationOverlay:
    """Keeps a viewer's orientation overlays up to date with the displayed plane.

    Parameters
    ----------
    viewer : napari.Viewer
    grid : callable
        Returns the shown case's `DisplayGrid`, or None when no case is shown (then nothing is
        drawn).
    """

    def __init__(self, viewer: napari.Viewer, grid: Callable[[], DisplayGrid | None]) -> None:
        self.viewer = viewer
        self._grid = grid
        self.letters: EdgeLetters | None = None
        overlays = canvas_overlays(viewer)
        self._enabled = overlays is not None
        if not self._enabled:
            return
        from napari.components.overlays import TextOverlay

        for key, position in EDGE_OVERLAYS.values():
            if key not in overlays:
                overlays[key] = TextOverlay(
                    position=position,
                    color=_LETTER_COLOR,
                    font_size=_LETTER_SIZE,
                    box=False,
                    visible=False,
                )
        if SLICE_OVERLAY not in overlays:
            overlays[SLICE_OVERLAY] = TextOverlay(
                position="top_left", font_size=_SLICE_SIZE, box=True, visible=False
            )
        camera = getattr(viewer, "scene", viewer).camera
        viewer.dims.events.order.connect(self.update)
        viewer.dims.events.ndisplay.connect(self.update)
        viewer.dims.events.point.connect(self.update_slice)
        camera.events.orientation.connect(self.update)
        viewer.layers.events.inserted.connect(self.update)
        viewer.layers.events.removed.connect(self.update)
        viewer.events.reset_view.connect(self.update)  # a case drawn (`show_axial_centre`)

    def overlay(self, edge: str) -> Any:
        """The text overlay of an edge (``"top"``, ``"bottom"``, ``"left"``, ``"right"``)."""
        return canvas_overlays(self.viewer)[EDGE_OVERLAYS[edge][0]]

    @property
    def slice_overlay(self) -> Any:
        """The text overlay of the slice position."""
        return canvas_overlays(self.viewer)[SLICE_OVERLAY]

    def update(self, event: Any = None) -> None:
        """Redraw the edge letters, the slice position and the 3-D axes for the current view."""
        if not self._enabled:
            return
        grid = self._grid()
        two_d = self.viewer.dims.ndisplay == 2
        letters = None
        if grid is not None and two_d and len(self.viewer.dims.displayed) == 2:
            camera = getattr(self.viewer, "scene", self.viewer).camera
            vertical, horizontal = (str(v) for v in camera.orientation2d)
            letters = edge_letters(
                grid.affine_ras,
                tuple(self.viewer.dims.displayed),  # type: ignore[arg-type]
                vertical=vertical,  # type: ignore[arg-type]
                horizontal=horizontal,  # type: ignore[arg-type]
            )
        self.letters = letters
        for edge in EDGE_OVERLAYS:
            overlay = self.overlay(edge)
            text = getattr(letters, edge) if letters is not None else ""
            overlay.text = text
            overlay.visible = bool(text)
        axes = canvas_overlays(self.viewer).get("axes")
        if axes is not None:
            # In 3-D the patient axes (S, P, L arrows) turn with the camera; in 2-D the edge
            # letters say the same.
            axes.visible = grid is not None and not two_d
        self.update_slice()

    def update_slice(self, event: Any = None) -> None:
        """Show the slice position along its normal (2-D only): ``Axial  I 33.8 mm``."""
        if not self._enabled:
            return
        overlay = self.slice_overlay
        grid = self._grid()
        dims = self.viewer.dims
        point = np.asarray(dims.point, dtype=np.float64)
        if grid is None or dims.ndisplay != 2 or point.size != 3 or len(dims.not_displayed) != 1:
            overlay.text, overlay.visible = "", False
            return
        axis = int(dims.not_displayed[0])
        # the slice napari shows: the nearest voxel plane of the reference grid
        index = grid.display_to_index(point)
        index[axis] = np.clip(np.rint(index[axis]), 0, grid.shape[axis] - 1)
        overlay.text = format_slice(grid.affine_ras, axis, apply_affine(grid.affine_ras, index))
        overlay.visible = True
