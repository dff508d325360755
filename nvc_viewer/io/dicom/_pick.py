"""Picking a series of a scan, and loading a path in one call.

Design note
-----------
Owns `pick_series` (by key, UID, number, role or description; without a choice the only
series, else the single heavy-T2 one), `load_dicom` (scan, pick, read) and the errors that say
why nothing could be picked: what the skipped files are (`skipped_summary`), one file asked for
that is not a DICOM image, a folder of Siemens mosaics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ...errors import (
    NoSeriesFoundError,
    NotAnImageError,
    NVCError,
    SeriesSelectionError,
    UnsupportedImageError,
)
from ...volume import Volume
from ..kinds import (
    GZ_DICOM,
    OTHER_IMAGE_KINDS,
    convert_hint,
    describe_files,
    file_kind,
    with_article,
)
from ._pixels import read_series
from ._records import DicomScan, SeriesInfo
from ._scan import scan_dicom

#: Skip reasons of a file that is an image, but one this reader does not take.
_UNSUPPORTED_PREFIXES = ("floating-point pixel data",)


def _series_table(scan: DicomScan) -> str:
    return "; ".join(
        f"[{s.key}] #{s.series_number} {s.description!r} role={s.role} {s.n_slices} slices"
        for s in scan.series
    )


def pick_series(scan: DicomScan, series: str | None = None) -> SeriesInfo:
    """Choose one series of a scan.

    Parameters
    ----------
    scan : DicomScan
    series : str, optional
        A key, a SeriesInstanceUID, a SeriesNumber (as text), a role (``"t2"``, ``"tof"``) or an
        exact SeriesDescription (case-insensitive). Without it: the only series, else the single
        series whose role is ``"t2"``.

    Raises
    ------
    NotAnImageError
        The scan was of one file, and it is not a DICOM image.
    NoSeriesFoundError
        The scan found no image series.
    SeriesSelectionError
        No series or several series fit; the message lists every series.
    """
    if not scan.series:
        if len(scan.skipped) == 1 and scan.skipped[0][0] == scan.folder:  # one file was asked
            raise _skipped_file_error(*scan.skipped[0])
        hint = ""
        if scan.skipped:
            summary = f" ({skipped_summary(scan.skipped)})"
            others = [
                k for k in (_kind_of(p, r) for p, r in scan.skipped) if k in OTHER_IMAGE_KINDS
            ]
            if others:
                hint = f"; DICOM or NIfTI only: {convert_hint(others[0])}"
        else:
            summary = " (the folder holds no file)"
        raise NoSeriesFoundError(
            f"no DICOM image series found: looked at {scan.n_files} file(s), skipped "
            f"{scan.n_skipped}{summary}{hint}",
            path=scan.folder,
        )
    candidates = scan.series
    if series is None:
        if len(candidates) == 1:
            return candidates[0]
        if all(s.problem_types and _is_mosaic(s) for s in candidates):
            files = sum(s.n_files for s in candidates)
            raise UnsupportedImageError(
                f"{len(candidates)} series in {files} file(s), all Siemens mosaics (4-D fMRI / "
                "DTI acquisitions, each volume tiled into one image), not supported: convert them "
                "with dcm2niix and open a NIfTI volume",
                path=scan.folder,
            )
        t2 = [s for s in candidates if s.role == "t2"]
        if len(t2) == 1:
            return t2[0]
        raise SeriesSelectionError(
            f"{len(candidates)} series and {'none' if not t2 else 'several'} recognised as the "
            f"heavy-T2 series; pass series=KEY (CLI: --series): {_series_table(scan)}",
            path=scan.folder,
        )
    wanted = str(series).strip()
    tests: list[Callable[[SeriesInfo], bool]] = [
        lambda s: s.key == wanted,
        lambda s: s.series_uid == wanted,
        lambda s: s.series_number is not None and str(s.series_number) == wanted,
        lambda s: s.role == wanted.lower(),
        lambda s: s.description.lower() == wanted.lower(),
    ]
    for test in tests:
        matches = [s for s in candidates if test(s)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise SeriesSelectionError(
                f"series={wanted!r} fits {len(matches)} series "
                f"({', '.join(m.key for m in matches)}); pass one key: {_series_table(scan)}",
                path=scan.folder,
            )
    raise SeriesSelectionError(
        f"no series matches series={wanted!r}: {_series_table(scan)}", path=scan.folder
    )


def _is_mosaic(info: SeriesInfo) -> bool:
    return bool(info._frames) and all(f.header.mosaic for f in info._frames)


def _kind_of(path: str, reason: str) -> str:
    """The kind of a skipped file: what it is when it is not DICOM, else the skip reason."""
    if reason.startswith("not a DICOM file"):
        return file_kind(path)
    return reason.split(" (")[0]


def skipped_summary(skipped: Sequence[tuple[str, str]]) -> str:
    """Skipped files by kind: ``"2 text files (a.txt, b.txt), 1 PNG image (c.png)"``."""
    return describe_files(
        [p for p, _ in skipped], {p: _kind_of(p, r) for p, r in skipped}, total=False
    )


def _skipped_file_error(path: str, reason: str) -> NVCError:
    """The error for one file asked for that the scan skipped, naming what the file is."""
    if reason.startswith("not a DICOM file"):
        kind = file_kind(path)
        if kind in OTHER_IMAGE_KINDS or kind == GZ_DICOM:
            return UnsupportedImageError(
                f"DICOM or NIfTI only; this is {with_article(kind)}: {convert_hint(kind)}",
                path=path,
            )
        return NotAnImageError(f"not a DICOM image: not a DICOM file ({kind})", path=path)
    if reason.startswith(_UNSUPPORTED_PREFIXES):
        return UnsupportedImageError(reason, path=path)
    return NotAnImageError(f"not a DICOM image: {reason}", path=path)


def load_dicom(path: str | os.PathLike[str], series: str | None = None) -> Volume:
    """Scan a DICOM folder (or file), pick a series and read it.

    Parameters
    ----------
    path : path-like
        Folder (recursive) or one file.
    series : str, optional
        See `pick_series`.

    Returns
    -------
    Volume

    Raises
    ------
    NVCError
        `NoSeriesFoundError`, `SeriesSelectionError`, or the chosen series' problem as its
        typed error (see `read_series`).
    """
    return read_series(pick_series(scan_dicom(path), series))
