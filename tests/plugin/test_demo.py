"""The headless demo does the main job on the sample case; napari opens the sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nvc_viewer_napari._launch import demo
from skimage.io import imread

from nvc_viewer.sample import sample_case_path, sample_truth_path


def test_headless_demo_analyses_exports_and_shows_the_sample(tmp_path: Path) -> None:
    result = demo(headless=True, out_dir=tmp_path / "out")

    assert result["sample"] == sample_case_path()
    # the analysis ran: the sample's left facial-nerve conflict is proposed, on the left
    truth = json.loads(sample_truth_path().read_text())
    (conflict,) = [f for f in truth["findings"] if f["grade"] != "none"]
    case_dir = tmp_path / "out" / "workspace" / "sample_cpa"
    saved = json.loads((case_dir / "findings.json").read_text())
    near = [
        f
        for f in saved["findings"]
        if f["side"] == conflict["side"] and f["nerve"] == conflict["nerve"]
        and np.linalg.norm(np.subtract(f["position_ras"], conflict["position_ras"])) < 3.0
    ]  # fmt: skip
    assert near, saved["findings"]
    assert len(result["findings"]) == len(saved["findings"])
    # every export format was written into the workspace
    names = {Path(p).name for p in result["exports"]}
    assert {"findings.json", "findings.csv", "findings.mrk.json", "segmentation.nii.gz",
            "segmentation.dcm", "report_sr.dcm", "report.pdf"} <= names  # fmt: skip
    assert all(Path(p).parent == case_dir and Path(p).stat().st_size > 0 for p in result["exports"])
    images = {}
    for key, filled in (("screenshot_axial", 0.2), ("screenshot_3d", 0.05)):
        assert result[key] == tmp_path / "out" / f"{key}.png"
        image = imread(result[key])
        assert image.ndim == 3 and image.shape[0] >= 100 and image.shape[1] >= 100
        gray = image[..., :3].astype(float).mean(axis=2)
        # the anatomy fills a part of the canvas, with contrast inside it
        assert np.mean(gray > 20) > filled, f"{key} is (nearly) black"
        assert gray.std() > 20
        images[key] = gray
    assert not np.array_equal(images["screenshot_axial"], images["screenshot_3d"])
    assert imread(result["screenshot_workspace"]).shape[1] > images["screenshot_axial"].shape[1]


def test_a_demo_run_after_one_that_left_the_case_in_3d_shows_each_picture_in_its_view(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import napari
    from nvc_viewer_napari._case_view import PLANES, case_view_for
    from nvc_viewer_napari._launch import open_workspace

    out = tmp_path / "out"
    saved_view = out / "workspace" / "sample_cpa" / "view.json"
    # an earlier run left the sample in the 3-D view, as the demo ends: saved with the case
    viewer, panels = open_workspace(
        [str(sample_case_path())], workspace=out / "workspace", case_id="sample_cpa"
    )
    qtbot.wait(50)  # the dock settles its tabs after the first turn of the event loop
    panels.analysis.show_plane("3-D")
    case_view_for(viewer).session.flush_view()  # as closing the case does
    viewer.close()
    assert json.loads(saved_view.read_text())["ndisplay"] == 3

    seen: dict[str, dict] = {}
    screenshot = napari.Viewer.screenshot

    def recording(self: napari.Viewer, path: str | None = None, *args: Any, **kwargs: Any) -> Any:
        view = case_view_for(self)
        seen[Path(str(path)).stem] = {
            "ndisplay": self.dims.ndisplay,
            "order": tuple(self.dims.order),
            "T2 shown": view.reference.visible,
            "surfaces shown": any(layer.visible for layer in view.surface_layers),
        }
        return screenshot(self, path, *args, **kwargs)

    monkeypatch.setattr(napari.Viewer, "screenshot", recording)
    result = demo(headless=True, out_dir=out)

    axial = {"ndisplay": 2, "order": PLANES["axial"][0], "T2 shown": True, "surfaces shown": False}
    assert seen["screenshot_axial"] == axial
    assert seen["screenshot_workspace"] == axial
    assert seen["screenshot_3d"] == {
        "ndisplay": 3, "order": PLANES["axial"][0], "T2 shown": False, "surfaces shown": True
    }  # fmt: skip
    assert all(result[key].exists() for key in seen)
    assert saved_view.exists()  # the surgeon's saved view is kept


def test_open_sample_shows_t2_tof_and_hidden_truth_labels(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open_sample("nvc-viewer", "sample_case")

    assert [layer.metadata["nvc_role"] for layer in layers] == ["t2", "tof", "label"]
    t2, tof, labels = layers
    assert [layer.visible for layer in layers] == [True, True, False]
    assert labels.name == "truth labels"
    # one display grid: the TOF and the labels were resampled into the T2's voxels
    assert t2.data.shape == tof.data.shape == labels.data.shape
    np.testing.assert_allclose(tof.scale, t2.scale)
    np.testing.assert_allclose(labels.translate, t2.translate)
    # the phantom's facial nerves, both sides, are in the label map
    assert np.count_nonzero(labels.data == 3) > 50
