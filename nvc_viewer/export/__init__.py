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

A format whose needs are not met is skipped (a NIfTI case has no DICOM SEG). No patient name,
ID, birth date, accession number or raw UID is written to JSON, CSV, markups or the report unless
``include_phi`` (then the report prints the patient lines of the T2 DICOM header); DICOM SEG and
SR always carry the patient module, as the standard requires.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..findings import CaseFindings, write_findings_json
from ..volume import Volume

__all__ = ["FORMATS", "FILE_NAMES", "export_case"]

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
    formats: Iterable[str] = FORMATS,
    include_phi: bool = False,
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
        The label map on the T2 grid (DESIGN.md section 3).
    formats : iterable of str
        Any of `FORMATS`.
    include_phi : bool, optional
        Print the patient's identifying lines on the report.

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
    written: list[Path] = []
    is_dicom = t2.meta.kind == "dicom" and bool(t2.meta.source_paths)
    has_labels = labels is not None and bool(np.any(labels.data))
    datasets: list | None = None

    def source_datasets() -> list:
        nonlocal datasets
        if datasets is None:
            from .dicom_seg import read_source_datasets

            datasets = read_source_datasets(t2)
        return datasets

    for fmt in FORMATS:
        if fmt not in formats:
            continue
        names = [out / n for n in FILE_NAMES[fmt]]
        if fmt == "json":
            written.append(write_findings_json(case, names[0]))
        elif fmt == "csv":
            from .csv_ import write_findings_csv

            written.append(write_findings_csv([case], names[0]))
        elif fmt == "mrk":
            from .slicer import write_slicer_markups

            written.append(write_slicer_markups(case, names[0]))
        elif fmt == "nifti" and labels is not None:
            from .nifti_labels import write_itksnap_labels, write_segmentation_nifti

            written.append(write_segmentation_nifti(labels, names[0]))
            written.append(write_itksnap_labels(names[1]))
        elif fmt == "seg" and is_dicom and has_labels:
            from .dicom_seg import write_dicom_seg

            assert labels is not None
            written.append(write_dicom_seg(labels, t2, names[0], source_datasets=source_datasets()))
        elif fmt == "sr" and is_dicom:
            from .dicom_sr import write_dicom_sr

            written.append(write_dicom_sr(case, t2, names[0], source_datasets=source_datasets()))
        elif fmt == "report":
            from .report import write_case_report

            patient = _patient_lines(source_datasets()) if include_phi and is_dicom else None
            written.extend(write_case_report(case, t2, names[0], names[1], patient=patient))
    return written
