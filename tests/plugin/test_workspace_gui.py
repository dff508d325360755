"""The surgeon's workspace, driven through the panels' public methods in a headless viewer.

One case is opened, analysed (in the worker thread, with progress and cancel), reviewed in the
table, annotated by hand in 2-D and 3-D, undone and redone, autosaved, reopened and exported.
The first test's analysis returns the case's ground truth (`truth_analyse`): it checks the wiring
-- threads, layers on one transform, table, autosave -- not the segmentation. The second runs the
real analysis from the plugin menu's widget.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import napari
import nibabel as nib
import numpy as np
import pytest
from napari.utils.interactions import mouse_move_callbacks, mouse_press_callbacks
from nvc_viewer_napari import _launch
from nvc_viewer_napari._case_view import case_view_for, text_overlay
from nvc_viewer_napari._dock import WorkspaceWidget, dock_panels
from qtpy.QtCore import Qt

from nvc_viewer.errors import AnalysisCancelled
from nvc_viewer.findings import CaseFindings, Finding, Landmark, source_from_volumes
from nvc_viewer.geometry import apply_affine
from nvc_viewer.segment.centreline import polyline_distance
from nvc_viewer.volume import Volume

WAIT_MS = 30_000
SHAPE = (64, 64, 40)
SPACING_MM = 0.8


@dataclass
class SyntheticCase:
    folder: Path
    centrelines: dict[str, np.ndarray]
    truth: dict
    labels: np.ndarray  # uint8, on the T2 grid


def _along(a: np.ndarray, b: np.ndarray, n: int = 141) -> np.ndarray:
    return a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)


def _distance_to_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[..., None] * ab), axis=-1)


@pytest.fixture(scope="module")
def cpa_case(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCase:
    """A small analytic CPA on disk (NIfTI T2 + TOF, written as a scanner writes an axial
    series): a brainstem column, the left facial nerve leaving it, an AICA touching the nerve
    2.1 mm beyond the root detachment point. Known exactly, built in a fraction of a second."""
    folder = tmp_path_factory.mktemp("cases") / "cpa_case"
    folder.mkdir()
    affine = np.diag([-SPACING_MM, -SPACING_MM, SPACING_MM, 1.0])  # i -> L, j -> P, k -> S
    affine[:3, 3] = -affine[:3, :3] @ ((np.asarray(SHAPE) - 1) / 2) + [0.0, -28.0, -40.0]
    ijk = np.stack(np.meshgrid(*map(np.arange, SHAPE), indexing="ij"), axis=-1)
    ras = ijk @ affine[:3, :3].T + affine[:3, 3]
    labels = np.full(SHAPE, 2, np.uint8)  # cisternal CSF
    brainstem = (ras[..., 0] / 11.0) ** 2 + ((ras[..., 1] + 28.0) / 10.0) ** 2 <= 1.0
    labels[brainstem] = 1
    nerve = _along(np.array([-11.0, -28.0, -40.0]), np.array([-25.0, -30.0, -38.0]))
    artery = _along(np.array([-16.0, -27.2, -50.0]), np.array([-16.0, -27.2, -28.0]))
    labels[(_distance_to_segment(ras, nerve[0], nerve[-1]) <= 0.7) & ~brainstem] = 3
    labels[(_distance_to_segment(ras, artery[0], artery[-1]) <= 1.0) & ~brainstem] = 6
    t2 = np.choose(labels, [0.0, 0.42, 1.0, 0.22, 0.0, 0.0, 0.15]).astype(np.float32)
    t2 += np.random.default_rng(0).normal(0.0, 0.03, SHAPE).astype(np.float32)
    tof = np.where(labels == 6, 1.0, 0.25).astype(np.float32)
    for name, data in (("t2_ciss", np.abs(t2)), ("tof", tof), ("labels_truth", labels)):
        nib.Nifti1Image(data, affine).to_filename(folder / f"{name}.nii.gz")

    step = np.linalg.norm(nerve[1] - nerve[0])
    rexp, rdp, tz = (nerve[int(round(d / step))] for d in (0.0, 3.0, 5.6))
    contact = np.array([-16.0, -28.1, -39.29])  # between the two surfaces
    truth = {
        "landmarks": [
            {"name": n, "side": "left", "nerve": "VII", "position_ras": list(p)}
            for n, p in (("RExP", rexp), ("RDP", rdp), ("TZ", tz))
        ],
        "findings": [
            {"side": "left", "nerve": "VII", "vessel": "AICA", "vessel_kind": "artery",
             "segment": "TZ", "grade": "contact", "position_ras": list(contact),
             "distance_from_brainstem_mm": 2.1, "vessel_diameter_mm": 2.0,
             "crossing_angle_deg": 82.0, "note": "analytic truth"},
        ],
    }  # fmt: skip
    return SyntheticCase(folder, {"VII_left": nerve, "AICA_left": artery}, truth, labels)


@dataclass
class TruthResult:
    """Shaped like the analysis result as far as the viewer reads it."""

    labels: Volume
    centrelines: dict[str, np.ndarray]
    landmarks: tuple[Landmark, ...]
    findings: tuple[Finding, ...]

    def to_case_findings(self, case_id: str, *, t2: Volume, tof: Volume | None) -> CaseFindings:
        return CaseFindings(
            case_id=case_id,
            source=source_from_volumes([v for v in (t2, tof) if v is not None]),
            landmarks=self.landmarks,
            findings=self.findings,
            warnings=(TRUTH_WARNING,),
        )


#: A case warning the truth-returning analysis passes on, as the real one does.
TRUTH_WARNING = "right V not identified: the slab does not reach it"


def truth_analyse(case: SyntheticCase, calls: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """An ``analyse`` that reports progress, honours cancel and returns the case's truth."""

    def analyse(t2, tof=None, *, seeds=None, progress=None, cancel=None, labels=None):  # type: ignore[no-untyped-def]
        calls.append({"tof": tof is not None, "labels": labels})
        for n in range(5):
            if cancel is not None and cancel():
                raise AnalysisCancelled("analysis cancelled by the user")
            progress(n / 5, f"stage {n + 1} of 5")
            time.sleep(0.02)
        return TruthResult(
            labels=t2.with_data(case.labels.astype(np.uint8), role="label"),
            centrelines=case.centrelines,
            landmarks=tuple(
                Landmark.from_dict({**d, "origin": "auto"}) for d in case.truth["landmarks"]
            ),
            findings=tuple(
                Finding.from_dict({**d, "origin": "auto", "id": f"auto-{n}", "confidence": 0.8})
                for n, d in enumerate(case.truth["findings"])
            ),
        )

    return analyse


def _transform(layer: Any) -> tuple[list[float], list[float]]:
    return [round(float(v), 9) for v in layer.scale], [round(float(v), 9) for v in layer.translate]


def _world_of(layer: Any, data_points: np.ndarray) -> np.ndarray:
    return np.asarray(data_points) * np.asarray(layer.scale) + np.asarray(layer.translate)


def click(viewer: Any, position_world: Any, **event: Any) -> None:
    """A mouse press on the canvas at a world position, as napari delivers it."""
    mouse_press_callbacks(viewer, _mouse_event("mouse_press", viewer, position_world, **event))


def move(viewer: Any, position_world: Any) -> None:
    """The mouse moved over the canvas to a world position, as napari delivers it."""
    viewer.cursor.position = tuple(float(v) for v in position_world)
    mouse_move_callbacks(viewer, _mouse_event("mouse_move", viewer, position_world))


def _mouse_event(kind: str, viewer: Any, position_world: Any, **event: Any) -> Any:
    return SimpleNamespace(
        type=kind,
        position=tuple(float(v) for v in position_world),
        view_direction=event.pop("view_direction", None),
        dims_displayed=event.pop("dims_displayed", list(viewer.dims.displayed)),
        modifiers=[],
        is_dragging=False,
        handled=False,
    )


def _saved(workspace: Path) -> dict:
    return json.loads((workspace / "cpa_case" / "findings.json").read_text())


def test_open_analyse_review_annotate_reopen_export(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    workspace = tmp_path / "ws"
    viewer = make_napari_viewer()
    panels = dock_panels(viewer, workspace=workspace)
    calls: list[dict[str, Any]] = []
    panels.analysis.analyse = truth_analyse(cpa_case, calls)

    # 1. the series picker lists every series and proposes T2 and TOF
    entries = panels.case.scan(cpa_case.folder)
    assert panels.case.table.rowCount() == len(entries) >= 3
    roles = {e.key: e.role for e in entries}
    assert roles["t2_ciss.nii.gz"] == "t2" and roles["tof.nii.gz"] == "tof"
    assert (panels.case.t2_key, panels.case.tof_key) == ("t2_ciss.nii.gz", "tof.nii.gz")
    assert panels.case.open_case(), panels.case.status.text()
    view = case_view_for(viewer)
    qtbot.waitUntil(lambda: view.labels_layer is not None)  # made just after the first frame
    t2_layer, tof_layer, empty_labels = viewer.layers[:3]
    assert tof_layer.blending == "additive" and t2_layer.colormap.name == "gray"
    for layer in (tof_layer, empty_labels):  # resampled into the T2 grid
        assert _transform(layer) == _transform(t2_layer)
        assert layer.data.shape == t2_layer.data.shape
    assert not empty_labels.data.any()  # ready for the brush before any analysis

    # 2. a cancelled run changes nothing; a full run brings labels, surfaces, points
    assert panels.analysis.start()
    panels.analysis.cancel()
    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        pass
    assert outcome.args == ["cancelled"]
    assert not (workspace / "cpa_case" / "findings.json").exists()
    assert not empty_labels.data.any()
    assert not any(layer.visible for layer in view.surface_layers)

    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        assert panels.analysis.start()
    assert outcome.args == ["done"], panels.analysis.status.text()
    assert panels.analysis.bar.value() == panels.analysis.bar.maximum()
    assert calls[-1] == {"tof": True, "labels": None}
    # the empty surface layers are made one per turn of the event loop after the case opened;
    # a fast analysis can finish first
    qtbot.waitUntil(lambda: len(view.surface_layers) == 2)
    by_type: dict[str, list] = {}
    for layer in viewer.layers:
        by_type.setdefault(type(layer).__name__, []).append(layer)
        assert _transform(layer) == _transform(t2_layer), layer.name
    assert {s.name for s in by_type["Surface"]} == {"brainstem (3-D)", "nerves and vessels (3-D)"}
    structures = by_type["Surface"][1]
    assert view.surfaces_pending  # meshed, uploaded when the view turns 3-D
    panels.analysis.show_plane("3-D")
    assert not view.surfaces_pending and structures.visible
    n_vertices = len(structures.data[0])
    panels.analysis.structure_boxes[3].setChecked(False)  # hide the facial nerves in 3-D
    assert 0 < len(structures.data[0]) < n_vertices
    panels.analysis.show_plane("axial")
    (labels_layer,) = by_type["Labels"]
    assert labels_layer is empty_labels  # the analysis' map went into the existing layer
    np.testing.assert_array_equal(np.unique(labels_layer.data), np.unique(cpa_case.labels))
    grid = view.session.grid
    truth_findings = cpa_case.truth["findings"]
    expected_world = grid.ras_to_display(np.array([f["position_ras"] for f in truth_findings]))
    np.testing.assert_allclose(_world_of(view.findings_layer, view.findings_layer.data),
                               expected_world, atol=1e-6)  # fmt: skip
    assert len(view.landmarks_layer.data) == len(cpa_case.truth["landmarks"])
    assert [f["origin"] for f in _saved(workspace)["findings"]] == ["auto"] * len(truth_findings)
    # what the analysis could not establish is saved and shown beside the findings, whose tab
    # comes to the front
    assert _saved(workspace)["warnings"] == [TRUTH_WARNING]
    assert TRUTH_WARNING in panels.findings.warnings_label.text()
    assert not panels.findings.warnings_label.isHidden()
    assert _front_tab(viewer, "Case") == "Findings"

    # 3. review in the table: select centres the views, combos edit, confirm/reject/delete
    table = panels.findings
    assert table.finding_ids == [f"auto-{n}" for n in range(len(truth_findings))]
    # each row carries the number of its finding's tag on the images (1, 2, ...)
    rows = table.table
    assert not rows.verticalHeader().isHidden()
    heads = [rows.model().headerData(r, Qt.Orientation.Vertical) for r in range(rows.rowCount())]
    assert [int(h) for h in heads] == list(range(1, len(truth_findings) + 1))
    first = table.finding_ids[0]
    table.select(first)
    point = np.asarray(viewer.dims.point)
    assert np.all(np.abs(point - expected_world[0]) <= np.asarray(t2_layer.scale))
    assert table.table.selectionModel().selectedRows()[0].row() == 0
    panels.analysis.show_plane("coronal")  # the same point, seen from the front, superior up
    assert tuple(viewer.dims.order) == (1, 0, 2) and viewer.dims.ndisplay == 2
    assert viewer.scene.camera.orientation2d[0] == "up"
    np.testing.assert_allclose(viewer.dims.point, point)
    panels.analysis.show_plane("axial")
    table.table.setFocus()
    qtbot.keyClick(table.table, Qt.Key_C, Qt.ShiftModifier)  # the keyboard shortcut of Confirm
    assert table.cell_text(0, "origin") == "auto-confirmed"
    assert _saved(workspace)["findings"][0]["origin"] == "auto-confirmed"
    table.set_field(first, "grade", "indentation")
    assert table.cell_text(0, "grade") == "indentation"
    saved = _saved(workspace)["findings"][0]
    assert (saved["grade"], saved["origin"]) == ("indentation", "auto-confirmed")
    table.reject_selected()
    assert table.cell_text(0, "origin") == "auto-rejected"
    assert _saved(workspace)["findings"][0]["origin"] == "auto-rejected"
    table.undo()
    assert _saved(workspace)["findings"][0]["origin"] == "auto-confirmed"

    # 4. "Add finding" + a click in 2-D: distance and segment measured along the nerve
    side = truth_findings[0]["side"]
    nerve = cpa_case.centrelines[f"VII_{side}"]
    rdp = next(
        lm["position_ras"]
        for lm in cpa_case.truth["landmarks"]
        if (lm["name"], lm["side"], lm["nerve"]) == ("RDP", side, "VII")
    )
    _, s_rdp, _ = polyline_distance(np.array([rdp]), nerve)
    click_ras = nerve[len(nerve) // 2]
    _, s_click, _ = polyline_distance(click_ras[None], nerve)
    n_before = len(table.finding_ids)
    assert table.start_add()
    click(viewer, grid.ras_to_display(click_ras))
    assert not view.placing
    manual = view.session.finding(table.selected_id)
    assert "placed" in table.status.text()
    np.testing.assert_allclose(manual.position_ras, click_ras, atol=1e-6)
    assert (manual.side, manual.nerve, manual.origin) == (side, "VII", "manual")
    assert manual.distance_from_brainstem_mm == pytest.approx(s_click[0] - s_rdp[0], abs=0.05)
    row = table.row_of(manual.id)
    assert table.cell_text(row, "origin") == "manual"
    assert float(table.cell_text(row, "distance_from_brainstem_mm")) == pytest.approx(
        manual.distance_from_brainstem_mm, abs=0.051
    )
    assert table.selected_id == manual.id

    # ... and in 3-D: the viewing ray picks the first nerve or vessel voxel it meets
    assert view.tags.layer.visible  # the findings' numbered tags (landmarks: on hover)
    viewer.dims.ndisplay = 3
    assert not t2_layer.visible  # the volumes give way to the surfaces in 3-D
    assert not view.tags.layer.visible  # no landmark names in 3-D: they would pile up
    assert view.tags.layer_3d.visible  # the findings' numbers
    labels = np.asarray(labels_layer.data)
    column = np.argwhere(labels == 3)[0]  # a facial-nerve voxel: look down its (P, L) column
    hits = np.flatnonzero(np.isin(labels[:, column[1], column[2]], (3, 4, 5, 6, 7)))
    start_world = grid.index_to_display([-5.0, column[1], column[2]])
    assert table.start_add()
    click(viewer, start_world, view_direction=[1.0, 0.0, 0.0], dims_displayed=[0, 1, 2])
    picked = view.session.finding(table.selected_id)
    assert picked.id != manual.id, table.status.text()
    expected = apply_affine(grid.affine_ras, [hits[0], column[1], column[2]])
    assert np.linalg.norm(np.subtract(picked.position_ras, expected)) <= 0.8  # within a voxel
    viewer.dims.ndisplay = 2
    assert t2_layer.visible and view.tags.layer.visible

    # 5. undo / redo walk the history, and every step is on disk
    assert len(_saved(workspace)["findings"]) == n_before + 2
    assert table.undo() and table.undo()
    assert len(_saved(workspace)["findings"]) == n_before
    assert table.redo()
    assert [f["id"] for f in _saved(workspace)["findings"]][-1] == manual.id
    assert table.finding_ids[-1] == manual.id

    # 6. brush corrections are saved; reopening the case restores findings and labels
    painted = np.asarray(labels_layer.data).copy()
    painted[0, 0, :4] = 7
    labels_layer.data = painted
    labels_layer.events.paint(value=None)
    view.flush_labels()
    view.wait_for_saves()
    before = [(f["id"], f["origin"], f["grade"]) for f in _saved(workspace)["findings"]]
    assert panels.case.open_case()
    assert [(f.id, f.origin, f.grade) for f in view.session.findings.findings] == before
    assert table.finding_ids == [b[0] for b in before]
    assert TRUTH_WARNING in table.warnings_label.text()  # shown again when the case opens
    np.testing.assert_array_equal(view.labels_layer.data[0, 0, :4], [7, 7, 7, 7])

    # ... and a re-run is given the corrected label map
    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS):
        assert panels.analysis.start()
    corrected = calls[-1]["labels"]
    assert corrected is not None and np.count_nonzero(corrected.data == 7) >= 4
    assert [f.id for f in view.session.findings.findings][:1] == [first]  # reviewed one kept

    # 7. export writes every format a NIfTI case can have
    assert table.export()
    qtbot.waitUntil(lambda: table.export_worker is None, timeout=WAIT_MS)
    written = {p.name for p in (workspace / "cpa_case").iterdir()}
    assert {"findings.json", "findings.csv", "findings.mrk.json", "segmentation.nii.gz",
            "report.png", "report.pdf"} <= written, table.status.text()  # fmt: skip
    assert "exported" in table.status.text()


def test_view_docks_the_panels_and_the_real_analysis_runs_from_the_plugin_menu(
    make_napari_viewer,
    qtbot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cpa_case: SyntheticCase,
) -> None:
    viewers = []

    def viewer_factory(**kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("show", None)
        viewers.append(make_napari_viewer(**kwargs))
        return viewers[-1]

    monkeypatch.setattr(napari, "Viewer", viewer_factory)
    monkeypatch.setattr(napari, "run", lambda *a, **k: None)
    _launch.view([str(cpa_case.folder)], workspace=str(tmp_path / "ws"))

    (viewer,) = viewers
    docks = set(viewer.window.dock_widgets)
    assert {"Case", "Analysis", "Findings"} <= docks
    view = case_view_for(viewer)
    assert view.session.case_id == "cpa_case"
    assert view.session.workspace.root == tmp_path / "ws"
    assert [layer.name for layer in viewer.layers] == ["T2: t2_ciss", "TOF: tof"]
    # a moment after the first frame: the empty layers the analysis will fill
    qtbot.waitUntil(lambda: len(viewer.layers) == 8)
    assert [x.name for x in viewer.layers][2:] == [
        "labels", "brainstem (3-D)", "nerves and vessels (3-D)", "finding and landmark tags",
        "landmarks (RExP, RDP, TZ)", "findings",
    ]  # fmt: skip

    # The Plugins-menu widget of the same viewer works on the same open case.
    _, widget = viewer.window.add_plugin_dock_widget("nvc-viewer", "MVD workspace (all panels)")
    assert isinstance(widget, WorkspaceWidget)
    assert widget.findings.view is view and widget.case.view.session.case_id == "cpa_case"

    # The real analysis, in the worker thread: its result lands in layers, table and file.
    with qtbot.waitSignal(widget.analysis.finished, timeout=WAIT_MS) as outcome:
        assert widget.analysis.start()
    assert outcome.args == ["done"], widget.analysis.status.text()
    t2_layer = viewer.layers[0]
    kinds = {type(layer).__name__ for layer in viewer.layers}
    assert {"Labels", "Surface"} <= kinds
    for layer in viewer.layers:
        assert _transform(layer) == _transform(t2_layer), layer.name
    case = view.session.findings
    saved = json.loads((tmp_path / "ws" / "cpa_case" / "findings.json").read_text())
    assert len(saved["findings"]) == len(case.findings) == len(widget.findings.finding_ids)
    assert len(saved["landmarks"]) == len(case.landmarks)
    assert {f["origin"] for f in saved["findings"]} <= {"auto"}

    # The surgeon's word at one place: a nerve runs through this click (re-traced in a box).
    assert widget.analysis.refine_buttons["nerve"].isEnabled()
    click_ras = cpa_case.centrelines["VII_left"][70]
    assert widget.analysis.arm_refine("nerve")
    with qtbot.waitSignal(widget.analysis.finished, timeout=WAIT_MS) as outcome:
        click(viewer, view.ras_to_world(click_ras))
    assert outcome.args == ["done"], widget.analysis.status.text()
    assert not view.placing
    index = tuple(np.rint(view.ras_to_data(click_ras)).astype(int))
    assert view.labels_layer.data[index] in (3, 4, 5)  # the clicked tube is a nerve now


def test_brush_corrections_survive_a_rerun_by_an_analysis_that_cannot_take_them(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    """`nvc_viewer.analysis.analyse` has no ``labels`` parameter yet: the corrected map is then
    kept as the case's map (shown, saved as the corrected file), the findings still refresh."""
    workspace = tmp_path / "ws"
    viewer = make_napari_viewer()
    panels = dock_panels(viewer, workspace=workspace)
    calls: list[dict[str, Any]] = []
    with_labels = truth_analyse(cpa_case, calls)

    def analyse(t2, tof=None, *, seeds=None, progress=None, cancel=None):  # type: ignore[no-untyped-def]
        return with_labels(t2, tof, seeds=seeds, progress=progress, cancel=cancel)

    panels.analysis.analyse = analyse
    panels.case.scan(cpa_case.folder)
    assert panels.case.open_case(), panels.case.status.text()
    view = case_view_for(viewer)
    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        assert panels.analysis.start()
    assert outcome.args == ["done"], panels.analysis.status.text()
    folder = workspace / "cpa_case"
    assert (folder / "segmentation.nii.gz").is_file()

    # paint a vein where the machine saw cisternal CSF, through the layer's data API
    layer = view.labels_layer
    painted = np.asarray(layer.data).copy()
    csf = np.argwhere(painted == 2)[:5]
    painted[tuple(csf.T)] = 7
    layer.data = painted
    layer.events.paint(value=None)
    table = panels.findings
    table.select(table.finding_ids[0])
    table.confirm_selected()

    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        assert panels.analysis.start()
    assert outcome.args == ["done"], panels.analysis.status.text()
    assert "label corrections kept" in panels.analysis.status.text()
    assert view.labels_layer is layer
    np.testing.assert_array_equal(layer.data[tuple(csf.T)], [7] * len(csf))
    assert view.session.labels_edited
    view.wait_for_saves()
    saved = nib.load(folder / "segmentation_corrected.nii.gz").get_fdata()
    assert np.count_nonzero(saved == 7) == len(csf)
    # the review survived the re-run, and the machine's findings are there again
    origins = {f.id: f.origin for f in view.session.findings.findings}
    assert origins[table.finding_ids[0]] == "auto-confirmed"
    assert len(calls) == 2

    # unticking "Use my label corrections": the machine's map replaces them
    panels.analysis.use_corrections.setChecked(False)
    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        assert panels.analysis.start()
    assert outcome.args == ["done"], panels.analysis.status.text()
    assert not np.any(view.labels_layer.data == 7)
    assert not view.session.labels_edited
    assert not (folder / "segmentation_corrected.nii.gz").exists()


def _front_tab(viewer: Any, beside: str) -> str | None:
    """The text of the front tab of the window's dock tab bar that holds ``beside``."""
    from qtpy.QtWidgets import QTabBar

    for bar in viewer.window._qt_window.findChildren(QTabBar):
        texts = [bar.tabText(i) for i in range(bar.count())]
        if beside in texts:
            return bar.tabText(bar.currentIndex())
    return None


def _case_opened(make_napari_viewer: Any, tmp_path: Path, cpa_case: SyntheticCase):
    """A viewer with the panels docked and ``cpa_case`` open: (viewer, panels, case view)."""
    viewer = make_napari_viewer()
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    panels.case.scan(cpa_case.folder)
    assert panels.case.open_case(), panels.case.status.text()
    return viewer, panels, case_view_for(viewer)


def test_the_cursor_shows_its_patient_ras_position(
    make_napari_viewer, qtbot, tmp_path: Path, cpa_case: SyntheticCase
) -> None:
    viewer, _, view = _case_opened(make_napari_viewer, tmp_path, cpa_case)
    overlay = text_overlay(viewer)
    assert not overlay.visible  # no position before the mouse is over the canvas

    def shown() -> list[float]:  # "L 12.7  P 24.7  I 33.8 mm" -> RAS
        parts = overlay.text.removesuffix(" mm").split()
        sign = {"R": 1, "L": -1, "A": 1, "P": -1, "S": 1, "I": -1}
        return [sign[parts[n]] * float(parts[n + 1]) for n in (0, 2, 4)]

    target = cpa_case.centrelines["VII_left"][70]  # a point of the left facial nerve, RAS mm
    move(viewer, view.ras_to_world(target))
    assert overlay.visible
    np.testing.assert_allclose(shown()[:2], target[:2], atol=0.051)  # one decimal
    np.testing.assert_allclose(shown()[2], target[2], atol=0.41)  # the slice drawn
    viewer.dims.set_point(0, view.ras_to_world(target)[0] + 2.0)  # 2 mm up, the mouse still
    np.testing.assert_allclose(shown(), target + [0.0, 0.0, 2.0], atol=0.41)  # to a slice
    viewer.dims.ndisplay = 3  # in 3-D the cursor is a ray: no position is claimed
    move(viewer, view.ras_to_world(target) + 1.0)
    assert not overlay.visible and overlay.text == ""


def test_the_picker_offers_both_dicom_series_beside_a_label_map_and_refuses_another_series(
    make_napari_viewer, tmp_path: Path
) -> None:
    from nvc_viewer.io.dicom_write import write_series

    from ._phantoms import make_volume

    folder = tmp_path / "study_2031"
    t2 = make_volume("axial", shape=(16, 12, 10))
    tof = make_volume("oblique", shape=(14, 10, 6), spacing=(0.7, 0.7, 1.0), role="tof")
    write_series(t2, folder / "s3", series_description="t2_ciss_3d_0.5iso", series_number=3)
    write_series(
        tof, folder / "s5", series_description="tof_fl3d_tra", sequence_name="*fl3d1r_t70",
        series_number=5,
    )  # fmt: skip
    truth = np.zeros(t2.shape, np.uint8)
    truth[2:8, 3:9, 1:9] = 1
    nib.Nifti1Image(truth, t2.affine).to_filename(folder / "labels_truth.nii.gz")

    viewer = make_napari_viewer()
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    picker = panels.case
    entries = picker.scan(folder)
    # every series is listed, the label map too (as a label map) ...
    assert {e.key: e.role for e in entries} == {
        "3": "t2",
        "5": "tof",
        "labels_truth.nii.gz": "label",
    }
    rows = {picker.table.item(r, 0).text(): picker.table.item(r, 5).text() for r in range(3)}
    assert rows["labels_truth.nii.gz"] == "label"
    # ... but only the two DICOM series are offered as the T2 and the TOF, proposed as such
    t2_offered = [picker.t2_combo.itemData(i) for i in range(picker.t2_combo.count())]
    tof_offered = [picker.tof_combo.itemData(i) for i in range(picker.tof_combo.count())]
    assert t2_offered == ["3", "5"] and tof_offered == [None, "3", "5"]
    assert (picker.t2_key, picker.tof_key) == ("3", "5")
    assert picker.open_case(), picker.status.text()
    view = case_view_for(viewer)
    assert view.session.tof is not None
    view.session.add_manual(view.session.t2.ras_of((8.0, 6.0, 5.0)), grade="contact")

    # The same case id on another series: refused, the saved finding is not attached to it.
    picker.set_t2("5")
    picker.set_tof(None)
    assert not picker.open_case()
    assert "another T2 series" in picker.status.text()
    assert "findings.json" in picker.status.text()
    assert view.session.t2.meta.extra["series_key"] == "3"  # the open case stays as it was
