"""The workspace: one folder holding the machine's and the surgeons' work, case by case.

Design note
-----------
A workspace is an output folder laid out as docs/design.md, section 5 says::

    ROOT/findings.csv, ROOT/batch_report.json       across cases (the batch command)
    ROOT/<case_id>/findings.json                    the case's findings (machine + surgeon)
    ROOT/<case_id>/segmentation.nii.gz              the label map on the T2 grid
    ROOT/<case_id>/segmentation_corrected.nii.gz    the same, as a surgeon corrected it
    ROOT/<case_id>/case.json                        where the images are (`CaseRecord`)
    ROOT/<case_id>/...                              the other exports

The batch command writes it; the viewer autosaves into the same layout, so one folder holds
both. A re-analysis goes through `Workspace.save_analysis` and
`nvc_viewer.findings.merge_auto`: it refreshes only ``auto`` findings; whatever a surgeon made
(``manual``), confirmed (``auto-confirmed``) or rejected (``auto-rejected``) is kept.

``case.json`` records what a re-export needs without re-running the analysis: the input path
and the keys of the series that were read (a DICOM series key -- SeriesNumber based -- or a NIfTI
file name). It holds no patient data and no raw UID.

Case ids are built from folder or file names only -- never from a DICOM value -- and sanitised to
``[A-Za-z0-9._-]`` so no name can lead outside the workspace.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes, atomic_write_text
from .errors import FindingsFileError, InputError
from .findings import CaseFindings, findings_to_json, merge_auto, read_findings_json

__all__ = [
    "sanitize_case_id",
    "case_id_for",
    "CaseRecord",
    "Workspace",
    "CASE_RECORD_SCHEMA",
]

CASE_RECORD_SCHEMA = "nvc-viewer/case"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_case_id(name: str) -> str:
    """Make a case id from a file or folder name: ``[A-Za-z0-9._-]`` only, never empty or dots.

    Parameters
    ----------
    name : str
        A folder name or a NIfTI file name (its ``.nii``/``.nii.gz`` suffix is dropped).

    Returns
    -------
    str
        Runs of other characters become one ``_``; leading and trailing ``._-`` are dropped;
        ``"case"`` when nothing is left.
    """
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    cleaned = _UNSAFE.sub("_", name).strip("._-")
    return cleaned or "case"


def case_id_for(path: str | os.PathLike[str]) -> str:
    """The case id of an input path: its folder or NIfTI file name, sanitised."""
    path = Path(path)
    return sanitize_case_id(path.resolve().name if path.name in ("", ".", "..") else path.name)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CaseRecord:
    """Where a saved case's images are: what ``nvc-viewer export`` needs to re-export it.

    Attributes
    ----------
    case_id : str
    input : str
        The input path as the user gave it.
    path : str
        The same, absolute.
    kind : {"dicom", "nifti"}
    t2, tof : str or None
        Which series were read: a DICOM series key (`nvc_viewer.io.dicom.SeriesInfo.key`) or a
        NIfTI file name; None for a single NIfTI file (t2) or no TOF.
    saved : str
        ISO 8601 time of writing.
    """

    case_id: str
    input: str
    path: str
    kind: str
    t2: str | None = None
    tof: str | None = None
    saved: str = dataclasses.field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        """The ``case.json`` document."""
        return {
            "schema": CASE_RECORD_SCHEMA,
            "schema_version": 1,
            "case_id": self.case_id,
            "input": self.input,
            "path": self.path,
            "kind": self.kind,
            "series": {"t2": self.t2, "tof": self.tof},
            "saved": self.saved,
        }

    @classmethod
    def from_dict(cls, d: Any, *, path: str | os.PathLike[str] | None = None) -> CaseRecord:
        """Read a ``case.json`` document; `FindingsFileError` (naming ``path``) when invalid."""
        if not isinstance(d, dict) or d.get("schema") != CASE_RECORD_SCHEMA:
            raise FindingsFileError(f'not a case record (schema "{CASE_RECORD_SCHEMA}")', path=path)
        if d.get("schema_version") != 1:
            raise FindingsFileError(
                f"case record version {d.get('schema_version')!r}; this nvc-viewer reads 1",
                path=path,
            )
        series = d.get("series")
        names = ("case_id", "input", "path", "kind")
        if not all(isinstance(d.get(n), str) for n in names) or not isinstance(series, dict):
            raise FindingsFileError(
                "case record needs case_id, input, path, kind (text) and series", path=path
            )
        t2, tof = series.get("t2"), series.get("tof")
        if not all(k is None or isinstance(k, str) for k in (t2, tof)):
            raise FindingsFileError("case record series keys must be text or null", path=path)
        return cls(
            case_id=d["case_id"],
            input=d["input"],
            path=d["path"],
            kind=d["kind"],
            t2=t2,
            tof=tof,
            saved=str(d.get("saved", "")),
        )


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class Workspace:
    """A folder of cases, ``ROOT/<case_id>/findings.json`` and exports.

    Parameters
    ----------
    root : path-like
        Created on first write.
    """

    #: The case's findings (machine and surgeon).
    FINDINGS = "findings.json"
    #: The machine's label map (the batch command's; an export writes the map in use here).
    SEGMENTATION = "segmentation.nii.gz"
    #: The label map as a surgeon corrected it with the brush: a file of its own, which a
    #: re-analysis never overwrites; it wins over `SEGMENTATION` wherever a case is opened or
    #: exported.
    CORRECTED_SEGMENTATION = "segmentation_corrected.nii.gz"
    #: Where the images are (`CaseRecord`).
    CASE_RECORD = "case.json"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def case_dir(self, case_id: str) -> Path:
        """``ROOT/<case_id>``; refuses an id that is not already sanitised."""
        if not isinstance(case_id, str) or sanitize_case_id(case_id) != case_id:
            raise InputError(
                f"case id {case_id!r} holds characters outside [A-Za-z0-9._-]", path=self.root
            )
        return self.root / case_id

    def findings_path(self, case_id: str) -> Path:
        """``ROOT/<case_id>/findings.json``."""
        return self.case_dir(case_id) / self.FINDINGS

    def segmentation_path(self, case_id: str) -> Path:
        """``ROOT/<case_id>/segmentation.nii.gz`` (the label map, as the viewer saves it too)."""
        return self.case_dir(case_id) / self.SEGMENTATION

    def corrected_segmentation_path(self, case_id: str) -> Path:
        """``ROOT/<case_id>/segmentation_corrected.nii.gz`` (the surgeon's corrected map)."""
        return self.case_dir(case_id) / self.CORRECTED_SEGMENTATION

    def labels_paths(self, case_id: str) -> list[tuple[Path, bool]]:
        """The saved label maps of a case to try, in order: ``(path, corrected)``.

        The corrected map first: a surgeon's work wins over the machine's.
        """
        return [
            (self.corrected_segmentation_path(case_id), True),
            (self.segmentation_path(case_id), False),
        ]

    def case_ids(self) -> list[str]:
        """Ids of the cases that have a saved ``findings.json``, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.parent.name
            for p in self.root.glob(f"*/{self.FINDINGS}")
            if sanitize_case_id(p.parent.name) == p.parent.name
        )

    def load(self, case_id: str) -> CaseFindings | None:
        """The saved findings of a case, or None when there are none yet.

        Raises
        ------
        FindingsFileError
            The saved file is broken (nothing is replaced then: the caller must not overwrite
            a surgeon's file it could not read).
        """
        path = self.findings_path(case_id)
        return read_findings_json(path) if path.exists() else None

    def save(self, case: CaseFindings) -> Path:
        """Write ``findings.json`` of a case atomically (a crash leaves the old or the new file)."""
        path = self.findings_path(case.case_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, findings_to_json(case))
        return path

    def save_analysis(
        self, fresh: CaseFindings, *, force: bool = False, attempts: int = 5
    ) -> CaseFindings:
        """Merge a fresh analysis into what is saved (`nvc_viewer.findings.merge_auto`), save it.

        The viewer may autosave the same file meanwhile: the file is read, merged, and written
        only if it did not change in between (else merged again), so a surgeon's edit made
        during the merge is not lost.

        Parameters
        ----------
        fresh : CaseFindings
            The analysis' proposal (``auto`` findings and landmarks).
        force : bool, optional
            Replace what was saved, surgeons' findings included. The replaced file is kept
            beside it as ``findings.before-force-<UTC time>.json`` when it held any surgeon
            work.
        attempts : int, optional
            How often to merge again when the file keeps changing.

        Returns
        -------
        CaseFindings
            What was saved.

        Raises
        ------
        FindingsFileError
            The saved file cannot be read (it is left as it is).
        """
        path = self.findings_path(fresh.case_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(max(attempts, 1)):
            before = _sha256(path)
            existing = None if before is None else read_findings_json(path)
            if force:
                if existing is not None and _holds_surgeon_work(existing):
                    stamp = _now().replace(":", "").replace("+0000", "Z")
                    backup = path.with_name(f"findings.before-force-{stamp}.json")
                    atomic_write_bytes(backup, path.read_bytes())
                merged = fresh
            else:
                merged = fresh if existing is None else merge_auto(existing, fresh)
            text = findings_to_json(merged)
            if _sha256(path) == before:
                atomic_write_text(path, text)
                return merged
        raise FindingsFileError(
            f"changed {attempts} times while the analysis was being merged into it; run the "
            "case again once the viewer is idle",
            path=path,
        )

    def load_record(self, case_id: str) -> CaseRecord | None:
        """The case's ``case.json``, or None when there is none.

        Raises
        ------
        FindingsFileError
            The file is not a case record.
        """
        path = self.case_dir(case_id) / self.CASE_RECORD
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise FindingsFileError(f"cannot read the case record ({exc})", path=path) from None
        return CaseRecord.from_dict(doc, path=path)

    def save_record(self, record: CaseRecord) -> Path:
        """Write ``ROOT/<case_id>/case.json`` atomically."""
        path = self.case_dir(record.case_id) / self.CASE_RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(path, json.dumps(record.to_dict(), indent=2) + "\n")


def _holds_surgeon_work(case: CaseFindings) -> bool:
    return (
        any(f.origin != "auto" for f in case.findings)
        or any(lm.origin == "manual" for lm in case.landmarks)
        or case.clinical.to_dict() != type(case.clinical)().to_dict()
    )
