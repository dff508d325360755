"""Volume -> napari layer data: positions, shared grid, styling (no viewer needed)."""

from __future__ import annotations

import numpy as np
import pytest
from nvc_viewer_napari._layers import case_layers, volume_to_layer_data
from nvc_viewer_napari._surfaces import label_surfaces

from nvc_viewer.errors import InvalidVolumeError
from nvc_viewer.export.nifti_labels import write_itksnap_labels
from nvc_viewer.geometry import RAS_TO_SPL, apply_affine
from nvc_viewer.labels import LABELS
from nvc_viewer.volume import Volume, VolumeMeta

from ._phantoms import make_volume

VOXELS = [(0, 0, 0), (39, 47, 31), (3, 41, 7), (25, 2, 30)]


def _world(kwargs: dict, index: np.ndarray) -> np.ndarray:
    """What napari computes from scale and translate: index * scale + translate."""
    return np.asarray(index) * np.asarray(kwargs["scale"]) + np.asarray(kwargs["translate"])


@pytest.mark.parametrize("orientation", ["axial", "sagittal"])
def test_axis_aligned_voxels_land_at_their_patient_position(orientation: str) -> None:
    volume = make_volume(orientation)
    data, kwargs, layer_type = volume_to_layer_data(volume)
    assert layer_type == "image"
    assert "affine" not in kwargs and "rotate" not in kwargs
    for ijk in VOXELS:
        # values are unique, so the display index of a voxel is found by its value
        (index,) = np.argwhere(data == volume.data[ijk])
        expected = apply_affine(RAS_TO_SPL, volume.ras_of(ijk))
        np.testing.assert_allclose(_world(kwargs, index), expected, rtol=0, atol=1e-9)


def test_oblique_voxels_round_trip_through_the_exact_affine() -> None:
    volume = make_volume("oblique")
    data, kwargs, _ = volume_to_layer_data(volume)
    grid = kwargs["metadata"]["nvc_grid"]
    assert grid.obliquity_deg > 10
    for ijk in VOXELS:
        (index,) = np.argwhere(data == volume.data[ijk])
        position_ras = grid.display_to_ras(_world(kwargs, index))
        np.testing.assert_allclose(position_ras, volume.ras_of(ijk), rtol=0, atol=1e-6)
        # and the naive reading (ignoring the residual rotation) is off by millimetres
        naive = apply_affine(np.linalg.inv(RAS_TO_SPL), _world(kwargs, index))
        if ijk != (0, 0, 0):
            assert np.linalg.norm(naive - volume.ras_of(ijk)) > 0.5


def test_metadata_and_gray_style_of_the_reference() -> None:
    volume = make_volume("axial")
    data, kwargs, _ = volume_to_layer_data(volume, name="ref")
    meta = kwargs["metadata"]
    assert meta["nvc_volume"] is volume
    np.testing.assert_array_equal(meta["affine_ras"], meta["nvc_grid"].affine_ras)
    assert kwargs["name"] == "ref"
    assert kwargs["colormap"] == "gray"
    lo, hi = kwargs["contrast_limits"]
    # robust percentiles of 0..61439: well inside the range, not the extremes
    assert 0 < lo < 0.01 * 61439 and 0.99 * 61439 < hi < 61439
    assert np.shares_memory(data, volume.data)  # flips/transposes only, no copy


def test_constant_image_gets_a_usable_contrast_range() -> None:
    volume = make_volume("axial", data=np.full((4, 5, 6), 7.0, dtype=np.float32))
    _, kwargs, _ = volume_to_layer_data(volume)
    lo, hi = kwargs["contrast_limits"]
    assert hi > lo


def test_case_layers_share_one_grid_and_fuse_the_tof() -> None:
    t2 = make_volume("oblique", data=np.zeros((40, 48, 32), np.float32))
    # TOF on its own axial grid (coarser, shifted), with one bright "artery" voxel block
    tof_data = np.full((24, 30, 20), 100.0, dtype=np.float32)
    tof_data[10:14, 12:16, 8:12] = 1000.0
    tof = make_volume(
        "axial", spacing=(0.9, 0.9, 1.2), data=tof_data, role="tof", description="tof"
    )
    labels_data = np.zeros((40, 48, 32), np.uint8)
    labels_data[5:9, 5:9, 5:9] = 6
    labels = Volume(labels_data, t2.affine, VolumeMeta(role="label"))

    layers = case_layers(t2, tof, labels)
    (t2_data, t2_kw, t2_type), (tof_data_d, tof_kw, tof_type), (lab_data, lab_kw, lab_type) = layers
    assert (t2_type, tof_type, lab_type) == ("image", "image", "labels")
    for kw in (tof_kw, lab_kw):
        assert kw["scale"] == t2_kw["scale"] and kw["translate"] == t2_kw["translate"]
        assert kw["metadata"]["nvc_grid"] is t2_kw["metadata"]["nvc_grid"]
    assert tof_data_d.shape == lab_data.shape == t2_data.shape

    assert tof_kw["blending"] == "additive" and tof_kw["colormap"] == "red"
    assert tof_kw["metadata"]["nvc_source_volume"] is tof
    # the artery's centre, found in the fused layer through the exact reference affine
    grid = t2_kw["metadata"]["nvc_grid"]
    centre_ras = tof.ras_of([11.5, 13.5, 9.5])
    index = np.round(grid.display_to_index(grid.ras_to_display(centre_ras))).astype(int)
    assert tof_data_d[tuple(index)] == pytest.approx(1000.0)
    lo, hi = tof_kw["contrast_limits"]
    assert lo >= 100.0  # stationary tissue is not coloured

    assert lab_data.dtype == np.uint8 and set(np.unique(lab_data)) == {0, 6}
    assert lab_kw["colormap"][6] and lab_kw["colormap"][0] == "transparent"
    assert not np.shares_memory(lab_data, labels_data)  # painting must not change the Volume


def test_volume_off_the_reference_grid_is_resampled_into_it() -> None:
    reference = make_volume("sagittal")
    _, ref_kw, _ = volume_to_layer_data(reference)
    other = make_volume("axial", shape=(10, 12, 8), spacing=(2.0, 2.0, 2.0))
    data, kw, _ = volume_to_layer_data(other, reference_grid=ref_kw["metadata"]["nvc_grid"])
    assert data.shape == ref_kw["metadata"]["nvc_grid"].shape
    assert kw["scale"] == ref_kw["scale"] and kw["translate"] == ref_kw["translate"]


def test_bad_kind_and_fractional_labels_are_refused() -> None:
    volume = make_volume("axial", data=np.full((4, 5, 6), 0.5, dtype=np.float32))
    with pytest.raises(InvalidVolumeError, match="kind must be"):
        volume_to_layer_data(volume, kind="points")  # type: ignore[arg-type]
    with pytest.raises(InvalidVolumeError, match="non-integer"):
        volume_to_layer_data(volume, kind="labels")


def test_tof_overlay_colours_only_the_arterial_inflow_inside_the_t2_field() -> None:
    rng = np.random.default_rng(0)
    t2 = make_volume("axial")
    # A TOF slab covering the lower three quarters of the T2 field: stationary tissue about
    # 100, a few per cent of voxels (arteries) bright, a brighter rim outside the T2 field.
    shape = (60, 70, 24)
    tof_data = rng.normal(100.0, 10.0, shape).astype(np.float32)
    tof_data[20:23, 20:23, :] = tof_data[30:33, 40:43, :] = 1000.0
    tof_data[45:], tof_data[:, 55:] = 400.0, 400.0  # beyond the T2 field (40 x 48 voxels)
    tof = make_volume("axial", shape=shape, data=tof_data, role="tof", description="tof")

    (_, _, _), (fused, kw, _) = case_layers(t2, tof)
    lo, hi = kw["contrast_limits"]
    covered = fused[fused != 0]
    assert 0 < covered.size < fused.size  # the slab covers part of the T2 field only
    background = covered[covered < 300]
    # nearly all stationary tissue inside the T2 field stays below the window: uncoloured
    assert np.mean(background < lo) >= 0.9
    assert lo < 1000.0 <= hi + 1e-3  # the arteries are at full red
    assert kw["blending"] == "additive" and kw["colormap"] == "red"


def _itksnap_colours(path) -> dict[int, tuple[int, int, int]]:
    """Label value -> (R, G, B) as an ITK-SNAP / 3D Slicer label description file gives it."""
    colours = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            idx, r, g, b = (int(v) for v in line.split()[:4])
            colours[idx] = (r, g, b)
    return colours


def test_label_layer_and_surface_colours_are_the_exported_ones(tmp_path) -> None:
    """The viewer shows every structure in the colour the exported label file gives it."""
    from napari.layers import Labels

    exported = _itksnap_colours(write_itksnap_labels(tmp_path / "segmentation_labels.txt"))
    assert sorted(exported) == [0, *sorted(LABELS)]
    # One slab per label value, along the first axis.
    data = np.repeat(np.arange(8, dtype=np.uint8), 4)[:, None, None] * np.ones((1, 6, 6), np.uint8)
    volume = make_volume("axial", shape=data.shape, data=data, role="label", description="seg")
    layer_data, kwargs, layer_type = volume_to_layer_data(volume, kind="labels")
    layer = Labels(layer_data, **kwargs)
    for value in LABELS:
        rgba = np.asarray(layer.colormap.map(np.array([value], dtype=np.uint8)))[0]
        shown = tuple(int(round(c * 255)) for c in rgba[:3])
        assert shown == exported[value], (
            f"label {value}: napari {shown}, exported {exported[value]}"
        )
    assert np.asarray(layer.colormap.map(np.array([0], dtype=np.uint8)))[0][3] == 0
    meshes = label_surfaces(layer_data, np.ones(3), smooth_mm=0.3)
    assert {m.value for m in meshes} == set(LABELS) - {2}  # the CSF has no surface
    for mesh in meshes:
        rgb = tuple(int(mesh.color[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb == exported[mesh.value], f"surface {mesh.name}"
