"""Readers: `load` opens a DICOM folder / file or a NIfTI file as a `Volume`.

Readers never resample. DICOM geometry comes from ImagePositionPatient / ImageOrientationPatient /
PixelSpacing and the measured slice step (LPS, converted to RAS); NIfTI geometry from the sform or
qform.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputNotFoundError, SeriesSelectionError
from ..volume import Volume
from .nifti import is_nifti_path, read_nifti
from .roles import guess_role

__all__ = ["load", "read_nifti", "guess_role", "is_nifti_path"]


def load(
    path: str | os.PathLike[str],
    series: str | None = None,
    *,
    volume: int | None = None,
    nonfinite: str = "error",
) -> Volume:
    """Open brainstem MRI as a `Volume` in patient RAS mm.

    Parameters
    ----------
    path : path-like
        A NIfTI file (``.nii``/``.nii.gz``), a DICOM file (single slice or Enhanced multi-frame),
        or a folder. A folder is scanned recursively for DICOM; when it holds several series the
        heavy-T2 one is taken, or the one ``series`` names. A folder of NIfTI files (and no DICOM)
        gives the file whose name says T2 (``ciss``, ``fiesta``, ``t2`` ...), or the one
        ``series`` names.
    series : str, optional
        Which series: a SeriesInstanceUID, a series number, a role (``"t2"``, ``"tof"``), a
        SeriesDescription, or (for NIfTI folders) a file name.
    volume : int, optional
        For a 4-D NIfTI file, which volume to read.
    nonfinite : {"error", "zero"}
        NIfTI NaN/inf policy (see `read_nifti`).

    Returns
    -------
    Volume

    Raises
    ------
    NVCError
        A subclass naming the file and the problem, for every bad input.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("no such file or folder", path=path)
    if path.is_file():
        if is_nifti_path(path):
            return read_nifti(path, volume=volume, nonfinite=nonfinite)  # type: ignore[arg-type]
        from .dicom import load_dicom

        return load_dicom(path, series=series)
    niftis = sorted(p for p in path.iterdir() if p.is_file() and is_nifti_path(p))
    if niftis and not _has_non_nifti_files(path):
        chosen = _pick_nifti(path, niftis, series)
        return read_nifti(chosen, volume=volume, nonfinite=nonfinite)  # type: ignore[arg-type]
    from .dicom import load_dicom

    return load_dicom(path, series=series)


def _has_non_nifti_files(folder: Path) -> bool:
    for p in folder.rglob("*"):
        if p.is_file() and not is_nifti_path(p) and not p.name.startswith("."):
            if p.suffix.lower() in (".json", ".txt", ".md", ".csv", ".bvec", ".bval"):
                continue
            return True
    return False


def _pick_nifti(folder: Path, files: list[Path], series: str | None) -> Path:
    names = ", ".join(p.name for p in files)
    if series is not None:
        for p in files:
            if series in (p.name, p.stem, p.name.split(".")[0]):
                return p
        matches = [p for p in files if guess_role([p.name]) == series]
        if len(matches) == 1:
            return matches[0]
        raise SeriesSelectionError(
            f"no NIfTI file matches series={series!r} (or several do); files: {names}",
            path=folder,
        )
    if len(files) == 1:
        return files[0]
    t2 = [p for p in files if guess_role([p.name]) == "t2"]
    if len(t2) == 1:
        return t2[0]
    raise SeriesSelectionError(
        f"{len(files)} NIfTI files and {'none' if not t2 else 'several'} named as the T2 series "
        f"(ciss, fiesta, space, drive, bffe, t2); pass series=FILE (CLI: --series): {names}",
        path=folder,
    )
