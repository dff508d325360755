"""The 3-D camera presets: the surgeon's retrosigmoid view, the six anatomical views, and the
3-D overview centred on the finding or the root exit zone.

The geometry is the core's (`nvc_viewer.orientation`: `surgeon_view`, `anatomical_view`, the
un-mirrored orientation, the Euler angles and the zoom); this module picks the point to look at
from the open case and hands the numbers to napari's camera.

What the camera looks at, for one side: the selected finding when it is on that side, else the
side's facial-nerve root detachment point (RDP), else its root exit point (RExP), else the
brainstem's lateral surface at the height of the current point (a case not analysed yet but
with a label map), else the current centre.

The cerebellum is not segmented and the CSF is not drawn as a surface (`._surfaces`), so nothing
stands between the retrosigmoid eye and the cerebellopontine angle but the brainstem, which is
drawn translucent; in the surgeon's view it is made fainter still (`SURGEON_BRAINSTEM_OPACITY`),
so that a vessel behind the pons' lateral bulge shows through, and given back its opacity by
any other preset.

The surfaces are lit by a head light (`install_head_light`): from behind the camera, above and
to the left of the line of sight, whichever way the camera turns. napari's own light is set for
its default (mirrored) axes; with the patient's own handedness (`._case_view`) it came from in
front of the surfaces, which showed them nearly black.
"""

from __future__ import annotations

import weakref
from typing import Any, Literal

import numpy as np

from nvc_viewer.findings import is_offending
from nvc_viewer.geometry import apply_affine
from nvc_viewer.labels import BRAINSTEM
from nvc_viewer.orientation import (
    OVERVIEW_FIELD_MM,
    SURGEON_FIELD_MM,
    UP_3D_SPL,
    VIEW_3D_SPL,
    CameraView,
    anatomical_view,
    camera_view,
    napari_camera_angles,
    surgeon_view,
    unmirrored_orientation,
    zoom_for_field,
)

#: A `._case_view.CaseView` (not imported: the case view imports this module, never the
#: other way round).
CaseView = Any

__all__ = [
    "SURGEON_BRAINSTEM_OPACITY",
    "point_camera",
    "side_target",
    "overview_target",
    "show_surgeon_view",
    "show_anatomical_view",
    "show_overview",
    "head_light",
    "install_head_light",
]

#: The brainstem surface's opacity in the surgeon's view (0.45 otherwise: `._case_view`).
SURGEON_BRAINSTEM_OPACITY = 0.25
_BRAINSTEM_OPACITY = 0.45
#: Half the thickness (mm) of the slab of brainstem whose lateral surface stands in for a
#: missing root exit zone.
_SLAB_HALF_MM = 1.5


def _camera(view: CaseView) -> Any:
    return getattr(view.viewer, "scene", view.viewer).camera  # napari >= 0.9


def _canvas_px(view: CaseView) -> tuple[int, int]:
    canvas = getattr(view.viewer, "canvas", None)
    if canvas is not None and hasattr(canvas, "viewbox_size"):
        size = canvas.viewbox_size(view.viewer.layers)
    else:  # pragma: no cover - older napari
        size = view.viewer._canvas_size
    height, width = (int(round(float(v))) for v in size)
    return (height, width)


def point_camera(
    view: CaseView,
    camera: CameraView,
    centre_ras: np.ndarray | None,
    field_mm: float | None,
) -> None:
    """Turn the 3-D view to ``camera``, centred on ``centre_ras`` (None: the current centre),
    ``field_mm`` across the canvas's smaller side (None: the current zoom).

    Switches to 3-D first; the camera's axes orientation is made the patient's own handedness
    (not mirrored) before the angles are set.
    """
    viewer = view.viewer
    if viewer.dims.ndisplay != 3:
        viewer.dims.ndisplay = 3
    cam = _camera(view)
    displayed = [int(a) for a in viewer.dims.order[-3:]]
    orientation = unmirrored_orientation(displayed, tuple(str(o) for o in cam.orientation))
    if tuple(str(o) for o in cam.orientation) != orientation:
        cam.orientation = orientation
    cam.angles = napari_camera_angles(camera, displayed, orientation)
    if centre_ras is not None:
        view.centre_on(centre_ras)
    if field_mm is not None:
        cam.zoom = zoom_for_field(field_mm, _canvas_px(view))
    _set_brainstem_opacity(
        view, SURGEON_BRAINSTEM_OPACITY if camera.name.startswith("surgeon") else None
    )


def _set_brainstem_opacity(view: CaseView, opacity: float | None) -> None:
    for layer in view.surface_layers:
        if layer.metadata.get("nvc_group") == "brainstem":
            layer.opacity = _BRAINSTEM_OPACITY if opacity is None else opacity


def _lateral_brainstem_point(view: CaseView, side: str) -> np.ndarray | None:
    """The brainstem's lateral surface on ``side`` at the height (S) of the current point."""
    labels, grid = view.session.labels, view.session.grid
    if labels is None or grid is None:
        return None
    mask = np.asarray(labels.data) == BRAINSTEM
    if not mask.any():
        return None
    voxels = np.argwhere(mask)
    if len(voxels) > 200_000:  # a sample is enough for an extreme and a mean
        voxels = voxels[:: len(voxels) // 200_000 + 1]
    ras = apply_affine(labels.affine, voxels.astype(np.float64))
    height = float(grid.display_to_ras(np.asarray(view.viewer.dims.point, dtype=float))[2])
    near = np.abs(ras[:, 2] - height) <= _SLAB_HALF_MM
    if not near.any():
        nearest = float(ras[np.argmin(np.abs(ras[:, 2] - height)), 2])
        near = np.abs(ras[:, 2] - nearest) <= _SLAB_HALF_MM
    slab = ras[near]
    lateral = -slab[:, 0] if side == "left" else slab[:, 0]  # towards L on the left side
    edge = slab[lateral >= np.quantile(lateral, 0.98)]
    return np.asarray(edge.mean(axis=0), dtype=np.float64)


def side_target(view: CaseView, side: Literal["left", "right"]) -> tuple[np.ndarray, str] | None:
    """The point the surgeon's view of ``side`` looks at, and what it is (see the module).

    None when the case offers nothing on that side (no finding, landmark or label map).
    """
    case = view.session.findings
    if case is None:
        return None
    if view.selected_id is not None:
        finding = next((f for f in case.findings if f.id == view.selected_id), None)
        if finding is not None and finding.side == side:
            return np.asarray(finding.position_ras, dtype=np.float64), "the selected finding"
    for name in ("RDP", "RExP"):
        for landmark in case.landmarks:
            if landmark.nerve == "VII" and landmark.side == side and landmark.name == name:
                return np.asarray(landmark.position_ras, dtype=np.float64), f"the VII {name}"
    point = _lateral_brainstem_point(view, side)
    if point is not None:
        return point, "the brainstem's lateral surface"
    return None


def overview_target(view: CaseView) -> tuple[np.ndarray, str] | None:
    """The point the 3-D overview looks at: the selected finding, else the facial root exit
    zone of the symptomatic side, of the side of a compressing finding, or of either side."""
    case = view.session.findings
    if case is None:
        return None
    if view.selected_id is not None:
        finding = next((f for f in case.findings if f.id == view.selected_id), None)
        if finding is not None:
            return np.asarray(finding.position_ras, dtype=np.float64), "the selected finding"
    sides: list[str] = []
    symptomatic = case.clinical.symptomatic_side
    if symptomatic in ("left", "right"):
        sides.append(symptomatic)
    sides += [f.side for f in case.findings if is_offending(f) and f.nerve == "VII"]
    sides += ["left", "right"]
    for side in dict.fromkeys(sides):
        for name in ("RDP", "RExP"):
            for landmark in case.landmarks:
                if landmark.nerve == "VII" and landmark.side == side and landmark.name == name:
                    return np.asarray(landmark.position_ras, dtype=np.float64), f"the VII {name}"
    return None


def show_surgeon_view(view: CaseView, side: Literal["left", "right"]) -> str:
    """The retrosigmoid surgeon's view of ``side``: from behind, lateral and a little above the
    root exit zone, towards it, about `SURGEON_FIELD_MM` across. Returns what it looks at."""
    target = side_target(view, side)
    point_camera(
        view,
        surgeon_view(side),
        None if target is None else target[0],
        SURGEON_FIELD_MM,
    )
    return "the current centre" if target is None else target[1]


def show_anatomical_view(view: CaseView, name: str) -> None:
    """The 3-D view from one of the six anatomical directions, centred where it was."""
    point_camera(view, anatomical_view(name), None, None)


def show_overview(view: CaseView) -> str:
    """The 3-D view from the front and a little below, superior up, centred on the selected
    finding or the root exit zone and `OVERVIEW_FIELD_MM` across; the whole volume when the
    case has neither. Returns what it looks at."""
    from nvc_viewer.geometry import RAS_TO_SPL

    target = overview_target(view)
    spl_to_ras = np.linalg.inv(RAS_TO_SPL)[:3, :3]
    default = camera_view(
        "front", spl_to_ras @ np.asarray(VIEW_3D_SPL), spl_to_ras @ np.asarray(UP_3D_SPL)
    )
    if target is None:
        if view.viewer.dims.ndisplay != 3:
            view.viewer.dims.ndisplay = 3
        view.viewer.reset_view()
        point_camera(view, default, None, None)
        return "the whole volume"
    point_camera(view, default, target[0], OVERVIEW_FIELD_MM)
    return target[1]


def head_light(node: Any) -> np.ndarray | None:
    """The direction the head light's rays travel, in a vispy node's scene coordinates: along
    the line of sight, downward and to the right on the screen (a light behind the camera,
    above and to the left). From the node's scene -> render transform, so whatever napari's
    camera axes; None when the node is not drawn in a view."""
    try:
        transform = node.get_transform("scene", "render")
    except Exception:  # noqa: BLE001 - not in a scene yet
        return None

    def unmap(p: tuple[float, float, float]) -> np.ndarray:
        q = np.asarray(transform.imap(np.asarray(p, dtype=np.float64)), dtype=np.float64)
        return q[:3] / q[3]

    origin = unmap((0.0, 0.0, 0.0))
    into = unmap((0.0, 0.0, 0.5)) - origin  # render depth grows away from the eye
    up = unmap((0.0, 0.1, 0.0)) - origin
    right = unmap((0.1, 0.0, 0.0)) - origin
    vectors = [v / np.linalg.norm(v) for v in (into, up, right)]
    if not all(np.all(np.isfinite(v)) for v in vectors):
        return None
    into, up, right = vectors
    rays = into - up + right
    return np.asarray(rays / np.linalg.norm(rays), dtype=np.float64)


def install_head_light(viewer: Any, layers: Any) -> None:
    """Keep the surfaces ``layers()`` (a callable) of ``viewer`` lit by the head light (see
    the module): after napari sets its light on every turn of the camera, and on entering 3-D.
    Nothing for a viewer without a canvas."""
    qt_viewer = getattr(getattr(viewer, "window", None), "_qt_viewer", None)
    canvas = getattr(qt_viewer, "canvas", None)
    if canvas is None or not hasattr(canvas, "layer_to_visual"):
        return
    canvas_ref = weakref.ref(canvas)

    def relight(event: Any = None) -> None:
        canvas = canvas_ref()
        if canvas is None or viewer.dims.ndisplay != 3:
            return
        for layer in layers():
            visual = canvas.layer_to_visual.get(layer)
            node = getattr(visual, "node", None)
            shading = getattr(node, "shading_filter", None)
            if shading is None:
                continue
            rays = head_light(node)
            if rays is None:
                continue
            visual._light_direction = rays  # napari re-applies it when the shading changes
            shading.light_dir = rays
            node.update()

    camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9
    # after napari's own handlers (which set its light)
    camera.events.view_direction.connect(relight, position="last")
    camera.events.orientation.connect(relight, position="last")
    viewer.dims.events.ndisplay.connect(relight, position="last")
    viewer.layers.events.inserted.connect(relight, position="last")
