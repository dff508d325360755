"""The napari reader: sniffing, opening DICOM / NIfTI through the plugin, error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nvc_viewer_napari._reader import get_reader, read_case

from nvc_viewer.errors import NVCError
from nvc_viewer.geometry import RAS_TO_SPL, apply_affine
from nvc_viewer.io.dicom_write import write_series

from ._phantoms import make_volume, write_nifti

# Voxels (i, j, k) of the source volumes whose world position is checked.
VOXELS = [(0, 0, 0), (39, 47, 31), (3, 41, 7), (25, 2, 30)]


def test_get_reader_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    only_text = tmp_path / "only_text"
    only_text.mkdir()
    (only_text / "report.csv").write_text("a,b\n")
    (only_text / "IM0001").write_bytes(b"\0" * 300)  # no DICM magic

    assert get_reader(str(text)) is None
    assert get_reader(str(empty)) is None
    assert get_reader(str(only_text)) is None
    assert get_reader(str(tmp_path / "missing.nii")) is None
    assert get_reader([str(text), str(text)]) is None


def test_get_reader_accepts_nifti_and_dicom(tmp_path: Path) -> None:
    volume = make_volume("axial", shape=(6, 7, 5))
    nifti = write_nifti(volume, tmp_path / "case.nii.gz")
    nifti_folder = tmp_path / "nifti_case"
    nifti_folder.mkdir()
    write_nifti(volume, nifti_folder / "t2.nii")
    # extension-less DICOM files one level down: found by their DICM magic
    dicom_folder = tmp_path / "dicom_case"
    write_series(volume, dicom_folder / "series1", file_names="IM{index:05d}")

    assert get_reader(str(nifti)) is read_case
    assert get_reader([str(nifti)]) is read_case
    assert get_reader(str(nifti_folder)) is read_case
    assert get_reader(str(dicom_folder)) is read_case
    assert get_reader(str(next((dicom_folder / "series1").iterdir()))) is read_case


def test_nifti_folder_with_t2_and_tof_opens_as_one_fused_case(tmp_path: Path) -> None:
    t2 = make_volume("axial", shape=(20, 24, 16))
    tof = make_volume("axial", shape=(10, 12, 8), spacing=(1.0, 1.2, 1.6), role="tof")
    write_nifti(t2, tmp_path / "sub01_ciss.nii.gz")
    write_nifti(tof, tmp_path / "sub01_tof.nii.gz")

    layers = get_reader(str(tmp_path))(str(tmp_path))

    assert [kw["metadata"]["nvc_role"] for _, kw, _ in layers] == ["t2", "tof"]
    (t2_data, t2_kw, _), (tof_data, tof_kw, _) = layers
    assert t2_kw["colormap"] == "gray"
    assert tof_kw["colormap"] == "red" and tof_kw["blending"] == "additive"
    assert tof_data.shape == t2_data.shape
    assert tof_kw["scale"] == t2_kw["scale"] and tof_kw["translate"] == t2_kw["translate"]


def _check_world_positions(layer, source, *, exact: bool) -> None:  # type: ignore[no-untyped-def]
    """Every checked voxel of ``source`` sits at its patient position in the napari world.

    Against the volume as read (``nvc_volume``): exact (1e-9 mm) for axis-aligned data, 1e-6 mm
    through ``display_to_ras`` for oblique data. Against the written source: within the
    precision of the file format (float32 NIfTI affines, DICOM decimal strings), 1e-4 mm.
    """
    grid = layer.metadata["nvc_grid"]
    read = layer.metadata["nvc_volume"]
    for ijk in VOXELS:
        value = source.data[ijk]  # voxel values are unique: a voxel is found by its value
        (index,) = np.argwhere(np.asarray(layer.data) == value)
        (read_ijk,) = np.argwhere(read.data == value)
        world = np.asarray(layer.data_to_world(index))
        if exact:
            expected = apply_affine(RAS_TO_SPL, read.ras_of(read_ijk))
            np.testing.assert_allclose(world, expected, rtol=0, atol=1e-9)
        position_ras = grid.display_to_ras(world)
        np.testing.assert_allclose(position_ras, read.ras_of(read_ijk), rtol=0, atol=1e-6)
        np.testing.assert_allclose(position_ras, source.ras_of(ijk), rtol=0, atol=1e-4)


def test_open_dicom_and_nifti_through_the_plugin(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    for orientation in ("sagittal", "oblique"):
        source = make_volume(orientation)
        folder = tmp_path / f"dicom_{orientation}"
        write_series(source, folder, series_description=f"t2_ciss_{orientation}")
        viewer.layers.clear()
        (layer,) = viewer.open(folder, plugin="nvc-viewer")
        assert layer.metadata["nvc_volume"].meta.kind == "dicom"
        assert tuple(layer.rotate.ravel()) == tuple(np.eye(3).ravel())  # no napari rotation
        _check_world_positions(layer, source, exact=orientation != "oblique")

    source = make_volume("axial")
    nifti = write_nifti(source, tmp_path / "t2.nii.gz")
    viewer.layers.clear()
    (layer,) = viewer.open(nifti, plugin="nvc-viewer")
    _check_world_positions(layer, source, exact=True)


def test_dicom_folder_with_t2_and_tof_series(make_napari_viewer, tmp_path: Path) -> None:
    t2 = make_volume("axial", data=np.full((40, 48, 32), 500, np.uint16))
    tof_data = np.full((20, 24, 16), 100, np.uint16)
    tof_data[8:12, 10:14, 6:10] = 1000  # an "artery"
    tof = make_volume("oblique", spacing=(1.0, 1.2, 1.6), data=tof_data, role="tof")
    write_series(t2, tmp_path / "s1", series_number=1)
    write_series(
        tof,
        tmp_path / "s2",
        series_number=2,
        series_description="tof_3d_multi-slab",
        sequence_name="*fl3d1r_t70",
    )
    viewer = make_napari_viewer()

    t2_layer, tof_layer = viewer.open(tmp_path, plugin="nvc-viewer")

    assert t2_layer.metadata["nvc_role"] == "t2" and tof_layer.metadata["nvc_role"] == "tof"
    assert tof_layer.blending == "additive"
    np.testing.assert_array_equal(tof_layer.scale, t2_layer.scale)
    np.testing.assert_array_equal(tof_layer.translate, t2_layer.translate)
    grid = t2_layer.metadata["nvc_grid"]
    artery_ras = tof.ras_of([9.5, 11.5, 7.5])
    index = np.round(grid.display_to_index(grid.ras_to_display(artery_ras))).astype(int)
    assert tof_layer.data[tuple(index)] > 900


def test_reader_error_reaches_the_user_as_its_message(
    make_napari_viewer, broken_nifti: Path
) -> None:
    viewer = make_napari_viewer()

    with pytest.raises(NVCError) as caught:
        viewer.open(broken_nifti, plugin="nvc-viewer")
    message = str(caught.value)
    assert message.startswith(str(broken_nifti))  # names the file ...
    assert "not a NIfTI image" in message or "cannot read" in message  # ... and the problem
    assert "Traceback" not in message

    # What napari shows for an exception raised while opening: its message, no traceback.
    from napari.utils.notifications import ErrorNotification

    assert ErrorNotification(caught.value).message == message
    assert not viewer.layers


def test_reader_error_without_plugin_choice_keeps_the_message(
    make_napari_viewer, tmp_path: Path
) -> None:
    # Only this plugin reads *.ima, so napari picks it and wraps its error in ReaderPluginError.
    from napari.errors import ReaderPluginError

    broken = tmp_path / "IM0001.ima"
    broken.write_bytes(b"not dicom" * 40)
    viewer = make_napari_viewer()

    with pytest.raises(ReaderPluginError) as caught:
        viewer.open(broken, plugin=None)  # what File > Open does

    original = caught.value.original_error
    assert isinstance(original, NVCError) and str(broken) in str(original)
    # napari's text ends with the class name and our message, verbatim
    assert str(caught.value).endswith(f"{type(original).__name__}: {original}")


def test_unreadable_tof_is_left_out_with_a_warning(tmp_path: Path) -> None:
    write_series(make_volume("axial", shape=(8, 9, 6)), tmp_path / "s1", series_number=1)
    files = write_series(
        make_volume("axial", shape=(8, 9, 6), role="tof"),
        tmp_path / "s2",
        series_number=2,
        series_description="tof_3d",
    )
    files[3].unlink()  # a missing slice in the TOF

    with pytest.warns(UserWarning, match="TOF series is not shown"):
        layers = read_case(str(tmp_path))

    assert [kw["metadata"]["nvc_role"] for _, kw, _ in layers] == ["t2"]
