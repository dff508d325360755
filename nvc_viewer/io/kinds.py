"""What a file that is neither DICOM nor NIfTI is, so that a refusal can name it.

`file_kind` looks at the first bytes (and, for the formats that have no signature, the name) of a
file and says what it is: another neuro-imaging format (FreeSurfer MGH/MGZ, MINC, AFNI, Philips
PAR/REC, Analyze, ECAT), a picture, a document, text, an archive. `convert_hint` says how to
turn an image of another format into NIfTI; `describe_files` sums up a folder of such files
("3 files: 1 text file (README), 1 PNG image (shot.png), 1 unrecognised file (junk.dcm)").
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

__all__ = ["file_kind", "convert_hint", "describe_files", "with_article", "OTHER_IMAGE_KINDS"]

MGH = "FreeSurfer MGH/MGZ image"
MINC = "MINC image"
AFNI = "AFNI image (.HEAD/.BRIK)"
PARREC = "Philips PAR/REC image"
ANALYZE = "Analyze 7.5 image (.hdr/.img)"
NIFTI_PAIR = "NIfTI image pair (.hdr/.img)"
ECAT = "ECAT PET image"
GIFTI = "GIFTI surface"
STREAMLINES = "tractography streamlines"
GZ_DICOM = "gzip-compressed DICOM file"
UNKNOWN = "unrecognised file"

#: Kinds that are images of another format (refused with how to convert them).
OTHER_IMAGE_KINDS = (MGH, MINC, AFNI, PARREC, ANALYZE, NIFTI_PAIR, ECAT)

_HINTS = {
    MGH: "convert it to NIfTI (FreeSurfer: mri_convert FILE.mgz FILE.nii.gz; or nibabel: "
    "nib.save(nib.load(FILE), 'FILE.nii.gz'))",
    MINC: "convert it to NIfTI (mnc2nii, or nibabel: nib.save(nib.load(FILE), 'FILE.nii.gz'))",
    AFNI: "convert it to NIfTI (AFNI: 3dAFNItoNIFTI FILE+orig.HEAD)",
    PARREC: "convert it to NIfTI with dcm2niix (or parrec2nii from nibabel), or export the series "
    "as DICOM from the scanner",
    ANALYZE: "Analyze 7.5 has no reliable orientation: export the series as DICOM or NIfTI again",
    NIFTI_PAIR: "save it as one .nii file (nibabel: nib.save(nib.load(FILE.hdr), 'FILE.nii.gz'))",
    ECAT: "this tool reads MRI; convert the PET image to NIfTI if it is needed",
    GZ_DICOM: "decompress it first (gunzip)",
}


def with_article(kind: str) -> str:
    """``"an ECAT PET image"``, ``"a MINC image"``: the kind with its indefinite article."""
    vowel_sound = kind[:1].lower() in "aeio" or kind.startswith(("MGH", "ECAT"))
    return ("an " if vowel_sound else "a ") + kind


def convert_hint(kind: str) -> str:
    """How to turn a file of this kind into something the readers take ("" when nothing)."""
    return _HINTS.get(kind, "")


def _head(path: Path, n: int = 512) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _gunzip_head(path: Path, n: int = 512) -> bytes | None:
    """The first ``n`` inflated bytes of a gzip file (bounded: never inflates more)."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error):
        return None


def _is_text(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end is fine
            return False
    return True


def _analyze_kind(head: bytes) -> str | None:
    """Analyze / NIfTI-pair header (348 bytes, either byte order), or NIfTI-2 (540 bytes)."""
    if len(head) < 348:
        return None
    for order in "<>":
        size = struct.unpack_from(order + "i", head)[0]
        if size == 348:
            return NIFTI_PAIR if head[344:347] == b"ni1" else ANALYZE
        if size == 540 and head[4:7] == b"ni2":
            return NIFTI_PAIR
    return None


def file_kind(path: str | os.PathLike[str]) -> str:
    """What a file is, in a few words ("FreeSurfer MGH/MGZ image", "PNG image", "text file" ...).

    Reads at most 512 bytes (inflated, for a gzip file). Meant for files that are neither DICOM
    nor NIfTI; returns `UNKNOWN` (``"unrecognised file"``) when nothing fits, and never raises.
    """
    path = Path(path)
    name = path.name.lower()
    try:
        if path.stat().st_size == 0:
            return "empty file"
        head = _head(path)
    except OSError:
        return "unreadable file"
    if head.startswith(b"\x1f\x8b"):
        inner = _gunzip_head(path)
        if inner is None:
            return "gzip file"
        if name.endswith((".mgz", ".mgh.gz")):
            return MGH
        if name.endswith((".brik.gz", ".head.gz")):
            return AFNI
        if len(inner) >= 132 and inner[128:132] == b"DICM":
            return GZ_DICOM
        kind = _analyze_kind(inner)
        if kind and name.endswith((".hdr.gz", ".img.gz")):
            return kind
        return "gzip file"
    if name.endswith(".mgh") and len(head) >= 28 and struct.unpack_from(">i", head)[0] == 1:
        return MGH
    if head.startswith((b"CDF\x01", b"CDF\x02")):
        return MINC if name.endswith(".mnc") else "netCDF file"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return MINC if name.endswith(".mnc") else "HDF5 file"
    if name.endswith((".brik", ".head")) or name.endswith(("+orig", "+tlrc", "+acpc")):
        return AFNI
    if head.startswith(b"# === DATA DESCRIPTION FILE") or name.endswith((".par", ".rec")):
        return PARREC
    if name.endswith((".hdr", ".img")):
        kind = _analyze_kind(head)
        if kind:
            return kind
        if name.endswith(".img"):
            sibling = path.with_suffix(".hdr")
            if not sibling.is_file():
                sibling = path.with_suffix(".HDR")
            try:
                kind = _analyze_kind(_head(sibling)) if sibling.is_file() else None
            except OSError:
                kind = None
            if kind:
                return kind
    if head.startswith(b"MATRIX"):
        return ECAT
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG image"
    if head.startswith((b"II*\0", b"MM\0*")):
        return "TIFF image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF image"
    if head.startswith(b"BM") and name.endswith(".bmp"):
        return "BMP image"
    if head.startswith(b"%PDF"):
        return "PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP archive"
    if head.startswith(b"BZh"):
        return "bzip2 file"
    if head.startswith(b"\xfd7zXZ\0"):
        return "xz file"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar archive"
    if head.startswith((b"TRACK", b"mrtrix tracks")):
        return STREAMLINES
    if head.lstrip().startswith(b"<?xml") and b"<GIFTI" in head:
        return GIFTI
    kind = "text file" if _is_text(head) else UNKNOWN
    suffix = path.suffix.lower()
    if suffix in (".dcm", ".dicom", ".ima", ".dic"):
        return f"{suffix} file {'holding text, ' if kind == 'text file' else 'that is '}not DICOM"
    return kind


def describe_files(
    paths: Iterable[str | os.PathLike[str]],
    kinds: dict[str, str] | None = None,
    *,
    names: int = 2,
    total: bool = True,
) -> str:
    """Sum up files by kind: ``"3 files: 2 text files (README, notes.txt), 1 PNG image (a.png)"``.

    Parameters
    ----------
    paths : iterable of path-like
    kinds : dict, optional
        A kind already known for some paths (``str(path) -> kind``); the others are looked at
        with `file_kind`.
    names : int
        How many file names to quote per kind.
    total : bool
        Start with the number of files (``"3 files: "``).
    """
    by_kind: dict[str, list[str]] = defaultdict(list)
    count = 0
    for p in paths:
        count += 1
        kind = (kinds or {}).get(str(p)) or file_kind(p)
        by_kind[kind].append(os.path.basename(p))
    if count == 0:
        return "no file at all (empty)"
    parts = []
    for kind, files in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(files[:names]) + (", ..." if len(files) > names else "")
        label = kind if len(files) == 1 else _plural(kind)
        parts.append(f"{len(files)} {label} ({shown})")
    listed = ", ".join(parts)
    return f"{count} file{'s' if count != 1 else ''}: {listed}" if total else listed


def _plural(kind: str) -> str:
    head, sep, tail = kind.partition(" (")
    head = head.replace(" file that is ", " files that are ").replace(
        " file holding ", " files holding "
    )
    if head.endswith(("file", "image", "document", "archive", "surface")):
        head += "s"
    return head + sep + tail
