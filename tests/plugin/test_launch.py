"""`view`: inputs become one case on one grid; bad input fails before a window opens."""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
import pytest
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
