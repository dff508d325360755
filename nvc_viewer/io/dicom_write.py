"""Write a `Volume` as a DICOM MR series, the way a scanner would.

Design note
-----------
Used by the tests (the dcm2niix oracle, bad-input cases), the load benchmark and the phantom
generator. Slices are written along the volume's ``k`` axis whatever its direction: slice ``k``
holds ``data[:, :, k]`` with the ``i`` axis along the image columns (ImageOrientationPatient row
cosine, PixelSpacing[1]) and ``j`` along the image rows (column cosine, PixelSpacing[0]) -- the
same convention as `nvc_viewer.io.dicom.read_series`, so reading back gives the same array and
affine. The one exception: when the ``(i, j, k)`` axes are left-handed in patient space (e.g. a
radiological ``LAS`` NIfTI) a reader sorting along the slice normal returns ``k`` reversed, with an
affine that maps every voxel value to the same patient position.

Geometry comes from the affine (RAS -> LPS): ImagePositionPatient of slice ``k`` is the LPS
position of voxel ``(0, 0, k)``. A ``k`` axis that is not perpendicular to the ``i, j`` plane gives
a sheared stack (a gantry tilt), which a reader must refuse -- useful for tests.

Output is either classic MR Image Storage (one file per slice) or Enhanced MR Image Storage (one
multi-frame file with shared and per-frame functional groups and a dimension organisation). The
folder is written atomically: into a hidden temporary folder beside it, then renamed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

from ..atomic import atomic_folder
from ..errors import InvalidVolumeError
from ..geometry import lps_to_ras
from ..volume import Volume

__all__ = ["write_series", "MR_IMAGE_STORAGE", "ENHANCED_MR_IMAGE_STORAGE", "DEFAULT_PATIENT"]

MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
ENHANCED_MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4.1")

#: Fake patient module written when none is given.
DEFAULT_PATIENT: dict[str, str] = {
    "name": "PHANTOM^CASE",
    "id": "PHANTOM0001",
    "birth_date": "19700101",
    "accession": "ACC0001",
}

_NATIVE = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
)
_INT16 = np.iinfo(np.int16)
_UINT16 = np.iinfo(np.uint16)


def _ds(value: float) -> str:
    """A float as a valid 16-character Decimal String."""
    value = float(value)
    if value == 0.0:
        return "0"
    return format_number_as_ds(value)


def _ds_float(value: float) -> float:
    """The value a reader will get back from `_ds`."""
    return float(_ds(value))


def _geometry(affine_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """IOP (6,), PixelSpacing (row, col) and the LPS affine of a volume.

    Raises InvalidVolumeError when the i and j axes are not perpendicular (DICOM cannot say it).
    """
    affine_lps = lps_to_ras(affine_ras)
    col_i = affine_lps[:3, 0]
    col_j = affine_lps[:3, 1]
    di, dj = float(np.linalg.norm(col_i)), float(np.linalg.norm(col_j))
    row_cos, col_cos = col_i / di, col_j / dj
    if abs(float(row_cos @ col_cos)) > 1e-6:
        angle = np.degrees(np.arccos(np.clip(row_cos @ col_cos, -1, 1)))
        raise InvalidVolumeError(
            f"the volume's i and j axes are {angle:.4f} deg apart, not 90: a DICOM image plane "
            "must be rectangular; resample the volume first"
        )
    iop = np.concatenate([row_cos, col_cos])
    return iop, np.array([dj, di]), affine_lps, [_ds(v) for v in iop]


def _encode(
    data: np.ndarray, rescale: bool, per_slice: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored integer pixels ``(K, rows, cols)`` plus per-slice slope and intercept ``(K,)``.

    Integer data that fits int16 / uint16 is stored as is (slope 1, intercept 0). Other data is
    mapped linearly onto int16 with a slope and intercept per series (or per slice).
    """
    k = data.shape[2]
    slopes, intercepts = np.ones(k), np.zeros(k)
    integral = data.dtype.kind in "iub" or (
        data.dtype.kind == "f" and np.all(np.isfinite(data)) and np.all(np.mod(data, 1) == 0)
    )
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if integral and not per_slice:
        if lo >= _INT16.min and hi <= _INT16.max:
            return np.ascontiguousarray(data.transpose(2, 1, 0), dtype=np.int16), slopes, intercepts
        if lo >= 0 and hi <= _UINT16.max:
            return (
                np.ascontiguousarray(data.transpose(2, 1, 0), dtype=np.uint16),
                slopes,
                intercepts,
            )
    if not rescale:
        raise InvalidVolumeError(
            f"data of dtype {data.dtype} in [{lo}, {hi}] does not fit int16/uint16; "
            "pass rescale=True to store it with RescaleSlope/RescaleIntercept"
        )
    if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        raise InvalidVolumeError("data holds NaN or infinite values; DICOM cannot store them")
    stored = np.empty((k, data.shape[1], data.shape[0]), dtype=np.int16)
    ranges = (
        [(float(data[:, :, s].min()), float(data[:, :, s].max())) for s in range(k)]
        if per_slice
        else [(lo, hi)] * k
    )
    for s, (a, b) in enumerate(ranges):
        # Slope and intercept go through their DS text so that stored * slope + intercept is
        # exactly what a reader computes.
        slope = _ds_float((b - a) / 65534.0) if b > a else 1.0
        intercept = _ds_float((a + b) / 2.0)
        values = np.rint((data[:, :, s].T.astype(np.float64) - intercept) / slope)
        stored[s] = np.clip(values, _INT16.min, _INT16.max)
        slopes[s], intercepts[s] = slope, intercept
    return stored, slopes, intercepts


def _base_dataset(
    sop_class: UID,
    transfer_syntax: UID,
    *,
    series_description: str,
    sequence_name: str,
    scanning_sequence: str,
    series_number: int,
    series_uid: str,
    study_uid: str,
    frame_of_reference_uid: str,
    patient: Mapping[str, str],
    stored: np.ndarray,
    now: datetime,
) -> Dataset:
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = now.strftime("%H%M%S")
    ds.AccessionNumber = patient.get("accession", "")
    ds.Modality = "MR"
    ds.Manufacturer = "nvc-viewer"
    ds.ManufacturerModelName = "write_series"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "MVD planning"
    ds.SeriesDescription = series_description
    ds.ProtocolName = series_description
    ds.PatientName = patient.get("name", "")
    ds.PatientID = patient.get("id", "")
    ds.PatientBirthDate = patient.get("birth_date", "")
    ds.PatientSex = patient.get("sex", "O")
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "HEAD"
    ds.MagneticFieldStrength = "3"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = int(series_number)
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(stored.shape[1]), int(stored.shape[2])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if stored.dtype == np.int16 else 0
    if sop_class == ENHANCED_MR_IMAGE_STORAGE:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
        ds.PulseSequenceName = sequence_name
        ds.MRAcquisitionType = "3D"
        ds.EchoPulseSequence = "GRADIENT" if "GR" in scanning_sequence else "SPIN"
        ds.ContentQualification = "RESEARCH"
        ds.ResonantNucleus = "1H"
        ds.BurnedInAnnotation = "NO"
        ds.LossyImageCompression = "00"
        ds.PresentationLUTShape = "IDENTITY"
        ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    else:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ScanningSequence = scanning_sequence
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.SequenceName = sequence_name
        ds.MRAcquisitionType = "3D"
        ds.EchoNumbers = 1
    return ds


def _finish_pixels(ds: Dataset, frames: np.ndarray, transfer_syntax: UID) -> None:
    """Put ``frames`` ``(F, rows, cols)`` into ``ds`` in the given transfer syntax."""
    if transfer_syntax == ExplicitVRBigEndian:
        ds.PixelData = frames.astype(frames.dtype.newbyteorder(">")).tobytes()
    else:
        ds.PixelData = np.ascontiguousarray(frames).astype(frames.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW"
    if transfer_syntax not in _NATIVE:
        # Encode through pydicom's encoders (RLE natively; JPEG-LS / JPEG 2000 with plugins).
        if "JPEG 2000" in transfer_syntax.name and min(frames.shape[1:]) < 32:
            # openjpeg's default of 6 wavelet resolutions needs at least 32 pixels per side.
            raise InvalidVolumeError(
                f"JPEG 2000 encoding needs images of at least 32 x 32 pixels, got "
                f"{frames.shape[2]} x {frames.shape[1]}"
            )
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(transfer_syntax, frames if frames.shape[0] > 1 else frames[0])


def _save(ds: Dataset, path: Path, transfer_syntax: UID) -> None:
    ds.save_as(
        path,
        implicit_vr=transfer_syntax == ImplicitVRLittleEndian,
        little_endian=transfer_syntax != ExplicitVRBigEndian,
        enforce_file_format=True,
    )


def write_series(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    series_description: str = "t2_ciss_3d",
    sequence_name: str = "*ci3d1",
    scanning_sequence: str = "GR",
    series_number: int = 1,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    patient: Mapping[str, str] | None = None,
    enhanced: bool = False,
    transfer_syntax: str = ExplicitVRLittleEndian,
    rescale: bool = True,
    rescale_per_slice: bool = False,
    file_names: str = "IM{index:05d}.dcm",
    shuffle_names: bool = False,
    reverse_order: bool = False,
    slice_order: Sequence[int] | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """Write a volume as a DICOM MR series (classic one-file-per-slice, or Enhanced multi-frame).

    Parameters
    ----------
    volume : Volume
        ``data`` of shape ``(I, J, K)``: slice ``k`` is ``data[:, :, k]``, ``I`` columns by
        ``J`` rows. Its ``i`` and ``j`` axes must be perpendicular; ``k`` may point anywhere
        (off the slice normal gives a sheared, gantry-tilted stack).
    folder : path-like
        Output folder; created. Must not exist or be empty unless ``overwrite``.
    series_description, sequence_name, scanning_sequence : str
        SeriesDescription (also ProtocolName), SequenceName (PulseSequenceName when enhanced),
        ScanningSequence (classic only).
    series_number : int
        SeriesNumber.
    series_uid, study_uid, frame_of_reference_uid : str, optional
        UIDs; new random ones by default.
    patient : mapping, optional
        ``name``, ``id``, ``birth_date``, ``accession`` (and ``sex``); fake values by default.
    enhanced : bool
        Write one Enhanced MR Image Storage file instead of one MR Image Storage file per slice.
    transfer_syntax : str
        Transfer syntax UID: native (explicit/implicit little endian, explicit big endian,
        deflated) or any syntax pydicom can encode here (RLE Lossless, JPEG-LS Lossless, JPEG 2000
        Lossless with the pylibjpeg / pyjpegls plugins).
    rescale : bool
        Store data that is not int16/uint16-representable (float data) as int16 with
        RescaleSlope/RescaleIntercept. Without it such data raises `InvalidVolumeError`.
    rescale_per_slice : bool
        Give every slice (frame) its own slope and intercept (float output when read).
    file_names : str
        Template for file names, ``index`` is 1-based.
    shuffle_names : bool
        Number the files in a random order unrelated to InstanceNumber and to position.
    reverse_order : bool
        Write slices from the last ``k`` to the first (InstanceNumber 1 = ``k = K - 1``).
    slice_order : sequence of int, optional
        Explicit permutation of ``range(K)``: the ``k`` written as instance (or frame) ``n``.
        Overrides ``reverse_order``. For Enhanced files this shuffles the frames.
    extra_tags : mapping, optional
        Extra top-level attributes by keyword, written into every file (e.g.
        ``{"EchoNumbers": 2, "EchoTime": 5.0}``).
    seed : int
        Seed for ``shuffle_names``.
    overwrite : bool
        Replace an existing non-empty folder.

    Returns
    -------
    list of Path
        The files written, in instance order.

    Raises
    ------
    InvalidVolumeError
        When the volume cannot be written as asked (non-rectangular pixels, NaN, dtype).
    FileExistsError
        When ``folder`` holds files and ``overwrite`` is False.
    """
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not overwrite:
        raise FileExistsError(f"{folder}: exists and is not empty; pass overwrite=True")
    transfer_syntax = UID(transfer_syntax)
    data = np.asarray(volume.data)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    n_slices = data.shape[2]
    if slice_order is None:
        order = list(range(n_slices))[::-1] if reverse_order else list(range(n_slices))
    else:
        order = [int(k) for k in slice_order]
        if sorted(order) != list(range(n_slices)):
            raise InvalidVolumeError(
                f"slice_order must be a permutation of range({n_slices}), got {order}"
            )
    iop, spacing_rc, affine_lps, iop_text = _geometry(volume.affine)
    step = float(np.linalg.norm(affine_lps[:3, 2]))
    stored, slopes, intercepts = _encode(data, rescale, rescale_per_slice)
    uniform_rescale = bool(np.all(slopes == slopes[0]) and np.all(intercepts == intercepts[0]))
    trivial_rescale = uniform_rescale and slopes[0] == 1.0 and intercepts[0] == 0.0
    positions = [
        affine_lps[:3, :3] @ [0.0, 0.0, float(k)] + affine_lps[:3, 3] for k in range(n_slices)
    ]

    common = dict(
        series_description=series_description,
        sequence_name=sequence_name,
        scanning_sequence=scanning_sequence,
        series_number=series_number,
        series_uid=series_uid or generate_uid(),
        study_uid=study_uid or generate_uid(),
        frame_of_reference_uid=frame_of_reference_uid or generate_uid(),
        patient={**DEFAULT_PATIENT, **(patient or {})},
        stored=stored,
        now=datetime.now(),
    )
    pixel_spacing = [_ds(spacing_rc[0]), _ds(spacing_rc[1])]

    with atomic_folder(folder) as tmp:
        written: list[Path] = []
        if enhanced:
            sop = ENHANCED_MR_IMAGE_STORAGE
            ds = _base_dataset(sop, transfer_syntax, **common)  # type: ignore[arg-type]
            ds.InstanceNumber = 1
            ds.NumberOfFrames = n_slices
            shared = Dataset()
            measures = Dataset()
            measures.PixelSpacing = pixel_spacing
            measures.SliceThickness = _ds(step)
            measures.SpacingBetweenSlices = _ds(step)
            shared.PixelMeasuresSequence = DicomSequence([measures])
            plane_orientation = Dataset()
            plane_orientation.ImageOrientationPatient = iop_text
            shared.PlaneOrientationSequence = DicomSequence([plane_orientation])
            frame_type = Dataset()
            frame_type.FrameType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
            frame_type.PixelPresentation = "MONOCHROME"
            frame_type.VolumetricProperties = "VOLUME"
            frame_type.VolumeBasedCalculationTechnique = "NONE"
            frame_type.ComplexImageComponent = "MAGNITUDE"
            frame_type.AcquisitionContrast = "T2"
            shared.MRImageFrameTypeSequence = DicomSequence([frame_type])
            if uniform_rescale:
                shared.PixelValueTransformationSequence = DicomSequence(
                    [_rescale_item(slopes[0], intercepts[0])]
                )
            ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
            dim_uid = generate_uid()
            org = Dataset()
            org.DimensionOrganizationUID = dim_uid
            ds.DimensionOrganizationSequence = DicomSequence([org])
            ds.DimensionOrganizationType = "3D"
            index_items = []
            for pointer, label in ((0x00209056, "Stack ID"), (0x00209057, "In-Stack Position")):
                item = Dataset()
                item.DimensionOrganizationUID = dim_uid
                item.DimensionIndexPointer = pointer
                item.FunctionalGroupPointer = 0x00209111  # FrameContentSequence
                item.DimensionDescriptionLabel = label
                index_items.append(item)
            ds.DimensionIndexSequence = DicomSequence(index_items)
            per_frame = []
            for k in order:
                item = Dataset()
                content = Dataset()
                content.StackID = "1"
                content.InStackPositionNumber = k + 1
                content.DimensionIndexValues = [1, k + 1]
                item.FrameContentSequence = DicomSequence([content])
                position = Dataset()
                position.ImagePositionPatient = [_ds(v) for v in positions[k]]
                item.PlanePositionSequence = DicomSequence([position])
                if not uniform_rescale:
                    item.PixelValueTransformationSequence = DicomSequence(
                        [_rescale_item(slopes[k], intercepts[k])]
                    )
                per_frame.append(item)
            ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
            for key, value in (extra_tags or {}).items():
                setattr(ds, key, value)
            _finish_pixels(ds, stored[order], transfer_syntax)
            path = tmp / file_names.format(index=1)
            _save(ds, path, transfer_syntax)
            written.append(path)
        else:
            sop = MR_IMAGE_STORAGE
            names = list(range(1, n_slices + 1))
            if shuffle_names:
                names = [int(i) + 1 for i in np.random.default_rng(seed).permutation(n_slices)]
            for n, k in enumerate(order):
                ds = _base_dataset(sop, transfer_syntax, **common)  # type: ignore[arg-type]
                ds.InstanceNumber = n + 1
                ds.ImagePositionPatient = [_ds(v) for v in positions[k]]
                ds.ImageOrientationPatient = iop_text
                ds.PixelSpacing = pixel_spacing
                ds.SliceThickness = _ds(step)
                ds.SpacingBetweenSlices = _ds(step)
                ds.SliceLocation = _ds(float(positions[k] @ np.cross(iop[:3], iop[3:])))
                if not trivial_rescale:
                    ds.RescaleSlope = _ds(slopes[k])
                    ds.RescaleIntercept = _ds(intercepts[k])
                    ds.RescaleType = "US"
                for key, value in (extra_tags or {}).items():
                    setattr(ds, key, value)
                _finish_pixels(ds, stored[k : k + 1], transfer_syntax)
                path = tmp / file_names.format(index=names[n])
                _save(ds, path, transfer_syntax)
                written.append(path)
    return [folder / p.name for p in written]


def _rescale_item(slope: float, intercept: float) -> Dataset:
    item = Dataset()
    item.RescaleIntercept = _ds(intercept)
    item.RescaleSlope = _ds(slope)
    item.RescaleType = "US"
    return item
