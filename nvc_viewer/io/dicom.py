"""DICOM reader: scan a folder into series, read one series as a `Volume`.

Design note
-----------
**Array axes.** ``data[i, j, k]`` = (image column, image row, slice), as nibabel and dcm2niix:
``i`` runs along ImageOrientationPatient's row cosine ``r`` (IOP[0:3]) in steps of PixelSpacing[1],
``j`` along its column cosine ``c`` (IOP[3:6]) in steps of PixelSpacing[0], and ``k`` along the
slice normal ``n = r x c``: slices are sorted by ``ImagePositionPatient . n`` -- never by
InstanceNumber, frame number or file name. The LPS affine is::

    [ r * PixelSpacing[1] | c * PixelSpacing[0] | (P[K-1] - P[0]) / (K - 1) | P[0] ]

with ``P[k]`` the ImagePositionPatient of sorted slice ``k`` (the *measured* step, not
SliceThickness), converted to RAS with `nvc_viewer.geometry.lps_to_ras`. The array is the
F-ordered transpose of the ``(slice, row, column)`` buffer the pixels are read into (no copy).

**Two passes, one read per byte.** `scan_dicom` reads headers only (``stop_before_pixels``) and
records, for every 2-D image (a classic file or one frame of an Enhanced multi-frame file), its
geometry, rescale and where its pixel bytes lie in the file. It groups images into series
(SeriesInstanceUID, then geometry, echo and -- when positions repeat -- acquisition, temporal
position or image type), sorts them and diagnoses the stack (missing slices, uneven spacing,
gantry tilt, mixed geometry, truncated pixel data) without raising: problems are listed in
`SeriesInfo.problems`. `read_series` raises the first problem as its typed error, checks the
size, then reads uncompressed pixels straight from the recorded file offsets into the output
array (no second header parse); compressed transfer syntaxes go through pydicom's decoders and
the pylibjpeg / pyjpegls plugins.

Classic files in little-endian syntaxes (nearly every MR series) have their headers parsed by a
small reader of their own (`_parse_header`, about 0.2 ms per file against 2 ms for pydicom's
``dcmread`` plus value conversion); everything else goes through pydicom. Parallel scanning does
not pay on a local disk (the parsing holds the GIL; measured in `scan_dicom`).
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import errors as _errors
from ..errors import (
    CorruptFileError,
    InputNotFoundError,
    NoSeriesFoundError,
    NotAnImageError,
    NVCError,
    SeriesSelectionError,
    UnsupportedImageError,
)
from ..geometry import lps_to_ras
from ..volume import Volume, VolumeMeta
from ._limits import check_size
from .kinds import (
    GZ_DICOM,
    OTHER_IMAGE_KINDS,
    convert_hint,
    describe_files,
    file_kind,
    with_article,
)
from .roles import guess_role

__all__ = [
    "SeriesInfo",
    "DicomScan",
    "scan_dicom",
    "read_series",
    "pick_series",
    "load_dicom",
    "describe_scan",
    "looks_like_dicom",
]

#: Two orientation cosines closer than this are the same orientation.
IOP_TOLERANCE = 1e-4
#: Two slices closer than this along the normal are at the same position (mm).
SAME_POSITION_MM = 0.01
#: A slice step may differ from the median step by max(this fraction of it, STEP_TOLERANCE_MM).
STEP_TOLERANCE_FRACTION = 0.01
STEP_TOLERANCE_MM = 0.01
#: Sideways drift of the slice positions off the normal beyond which the stack is sheared (mm).
TILT_TOLERANCE_MM = 0.02

_NOT_IMAGES = {
    "1.2.840.10008.1.3.10": "DICOMDIR (a media directory, not an image)",
    "1.2.840.10008.5.1.4.1.1.66.4": "DICOM Segmentation (not an image series)",
    "1.2.840.10008.5.1.4.1.1.66": "raw data",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT Structure Set",
}
_NATIVE_SYNTAXES = {
    "1.2.840.10008.1.2": "<",  # implicit VR little endian
    "1.2.840.10008.1.2.1": "<",  # explicit VR little endian
    "1.2.840.10008.1.2.2": ">",  # explicit VR big endian (retired, still met)
}
_DEFLATED = "1.2.840.10008.1.2.1.99"
_PLUGIN_HINT = {
    "JPEG-LS": "pyjpegls (pip install pyjpegls) or pylibjpeg-libjpeg",
    "JPEG 2000": "pylibjpeg-openjpeg (pip install pylibjpeg-openjpeg)",
    "JPEG": "pylibjpeg-libjpeg (pip install pylibjpeg-libjpeg)",
    "RLE": "pylibjpeg-rle (pip install pylibjpeg-rle)",
}
_PIXEL_DATA_TAG = 0x7FE00010
#: Pixel data stored as 32 / 64-bit floats (parametric maps): refused with their name.
_FLOAT_PIXEL_TAGS = {0x7FE00008: "Float Pixel Data", 0x7FE00009: "Double Float Pixel Data"}
#: Skip reasons of a file that is an image, but one this reader does not take.
_UNSUPPORTED_PREFIXES = ("floating-point pixel data",)


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


# ---------------------------------------------------------------------------------------------
# Scanning one file
# ---------------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(out) != n or not all(math.isfinite(v) for v in out):
        return None
    return out


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    number = _float(value)  # IS written as "12.0" by some software
    return int(number) if number is not None and number.is_integer() else default


def _echo_key(number: Any, echo_time: Any) -> str:
    """Echo identity for grouping: EchoNumbers and the echo time to 1 microsecond (so that
    "2.46" and "2.460" are one echo)."""
    te = _float(echo_time)
    return f"{_text(number)}|{'' if te is None else f'{te:.3f}'}"


def looks_like_dicom(path: str | os.PathLike[str]) -> bool:
    """Cheap test of one file: the DICM preamble, or the start of a DICOM data set without it.

    Reads at most 132 bytes; False for hidden files (``.name``) and anything unreadable.
    """
    path = Path(path)
    if path.name.startswith("."):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return (len(head) == 132 and head[128:132] == b"DICM") or _looks_like_raw_dicom(head)


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A file without the DICM preamble that starts like a DICOM data set (group 0002/0008)."""
    if len(head) < 8:
        return False
    group_le, _ = struct.unpack("<HH", head[:4])
    group_be, _ = struct.unpack(">HH", head[:4])
    return group_le in (0x0002, 0x0008) or group_be == 0x0008


def _pixel_element(fp: Any, implicit: bool, little: bool) -> tuple[int, int] | None:
    """Parse the element header at the file position: (value offset, value length) of Pixel
    Data, or None when the file has no (7FE0,0010) element there."""
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return None
    endian = "<" if little else ">"
    group, elem = struct.unpack(endian + "HH", head[:4])
    if (group << 16 | elem) != _PIXEL_DATA_TAG:
        return None
    if implicit:
        (length,) = struct.unpack(endian + "I", head[4:8])
        return start + 8, length
    if len(head) < 12:
        return None
    (length,) = struct.unpack(endian + "I", head[8:12])
    return start + 12, length


def _tag_at(fp: Any, little: bool) -> int | None:
    """The tag of the element at the file position (the position is restored)."""
    start = fp.tell()
    head = fp.read(4)
    fp.seek(start)
    if len(head) < 4:
        return None
    group, elem = struct.unpack(("<" if little else ">") + "HH", head)
    return group << 16 | elem


def _float_pixels_reason(kind: str, sop_class: str) -> str:
    what = _uid_name(sop_class) or "no SOP class"
    return (
        f"floating-point pixel data ({kind}, {what}): a computed map such as a parametric map, "
        "not an MR image this tool reads; open the MR series it was computed from"
    )


def _scan_file(path: str) -> tuple[list[_Frame], str | None]:
    """Header-only read of one file: its images, or a reason to skip it."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(_HEADER_CHUNK)
            file_size = os.fstat(fp.fileno()).st_size
            if len(head) >= 132 and head[128:132] == b"DICM":
                parsed = _parse_header(head, whole_file=len(head) == file_size)
                if parsed is not None:
                    attrs, ts, element = parsed
                    return _classify(
                        _Attrs(attrs), path, ts, file_size, element, element is not None
                    )
                force = False
                too_big = _deflated_too_big(fp, head)
                if too_big:
                    return [], too_big
            elif _looks_like_raw_dicom(head):
                force = True
            else:
                return [], "not a DICOM file"
            return _scan_with_pydicom(fp, path, file_size, force)
    except Exception as exc:  # noqa: BLE001 -- a scan must survive any junk file; reason kept
        return [], f"unreadable file ({type(exc).__name__}: {exc})"


def _deflated_too_big(fp: Any, head: bytes) -> str | None:
    """Why a Deflated Explicit VR data set must not be handed to pydicom, or None.

    pydicom inflates the whole data set in memory before parsing it; a few megabytes of
    deflate stream can hold gigabytes. The stream is inflated here first, in bounded pieces
    that are counted and dropped, and refused past `_limits.MAX_INFLATED_BYTES`.
    """
    import zlib

    from . import _limits

    if _DEFLATED.encode() not in head[132:4096]:
        return None
    pos = 132
    try:
        while struct.unpack_from("<H", head, pos)[0] == 0x0002:  # skip the file meta group
            pos = _next_element(head, pos, True)[0]
    except (struct.error, IndexError, ValueError):
        return None  # a broken meta group: pydicom says what is wrong with it
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    fp.seek(pos)
    try:
        while not inflater.eof:
            pending = fp.read(1 << 20)
            if not pending:
                break
            while pending:
                total += len(inflater.decompress(pending, 1 << 20))
                if total > _limits.MAX_INFLATED_BYTES:
                    return (
                        f"deflated data set inflates to over {_limits.MAX_INFLATED_BYTES} bytes "
                        "(the limit; raise NVC_MAX_INFLATED_BYTES if the file is real)"
                    )
                pending = inflater.unconsumed_tail
    except zlib.error:
        return None  # not a valid stream: pydicom reports it
    return None


def _scan_with_pydicom(
    fp: Any, path: str, file_size: int, force: bool
) -> tuple[list[_Frame], str | None]:
    """The general path: any transfer syntax, multi-frame functional groups, odd headers."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not force:
        split = _split_per_frame(fp, file_size)
        if split is not None:
            return _scan_split(split, path, file_size)
    try:
        fp.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=force)
        meta = getattr(ds, "file_meta", None)
        ts = _text(meta.get("TransferSyntaxUID")) if meta is not None else ""
        implicit, little = ds.original_encoding[0], ds.original_encoding[1]
        if not ts:
            ts = (
                "1.2.840.10008.1.2"
                if implicit
                else ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2")
            )
        float_kind = None
        if ts == _DEFLATED:
            # The data set was inflated in memory; look for Pixel Data by reading it all.
            fp.seek(0)
            whole = pydicom.dcmread(fp, force=force)
            has_pixels = "PixelData" in whole
            for tag, kind in _FLOAT_PIXEL_TAGS.items():
                if tag in whole:
                    float_kind = kind
            element = None
        else:
            float_kind = _FLOAT_PIXEL_TAGS.get(_tag_at(fp, bool(little)) or 0)
            element = _pixel_element(fp, bool(implicit), bool(little))
            has_pixels = element is not None
    except InvalidDicomError as exc:
        return [], f"not a DICOM file ({exc})"
    except Exception as exc:  # noqa: BLE001 -- a scan must survive any junk file; reason kept
        return [], f"unreadable DICOM header ({type(exc).__name__}: {exc})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about every odd value it converts
        if not _text(ds.get("SOPClassUID")) and meta is not None:
            ds.SOPClassUID = meta.get("MediaStorageSOPClassUID")
        if float_kind and not has_pixels:
            return [], _float_pixels_reason(float_kind, _text(ds.get("SOPClassUID")))
        return _classify(ds, path, ts, file_size, element, has_pixels)


# ---------------------------------------------------------------------------------------------
# Enhanced multi-frame files: the per-frame functional groups read by a small parser
# ---------------------------------------------------------------------------------------------
# A real Enhanced MR file repeats some 10 functional groups (and private tags) for every frame:
# pydicom spends most of a load building them (a 176-frame Philips file: 0.5 s). Only 9 values
# per frame are needed; they are picked from the raw bytes here, and pydicom parses the rest of
# the header with the per-frame sequence cut out.
_PER_FRAME_TAG = 0x52009230
#: functional group sequence tag -> (its keyword, {attribute tag: keyword})
_FRAME_GROUPS: dict[int, tuple[str, dict[int, str]]] = {
    0x00209113: ("PlanePositionSequence", {0x00200032: "ImagePositionPatient"}),
    0x00209116: ("PlaneOrientationSequence", {0x00200037: "ImageOrientationPatient"}),
    0x00289110: ("PixelMeasuresSequence", {0x00280030: "PixelSpacing"}),
    0x00289145: (
        "PixelValueTransformationSequence",
        {0x00281052: "RescaleIntercept", 0x00281053: "RescaleSlope"},
    ),
    0x00189114: ("MREchoSequence", {0x00189082: "EffectiveEchoTime"}),
    0x00189226: ("MRImageFrameTypeSequence", {0x00089007: "FrameType"}),
    0x00209111: (
        "FrameContentSequence",
        {0x00209128: "TemporalPositionIndex", 0x00209056: "StackID"},
    ),
}
_BINARY_VRS = {b"FD": "d", b"FL": "f", b"UL": "I", b"SL": "i", b"US": "H", b"SS": "h"}
_MAX_SPLIT_HEADER = 64 * 1024 * 1024


@dataclass
class _Split:
    """A multi-frame header with its per-frame sequence parsed apart."""

    rest: bytes  # the file up to the pixel data, without the per-frame sequence
    ts: str
    per_frame: list
    element: tuple[int, int]  # pixel data (value offset, length) in the file


def _long_length(buf: bytes, start: int) -> int:
    return struct.unpack_from("<I", buf, start - 4)[0]


def _items(buf: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of every item of a sequence value in ``buf[start:end]``."""
    out = []
    pos = start
    while pos < end:
        group, elem, length = struct.unpack_from("<HHI", buf, pos)
        if (group, elem) == (0xFFFE, 0xE0DD):
            break
        if (group, elem) != (0xFFFE, 0xE000):
            raise ValueError("bad sequence item")
        pos += 8
        if length != 0xFFFFFFFF:
            out.append((pos, pos + length))
            pos += length
            continue
        item_start = pos
        while struct.unpack_from("<HH", buf, pos) != (0xFFFE, 0xE00D):
            pos = _next_element(buf, pos, True)[0]
        out.append((item_start, pos))
        pos += 8
    return out


def _elements(buf: bytes, start: int, end: int) -> list[tuple[int, bytes, int, int]]:
    """(tag, VR, value start, value end) of the elements of an item (explicit VR LE)."""
    out = []
    pos = start
    while pos < end:
        nxt, tag, vr, value = _next_element(buf, pos, True)
        stop = nxt
        if vr in _LONG_VRS and _long_length(buf, value) == 0xFFFFFFFF:
            stop = nxt - 8  # the sequence delimitation item
        out.append((tag, vr, value, stop))
        pos = nxt
    return out


def _raw_value(buf: bytes, vr: bytes, start: int, end: int, charset: str) -> Any:
    code = _BINARY_VRS.get(vr)
    if code is None:
        return _decode_value(buf[start:end], "DS", charset)  # text: split at backslashes
    n = (end - start) // struct.calcsize(code)
    values = struct.unpack_from(f"<{n}{code}", buf, start)
    return values[0] if n == 1 else list(values)


def _per_frame_items(buf: bytes, start: int, end: int) -> list:
    frames = []
    for item_start, item_end in _items(buf, start, end):
        groups = _Attrs()
        for tag, vr, value, stop in _elements(buf, item_start, item_end):
            wanted = _FRAME_GROUPS.get(tag)
            if wanted is None or vr != b"SQ":
                continue
            keyword, attributes = wanted
            first = _items(buf, value, stop)[:1]
            attrs = _Attrs()
            for inner_start, inner_end in first:
                for inner_tag, inner_vr, v0, v1 in _elements(buf, inner_start, inner_end):
                    if inner_tag in attributes:
                        attrs[attributes[inner_tag]] = _raw_value(buf, inner_vr, v0, v1, "")
            groups[keyword] = [attrs]
        frames.append(groups)
    return frames


def _split_per_frame(fp: Any, file_size: int) -> _Split | None:
    """Parse a multi-frame file's per-frame functional groups without pydicom, or None when the
    file is not one (or not in explicit VR little endian, or odd in any way: pydicom reads it)."""
    fp.seek(0)
    head = fp.read(_HEADER_CHUNK)
    if b"\x00\x52\x29\x92" not in head and b"\x00\x52\x30\x92" not in head:
        return None  # no functional groups in sight: not an Enhanced file
    size = 1 << 20
    while True:
        fp.seek(0)
        buf = fp.read(min(size, file_size))
        try:
            return _split_buffer(buf)
        except (struct.error, IndexError):
            if len(buf) >= file_size or size >= _MAX_SPLIT_HEADER:
                return None
            size *= 4  # the header is longer than what was read
        except (ValueError, UnicodeDecodeError):
            return None


def _split_buffer(buf: bytes) -> _Split | None:
    if len(buf) < 132 or buf[128:132] != b"DICM":
        return None
    pos, ts = 132, ""
    while struct.unpack_from("<H", buf, pos)[0] == 0x0002:
        nxt, tag, _, start = _next_element(buf, pos, True)
        if tag == 0x00020010:
            ts = buf[start:nxt].decode("ascii").rstrip(" \x00")
        pos = nxt
    if not ts or ts in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.2", _DEFLATED):
        return None
    per_frame = None
    while True:
        nxt, tag, vr, start = _next_element(buf, pos, True)
        if tag == _PIXEL_DATA_TAG:
            break
        if tag in _FLOAT_PIXEL_TAGS or tag > _PIXEL_DATA_TAG:
            return None
        if tag == _PER_FRAME_TAG:
            if vr != b"SQ":
                return None
            end = nxt - 8 if _long_length(buf, start) == 0xFFFFFFFF else nxt
            per_frame = (pos, nxt, start, end)
        pos = nxt
    if per_frame is None:
        return None
    element_start, element_end, value_start, value_end = per_frame
    length = _long_length(buf, start) if vr in _LONG_VRS else None
    if length is None:
        return None
    return _Split(
        rest=buf[:element_start] + buf[element_end:pos],
        ts=ts,
        per_frame=_per_frame_items(buf, value_start, value_end),
        element=(start, length),
    )


def _scan_split(split: _Split, path: str, file_size: int) -> tuple[list[_Frame], str | None]:
    """Classify a multi-frame file whose per-frame groups `_split_per_frame` read."""
    import io

    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(split.rest), stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 -- a scan must survive any junk file; reason kept
        return [], f"unreadable DICOM header ({type(exc).__name__}: {exc})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not _text(ds.get("SOPClassUID")):
            ds.SOPClassUID = ds.file_meta.get("MediaStorageSOPClassUID")
        return _classify(ds, path, split.ts, file_size, split.element, True, split.per_frame)


def _classify(
    ds: Any,
    path: str,
    ts: str,
    file_size: int,
    element: tuple[int, int] | None,
    has_pixels: bool,
    per_frame: list | None = None,
) -> tuple[list[_Frame], str | None]:
    sop_class = _text(ds.get("SOPClassUID"))
    if sop_class in _NOT_IMAGES:
        return [], _NOT_IMAGES[sop_class]
    if not has_pixels:
        return [], f"DICOM without pixel data ({_uid_name(sop_class) or 'no SOP class'})"
    rows, columns = _int(ds.get("Rows"), 0), _int(ds.get("Columns"), 0)
    if not rows or not columns:
        return [], "DICOM pixel data without Rows/Columns"
    try:
        return _frames_of(ds, path, ts, file_size, element, rows, columns, per_frame), None
    except Exception as exc:  # noqa: BLE001 -- malformed values deep in a header
        return [], f"unreadable DICOM header ({type(exc).__name__}: {exc})"


def _uid_name(uid: str) -> str:
    from pydicom.uid import UID

    return UID(uid).name if uid else ""


# ---------------------------------------------------------------------------------------------
# A minimal header parser for the common case
# ---------------------------------------------------------------------------------------------
# pydicom's dcmread plus value conversion costs about 2 ms per file, most of a series' load
# time. Classic single-frame files in explicit or implicit VR little endian -- nearly every MR
# series -- are parsed here instead, keeping only the attributes the scan needs (about 0.2 ms
# per file). Anything unusual returns None and goes through pydicom.
_HEADER_CHUNK = 64 * 1024
_KEYWORDS = (
    "SpecificCharacterSet",
    "ImageType",
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "Manufacturer",
    "SeriesDescription",
    "ManufacturerModelName",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "ScanningSequence",
    "SliceThickness",
    "RepetitionTime",
    "EchoTime",
    "MagneticFieldStrength",
    "SpacingBetweenSlices",
    "EchoNumbers",
    "ProtocolName",
    "SequenceName",
    "FlipAngle",
    "PatientPosition",
    "MRAcquisitionType",
    "PulseSequenceName",
    "TimeOfFlightContrast",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SeriesNumber",
    "AcquisitionNumber",
    "InstanceNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "FrameOfReferenceUID",
    "TemporalPositionIdentifier",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "Rows",
    "Columns",
    "PixelSpacing",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "RescaleIntercept",
    "RescaleSlope",
)
_WANTED: dict[int, tuple[str, str]] = {}
_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}
_PLAIN_CHARSETS = {"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"}
_FUNCTIONAL_GROUPS = (0x52009229, 0x52009230)


class _Attrs(dict):  # type: ignore[type-arg]
    """Parsed attributes by keyword; ``get`` like a pydicom Dataset."""


def _wanted() -> dict[int, tuple[str, str]]:
    if not _WANTED:
        from pydicom.datadict import dictionary_VR, tag_for_keyword

        for keyword in _KEYWORDS:
            tag = tag_for_keyword(keyword)
            _WANTED[tag] = (keyword, dictionary_VR(tag))  # type: ignore[index]
    return _WANTED


def _decode_value(raw: bytes, vr: str, charset: str) -> Any:
    if vr in ("US", "SS"):
        if len(raw) < 2:
            return None
        return struct.unpack_from("<H" if vr == "US" else "<h", raw)[0]
    text = raw.decode("utf-8" if charset == "ISO_IR 192" else "latin-1")
    text = text.rstrip(" \x00").lstrip(" ")
    if "\\" in text:
        return [part.strip(" \x00") for part in text.split("\\")]
    return text


def _skip_undefined(buf: bytes, pos: int, explicit: bool) -> int:
    """Skip the items of an undefined-length sequence starting at ``pos``; return the position
    after its delimiter. Raises IndexError/struct.error at the end of the buffer."""
    unpack = struct.unpack_from
    while True:
        group, elem, length = unpack("<HHI", buf, pos)
        pos += 8
        if (group, elem) == (0xFFFE, 0xE0DD):  # sequence delimiter
            return pos
        if (group, elem) != (0xFFFE, 0xE000):
            raise ValueError("bad sequence item")
        if length != 0xFFFFFFFF:
            pos += length
            continue
        while True:  # an undefined-length item: walk its elements to the item delimiter
            group, elem = unpack("<HH", buf, pos)
            if (group, elem) == (0xFFFE, 0xE00D):
                pos += 8
                break
            pos, _, _, _ = _next_element(buf, pos, explicit)


def _next_element(buf: bytes, pos: int, explicit: bool) -> tuple[int, int, bytes, int]:
    """Read the element at ``pos``: (next position, tag, VR, value start)."""
    group, elem = struct.unpack_from("<HH", buf, pos)
    tag = group << 16 | elem
    if explicit:
        vr = buf[pos + 4 : pos + 6]
        if not (vr.isalpha() and vr.isupper()):
            raise ValueError(f"invalid VR {vr!r}")
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", buf, pos + 8)
            start = pos + 12
        else:
            (length,) = struct.unpack_from("<H", buf, pos + 6)
            start = pos + 8
    else:
        vr = b""
        (length,) = struct.unpack_from("<I", buf, pos + 4)
        start = pos + 8
    if length == 0xFFFFFFFF:
        if tag == _PIXEL_DATA_TAG:
            return start, tag, vr, start
        if explicit and vr == b"UN":
            raise ValueError("undefined-length UN")  # its content is implicit VR: pydicom
        return _skip_undefined(buf, start, explicit), tag, vr, start
    if start + length > len(buf) and tag != _PIXEL_DATA_TAG:
        raise IndexError("element runs past the buffer")
    return start + length, tag, vr, start


def _parse_header(
    buf: bytes, *, whole_file: bool
) -> tuple[dict[str, Any], str, tuple[int, int] | None] | None:
    """Parse a Part-10 header in explicit/implicit VR little endian.

    Returns (attributes by keyword, transfer syntax UID, (pixel value offset, length) or None),
    or None when the file needs pydicom (other syntaxes, functional groups, odd encodings, a
    header longer than ``buf``).
    """
    wanted = _wanted()
    try:
        pos = 132
        ts = media_sop_class = ""
        while True:  # file meta information: explicit VR little endian, group 0002
            group, elem = struct.unpack_from("<HH", buf, pos)
            if group != 0x0002:
                break
            nxt, tag, _, start = _next_element(buf, pos, True)
            if tag == 0x00020010:
                ts = buf[start:nxt].decode("ascii").rstrip(" \x00")
            elif tag == 0x00020002:
                media_sop_class = buf[start:nxt].decode("ascii").rstrip(" \x00")
            pos = nxt
        # Implicit / explicit VR little endian, or an encapsulated (compressed) syntax, whose
        # data set is explicit VR little endian too.
        if not ts or ts in (_DEFLATED, "1.2.840.10008.1.2.2"):
            return None
        explicit = ts != "1.2.840.10008.1.2"
        attrs: dict[str, Any] = {}
        charset = ""
        raw_values: list[tuple[str, str, bytes]] = []
        element = None
        while pos < len(buf):
            nxt, tag, vr, start = _next_element(buf, pos, explicit)
            if tag == _PIXEL_DATA_TAG:
                (length,) = struct.unpack_from("<I", buf, start - 4)
                element = (start, length)
                break
            if tag in _FUNCTIONAL_GROUPS or tag > _PIXEL_DATA_TAG or tag in _FLOAT_PIXEL_TAGS:
                return None
            if tag in wanted:
                keyword, dict_vr = wanted[tag]
                if explicit and vr.decode("ascii", "replace") not in (dict_vr, "UN"):
                    return None
                raw_values.append((keyword, dict_vr, buf[start:nxt]))
                if keyword == "SpecificCharacterSet":
                    charset = buf[start:nxt].decode("ascii").strip(" \x00")
            pos = nxt
        else:
            if not whole_file:
                return None  # the header is longer than the chunk read
        if charset not in _PLAIN_CHARSETS:
            return None
        for keyword, dict_vr, raw in raw_values:
            attrs[keyword] = _decode_value(raw, dict_vr, charset)
        if _int(attrs.get("NumberOfFrames"), 1) not in (1, None):
            return None
        if not attrs.get("SOPClassUID"):
            attrs["SOPClassUID"] = media_sop_class
        return attrs, ts, element
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


def _frames_of(
    ds: Any,
    path: str,
    ts: str,
    file_size: int,
    element: tuple[int, int] | None,
    rows: int,
    columns: int,
    per_frame: list | None = None,
) -> list[_Frame]:
    problems: list[tuple[str, str]] = []
    name = os.path.basename(path)
    bits_allocated = _int(ds.get("BitsAllocated"), 16) or 16
    samples = _int(ds.get("SamplesPerPixel"), 1) or 1
    declared = _int(ds.get("NumberOfFrames"), 1) or 1
    if per_frame is None:
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    multiframe = declared > 1 or per_frame is not None
    image_type = _text(ds.get("ImageType"))

    n_items = len(per_frame) if per_frame is not None else 0
    if per_frame is not None and n_items != declared:
        problems.append(
            (
                "CorruptFileError",
                f"{name}: NumberOfFrames is {declared} but the Per-Frame Functional Groups "
                f"Sequence holds {n_items} items; the file is damaged",
            )
        )

    item_size = max(bits_allocated // 8, 1) * samples
    bits_stored = _int(ds.get("BitsStored"), bits_allocated) or bits_allocated
    if bits_allocated not in (8, 16, 32) or not 1 <= bits_stored <= bits_allocated:
        problems.append(
            (
                "UnsupportedImageError",
                f"{name}: BitsAllocated {bits_allocated} / BitsStored {bits_stored}; expected "
                "8, 16 or 32 bits allocated and no more stored than allocated (corrupt header?)",
            )
        )
    try:
        check_size((columns, rows, declared), max(item_size, 4), path)
        too_large = False
    except NVCError as exc:
        problems.append(("ImageTooLargeError", exc.reason))
        too_large = True

    photometric = _text(ds.get("PhotometricInterpretation")).upper()
    colour = samples != 1 or photometric == "PALETTE COLOR"
    if colour:
        # First: a colour image's stored size follows its own layout (YBR_FULL_422 holds two
        # bytes a pixel), so a grey-scale size check would call it truncated.
        problems.append(
            (
                "UnsupportedImageError",
                f"{name}: colour image ({photometric or 'no PhotometricInterpretation'}, "
                f"{samples} sample(s) per pixel); expected a grey-scale MR image -- this is a "
                "screenshot, photograph or secondary capture, not an MR series",
            )
        )

    offset = None
    if colour:
        pass
    elif element is not None and ts in _NATIVE_SYNTAXES:
        value_offset, length = element
        if length == 0xFFFFFFFF:
            problems.append(
                ("CorruptFileError", f"{name}: native transfer syntax but encapsulated pixel data")
            )
        elif bits_allocated in (8, 16, 32) and samples == 1:
            offset = value_offset
        needed = rows * columns * declared * item_size
        if length != 0xFFFFFFFF and not too_large:
            available = file_size - value_offset
            if min(length, available) < needed:
                problems.append(
                    (
                        "CorruptFileError",
                        f"{name}: pixel data truncated -- {rows}x{columns}x{declared} pixels need "
                        f"{needed} bytes, the header declares {length} and the file holds "
                        f"{max(available, 0)}; copy the file again from the scanner or PACS",
                    )
                )
    elif ts not in _NATIVE_SYNTAXES:
        problem = _decoder_problem(ts, name)
        if problem:
            problems.append(problem)
    legacy_multiframe = multiframe and per_frame is None and declared > 1
    if legacy_multiframe:
        problems.append(
            (
                "UnsupportedImageError",
                f"{name}: {declared} frames without per-frame ImagePositionPatient (no Per-Frame "
                "Functional Groups): where each frame lies in the patient is unknown",
            )
        )
    mosaic = "MOSAIC" in image_type.upper()
    if mosaic:
        problems.append(
            (
                "UnsupportedImageError",
                f"{name}: Siemens mosaic (a 4-D fMRI/DTI acquisition tiled into one image); "
                "convert it with dcm2niix and open the NIfTI volume",
            )
        )

    sequence = _text(ds.get("SequenceName")) or _text(ds.get("PulseSequenceName"))
    extra = {
        "echo_time": _float(ds.get("EchoTime")),
        "repetition_time": _float(ds.get("RepetitionTime")),
        "flip_angle": _float(ds.get("FlipAngle")),
        "magnetic_field_strength": _float(ds.get("MagneticFieldStrength")),
        "mr_acquisition_type": _text(ds.get("MRAcquisitionType")),
        "manufacturer_model": _text(ds.get("ManufacturerModelName")),
        "image_type": image_type,
        "patient_position": _text(ds.get("PatientPosition")),
    }
    header = _FileHeader(
        path=path,
        sop_class=_text(ds.get("SOPClassUID")),
        transfer_syntax=ts,
        series_uid=_text(ds.get("SeriesInstanceUID")),
        series_number=_int(ds.get("SeriesNumber")),
        description=_text(ds.get("SeriesDescription")),
        protocol=_text(ds.get("ProtocolName")),
        sequence=sequence or _text(ds.get("ScanningSequence")),
        scanning_sequence=_text(ds.get("ScanningSequence")),
        modality=_text(ds.get("Modality")),
        study_uid=_text(ds.get("StudyInstanceUID")),
        frame_of_reference_uid=_text(ds.get("FrameOfReferenceUID")),
        manufacturer=_text(ds.get("Manufacturer")),
        multiframe=multiframe,
        declared_frames=declared,
        mosaic=mosaic,
        slice_thickness=_float(ds.get("SliceThickness")),
        spacing_between_slices=_float(ds.get("SpacingBetweenSlices")),
        tof_contrast=_text(ds.get("TimeOfFlightContrast")).upper() == "YES",
        extra=tuple(extra.items()),
        patient=(
            ("name", _text(ds.get("PatientName"))),
            ("id", _text(ds.get("PatientID"))),
            ("birth_date", _text(ds.get("PatientBirthDate"))),
        ),
        rows=rows,
        columns=columns,
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        pixel_representation=_int(ds.get("PixelRepresentation"), 0) or 0,
        samples_per_pixel=samples,
        photometric=_text(ds.get("PhotometricInterpretation")),
        offset=offset,
        problems=tuple(problems),
    )

    top_position = _floats(ds.get("ImagePositionPatient"), 3)
    top_orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    top_spacing = _floats(ds.get("PixelSpacing"), 2)
    top_slope = _float(ds.get("RescaleSlope"))
    top_intercept = _float(ds.get("RescaleIntercept"))
    instance = _int(ds.get("InstanceNumber"), 0) or 0
    sop_uid = _text(ds.get("SOPInstanceUID"))
    echo = _echo_key(ds.get("EchoNumbers"), ds.get("EchoTime"))
    acquisition = _text(ds.get("AcquisitionNumber"))
    temporal = _text(ds.get("TemporalPositionIdentifier"))

    def top_level_frame(count: int = 1) -> _Frame:
        return _Frame(
            header,
            0,
            top_position,
            top_orientation,
            top_spacing,
            top_slope if top_slope is not None else 1.0,
            top_intercept or 0.0,
            instance,
            sop_uid,
            echo,
            acquisition,
            temporal,
            image_type,
            count=count,
        )

    if not multiframe:
        return [top_level_frame()]
    if too_large or legacy_multiframe:
        # One placeholder: do not list the frames of a file that cannot be read anyway.
        return [top_level_frame(count=declared)]

    def group_value(item: Any, sequence_name: str, attribute: str) -> Any:
        for group in (item, shared):
            if group is None:
                continue
            seq = group.get(sequence_name)
            if seq:
                value = seq[0].get(attribute)
                if value is not None:
                    return value
        return None

    frames = []
    for f in range(min(declared, n_items)):
        item = per_frame[f]
        position = _floats(group_value(item, "PlanePositionSequence", "ImagePositionPatient"), 3)
        orientation = _floats(
            group_value(item, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        )
        spacing = _floats(group_value(item, "PixelMeasuresSequence", "PixelSpacing"), 2)
        slope = _float(group_value(item, "PixelValueTransformationSequence", "RescaleSlope"))
        intercept = _float(
            group_value(item, "PixelValueTransformationSequence", "RescaleIntercept")
        )
        effective_te = group_value(item, "MREchoSequence", "EffectiveEchoTime")
        frame_echo = _echo_key(None, effective_te) if effective_te is not None else ""
        frame_type = _text(group_value(item, "MRImageFrameTypeSequence", "FrameType"))
        frame_temporal = _text(group_value(item, "FrameContentSequence", "TemporalPositionIndex"))
        stack = _text(group_value(item, "FrameContentSequence", "StackID"))
        frames.append(
            _Frame(
                header,
                f,
                position if position is not None else top_position,
                orientation if orientation is not None else top_orientation,
                spacing if spacing is not None else top_spacing,
                slope if slope is not None else (top_slope if top_slope is not None else 1.0),
                intercept if intercept is not None else (top_intercept or 0.0),
                instance,
                sop_uid,
                frame_echo or echo,
                f"{acquisition}|{stack}" if stack else acquisition,
                frame_temporal or temporal,
                frame_type or image_type,
            )
        )
    return frames or [top_level_frame(count=declared)]


def _decoder_problem(ts: str, name: str) -> tuple[str, str] | None:
    """A problem when no installed pydicom decoder handles this transfer syntax."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    uid = UID(ts)
    label = uid.name if uid.is_valid and uid.name != ts else ts
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        return (
            "UnsupportedImageError",
            f"{name}: transfer syntax {label} ({ts}) has no decoder in pydicom; convert the series "
            "to an uncompressed syntax (e.g. with dcmdjpeg / gdcmconv --raw)",
        )
    if not decoder.is_available:
        hint = next((pkg for key, pkg in _PLUGIN_HINT.items() if key in label), "a plugin")
        missing = "; ".join(decoder.missing_dependencies)
        return (
            "UnsupportedImageError",
            f"{name}: transfer syntax {label} cannot be decoded here ({missing}); install {hint}",
        )
    return None


# ---------------------------------------------------------------------------------------------
# Scanning a folder
# ---------------------------------------------------------------------------------------------
def _list_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    return out


def _scan_many(paths: list[str], workers: int) -> list[tuple[list[_Frame], str | None]]:
    if workers <= 1 or len(paths) < 2:
        return [_scan_file(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_scan_file, paths))


def scan_dicom(path: str | os.PathLike[str], *, workers: int | None = None) -> DicomScan:
    """Find the DICOM image series under a folder (recursively) or in one file.

    Reads headers only. Files that are not DICOM images are skipped and counted, never fatal.

    Parameters
    ----------
    path : path-like
        A folder (searched recursively) or a single DICOM file.
    workers : int, optional
        Threads reading headers (default 1). Header parsing is pure Python and holds the GIL:
        on a local disk threads do not help (measured on 2 cores, 4000 files: 1.0-1.4 s serial,
        1.25-1.3 s with 2 threads) and a process pool was 3x slower (start-up and pickling).
        Threads overlap file-system latency, so they may help on a network share.

    Returns
    -------
    DicomScan
        ``series`` (one `SeriesInfo` per 3-D stack, with its problems), ``skipped`` files.

    Raises
    ------
    InputNotFoundError
        If ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise InputNotFoundError("no such file or folder", path=root)
    paths = [str(root)] if root.is_file() else _list_files(root)
    workers = 1 if workers is None else max(int(workers), 1)
    frames: list[_Frame] = []
    skipped: list[tuple[str, str]] = []
    for p, (found, reason) in zip(paths, _scan_many(paths, workers)):
        if reason is not None:
            skipped.append((p, reason))
        else:
            frames.extend(found)
    series = _build_series(frames)
    return DicomScan(folder=str(root), series=series, skipped=skipped, n_files=len(paths))


# ---------------------------------------------------------------------------------------------
# Grouping
# ---------------------------------------------------------------------------------------------
def _cluster(values: Sequence[tuple[float, ...]], tolerance: float) -> list[int]:
    """Label values so that values within ``tolerance`` (max abs difference) share a label."""
    reps: list[tuple[float, ...]] = []
    labels = []
    for v in values:
        for n, r in enumerate(reps):
            if max(abs(a - b) for a, b in zip(v, r)) <= tolerance:
                labels.append(n)
                break
        else:
            reps.append(v)
            labels.append(len(reps) - 1)
    return labels


def _normal(orientation: Sequence[float]) -> np.ndarray:
    n = np.cross(orientation[:3], orientation[3:])
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else n


def _has_duplicates(frames: Sequence[_Frame]) -> bool:
    known = [f for f in frames if f.position is not None and f.orientation is not None]
    if len(known) < 2:
        return False
    normal = _normal(known[0].orientation)  # type: ignore[arg-type]
    d = np.sort([np.dot(f.position, normal) for f in known])  # type: ignore[arg-type]
    return bool(np.any(np.diff(d) < SAME_POSITION_MM))


def _split_by(
    frames: list[_Frame], attribute: Callable[[_Frame], Any]
) -> list[tuple[Any, list[_Frame]]]:
    groups: dict[Any, list[_Frame]] = defaultdict(list)
    for f in frames:
        groups[attribute(f)].append(f)
    return sorted(groups.items(), key=lambda kv: str(kv[0]))


def _geometry_split(frames: list[_Frame]) -> tuple[list[tuple[str, list[_Frame]]], str]:
    """Split by orientation / matrix / pixel spacing when each part is a real stack; else report
    the mixture. Returns ([(suffix, frames)], mixed_problem_message)."""
    o_labels = _cluster([f.orientation or (0.0,) * 6 for f in frames], IOP_TOLERANCE)
    s_labels = _cluster(
        [f.pixel_spacing or (0.0, 0.0) for f in frames], 1e-4 + 1e-4 * _max_spacing(frames)
    )
    keys = [(o, s, f.header.rows, f.header.columns) for o, s, f in zip(o_labels, s_labels, frames)]
    groups: dict[tuple, list[_Frame]] = defaultdict(list)
    for k, f in zip(keys, frames):
        groups[k].append(f)
    if len(groups) == 1:
        return [("", frames)], ""
    parts = sorted(groups.values(), key=lambda fs: (-len(fs), min(f.instance for f in fs)))
    if all(len(p) >= 2 for p in parts):
        return [(f"geom{n + 1}", p) for n, p in enumerate(parts)], ""
    differ = []
    if len(set(o_labels)) > 1:
        differ.append("orientation (ImageOrientationPatient)")
    if len({(f.header.rows, f.header.columns) for f in frames}) > 1:
        differ.append("matrix (Rows/Columns)")
    if len(set(s_labels)) > 1:
        differ.append("PixelSpacing")
    counts = ", ".join(f"{len(p)} like {p[0].label()} ({_geometry_text(p[0])})" for p in parts[:4])
    return [("", frames)], (
        f"slices of one series disagree on {' and '.join(differ)}: {counts}; "
        "it cannot be stacked into one volume -- remove the stray files or export the series again"
    )


def _max_spacing(frames: Sequence[_Frame]) -> float:
    return max((max(f.pixel_spacing) for f in frames if f.pixel_spacing), default=1.0)


def _geometry_text(f: _Frame) -> str:
    iop = ", ".join(f"{v:.4g}" for v in f.orientation) if f.orientation else "none"
    sp = "x".join(f"{v:.4g}" for v in f.pixel_spacing) if f.pixel_spacing else "none"
    return f"IOP [{iop}], {f.header.rows}x{f.header.columns}, spacing {sp} mm"


_DUPLICATE_SPLITS: tuple[tuple[str, Callable[[_Frame], Any], str], ...] = (
    ("acq", lambda f: f.acquisition, "AcquisitionNumber"),
    ("time", lambda f: f.temporal, "temporal position"),
    ("type", lambda f: f.image_type, "ImageType"),
)


def _split_uid_group(frames: list[_Frame]) -> list[tuple[list[str], list[str], list[_Frame], str]]:
    """Split the images of one SeriesInstanceUID into 3-D stacks.

    Returns [(key suffixes, reasons, frames, mixed-geometry problem)].
    """
    out = []
    parts, mixed = _geometry_split(frames)
    for suffix, part in parts:
        suffixes = [suffix] if suffix else []
        reasons = ["orientation/matrix/pixel spacing"] if suffix else []
        echoes = _split_by(part, lambda f: f.echo)
        if len(echoes) > 1:
            echo_parts = [
                ([*suffixes, f"echo{n + 1}"], [*reasons, "echo"], fs)
                for n, (_, fs) in enumerate(echoes)
            ]
        else:
            echo_parts = [(suffixes, reasons, part)]
        for sfx, why, fs in echo_parts:
            if not mixed and _has_duplicates(fs):
                for prefix, attribute, label in _DUPLICATE_SPLITS:
                    sub = _split_by(fs, attribute)
                    if len(sub) > 1 and not any(_has_duplicates(s) for _, s in sub):
                        for n, (value, s) in enumerate(sub):
                            tag = value if prefix == "acq" and str(value).isdigit() else n + 1
                            out.append(([*sfx, f"{prefix}{tag}"], [*why, label], s, mixed))
                        break
                else:
                    out.append((sfx, why, fs, mixed))
            else:
                out.append((sfx, why, fs, mixed))
    return out


def _build_series(frames: list[_Frame]) -> list[SeriesInfo]:
    by_uid: dict[str, list[_Frame]] = defaultdict(list)
    for f in frames:
        uid = f.header.series_uid
        if not uid:
            # Without a UID only the file itself (multi-frame) or its series number binds images.
            uid = (
                f"no-uid:{f.path}"
                if f.header.multiframe
                else f"no-uid:{f.header.series_number}:{f.header.description}"
            )
        by_uid[uid].append(f)
    numbers = Counter(fs[0].header.series_number for fs in by_uid.values())
    infos = []
    for uid, fs in by_uid.items():
        number = fs[0].header.series_number
        base = str(number) if number is not None else "x"
        if numbers[number] > 1 or number is None:
            base += "-" + hashlib.sha256(uid.encode()).hexdigest()[:6]
        for suffixes, reasons, part, mixed in _split_uid_group(fs):
            key = ".".join([base, *suffixes])
            infos.append(_make_info(key, uid, part, mixed, ", ".join(reasons)))
    infos.sort(key=lambda s: (s.series_number is None, s.series_number or 0, s.key))
    return infos


# ---------------------------------------------------------------------------------------------
# Geometry of one stack
# ---------------------------------------------------------------------------------------------
@dataclass
class _Stack:
    frames: list[_Frame]
    affine_lps: np.ndarray | None
    problems: list[tuple[str, str]]
    warnings: list[str]


def _analyse(frames: list[_Frame], mixed: str) -> _Stack:
    problems: list[tuple[str, str]] = []
    warns: list[str] = []
    seen_files: set[str] = set()
    # The same problem in many files (every file a mosaic, or colour) is said once, with the
    # files it concerns.
    by_text: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for f in frames:
        if f.path not in seen_files:
            seen_files.add(f.path)
            name = os.path.basename(f.path)
            for kind, message in f.header.problems:
                text = message[len(name) + 2 :] if message.startswith(name + ": ") else message
                by_text[(kind, text)].append((name, message))
    for (kind, text), found in by_text.items():
        if len(found) == 1:
            problems.append((kind, found[0][1]))
        else:
            names = _names(name for name, _ in found)
            problems.append((kind, f"{len(found)} files ({names}): {text}"))
    if mixed:
        problems.append(("MixedGeometryError", mixed))
    if any(f.count > 1 for f in frames):
        # A placeholder for a file whose header claims an absurd size: nothing to measure.
        return _Stack(frames, None, problems, warns)
    missing = [f for f in frames if f.position is None or f.orientation is None]
    if missing:
        problems.append(
            (
                "UnsupportedImageError",
                f"{missing[0].label()} has no ImagePositionPatient / ImageOrientationPatient "
                "(nor Plane Position / Orientation functional groups): where the image lies in "
                "the patient is unknown, so it cannot be used for planning",
            )
        )
    no_spacing = [f for f in frames if f.pixel_spacing is None]
    if no_spacing and not missing:
        problems.append(
            (
                "UnsupportedImageError",
                f"{no_spacing[0].label()} has no PixelSpacing: the voxel size is unknown",
            )
        )
    bad_geometry = None
    if not (missing or no_spacing):
        bad_geometry = _bad_geometry(frames)
        if bad_geometry:
            problems.append(("CorruptFileError", bad_geometry))
    if missing or no_spacing or mixed or bad_geometry:
        ordered = sorted(frames, key=lambda f: (f.instance, f.path, f.index))
        return _Stack(ordered, None, problems, warns)

    first = frames[0]
    iop = np.asarray(first.orientation, dtype=np.float64)
    row, col = iop[:3], iop[3:]
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    normal = _normal(iop)
    d_all = np.array([np.dot(f.position, normal) for f in frames])  # type: ignore[arg-type]
    order = sorted(
        range(len(frames)),
        key=lambda t: (d_all[t], frames[t].instance, frames[t].path, frames[t].index),
    )
    frames = [frames[t] for t in order]
    d = d_all[order]
    positions = np.array([f.position for f in frames], dtype=np.float64)
    spacing_rc = np.asarray(first.pixel_spacing, dtype=np.float64)

    if len(frames) == 1:
        step = first.header.spacing_between_slices or first.header.slice_thickness
        if not step or step <= 0:
            step = 1.0
            warns.append("single slice without SliceThickness: 1 mm assumed for the third axis")
        else:
            warns.append(f"single slice: {step:g} mm (from the header) used for the third axis")
        step_vec = normal * step
    else:
        steps = np.diff(d)
        step_vec = (positions[-1] - positions[0]) / (len(frames) - 1)
        found = _stack_problems(frames, d, steps, positions, normal)
        problems.extend(found)
        if any(kind == "MixedGeometryError" for kind, _ in found):
            # Slices sharing a position: no step to measure (all at one position: zero), so no
            # affine -- the series is listed with its problem and refused when read.
            return _Stack(frames, None, problems, warns)

    affine = np.eye(4)
    affine[:3, 0] = row * spacing_rc[1]
    affine[:3, 1] = col * spacing_rc[0]
    affine[:3, 2] = step_vec
    affine[:3, 3] = positions[0]
    return _Stack(frames, affine, problems, warns)


def _bad_geometry(frames: Sequence[_Frame]) -> str | None:
    """Why the geometry tags cannot place the images (NaN, zero spacing, degenerate
    orientation), or None when they can."""
    for f in frames:
        spacing = np.asarray(f.pixel_spacing, dtype=np.float64)
        if not (np.all(np.isfinite(spacing)) and np.all(spacing > 0) and np.all(spacing < 1e6)):
            return (
                f"{f.label()}: PixelSpacing {list(f.pixel_spacing or ())} is not two positive sizes"
            )
        position = np.asarray(f.position, dtype=np.float64)
        if not (np.all(np.isfinite(position)) and np.all(np.abs(position) < 1e9)):
            return f"{f.label()}: ImagePositionPatient {list(f.position or ())} is not a position"
        iop = np.asarray(f.orientation, dtype=np.float64)
        with np.errstate(all="ignore"):
            row, col = iop[:3], iop[3:]
            ok = (
                np.all(np.isfinite(iop))
                and abs(np.linalg.norm(row) - 1) <= 1e-3
                and abs(np.linalg.norm(col) - 1) <= 1e-3
                and abs(row @ col) <= 1e-3
            )
        if not ok:
            return (
                f"{f.label()}: ImageOrientationPatient {list(f.orientation or ())} is not two "
                "perpendicular unit vectors"
            )
    return None


def _stack_problems(
    frames: list[_Frame],
    d: np.ndarray,
    steps: np.ndarray,
    positions: np.ndarray,
    normal: np.ndarray,
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    dup = np.flatnonzero(steps < SAME_POSITION_MM)
    if dup.size and d[-1] - d[0] < SAME_POSITION_MM:
        names = _names(f.label() for f in frames)
        problems.append(
            (
                "MixedGeometryError",
                f"all {len(frames)} images lie at one position ({d[0]:.2f} mm along the slice "
                f"normal): {names}. The slice step is zero, so they are no volume: copies of one "
                "slice (a series exported twice) or a one-slice series repeated over time; keep "
                "one of the files, or give each repetition a folder of its own",
            )
        )
        return problems
    if dup.size:
        # Runs of slices at one position: name the files of the first few.
        runs: list[list[int]] = []
        for t in dup:
            if runs and runs[-1][-1] == t:
                runs[-1].append(int(t) + 1)
            else:
                runs.append([int(t), int(t) + 1])
        where = "; ".join(
            f"{_names(frames[k].label() for k in run)} at {d[run[0]]:.2f} mm" for run in runs[:3]
        )
        more = f"; and {len(runs) - 3} more positions" if len(runs) > 3 else ""
        problems.append(
            (
                "MixedGeometryError",
                f"{dup.size} pair(s) of slices share a position ({where}{more} along the slice "
                "normal): the series mixes several acquisitions (echoes, phases, repeats) or "
                "holds copies of some files, and the headers cannot tell them apart; remove the "
                "copies, or put each acquisition in a folder of its own",
            )
        )
        return problems

    rel = positions - positions[0]
    along = rel @ normal
    perp = rel - np.outer(along, normal)
    drift = float(np.max(np.linalg.norm(perp, axis=1)))
    if drift > TILT_TOLERANCE_MM:
        angle = math.degrees(math.atan2(float(np.linalg.norm(perp[-1])), float(along[-1])))
        problems.append(
            (
                "GantryTiltError",
                f"the slices are not stacked along their normal: the stack is sheared by "
                f"{angle:.2f} deg (gantry tilt), positions drift {drift:.2f} mm sideways over "
                f"{along[-1]:.1f} mm; correct the tilt first (dcm2niix writes a '_Tilt_' "
                "resampled volume)",
            )
        )

    median = float(np.median(steps))
    tol = max(STEP_TOLERANCE_FRACTION * median, STEP_TOLERANCE_MM)
    gaps, uneven = [], []
    for t, s in enumerate(steps):
        if abs(s - median) <= tol:
            continue
        ratio = round(s / median)
        if ratio >= 2 and abs(s - ratio * median) <= tol * ratio:
            gaps.append((t, ratio - 1))
        else:
            uneven.append(t)
    if gaps:
        total = sum(m for _, m in gaps)
        where = "; ".join(
            f"{m} between {d[t]:.2f} and {d[t + 1]:.2f} mm ({frames[t].label()} and "
            f"{frames[t + 1].label()})"
            for t, m in gaps[:5]
        )
        more = f"; and {len(gaps) - 5} more gaps" if len(gaps) > 5 else ""
        problems.append(
            (
                "MissingSliceError",
                f"{total} slice(s) missing along the slice normal (median step {median:.3f} mm): "
                f"{where}{more}; copy the complete series again",
            )
        )
    if uneven:
        t = uneven[0]
        problems.append(
            (
                "UnevenSpacingError",
                f"slice steps vary from {steps.min():.3f} to {steps.max():.3f} mm (median "
                f"{median:.3f} mm; e.g. {steps[t]:.3f} mm between {frames[t].label()} and "
                f"{frames[t + 1].label()}); an even voxel grid cannot represent it",
            )
        )
    return problems


def _names(labels: Any, limit: int = 4) -> str:
    """``a, b, c and 2 more`` from file labels."""
    labels = list(labels)
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def _make_info(key: str, uid: str, frames: list[_Frame], mixed: str, why: str) -> SeriesInfo:
    stack = _analyse(frames, mixed)
    frames = stack.frames
    h = frames[0].header
    files = tuple(dict.fromkeys(f.path for f in frames))
    n_slices = sum(f.count for f in frames)
    if stack.affine_lps is not None:
        import nibabel.orientations as nio

        affine_ras = lps_to_ras(stack.affine_lps)
        spacing = tuple(float(v) for v in np.linalg.norm(affine_ras[:3, :3], axis=0))
        orientation = "".join(nio.aff2axcodes(affine_ras))
    else:
        affine_ras, spacing, orientation = None, (float("nan"),) * 3, "?"
    role = guess_role([h.description, h.protocol, h.sequence, h.scanning_sequence])
    if role == "unknown" and h.tof_contrast:
        role = "tof"
    return SeriesInfo(
        key=key,
        series_uid=h.series_uid,
        series_number=h.series_number,
        description=h.description,
        sequence=h.sequence,
        protocol=h.protocol,
        modality=h.modality,
        role=role,
        n_files=len(files),
        n_slices=n_slices,
        shape=(h.columns, h.rows, n_slices),
        rows=h.rows,
        columns=h.columns,
        spacing_mm=spacing,  # type: ignore[arg-type]
        orientation=orientation,
        affine_ras=affine_ras,
        files=files,
        multiframe=h.multiframe,
        transfer_syntaxes=tuple(sorted({f.header.transfer_syntax for f in frames})),
        problems=tuple(msg for _, msg in stack.problems),
        problem_types=tuple(kind for kind, _ in stack.problems),
        split_reason=why,
        warnings=tuple(stack.warnings),
        _frames=tuple(frames),
    )


# ---------------------------------------------------------------------------------------------
# Reading pixels
# ---------------------------------------------------------------------------------------------
def _series_path(info: SeriesInfo) -> str:
    if len(info.files) == 1:
        return info.files[0]
    return os.path.commonpath(info.files)


def read_series(info: SeriesInfo) -> Volume:
    """Read one series found by `scan_dicom` as a `Volume`.

    Parameters
    ----------
    info : SeriesInfo

    Returns
    -------
    Volume
        ``data`` of shape ``(columns, rows, slices)`` (F-ordered), real-world values: stored
        values when every slope is 1 and intercept 0 (int16 / uint16 as stored), else float32
        with each slice's (frame's) RescaleSlope/Intercept applied. ``affine`` voxel -> RAS mm.

    Raises
    ------
    ImageTooLargeError
        The header's size is over the limit (checked before any pixel is read).
    MixedGeometryError, MissingSliceError, UnevenSpacingError, GantryTiltError,
    UnsupportedImageError, CorruptFileError
        The first of ``info.problems``.
    """
    frames = list(info._frames)
    if not frames:
        raise NoSeriesFoundError("the series holds no images", path=_series_path(info))
    where = _series_path(info)
    rescaled = any(f.slope != 1.0 or f.intercept != 0.0 for f in frames)
    raw_dtype = _common_dtype(frames)
    check_size(info.shape, 4 if rescaled else raw_dtype.itemsize, where)
    if info.problems:
        kind = getattr(_errors, info.problem_types[0], None)
        if not (isinstance(kind, type) and issubclass(kind, NVCError)):
            kind = _errors.SeriesError
        message = info.problems[0]
        if where == info.files[0] and message.startswith(os.path.basename(where) + ": "):
            message = message[len(os.path.basename(where)) + 2 :]  # the path says it already
        raise kind(message, path=where)
    if info.affine_ras is None:  # every series without geometry lists why; kept as a guard
        raise UnsupportedImageError("the position of the images is unknown", path=where)

    rows, columns = info.rows, info.columns
    raw = np.empty((len(frames), rows, columns), dtype=raw_dtype)
    _read_into(frames, raw)

    if rescaled:
        slopes = np.array([f.slope for f in frames], dtype=np.float32)[:, None, None]
        intercepts = np.array([f.intercept for f in frames], dtype=np.float32)[:, None, None]
        out = np.empty(raw.shape, dtype=np.float32)
        np.multiply(raw, slopes, out=out, casting="unsafe")
        out += intercepts
    else:
        out = raw
    data = out.transpose(2, 1, 0)

    h = frames[0].header
    extra: dict[str, Any] = {
        "series_key": info.key,
        "series_number": h.series_number,
        "study_uid": h.study_uid,
        "manufacturer": h.manufacturer,
        "sop_class_uid": h.sop_class,
        "sop_instance_uids": tuple(f.sop_instance_uid for f in frames),
        "frame_numbers": tuple(f.index + 1 for f in frames) if h.multiframe else None,
        "transfer_syntaxes": info.transfer_syntaxes,
        "protocol": h.protocol,
        "slice_thickness": h.slice_thickness,
        "rescaled": rescaled,
        "patient": dict(h.patient),  # in memory only, for DICOM SEG/SR; never printed
        **dict(h.extra),
    }
    meta_warnings = list(info.warnings)
    if h.photometric == "MONOCHROME1":
        meta_warnings.append("MONOCHROME1: low values are bright; values kept as stored")
    meta = VolumeMeta(
        kind="dicom",
        role=info.role,  # type: ignore[arg-type]
        modality=h.modality or None,
        series_uid=h.series_uid or None,
        frame_of_reference_uid=h.frame_of_reference_uid or None,
        description=h.description,
        sequence=h.sequence,
        source_paths=info.files,
        warnings=tuple(meta_warnings),
        extra=extra,
    )
    try:
        return Volume(data, info.affine_ras, meta)
    except _errors.InvalidVolumeError as exc:
        raise CorruptFileError(
            f"the header gives no usable geometry ({exc.reason})", path=where
        ) from None


def _common_dtype(frames: Sequence[_Frame]) -> np.dtype:
    dtypes = {f.header.raw_dtype.newbyteorder("=") for f in frames}
    if len(dtypes) == 1:
        return dtypes.pop()
    return np.result_type(*dtypes)


def _read_into(frames: Sequence[_Frame], raw: np.ndarray) -> None:
    """Fill ``raw[k]`` (rows, columns) with the stored pixels of sorted frame ``k``."""
    decoded: dict[str, np.ndarray] = {}
    handle_path, handle = None, None
    try:
        for k, f in enumerate(frames):
            h = f.header
            if h.offset is None:
                if h.path not in decoded:
                    decoded = {h.path: _decode(h)}  # one file's frames at a time
                arr = decoded[h.path]
                raw[k] = arr[f.index] if arr.ndim == 3 else arr
                continue
            if handle_path != h.path:
                if handle is not None:
                    handle.close()
                handle = open(h.path, "rb", buffering=0)  # noqa: SIM115 -- closed below
                handle_path = h.path
            frame_bytes = h.rows * h.columns * (h.bits_allocated // 8)
            handle.seek(h.offset + f.index * frame_bytes)
            # Straight into the output when the stored type is the output type (the usual case).
            direct = h.raw_dtype == raw.dtype
            target = raw[k] if direct else np.empty((h.rows, h.columns), dtype=h.raw_dtype)
            got = handle.readinto(memoryview(target).cast("B"))
            if got != frame_bytes:
                raise CorruptFileError(
                    f"pixel data truncated: {f.label()} needs {frame_bytes} bytes, "
                    f"only {got or 0} could be read",
                    path=h.path,
                )
            if h.bits_stored < h.bits_allocated:
                # As pydicom does: ignore the unused high bits (sign-extend signed values).
                if not target.dtype.isnative:
                    target = target.astype(target.dtype.newbyteorder("="))
                shift = h.bits_allocated - h.bits_stored
                np.left_shift(target, shift, out=target)
                np.right_shift(target, shift, out=target)
            if not direct:
                raw[k] = target
    finally:
        if handle is not None:
            handle.close()


def _decode(h: _FileHeader) -> np.ndarray:
    """Decode a compressed (or deflated) file's frames with pydicom and its plugins."""
    import pydicom

    name = os.path.basename(h.path)
    problem = _decoder_problem(h.transfer_syntax, name)
    if problem is not None:
        raise UnsupportedImageError(problem[1], path=h.path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(h.path, force=True)
            arr = ds.pixel_array
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 -- decoders raise many types on broken data
        raise CorruptFileError(
            f"pixel data cannot be decoded ({_syntax_name(h.transfer_syntax)}: "
            f"{type(exc).__name__}: {exc})",
            path=h.path,
        ) from None
    expected = (h.rows, h.columns) if not h.multiframe else (h.declared_frames, h.rows, h.columns)
    if h.multiframe and h.declared_frames == 1 and arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.shape != expected:
        raise CorruptFileError(
            f"decoded pixel data has shape {arr.shape}, the header says {expected}", path=h.path
        )
    return arr


def _syntax_name(ts: str) -> str:
    """Readable name of a transfer syntax UID."""
    from pydicom.uid import UID

    uid = UID(ts)
    return uid.name if uid.is_valid else ts


# ---------------------------------------------------------------------------------------------
# Picking and loading
# ---------------------------------------------------------------------------------------------
def _series_table(scan: DicomScan) -> str:
    return "; ".join(
        f"[{s.key}] #{s.series_number} {s.description!r} role={s.role} {s.n_slices} slices"
        for s in scan.series
    )


def pick_series(scan: DicomScan, series: str | None = None) -> SeriesInfo:
    """Choose one series of a scan.

    Parameters
    ----------
    scan : DicomScan
    series : str, optional
        A key, a SeriesInstanceUID, a SeriesNumber (as text), a role (``"t2"``, ``"tof"``) or an
        exact SeriesDescription (case-insensitive). Without it: the only series, else the single
        series whose role is ``"t2"``.

    Raises
    ------
    NotAnImageError
        The scan was of one file, and it is not a DICOM image.
    NoSeriesFoundError
        The scan found no image series.
    SeriesSelectionError
        No series or several series fit; the message lists every series.
    """
    if not scan.series:
        if len(scan.skipped) == 1 and scan.skipped[0][0] == scan.folder:  # one file was asked
            raise _skipped_file_error(*scan.skipped[0])
        hint = ""
        if scan.skipped:
            summary = f" ({skipped_summary(scan.skipped)})"
            others = [
                k for k in (_kind_of(p, r) for p, r in scan.skipped) if k in OTHER_IMAGE_KINDS
            ]
            if others:
                hint = f"; DICOM or NIfTI only: {convert_hint(others[0])}"
        else:
            summary = " (the folder holds no file)"
        raise NoSeriesFoundError(
            f"no DICOM image series found: looked at {scan.n_files} file(s), skipped "
            f"{scan.n_skipped}{summary}{hint}",
            path=scan.folder,
        )
    candidates = scan.series
    if series is None:
        if len(candidates) == 1:
            return candidates[0]
        if all(s.problem_types and _is_mosaic(s) for s in candidates):
            files = sum(s.n_files for s in candidates)
            raise UnsupportedImageError(
                f"{len(candidates)} series in {files} file(s), all Siemens mosaics (4-D fMRI / "
                "DTI acquisitions, each volume tiled into one image), not supported: convert them "
                "with dcm2niix and open a NIfTI volume",
                path=scan.folder,
            )
        t2 = [s for s in candidates if s.role == "t2"]
        if len(t2) == 1:
            return t2[0]
        raise SeriesSelectionError(
            f"{len(candidates)} series and {'none' if not t2 else 'several'} recognised as the "
            f"heavy-T2 series; pass series=KEY (CLI: --series): {_series_table(scan)}",
            path=scan.folder,
        )
    wanted = str(series).strip()
    tests: list[Callable[[SeriesInfo], bool]] = [
        lambda s: s.key == wanted,
        lambda s: s.series_uid == wanted,
        lambda s: s.series_number is not None and str(s.series_number) == wanted,
        lambda s: s.role == wanted.lower(),
        lambda s: s.description.lower() == wanted.lower(),
    ]
    for test in tests:
        matches = [s for s in candidates if test(s)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise SeriesSelectionError(
                f"series={wanted!r} fits {len(matches)} series "
                f"({', '.join(m.key for m in matches)}); pass one key: {_series_table(scan)}",
                path=scan.folder,
            )
    raise SeriesSelectionError(
        f"no series matches series={wanted!r}: {_series_table(scan)}", path=scan.folder
    )


def _is_mosaic(info: SeriesInfo) -> bool:
    return bool(info._frames) and all(f.header.mosaic for f in info._frames)


def _kind_of(path: str, reason: str) -> str:
    """The kind of a skipped file: what it is when it is not DICOM, else the skip reason."""
    if reason.startswith("not a DICOM file"):
        return file_kind(path)
    return reason.split(" (")[0]


def skipped_summary(skipped: Sequence[tuple[str, str]]) -> str:
    """Skipped files by kind: ``"2 text files (a.txt, b.txt), 1 PNG image (c.png)"``."""
    return describe_files(
        [p for p, _ in skipped], {p: _kind_of(p, r) for p, r in skipped}, total=False
    )


def _skipped_file_error(path: str, reason: str) -> NVCError:
    """The error for one file asked for that the scan skipped, naming what the file is."""
    if reason.startswith("not a DICOM file"):
        kind = file_kind(path)
        if kind in OTHER_IMAGE_KINDS or kind == GZ_DICOM:
            return UnsupportedImageError(
                f"DICOM or NIfTI only; this is {with_article(kind)}: {convert_hint(kind)}",
                path=path,
            )
        return NotAnImageError(f"not a DICOM image: not a DICOM file ({kind})", path=path)
    if reason.startswith(_UNSUPPORTED_PREFIXES):
        return UnsupportedImageError(reason, path=path)
    return NotAnImageError(f"not a DICOM image: {reason}", path=path)


def load_dicom(path: str | os.PathLike[str], series: str | None = None) -> Volume:
    """Scan a DICOM folder (or file), pick a series and read it.

    Parameters
    ----------
    path : path-like
        Folder (recursive) or one file.
    series : str, optional
        See `pick_series`.

    Returns
    -------
    Volume

    Raises
    ------
    NVCError
        `NoSeriesFoundError`, `SeriesSelectionError`, or the chosen series' problem as its
        typed error (see `read_series`).
    """
    return read_series(pick_series(scan_dicom(path), series))


# ---------------------------------------------------------------------------------------------
# Describing
# ---------------------------------------------------------------------------------------------
def describe_scan(scan: DicomScan) -> str:
    """Plain-text table of a scan for ``nvc-viewer info`` (no patient data).

    One row per series: key, SeriesNumber, description, sequence, role, slices, matrix
    (columns x rows x slices), spacing (mm), orientation and problems; then the skipped files.
    """
    header = (
        "key",
        "no.",
        "description",
        "sequence",
        "role",
        "slices",
        "matrix",
        "spacing mm",
        "orient",
        "problems",
    )
    rows: list[tuple[str, ...]] = []
    for s in scan.series:
        spacing = (
            "x".join(f"{v:.3g}" for v in s.spacing_mm)
            if all(math.isfinite(v) for v in s.spacing_mm)
            else "?"
        )
        rows.append(
            (
                s.key,
                "" if s.series_number is None else str(s.series_number),
                _clip(s.description, 28),
                _clip(s.sequence, 14),
                s.role,
                str(s.n_slices),
                "x".join(str(v) for v in s.shape),
                spacing,
                s.orientation,
                "; ".join(f"{k}: {_clip(m, 90)}" for k, m in zip(s.problem_types, s.problems))
                or "-",
            )
        )
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"{len(scan.series)} series in {scan.n_files} file(s); {scan.n_skipped} file(s) skipped"
    )
    reasons = Counter(reason.split(" (")[0] for _, reason in scan.skipped)
    lines.extend(f"  skipped {n}: {r}" for r, n in reasons.most_common())
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
