"""Real files the readers must refuse, each with the real reason: slices that share one position
(a zero slice step), floating-point pixel data, colour, Siemens mosaics, other neuro-imaging
formats (MGH, MINC, AFNI, PAR/REC, Analyze), and a NIfTI whose sform and qform disagree."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from nvc_viewer.cli import main
from nvc_viewer.errors import (
    MixedGeometryError,
    NoSeriesFoundError,
    NotAnImageError,
    UnsupportedImageError,
)
from nvc_viewer.io import load, read_nifti
from nvc_viewer.io.dicom import scan_dicom

NIBABEL = Path(nib.__file__).parent


def data_file(name: str) -> Path:
    """A file of pydicom's test data or of pydicom-data (a test dependency; never downloaded)."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name, download=False)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} (pydicom-data) is missing: scripts/setup.sh installs it")
        pytest.skip(f"{name} (pydicom-data) not installed")
    return Path(found)


# -- slices at one position ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [("MR_small.dcm", "MR_small.dcm"), ("MR2_J2KI.dcm", "MR2_UNCI.dcm")],
    ids=["one file twice", "one slice in two syntaxes"],
)
def test_slices_at_one_position_are_refused_naming_the_files(tmp_path, capsys, names):
    folder = tmp_path / "series"
    folder.mkdir()
    for n, name in enumerate(names):
        shutil.copy(data_file(name), folder / f"IM{n}.dcm")

    with pytest.raises(
        MixedGeometryError,
        match=r"series: all 2 images lie at one position \(.* mm along the slice normal\): "
        r"IM0\.dcm, IM1\.dcm\. The slice step is zero.*keep one of the files",
    ):
        load(folder)
    [info] = scan_dicom(folder).series
    assert info.affine_ras is None and info.orientation == "?"
    # `nvc-viewer info` lists the problem (it printed a traceback: the affine was singular).
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr()
    assert "all 2 images lie at one position" in out.out and "Traceback" not in out.err


def test_some_slices_sharing_a_position_are_named(tmp_path):
    from dicom_cases import small_volume

    from nvc_viewer.io.dicom_write import write_series

    files = write_series(small_volume(), tmp_path / "s")
    shutil.copy(files[3], tmp_path / "s" / "copy.dcm")
    with pytest.raises(
        MixedGeometryError,
        match=rf"1 pair\(s\) of slices share a position \((copy\.dcm, {files[3].name}|"
        rf"{files[3].name}, copy\.dcm) at .* remove the copies",
    ):
        load(tmp_path / "s")


# -- pixel data that is not a grey-scale MR image -------------------------------------------------


@pytest.mark.parametrize("keyword", ["FloatPixelData", "DoubleFloatPixelData"])
@pytest.mark.parametrize("implicit", [False, True], ids=["explicit VR", "implicit VR"])
def test_float_pixel_data_is_named(tmp_path, keyword, implicit):
    ds = pydicom.dcmread(data_file("MR_small.dcm"))
    values = ds.pixel_array.astype(np.float32 if keyword == "FloatPixelData" else np.float64)
    del ds.PixelData
    for gone in ("BitsStored", "HighBit", "PixelRepresentation", "SmallestImagePixelValue",
                 "LargestImagePixelValue"):  # fmt: skip
        if gone in ds:
            delattr(ds, gone)
    ds.BitsAllocated = 32 if keyword == "FloatPixelData" else 64
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map Storage
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    setattr(ds, keyword, values.tobytes())
    ds.file_meta.TransferSyntaxUID = (
        pydicom.uid.ImplicitVRLittleEndian if implicit else (pydicom.uid.ExplicitVRLittleEndian)
    )
    folder = tmp_path / "map"
    folder.mkdir()
    ds.save_as(folder / "adc.dcm", implicit_vr=implicit, little_endian=True)
    kind = "Float Pixel Data" if keyword == "FloatPixelData" else "Double Float Pixel Data"

    with pytest.raises(
        UnsupportedImageError,
        match=rf"adc\.dcm: floating-point pixel data \({kind}, Parametric Map Storage\)",
    ):
        load(folder / "adc.dcm")
    with pytest.raises(
        NoSeriesFoundError, match=r"skipped 1 \(1 floating-point pixel data \(adc\.dcm\)\)"
    ):
        load(folder)


def test_uncompressed_ybr_colour_is_colour_not_truncated():
    path = data_file("SC_ybr_full_422_uncompressed.dcm")  # two bytes a pixel: it is complete
    with pytest.raises(UnsupportedImageError, match=r"colour image \(YBR_FULL_422, 3 sample") as e:
        load(path)
    assert "truncated" not in str(e.value)


def test_a_folder_of_siemens_mosaics_is_named_as_such(tmp_path):
    import gzip

    folder = tmp_path / "dti"
    folder.mkdir()
    shutil.copy(NIBABEL / "nicom" / "tests" / "data" / "0.dcm", folder / "a.dcm")
    shutil.copy(NIBABEL / "nicom" / "tests" / "data" / "1.dcm", folder / "b.dcm")
    with gzip.open(NIBABEL / "nicom" / "tests" / "data" / "siemens_dwi_0.dcm.gz") as fh:
        (folder / "c.dcm").write_bytes(fh.read())
    # Another series UID: a folder of several mosaic series is not "pick one of 2 series".
    ds = pydicom.dcmread(folder / "a.dcm")
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(folder / "d.dcm")

    with pytest.raises(UnsupportedImageError, match=r"Siemens mosaic.*dcm2niix"):
        load(folder)
    assert len(scan_dicom(folder).series) >= 2
    with pytest.raises(UnsupportedImageError, match=r"a\.dcm: Siemens mosaic"):
        load(folder / "a.dcm")


# -- other formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "advice"),
    [
        ("test.mgz", "a FreeSurfer MGH/MGZ image", "mri_convert"),
        ("minc1_1_scale.mnc", "a MINC image", "mnc2nii"),
        ("minc2_1_scale.mnc", "a MINC image", "mnc2nii"),
        ("scaled+tlrc.HEAD", r"an AFNI image \(\.HEAD/\.BRIK\)", "3dAFNItoNIFTI"),
        ("scaled+tlrc.BRIK", r"an AFNI image \(\.HEAD/\.BRIK\)", "3dAFNItoNIFTI"),
        ("T1.PAR", "a Philips PAR/REC image", "dcm2niix"),
        ("phantom_EPI_asc_CLEAR_2_1.REC", "a Philips PAR/REC image", "dcm2niix"),
        ("analyze.hdr", r"an Analyze 7\.5 image \(\.hdr/\.img\)", "no reliable orientation"),
        ("nifti1.hdr", r"a NIfTI image pair \(\.hdr/\.img\)", r"one \.nii file"),
        ("tinypet.v", "an ECAT PET image", "MRI"),
    ],
)
def test_other_image_formats_are_named_with_how_to_convert(name, kind, advice):
    path = NIBABEL / "tests" / "data" / name
    with pytest.raises(
        UnsupportedImageError,
        match=rf"{re.escape(name)}: DICOM or NIfTI only; this is {kind}: .*{advice}",
    ):
        load(path)


def test_a_folder_of_other_formats_says_what_it_holds(tmp_path):
    for name in ("test.mgz", "T1.PAR", "README.rst"):
        shutil.copy(NIBABEL / "tests" / "data" / name, tmp_path / name)
    with pytest.raises(
        NoSeriesFoundError,
        match=r"skipped 3 \(1 FreeSurfer MGH/MGZ image \(test\.mgz\), 1 Philips PAR/REC image "
        r"\(T1\.PAR\), 1 text file \(README\.rst\)\); DICOM or NIfTI only: convert it to NIfTI",
    ):
        load(tmp_path)


def test_a_file_that_is_no_image_says_what_it_is(tmp_path):
    (tmp_path / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(NotAnImageError, match=r"shot\.png: not a DICOM image: .*\(PNG image\)"):
        load(tmp_path / "shot.png")


# -- NIfTI sform / qform ------------------------------------------------------------------------


def _nifti(path: Path, shift_mm: float) -> Path:
    sform = np.diag([0.5, 0.5, 0.5, 1.0])
    sform[:3, 3] = [-10.0, -12.0, -8.0]
    qform = sform.copy()
    qform[0, 3] += shift_mm
    img = nib.Nifti1Image(np.zeros((20, 24, 16), np.int16), None)
    img.set_sform(sform, code=2)
    img.set_qform(qform, code=1)
    nib.save(img, path)
    return path


def test_sform_and_qform_disagreeing_warns_and_says_which_is_used(tmp_path):
    path = _nifti(tmp_path / "t2.nii.gz", shift_mm=12.5)

    vol = read_nifti(path)
    assert vol.meta.extra["affine_source"] == "sform"
    assert vol.affine[0, 3] == pytest.approx(-10.0)
    [warning] = vol.meta.warnings
    assert "a corner of the image lies 12.5 mm apart" in warning
    assert "the sform (code 2) is used" in warning and "pass affine='qform'" in warning

    other = load(path, affine="qform")
    assert other.meta.extra["affine_source"] == "qform"
    assert other.affine[0, 3] == pytest.approx(2.5)
    assert "the qform (code 1) is used; pass affine='sform'" in other.meta.warnings[0]


def test_sform_and_qform_within_a_millimetre_is_no_warning(tmp_path):
    assert read_nifti(_nifti(tmp_path / "t2.nii.gz", shift_mm=0.6)).meta.warnings == ()


def test_asking_for_a_matrix_the_header_does_not_set_is_refused(tmp_path):
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), None)
    img.set_qform(np.diag([1.0, 1.0, 1.0, 1.0]), code=1)
    img.set_sform(None, code=0)
    nib.save(img, tmp_path / "q.nii")
    assert read_nifti(tmp_path / "q.nii", affine="qform").meta.extra["affine_source"] == "qform"
    with pytest.raises(UnsupportedImageError, match=r"q\.nii: affine='sform' asked, but the"):
        read_nifti(tmp_path / "q.nii", affine="sform")
