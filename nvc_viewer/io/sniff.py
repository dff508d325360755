"""Which files of a folder are images, and of which kind: the one folder sniffer.

Every part of the program that asks "what is in this folder" asks here: `nvc_viewer.io.load`
(a folder of NIfTI files or a DICOM folder?), the batch command (is this a case folder, a folder
of cases, or a folder without any image?), the napari reader (is this folder ours?) and the
case model's series list (`nvc_viewer.session.list_series`).

Rules
-----
* Hidden files and folders (``.name``) are never images.
* A NIfTI file is named ``*.nii`` or ``*.nii.gz``; only those directly in the folder count as
  the folder's NIfTI series (a NIfTI file in a subfolder is another case's, or a derived file).
* A DICOM file is one named ``*.dcm`` / ``*.dicom`` / ``*.ima``, or one whose first bytes are
  DICOM (`nvc_viewer.io.dicom.looks_like_dicom`); DICOM is searched at any depth.
* Side files (``.json``, ``.txt``, ``.md``, ``.csv``, ``.bvec``, ``.bval``: what dcm2niix and
  BIDS put beside NIfTI files) are neither.
* A label map (`is_label_map`) is a NIfTI file named like one (``labels``, ``seg``,
  ``segmentation``, ``mask``, ``truth``, ``aseg`` ...) or holding few whole-number values; it is
  listed as a series but never taken as the T2 or the TOF.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .nifti import is_nifti_path

__all__ = [
    "DICOM_SUFFIXES",
    "SIDE_FILE_SUFFIXES",
    "FolderImages",
    "iter_files",
    "looks_like_dicom_file",
    "is_image_file",
    "holds_images",
    "sniff_folder",
    "is_label_map",
    "LABEL_MAP_MAX_VALUES",
]

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
#: Files that sit beside NIfTI images (dcm2niix, BIDS) and say nothing about the folder's kind.
SIDE_FILE_SUFFIXES = (".json", ".txt", ".md", ".csv", ".bvec", ".bval")
#: A NIfTI file of integers with at most this many values (in three slices) is a label map.
LABEL_MAP_MAX_VALUES = 64

_LABEL_NAME = re.compile(
    r"(?<![a-z])(labels?|labelmap|seg|segm|segmentation|mask|truth|ground.?truth|aseg|aparc|"
    r"parc|parcellation|dseg)(?![a-z])",
    re.I,
)


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def iter_files(folder: str | os.PathLike[str], *, limit: int | None = None) -> Iterator[Path]:
    """Files under ``folder`` at any depth, by name, hidden files and folders skipped.

    Parameters
    ----------
    folder : path-like
    limit : int, optional
        Stop after looking at this many directory entries (a huge folder is not walked in full
        just to sniff it).
    """
    seen = 0
    stack = [Path(folder)]
    while stack:
        try:
            entries = sorted(os.scandir(stack.pop()), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            seen += 1
            if limit is not None and seen > limit:
                return
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(Path(entry.path))
            elif entry.is_file():
                yield Path(entry.path)
        stack.extend(reversed(subfolders))


def looks_like_dicom_file(path: str | os.PathLike[str]) -> bool:
    """A DICOM file name suffix, or DICOM content (reads at most 132 bytes; False if hidden)."""
    from .dicom import looks_like_dicom

    path = Path(path)
    if _hidden(path):
        return False
    return path.suffix.lower() in DICOM_SUFFIXES or looks_like_dicom(path)


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Whether a file is a NIfTI or a DICOM image (by name, or by its first bytes)."""
    path = Path(path)
    if _hidden(path):
        return False
    if is_nifti_path(path):
        return True
    from .dicom import looks_like_dicom

    return looks_like_dicom(path)


def holds_images(
    folder: str | os.PathLike[str], *, recursive: bool = True, limit: int | None = None
) -> bool:
    """Whether a folder holds a NIfTI or DICOM file (directly, or at any depth).

    Parameters
    ----------
    folder : path-like
    recursive : bool, optional
        Look into subfolders too (default).
    limit : int, optional
        Look at most at this many directory entries (`iter_files`).
    """
    folder = Path(folder)
    if not recursive:
        try:
            return any(p.is_file() and is_image_file(p) for p in sorted(folder.iterdir()))
        except OSError:
            return False
    return any(is_image_file(p) for p in iter_files(folder, limit=limit))


@dataclass(frozen=True)
class FolderImages:
    """What a folder holds, as the readers see it.

    Attributes
    ----------
    folder : Path
    nifti : tuple of Path
        NIfTI files directly in the folder, by name.
    other : tuple of Path
        Every other file at any depth that is not hidden and not a side file: the files that
        may be DICOM (not opened here).
    """

    folder: Path
    nifti: tuple[Path, ...]
    other: tuple[Path, ...]

    @property
    def nifti_only(self) -> bool:
        """The folder is a folder of NIfTI files: NIfTI files and nothing that may be DICOM."""
        return bool(self.nifti) and not self.other

    @property
    def may_hold_dicom(self) -> bool:
        """Whether a DICOM scan of the folder can find anything (some file is not NIfTI)."""
        return bool(self.other) or not self.nifti


def sniff_folder(folder: str | os.PathLike[str]) -> FolderImages:
    """Sort the files of a folder into NIfTI files (direct children) and possible DICOM files.

    Reads names only; no file is opened.
    """
    folder = Path(folder)
    nifti: list[Path] = []
    other: list[Path] = []
    for path in iter_files(folder):
        if is_nifti_path(path):
            if path.parent == folder:
                nifti.append(path)
        elif path.suffix.lower() not in SIDE_FILE_SUFFIXES:
            other.append(path)
    return FolderImages(folder, tuple(sorted(nifti)), tuple(other))


def is_label_map(path: str | os.PathLike[str]) -> bool:
    """Whether a NIfTI file is a label map (a segmentation), not an image to read as a series.

    A file named like one (``labels``, ``seg``, ``segmentation``, ``mask``, ``truth``, ``aseg``
    ... as a word of its name), or one of an integer type whose slices at a quarter, half and
    three quarters of its depth hold between 2 and `LABEL_MAP_MAX_VALUES` distinct values
    together. Reads the header and those three slices; False for a file that cannot be read
    (its reader says why).
    """
    path = Path(path)
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if _LABEL_NAME.search(name.replace("_", " ").replace("-", " ")):
        return True
    try:
        import nibabel as nib

        img = nib.load(path)
        if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
            return False  # not read as NIfTI: not a label map (its reader says what it is)
        if not np.issubdtype(img.header.get_data_dtype(), np.integer):
            return False
        slope, inter = img.header.get_slope_inter()
        if slope not in (None, 1.0) or inter not in (None, 0.0):
            return False
        shape = img.shape
        if len(shape) < 3 or any(n < 1 for n in shape[:3]):
            return False
        rest = (0,) * (len(shape) - 3)
        slices = sorted({shape[2] // 4, shape[2] // 2, (3 * shape[2]) // 4})
        values = np.unique(
            np.concatenate(
                [
                    np.asarray(img.dataobj[(slice(None), slice(None), k, *rest)]).ravel()
                    for k in slices
                ]
            )
        )
    except Exception:  # nibabel raises many types for a broken file; its reader reports it
        return False
    return 2 <= values.size <= LABEL_MAP_MAX_VALUES
