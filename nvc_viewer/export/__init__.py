"""Exports of a case: findings (JSON, CSV, 3D Slicer markups), label map (NIfTI + ITK-SNAP
labels, DICOM SEG), DICOM SR (TID 1500) and a printable one-page report.

Every writer is a function of model objects / `Volume` objects and a path, and writes atomically.
`export_case` writes a case's whole set into one folder:

============  ===========================================================  ==================
format        files                                                        needs
============  ===========================================================  ==================
``json``      ``findings.json``                                            --
``csv``       ``findings.csv``                                             --
``mrk``       ``findings.mrk.json``                                        --
``nifti``     ``segmentation.nii.gz``, ``segmentation_labels.txt``         labels
``seg``       ``segmentation.dcm``                                         labels, DICOM T2
``sr``        ``report_sr.dcm``                                            DICOM T2
``report``    ``report.png``, ``report.pdf``                               --
============  ===========================================================  ==================

A format whose needs are not met is skipped (a NIfTI case has no DICOM SEG). The formats do not
depend on each other and are written at the same time, on threads (the NIfTI compression, the
pixel work of the DICOM SEG and the report's drawing release the GIL), or, for a caller with no
other thread (the batch's case process), some of them in a child process forked for them
(``processes``: the report and the DICOM SEG are mostly Python and share one GIL on threads).
`prepare_export` does ahead what needs neither the findings nor the label map (imports, the T2's
DICOM headers), e.g. while the analysis runs elsewhere. No patient name,
ID, birth date, accession number or raw UID is written to JSON, CSV, markups or the report unless
``include_phi`` (then the report prints the patient lines of the T2 DICOM header); DICOM SEG and
SR always carry the patient module, as the standard requires.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExportError, NVCError
from ..findings import CaseFindings, write_findings_json
from ..forked import can_fork
from ..volume import Volume

__all__ = ["FORMATS", "FILE_NAMES", "ExportPrep", "prepare_export", "export_case"]

#: Every format `export_case` knows, in the order it writes them.
FORMATS: tuple[str, ...] = ("json", "csv", "mrk", "nifti", "seg", "sr", "report")

#: Files each format writes in the case folder.
FILE_NAMES: dict[str, tuple[str, ...]] = {
    "json": ("findings.json",),
    "csv": ("findings.csv",),
    "mrk": ("findings.mrk.json",),
    "nifti": ("segmentation.nii.gz", "segmentation_labels.txt"),
    "seg": ("segmentation.dcm",),
    "sr": ("report_sr.dcm",),
    "report": ("report.png", "report.pdf"),
}


#: Modules each format's writer imports (`prepare_export` imports them ahead).
_MODULES: dict[str, tuple[str, ...]] = {
    "csv": ("nvc_viewer.export.csv_",),
    "mrk": ("nvc_viewer.export.slicer",),
    "nifti": ("nibabel", "nvc_viewer.export.nifti_labels"),
    "seg": ("highdicom", "nvc_viewer.export.dicom_seg"),
    "sr": ("highdicom", "nvc_viewer.export.dicom_sr"),
    "report": (
        "PIL.Image",
        "PIL.ImageDraw",
        "fpdf",
        "nvc_viewer.compare",
        "nvc_viewer.export.report",
    ),
}


@dataclass(frozen=True)
class ExportPrep:
    """What `prepare_export` did ahead for `export_case`.

    Attributes
    ----------
    t2 : Volume
        The T2 it was prepared for (`export_case` uses the rest only with this volume).
    source_datasets : list of pydicom.Dataset or None
        The T2's DICOM headers (None: not read, or they could not be read; the writers that
        need them read them again and say why they cannot).
    """

    t2: Volume
    source_datasets: list | None = None


def _needs_headers(t2: Volume, formats: Sequence[str], include_phi: bool) -> bool:
    return (
        t2.meta.kind == "dicom"
        and bool(t2.meta.source_paths)
        and ("seg" in formats or "sr" in formats or ("report" in formats and include_phi))
    )


def prepare_export(
    t2: Volume, formats: Iterable[str] = FORMATS, *, include_phi: bool = False
) -> ExportPrep:
    """Do the part of `export_case` that needs neither the findings nor the label map.

    The writers' modules are imported, highdicom's tables of the standard loaded and the T2's
    DICOM headers read (when a DICOM format, or a report with patient lines, needs them). Meant
    to run while something else works (the batch: while the analysis runs in another process);
    hand the result to `export_case` as ``prepared``. Never raises: what fails here is done (and
    reported) by `export_case` again.
    """
    formats = tuple(formats)
    for fmt in formats:
        for name in _MODULES.get(fmt, ()):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    datasets = None
    if _needs_headers(t2, formats, include_phi):
        from .dicom_seg import read_source_datasets, warm_up

        warm_up()
        with contextlib.suppress(NVCError):
            datasets = read_source_datasets(t2)
    return ExportPrep(t2=t2, source_datasets=datasets)


def _start_in_child(
    fmt: str, call: Callable[[], tuple[list[Path], float]]
) -> Callable[[], tuple[list[Path], float]]:
    """Start ``call`` in a child process forked now; the function returned waits for its result
    (and raises what it raised, or an `ExportError` if the child died)."""
    from ..forked import ChildDied, Forked

    child = Forked(call, f"nvc-export-{fmt}")

    def result() -> tuple[list[Path], float]:
        try:
            return child.result()
        except ChildDied as died:
            raise ExportError(
                f"the process writing the {fmt} export died (exit code {died.exitcode})"
            ) from None

    return result


def _patient_lines(datasets: list) -> dict[str, str]:
    if not datasets:
        return {}
    ds = datasets[0]
    lines = {}
    for label, keyword in (
        ("Patient", "PatientName"),
        ("Patient ID", "PatientID"),
        ("Birth date", "PatientBirthDate"),
        ("Accession", "AccessionNumber"),
        ("Study date", "StudyDate"),
    ):
        value = str(getattr(ds, keyword, "") or "")
        if value:
            lines[label] = value
    return lines


def export_case(
    case: CaseFindings,
    out_dir: str | os.PathLike[str],
    *,
    t2: Volume,
    labels: Volume | None = None,
    tof: Volume | None = None,
    formats: Iterable[str] = FORMATS,
    include_phi: bool = False,
    timings: dict[str, float] | None = None,
    threads: int = 3,
    processes: Iterable[str] = (),
    prepared: ExportPrep | None = None,
) -> list[Path]:
    """Write a case's exports into ``out_dir`` (created if needed).

    Parameters
    ----------
    case : CaseFindings
    out_dir : path-like
        The case folder, e.g. ``DIR/<case_id>``.
    t2 : Volume
        The reference T2 volume (DICOM SEG/SR re-read its source files' headers).
    labels : Volume, optional
        The label map on the T2 grid (the values of `nvc_viewer.labels.LABELS`).
    tof : Volume, optional
        The TOF angiogram, drawn in red over the T2 on the report's key images.
    formats : iterable of str
        Any of `FORMATS`.
    include_phi : bool, optional
        Print the patient's identifying lines on the report.
    timings : dict, optional
        Filled with each format's own time in seconds (``"export_seg"`` ...).
    threads : int, optional
        Formats written at the same time (1: one after the other).
    processes : iterable of str, optional
        Formats written in a child process forked for each, beside the others (POSIX; ignored
        where processes cannot be forked). Only for a caller that runs no other thread: a
        process forked while another thread holds a lock inherits the lock held.
    prepared : ExportPrep, optional
        What `prepare_export` did ahead for this T2 (its DICOM headers are used).

    Returns
    -------
    list of Path
        The files written, in `FORMATS` order.

    Raises
    ------
    ExportError
        Unknown format, or a writer that cannot do its job.
    """
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; known: {', '.join(FORMATS)}")
    if not isinstance(case, CaseFindings):
        raise ExportError(f"case must be a CaseFindings; got {type(case).__name__}")
    if not isinstance(t2, Volume):
        raise ExportError(f"t2 must be a Volume; got {type(t2).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    is_dicom = t2.meta.kind == "dicom" and bool(t2.meta.source_paths)
    has_labels = labels is not None and bool(np.any(labels.data))
    needs_headers = is_dicom and (
        ("seg" in formats and has_labels)
        or "sr" in formats
        or ("report" in formats and include_phi)
    )
    # The T2's DICOM headers are read once, by the first writer that needs them, and shared:
    # the formats that do not need them (the report, the NIfTI) start at once meanwhile.
    header_lock = threading.Lock()
    headers: list[list] = []
    if prepared is not None and prepared.t2 is t2 and prepared.source_datasets is not None:
        headers.append(prepared.source_datasets)  # read ahead

    def source_datasets() -> list:
        if not needs_headers:
            return []
        with header_lock:
            if not headers:
                from .dicom_seg import read_source_datasets

                t0 = time.perf_counter()
                headers.append(read_source_datasets(t2))
                if timings is not None:
                    timings["export_headers"] = time.perf_counter() - t0
        return headers[0]

    def write_json() -> list[Path]:
        return [write_findings_json(case, out / FILE_NAMES["json"][0])]

    def write_csv() -> list[Path]:
        from .csv_ import write_findings_csv

        return [write_findings_csv([case], out / FILE_NAMES["csv"][0])]

    def write_mrk() -> list[Path]:
        from .slicer import write_slicer_markups

        return [write_slicer_markups(case, out / FILE_NAMES["mrk"][0])]

    def write_nifti() -> list[Path]:
        from .nifti_labels import write_itksnap_labels, write_segmentation_nifti

        assert labels is not None
        names = FILE_NAMES["nifti"]
        return [
            write_segmentation_nifti(labels, out / names[0]),
            write_itksnap_labels(out / names[1]),
        ]

    def write_seg() -> list[Path]:
        from .dicom_seg import write_dicom_seg

        assert labels is not None
        datasets = source_datasets()
        return [write_dicom_seg(labels, t2, out / FILE_NAMES["seg"][0], source_datasets=datasets)]

    def write_sr() -> list[Path]:
        from .dicom_sr import write_dicom_sr

        datasets = source_datasets()
        return [write_dicom_sr(case, t2, out / FILE_NAMES["sr"][0], source_datasets=datasets)]

    def write_report() -> list[Path]:
        from .report import write_case_report

        patient = _patient_lines(source_datasets()) if include_phi and is_dicom else None
        png, pdf = (out / n for n in FILE_NAMES["report"])
        return list(write_case_report(case, t2, png, pdf, patient=patient, tof=tof, labels=labels))

    writers: dict[str, Callable[[], list[Path]]] = {
        "json": write_json,
        "csv": write_csv,
        "mrk": write_mrk,
        "nifti": write_nifti,
        "seg": write_seg,
        "sr": write_sr,
        "report": write_report,
    }
    possible = {"nifti": labels is not None, "seg": is_dicom and has_labels, "sr": is_dicom}
    todo = [f for f in FORMATS if f in formats and possible.get(f, True)]

    def timed(fmt: str) -> tuple[list[Path], float]:
        if fmt in ("seg", "sr") or (fmt == "report" and include_phi):
            source_datasets()  # read (or waited for) outside the format's own time
        t0 = time.perf_counter()
        return writers[fmt](), time.perf_counter() - t0

    # The slow formats first, so that the quick ones fill the gaps.
    slow_first = sorted(todo, key=lambda f: ("seg", "report", "nifti", "sr").index(f)
                        if f in ("seg", "report", "nifti", "sr") else 9)  # fmt: skip
    results: dict[str, tuple[list[Path], float]] = {}
    errors: dict[str, BaseException] = {}
    children: dict[str, Callable[[], tuple[list[Path], float]]] = {}
    if can_fork():
        for fmt in [f for f in slow_first if f in set(processes)]:
            if fmt in ("seg", "sr") or (fmt == "report" and include_phi):
                with contextlib.suppress(Exception):  # else the child fails with the reason
                    source_datasets()  # read once, here, before the fork, not in every child
            children[fmt] = _start_in_child(fmt, functools.partial(timed, fmt))
    here = [f for f in slow_first if f not in children]
    try:
        if threads <= 1 or len(here) <= 1:
            for fmt in here:
                try:
                    results[fmt] = timed(fmt)
                except Exception as exc:  # noqa: BLE001 -- raised below, in format order
                    errors[fmt] = exc
        else:
            with ThreadPoolExecutor(max_workers=min(threads, len(here))) as pool:
                futures = {fmt: pool.submit(timed, fmt) for fmt in here}
                for fmt, future in futures.items():
                    try:
                        results[fmt] = future.result()
                    except BaseException as exc:  # noqa: BLE001 -- raised below, in order
                        errors[fmt] = exc
    finally:  # the children are waited for in every case (an interrupt reaches them too)
        for fmt, wait in children.items():
            try:
                results[fmt] = wait()
            except Exception as exc:  # noqa: BLE001 -- raised below, in format order
                errors[fmt] = exc
    for fmt in todo:  # the first failure in format order; the other files are whole
        if fmt in errors:
            raise errors[fmt]
    written: list[Path] = []
    for fmt in todo:
        files, seconds = results[fmt]
        written.extend(files)
        if timings is not None:
            timings[f"export_{fmt}"] = seconds
    return written
