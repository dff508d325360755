"""The workspace: one folder holding the machine's and the surgeons' work, case by case.

Design note
-----------
A workspace is an output folder laid out as DESIGN.md section 5 says: ``ROOT/<case_id>/`` holds
``findings.json`` and the exports of that case. The batch command writes it; the viewer autosaves
into the same layout, so one folder holds both. A re-analysis goes through
`nvc_viewer.findings.merge_auto`: it refreshes only ``auto`` findings; whatever a surgeon made
(``manual``), confirmed (``auto-confirmed``) or rejected (``auto-rejected``) is kept.

Case ids are built from folder or file names only -- never from a DICOM value -- and sanitised to
``[A-Za-z0-9._-]`` so no name can lead outside the workspace.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import InputError
from .findings import CaseFindings, merge_auto, read_findings_json, write_findings_json

__all__ = [
    "sanitize_case_id",
    "case_id_for",
    "Workspace",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_case_id(name: str) -> str:
    """Make a case id from a file or folder name: ``[A-Za-z0-9._-]`` only, never empty or dots.

    Parameters
    ----------
    name : str
        A folder name or a NIfTI file name (its ``.nii``/``.nii.gz`` suffix is dropped).
    """
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    cleaned = _UNSAFE.sub("_", name).strip("._-")
    return cleaned or "case"


def case_id_for(path: str | Path) -> str:
    """The case id of an input path: its folder or NIfTI file name, sanitised."""
    path = Path(path)
    return sanitize_case_id(path.resolve().name if path.name in ("", ".", "..") else path.name)


class Workspace:
    """A folder of cases, ``ROOT/<case_id>/findings.json`` and exports.

    Parameters
    ----------
    root : path-like
        Created on first write.
    """

    FINDINGS = "findings.json"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def case_dir(self, case_id: str) -> Path:
        """``ROOT/<case_id>``; refuses an id that is not already sanitised."""
        if sanitize_case_id(case_id) != case_id:
            raise InputError(
                f"case id {case_id!r} holds characters outside [A-Za-z0-9._-]", path=self.root
            )
        return self.root / case_id

    def findings_path(self, case_id: str) -> Path:
        return self.case_dir(case_id) / self.FINDINGS

    def case_ids(self) -> list[str]:
        """Ids of the cases that have a saved ``findings.json``, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{self.FINDINGS}"))

    def load(self, case_id: str) -> CaseFindings | None:
        """The saved findings of a case, or None when there are none yet."""
        path = self.findings_path(case_id)
        return read_findings_json(path) if path.exists() else None

    def save(self, case: CaseFindings) -> Path:
        """Write ``findings.json`` of a case atomically (a crash leaves the old or the new file)."""
        path = self.findings_path(case.case_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_findings_json(case, path)
        return path

    def save_analysis(self, fresh: CaseFindings, *, force: bool = False) -> CaseFindings:
        """Merge a fresh analysis into what is saved (`nvc_viewer.findings.merge_auto`), save it.

        With ``force`` what was saved is dropped, surgeons' findings included.
        """
        existing = None if force else self.load(fresh.case_id)
        merged = fresh if existing is None else merge_auto(existing, fresh)
        self.save(merged)
        return merged
