"""The correctness oracle for the DICOM reader: dcm2niix on the same files.

For every case, ``nvc_viewer`` and dcm2niix must agree on the voxel -> world mapping (within
1e-3 mm at the 8 corners) and on the value at every checked world position, up to the axis
permutation and flips that the two affines explain (`dicom_cases.assert_same_as_dcm2niix`).

Cases are real files nobody here wrote (pydicom's MR_small in six encodings, nibabel's real
Philips Enhanced MR header, the Enhanced MR ``emri_small`` family from pydicom-data) and series
written by `write_series` from real brain volumes in the layouts that broke other readers.

Where dcm2niix legitimately differs, the test says so:

* ``emri_small*.dcm`` carry no Plane Position / Orientation at all: dcm2niix writes a "bogus
  spatial matrix" and warns; we refuse (`UnsupportedImageError`) -- a planning tool must not guess
  a position. The same pixels with geometry added are compared instead.
* Compressed Enhanced files whose frames are out of spatial order: dcm2niix sorts their
  geometry but keeps the pixel frames in file order (measured with dcm2niix v1.0.20260724), so
  those are compared with frames in order, and the shuffled ones against our uncompressed read.
* nibabel's ``0.dcm`` is a Siemens mosaic (4-D DTI): dcm2niix unpacks it, we refuse it.
* Deflated Explicit VR Little Endian and 12-bit JPEG Extended: dcm2niix refuses them ("decompress
  with dcmdjpg or gdcmconv"), so they are checked in ``test_dicom_read.py`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from dicom_cases import (
    ANATOMICAL,
    NICOM_DATA,
    assert_same_as_dcm2niix,
    colin_brainstem,
    dcm2niix_binary,
    gunzip_to,
    layout_affine,
    pydicom_file,
    real_volume,
    run_dcm2niix,
)
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from nvc_viewer.errors import UnsupportedImageError
from nvc_viewer.io.dicom import load_dicom
from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.volume import Volume

pytestmark = pytest.mark.skipif(dcm2niix_binary() is None, reason="dcm2niix not installed")


def _convert_and_compare(folder: Path, out: Path) -> Volume:
    ours = load_dicom(folder)
    images, log = run_dcm2niix(folder, out)
    assert len(images) == 1, log
    assert_same_as_dcm2niix(ours, images[0])
    return ours


# ---------------------------------------------------------------------------------------------
# Series written from real brain volumes
# ---------------------------------------------------------------------------------------------
def _anatomical(layout: str, spacing: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> Volume:
    return Volume(real_volume(), layout_affine(layout, spacing))


def _float_volume(layout: str) -> Volume:
    return Volume(real_volume().astype(np.float32) * 0.37 - 11.5, layout_affine(layout))


# name -> (source volume, write_series options)
GENERATED: dict[str, Callable[[], tuple[Volume, dict]]] = {
    "axial": lambda: (_anatomical("axial"), {}),
    "sagittal": lambda: (_anatomical("sagittal"), {}),
    "coronal": lambda: (_anatomical("coronal"), {}),
    "oblique_15_10": lambda: (_anatomical("oblique"), {}),
    "reversed_order": lambda: (_anatomical("axial"), {"reverse_order": True}),
    "shuffled_names_and_instances": lambda: (
        _anatomical("oblique"),
        {"shuffle_names": True, "slice_order": np.random.default_rng(7).permutation(25).tolist()},
    ),
    "anisotropic_0.4x0.5x1.2": lambda: (_anatomical("oblique", (0.4, 0.5, 1.2)), {}),
    "enhanced_shuffled_frames": lambda: (
        _anatomical("oblique", (0.4, 0.5, 1.2)),
        {"enhanced": True, "slice_order": np.random.default_rng(8).permutation(25).tolist()},
    ),
    "float_rescaled_per_slice": lambda: (_float_volume("coronal"), {"rescale_per_slice": True}),
    "enhanced_rescaled_per_frame": lambda: (
        _float_volume("sagittal"),
        {"enhanced": True, "rescale_per_slice": True},
    ),
    # nibabel's own affine is radiological LAS (left-handed): a DICOM reader returns k reversed,
    # with an affine that puts every value at the same world position.
    "left_handed_source_affine": lambda: (Volume(real_volume(), nib.load(ANATOMICAL).affine), {}),
    "rle": lambda: (_anatomical("oblique"), {"transfer_syntax": RLELossless}),
    "jpeg_ls": lambda: (_anatomical("axial"), {"transfer_syntax": JPEGLSLossless}),
    "jpeg2000": lambda: (_anatomical("axial"), {"transfer_syntax": JPEG2000Lossless}),
    "implicit_vr": lambda: (_anatomical("oblique"), {"transfer_syntax": ImplicitVRLittleEndian}),
    "big_endian": lambda: (_anatomical("oblique"), {"transfer_syntax": ExplicitVRBigEndian}),
}


def _write(folder: Path, volume: Volume, **kwargs: object) -> Path:
    write_series(volume, folder / "series", **kwargs)  # type: ignore[arg-type]
    return folder / "series"


@pytest.mark.parametrize("case", sorted(GENERATED))
def test_generated_series_match_dcm2niix(case: str, tmp_path: Path) -> None:
    source, options = GENERATED[case]()
    folder = _write(tmp_path, source, **options)

    ours = _convert_and_compare(folder, tmp_path / "out")

    # And the round trip gives the source back (k reversed for a left-handed source).
    expected_data, expected_affine = source.data, source.affine
    if np.linalg.det(source.affine[:3, :3]) < 0:
        flip = np.diag([1.0, 1.0, -1.0, 1.0])
        flip[2, 3] = source.shape[2] - 1
        expected_data, expected_affine = source.data[:, :, ::-1], source.affine @ flip
    np.testing.assert_allclose(ours.affine, expected_affine, atol=1e-4)
    value_range = float(np.ptp(source.data))
    np.testing.assert_allclose(ours.data, expected_data, atol=value_range / 65534 + 1e-6)


def test_colin_brainstem_oblique_matches_dcm2niix(tmp_path: Path) -> None:
    data = colin_brainstem()
    if data is None:
        if os.environ.get("CI"):
            pytest.fail("Colin27 (Debian mricron-data) is missing: scripts/test.sh installs it")
        pytest.skip("Colin27 (ch2better.nii.gz, Debian mricron-data) not installed")
    folder = _write(tmp_path, Volume(data, layout_affine("oblique", (0.5, 0.5, 0.5))))

    ours = _convert_and_compare(folder, tmp_path / "out")

    np.testing.assert_array_equal(ours.data, data)


# ---------------------------------------------------------------------------------------------
# Real files
# ---------------------------------------------------------------------------------------------
MR_SMALL = [
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "MR_small_expb.dcm",
    "MR_small_padded.dcm",
]


@pytest.mark.parametrize("name", MR_SMALL)
def test_pydicom_mr_small_single_slice_matches_dcm2niix(name: str, tmp_path: Path) -> None:
    # A real single slice: both readers give a 64 x 64 x 1 volume whose third axis is the
    # SliceThickness (0.8 mm).
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(pydicom_file(name).read_bytes())

    ours = _convert_and_compare(folder, tmp_path / "out")

    assert ours.shape == (64, 64, 1)
    np.testing.assert_allclose(ours.spacing_mm, [0.3125, 0.3125, 0.8], atol=1e-6)
    assert any("single slice" in w for w in ours.meta.warnings)


@pytest.mark.parametrize("name", ["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"])
def test_real_jpeg_lossless_pixels_match_dcm2niix(name: str, tmp_path: Path) -> None:
    # Real JPEG Lossless (process 14) files, 16-bit signed and 8-bit; they are secondary
    # capture / ultrasound images without patient geometry, which is added here.
    ds = pydicom.dcmread(pydicom_file(name))
    ds.ImagePositionPatient = ["-10", "20", "5"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = ["0.5", "0.6"]
    ds.SliceThickness = "1"
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / name)

    ours = _convert_and_compare(tmp_path / "in", tmp_path / "out")

    assert ours.shape == (ds.Columns, ds.Rows, 1)
    assert ours.meta.extra["transfer_syntaxes"] == ("1.2.840.10008.1.2.4.70",)


def test_real_philips_enhanced_mr_header_matches_dcm2niix(tmp_path: Path) -> None:
    # nibabel's Philips MPRAGE: a real Enhanced MR file (176 frames, oblique sagittal, per-frame
    # functional groups, RescaleSlope 2.1). Its pixels were blanked by anonymisation, so this
    # checks the geometry; the next test gives the same header real values.
    source = gunzip_to(NICOM_DATA / "philips_mprage.dcm.gz", tmp_path / "in" / "mprage.dcm")

    ours = _convert_and_compare(source.parent, tmp_path / "out")

    assert ours.shape == (256, 256, 176)
    assert ours.data.dtype == np.float32  # RescaleSlope 2.1 applied
    assert ours.meta.extra["frame_numbers"] == tuple(range(1, 177))


def test_real_philips_header_with_pixels_and_frames_shuffled_matches_dcm2niix(
    tmp_path: Path,
) -> None:
    ds = pydicom.dcmread(gunzip_to(NICOM_DATA / "philips_mprage.dcm.gz", tmp_path / "src.dcm"))
    n = int(ds.NumberOfFrames)
    keep = 24  # fewer frames keep the test fast
    order = np.random.default_rng(5).permutation(keep)
    frames = ds.PerFrameFunctionalGroupsSequence
    ds.PerFrameFunctionalGroupsSequence = Sequence([frames[int(t)] for t in order])
    ds.NumberOfFrames = keep
    # Pixel values that identify their frame's true slice (the header's own order); below 4096
    # because BitsStored is 12.
    rows, cols = ds.Rows, ds.Columns
    base = (np.arange(rows)[:, None] + 2 * np.arange(cols)[None, :]) % 100
    pixels = np.stack([base + 150 * int(t) for t in order]).astype(np.uint16)
    ds.PixelData = pixels.tobytes()
    # Drop Philips' private tags (frame counts, "precise" scaling) that describe the original
    # 176 frames, so both readers use the standard attributes only.
    ds.remove_private_tags()
    assert n == 176
    folder = tmp_path / "in"
    folder.mkdir()
    ds.save_as(folder / "mprage_shuffled.dcm")

    ours = _convert_and_compare(folder, tmp_path / "out")

    slope = float(frames[0].PixelValueTransformationSequence[0].RescaleSlope)
    stored = np.rint(ours.data / slope).astype(int)  # slice k holds 150 * k + pattern
    for k in range(keep):
        assert np.all(stored[:, :, k] // 150 == k)


def _emri_with_geometry(source: Path, target: Path, in_file_order: np.ndarray) -> Path:
    """emri_small (real Enhanced MR pixels, 10 frames of 64 x 64) with Plane Position /
    Orientation added; frame f lies at slice ``in_file_order[f]`` of an oblique stack."""
    ds = pydicom.dcmread(source)
    iop = np.array([0.9848077530, 0.0, 0.1736481777, 0.0, 1.0, 0.0])
    normal = np.cross(iop[:3], iop[3:])
    step = float(ds.SpacingBetweenSlices)  # 1.2 mm: keep the header consistent
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = ["0.9", "0.8"]
    measures.SliceThickness = str(step)
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = Dataset()
    orientation.ImageOrientationPatient = [f"{v:.10f}" for v in iop]
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    items = []
    for k in in_file_order:
        item = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [
            f"{v:.6f}" for v in np.array([-20.0, 15.0, -7.5]) + int(k) * step * normal
        ]
        item.PlanePositionSequence = Sequence([position])
        content = Dataset()
        content.StackID = "1"
        content.InStackPositionNumber = int(k) + 1
        content.DimensionIndexValues = [1, int(k) + 1]
        item.FrameContentSequence = Sequence([content])
        items.append(item)
    assert len(items) == int(ds.NumberOfFrames)
    ds.PerFrameFunctionalGroupsSequence = Sequence(items)
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)
    return target


EMRI = [
    "emri_small.dcm",
    "emri_small_RLE.dcm",
    "emri_small_big_endian.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
]


@pytest.mark.parametrize("name", EMRI)
def test_enhanced_mr_emri_small_with_geometry_matches_dcm2niix(name: str, tmp_path: Path) -> None:
    native = name in ("emri_small.dcm", "emri_small_big_endian.dcm")
    # dcm2niix keeps compressed frames in file order (see the module docstring): shuffle
    # frames only where it can follow.
    order = np.random.default_rng(3).permutation(10) if native else np.arange(10)
    path = _emri_with_geometry(pydicom_file(name), tmp_path / "in" / "emri.dcm", order)

    ours = _convert_and_compare(path.parent, tmp_path / "out")

    assert ours.shape == (64, 64, 10)
    np.testing.assert_allclose(ours.spacing_mm, [0.8, 0.9, 1.2], atol=1e-5)


@pytest.mark.parametrize("name", EMRI[1:])
def test_compressed_enhanced_with_shuffled_frames_equals_uncompressed(
    name: str, tmp_path: Path
) -> None:
    order = np.random.default_rng(3).permutation(10)
    plain = _emri_with_geometry(pydicom_file(EMRI[0]), tmp_path / "plain" / "f.dcm", order)
    packed = _emri_with_geometry(pydicom_file(name), tmp_path / "packed" / "f.dcm", order)

    reference = _convert_and_compare(plain.parent, tmp_path / "out")  # checked against dcm2niix
    ours = load_dicom(packed)

    np.testing.assert_array_equal(ours.data, reference.data)
    np.testing.assert_allclose(ours.affine, reference.affine, atol=1e-9)


def test_emri_small_without_geometry_is_refused_where_dcm2niix_guesses(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "emri_small.dcm").write_bytes(pydicom_file("emri_small.dcm").read_bytes())

    with pytest.raises(UnsupportedImageError, match="ImagePositionPatient") as caught:
        load_dicom(folder)
    images, log = run_dcm2niix(folder, tmp_path / "out")

    assert "emri_small.dcm" in str(caught.value)
    assert "Bogus spatial matrix" in log or "Unable to determine spatial orientation" in log
    assert images[0].shape[:3] == (64, 64, 10)  # dcm2niix converts it anyway


def test_siemens_mosaic_is_refused_where_dcm2niix_unpacks_it(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "0.dcm").write_bytes((NICOM_DATA / "0.dcm").read_bytes())

    with pytest.raises(UnsupportedImageError, match="mosaic"):
        load_dicom(folder)
    images, _ = run_dcm2niix(folder, tmp_path / "out")

    assert len(images) == 1 and images[0].ndim >= 3 and images[0].shape[2] > 1
