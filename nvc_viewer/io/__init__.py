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
from .sniff import FolderImages, holds_images, is_image_file, is_label_map, sniff_folder

__all__ = [
    "load",
    "load_case",
    "CaseVolumes",
    "read_nifti",
    "guess_role",
    "is_nifti_path",
    "FolderImages",
    "sniff_folder",
    "holds_images",
    "is_image_file",
    "is_label_map",
    "pick_nifti",
]


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
        heavy-T2 one is taken, or the one ``series`` names. A folder of NIfTI files (and no DICOM;
        `nvc_viewer.io.sniff.sniff_folder`) gives the only file that is not a label map, else
        the file whose name says T2 (``ciss``, ``fiesta``, ``t2`` ...), or the one ``series``
        names.
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
    found = sniff_folder(path)
    if found.nifti_only:
        chosen = pick_nifti(path, list(found.nifti), series)
        return read_nifti(chosen, volume=volume, nonfinite=nonfinite, affine=affine)  # type: ignore[arg-type]
    from .dicom import load_dicom

    return load_dicom(path, series=series)


def pick_nifti(folder: Path, files: list[Path], series: str | None) -> Path:
    """The NIfTI file of a folder that ``series`` names, or the T2 one.

    Parameters
    ----------
    folder : Path
        For the messages.
    files : list of Path
        The folder's NIfTI files.
    series : str, optional
        A file name (with or without its suffix) or a role (``"t2"``, ``"tof"``). Without it:
        the only file that is not a label map (`nvc_viewer.io.sniff.is_label_map`), else the
        only one named as a T2 series.

    Raises
    ------
    SeriesSelectionError
        No file, or several, fit; the message lists the files.
    """
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
    images = [p for p in files if not is_label_map(p)]
    if len(images) == 1:
        return images[0]
    t2 = [p for p in images if guess_role([p.name]) == "t2"]
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

    The rule of which series are the T2 and the TOF is the case model's
    (`nvc_viewer.session.choose_series`), the same in the viewer and the batch command. A
    DICOM folder is scanned once for both series.

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
    from ..session import case_volumes

    return case_volumes(path, t2=t2, tof=tof)
