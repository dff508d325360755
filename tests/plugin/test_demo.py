"""The headless demo writes real screenshots of the sample case."""

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
