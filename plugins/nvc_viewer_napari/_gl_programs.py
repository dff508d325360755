"""Keep the shader programs of vispy's meshes across new data.

vispy's ``MeshVisual`` makes a new colour function for its shader on every new mesh data
(``_build_color_transform``), and a new function is new shader code: the program is compiled and
linked again at the next draw (vispy issue 2568). Every view's crosshair (a vectors layer),
every text box of the canvas overlays (the slice position) and every shapes layer (the tags over
the image) is such a mesh, so each move of the linked point compiled a few programs per canvas,
which with a software OpenGL renderer is most of a small view's frame.

`keep_mesh_programs` makes a mesh with plain colours (not mapped through a colormap) keep its
first colour function: the shader code stays the same, new data is new buffers only. A mesh whose
values go through a colormap builds its function as vispy does. A leaf of the plugin's import
graph.
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["keep_mesh_programs"]

# mesh visual -> its plain colour function (weakly: goes with the visual)
_PLAIN: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def keep_mesh_programs() -> bool:
    """Install the kept colour function on vispy's ``MeshVisual`` (once); whether it is in
    place (False if this vispy has no ``_build_color_transform`` to wrap)."""
    from vispy.visuals.mesh import MeshVisual

    build = getattr(MeshVisual, "_build_color_transform", None)
    if build is None:
        return False
    if getattr(build, "_nvc_kept", False):
        return True

    def _build_color_transform(self: Any, colors: Any) -> Any:
        if getattr(colors, "ndim", 1) == 2 and colors.shape[1] == 1:
            return build(self, colors)  # values through a colormap: vispy's own
        kept = _PLAIN.get(self)
        if kept is None:
            kept = _PLAIN[self] = build(self, colors)
        return kept

    _build_color_transform._nvc_kept = True  # type: ignore[attr-defined]
    MeshVisual._build_color_transform = _build_color_transform  # type: ignore[method-assign]
    return True
