"""The records the DICOM scan builds, and the transfer-syntax constants they share.

Design note
-----------
Owns `SeriesInfo` and `DicomScan` (public), `_FileHeader` (the series-level attributes of one
file, shared by the frames of a multi-frame file) and `_Frame` (one 2-D image and where its
pixels lie). They hold header information only; nothing here reads a file. The transfer-syntax
and pixel-tag constants are here because the header parsers, the scan and `_FileHeader.raw_dtype`
all need them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_NATIVE_SYNTAXES = {
    "1.2.840.10008.1.2": "<",  # implicit VR little endian
    "1.2.840.10008.1.2.1": "<",  # explicit VR little endian
    "1.2.840.10008.1.2.2": ">",  # explicit VR big endian (retired, still met)
}
_DEFLATED = "1.2.840.10008.1.2.1.99"
_PIXEL_DATA_TAG = 0x7FE00010
#: Pixel data stored as 32 / 64-bit floats (parametric maps): refused with their name.
_FLOAT_PIXEL_TAGS = {0x7FE00008: "Float Pixel Data", 0x7FE00009: "Double Float Pixel Data"}


# ---------------------------------------------------------------------------------------------
# Records built by the scan
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FileHeader:
    """Series-level attributes of one file (shared by all frames of a multi-frame file)."""

    path: str
    sop_class: str
    transfer_syntax: str
    series_uid: str
    series_number: int | None
    description: str
    protocol: str
    sequence: str
    scanning_sequence: str
    modality: str
    study_uid: str
    frame_of_reference_uid: str
    manufacturer: str
    multiframe: bool
    declared_frames: int
    mosaic: bool
    slice_thickness: float | None
    spacing_between_slices: float | None
    tof_contrast: bool
    extra: tuple[tuple[str, Any], ...]
    patient: tuple[tuple[str, str], ...]
    # pixel layout
    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    offset: int | None  # file offset of the first pixel byte; native syntaxes only
    problems: tuple[tuple[str, str], ...]  # (error class name, message) for this file

    @property
    def raw_dtype(self) -> np.dtype:
        """Stored pixel dtype with its byte order (native syntaxes) or native order."""
        kind = "i" if self.pixel_representation == 1 else "u"
        order = _NATIVE_SYNTAXES.get(self.transfer_syntax, "=")
        # A corrupt BitsAllocated (24, 7, 65535 ...) is listed as a problem of the file; give
        # a dtype numpy knows so the size check and the problem report can still run.
        size = min((n for n in (1, 2, 4, 8) if n * 8 >= self.bits_allocated), default=8)
        return np.dtype(f"{order}{kind}{size}")


@dataclass(frozen=True)
class _Frame:
    """One 2-D image: a classic single-frame file or one frame of a multi-frame file."""

    header: _FileHeader
    index: int  # 0-based frame number inside the file
    position: tuple[float, float, float] | None  # ImagePositionPatient, LPS mm
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (6,)
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) mm
    slope: float
    intercept: float
    instance: int
    sop_instance_uid: str
    echo: str
    acquisition: str
    temporal: str
    image_type: str
    count: int = 1  # > 1 only for a placeholder standing for a file too large to list

    @property
    def path(self) -> str:
        return self.header.path

    def label(self) -> str:
        name = os.path.basename(self.header.path)
        return f"frame {self.index + 1} of {name}" if self.header.multiframe else name


@dataclass(frozen=True)
class SeriesInfo:
    """One 3-D image stack found by `scan_dicom` (header information only).

    Attributes
    ----------
    key : str
        Stable identifier to pick the series: the SeriesNumber, ``-`` + a short hash of the
        SeriesInstanceUID when two series share a number, then ``.echo2`` / ``.geom1`` /
        ``.acq3`` / ``.time2`` / ``.type1`` when one SeriesInstanceUID was split into several
        stacks (the suffix says why).
    series_uid, series_number, description, sequence, protocol, modality
        From the DICOM header (SequenceName, or PulseSequenceName, else ScanningSequence).
    role : {"t2", "tof", "t1", "unknown"}
        From `guess_role` over SeriesDescription, ProtocolName, SequenceName, ScanningSequence.
    n_files, n_slices : int
        Files read; 2-D images (frames for multi-frame files) in the stack.
    shape : tuple of int
        Shape of the volume `read_series` returns, ``(columns, rows, slices)`` = ``(I, J, K)``.
    rows, columns : int
        Image matrix.
    spacing_mm : tuple of float
        Voxel size along ``i, j, k`` (column spacing, row spacing, measured slice step), mm.
    orientation : str
        Axis codes of ``i, j, k`` in RAS terms (nibabel ``aff2axcodes``), e.g. ``"LPS"``.
    affine_ras : (4, 4) ndarray or None
        The voxel -> RAS mm affine of the volume, None when the geometry is unknown.
    files : tuple of str
        The files, in slice order.
    multiframe : bool
        Enhanced (or legacy) multi-frame file(s).
    transfer_syntaxes : tuple of str
        Transfer syntax UIDs of the files.
    problems : tuple of str
        Why the series cannot be read as a volume, in plain words; empty when fine.
    problem_types : tuple of str
        The `nvc_viewer.errors` class of each problem (``"MissingSliceError"`` ...).
    split_reason : str
        Why this stack was split from others sharing its SeriesInstanceUID ("" when not).
    """

    key: str
    series_uid: str
    series_number: int | None
    description: str
    sequence: str
    protocol: str
    modality: str
    role: str
    n_files: int
    n_slices: int
    shape: tuple[int, int, int]
    rows: int
    columns: int
    spacing_mm: tuple[float, float, float]
    orientation: str
    affine_ras: np.ndarray | None = field(repr=False, compare=False)
    files: tuple[str, ...] = field(repr=False)
    multiframe: bool = False
    transfer_syntaxes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    problem_types: tuple[str, ...] = ()
    split_reason: str = ""
    warnings: tuple[str, ...] = field(default=(), repr=False)
    _frames: tuple[_Frame, ...] = field(default=(), repr=False, compare=False)


@dataclass
class DicomScan:
    """What `scan_dicom` found under a path.

    Attributes
    ----------
    folder : str
        The scanned folder (or file).
    series : list of SeriesInfo
        One entry per 3-D stack, in SeriesNumber order.
    skipped : list of (str, str)
        ``(path, reason)`` for every file that is not a DICOM image or could not be read.
    n_files : int
        Files looked at.
    """

    folder: str
    series: list[SeriesInfo]
    skipped: list[tuple[str, str]]
    n_files: int = 0

    @property
    def n_skipped(self) -> int:
        """Number of files skipped."""
        return len(self.skipped)
