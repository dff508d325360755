"""Bad DICOM input: every case gets its typed error, naming the file or folder and the problem."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_cases import edit_file, pydicom_file, small_volume
from pydicom.sequence import Sequence
from pydicom.uid import RLELossless

from nvc_viewer.errors import (
    CorruptFileError,
    GantryTiltError,
    ImageTooLargeError,
    InputNotFoundError,
    MissingSliceError,
    MixedGeometryError,
    NoSeriesFoundError,
    NotAnImageError,
    SeriesSelectionError,
    UnevenSpacingError,
    UnsupportedImageError,
)
from nvc_viewer.io.dicom import load_dicom, scan_dicom
from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.volume import Volume


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no such file or folder"):
        load_dicom(tmp_path / "nowhere")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(NoSeriesFoundError, match=r"looked at 0 file\(s\), skipped 0") as caught:
        load_dicom(tmp_path)
    assert str(caught.value).startswith(str(tmp_path))


def test_folder_of_non_dicom_files_only(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(500))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "fake.dcm").write_bytes(bytes(128) + b"DICM" + b"\x02\x00garbage")

    with pytest.raises(
        NoSeriesFoundError,
        match=r"looked at 3 file\(s\), skipped 3 \(1 DICOM without pixel data \(fake.dcm\), "
        r"1 JPEG image \(scan.jpg\), 1 text file \(notes.txt\)\)",
    ) as caught:
        load_dicom(tmp_path)
    assert str(caught.value).startswith(str(tmp_path))


def test_single_file_that_is_not_dicom(tmp_path: Path) -> None:
    (tmp_path / "IM0001").write_bytes(b"%PDF-1.4 a scanned referral letter")

    with pytest.raises(NotAnImageError, match="not a DICOM image: not a DICOM file") as caught:
        load_dicom(tmp_path / "IM0001")

    assert str(caught.value).startswith(str(tmp_path / "IM0001"))


def test_truncated_real_file() -> None:
    path = pydicom_file("MR_truncated.dcm")

    with pytest.raises(CorruptFileError, match="pixel data truncated") as caught:
        load_dicom(path)

    assert "MR_truncated.dcm" in str(caught.value)


def test_truncated_slice_in_a_series(tmp_path: Path) -> None:
    files = write_series(small_volume(), tmp_path / "s")
    data = files[6].read_bytes()
    files[6].write_bytes(data[: len(data) - 100])

    with pytest.raises(CorruptFileError, match=f"{files[6].name}: pixel data truncated"):
        load_dicom(tmp_path / "s")


def test_corrupt_compressed_pixel_data(tmp_path: Path) -> None:
    files = write_series(small_volume(), tmp_path / "s", transfer_syntax=RLELossless)
    ds = pydicom.dcmread(files[2])
    ds.PixelData = ds.PixelData[:-60] + bytes(2)  # a damaged RLE segment, still even length
    ds.save_as(files[2])

    with pytest.raises(CorruptFileError, match="pixel data cannot be decoded") as caught:
        load_dicom(tmp_path / "s")

    assert files[2].name in str(caught.value)


def test_real_jpeg_file_that_no_decoder_accepts(tmp_path: Path) -> None:
    # pydicom's JPEG-lossy.dcm: 12-bit JPEG Extended with a misplaced marker; pylibjpeg refuses
    # it and Pillow has no 12-bit support. (Geometry added: the file is a secondary capture.)
    ds = pydicom.dcmread(pydicom_file("JPEG-lossy.dcm"))
    ds.ImagePositionPatient = ["0", "0", "0"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = ["1", "1"]
    ds.save_as(tmp_path / "lossy.dcm")

    with pytest.raises(CorruptFileError, match=r"cannot be decoded \(JPEG Extended") as caught:
        load_dicom(tmp_path / "lossy.dcm")

    assert str(caught.value).startswith(str(tmp_path / "lossy.dcm"))


def test_mixed_series_same_uid_different_orientation(tmp_path: Path) -> None:
    uid = pydicom.uid.generate_uid()
    write_series(small_volume("axial"), tmp_path / "s" / "a", series_uid=uid)
    sagittal = write_series(small_volume("sagittal"), tmp_path / "x", series_uid=uid)
    shutil.copy(sagittal[0], tmp_path / "s" / "stray.dcm")  # one stray slice

    with pytest.raises(MixedGeometryError, match="disagree on orientation") as caught:
        load_dicom(tmp_path / "s")

    message = str(caught.value)
    assert message.startswith(str(tmp_path / "s"))
    assert "12 like" in message and "1 like stray.dcm" in message


def test_mixed_series_same_uid_different_matrix(tmp_path: Path) -> None:
    uid = pydicom.uid.generate_uid()
    write_series(small_volume(shape=(16, 20, 12)), tmp_path / "s" / "a", series_uid=uid)
    other = write_series(small_volume(shape=(16, 18, 3)), tmp_path / "x", series_uid=uid)
    shutil.copy(other[0], tmp_path / "s" / "odd.dcm")

    with pytest.raises(MixedGeometryError, match=r"matrix \(Rows/Columns\)"):
        load_dicom(tmp_path / "s")


def test_duplicate_positions_are_refused_not_stacked(tmp_path: Path) -> None:
    files = write_series(small_volume(), tmp_path / "s")
    shutil.copy(files[3], tmp_path / "s" / "copy.dcm")

    with pytest.raises(MixedGeometryError, match="1 pair\\(s\\) of slices share a position"):
        load_dicom(tmp_path / "s")


def test_missing_slices(tmp_path: Path) -> None:
    files = write_series(small_volume(spacing=(0.5, 0.5, 0.8)), tmp_path / "s")
    files[4].unlink()
    files[5].unlink()

    with pytest.raises(
        MissingSliceError,
        match=r"2 slice\(s\) missing .*median step 0.800 mm\): 2 between -38.60 and -36.20 mm "
        r"\(IM00004.dcm and IM00007.dcm\)",
    ) as caught:
        load_dicom(tmp_path / "s")

    assert str(caught.value).startswith(str(tmp_path / "s"))


def test_missing_frames_in_an_enhanced_file(tmp_path: Path) -> None:
    (path,) = write_series(small_volume(), tmp_path / "s", enhanced=True)
    ds = pydicom.dcmread(path)
    keep = [k for k in range(12) if k != 7]
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [ds.PerFrameFunctionalGroupsSequence[k] for k in keep]
    )
    ds.PixelData = ds.pixel_array[keep].tobytes()
    ds.NumberOfFrames = len(keep)
    ds.save_as(path)

    with pytest.raises(MissingSliceError, match="frame 7 of IM00001.dcm and frame 8 of"):
        load_dicom(path)


def test_uneven_spacing(tmp_path: Path) -> None:
    volume = small_volume(spacing=(0.5, 0.5, 1.0))
    files = write_series(volume, tmp_path / "s")
    position = [float(v) for v in pydicom.dcmread(files[5]).ImagePositionPatient]
    position[2] += 0.3  # 0.3 mm off its place along the axial normal
    edit_file(files[5], ImagePositionPatient=[f"{v:.4f}" for v in position])

    with pytest.raises(UnevenSpacingError, match="slice steps vary from 0.700 to 1.300 mm"):
        load_dicom(tmp_path / "s")


def test_gantry_tilt(tmp_path: Path) -> None:
    volume = small_volume(spacing=(0.5, 0.5, 1.0))
    sheared = volume.affine.copy()
    # each slice shifted 1 mm * tan(12 deg) towards anterior: a 12 deg gantry tilt
    sheared[1, 2] = np.tan(np.radians(12.0))
    write_series(Volume(volume.data, sheared), tmp_path / "s")

    with pytest.raises(GantryTiltError, match="sheared by 12.00 deg") as caught:
        load_dicom(tmp_path / "s")

    assert "gantry tilt" in str(caught.value) and str(caught.value).startswith(str(tmp_path))


def _peak_mb(call) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 1024**2


def test_absurd_rows_and_columns_refused_before_allocating(tmp_path: Path) -> None:
    files = write_series(small_volume(shape=(6, 7, 3)), tmp_path / "s")
    for f in files:
        edit_file(f, Rows=65535, Columns=65535)
    caught: list[Exception] = []

    def load() -> None:
        with pytest.raises(ImageTooLargeError, match="65535, 65535, 3") as info:
            load_dicom(tmp_path / "s")
        caught.append(info.value)

    assert _peak_mb(load) < 50
    assert str(caught[0]).startswith(str(tmp_path / "s"))


def test_absurd_number_of_frames_refused_before_allocating(tmp_path: Path) -> None:
    (path,) = write_series(small_volume(shape=(16, 20, 4)), tmp_path / "s", enhanced=True)
    edit_file(path, NumberOfFrames=2_000_000_000)

    def load() -> None:
        with pytest.raises(ImageTooLargeError, match="2000000000") as info:
            load_dicom(path)
        assert str(info.value).startswith(str(path))

    assert _peak_mb(load) < 50


def test_frame_count_disagreeing_with_functional_groups(tmp_path: Path) -> None:
    (path,) = write_series(small_volume(), tmp_path / "s", enhanced=True)
    edit_file(path, NumberOfFrames=13)

    with pytest.raises(CorruptFileError, match="NumberOfFrames is 13 but .* 12 items"):
        load_dicom(path)


def test_transfer_syntax_without_decoder(tmp_path: Path) -> None:
    files = write_series(small_volume(shape=(6, 7, 3)), tmp_path / "s", transfer_syntax=RLELossless)
    for f in files:
        ds = pydicom.dcmread(f)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
        ds.save_as(f)

    with pytest.raises(UnsupportedImageError, match="MPEG2 .* has no decoder") as caught:
        load_dicom(tmp_path / "s")

    assert files[0].name in str(caught.value) or files[1].name in str(caught.value)


def test_missing_decoder_plugin_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_series(
        small_volume(shape=(6, 7, 3)), tmp_path / "s", transfer_syntax="1.2.840.10008.1.2.4.80"
    )  # JPEG-LS lossless

    class Unavailable:
        is_available = False
        missing_dependencies = ["pyjpegls - requires pyjpegls"]

    monkeypatch.setattr("pydicom.pixels.get_decoder", lambda uid: Unavailable())

    with pytest.raises(UnsupportedImageError, match="JPEG-LS Lossless .* install pyjpegls"):
        load_dicom(tmp_path / "s")
    assert files


def test_no_geometry_is_refused(tmp_path: Path) -> None:
    files = write_series(small_volume(shape=(6, 7, 3)), tmp_path / "s")
    for f in files:
        ds = pydicom.dcmread(f)
        del ds.ImagePositionPatient
        ds.save_as(f)

    with pytest.raises(UnsupportedImageError, match="no ImagePositionPatient"):
        load_dicom(tmp_path / "s")


def test_several_series_none_named_t2(tmp_path: Path) -> None:
    for n, description in ((1, "survey"), (2, "tof_3d")):
        write_series(
            small_volume(),
            tmp_path / description,
            series_number=n,
            series_description=description,
            sequence_name="*fl3d1",
        )

    with pytest.raises(SeriesSelectionError, match="2 series and none recognised") as caught:
        load_dicom(tmp_path)

    assert "'survey'" in str(caught.value) and "'tof_3d'" in str(caught.value)


def test_problems_are_listed_by_the_scan_without_raising(tmp_path: Path) -> None:
    files = write_series(small_volume(), tmp_path / "s")
    files[3].unlink()
    (tmp_path / "s" / "x.dcm").write_bytes(bytes(128) + b"DICM" + bytes(50))

    scan = scan_dicom(tmp_path / "s")

    (info,) = scan.series
    assert info.problem_types == ("MissingSliceError",)
    assert info.problems[0].startswith("1 slice(s) missing")
    assert [Path(p).name for p, _ in scan.skipped] == ["x.dcm"]
