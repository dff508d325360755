"""Scanning: files -> images (`_Frame`) -> series (`SeriesInfo`), headers only.

Design note
-----------
Owns `scan_dicom` (walk a folder, never fatal for a bad file: it is skipped with a reason),
`looks_like_dicom`, and everything that turns one file into its images: the choice of parser
(`_header.py`'s fast paths, else pydicom), the refusal of what is not an image (DICOMDIR,
segmentations, floating-point maps, a deflate bomb), and `_frames_of`, which reads the
geometry, rescale and pixel layout of each image and lists the file's problems (truncated or
encapsulated pixel data, colour, mosaic, legacy multi-frame, missing decoder) without raising.
Grouping the images into series is `_stack.py`'s.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Any

from ...errors import InputNotFoundError, NVCError
from .._limits import check_size
from ._header import (
    _HEADER_CHUNK,
    _Attrs,
    _echo_key,
    _float,
    _floats,
    _int,
    _next_element,
    _parse_header,
    _Split,
    _split_per_frame,
    _text,
)
from ._pixels import _decoder_problem
from ._records import (
    _DEFLATED,
    _FLOAT_PIXEL_TAGS,
    _NATIVE_SYNTAXES,
    _PIXEL_DATA_TAG,
    DicomScan,
    _FileHeader,
    _Frame,
)
from ._stack import _build_series

_NOT_IMAGES = {
    "1.2.840.10008.1.3.10": "DICOMDIR (a media directory, not an image)",
    "1.2.840.10008.5.1.4.1.1.66.4": "DICOM Segmentation (not an image series)",
    "1.2.840.10008.5.1.4.1.1.66": "raw data",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT Structure Set",
}

# ---------------------------------------------------------------------------------------------
# Scanning one file
# ---------------------------------------------------------------------------------------------


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

    from .. import _limits

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


# ---------------------------------------------------------------------------------------------
# Scanning a folder
# ---------------------------------------------------------------------------------------------
def _list_files(root: Path) -> list[str]:
    out: list[str] = []
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
