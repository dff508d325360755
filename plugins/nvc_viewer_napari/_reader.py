"""napari reader: DICOM folders / files and NIfTI files, shown in patient orientation.

`get_reader` only sniffs (file names, the 4-byte DICOM magic of a few files) and returns None
for what it cannot read, so other readers get their turn. The reader function loads through the
core's case model (`nvc_viewer.session.case_volumes`: the same choice of T2 and TOF as the
batch command) and builds layers with `case_layers`: a folder holding a T2 and a TOF series
(DICOM, or NIfTI files named ``*t2*`` / ``*tof*`` ...) opens as one fused case. The folder
sniffing is the core's (`nvc_viewer.io.sniff`).

Errors: an `NVCError` raised while reading propagates unchanged; its message names the file and
the problem. ``viewer.open(path, plugin="nvc-viewer")`` -- and napari's reader dialog, when the
user picks this plugin there -- raise it as is, and napari's error notification shows exactly its
message (the traceback only behind "View Traceback"). When napari picks the plugin by itself
(the only reader for the path, or a remembered choice) it wraps the error in its
``ReaderPluginError``, whose text ends with ``<ErrorClass>: <our message>``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nvc_viewer.io.nifti import is_nifti_path
from nvc_viewer.io.sniff import iter_files, looks_like_dicom_file
from nvc_viewer.volume import Volume

from ._layers import LayerDataTuple, case_layers

__all__ = ["get_reader", "read_case", "load_case_volumes", "looks_like_dicom"]

ReaderFunction = Callable[[str | list[str]], list[LayerDataTuple]]

# How many directory entries the folder sniffing looks at before giving up.
_MAX_SNIFF_ENTRIES = 2000


def looks_like_dicom(path: str | os.PathLike[str]) -> bool:
    """Cheap test: a DICOM file name suffix, or DICOM content (`nvc_viewer.io.sniff`).

    Parameters
    ----------
    path : path-like
        A file.

    Returns
    -------
    bool
        Reads at most 132 bytes; False for anything unreadable.
    """
    return looks_like_dicom_file(path)


def _folder_is_readable(folder: Path) -> bool:
    """NIfTI files in the folder, or a DICOM file (name or content) in the first entries."""
    try:
        if any(is_nifti_path(p) for p in folder.iterdir() if p.is_file()):
            return True
    except OSError:  # unreadable folder: not ours to report, napari tries other readers
        return False
    return any(looks_like_dicom_file(p) for p in iter_files(folder, limit=_MAX_SNIFF_ENTRIES))


def get_reader(path: str | list[str]) -> ReaderFunction | None:
    """napari reader hook: a reader function for ``path``, or None if it is not ours.

    Parameters
    ----------
    path : str or list of str
        A NIfTI file, a DICOM file, or a folder (DICOM series, possibly several, or NIfTI
        files). A list is accepted only when it holds one path.

    Returns
    -------
    callable or None
        ``read_case`` when the path looks readable, else None (a folder without DICOM or
        NIfTI files, other file types, several paths).
    """
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir():
        return read_case if _folder_is_readable(p) else None
    if not p.is_file():
        return None
    if is_nifti_path(p) or looks_like_dicom(p):
        return read_case
    return None


def read_case(path: str | list[str]) -> list[LayerDataTuple]:
    """napari reader function: the layers of the case at ``path`` (see `case_layers`).

    Raises
    ------
    NVCError
        A subclass naming the file and the problem.
    """
    if isinstance(path, list | tuple):
        path = path[0]
    return case_layers(**load_case_volumes(path))


def load_case_volumes(
    path: str | os.PathLike[str], series: str | None = None
) -> dict[str, Volume | None]:
    """The T2 reference and, when the same input holds one, the TOF series.

    The case model's rule (`nvc_viewer.session.case_volumes`), the batch command's too.

    Parameters
    ----------
    path : path-like
        A NIfTI file, a DICOM file, or a folder.
    series : str, optional
        Load only this series as the reference (see `nvc_viewer.session.choose_series`); no
        TOF is looked for.

    Returns
    -------
    dict
        ``t2``: the reference `Volume`; ``tof``: the TOF `Volume` when exactly one other
        series is recognised as TOF, else None. A TOF that cannot be read is left out with a
        ``UserWarning`` (napari shows it) rather than hiding the T2.

    Raises
    ------
    NVCError
        From the core readers; a label map is never opened as the T2 unless named.
    """
    from nvc_viewer.session import case_volumes

    volumes = case_volumes(
        path, t2=series, tof="none" if series is not None else None, tof_errors="warn"
    )
    return {"t2": volumes.t2, "tof": volumes.tof}
