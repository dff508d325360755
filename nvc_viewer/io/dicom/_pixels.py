"""Reading pixels: one `SeriesInfo` -> a `Volume`.

Design note
-----------
Owns `read_series`: it raises the series' first problem as its typed error, checks the size,
then reads uncompressed pixels straight from the file offsets the scan recorded into the output
array (no second header parse; unused high bits masked as pydicom does) and applies each
frame's rescale. Compressed and deflated files go through pydicom's decoders and the pylibjpeg /
pyjpegls plugins (`_decode`); `_decoder_problem` says when none is installed (the scan lists it
as a problem too).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import errors as _errors
from ...errors import CorruptFileError, NoSeriesFoundError, NVCError, UnsupportedImageError
from ...volume import Volume, VolumeMeta
from .._limits import check_size
from ._records import SeriesInfo, _FileHeader, _Frame

_PLUGIN_HINT = {
    "JPEG-LS": "pyjpegls (pip install pyjpegls) or pylibjpeg-libjpeg",
    "JPEG 2000": "pylibjpeg-openjpeg (pip install pylibjpeg-openjpeg)",
    "JPEG": "pylibjpeg-libjpeg (pip install pylibjpeg-libjpeg)",
    "RLE": "pylibjpeg-rle (pip install pylibjpeg-rle)",
}

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
            if handle is None or handle_path != h.path:
                if handle is not None:
                    handle.close()
                handle = open(h.path, "rb", buffering=0)  # noqa: SIM115 -- closed below
                handle_path = h.path
            frame_bytes = h.rows * h.columns * (h.bits_allocated // 8)
            handle.seek(h.offset + f.index * frame_bytes)
            # Straight into the output when the stored type is the output type (the usual case).
            direct = h.raw_dtype == raw.dtype
            target = raw[k] if direct else np.empty((h.rows, h.columns), dtype=h.raw_dtype)
            got = handle.readinto(target.data.cast("B"))
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
