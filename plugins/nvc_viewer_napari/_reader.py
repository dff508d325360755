"""napari reader: DICOM folders / files and NIfTI files, shown in patient orientation.

`get_reader` only sniffs (file names, the 4-byte DICOM magic of a few files) and returns None
for what it cannot read, so other readers get their turn. The reader function loads through the
core (`nvc_viewer.load`) and builds layers with `case_layers`: a folder holding a T2 and a TOF
series (DICOM, or NIfTI files named ``*t2*`` / ``*tof*`` ...) opens as one fused case.

Errors: an `NVCError` raised while reading propagates unchanged; its message names the file and
the problem. ``viewer.open(path, plugin="nvc-viewer")`` -- and napari's reader dialog, when the
user picks this plugin there -- raise it as is, and napari's error notification shows exactly its
message (the traceback only behind "View Traceback"). When napari picks the plugin by itself
(the only reader for the path, or a remembered choice) it wraps the error in its
``ReaderPluginError``, whose text ends with ``<ErrorClass>: <our message>``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nvc_viewer.errors import NVCError
from nvc_viewer.io.nifti import is_nifti_path
from nvc_viewer.io.roles import guess_role
from nvc_viewer.volume import Volume

from ._layers import LayerDataTuple, case_layers

__all__ = ["get_reader", "read_case", "load_case_volumes", "looks_like_dicom"]

ReaderFunction = Callable[[str | list[str]], list[LayerDataTuple]]

# How many directory entries the folder sniffing looks at before giving up.
_MAX_SNIFF_ENTRIES = 2000
_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def looks_like_dicom(path: str | os.PathLike[str]) -> bool:
    """Cheap test: a DICOM file name suffix, or DICOM content.

    The content test is the core's (`nvc_viewer.io.dicom.looks_like_dicom`).

    Parameters
    ----------
    path : path-like
        A file.

    Returns
    -------
    bool
        Reads at most 132 bytes; False for anything unreadable.
    """
    from nvc_viewer.io.dicom import looks_like_dicom as dicom_content

    return Path(path).suffix.lower() in _DICOM_SUFFIXES or dicom_content(path)


def _iter_files(folder: Path) -> Iterator[Path]:
    """Files under ``folder`` (recursively), hidden ones skipped, at most a bounded number."""
    seen = 0
    stack = [folder]
    while stack:
        try:
            entries = sorted(os.scandir(stack.pop()), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > _MAX_SNIFF_ENTRIES:
                return
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file():
                yield Path(entry.path)


def _folder_is_readable(folder: Path) -> bool:
    try:
        if any(is_nifti_path(p) for p in folder.iterdir() if p.is_file()):
            return True
    except OSError:  # unreadable folder: not ours to report, napari tries other readers
        return False
    return any(looks_like_dicom(p) for p in _iter_files(folder))


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

    Parameters
    ----------
    path : path-like
        A NIfTI file, a DICOM file, or a folder.
    series : str, optional
        Load only this series (see `nvc_viewer.load`); no TOF is looked for.

    Returns
    -------
    dict
        ``t2``: the reference `Volume` (whatever `nvc_viewer.load` picks: the T2 series when
        there are several); ``tof``: the TOF `Volume` when exactly one other series (DICOM) or
        file (NIfTI) is recognised as TOF, else None. A TOF that cannot be read is left out
        with a ``UserWarning`` (napari shows it) rather than hiding the T2.

    Raises
    ------
    NVCError
        From the core readers.
    """
    from nvc_viewer import load

    path = Path(path)
    reference = load(path, series=series)
    if series is not None or not path.is_dir() or reference.meta.role == "tof":
        return {"t2": reference, "tof": None}
    if reference.meta.kind == "nifti":
        chosen = {str(Path(s).resolve()) for s in reference.meta.source_paths}
        tof_files = [
            p
            for p in sorted(path.iterdir())
            if p.is_file()
            and is_nifti_path(p)
            and str(p.resolve()) not in chosen
            and guess_role([p.name]) == "tof"
        ]
        if len(tof_files) != 1:
            return {"t2": reference, "tof": None}
        return {"t2": reference, "tof": _optional_tof(load, tof_files[0])}

    from nvc_viewer.io.dicom import read_series, scan_dicom

    # A second header scan (headers only), to find the TOF beside the chosen series.
    tof_series = [
        s
        for s in scan_dicom(path).series
        if s.role == "tof" and s.series_uid != reference.meta.series_uid
    ]
    if len(tof_series) != 1:
        return {"t2": reference, "tof": None}
    return {"t2": reference, "tof": _optional_tof(read_series, tof_series[0])}


def _optional_tof(read: Callable[[Any], Volume], source: Any) -> Volume | None:
    """Read the TOF; if it cannot be read, warn (napari shows a notification) and go on."""
    try:
        return read(source)
    except NVCError as exc:
        # The T2 alone is still worth showing, but the user must know the TOF is missing.
        warnings.warn(f"the TOF series is not shown: {exc}", UserWarning, stacklevel=3)
        return None
