"""Readers: `load` opens a DICOM folder / file or a NIfTI file as a `Volume`.

Readers never resample. DICOM geometry comes from ImagePositionPatient / ImageOrientationPatient /
PixelSpacing and the measured slice step (LPS, converted to RAS); NIfTI geometry from the sform or
qform.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputNotFoundError, SeriesSelectionError
from ..volume import Volume
from .nifti import is_nifti_path, read_nifti
from .roles import guess_role

__all__ = ["load", "load_case", "CaseVolumes", "read_nifti", "guess_role", "is_nifti_path"]


def load(
    path: str | os.PathLike[str],
    series: str | None = None,
    *,
    volume: int | None = None,
    nonfinite: str = "error",
    affine: str = "auto",
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
    affine : {"auto", "sform", "qform"}
        Which NIfTI header matrix places the voxels (see `read_nifti`).

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
            return read_nifti(path, volume=volume, nonfinite=nonfinite, affine=affine)  # type: ignore[arg-type]
        from .dicom import load_dicom

        return load_dicom(path, series=series)
    niftis = sorted(p for p in path.iterdir() if p.is_file() and is_nifti_path(p))
    if niftis and not _has_non_nifti_files(path):
        chosen = _pick_nifti(path, niftis, series)
        return read_nifti(chosen, volume=volume, nonfinite=nonfinite, affine=affine)  # type: ignore[arg-type]
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


@dataclass(frozen=True)
class CaseVolumes:
    """The volumes of one case: the heavy-T2 reference and, when present, the TOF angiogram.

    Attributes
    ----------
    t2 : Volume
    tof : Volume or None
    t2_key, tof_key : str or None
        What picks each series again (``series=`` of `load`): the DICOM series key, or the
        NIfTI file name of a NIfTI folder; None for a single NIfTI file and for no TOF. Never a
        patient value or a raw UID.
    """

    t2: Volume
    tof: Volume | None = None
    t2_key: str | None = None
    tof_key: str | None = None


def load_case(
    path: str | os.PathLike[str], *, t2: str | None = None, tof: str | None = None
) -> CaseVolumes:
    """Open a case: its T2 series and, when there is one, its TOF series.

    A DICOM folder is scanned once for both series.

    Parameters
    ----------
    path : path-like
        A NIfTI file (a T2-only case), a folder of NIfTI files, or a DICOM folder.
    t2, tof : str, optional
        Override the role detection: which series (DICOM: key, UID, number or description;
        NIfTI: file name) is the T2 / the TOF. ``tof="none"`` ignores any TOF. Without ``tof``
        the TOF is the one series recognised as TOF (none, or several, means no TOF).

    Returns
    -------
    CaseVolumes

    Raises
    ------
    NVCError
        A subclass naming the file and the problem: no T2, a series asked for that does not
        exist, or a series that cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("no such file or folder", path=path)
    if path.is_file() and is_nifti_path(path):
        return CaseVolumes(read_nifti(path))
    if path.is_dir():
        niftis = sorted(p for p in path.iterdir() if p.is_file() and is_nifti_path(p))
        if niftis and not _has_non_nifti_files(path):
            t2_path = _pick_nifti(path, niftis, t2 or None)
            tof_path = None
            if tof != "none":
                try:
                    tof_path = _pick_nifti(path, niftis, tof or "tof")
                except SeriesSelectionError:
                    if tof:  # asked for explicitly: say so
                        raise
            t2_volume = read_nifti(t2_path)
            if tof_path is None or tof_path == t2_path:
                return CaseVolumes(t2_volume, t2_key=t2_path.name)
            return CaseVolumes(t2_volume, read_nifti(tof_path), t2_path.name, tof_path.name)
    from .dicom import pick_series, read_series, scan_dicom

    scan = scan_dicom(path)
    t2_info = pick_series(scan, t2 or None)
    tof_info = None
    if tof != "none":
        try:
            tof_info = pick_series(scan, tof or "tof")
        except SeriesSelectionError:
            if tof:
                raise
    t2_volume = read_series(t2_info)
    if tof_info is None or tof_info.key == t2_info.key:
        return CaseVolumes(t2_volume, t2_key=t2_info.key)
    return CaseVolumes(t2_volume, read_series(tof_info), t2_info.key, tof_info.key)
