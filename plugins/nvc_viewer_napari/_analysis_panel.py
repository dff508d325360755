"""The analysis panel: run the automatic analysis in a worker thread, with progress and cancel.

"Analyse" hands the open case (T2, TOF and, when the analysis takes one, the label map as the
surgeon corrected it with the brush) to `nvc_viewer.analysis.analyse`, run in a child process
(`._analysis_process`: no GIL shared with the viewer) that a napari worker thread waits for.
Progress ``(fraction, message)`` reaches that thread and a Qt signal carries it to the GUI thread
(queued connection), so the bar moves while the viewer stays responsive. "Cancel" stops the
child at once (`AnalysisCancelled`); a stand-in analysis set on the panel (``analyse``) runs in
the worker thread itself and polls ``cancel()``. The label layer and the 3-D surfaces
(`._surfaces.label_surfaces`) are built in the worker thread; the GUI thread only swaps the
layers in, a piece per turn of the event loop, and merges the findings
(`._session.CaseSession.apply_analysis`), which autosaves them.

After an analysis, "Trace nerve at click" / "Vessel at click" take the surgeon's word for one
place: the next click on the image (2-D or 3-D) re-analyses a small box around it
(`nvc_viewer.analysis.refine`), in the worker thread too. They need the analysis' own state (its
scene and centrelines, `CaseSession.result`), which is not saved with the case: when a case that
was analysed before is opened again, the analysis is recomputed in the background without
asking (`restore`), and only that state is taken (`CaseSession.restore_analysis`): the saved
findings, landmarks and label map stay as the surgeon left them. "Analyse" meanwhile stops the
recomputation and runs a full analysis instead.

The panel also holds the view buttons (axial, coronal, sagittal, 3-D; four-up: the linked
2-D views of `._multiview` under the canvas; the nerve plane: the oblique reformat through the
nerve of `._nerve_plane` beside it), the 3-D view presets
(the surgeon's retrosigmoid view of each side, the six anatomical directions: `._camera`) and
the choice of the structures the 3-D view shows.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nvc_viewer.errors import AnalysisCancelled, NVCError
from nvc_viewer.geometry import DisplayGrid
from nvc_viewer.labels import LABELS
from nvc_viewer.volume import Volume

from ._case_view import PLANES, SURFACE_GROUPS, case_view_for
from ._docked import DockedPanel
from ._layers import LayerDataTuple, volume_to_layer_data
from ._multiview import four_up_for
from ._nerve_plane import nerve_plane_for
from ._shortcuts import (
    FOUR_UP_SHORTCUT,
    NERVE_PLANE_SHORTCUT,
    VIEW_SHORTCUTS,
    bind_view_shortcuts,
)
from ._surfaces import SURFACE_STRUCTURES, SurfaceMesh, label_surfaces

if TYPE_CHECKING:
    import napari

__all__ = ["AnalysisPanel", "run_analysis", "run_refine"]

#: What the worker hands to the GUI thread: the result, the corrected label map kept instead of
#: the result's (or None), the label layer data, the surfaces.
Prepared = tuple[Any, Volume | None, LayerDataTuple | None, list[SurfaceMesh]]

#: The 3-D preset buttons' text: the anatomical views by the patient letter they are seen from.
_VIEW_BUTTON_TEXT = {
    "surgeon left": "Surgeon's view L",
    "surgeon right": "Surgeon's view R",
    "anterior": "A",
    "posterior": "P",
    "left": "L",
    "right": "R",
    "superior": "S",
    "inferior": "I",
}

_STRUCTURE_SHORT_NAMES = {value: LABELS[value].short for value in SURFACE_STRUCTURES}


def _accepts(func: Any, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


#: Niceness of the worker threads running an analysis (Linux): the GUI thread is served first.
WORKER_NICENESS = 10


def _lower_thread_priority() -> None:
    """Make the calling (worker) thread yield the CPU to the GUI thread.

    On a busy machine the analysis thread and the GUI thread of the same process compete for
    the cores with each other and with every other process; at equal priority the GUI thread
    loses whole scheduler periods and the viewer stutters. Linux schedules each thread on its
    own, so raising this thread's niceness favours the GUI thread without slowing the
    analysis on an idle machine. The pool thread keeps the niceness for later background jobs
    (saving, exporting), which is what those want too. Elsewhere, a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < WORKER_NICENESS:
            os.setpriority(os.PRIO_PROCESS, tid, WORKER_NICENESS)
    except OSError:  # not permitted (a sandbox): the analysis runs at normal priority
        pass


def run_analysis(
    t2: Volume,
    tof: Volume | None,
    grid: DisplayGrid,
    *,
    labels: Volume | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    save_labels_to: Path | None = None,
    analyse: Callable[..., Any] | None = None,
    in_process: bool = False,
) -> Prepared:
    """The worker's job: analyse, then prepare what the viewer shows (no Qt, no napari).

    Parameters
    ----------
    t2, tof : Volume
    grid : DisplayGrid
        The case's display grid (the label layer is put on it).
    labels : Volume, optional
        The label map as the surgeon corrected it. Passed to the analysis when it takes one;
        otherwise kept as the case's label map (the corrections are not thrown away by a
        re-run; the exports use them).
    progress, cancel : callable, optional
        ``progress(fraction, message)`` and ``cancel() -> bool`` (see `analyse`).
    save_labels_to : path-like, optional
        Where to write the resulting label map (the workspace case folder), off the GUI thread.
    analyse : callable, optional
        The analysis; default `nvc_viewer.analysis.analyse`.
    in_process : bool, optional
        Run the default analysis in a child process (`._analysis_process`): the viewer then
        never waits for the GIL while it runs. Ignored when ``analyse`` is given.

    Returns
    -------
    result : AnalysisResult
    kept : Volume or None
        The corrected label map when it was kept instead of the result's (see ``labels``).
    label_layer : (data, kwargs, "labels") or None
    meshes : list of SurfaceMesh
    """
    _lower_thread_priority()
    run = analyse
    if analyse is None:
        from nvc_viewer.analysis import analyse

        if in_process:
            from ._analysis_process import analyse_in_process as run
        else:
            run = analyse
    assert run is not None
    kwargs: dict[str, Any] = {"progress": progress, "cancel": cancel}
    passes_labels = labels is not None and _accepts(analyse, "labels")
    if passes_labels:
        kwargs["labels"] = labels
    result = run(t2, tof, **kwargs)
    produced = getattr(result, "labels", None)
    shown = produced if labels is None or passes_labels or produced is None else labels
    return _prepare(result, shown, grid, progress, save_labels_to)


def _prepare(
    result: Any,
    shown: Volume | None,
    grid: DisplayGrid,
    progress: Callable[[float, str], None] | None,
    save_labels_to: Path | None,
) -> Prepared:
    """Label layer and surfaces of the label map ``shown``; save it if it is the result's."""
    produced = getattr(result, "labels", None)
    label_layer = None
    meshes: list = []
    if shown is not None:
        if progress is not None:
            progress(0.97, "building 3-D surfaces")
        label_layer = volume_to_layer_data(shown, name="labels", kind="labels", reference_grid=grid)
        meshes = label_surfaces(label_layer[0], grid.scale)
        if save_labels_to is not None and shown is produced:
            from nvc_viewer.export.nifti_labels import write_segmentation_nifti

            save_labels_to.parent.mkdir(parents=True, exist_ok=True)
            write_segmentation_nifti(shown, save_labels_to)
    return result, (shown if shown is not produced else None), label_layer, meshes


def run_refine(
    previous: Any,
    t2: Volume,
    tof: Volume | None,
    grid: DisplayGrid,
    seed_ras: Sequence[float] | np.ndarray,
    kind: str,
    *,
    save_labels_to: Path | None = None,
    refine: Callable[..., Any] | None = None,
) -> Prepared:
    """The worker's job for a correction at a click (`nvc_viewer.analysis.refine`).

    ``kind`` is ``"nerve"`` (trace a nerve through the click) or ``"vessel"`` (the tube at the
    click is a vessel). Returns what `run_analysis` returns.
    """
    _lower_thread_priority()
    if refine is None:
        from nvc_viewer.analysis import refine
    result = refine(previous, t2, tof, seed_ras, kind)
    return _prepare(result, getattr(result, "labels", None), grid, None, save_labels_to)


def _recompute(
    t2: Volume,
    tof: Volume | None,
    *,
    cancel: Callable[[], bool],
    analyse: Callable[..., Any] | None,
    in_process: bool,
) -> Any:
    """The restoring worker's job: the analysis result alone (no layers, nothing written)."""
    _lower_thread_priority()
    run = analyse
    if run is None:
        if in_process:
            from ._analysis_process import analyse_in_process as run
        else:
            from nvc_viewer.analysis import analyse as run
    return run(t2, tof, progress=lambda _fraction, _message: None, cancel=cancel)


class AnalysisPanel(QWidget):
    """Analyse with progress and cancel; corrections at a click; view and 3-D choices.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    #: (fraction 0..1, message), emitted from the worker thread.
    progressed = Signal(float, str)
    #: Emitted in the GUI thread when a run ends: "done", "cancelled" or "failed".
    finished = Signal(str)

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.view = case_view_for(napari_viewer)
        self.worker: Any = None
        #: The analysis to run (default `nvc_viewer.analysis.analyse`; a script may swap it).
        self.analyse: Any = None
        #: Run the default analysis in a child process (see `._analysis_process`); False runs
        #: it in the worker thread itself.
        self.in_process = True
        #: The correction at a click (default `nvc_viewer.analysis.refine`).
        self.refine: Any = None
        self._cancel = threading.Event()
        self._applying = False
        self._outcome = "failed"
        self._summary = ""
        self._t2_at_start: Any = None
        #: The background recomputation of a reopened case's analysis (see `restore`).
        self.restorer: Any = None
        self._restore_cancel = threading.Event()

        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setToolTip(
            "Segment brainstem, nerves and vessels, mark RExP/RDP/TZ and propose findings"
        )
        self.analyse_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.use_corrections = QCheckBox("Use my label corrections")
        self.use_corrections.setChecked(True)
        self.use_corrections.setToolTip(
            "Hand the label map you corrected with the brush to the analysis when it takes one;"
            " otherwise keep it (shown, saved, exported) instead of the analysis' map"
        )
        self.refine_buttons: dict[str, QPushButton] = {}
        refine_row = QHBoxLayout()
        for kind, text, tip in (
            ("nerve", "Trace nerve at click", "Click on a nerve the analysis missed or misplaced"),
            ("vessel", "Vessel at click", "Click on a dark tube that is a vessel, not a nerve"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip + "; only the region around the click is re-analysed")
            button.clicked.connect(lambda _checked=False, kind=kind: self.arm_refine(kind))
            button.setEnabled(False)
            refine_row.addWidget(button)
            self.refine_buttons[kind] = button
        # Which structures the 3-D surfaces show.
        self.structure_boxes: dict[int, QCheckBox] = {}
        structures_row = QHBoxLayout()
        structures_row.addWidget(QLabel("3-D:"))
        for value, short in _STRUCTURE_SHORT_NAMES.items():
            box = QCheckBox(short)
            box.setChecked(True)
            box.setToolTip(f"Show the {SURFACE_STRUCTURES[value]} in the 3-D view")
            box.toggled.connect(lambda on, value=value: self.view.set_structure_visible(value, on))
            structures_row.addWidget(box)
            self.structure_boxes[value] = box
        structures_row.addStretch(1)
        planes_row = QHBoxLayout()
        planes_row.addWidget(QLabel("View:"))
        self.plane_buttons: dict[str, QPushButton] = {}
        for plane in PLANES:
            button = QPushButton(plane.capitalize() if plane != "3-D" else plane)
            button.clicked.connect(lambda _checked=False, plane=plane: self.show_plane(plane))
            planes_row.addWidget(button)
            self.plane_buttons[plane] = button
        # The linked axial, coronal and sagittal views under the canvas (`._multiview`), and
        # the oblique plane through the nerve's axis beside it (`._nerve_plane`).
        self.four_up_button = self._panel_button(
            napari_viewer, "Four-up", FOUR_UP_SHORTCUT, four_up_for, self.show_four_up
        )
        self.nerve_plane_button = self._panel_button(
            napari_viewer,
            "Nerve plane",
            NERVE_PLANE_SHORTCUT,
            nerve_plane_for,
            self.show_nerve_plane,
        )
        planes_row.addWidget(self.four_up_button)
        planes_row.addWidget(self.nerve_plane_button)
        # The 3-D view presets: the surgeon's retrosigmoid view of each side, the six
        # anatomical directions (`CaseView.show_view`, keys in `._shortcuts`).
        self.view_buttons: dict[str, QPushButton] = {}
        surgeon_row = QHBoxLayout()
        directions_row = QHBoxLayout()
        directions_row.addWidget(QLabel("From:"))
        for shortcut in VIEW_SHORTCUTS:
            name = shortcut.action
            text = _VIEW_BUTTON_TEXT[name]
            button = QPushButton(text)
            button.setToolTip(f"{shortcut.text} ({shortcut.key})")
            button.clicked.connect(lambda _checked=False, name=name: self.show_view(name))
            (surgeon_row if name.startswith("surgeon") else directions_row).addWidget(button)
            self.view_buttons[name] = button
        directions_row.addStretch(1)
        bind_view_shortcuts(napari_viewer, self.show_view)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.status = QLabel("Open a case, then Analyse.")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.analyse_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.use_corrections)
        layout.addLayout(refine_row)
        layout.addLayout(planes_row)
        layout.addLayout(surgeon_row)
        layout.addLayout(directions_row)
        layout.addLayout(structures_row)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        self.progressed.connect(self._on_progress)
        self.view.session.subscribe(self._on_session)

    @property
    def running(self) -> bool:
        """Whether an analysis is under way (in the worker, or being swapped in)."""
        return self.worker is not None or self._applying

    def start(self) -> bool:
        """Start the analysis of the open case in a worker thread; False if it cannot start."""
        from napari.qt.threading import create_worker

        session = self.view.session
        if self.running:
            return False
        if not session.is_open or session.t2 is None:
            self._say("open a case first", error=True)
            return False
        self._stop_restoring()
        self.view.flush_labels()
        corrected = self.use_corrections.isChecked() and session.labels_edited
        labels = session.labels if corrected else None
        assert session.case_id is not None
        self._cancel.clear()
        self.worker = create_worker(
            run_analysis,
            session.t2,
            session.tof,
            session.grid,
            labels=labels,
            progress=self.progressed.emit,  # queued into the GUI thread
            cancel=self._cancel.is_set,
            save_labels_to=session.labels_path(corrected=False),
            analyse=self.analyse,
            in_process=self.in_process,
            _start_thread=False,
            _connect={
                "returned": self._on_returned,
                "errored": self._on_errored,  # handled here, not re-raised
                "finished": self._on_finished,
            },
        )
        self._started("analysing…", cancellable=True)
        return True

    def arm_refine(self, kind: str) -> bool:
        """The next click on the image corrects the analysis there (``"nerve"``/``"vessel"``)."""
        if self.running or self.view.session.result is None:
            if self.restoring:
                self._say("the analysis is being restored: a moment", error=True)
            else:
                self._say("run the analysis first", error=True)
            return False
        self.view.start_picking(lambda ras, message: self._picked(ras, message, kind))
        self._say(f"click where the {kind} is (2-D slice or 3-D view)")
        return True

    def _picked(self, position_ras: Any, message: str, kind: str) -> None:
        if position_ras is None:
            self._say(message, error=True)
            return
        self.refine_at(position_ras, kind)

    def refine_at(self, position_ras: Any, kind: str) -> bool:
        """Re-analyse the region around ``position_ras`` (RAS mm) in a worker thread."""
        from napari.qt.threading import create_worker

        session = self.view.session
        if self.running or session.result is None or session.t2 is None:
            return False
        self.worker = create_worker(
            run_refine,
            session.result,
            session.t2,
            session.tof,
            session.grid,
            position_ras,
            kind,
            save_labels_to=session.labels_path(corrected=False),
            refine=self.refine,
            _start_thread=False,
            _connect={
                "returned": self._on_returned,
                "errored": self._on_errored,
                "finished": self._on_finished,
            },
        )
        self._started(f"re-analysing around the click ({kind})…", cancellable=False)
        return True

    def _started(self, message: str, *, cancellable: bool) -> None:
        self._t2_at_start = self.view.session.t2
        self.analyse_button.setEnabled(False)
        self.cancel_button.setEnabled(cancellable)
        for button in self.refine_buttons.values():
            button.setEnabled(False)
        self.bar.setValue(0)
        self._say(message)
        self._outcome = "failed"
        self.worker.start()

    def cancel(self) -> None:
        """Ask the running analysis to stop at its next check."""
        if self.running:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self._say("cancelling…")

    def show_plane(self, plane: str) -> None:
        """Axial / coronal / sagittal 2-D view, or 3-D (see `CaseView.show_plane`)."""
        if self.view.reference is not None:
            self.view.show_plane(plane)

    @staticmethod
    def _panel_button(
        viewer: Any,
        title: str,
        shortcut: Any,
        panel_for: Callable[[Any], DockedPanel],
        show: Callable[[bool], None],
    ) -> QPushButton:
        """A checkable button that shows a `DockedPanel` (``show``) and follows its state; the
        panel's key is bound. A viewer without a window (a bare model) has no canvases to
        add: the button is disabled."""
        button = QPushButton(title)
        button.setCheckable(True)
        button.setToolTip(f"{shortcut.text} ({shortcut.key})")
        button.clicked.connect(show)
        if getattr(viewer, "window", None) is not None:
            panel = panel_for(viewer)
            panel.enabled_changed.connect(button.setChecked)
            button.setChecked(panel.enabled)
            panel.bind_key()
        else:
            button.setEnabled(False)
        return button

    def show_four_up(self, on: bool) -> None:
        """Show (or hide) the linked axial, coronal and sagittal views under the canvas."""
        four_up = four_up_for(self.viewer)
        four_up.set_enabled(bool(on))
        self.four_up_button.setChecked(four_up.enabled)

    def show_nerve_plane(self, on: bool) -> None:
        """Show (or hide) the oblique plane through the nerve beside the canvas."""
        nerve_plane = nerve_plane_for(self.viewer)
        nerve_plane.set_enabled(bool(on))
        self.nerve_plane_button.setChecked(nerve_plane.enabled)

    def show_view(self, name: str) -> None:
        """A 3-D view preset: ``"surgeon left"`` / ``"surgeon right"`` or an anatomical
        direction (see `CaseView.show_view`); says what the view is centred on."""
        if self.view.reference is None:
            return
        centred = self.view.show_view(name)
        if name.startswith("surgeon"):
            self._say(f"surgeon's view, {name.split()[1]} side: centred on {centred}")

    @property
    def restoring(self) -> bool:
        """Whether a reopened case's analysis is being recomputed (see `restore`)."""
        return self.restorer is not None

    def restore(self) -> bool:
        """Recompute the open case's analysis in the background for the at-click tools.

        For a case analysed before (`CaseSession.was_analysed`), opened again: the result is
        handed to `CaseSession.restore_analysis`, which takes only what "Trace nerve at click" /
        "Vessel at click" need. False when there is nothing to restore or a run is under way.
        """
        from napari.qt.threading import create_worker

        session = self.view.session
        if self.running or not session.is_open or session.t2 is None:
            return False
        if not session.was_analysed or session.result is not None:
            return False
        self._stop_restoring()
        cancel = threading.Event()
        self._restore_cancel = cancel
        t2 = session.t2

        def returned(result: Any) -> None:
            if cancel.is_set() or self.view.session.t2 is not t2:
                return  # another case, or a full analysis, took over meanwhile
            self.view.session.restore_analysis(result)

        def finished() -> None:
            if self.restorer is worker:
                self.restorer = None

        worker = create_worker(
            _recompute,
            t2,
            session.tof,
            cancel=cancel.is_set,
            analyse=self.analyse,
            in_process=self.in_process,
            _start_thread=False,
            _connect={
                "returned": returned,
                "errored": lambda exc: self._restore_failed(exc, cancel),
                "finished": finished,
            },
        )
        self.restorer = worker
        self._say("analysed before: restoring the analysis for the at-click tools…")
        worker.start()
        return True

    def _stop_restoring(self) -> None:
        self._restore_cancel.set()
        self.restorer = None

    def _restore_failed(self, exc: BaseException, cancel: threading.Event) -> None:
        if cancel.is_set() or isinstance(exc, AnalysisCancelled):
            return
        self._say(
            f"the analysis could not be restored ({exc}); Analyse to use the at-click tools",
            error=True,
        )

    def _on_session(self, what: str) -> None:
        if what == "case" and not self.running:
            self._stop_restoring()
            for button in self.refine_buttons.values():
                button.setEnabled(False)
            self.bar.setValue(0)
            self.bar.setFormat("%p%")
            if not self.restore():
                self._say("Analyse to segment and propose findings.")
        elif what == "analysis-restored" and not self.running:
            for button in self.refine_buttons.values():
                button.setEnabled(True)
            self._say("analysis restored: Trace nerve / Vessel at click are ready.")

    # -- worker signals (GUI thread) ------------------------------------------------------
    def _on_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(round(max(0.0, min(1.0, fraction)) * 1000)))
        self.bar.setFormat(f"%p%  {message}")

    def _on_returned(self, value: Prepared) -> None:
        """Swap the result in, one piece per turn of the event loop.

        Each napari layer added or changed costs the GUI thread 20-300 ms; done in one go the
        viewer would freeze for a second or more. The pieces: the label layer, the two surface
        layers, the two point layers, then the findings (merged and autosaved); the progress
        bar names each.
        """
        result, kept, label_layer, meshes = value
        if self.view.session.t2 is not self._t2_at_start:
            self._outcome = "failed"
            self._say("another case was opened meanwhile: this result is not used", error=True)
            return
        steps: list[tuple[str, Callable[[], Any]]] = []
        if label_layer is not None:
            steps.append(("the label map", lambda: self.view.show_labels(label_layer)))
        for group in SURFACE_GROUPS:
            surfaces = lambda g=group: self.view.show_surfaces(meshes, groups=(g,))  # noqa: E731
            steps.append((f"the {group} in 3-D", surfaces))
        for kind in ("landmarks", "findings"):
            steps.append((f"the {kind}", lambda k=kind: self.view.ensure_point_layer(k)))
        # The merged landmarks a turn ahead of the findings: each is a layer update of its own.
        steps.append(("the landmarks", lambda: self._predraw_landmarks(result)))
        steps.append(("the findings table", lambda: self._apply(result, kept)))
        steps.append(("the summary", self._report))
        self._applying = True
        self._run_steps(steps)

    def _run_steps(self, steps: list[tuple[str, Callable[[], Any]]]) -> None:
        if steps and not self.view.is_shown:  # the viewer was closed
            self._outcome = "failed"
            steps = []
        if not steps:
            self._applying = False
            self._done()
            return
        name, step = steps[0]
        self.progressed.emit(0.99, f"showing {name}")
        try:
            step()
        except NVCError as exc:
            self._outcome = "failed"
            self._say(f"analysis result not applied: {exc}", error=True)
            self._applying = False
            self._done()
            return
        QTimer.singleShot(0, lambda: self._run_steps(steps[1:]))

    def _predraw_landmarks(self, result: Any) -> None:
        from nvc_viewer.findings import merge_auto

        session = self.view.session
        if session.findings is None or session.t2 is None or session.case_id is None:
            return
        fresh = result.to_case_findings(session.case_id, t2=session.t2, tof=session.tof)
        self.view.redraw_landmarks(merge_auto(session.findings, fresh).landmarks)

    def _apply(self, result: Any, kept: Volume | None) -> None:
        # The label map was written by the worker: not again here.
        merged = self.view.session.apply_analysis(result, labels=kept, save_labels=False)
        auto = sum(1 for f in merged.findings if f.origin == "auto")
        kept_text = "; your label corrections kept" if kept is not None else ""
        self._outcome = "done"
        self._summary = (
            f"{auto} proposed finding(s) to review, {len(merged.findings) - auto} of yours "
            f"kept; {len(merged.landmarks)} landmark(s){kept_text}."
        )

    def _report(self) -> None:
        self.bar.setValue(1000)
        self.bar.setFormat("%p%  done")
        self._say(self._summary)

    def _on_errored(self, exc: BaseException) -> None:
        if isinstance(exc, AnalysisCancelled) or self._cancel.is_set():
            self._outcome = "cancelled"
            self._say("analysis cancelled; nothing was changed")
            self.bar.setValue(0)
            self.bar.setFormat("%p%")
        elif isinstance(exc, NVCError):
            self._outcome = "failed"
            self._say(f"analysis failed: {exc}", error=True)
        else:
            self._outcome = "failed"
            self._say(f"analysis failed (internal error): {type(exc).__name__}: {exc}", error=True)

    def _on_finished(self) -> None:
        self.worker = None
        if not self._applying:  # else the last step of `_on_returned` finishes the run
            self._done()

    def _done(self) -> None:
        self.analyse_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        for button in self.refine_buttons.values():
            button.setEnabled(self.view.session.result is not None)
        self.finished.emit(self._outcome)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #ff6060;" if error else "")
        self.status.setText(text)
