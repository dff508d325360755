"""DICOM reader: grouping into series, picking, sorting, rescaling, roles, skipped files,
transfer syntaxes, metadata and the fast header parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_cases import NICOM_DATA, edit_file, pydicom_file, small_volume
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from nvc_viewer.errors import InvalidVolumeError, SeriesSelectionError
from nvc_viewer.geometry import lps_to_ras
from nvc_viewer.io import load
from nvc_viewer.io.dicom import _header, _scan, describe_scan, load_dicom, read_series, scan_dicom
from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.volume import Volume


def _two_series_folder(tmp_path: Path) -> tuple[Path, Volume, Volume]:
    t2 = small_volume("axial", seed=1)
    tof = small_volume("oblique", shape=(12, 14, 10), spacing=(0.6, 0.6, 0.7), seed=2)
    write_series(t2, tmp_path / "case" / "a", series_number=3, series_description="t2_ciss_3d")
    write_series(
        tof,
        tmp_path / "case" / "b",
        series_number=7,
        series_description="tof_fl3d_tra",
        sequence_name="*fl3d1r_t70",
    )
    return tmp_path / "case", t2, tof


# ---------------------------------------------------------------------------------------------
# Grouping and picking
# ---------------------------------------------------------------------------------------------
def test_two_series_in_one_folder_are_two_series_and_the_t2_is_picked(tmp_path: Path) -> None:
    folder, t2, tof = _two_series_folder(tmp_path)

    scan = scan_dicom(folder)
    picked = load_dicom(folder)

    assert [(s.key, s.role, s.n_slices) for s in scan.series] == [("3", "t2", 12), ("7", "tof", 10)]
    assert not any(s.problems for s in scan.series)
    np.testing.assert_array_equal(picked.data, t2.data)
    np.testing.assert_allclose(picked.affine, t2.affine, atol=1e-6)
    np.testing.assert_array_equal(load_dicom(folder, series="tof").data, tof.data)


@pytest.mark.parametrize("how", ["key", "uid", "number", "role", "description"])
def test_series_picked_by_key_uid_number_role_description(tmp_path: Path, how: str) -> None:
    folder, _, tof = _two_series_folder(tmp_path)
    info = scan_dicom(folder).series[1]
    wanted = {
        "key": info.key,
        "uid": info.series_uid,
        "number": "7",
        "role": "tof",
        "description": "TOF_FL3D_TRA",  # exact, case-insensitive
    }[how]

    volume = load_dicom(folder, series=wanted)

    np.testing.assert_array_equal(volume.data, tof.data)
    assert volume.meta.series_uid == info.series_uid


def test_unknown_series_lists_every_series(tmp_path: Path) -> None:
    folder, _, _ = _two_series_folder(tmp_path)

    with pytest.raises(SeriesSelectionError, match="no series matches series='flair'") as caught:
        load_dicom(folder, series="flair")

    message = str(caught.value)
    assert message.startswith(str(folder))
    assert "[3] #3 't2_ciss_3d' role=t2 12 slices" in message
    assert "[7] #7 'tof_fl3d_tra' role=tof 10 slices" in message


def test_two_echoes_of_one_uid_are_split_and_never_stacked(tmp_path: Path) -> None:
    uid = pydicom.uid.generate_uid()
    first, second = small_volume(seed=1), small_volume(seed=2)
    for n, volume in ((1, first), (2, second)):
        write_series(
            volume,
            tmp_path / "case" / f"echo{n}",
            series_uid=uid,
            extra_tags={"EchoNumbers": n, "EchoTime": 2.5 * n},
        )
    folder = tmp_path / "case"

    scan = scan_dicom(folder)

    assert [(s.key, s.n_slices, s.split_reason) for s in scan.series] == [
        ("1.echo1", 12, "echo"),
        ("1.echo2", 12, "echo"),
    ]
    with pytest.raises(SeriesSelectionError, match="several recognised as the heavy-T2"):
        load_dicom(folder)
    with pytest.raises(SeriesSelectionError, match=r"fits 2 series \(1.echo1, 1.echo2\)"):
        load_dicom(folder, series="1")
    np.testing.assert_array_equal(load_dicom(folder, series="1.echo2").data, second.data)
    np.testing.assert_array_equal(load_dicom(folder, series="1.echo1").data, first.data)


def test_one_uid_with_two_full_stacks_in_two_orientations_is_split(tmp_path: Path) -> None:
    uid = pydicom.uid.generate_uid()
    axial, sagittal = small_volume("axial", seed=1), small_volume("sagittal", seed=2)
    write_series(axial, tmp_path / "case" / "ax", series_uid=uid)
    write_series(sagittal, tmp_path / "case" / "sag", series_uid=uid)

    scan = scan_dicom(tmp_path / "case")

    assert sorted((s.key, s.split_reason) for s in scan.series) == [
        ("1.geom1", "orientation/matrix/pixel spacing"),
        ("1.geom2", "orientation/matrix/pixel spacing"),
    ]
    assert sorted(s.orientation for s in scan.series) == ["LPS", "PIR"]
    volumes = {s.orientation: read_series(s) for s in scan.series}
    np.testing.assert_array_equal(volumes["LPS"].data, axial.data)
    np.testing.assert_array_equal(volumes["PIR"].data, sagittal.data)


def test_repeated_acquisitions_of_one_uid_split_by_acquisition_number(tmp_path: Path) -> None:
    uid = pydicom.uid.generate_uid()
    for n in (1, 2):
        write_series(
            small_volume(seed=n),
            tmp_path / "case" / f"acq{n}",
            series_uid=uid,
            extra_tags={"AcquisitionNumber": n},
        )

    scan = scan_dicom(tmp_path / "case")

    assert [(s.key, s.n_slices, s.problems) for s in scan.series] == [
        ("1.acq1", 12, ()),
        ("1.acq2", 12, ()),
    ]


# ---------------------------------------------------------------------------------------------
# Sorting, rescaling, dtype, axes
# ---------------------------------------------------------------------------------------------
def test_slices_sorted_by_position_not_names_or_instance_numbers(tmp_path: Path) -> None:
    volume = small_volume("coronal")
    order = np.random.default_rng(4).permutation(volume.shape[2]).tolist()
    # instance n + 1 holds slice order[n]; file names are a second, unrelated permutation
    files = write_series(volume, tmp_path / "s", slice_order=order, shuffle_names=True)
    assert order != sorted(order) and [f.name for f in files] != sorted(f.name for f in files)

    read = load_dicom(tmp_path / "s")

    np.testing.assert_array_equal(read.data, volume.data)
    np.testing.assert_allclose(read.affine, volume.affine, atol=1e-6)
    # source_paths follow the slices, not the names or the instance numbers
    assert [Path(p).name for p in read.meta.source_paths] == [
        files[order.index(k)].name for k in range(volume.shape[2])
    ]


def test_reversed_writing_order_gives_the_same_volume(tmp_path: Path) -> None:
    volume = small_volume("sagittal")
    write_series(volume, tmp_path / "s", reverse_order=True)

    read = load_dicom(tmp_path / "s")

    np.testing.assert_array_equal(read.data, volume.data)
    np.testing.assert_allclose(read.affine, volume.affine, atol=1e-6)


def test_array_axes_are_column_row_slice_as_the_tags_say() -> None:
    # A real file, geometry straight from its tags: voxel (i, j, 0) lies at
    # IPP + i * PixelSpacing[1] * row cosine + j * PixelSpacing[0] * column cosine (LPS).
    path = pydicom_file("MR_small.dcm")
    ds = pydicom.dcmread(path)
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)

    volume = load_dicom(path)

    for i, j in ((0, 0), (63, 0), (0, 63), (17, 42)):
        lps = ipp + i * col_spacing * iop[:3] + j * row_spacing * iop[3:]
        np.testing.assert_allclose(volume.ras_of([i, j, 0]), lps * [-1, -1, 1], atol=1e-6)
        assert volume.data[i, j, 0] == ds.pixel_array[j, i]


def test_per_slice_rescale_is_applied_slice_by_slice(tmp_path: Path) -> None:
    volume = small_volume()
    data = volume.data.astype(np.float32) * np.linspace(0.5, 3.0, 12)[None, None, :] - 40.0
    files = write_series(Volume(data, volume.affine), tmp_path / "s", rescale_per_slice=True)
    slopes = {float(pydicom.dcmread(f).RescaleSlope) for f in files}
    assert len(slopes) == 12  # really one slope per slice

    read = load_dicom(tmp_path / "s")

    assert read.data.dtype == np.float32
    assert read.meta.extra["rescaled"] is True
    step = float(np.ptp(data, axis=(0, 1)).max()) / 65534
    np.testing.assert_allclose(read.data, data, atol=step)


def test_per_frame_rescale_in_an_enhanced_file(tmp_path: Path) -> None:
    volume = small_volume("oblique")
    data = volume.data.astype(np.float32) * np.linspace(0.2, 2.0, 12)[None, None, :]
    write_series(
        Volume(data, volume.affine),
        tmp_path / "s",
        enhanced=True,
        rescale_per_slice=True,
        slice_order=list(range(12))[::-1],
    )

    read = load_dicom(tmp_path / "s")

    np.testing.assert_allclose(read.data, data, atol=float(np.ptp(data)) / 65534)
    assert read.meta.extra["frame_numbers"] == tuple(range(12, 0, -1))


@pytest.mark.parametrize(
    ("values", "dtype"),
    [((-1000, 3000), np.int16), ((0, 60000), np.uint16), ((0, 255), np.int16)],
)
def test_integer_data_keeps_an_integer_dtype(tmp_path: Path, values: tuple, dtype: type) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(values[0], values[1] + 1, size=(8, 9, 5)).astype(np.int64)
    volume = Volume(data, small_volume().affine)
    write_series(volume, tmp_path / "s")

    read = load_dicom(tmp_path / "s")

    assert read.data.dtype == dtype
    np.testing.assert_array_equal(read.data, data)
    assert read.meta.extra["rescaled"] is False


# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("description", "sequence", "scanning", "role"),
    [
        ("t2_ciss_3d_tra", "*ci3d1", "GR", "t2"),
        ("", "*ci3d1", "GR", "t2"),  # Siemens CISS from SequenceName alone
        ("FIESTA-C AX", "", "SS", "t2"),
        ("tof_fl3d_tra_multi-slab", "*fl3d1r_t70", "GR", "tof"),
        ("3D MRA COW", "", "GR", "tof"),
        ("localizer", "*fl2d1", "GR", "unknown"),
    ],
)
def test_role_from_tags(
    tmp_path: Path, description: str, sequence: str, scanning: str, role: str
) -> None:
    write_series(
        small_volume(shape=(4, 5, 3)),
        tmp_path / "s",
        series_description=description,
        sequence_name=sequence,
        scanning_sequence=scanning,
    )

    (info,) = scan_dicom(tmp_path / "s").series

    assert info.role == role
    assert load_dicom(tmp_path / "s").meta.role == role


def test_enhanced_time_of_flight_contrast_flag_means_tof(tmp_path: Path) -> None:
    write_series(
        small_volume(shape=(4, 5, 3)),
        tmp_path / "s",
        enhanced=True,
        series_description="WIP 3D",  # no word that says TOF
        sequence_name="FFE",
        extra_tags={"TimeOfFlightContrast": "YES"},
    )
    write_series(
        small_volume(shape=(4, 5, 3)),
        tmp_path / "plain",
        enhanced=True,
        series_description="WIP 3D",
        sequence_name="FFE",
    )

    (info,) = scan_dicom(tmp_path / "s").series
    (plain,) = scan_dicom(tmp_path / "plain").series

    assert (info.role, plain.role) == ("tof", "unknown")


# ---------------------------------------------------------------------------------------------
# Inputs: skipped files, single files, raw files
# ---------------------------------------------------------------------------------------------
def test_non_dicom_files_are_skipped_and_counted(tmp_path: Path) -> None:
    volume = small_volume()
    folder = tmp_path / "case"
    write_series(volume, folder / "series")
    (folder / "notes.txt").write_text("patient moved during the scan")
    (folder / "series" / "scout.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (folder / ".DS_Store").write_bytes(bytes(64))
    not_image = pydicom.dcmread(next((folder / "series").iterdir()))
    del not_image.PixelData
    not_image.save_as(folder / "report.dcm")  # DICOM, but no pixels (like an SR)

    scan = scan_dicom(folder)

    assert scan.n_files == 16 and scan.n_skipped == 4
    reasons = {Path(p).name: r for p, r in scan.skipped}
    assert reasons["notes.txt"] == reasons["scout.png"] == "not a DICOM file"
    assert reasons["report.dcm"].startswith("DICOM without pixel data")
    np.testing.assert_array_equal(load_dicom(folder).data, volume.data)
    assert "4 file(s) skipped" in describe_scan(scan)


def test_single_classic_file_is_a_one_slice_volume(tmp_path: Path) -> None:
    volume = small_volume(spacing=(0.5, 0.5, 0.8))
    files = write_series(volume, tmp_path / "s")

    one = load_dicom(files[5])

    assert one.shape == (16, 20, 1)
    np.testing.assert_array_equal(one.data[:, :, 0], volume.data[:, :, 5])
    np.testing.assert_allclose(one.ras_of([3, 4, 0]), volume.ras_of([3, 4, 5]), atol=1e-6)
    np.testing.assert_allclose(one.spacing_mm, [0.5, 0.5, 0.8], atol=1e-6)  # SliceThickness
    assert any("single slice" in w for w in one.meta.warnings)


def test_enhanced_file_and_its_folder_read_the_same(tmp_path: Path) -> None:
    volume = small_volume("oblique")
    (path,) = write_series(
        volume,
        tmp_path / "s",
        enhanced=True,
        slice_order=np.random.default_rng(2).permutation(12).tolist(),
    )

    from_file, from_folder = load_dicom(path), load(tmp_path / "s")

    np.testing.assert_array_equal(from_file.data, volume.data)
    np.testing.assert_array_equal(from_folder.data, volume.data)
    np.testing.assert_allclose(from_file.affine, volume.affine, atol=1e-6)
    assert from_file.meta.source_paths == (str(path),)


def test_file_without_preamble_counts_only_as_an_image(tmp_path: Path) -> None:
    volume = small_volume(shape=(6, 7, 4))
    files = write_series(volume, tmp_path / "s")
    for f in files:  # rewrite as bare data sets: no preamble, no "DICM", no file meta
        ds = pydicom.dcmread(f)
        ds.preamble = None
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        pydicom.dcmwrite(f, ds, implicit_vr=True, little_endian=True)
        assert f.read_bytes()[:2] == b"\x08\x00"
    # starts like a data set, but is not one
    junk = b"\x08\x00\x05\x00" + np.random.default_rng(0).bytes(300)
    (tmp_path / "s" / "junk.bin").write_bytes(junk)

    scan = scan_dicom(tmp_path / "s")

    assert [Path(p).name for p, _ in scan.skipped] == ["junk.bin"]
    np.testing.assert_array_equal(read_series(scan.series[0]).data, volume.data)


def test_thread_workers_give_the_same_scan(tmp_path: Path) -> None:
    folder, _, _ = _two_series_folder(tmp_path)

    serial, threaded = scan_dicom(folder), scan_dicom(folder, workers=2)

    assert serial.series == threaded.series
    assert serial.skipped == threaded.skipped


# ---------------------------------------------------------------------------------------------
# Transfer syntaxes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "syntax",
    [
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
        RLELossless,
        JPEGLSLossless,
        JPEG2000Lossless,
    ],
    ids=lambda uid: uid.name,
)
@pytest.mark.parametrize("enhanced", [False, True], ids=["classic", "enhanced"])
def test_transfer_syntaxes_decode_to_the_uncompressed_values(
    tmp_path: Path, syntax: str, enhanced: bool
) -> None:
    volume = small_volume("oblique", shape=(32, 40, 6))  # JPEG 2000 needs 32 pixels a side
    order = [3, 0, 5, 1, 4, 2]
    write_series(volume, tmp_path / "plain", enhanced=enhanced, slice_order=order)
    write_series(
        volume, tmp_path / "packed", enhanced=enhanced, slice_order=order, transfer_syntax=syntax
    )

    plain, packed = load_dicom(tmp_path / "plain"), load_dicom(tmp_path / "packed")

    assert scan_dicom(tmp_path / "packed").series[0].transfer_syntaxes == (syntax,)
    np.testing.assert_array_equal(packed.data, plain.data)
    np.testing.assert_array_equal(packed.data, volume.data)
    np.testing.assert_allclose(packed.affine, plain.affine, atol=1e-9)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_expb.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_real_mr_small_encodings_decode_to_the_uncompressed_values(name: str) -> None:
    reference = load_dicom(pydicom_file("MR_small.dcm"))

    other = load_dicom(pydicom_file(name))

    np.testing.assert_array_equal(other.data, reference.data)
    np.testing.assert_allclose(other.affine, reference.affine, atol=1e-9)
    assert other.data.dtype == np.int16


# ---------------------------------------------------------------------------------------------
# Metadata and the scan report
# ---------------------------------------------------------------------------------------------
def test_volume_meta(tmp_path: Path) -> None:
    volume = small_volume()
    patient = {"name": "DOE^JANE", "id": "PID123", "birth_date": "19500101"}
    files = write_series(
        volume,
        tmp_path / "s",
        series_number=9,
        patient=patient,
        frame_of_reference_uid="1.2.3.4",
        extra_tags={"FlipAngle": 50},
    )

    read = load_dicom(tmp_path / "s")
    meta = read.meta

    assert (meta.kind, meta.role, meta.modality) == ("dicom", "t2", "MR")
    assert meta.frame_of_reference_uid == "1.2.3.4"
    assert (meta.description, meta.sequence) == ("t2_ciss_3d", "*ci3d1")
    assert meta.source_paths == tuple(str(f) for f in files)  # written in slice order
    assert meta.extra["series_number"] == 9
    assert meta.extra["patient"] == patient
    assert meta.extra["flip_angle"] == 50.0
    assert meta.extra["sop_instance_uids"] == tuple(
        pydicom.dcmread(f).SOPInstanceUID for f in files
    )


def test_describe_scan_shows_series_and_problems_but_no_patient_data(tmp_path: Path) -> None:
    patient = {"name": "DOE^JANE", "id": "PID123", "birth_date": "19500101"}
    folder, _, _ = _two_series_folder(tmp_path)
    files = write_series(
        small_volume(seed=5),
        folder / "c",
        series_number=11,
        series_description="t2_spc_sag",
        patient=patient,
    )
    files[4].unlink()
    (folder / "readme.txt").write_text("x")

    text = describe_scan(scan_dicom(folder))

    for expected in (
        "t2_ciss_3d",
        "tof_fl3d_tra",
        "*fl3d1r_t70",
        "16x20x12",
        "0.5x0.5x0.8",
        "MissingSliceError: 1 slice(s) missing",
        "1 file(s) skipped",
    ):
        assert expected in text
    for secret in ("DOE", "JANE", "PID123", "19500101"):
        assert secret not in text


def test_fast_header_parser_agrees_with_pydicom_on_real_files(tmp_path: Path) -> None:
    # The scan parses classic little-endian headers itself; it must find exactly what pydicom
    # finds, on real scanner files (Siemens with private CSA headers, Toshiba, CT, ...).
    sources = sorted(Path(pydicom_file("MR_small.dcm")).parent.glob("*.dcm"))
    sources += sorted(NICOM_DATA.glob("*.dcm"))
    fast_paths = 0
    for path in sources:
        with open(path, "rb") as fp:
            head = fp.read(_header._HEADER_CHUNK)
            if not (len(head) >= 132 and head[128:132] == b"DICM"):
                continue  # without the preamble, pydicom always reads it
            if _header._parse_header(head, whole_file=len(head) == path.stat().st_size):
                fast_paths += 1
            slow = _scan._scan_with_pydicom(fp, str(path), path.stat().st_size, False)
        fast = _scan._scan_file(str(path))
        assert fast == slow, path.name
    assert fast_paths >= 40  # the fast parser really ran on most of them


def test_odd_header_values_do_not_break_the_scan(tmp_path: Path) -> None:
    volume = small_volume(shape=(6, 7, 4))
    files = write_series(volume, tmp_path / "s")
    edit_file(files[0], InstanceNumber="", SliceThickness="")
    edit_file(files[1], SeriesDescription="t2 ciss\\second value", Manufacturer="")

    (info,) = scan_dicom(tmp_path / "s").series

    assert info.problems == () and info.n_slices == 4
    np.testing.assert_array_equal(read_series(info).data, volume.data)


def test_lps_convention_of_the_affine(tmp_path: Path) -> None:
    volume = small_volume("axial")
    files = write_series(volume, tmp_path / "s")
    ds = pydicom.dcmread(files[0])

    read = load_dicom(tmp_path / "s")

    lps = lps_to_ras(read.affine)
    np.testing.assert_allclose(lps[:3, 3], np.array(ds.ImagePositionPatient, float), atol=1e-9)
    np.testing.assert_allclose(lps[:3, 0] / 0.5, np.array(ds.ImageOrientationPatient[:3], float))


def test_single_slice_without_thickness_assumes_1_mm_and_says_so(tmp_path: Path) -> None:
    files = write_series(small_volume(shape=(6, 7, 3)), tmp_path / "s")
    ds = pydicom.dcmread(files[1])
    del ds.SliceThickness, ds.SpacingBetweenSlices
    ds.save_as(files[1])

    one = load_dicom(files[1])

    assert one.shape == (6, 7, 1)
    np.testing.assert_allclose(one.spacing_mm[2], 1.0)
    assert "1 mm assumed" in " ".join(one.meta.warnings)


# ---------------------------------------------------------------------------------------------
# The writer's own contract
# ---------------------------------------------------------------------------------------------
def test_writer_refuses_a_non_empty_folder_unless_overwrite(tmp_path: Path) -> None:
    first, second = small_volume(seed=1), small_volume(seed=2)
    write_series(first, tmp_path / "s")

    with pytest.raises(FileExistsError, match="not empty"):
        write_series(second, tmp_path / "s")
    np.testing.assert_array_equal(load_dicom(tmp_path / "s").data, first.data)

    write_series(second, tmp_path / "s", overwrite=True)
    np.testing.assert_array_equal(load_dicom(tmp_path / "s").data, second.data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary folders left


def test_writer_leaves_nothing_behind_when_it_fails(tmp_path: Path) -> None:
    volume = Volume(np.full((4, 5, 3), 0.5, np.float32), small_volume().affine)

    with pytest.raises(InvalidVolumeError, match="rescale=True"):
        write_series(volume, tmp_path / "s", rescale=False)

    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_non_rectangular_pixels(tmp_path: Path) -> None:
    affine = small_volume().affine.copy()
    affine[0, 1] = 0.2  # j axis leaning towards i

    with pytest.raises(InvalidVolumeError, match="not 90"):
        write_series(Volume(np.zeros((4, 5, 3), np.int16), affine), tmp_path / "s")


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_unused_high_bits_are_ignored_as_pydicom_does(tmp_path: Path, signed: bool) -> None:
    # BitsStored 12 of 16: the top 4 bits hold junk (old scanners put overlays there).
    data = np.random.default_rng(0).integers(
        -2048 if signed else 0, 2048 if signed else 4096, size=(6, 7, 3)
    )
    files = write_series(Volume(data.astype(np.int32), small_volume().affine), tmp_path / "s")
    for f in files:
        ds = pydicom.dcmread(f)
        stored = ds.pixel_array.astype(np.uint16) | np.uint16(0x5000)  # junk in bits 12-15
        ds.PixelRepresentation = int(signed)
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = stored.tobytes()
        ds.save_as(f)

    read = load_dicom(tmp_path / "s")

    expected = np.stack([pydicom.dcmread(f).pixel_array.T for f in files], axis=-1)
    np.testing.assert_array_equal(read.data, expected)
    np.testing.assert_array_equal(read.data, data)


def test_the_fast_header_reader_keeps_the_tags_and_vrs_of_pydicoms_dictionary() -> None:
    # the table is written out (the fast path does not import pydicom): it must say what
    # pydicom's data dictionary says of each attribute
    from pydicom.datadict import dictionary_VR, keyword_for_tag

    assert len(_header._WANTED) == 45
    for tag, (keyword, vr) in _header._WANTED.items():
        assert keyword_for_tag(tag) == keyword
        assert dictionary_VR(tag) == vr
