"""No redraw for a vispy transform set to the position it already has.

vispy's ``STTransform`` keeps its scale and translation in float32 but compares a new value with
them in float64 (``_set_st``): a position that float32 cannot hold exactly reads as a move every
time it is set again, and every canvas it is on is asked for another frame. napari sets the
position of each canvas overlay (the slice position, the edge letters) again at the draw after
any text change, from float64 sizes (``VispyCanvas._update_overlay_canvas_positions``), so each
move of the linked point drew every small view twice: the second frame, asked for during the
first, fell together with the next view's, or with the main canvas'.

`keep_still_transforms` makes ``_set_st`` compare what it would store (the value in float32):
a transform set to where it is stays quiet; a real move is drawn as before. A leaf of the
plugin's import graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["keep_still_transforms"]


def keep_still_transforms() -> bool:
    """Install the float32 comparison on vispy's ``STTransform`` (once); whether it is in place
    (False if this vispy has no ``_set_st`` to wrap)."""
    from vispy.visuals.transforms import STTransform

    set_st = getattr(STTransform, "_set_st", None)
    if set_st is None:
        return False
    if getattr(set_st, "_nvc_kept", False):
        return True

    def _set_st(self: Any, scale: Any = None, translate: Any = None, update: bool = True) -> None:
        # as vispy compares, but with the values it would store
        if scale is not None and np.all(np.asarray(scale, self._scale.dtype) == self._scale):
            scale = None
        if translate is not None and np.all(
            np.asarray(translate, self._translate.dtype) == self._translate
        ):
            translate = None
        if scale is None and translate is None:
            return
        set_st(self, scale=scale, translate=translate, update=update)

    _set_st._nvc_kept = True  # type: ignore[attr-defined]
    STTransform._set_st = _set_st  # type: ignore[method-assign]
    return True
