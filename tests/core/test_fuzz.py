"""Bad input never crashes or hangs: every reader loads a valid Volume or raises `NVCError`.

Real DICOM and NIfTI files (pydicom's and nibabel's test data) and small series written by the
project's DICOM writer are mutated -- byte and bit flips, truncations, spliced chunks, header
fields set to odd or absurd values -- and fed to ``nvc_viewer.load`` (file and folder),
``load_case`` and ``describe_scan(scan_dicom(...))``. A few hundred inputs here;
``benchmarks/fuzz_long.py`` runs tens of thousands, each in a forked child.
"""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import tracemalloc

import nibabel as nib
import numpy as np
import pydicom
import pytest
from fuzz_inputs import (
    MUTATORS,
    check_input,
    dicom_series_bytes,
    gzip_bomb,
    mutate,
    mutators_for,
    seed_corpus,
    small_volume,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nvc_viewer
from nvc_viewer.errors import (
    CorruptFileError,
    ImageTooLargeError,
    NVCError,
    UnsupportedImageError,
)
from nvc_viewer.io import _limits
from nvc_viewer.io.dicom import describe_scan, scan_dicom


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return seed_corpus(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def test_every_seed_loads_before_mutation(seeds, workdir):
    # The mutations must start from files the readers accept, or the fuzzing proves little.
    # Decoder plugins are optional; emri_small's frames carry no position (refused, rightly).
    refused_ok = {"MR_small_jp2klossless.dcm", "MR_small_RLE.dcm", "emri_small.dcm"}
    for seed in seeds:
        folder = workdir / f"seed-{seed.name}"
        path = seed.write(seed.data, folder)
        outcome = check_input(path, seed.kind)
        assert outcome.crash is None, (seed.name, outcome.crash)
        if seed.name not in refused_ok and seed.name != "example_nifti2.nii.gz":
            assert isinstance(nvc_viewer.load(path), nvc_viewer.Volume), seed.name
        shutil.rmtree(folder)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same inputs on every run: a failure reproduces
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_inputs_load_or_raise_nvc_error(seeds, workdir, data):
    seed = data.draw(st.sampled_from(seeds), label="seed")
    mutator = data.draw(st.sampled_from(mutators_for(seed)), label="mutator")
    number = data.draw(st.integers(0, 2**32 - 1), label="number")
    blob = mutate(seed, mutator, number)
    if data.draw(st.booleans(), label="mutate twice"):
        second = data.draw(st.sampled_from(["flip_bytes", "truncate", "splice"]), label="then")
        import random

        blob = MUTATORS[second](blob or b"\0", random.Random(number))
    folder = workdir / "case"
    shutil.rmtree(folder, ignore_errors=True)
    path = seed.write(blob, folder)
    outcome = check_input(path, seed.kind)
    assert outcome.crash is None, f"{seed.name} / {mutator} / {number}: {outcome.crash}"


# -- header fields set to absurd values, one by one ------------------------------------------


def _nifti(tmp_path, name="t2.nii", **fields):
    img = nib.Nifti1Image(small_volume(), np.diag([0.8, 0.8, 1.0, 1.0]))
    raw = bytearray(img.to_bytes())
    offsets = {"dim": (40, "h"), "datatype": (70, "h"), "bitpix": (72, "h"),
               "pixdim": (76, "f"), "vox_offset": (108, "f"), "sform_code": (254, "h")}  # fmt: skip
    for key, value in fields.items():
        field, _, index = key.partition("_")
        if field not in offsets:
            field, index = key, "0"
        offset, fmt = offsets[field]
        struct.pack_into("<" + fmt, raw, offset + int(index or 0) * struct.calcsize(fmt), value)
    path = tmp_path / name
    path.write_bytes(gzip.compress(bytes(raw)) if name.endswith(".gz") else bytes(raw))
    return path


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"dim_1": 30000, "dim_2": 30000, "dim_3": 30000}, ImageTooLargeError),
        ({"dim_1": -5}, CorruptFileError),
        ({"dim_0": 9}, NVCError),
        ({"dim_1": 0}, CorruptFileError),
        ({"datatype": 1234}, NVCError),
        ({"datatype": -1}, NVCError),
        ({"bitpix": 0, "datatype": 0}, NVCError),
        ({"vox_offset": 1e12}, CorruptFileError),
        ({"vox_offset": float("nan")}, NVCError),
        ({"vox_offset": float("inf")}, NVCError),
        ({"pixdim_1": float("nan"), "sform_code": 0}, NVCError),
        ({"pixdim_1": 0.0, "pixdim_2": 0.0, "sform_code": 0}, NVCError),
        ({"dim_1": 200}, CorruptFileError),  # claims more pixels than the file holds
    ],
    ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else v.__name__,
)
def test_corrupt_nifti_header_fields_are_refused(tmp_path, fields, error):
    for name in ("t2.nii", "t2.nii.gz"):
        path = _nifti(tmp_path, name, **fields)
        with pytest.raises(error, match="t2.nii"):
            nvc_viewer.load(path)


def _dicom_slice(tmp_path, **changes):
    blob = dicom_series_bytes(tmp_path)[0]
    ds = pydicom.dcmread(io.BytesIO(blob))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    path = tmp_path / "case" / "slice.dcm"
    path.parent.mkdir(exist_ok=True)
    ds.save_as(path, enforce_file_format=False)
    return path


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"Rows": 65535, "Columns": 65535, "NumberOfFrames": "999999999"}, ImageTooLargeError,
         "limit"),
        ({"PixelSpacing": ["0", "0"]}, CorruptFileError, "PixelSpacing"),
        ({"PixelSpacing": ["nan", "nan"]}, UnsupportedImageError, "PixelSpacing"),
        ({"ImageOrientationPatient": ["0"] * 6}, CorruptFileError, "ImageOrientationPatient"),
        ({"ImageOrientationPatient": ["1", "0", "0", "1", "0", "0"]}, CorruptFileError,
         "perpendicular"),
        ({"ImagePositionPatient": ["nan", "0", "0"]}, UnsupportedImageError,
         "ImagePositionPatient"),
        ({"ImagePositionPatient": ["1e300", "0", "0"]}, CorruptFileError, "ImagePositionPatient"),
        ({"BitsAllocated": 24}, UnsupportedImageError, "BitsAllocated"),
        ({"BitsStored": 40}, UnsupportedImageError, "BitsStored"),
        ({"Rows": 300}, CorruptFileError, "truncated"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else (
        v.__name__ if isinstance(v, type) else v),
)  # fmt: skip
def test_corrupt_dicom_header_fields_are_refused(tmp_path, changes, error, match):
    path = _dicom_slice(tmp_path, **changes)
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            nvc_viewer.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2  # refused from the header, before any pixel buffer
    describe_scan(scan_dicom(path.parent))  # the listing survives it too


# -- gzip bombs ------------------------------------------------------------------------------


def test_gzip_bomb_is_read_only_as_far_as_the_header_claims(tmp_path):
    # 4 GiB of zeros behind a header claiming 8 x 8 x 8 voxels: only 512 bytes are inflated.
    path = tmp_path / "bomb_t2.nii.gz"
    path.write_bytes(gzip_bomb((8, 8, 8), 4 * 1024**3))
    assert path.stat().st_size < 8 * 1024**2
    tracemalloc.start()
    try:
        volume = nvc_viewer.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert volume.shape == (8, 8, 8) and not volume.data.any()
    assert peak < 64 * 1024**2


def test_gzip_bomb_claiming_more_than_the_limit_is_refused_without_inflating(tmp_path, monkeypatch):
    monkeypatch.setattr(_limits, "MAX_BYTES", 256 * 1024**2)
    path = tmp_path / "bomb_t2.nii.gz"
    path.write_bytes(gzip_bomb((1024, 1024, 512), 512 * 1024**2))  # 512 MiB > 256 MiB
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match="bomb_t2.nii.gz"):
            nvc_viewer.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2


def test_gzip_file_claiming_more_than_deflate_can_hold_is_refused_without_inflating(tmp_path):
    # 512 MiB claimed (under the size limit) from a stream of about 64 KiB: deflate cannot
    # expand that beyond about 66 MB, so the file is truncated whatever it holds.
    path = tmp_path / "short_t2.nii.gz"
    path.write_bytes(gzip_bomb((1024, 1024, 512), 64 * 1024**2))
    assert path.stat().st_size * 1040 < 512 * 1024**2
    tracemalloc.start()
    try:
        with pytest.raises(CorruptFileError, match="truncated or its header corrupt"):
            nvc_viewer.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2


def _deflated_slice(tmp_path, pixel_bytes: bytes | None = None):
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = pydicom.dcmread(io.BytesIO(dicom_series_bytes(tmp_path)[0]))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    if pixel_bytes is not None:
        ds.PixelData = pixel_bytes
    path = tmp_path / "deflated" / "slice.dcm"
    path.parent.mkdir(exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_deflated_dicom_still_loads(tmp_path):
    volume = nvc_viewer.load(_deflated_slice(tmp_path))
    assert volume.shape[:2] == small_volume().shape[:2]


def test_deflated_dicom_bomb_is_refused_without_inflating_it_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(_limits, "MAX_INFLATED_BYTES", 32 * 1024**2)
    path = _deflated_slice(tmp_path, bytes(128 * 1024**2))  # 128 MiB of zeros, ~130 kB on disk
    assert path.stat().st_size < 1024**2
    tracemalloc.start()
    try:
        with pytest.raises(NVCError, match="inflates to over"):
            nvc_viewer.load(path)
        describe_scan(scan_dicom(path.parent))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024**2  # pydicom would have held all 128 MiB
