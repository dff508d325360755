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

from nvc_viewer.errors import NVCError
from nvc_viewer.geometry import DisplayGrid
from nvc_viewer.volume import Volume

from ._layers import LayerDataTuple, volume_to_layer_data
from ._reader import load_case_volumes
from ._viewer import dismiss_notifications, new_viewer

if TYPE_CHECKING:
    import napari

__all__ = ["view", "demo", "open_workspace"]

# Window size of the headless demo, in pixels (width, height).
_WINDOW_SIZE = (1400, 900)


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

    _require_display("`xvfb-run -a nvc-viewer view PATH`")
    open_workspace(paths, series=series, workspace=workspace)
    napari.run()


def open_workspace(
    paths: list[str],
    *,
    series: str | None = None,
    workspace: str | os.PathLike[str] | None = None,
    title: str = "nvc-viewer",
    case_id: str | None = None,
) -> tuple[napari.Viewer, Any]:
    """A shown viewer with the panels docked and ``paths`` open as one case (see `view`).

    ``case_id`` names the case in the workspace (default: from the first path's name).

    Returns
    -------
    viewer : napari.Viewer
    panels : WorkspaceWidget
        The docked panels (``.case``, ``.analysis``, ``.findings``).
    """
    from nvc_viewer.workspace import case_id_for

    from ._case_view import case_view_for
    from ._dock import dock_panels

    case = _case_for_paths(paths, series)
    use_cached_units()
    viewer = new_viewer(show=True, title=title)  # looked up here: tests and benchmarks wrap it
    panels = dock_panels(viewer, workspace=workspace)
    if case is not None:
        t2, tof, extra = case
        case_view_for(viewer).open_case(
            t2,
            tof,
            case_id=case_id or case_id_for(paths[0]),
            input_path=paths[0],
            extra_layers=extra,
        )
        panels.case.show_opened(paths[0])
    return viewer, panels


def use_cached_units() -> None:
    """Let pint read its unit definitions from its disk cache (a few hundredths of a second)
    instead of parsing them (a quarter of a second) when napari makes the first layer.

    Called by the command line's viewer (`open_workspace`), whose process it is: a viewer the
    plugin is docked into keeps the registry it has. napari gives every layer units from pint's
    application registry, which pint builds on first use by parsing its definitions file.
    While it is not built yet -- so that no unit of it exists -- it is replaced by a registry
    built through pint's own cache (``UnitRegistry(cache_folder=":auto:")``, in the user's
    cache folder; the first start fills it). Anything going wrong (no writable cache folder, a
    damaged cache file) leaves pint's registry as it was.
    """
    try:
        import pint
        from pint.registry import LazyRegistry
    except ImportError:
        return
    application = pint.get_application_registry()
    if not isinstance(application.get(), LazyRegistry):
        return  # built already (units of it may exist), or chosen by someone else
    try:
        # as pint's lazy registry builds it, plus the cache
        registry = pint.UnitRegistry(cache_folder=":auto:", on_redefinition="raise")
    except Exception:  # noqa: BLE001 - pint's cache raises whatever its file system gives
        return
    if isinstance(application.get(), LazyRegistry):
        pint.set_application_registry(registry)


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


def _require_display(example: str) -> None:
    """Refuse early on Linux without a display: Qt would abort the whole process."""
    if sys.platform != "linux" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise NVCError(f"no display (DISPLAY is not set): run under a virtual X server, e.g. {example}")


def demo(*, headless: bool, out_dir: Path) -> dict[str, Any]:
    """The main job on the sample case: open it, analyse it, review the findings, export.

    The bundled sample (a synthetic cerebellopontine-angle case, CISS-like T2 + TOF, see
    ``sample_data/README.md``) opens in the surgeon's workspace with its output folder
    ``out_dir/workspace``; the analysis runs as from the Analyse button.

    Parameters
    ----------
    headless : bool
        True: no interaction. Waits for the analysis, selects the first proposed finding,
        exports every format into ``out_dir/workspace/<case_id>/``, writes
        ``screenshot_axial.png`` (2-D, centred on the finding), ``screenshot_3d.png``
        (surfaces) and ``screenshot_workspace.png`` (the whole window, in the axial 2-D view)
        into ``out_dir`` -- the same views when the case comes back in a view saved by an
        earlier run -- and closes (a display is still needed: on a machine without one run
        under ``xvfb-run``).
        False: opens the viewer, starts the analysis and returns when the window is closed.
    out_dir : Path
        Output folder (created if missing).

    Returns
    -------
    dict
        ``sample`` (the input), ``workspace``; headless also the screenshots, ``exports``
        (list of paths) and ``findings`` (one line per proposed finding).

    Raises
    ------
    NVCError
        On Linux without a display (Qt would abort the process instead), or when the analysis
        fails.
    """
    import napari

    from nvc_viewer.sample import sample_case_path

    from ._case_view import case_view_for

    _require_display("`xvfb-run -a nvc-viewer demo --headless`")
    out_dir = Path(out_dir)
    sample = sample_case_path()
    result: dict[str, Any] = {"sample": sample, "workspace": out_dir / "workspace"}
    viewer, panels = open_workspace(
        [str(sample)], workspace=result["workspace"], title="nvc-viewer demo", case_id="sample_cpa"
    )
    if not headless:
        panels.analysis.start()
        napari.run()
        return result

    with ExitStack() as stack:
        stack.callback(viewer.close)
        viewer.window.resize(*_WINDOW_SIZE)  # the same pictures on any (virtual) screen
        outcome = _wait_for(panels.analysis.finished, panels.analysis.start, timeout_s=300)
        if outcome != "done":
            raise NVCError(f"the analysis of the sample case ended with: {outcome}", path=sample)
        session = case_view_for(viewer).session
        findings = session.findings.findings
        result["findings"] = [
            f"{f.side} {f.nerve} - {f.vessel}: {f.grade}, {f.segment}, confidence "
            f"{f.confidence:.2f} at RAS {tuple(round(v, 1) for v in f.position_ras)}"
            for f in findings
        ]
        # Each picture sets up the view it is named for: a case opened again comes back in the
        # view it was left in (``view.json``, `CaseView.restore_view`), e.g. the 3-D view the
        # last demo run ended in.
        panels.analysis.show_plane("axial")
        if findings:
            panels.findings.select(findings[0].id)  # the slices go through it
        out_dir.mkdir(parents=True, exist_ok=True)
        _settle(viewer)
        viewer.reset_view()  # the whole slice, through the finding
        result["screenshot_axial"] = out_dir / "screenshot_axial.png"
        viewer.screenshot(str(result["screenshot_axial"]), canvas_only=True)
        result["screenshot_workspace"] = out_dir / "screenshot_workspace.png"
        viewer.screenshot(str(result["screenshot_workspace"]), canvas_only=False)
        panels.analysis.show_plane("3-D")
        _settle(viewer)
        result["screenshot_3d"] = out_dir / "screenshot_3d.png"
        viewer.screenshot(str(result["screenshot_3d"]), canvas_only=True)
        case_view_for(viewer).wait_for_saves()
        result["exports"] = session.export()
    return result


def _settle(viewer: napari.Viewer, ms: int = 300) -> None:
    """Let queued GUI work (layer updates, redraws) run, then close notification toasts."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    dismiss_notifications(viewer)


def _wait_for(signal: Any, start: Any, *, timeout_s: float) -> str:
    """Call ``start()`` and run the event loop until ``signal(str)`` fires; its argument."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[str] = []

    def done(value: str) -> None:
        got.append(value)
        loop.quit()

    signal.connect(done)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    try:
        if not start():
            return "not started"
        if not got:
            loop.exec()
    finally:
        signal.disconnect(done)
    return got[0] if got else f"no answer within {timeout_s:.0f} s"
