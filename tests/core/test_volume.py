"""The Volume value object refuses anything that is not a valid 3-D image in patient space."""

import numpy as np
import pytest

from nvc_viewer.errors import InvalidVolumeError, NVCError
from nvc_viewer.volume import Volume, VolumeMeta


def _affine(spacing=(0.5, 0.6, 0.7), origin=(10.0, -20.0, 30.0)):
    a = np.diag([*spacing, 1.0])
    a[:3, 3] = origin
    return a


def test_valid_volume_exposes_spacing_orientation_and_mapping():
    vol = Volume(np.zeros((4, 5, 6), np.int16), _affine())
    np.testing.assert_allclose(vol.spacing_mm, [0.5, 0.6, 0.7])
    assert vol.orientation == "RAS"
    assert vol.shape == (4, 5, 6)
    np.testing.assert_allclose(vol.ras_of([2, 1, 0]), [11.0, -19.4, 30.0])
    np.testing.assert_allclose(vol.ijk_of(vol.ras_of([[1.5, 2, 3]])), [[1.5, 2, 3]])


def test_affine_is_frozen_and_copied():
    a = _affine()
    vol = Volume(np.zeros((2, 2, 2)), a)
    a[0, 3] = 999
    assert vol.affine[0, 3] == 10.0
    with pytest.raises(ValueError):
        vol.affine[0, 0] = 2


@pytest.mark.parametrize(
    ("data", "affine", "match"),
    [
        (np.zeros((4, 5)), _affine(), "3-D"),
        (np.zeros((4, 5, 6, 2)), _affine(), "3-D"),
        (np.zeros((4, 0, 6)), _affine(), "empty"),
        (np.zeros((2, 2, 2), complex), _affine(), "real numeric"),
        (np.array([[["a"]]]), _affine(), "real numeric"),
        ([[[1]]], _affine(), "numpy ndarray"),
        (np.zeros((2, 2, 2)), np.eye(3), "4x4"),
        (np.zeros((2, 2, 2)), np.full((4, 4), np.nan), "NaN"),
        (np.zeros((2, 2, 2)), np.diag([1.0, 0.0, 1.0, 1.0]), "zero voxel spacing"),
        (
            np.zeros((2, 2, 2)),
            np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]),
            "singular",
        ),
        (
            np.zeros((2, 2, 2)),
            np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1.0]]),
            "last row",
        ),
    ],
)
def test_invalid_volume_is_refused(data, affine, match):
    with pytest.raises(InvalidVolumeError, match=match):
        Volume(data, affine)


def test_invalid_volume_error_is_an_nvc_error():
    assert issubclass(InvalidVolumeError, NVCError)


def test_meta_validates_role_and_kind():
    with pytest.raises(InvalidVolumeError, match="role"):
        VolumeMeta(role="flair")
    with pytest.raises(InvalidVolumeError, match="kind"):
        VolumeMeta(kind="png")


def test_with_data_keeps_grid_and_changes_meta():
    vol = Volume(np.zeros((2, 3, 4)), _affine(), VolumeMeta(role="t2"))
    labels = vol.with_data(np.ones((2, 3, 4), np.uint8), role="label")
    assert labels.meta.role == "label"
    np.testing.assert_array_equal(labels.affine, vol.affine)
