"""`view`: inputs become one case on one grid; bad input fails before a window opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import napari
import numpy as np
import pytest
import qtpy
from nvc_viewer_napari import _launch

from nvc_viewer.errors import InputNotFoundError

from ._phantoms import make_volume, write_nifti


def test_view_refuses_bad_input_before_opening_a_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_window(**kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a window was opened")

    monkeypatch.setattr(_launch, "new_viewer", no_window)
    monkeypatch.setattr(napari, "run", no_window)
    with pytest.raises(InputNotFoundError, match="missing.nii"):
        _launch.view([str(tmp_path / "missing.nii")])


def test_view_shows_several_inputs_on_the_first_ones_grid(
    make_napari_viewer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t2 = write_nifti(make_volume("sagittal"), tmp_path / "case_ciss.nii.gz")
    tof = write_nifti(
        make_volume("axial", shape=(10, 12, 8), spacing=(1.5, 1.5, 2.0), role="tof"),
        tmp_path / "case_tof.nii.gz",
    )
    other = write_nifti(make_volume("axial", shape=(6, 6, 6)), tmp_path / "other.nii.gz")
    viewers = []

    def viewer_factory(**kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("show", None)
        viewers.append(make_napari_viewer(**kwargs))
        return viewers[-1]

    monkeypatch.setattr(napari, "Viewer", viewer_factory)
    monkeypatch.setattr(napari, "run", lambda *a, **k: None)

    _launch.view([str(t2), str(tof), str(other)])

    (viewer,) = viewers
    assert tuple(viewer.dims.axis_labels) == ("S", "P", "L")
    assert viewer.dims.ndisplay == 2
    reference, tof_layer, other_layer = viewer.layers
    assert reference.colormap.name == "gray"
    assert tof_layer.blending == "additive" and other_layer.blending != "additive"
    for layer in (tof_layer, other_layer):
        np.testing.assert_array_equal(layer.scale, reference.scale)
        np.testing.assert_array_equal(layer.translate, reference.translate)
        assert layer.data.shape == reference.data.shape
    # the axial slice shown is the middle one
    low, high = np.asarray(viewer.layers.extent.world)[:, 0]
    assert viewer.dims.point[0] == pytest.approx((low + high) / 2, abs=reference.scale[0])


def test_view_with_workspace_autosaves_there_and_reopening_restores(
    make_napari_viewer, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nvc_viewer_napari._case_view import case_view_for

    from nvc_viewer.cli import main

    case = tmp_path / "case_017"
    case.mkdir()
    write_nifti(make_volume("axial", role="t2"), case / "t2_ciss.nii.gz")
    workspace = tmp_path / "ws"
    monkeypatch.setenv("NVC_VIEWER_WORKSPACE", str(tmp_path / "elsewhere"))  # must not be used
    viewers = []

    def viewer_factory(**kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("show", None)
        viewers.append(make_napari_viewer(**kwargs))
        return viewers[-1]

    monkeypatch.setattr(napari, "Viewer", viewer_factory)
    monkeypatch.setattr(napari, "run", lambda *a, **k: None)

    assert main(["view", str(case), "--workspace", str(workspace)]) == 0
    view = case_view_for(viewers[0])
    assert view.session.case_id == "case_017"
    assert view.session.workspace.root == workspace
    # the surgeon's work: a manual finding and a brush correction of the label map
    point_ras = view.session.t2.ras_of([20, 24, 16])
    finding = view.session.add_manual(point_ras, grade="indentation")
    qtbot.waitUntil(lambda: view.labels_layer is not None)
    painted = np.asarray(view.labels_layer.data).copy()
    painted[3, 4, 5:9] = 6
    view.labels_layer.data = painted
    view.labels_layer.events.paint(value=None)
    view.flush_labels()
    view.wait_for_saves()
    assert (workspace / "case_017" / "findings.json").is_file()
    assert not (tmp_path / "elsewhere").exists()

    # the command again, in a new window: the case comes back as it was left
    assert main(["view", str(case), "--workspace", str(workspace)]) == 0
    assert len(viewers) == 2
    reopened = case_view_for(viewers[1])
    assert reopened is not view
    restored = reopened.session.findings.findings
    assert [(f.id, f.origin, f.grade) for f in restored] == [(finding.id, "manual", "indentation")]
    np.testing.assert_allclose(restored[0].position_ras, point_ras, atol=1e-6)
    np.testing.assert_array_equal(reopened.labels_layer.data[3, 4, 5:9], [6, 6, 6, 6])
    assert reopened.session.labels_edited  # the corrected map, not a machine one


_FIRST_WINDOW = """
from napari.utils.notifications import notification_manager
from qtpy.QtCore import QEventLoop, QTimer
from nvc_viewer_napari._viewer import new_viewer
import qtpy

viewer = new_viewer(show=True)
loop = QEventLoop()
QTimer.singleShot(300, loop.quit)
loop.exec()
print(qtpy.API_NAME)
for record in notification_manager.records:
    print(record.message)
viewer.close()
"""


@pytest.mark.xfail(
    qtpy.API_NAME == "PyQt5",
    reason="napari 0.9 warns on its first window that its PyQt5 support is deprecated",
    strict=True,
)
def test_the_first_window_shows_no_qt_deprecation_warning() -> None:
    """The `qt` extra's binding (PyQt6): napari's first window of a process says nothing about
    a deprecated Qt backend (a fresh process: napari warns once per process)."""
    run = subprocess.run(
        [sys.executable, "-c", _FIRST_WINDOW], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    binding, *messages = run.stdout.splitlines()
    assert binding in ("PyQt6", "PySide6")
    assert not [m for m in messages if "deprecated" in m], messages
