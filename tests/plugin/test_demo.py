"""The headless demo does the main job on the sample case; napari opens the sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
