"""Open napari on a case (``nvc-viewer view``) or on the sample case (``nvc-viewer demo``).

Volumes are loaded through the core *before* a window opens, so a bad input ends as one
`NVCError` message on the command line rather than as an empty viewer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nvc_viewer.errors import NVCError
from nvc_viewer.geometry import DisplayGrid
from nvc_viewer.volume import Volume

from ._layers import AXIS_LABELS, LayerDataTuple, volume_to_layer_data
from ._reader import load_case_volumes

if TYPE_CHECKING:
    import napari

__all__ = ["view", "demo", "new_viewer", "add_layer_data", "show_axial_centre"]

# Canvas size of the headless screenshots, in pixels (height, width).
_SCREENSHOT_SIZE = (600, 600)


def new_viewer(*, show: bool = True, title: str = "nvc-viewer") -> napari.Viewer:
    """A napari viewer with the (S, P, L) axis labels of the display world."""
    import napari

    viewer = napari.Viewer(title=title, show=show)
    viewer.dims.axis_labels = AXIS_LABELS
    return viewer


def add_layer_data(viewer: napari.Viewer, layers: Sequence[LayerDataTuple]) -> list[Any]:
    """Add ``(data, kwargs, layer_type)`` tuples to ``viewer``; returns the new layers."""
    added = []
    for data, kwargs, layer_type in layers:
        added.append(getattr(viewer, f"add_{layer_type}")(data, **kwargs))
    viewer.dims.axis_labels = AXIS_LABELS
    return added


def _extra_layer(volume: Volume, grid: DisplayGrid) -> LayerDataTuple:
    return volume_to_layer_data(
        volume,
        name=volume.meta.description or None,
        reference_grid=grid,
        overlay=volume.meta.role == "tof",
    )


def view(
    paths: list[str],
    *,
    series: str | None = None,
    workspace: str | os.PathLike[str] | None = None,
) -> None:
    """Open napari with the nvc-viewer panels docked and the given inputs as one case.

    Parameters
    ----------
    paths : list of str
        DICOM folders / files or NIfTI files; may be empty (then the case panel picks one).
        The first one's reference volume (its T2 series when it holds several) sets the
        display grid; a TOF series in the same folder -- or, failing that, the first TOF among
        the further paths -- is fused over it; the volumes of further paths are resampled into
        that grid.
    series : str, optional
        Which series to open in each input (see `nvc_viewer.load`).
    workspace : path-like, optional
        Where findings are autosaved (``<workspace>/<case_id>/findings.json``) and restored
        from; default ``$NVC_VIEWER_WORKSPACE`` or ``~/nvc-viewer-workspace``.

    Raises
    ------
    NVCError
        When an input cannot be read (before any window opens), or on Linux without a display.
    """
    import napari

    from nvc_viewer.workspace import case_id_for

    from ._case_view import case_view_for
    from ._dock import dock_panels

    case = _case_for_paths(paths, series)
    _require_display("`xvfb-run -a nvc-viewer view PATH`")
    viewer = new_viewer(show=True)
    panels = dock_panels(viewer, workspace=workspace)
    if case is not None:
        t2, tof, extra = case
        case_view_for(viewer).open_case(
            t2, tof, case_id=case_id_for(paths[0]), input_path=paths[0], extra_layers=extra
        )
        panels.case.show_opened(paths[0])
    napari.run()


def _case_for_paths(
    paths: Sequence[str], series: str | None
) -> tuple[Volume, Volume | None, list[LayerDataTuple]] | None:
    """T2, TOF and the layers of further inputs on the T2 grid (see `view`)."""
    cases = [load_case_volumes(p, series=series) for p in paths]
    if not cases:
        return None
    t2, tof = cases[0]["t2"], cases[0]["tof"]
    assert t2 is not None
    others = [v for c in cases[1:] for v in (c["t2"], c["tof"]) if v is not None]
    if tof is None:
        tof = next((v for v in others if v.meta.role == "tof"), None)
        others = [v for v in others if v is not tof]
    if not others:
        return t2, tof, []
    from nvc_viewer.geometry import to_display

    _, grid = to_display(t2)
    return t2, tof, [_extra_layer(v, grid) for v in others]


def show_axial_centre(viewer: napari.Viewer) -> None:
    """2-D axial view (anterior up, patient's left on the right) through the data's centre."""
    viewer.dims.ndisplay = 2
    viewer.dims.order = (0, 1, 2)
    extent = np.asarray(viewer.layers.extent.world, dtype=float)
    centre = extent.mean(axis=0)
    viewer.dims.point = tuple(float(c) for c in centre)
    viewer.reset_view()


def _require_display(example: str) -> None:
    """Refuse early on Linux without a display: Qt would abort the whole process."""
    if sys.platform != "linux" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise NVCError(f"no display (DISPLAY is not set): run under a virtual X server, e.g. {example}")


def demo(*, headless: bool, out_dir: Path) -> dict[str, Path]:
    """Show the sample case; headless, write screenshots of it and close.

    Parameters
    ----------
    headless : bool
        True: no interaction. Renders the case (a display is still needed: on a machine
        without one run under ``xvfb-run``), writes ``screenshot_axial.png`` (2-D axial slice
        through the centre) and ``screenshot_3d.png`` (3-D rendering) into ``out_dir`` and
        closes. False: opens the viewer and returns when it is closed.
    out_dir : Path
        Output folder (created if missing).

    Returns
    -------
    dict of str to Path
        ``sample``: the sample input; headless also ``screenshot_axial`` and ``screenshot_3d``.

    Raises
    ------
    NVCError
        On Linux without a display (Qt would abort the process instead).
    """
    import napari

    from nvc_viewer.sample import sample_case_path

    from ._sample_data import sample_case

    _require_display("`xvfb-run -a nvc-viewer demo --headless`")
    layers = sample_case()
    result: dict[str, Path] = {"sample": sample_case_path()}
    if not headless:
        viewer = new_viewer(show=True, title="nvc-viewer demo")
        add_layer_data(viewer, layers)
        show_axial_centre(viewer)
        napari.run()
        return result

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        # show=True: under Xvfb a hidden viewer's screenshot is all black.
        viewer = new_viewer(show=True, title="nvc-viewer demo")
        stack.callback(viewer.close)
        add_layer_data(viewer, layers)
        show_axial_centre(viewer)
        axial = out_dir / "screenshot_axial.png"
        viewer.screenshot(str(axial), size=_SCREENSHOT_SIZE, canvas_only=True)
        viewer.dims.ndisplay = 3
        viewer.reset_view()
        camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9: viewer.scene.camera
        camera.angles = (0.0, -30.0, 60.0)  # oblique, so that depth reads in one picture
        camera.zoom *= 0.8  # the rotated box is wider than the fitted one
        rendering = out_dir / "screenshot_3d.png"
        viewer.screenshot(str(rendering), size=_SCREENSHOT_SIZE, canvas_only=True)
    result.update(screenshot_axial=axial, screenshot_3d=rendering)
    return result
