"""NIfTI reader: real nibabel files, sform/qform, 4-D, NaN, truncation, absurd sizes."""

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import nvc_viewer
from nvc_viewer.errors import (
    CorruptFileError,
    ImageTooLargeError,
    InputNotFoundError,
    NonFiniteDataError,
    NotAnImageError,
    SeriesSelectionError,
    UnsupportedImageError,
)
from nvc_viewer.io import read_nifti

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"


def _save(img, path):
    nib.save(img, path)
    return path


def test_real_anatomical_file_matches_nibabel():
    path = NIBABEL_DATA / "anatomical.nii"
    vol = nvc_viewer.load(path)
    ref = nib.load(path)
    np.testing.assert_array_equal(vol.data, np.asanyarray(ref.dataobj))
    np.testing.assert_allclose(vol.affine, ref.affine)
    assert vol.meta.kind == "nifti"
    assert vol.meta.source_paths == (str(path),)


def test_gz_and_scaling_give_real_world_values(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(data, np.diag([0.5, 0.5, 0.8, 1]))
    img.header.set_slope_inter(2.0, -10.0)
    vol = read_nifti(_save(img, tmp_path / "t2_ciss.nii.gz"))
    np.testing.assert_allclose(vol.data, data * 2.0 - 10.0)
    assert vol.meta.role == "t2"
    assert vol.meta.description == "t2_ciss"


def test_sform_wins_over_qform_and_qform_is_used_alone(tmp_path):
    data = np.zeros((3, 3, 3), np.float32)
    sform = np.diag([-0.5, 0.5, 0.5, 1.0])
    qform = np.diag([0.7, 0.7, 0.7, 1.0])
    img = nib.Nifti1Image(data, None)
    img.set_sform(sform, code=1)
    img.set_qform(qform, code=1)
    vol = read_nifti(_save(img, tmp_path / "a.nii"))
    np.testing.assert_allclose(vol.affine, sform)
    assert vol.meta.extra["affine_source"] == "sform"
    img.set_sform(None, code=0)
    vol = read_nifti(_save(img, tmp_path / "b.nii"))
    np.testing.assert_allclose(vol.affine, qform)
    assert vol.meta.extra["affine_source"] == "qform"


def test_no_orientation_is_a_warning(tmp_path):
    img = nib.Nifti1Image(np.zeros((3, 3, 3), np.float32), None)
    img.set_sform(None, code=0)
    img.set_qform(None, code=0)
    vol = read_nifti(_save(img, tmp_path / "a.nii"))
    assert any("left/right cannot be trusted" in w for w in vol.meta.warnings)


def test_4d_is_refused_unless_a_volume_is_chosen(tmp_path):
    path = NIBABEL_DATA / "example4d.nii.gz"
    with pytest.raises(UnsupportedImageError, match=r"4-D image with \d+ volumes.*volume=N"):
        nvc_viewer.load(path)
    vol = nvc_viewer.load(path, volume=1)
    ref = nib.load(path)
    np.testing.assert_array_equal(vol.data, ref.get_fdata()[..., 1].astype(vol.data.dtype))
    with pytest.raises(UnsupportedImageError, match="volume=99"):
        nvc_viewer.load(path, volume=99)


def test_4d_with_a_single_volume_is_3d(tmp_path):
    img = nib.Nifti1Image(np.ones((3, 4, 5, 1), np.float32), np.eye(4))
    assert read_nifti(_save(img, tmp_path / "a.nii")).shape == (3, 4, 5)


def test_nan_is_refused_or_zeroed_on_request(tmp_path):
    data = np.ones((4, 4, 4), np.float32)
    data[1, 2, 3] = np.nan
    data[0, 0, 0] = np.inf
    path = _save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii")
    with pytest.raises(NonFiniteDataError, match=r"nan\.nii: 2 of 64 voxels are NaN"):
        read_nifti(path)
    vol = read_nifti(path, nonfinite="zero")
    assert np.isfinite(vol.data).all() and vol.data[1, 2, 3] == 0
    assert "2 NaN/infinite voxels set to 0" in vol.meta.warnings


def test_truncated_file_is_a_corrupt_file_error(tmp_path):
    noise = np.random.default_rng(0).random((20, 20, 20), dtype=np.float32)
    src = _save(nib.Nifti1Image(noise, np.eye(4)), tmp_path / "a.nii")
    cut = tmp_path / "cut.nii"
    cut.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(CorruptFileError, match="cut.nii"):
        read_nifti(cut)
    cutgz = tmp_path / "cut.nii.gz"
    packed = gzip.compress(src.read_bytes())
    cutgz.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(CorruptFileError, match="cut.nii.gz"):
        read_nifti(cutgz)


def test_absurd_header_size_is_refused_before_reading(tmp_path):
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4))
    path = _save(img, tmp_path / "huge.nii")
    raw = bytearray(path.read_bytes())
    hdr = nib.Nifti1Header.from_fileobj(__import__("io").BytesIO(bytes(raw[:348])))
    hdr.set_data_shape((30000, 30000, 30000))
    raw[:348] = hdr.binaryblock
    path.write_bytes(bytes(raw))
    with pytest.raises(ImageTooLargeError, match="huge.nii.*header claims"):
        read_nifti(path)


def test_not_a_nifti_and_missing_file(tmp_path):
    bogus = tmp_path / "notes.nii"
    bogus.write_text("hello, this is not an image")
    with pytest.raises((NotAnImageError, CorruptFileError), match="notes.nii"):
        read_nifti(bogus)
    with pytest.raises(InputNotFoundError, match="missing.nii"):
        nvc_viewer.load(tmp_path / "missing.nii")


def test_folder_of_niftis_picks_the_t2_by_name(tmp_path):
    for name in ("tof_mra.nii.gz", "fiesta_axial.nii.gz"):
        _save(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp_path / name)
    assert nvc_viewer.load(tmp_path).meta.description == "fiesta_axial"
    assert nvc_viewer.load(tmp_path, series="tof").meta.role == "tof"
    assert nvc_viewer.load(tmp_path, series="tof_mra.nii.gz").meta.description == "tof_mra"
    with pytest.raises(SeriesSelectionError, match="no NIfTI file matches"):
        nvc_viewer.load(tmp_path, series="flair")


def test_folder_of_unnamed_niftis_asks_which(tmp_path):
    for name in ("a.nii", "b.nii"):
        _save(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp_path / name)
    with pytest.raises(SeriesSelectionError, match="2 NIfTI files and none named as the T2"):
        nvc_viewer.load(tmp_path)


def test_source_file_is_never_modified(tmp_path):
    path = _save(nib.Nifti1Image(np.ones((3, 3, 3), np.float32), np.eye(4)), tmp_path / "a.nii")
    before = path.read_bytes()
    vol = read_nifti(path)
    if vol.data.flags.writeable:
        vol.data[...] = 5
    assert path.read_bytes() == before
