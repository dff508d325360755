"""Label map as NIfTI (read back with nibabel) and the ITK-SNAP label description file."""

from __future__ import annotations

import re

import nibabel as nib
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvc_viewer.errors import ExportError
from nvc_viewer.export.nifti_labels import (
    itksnap_label_text,
    write_itksnap_labels,
    write_segmentation_nifti,
)
from nvc_viewer.io import read_nifti
from nvc_viewer.labels import LABELS
from nvc_viewer.volume import Volume, VolumeMeta


def label_volume(affine: np.ndarray, dtype=np.uint8) -> Volume:
    rng = np.random.default_rng(7)
    data = rng.integers(0, 8, size=(9, 7, 5)).astype(dtype)
    return Volume(data, affine, VolumeMeta(role="label"))


def test_identical_affine_and_values(tmp_path):
    # An oblique, LPS-ish affine whose entries are exact in float32 (NIfTI-1 stores float32).
    affine = np.array(
        [
            [-0.5, 0.0, 0.0, 90.25],
            [0.0, -0.375, 0.125, 110.5],
            [0.0, 0.0625, 0.75, -60.0],
            [0, 0, 0, 1],
        ]
    )
    labels = label_volume(affine)
    path = write_segmentation_nifti(labels, tmp_path / "segmentation.nii.gz")
    img = nib.load(path)
    assert img.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels.data)
    np.testing.assert_array_equal(img.affine, affine)
    np.testing.assert_array_equal(img.header.get_sform(), affine)
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1
    assert img.header.get_xyzt_units()[0] == "mm"
    # Our own reader agrees.
    back = read_nifti(path)
    np.testing.assert_array_equal(back.data, labels.data)
    np.testing.assert_array_equal(back.affine, affine)


def test_arbitrary_oblique_affine_within_float32(tmp_path):
    affine = np.eye(4)
    affine[:3, :3] = Rotation.from_euler("xyz", [12, -7, 33], degrees=True).as_matrix() * 0.45
    affine[:3, 3] = [101.3, -87.77, 43.123456]
    labels = label_volume(affine, dtype=np.int32)
    path = write_segmentation_nifti(labels, tmp_path / "seg.nii")
    img = nib.load(path)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels.data)
    np.testing.assert_allclose(img.affine, affine, atol=1e-4)  # float32 storage
    # qform (a rotation + zooms) agrees with the sform for an orthogonal affine.
    np.testing.assert_allclose(img.header.get_qform(), affine, atol=1e-4)


def test_bool_labels(tmp_path):
    mask = Volume(np.eye(3, dtype=bool)[:, :, None].repeat(2, axis=2), np.eye(4))
    img = nib.load(write_segmentation_nifti(mask, tmp_path / "m.nii.gz"))
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), mask.data.astype(np.uint8))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.full((2, 2, 2), 256, np.int32), "0..255"),
        (np.full((2, 2, 2), -1, np.int8), "0..255"),
        (np.full((2, 2, 2), 1.5), "whole numbers"),
    ],
)
def test_bad_label_values_refused(tmp_path, data, match):
    with pytest.raises(ExportError, match=match):
        write_segmentation_nifti(Volume(data, np.eye(4)), tmp_path / "x.nii.gz")
    assert not (tmp_path / "x.nii.gz").exists()


def test_itksnap_label_file(tmp_path):
    path = write_itksnap_labels(tmp_path / "segmentation_labels.txt")
    assert path.read_text("utf-8") == itksnap_label_text()
    rows = [line for line in path.read_text("utf-8").splitlines() if not line.startswith("#")]
    # ITK-SNAP's format: IDX R G B A VIS MSH "LABEL"
    pattern = re.compile(
        r'^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([01])\s+([01])\s+"(.+)"$'
    )
    parsed = [pattern.match(r).groups() for r in rows]  # type: ignore[union-attr]
    assert [int(p[0]) for p in parsed] == list(range(8))
    assert parsed[0][7] == "Clear Label" and float(parsed[0][4]) == 0.0
    for p in parsed[1:]:
        info = LABELS[int(p[0])]
        assert tuple(int(v) for v in p[1:4]) == info.rgb and p[7] == info.name
    assert parsed[3][7] == "Facial nerve (CN VII)" and parsed[6][7] == "Artery"
