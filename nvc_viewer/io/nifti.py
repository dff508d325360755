"""NIfTI-1/-2 reader (``.nii``, ``.nii.gz``) built on nibabel.

The affine is nibabel's choice (sform when its code is set, else qform, else pixdim only, which is
reported as a warning because left and right then cannot be trusted). When the sform and the qform
are both set and put a corner of the image more than `SFORM_QFORM_TOLERANCE_MM` apart, the
volume carries a warning saying which one is used; ``affine="qform"`` takes the other (SimpleITK
and ITK-SNAP read the qform, nibabel, dcm2niix and FSL the sform). The reader never resamples.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import (
    CorruptFileError,
    InputNotFoundError,
    InvalidVolumeError,
    NonFiniteDataError,
    NotAnImageError,
    UnsupportedImageError,
)
from ..volume import Volume, VolumeMeta
from ._limits import check_size
from .roles import guess_role

__all__ = ["read_nifti", "is_nifti_path", "NIFTI_SUFFIXES"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")

NonFinitePolicy = Literal["error", "zero"]
AffineChoice = Literal["auto", "sform", "qform"]

#: sform and qform placing an image corner further apart than this (mm) is reported.
SFORM_QFORM_TOLERANCE_MM = 1.0


def is_nifti_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name ends in ``.nii`` or ``.nii.gz`` (case-insensitive)."""
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


#: Deflate never inflates one compressed byte into more than 1032 bytes (RFC 1951: a 258-byte
#: match costs at least 2 bits); with slack for the gzip framing of many small members.
_MAX_DEFLATE_RATIO = 1040


def _check_extent(path: Path, shape: tuple[int, ...], itemsize: int, offset: float) -> None:
    """Refuse a header whose pixel data cannot fit in the file, before reading any of it.

    An uncompressed file must hold ``vox_offset + voxels * itemsize`` bytes. A gzip file can
    hold at most `_MAX_DEFLATE_RATIO` times its size once inflated: a header claiming more is
    corrupt, and is refused without inflating anything (nibabel inflates only up to the end of
    the claimed data, so a stream longer than the header says -- a gzip bomb -- is never read
    past it).
    """
    if not math.isfinite(offset) or offset < 0:
        raise CorruptFileError(f"header vox_offset {offset} is not a file position", path=path)
    needed = int(offset) + math.prod(shape) * itemsize
    size = path.stat().st_size
    compressed = str(path).lower().endswith(".gz")
    available = size * _MAX_DEFLATE_RATIO if compressed else size
    if needed > available:
        raise CorruptFileError(
            f"header claims {needed} bytes of header and pixel data (shape {shape}, "
            f"{itemsize} bytes per voxel, vox_offset {int(offset)}) but the "
            f"{'gzip ' if compressed else ''}file holds "
            f"{'at most ' + str(available) if compressed else size} bytes; the file is "
            "truncated or its header corrupt",
            path=path,
        )


def _check_raw_pixdim(path: Path, header_class: type, ndim: int) -> None:
    """Refuse a zero or non-finite voxel size in the header as written.

    nibabel's loader replaces a zero pixdim by 1 (and logs it); a qform or pixdim-only affine
    would then carry a made-up voxel size, wrong for every distance measured on it.
    """
    import nibabel as nib

    try:
        with nib.openers.ImageOpener(str(path)) as fh:
            raw = header_class.from_fileobj(fh, check=False)  # type: ignore[attr-defined]
        zooms = np.asarray(raw["pixdim"][1 : 1 + min(ndim, 3)], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 -- read once already; any failure here is corrupt
        raise CorruptFileError(
            f"cannot read the NIfTI header ({type(exc).__name__}: {exc})", path=path
        ) from None
    if not np.all(np.isfinite(zooms)) or np.any(zooms == 0):
        raise CorruptFileError(
            f"header voxel size pixdim[1:4] = {zooms.tolist()} holds a zero or non-finite "
            "value and there is no sform to place the voxels; the header is corrupt",
            path=path,
        )


def _corner_distance(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    """Largest distance (mm) between where two affines put the corners of a voxel grid."""
    extent = [max(int(n) - 1, 0) for n in shape[:3]]
    corners = np.array(
        [[i, j, k, 1.0] for i in (0, extent[0]) for j in (0, extent[1]) for k in (0, extent[2])]
    )
    with np.errstate(all="ignore"):
        gap = np.linalg.norm((corners @ a.T)[:, :3] - (corners @ b.T)[:, :3], axis=1)
    return float(np.max(gap)) if np.all(np.isfinite(gap)) else float("inf")


def read_nifti(
    path: str | os.PathLike[str],
    *,
    volume: int | None = None,
    nonfinite: NonFinitePolicy = "error",
    affine: AffineChoice = "auto",
) -> Volume:
    """Read a 3-D NIfTI image.

    Parameters
    ----------
    path : path-like
        A ``.nii`` or ``.nii.gz`` file.
    volume : int, optional
        For a 4-D file, which volume (0-based) to take. Without it a 4-D file with more than one
        volume is refused.
    nonfinite : {"error", "zero"}, optional
        What to do with NaN / infinite voxels: refuse the file (default) or set them to 0 and
        record a warning in ``meta.warnings``.
    affine : {"auto", "sform", "qform"}, optional
        Which header matrix places the voxels: ``"auto"`` (default) the sform when its code is
        set, else the qform (nibabel's rule); or the one named, which must be set. When both
        are set and disagree by more than `SFORM_QFORM_TOLERANCE_MM` at a corner of the image,
        ``meta.warnings`` says by how much and which one is used.

    Returns
    -------
    Volume
        ``data`` in real-world values (scl_slope/inter applied), ``affine`` voxel -> RAS mm.

    Raises
    ------
    InputNotFoundError, NotAnImageError, CorruptFileError, UnsupportedImageError,
    ImageTooLargeError, NonFiniteDataError
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("no such file", path=path)
    if path.is_dir():
        raise NotAnImageError("is a folder, not a NIfTI file", path=path)
    if nonfinite not in ("error", "zero"):
        raise ValueError(f"nonfinite must be 'error' or 'zero', got {nonfinite!r}")
    if affine not in ("auto", "sform", "qform"):
        raise ValueError(f"affine must be 'auto', 'sform' or 'qform', got {affine!r}")
    import nibabel as nib  # here: reading DICOM needs no nibabel (a quarter of a second)

    try:
        img = nib.load(path)
    except nib.filebasedimages.ImageFileError as exc:
        raise NotAnImageError(f"not a NIfTI image ({exc})", path=path) from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 -- nibabel raises many types on a corrupt header
        raise CorruptFileError(
            f"cannot read the NIfTI header ({type(exc).__name__}: {exc})", path=path
        ) from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise NotAnImageError(
            f"not a NIfTI image (nibabel reads it as {type(img).__name__})", path=path
        )
    header = img.header
    try:
        shape = tuple(int(n) for n in img.shape)
        dtype = header.get_data_dtype()
        offset = float(header.get_data_offset())
    except Exception as exc:  # noqa: BLE001 -- corrupt dims / datatype / vox_offset
        raise CorruptFileError(
            f"the NIfTI header is corrupt ({type(exc).__name__}: {exc})", path=path
        ) from None
    if any(n < 1 for n in shape):
        raise CorruptFileError(f"header claims an empty image of shape {shape}", path=path)
    check_size(shape, max(dtype.itemsize, 4), path)
    _check_extent(path, shape, dtype.itemsize, offset)

    # Decide which 3-D volume to read before touching the pixels.
    if len(shape) < 2 or len(shape) > 5:
        raise UnsupportedImageError(f"{len(shape)}-D image, expected 3-D", path=path)
    extra_dims = shape[3:]
    n_volumes = int(np.prod(extra_dims)) if extra_dims else 1
    if len(shape) == 5 and shape[3] > 1:
        raise UnsupportedImageError(f"5-D image of shape {shape}, expected 3-D", path=path)
    if volume is not None and not 0 <= volume < n_volumes:
        raise UnsupportedImageError(
            f"volume={volume} asked, but the file holds {n_volumes} volume(s)", path=path
        )
    if n_volumes > 1 and volume is None:
        raise UnsupportedImageError(
            f"4-D image with {n_volumes} volumes (shape {shape}); expected one 3-D volume. "
            "Pass volume=N (CLI: --volume N) to pick one",
            path=path,
        )

    try:
        dataobj = img.dataobj
        if len(shape) == 2:
            data = np.asanyarray(dataobj)[:, :, np.newaxis]
        elif len(shape) == 3:
            data = np.asanyarray(dataobj)
        else:
            index = np.unravel_index(volume or 0, extra_dims)
            data = np.asanyarray(dataobj[(slice(None),) * 3 + tuple(int(i) for i in index)])
        data = np.asarray(data)
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptFileError(
            f"pixel data cannot be read, the file is probably truncated ({exc})", path=path
        ) from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 -- nibabel's scaling / dtype code on odd headers
        raise CorruptFileError(
            f"pixel data cannot be read ({type(exc).__name__}: {exc})", path=path
        ) from None
    data = data.reshape(data.shape[:3])

    warnings: list[str] = []
    if data.dtype.kind == "f":
        bad = ~np.isfinite(data)
        n_bad = int(bad.sum())
        if n_bad:
            if nonfinite == "error":
                raise NonFiniteDataError(
                    f"{n_bad} of {data.size} voxels are NaN or infinite; pass nonfinite='zero' "
                    "(CLI: --nonfinite zero) to read them as 0",
                    path=path,
                )
            data = np.where(bad, 0, data).astype(data.dtype, copy=False)
            warnings.append(f"{n_bad} NaN/infinite voxels set to 0")
    elif data.dtype.kind not in "iub":
        raise UnsupportedImageError(f"unsupported voxel type {data.dtype}", path=path)

    try:
        sform, sform_code = header.get_sform(coded=True)
    except Exception:  # noqa: BLE001 -- a corrupt sform: fall back on the qform
        sform, sform_code = None, 0
    try:
        qform, qform_code = header.get_qform(coded=True)
    except Exception as exc:  # noqa: BLE001 -- nibabel rejects an impossible quaternion
        if sform is None or sform_code <= 0:
            raise CorruptFileError(
                f"the qform is corrupt ({type(exc).__name__}: {exc}) and there is no sform",
                path=path,
            ) from None
        qform, qform_code = None, 0  # unused: the sform places the voxels
    has_sform = sform is not None and sform_code > 0
    has_qform = qform is not None and qform_code > 0
    if affine != "auto" and not (has_sform if affine == "sform" else has_qform):
        raise UnsupportedImageError(
            f"affine={affine!r} asked, but the header has no {affine} ({affine}_code 0); "
            "leave affine='auto'",
            path=path,
        )
    if affine == "qform" or (affine == "auto" and not has_sform and has_qform):
        affine_source = "qform"
    elif has_sform:
        affine_source = "sform"
    else:
        affine_source = "pixdim"
        warnings.append(
            "the header has no sform or qform: orientation unknown, axes assumed RAS -- "
            "left/right cannot be trusted"
        )

    if has_sform and has_qform:
        gap = _corner_distance(sform, qform, data.shape)  # type: ignore[arg-type]
        if gap > SFORM_QFORM_TOLERANCE_MM:
            other = "qform" if affine_source == "sform" else "sform"
            codes = {"sform": sform_code, "qform": qform_code}
            warnings.append(
                f"the sform and the qform disagree: a corner of the image lies {gap:.1f} mm "
                f"apart between them; the {affine_source} (code {codes[affine_source]}) is used"
                + (
                    ", as nibabel, dcm2niix and FSL do (SimpleITK and ITK-SNAP use the qform)"
                    if affine_source == "sform"
                    else ""
                )
                + f"; pass affine={other!r} to use the {other}"
            )
    if affine_source != "sform":
        _check_raw_pixdim(path, type(header), len(shape))
    stem = _stem(path)
    meta = VolumeMeta(
        kind="nifti",
        role=guess_role([stem]),
        description=stem,
        source_paths=(str(path),),
        warnings=tuple(warnings),
        extra={"affine_source": affine_source, "volume_index": volume},
    )
    matrix = {"sform": sform, "qform": qform}.get(affine_source)
    try:
        return Volume(data, img.affine if matrix is None else matrix, meta)
    except InvalidVolumeError as exc:  # NaN / zero pixdim or a singular s/qform
        raise CorruptFileError(
            f"the header gives no usable geometry ({exc.reason})", path=path
        ) from None
