"""GUI latency: time to the first drawn frame of ``nvc-viewer view``, and UI freezes while the
analysis runs.

1. First frame. ``nvc-viewer view SAMPLE`` is started as a fresh process (interpreter start,
   imports, reading the case, the window, the panels); the time from launching the process to
   the end of the first frame vispy draws with the T2 image in it is reported (median of N
   runs): the first draw of the canvas after which the T2 layer is visible, its vispy node is
   in the scene and visible and holds the layer's slice. The canvas is redrawn before that while
   the T2 layer is being added (the layer is in the layer list, its vispy node is not made yet:
   an empty canvas); that redraw, the figure reported as "first frame" before, is kept as
   ``first_redraw_with_layer``. The pixels of the timed frame are read back once, after its
   time is taken, to check that the image is on them. The child process is the real command line
   (`nvc_viewer.cli.main`); it only listens for the canvas' draw event and quits after the
   first frame with the T2.
2. Freezes. In one viewer with the panels docked, a case is opened and "Analyse" is pressed. A
   QTimer ticks every 10 ms in the GUI thread during the whole run (worker thread, progress
   signals, layers and surfaces swapped in, findings merged and autosaved); the longest gap
   between two ticks is the longest time the UI was frozen. Measured twice, each in a fresh
   viewer: with one view (the main canvas), and with four views (the linked four-up of
   `nvc_viewer_napari._multiview` shown before "Analyse": three more canvases whose layers
   mirror the main one's). In the four-view viewer, after the analysis, the linked point is moved
   too: ``--clicks`` clicks (press and release through napari's mouse callbacks, as a canvas
   hands them on) cycling over the axial, coronal, sagittal and main views, then every finding
   selected in turn (each selection moves the point and centres and zooms every view), the
   next action 150 ms after the last one's handler returned; the longest gap between ticks
   over that run is the longest freeze of a move of the linked point.
3. With ``--screenshots DIR``: PNGs of the series picker, the fused 2-D view, the 3-D surfaces
   and the findings table with a selected finding (palette PNG, about 100-250 KB each).

Needs a display: run under ``xvfb-run -a``. Usage::

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/gui_latency.py \
        [--repeats 3] [--case CASE_DIR] [--clicks 20] [--screenshots docs/screenshots] \
        [--json OUT]

Without ``--case`` the freeze test runs on a synthetic CPA phantom (CISS-like T2 + TOF, default
160 x 160 x 64 voxels of 0.5 mm) written to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FIRST_FRAME_TAG = "FIRST_FRAME"
FIRST_REDRAW_TAG = "FIRST_REDRAW"
# the timed frame shows an image: this share of its pixels lit (grey > 20 of 255) at least
MIN_LIT_SHARE = 0.05
TICK_MS = 10
FREEZE_LIMIT_S = 0.2
WINDOW_SIZE = (1400, 900)
ACTION_MS = 150  # one move of the linked point every ACTION_MS while the ticks are recorded


# -- 1. first frame ----------------------------------------------------------------------------
def child_first_frame(path: str) -> None:
    """Run ``nvc-viewer view PATH --workspace WS``; print the wall-clock time at the end of the
    first frame with the T2 image drawn, and of the first redraw with a layer in the list."""
    from nvc_viewer_napari import _launch
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    new_viewer = _launch.new_viewer
    state = {"redraw": False, "done": False}

    def stamp(tag: str) -> str:
        # wall clock, and this process' CPU time (all threads): on a busy machine the wall
        # time is mostly waiting for a CPU, the CPU time is what the program needs
        return f"{tag} {time.time():.6f} {time.process_time():.3f}"

    def watched_viewer(**kwargs: Any) -> Any:
        viewer = new_viewer(**kwargs)
        vispy_canvas = viewer.window._qt_viewer.canvas

        def t2_drawn() -> bool:
            """Whether the canvas draws the T2: its layer shown, its vispy node in the scene,
            visible, holding the layer's current slice."""
            layer = next((la for la in viewer.layers if la.metadata.get("nvc_role") == "t2"), None)
            if layer is None or not layer.visible or not layer.loaded:
                return False
            visual = vispy_canvas.layer_to_visual.get(layer)
            node = None if visual is None else visual.node
            if node is None or node.parent is None or not node.visible:
                return False
            data = getattr(node, "_data", None)
            return data is not None and np.shape(data) == np.shape(layer._data_view)

        def on_draw(event: Any) -> None:  # after the scene's own drawing (position="last")
            if state["done"]:
                return
            if not state["redraw"] and len(viewer.layers):
                state["redraw"] = True
                print(stamp(FIRST_REDRAW_TAG), flush=True)
            if not t2_drawn():
                return
            state["done"] = True
            line = stamp(FIRST_FRAME_TAG)
            # once, after the time is taken: the frame just drawn, read back from the canvas
            from vispy.gloo import read_pixels

            gray = read_pixels(alpha=False).astype(np.float32).mean(axis=2)
            print(f"{line} {float(np.mean(gray > 20)):.3f} {float(gray.std()):.1f}", flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)

        vispy_canvas._scene_canvas.events.draw.connect(on_draw, position="last")
        return viewer

    _launch.new_viewer = watched_viewer
    from nvc_viewer.cli import main

    code = main(["view", path, "--workspace", os.environ["NVC_GUI_BENCH_WORKSPACE"]])
    if not state["done"]:
        raise SystemExit(f"no frame with the T2 was drawn (exit code {code})")


def first_frame_times(path: str, repeats: int, workspace: Path) -> dict[str, list[float]]:
    """Per run of ``nvc-viewer view PATH``: seconds from launching it to the end of its first
    frame with the T2 drawn (``wall``), the CPU time of the viewer process until then (``cpu``),
    the share of that frame's pixels lit (``lit``), and seconds to the first redraw with a layer
    in the list, before the T2 is drawn (``redraw``)."""
    runs: dict[str, list[float]] = {"wall": [], "cpu": [], "lit": [], "redraw": []}
    env = {**os.environ, "NVC_GUI_BENCH_WORKSPACE": str(workspace)}
    for _ in range(repeats):
        start = time.time()
        out = subprocess.run(
            [sys.executable, __file__, "--child-first-frame", path],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        lines = out.stdout.splitlines()
        stamps = [line.split()[1:] for line in lines if line.startswith(FIRST_FRAME_TAG + " ")]
        redraws = [line.split()[1:] for line in lines if line.startswith(FIRST_REDRAW_TAG + " ")]
        if not stamps:
            raise SystemExit(f"view failed (exit code {out.returncode}):\n{out.stderr[-3000:]}")
        if out.returncode != 0:
            print(f"  (warning: the viewer exited with code {out.returncode} after its first "
                  f"frame: {out.stderr.strip().splitlines()[-1:]})")  # fmt: skip
        wall, cpu, lit, std = (float(v) for v in stamps[0])
        if lit < MIN_LIT_SHARE or std < 10:
            raise SystemExit(f"the frame timed as the first with the T2 shows no image "
                             f"({lit:.1%} of its pixels lit, grey std {std:.1f})")  # fmt: skip
        runs["wall"].append(wall - start)
        runs["cpu"].append(cpu)
        runs["lit"].append(lit)
        runs["redraw"].append(float(redraws[0][0]) - start if redraws else float("nan"))
    return runs


# -- 2. freezes during the analysis ----------------------------------------------------------
def make_case(folder: Path, shape: tuple[int, int, int], spacing_mm: float) -> Path:
    """Write a phantom CPA case (NIfTI T2 + TOF, two offenders); returns its folder."""
    from nvc_viewer.phantom import make_phantom, write_case

    phantom = make_phantom(
        "two_offenders", seed=0, shape=shape, spacing_mm=spacing_mm, supersample=4
    )
    write_case(phantom, folder, fmt="nifti")
    return folder


def _process(app: Any, seconds: float = 0.3) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def _shot(viewer: Any, app: Any, path: Path) -> Path:
    """Save a window screenshot as a palette PNG (small enough for the docs)."""
    from nvc_viewer_napari._viewer import dismiss_notifications
    from PIL import Image

    _process(app)
    dismiss_notifications(viewer)
    _process(app, 0.1)
    image = viewer.screenshot(canvas_only=False, flash=False)
    Image.fromarray(image[..., :3]).quantize(colors=256, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    return path


class _Ticks:
    """A QTimer ticking every ``TICK_MS`` in the GUI thread; the gaps between its ticks are
    the times the GUI thread was busy (frozen for the user)."""

    def __init__(self) -> None:
        from qtpy.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.ticks: list[int] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(self.clock.elapsed()))

    def start(self) -> None:
        self.ticks.clear()
        self.clock.start()
        self.timer.start()

    def stop(self) -> tuple[np.ndarray, np.ndarray]:
        """Stop; returns the tick stamps (ms since the start) and the gaps between them (s)."""
        self.ticks.append(self.clock.elapsed())
        self.timer.stop()
        stamps = np.asarray(self.ticks, dtype=float)
        return stamps, np.diff(stamps) / 1000.0

    def elapsed(self) -> int:
        return int(self.clock.elapsed())


def _gap_figures(gaps: np.ndarray) -> dict:
    return {
        "longest_freeze_s": round(float(gaps.max()), 3),
        "p99_gap_s": round(float(np.percentile(gaps, 99)), 3),
        "gaps_over_200ms": int(np.sum(gaps > FREEZE_LIMIT_S)),
    }


def freeze_during_analysis(
    case: Path,
    workspace: Path,
    screenshots: Path | None,
    *,
    four_views: bool = False,
    clicks: int = 20,
) -> dict:
    """Open ``case``, analyse it with the panels, record GUI-thread gaps; optional screenshots.

    ``four_views``: the linked four-up is shown before "Analyse", and afterwards the linked
    point is moved (``clicks`` clicks over the views, every finding selected) while the gaps
    are recorded too.
    """
    from nvc_viewer_napari._dock import dock_panels
    from nvc_viewer_napari._viewer import new_viewer
    from qtpy.QtWidgets import QApplication

    viewer = new_viewer(show=True, title="nvc-viewer")
    app = QApplication.instance()
    viewer.window._qt_window.resize(*WINDOW_SIZE)
    panels = dock_panels(viewer, workspace=workspace)
    shots: dict[str, str] = {}
    # The case is named relative to its parent folder, as a surgeon types it there: the
    # screenshots then show no path of the machine they were taken on.
    here = os.getcwd()
    os.chdir(case.parent)
    try:
        return _freeze_in_case_folder(
            viewer, app, panels, Path(case.name), shots, screenshots, four_views, clicks
        )
    finally:
        os.chdir(here)


def _freeze_in_case_folder(
    viewer: Any,
    app: Any,
    panels: Any,
    case: Path,
    shots: dict,
    screenshots: Path | None,
    four_views: bool,
    clicks: int,
) -> dict:
    from nvc_viewer_napari._dock import raise_dock
    from qtpy.QtCore import QEventLoop

    if not panels.case.scan(case):
        raise SystemExit(panels.case.status.text())
    raise_dock(panels.case)
    if screenshots is not None:
        shots["series_picker"] = str(_shot(viewer, app, screenshots / "series_picker.png"))
    t0 = time.perf_counter()
    if not panels.case.open_case():
        raise SystemExit(panels.case.status.text())
    open_s = time.perf_counter() - t0
    if four_views:
        from nvc_viewer_napari._multiview import four_up_for

        four_up_for(viewer).set_enabled(True)  # as the "Four-up" button / its key
    _process(app, 3.0)  # the surgeon looks at the case before pressing "Analyse"
    if screenshots is not None:
        shots["fused_2d"] = str(_shot(viewer, app, screenshots / "fused_2d.png"))

    ticker = _Ticks()
    loop = QEventLoop()
    outcome: list[str] = []
    stages: list[tuple[int, str]] = []  # (ms since the click, progress message)
    panels.analysis.progressed.connect(lambda _f, text: stages.append((ticker.elapsed(), text)))
    panels.analysis.finished.connect(lambda result: (outcome.append(result), loop.quit()))
    ticker.start()
    t0 = time.perf_counter()
    if not panels.analysis.start():
        raise SystemExit(panels.analysis.status.text())
    loop.exec_()
    analysis_s = time.perf_counter() - t0
    stamps, gaps = ticker.stop()
    # A gap is put down to the last stage announced before it ended (the GUI thread announces
    # each piece of the result it swaps in just before doing it).
    long_gaps = [
        {"at_s": round(stamps[i] / 1000.0, 3), "gap_s": round(float(g), 3),
         "during": next((m for t, m in reversed(stages) if t <= stamps[i + 1]), "start")}
        for i, g in enumerate(gaps) if g > FREEZE_LIMIT_S
    ]  # fmt: skip
    if outcome != ["done"]:
        raise SystemExit(f"analysis {outcome}: {panels.analysis.status.text()}")
    n_findings = len(panels.findings.finding_ids)
    linked = _linked_point_freezes(viewer, app, panels, clicks) if four_views else None

    if screenshots is not None:
        panels.analysis.show_plane("3-D")
        camera = viewer.scene.camera
        camera.zoom *= 1.4
        shots["surfaces_3d"] = str(_shot(viewer, app, screenshots / "surfaces_3d.png"))
        panels.analysis.show_plane("axial")
        ids = panels.findings.finding_ids
        if ids:
            panels.findings.select(ids[0])
            camera.zoom *= 2.0
        raise_dock(panels.findings)
        shots["findings_table"] = str(_shot(viewer, app, screenshots / "findings_table.png"))
    viewer.close()
    return {
        "case": str(case),
        "views": 4 if four_views else 1,
        "open_case_s": round(open_s, 3),
        "analysis_wall_s": round(analysis_s, 3),
        "ticks": len(stamps),
        **_gap_figures(gaps),
        "long_gaps": long_gaps,
        "findings": n_findings,
        "linked_point": linked,
        "screenshots": shots,
    }


def _linked_point_freezes(viewer: Any, app: Any, panels: Any, clicks: int) -> dict:
    """Move the linked point of the four-up while the GUI thread's gaps are recorded: ``clicks``
    clicks cycling over the axial, coronal, sagittal and main views (each at a random spot of
    the case), then every finding selected in turn. The next action ``ACTION_MS`` after the last.
    """
    from types import SimpleNamespace

    from napari.utils._proxies import ReadOnlyWrapper
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks
    from nvc_viewer_napari._multiview import FOUR_UP_PLANES, four_up_for
    from qtpy.QtCore import QEventLoop, QTimer

    four_up = four_up_for(viewer)
    if not four_up.enabled:
        raise SystemExit("four-up is not shown")
    panels.analysis.show_plane("axial")  # a click on the main view moves the point in 2-D
    _process(app, 1.0)
    extent = np.asarray(viewer.layers.extent.world, dtype=np.float64)
    rng = np.random.default_rng(0)
    models = [four_up.views[p].model for p in FOUR_UP_PLANES] + [viewer]

    def event(kind: str, position: np.ndarray) -> Any:
        """A mouse event as napari's canvas hands it to the callbacks (no drag: a click)."""
        return ReadOnlyWrapper(
            SimpleNamespace(
                type=kind, position=tuple(float(v) for v in position),
                pos=np.array([100.0, 100.0]), button=1, modifiers=[],
                is_dragging=False, handled=False, view_direction=None,
                dims_displayed=list(viewer.dims.displayed),
            ),
            exceptions=("handled",),
        )  # fmt: skip

    moved = {"clicks": 0, "selections": 0}
    handled: list[tuple[str, float]] = []  # (action, seconds in its handler, before the draw)

    def click(model: Any) -> None:
        t0 = time.perf_counter()
        spot = extent[0] + rng.uniform(0.2, 0.8, size=3) * (extent[1] - extent[0])
        before = tuple(viewer.dims.point)
        mouse_press_callbacks(model, event("mouse_press", spot))
        mouse_release_callbacks(model, event("mouse_release", spot))
        moved["clicks"] += tuple(viewer.dims.point) != before
        handled.append((f"click {getattr(model, 'title', 'main')}", time.perf_counter() - t0))

    def select(finding_id: str) -> None:
        t0 = time.perf_counter()
        panels.findings.select(finding_id)
        moved["selections"] += panels.findings.selected_id == finding_id
        handled.append((f"select {finding_id}", time.perf_counter() - t0))

    targets = [models[n % len(models)] for n in range(clicks)]
    actions: list[Any] = [lambda m=m: click(m) for m in targets]
    actions += [lambda f=f: select(f) for f in panels.findings.finding_ids]
    ticker = _Ticks()
    loop = QEventLoop()
    queue = list(actions)

    def next_action() -> None:
        # the next action ACTION_MS after this one's handler returned: a slow handler is one
        # long gap, not a pile of overdue actions run back to back
        if not queue:
            QTimer.singleShot(2 * ACTION_MS, loop.quit)
            return
        queue.pop(0)()
        QTimer.singleShot(ACTION_MS, next_action)

    QTimer.singleShot(ACTION_MS, next_action)
    ticker.start()
    loop.exec_()
    stamps, gaps = ticker.stop()
    return {
        "clicks": clicks,
        "point_moved_by_clicks": moved["clicks"],
        "selections": moved["selections"],
        "wall_s": round(float(stamps[-1]) / 1000.0, 3),
        "handlers_s": [(name, round(t, 3)) for name, t in handled],
        "ticks": len(stamps),
        **_gap_figures(gaps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="first-frame runs (median)")
    parser.add_argument("--sample", help="input of the first-frame test (default: sample case)")
    parser.add_argument("--case", help="case folder for the freeze test (default: a phantom)")
    parser.add_argument("--shape", type=int, nargs=3, default=(160, 160, 64))
    parser.add_argument("--spacing", type=float, default=0.5, help="phantom voxel size, mm")
    parser.add_argument("--clicks", type=int, default=20, help="moves of the linked point")
    parser.add_argument("--screenshots", help="write the four screenshots into this folder")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--skip-first-frame", action="store_true")
    parser.add_argument("--skip-freeze", action="store_true")
    parser.add_argument("--child-first-frame", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_first_frame:
        child_first_frame(args.child_first_frame)
        return 0
    if not os.environ.get("DISPLAY"):
        raise SystemExit("needs a display: run under xvfb-run -a")

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="nvc-gui-bench-") as tmp:
        tmp_path = Path(tmp)
        if not args.skip_first_frame:
            from nvc_viewer.sample import sample_case_path

            sample = args.sample or str(sample_case_path())
            runs = first_frame_times(sample, args.repeats, tmp_path / "ws-first")
            times, cpu, redraw = runs["wall"], runs["cpu"], runs["redraw"]
            load = os.getloadavg()[0]
            result["first_frame"] = {
                "input": sample,
                "definition": "end of the first frame drawn with the T2 image",
                "runs_s": [round(t, 3) for t in times],
                "median_s": round(statistics.median(times), 3),
                "cpu_s": [round(t, 3) for t in cpu],
                "median_cpu_s": round(statistics.median(cpu), 3),
                "lit_share": [round(v, 3) for v in runs["lit"]],
                "first_redraw_with_layer_s": [round(t, 3) for t in redraw],
                "load_average": round(load, 2),
            }
            walls = ", ".join(f"{t:.2f}" for t in times)
            print(
                f"first frame with the T2 of `nvc-viewer view {Path(sample).name}`: median "
                f"{statistics.median(times):.2f} s wall, {statistics.median(cpu):.2f} s CPU "
                f"over {len(times)} runs (wall {walls}; load average {load:.1f}); the redraw "
                f"while the T2 layer is added, before it is drawn: median "
                f"{statistics.median(redraw):.2f} s"
            )
        if not args.skip_freeze:
            case = Path(args.case).resolve() if args.case else None
            if case is None:
                t0 = time.perf_counter()
                case = make_case(tmp_path / "cpa_phantom", tuple(args.shape), args.spacing)
                print(f"phantom {tuple(args.shape)} at {args.spacing} mm written in "
                      f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
            shots = Path(args.screenshots).resolve() if args.screenshots else None
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
            freeze = freeze_during_analysis(case, tmp_path / "ws-freeze", shots)
            freeze["load_average"] = round(os.getloadavg()[0], 2)
            result["freeze"] = freeze
            print(
                f"analysis {freeze['analysis_wall_s']:.1f} s in the worker; GUI ticks every "
                f"{TICK_MS} ms: longest gap {freeze['longest_freeze_s'] * 1000:.0f} ms, "
                f"p99 {freeze['p99_gap_s'] * 1000:.0f} ms, "
                f"{freeze['gaps_over_200ms']} gap(s) over 200 ms; open case "
                f"{freeze['open_case_s']:.2f} s; {freeze['findings']} finding(s); load average "
                f"{freeze['load_average']:.1f}"
            )
            four = freeze_during_analysis(
                case, tmp_path / "ws-freeze-four", None, four_views=True, clicks=args.clicks
            )
            four["load_average"] = round(os.getloadavg()[0], 2)
            result["freeze_four_views"] = four
            print(
                f"four views: analysis {four['analysis_wall_s']:.1f} s in the worker; GUI "
                f"ticks every {TICK_MS} ms: longest gap {four['longest_freeze_s'] * 1000:.0f} "
                f"ms, p99 {four['p99_gap_s'] * 1000:.0f} ms, "
                f"{four['gaps_over_200ms']} gap(s) over 200 ms; open case "
                f"{four['open_case_s']:.2f} s; {four['findings']} finding(s); load average "
                f"{four['load_average']:.1f}"
            )
            linked = four["linked_point"]
            print(
                f"four views, linked point moved ({linked['point_moved_by_clicks']} of "
                f"{linked['clicks']} clicks over the axial, coronal, sagittal and main views, "
                f"{linked['selections']} finding(s) selected, {ACTION_MS} ms apart): "
                f"longest gap {linked['longest_freeze_s'] * 1000:.0f} ms, "
                f"p99 {linked['p99_gap_s'] * 1000:.0f} ms, "
                f"{linked['gaps_over_200ms']} gap(s) over 200 ms; load average "
                f"{four['load_average']:.1f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
