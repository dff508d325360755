"""Enhanced multi-frame files: the per-frame functional groups picked from the raw bytes give
exactly what pydicom's full parse gives (a real Philips file of 176 frames, Enhanced files
written here), and the volume matches pydicom's pixels."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from dicom_cases import small_volume

from nvc_viewer.io import load
from nvc_viewer.io.dicom import _scan
from nvc_viewer.io.dicom_write import write_series

NICOM = Path(nib.__file__).parent / "nicom" / "tests" / "data"


def _both_ways(path: Path, monkeypatch) -> tuple:
    used = []
    split = _scan._split_per_frame

    def spy(fp, size):
        found = split(fp, size)
        used.append(found is not None)
        return found

    monkeypatch.setattr(_scan, "_split_per_frame", spy)
    fast = _scan._scan_file(str(path))
    monkeypatch.setattr(_scan, "_split_per_frame", lambda fp, size: None)
    full = _scan._scan_file(str(path))
    monkeypatch.setattr(_scan, "_split_per_frame", split)
    return used == [True], fast, full


def test_a_real_philips_enhanced_file(tmp_path, monkeypatch):
    path = tmp_path / "philips_mprage.dcm"
    with gzip.open(NICOM / "philips_mprage.dcm.gz") as fh:
        path.write_bytes(fh.read())

    used, fast, full = _both_ways(path, monkeypatch)

    assert used and fast == full and len(fast[0]) == 176 and fast[1] is None
    vol = load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    slope = float(ds.PerFrameFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
                  .RescaleSlope)  # fmt: skip
    assert vol.shape == (256, 256, 176)
    # Some frame of the volume is the first stored frame, scaled (slices sorted by position).
    first = ds.pixel_array[0].T.astype(np.float32) * slope
    assert any(np.allclose(vol.data[:, :, k], first) for k in (0, vol.shape[2] - 1))


@pytest.mark.parametrize("syntax", ["explicit", "rle"])
def test_enhanced_files_written_here(tmp_path, monkeypatch, syntax):
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless

    volume = small_volume("oblique", seed=4)
    ts = RLELossless if syntax == "rle" else ExplicitVRLittleEndian
    [path] = write_series(volume, tmp_path / "s", enhanced=True, transfer_syntax=ts)

    used, fast, full = _both_ways(path, monkeypatch)

    assert used and fast == full and fast[1] is None
    np.testing.assert_array_equal(load(path).data, load(tmp_path / "s").data)
