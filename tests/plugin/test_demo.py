"""The headless demo writes real screenshots of the sample case; napari opens the sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nvc_viewer_napari._launch import demo
from skimage.io import imread

from nvc_viewer.sample import sample_case_path


def test_headless_demo_writes_non_black_screenshots(tmp_path: Path) -> None:
    result = demo(headless=True, out_dir=tmp_path / "out")

    assert result["sample"] == sample_case_path()
    assert result["screenshot_axial"] == tmp_path / "out" / "screenshot_axial.png"
    images = {}
    for key in ("screenshot_axial", "screenshot_3d"):
        image = imread(result[key])
        assert image.ndim == 3 and image.shape[0] >= 100 and image.shape[1] >= 100
        gray = image[..., :3].astype(float).mean(axis=2)
        # the brain fills a good part of the canvas, with contrast inside it
        assert np.mean(gray > 20) > 0.2, f"{key} is (nearly) black"
        assert gray.std() > 20
        images[key] = gray
    assert not np.array_equal(images["screenshot_axial"], images["screenshot_3d"])


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
