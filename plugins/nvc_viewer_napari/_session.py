"""The open case as a model the panels drive: series, volumes, findings, undo/redo, autosave.

Design note
-----------
No Qt here and no napari: the panels call `CaseSession` methods and redraw when it tells them
(`CaseSession.subscribe`); a script or a test drives it the same way.

* One source of truth: the findings live in a `nvc_viewer.findings.CaseFindings` (patient RAS
  mm). Every change makes a new one (the model objects are frozen), pushes the previous one on
  the undo stack and is autosaved at once into the workspace
  (`nvc_viewer.workspace.Workspace.save`: atomic, so a crash leaves the old or the new file,
  never half of one). Reopening the case reads it back.
* The label map (`labels`, on the T2 grid) is what the analysis produced, saved beside the
  findings as ``segmentation.nii.gz`` (the batch command's file name); once corrected with
  napari's brush it is saved as ``segmentation_corrected.nii.gz`` instead, which a batch re-run
  never touches. Reopening restores the corrected map when there is one. A re-analysis gets the
  corrections when it can take them; otherwise they are kept (and exported) as they are.
* A re-analysis is merged with `nvc_viewer.findings.merge_auto`: it refreshes only the
  machine's ``auto`` findings; whatever the surgeon made, confirmed or rejected stays.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nvc_viewer.annotate import describe_point, volume_from_display
from nvc_viewer.errors import InputError, InvalidFindingError, NVCError
from nvc_viewer.findings import (
    CaseFindings,
    Finding,
    confirm,
    edit,
    flags_from_findings,
    merge_auto,
    new_finding_id,
    reject,
    source_from_volumes,
)
from nvc_viewer.geometry import DisplayGrid, to_display
from nvc_viewer.volume import Volume
from nvc_viewer.workspace import Workspace, case_id_for

__all__ = [
    "SeriesEntry",
    "list_series",
    "read_entry",
    "default_roles",
    "default_workspace",
    "CaseSession",
    "SEGMENTATION_FILE",
    "CORRECTED_SEGMENTATION_FILE",
]

#: The machine's label map in a workspace case folder (as the batch command writes it).
SEGMENTATION_FILE = "segmentation.nii.gz"
#: The label map as the surgeon corrected it with the brush: a file of its own, so that a batch
#: re-run (which rewrites SEGMENTATION_FILE) never overwrites the surgeon's work.
CORRECTED_SEGMENTATION_FILE = "segmentation_corrected.nii.gz"
#: Undo steps kept.
_UNDO_DEPTH = 200
_ARTERIES = ("AICA", "PICA", "VA", "BA", "SCA")


# -- series picking -------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesEntry:
    """One image series of an input, as the series picker lists it.

    Attributes
    ----------
    key : str
        What picks it: the DICOM series key, or the NIfTI file name.
    kind : {"dicom", "nifti"}
    description : str
        SeriesDescription, or the file name.
    sequence : str
        Sequence name (DICOM), empty for NIfTI.
    n_slices : int
    shape : tuple of int
    spacing_mm : tuple of float
        Voxel size along ``i, j, k``, mm.
    role : {"t2", "tof", "t1", "unknown"}
        The role guessed from tags or the file name.
    problems : tuple of str
        Why it cannot be read, in plain words (empty when fine).
    source : object
        A `nvc_viewer.io.dicom.SeriesInfo`, or the NIfTI `Path`.
    """

    key: str
    kind: str
    description: str
    sequence: str
    n_slices: int
    shape: tuple[int, ...]
    spacing_mm: tuple[float, ...]
    role: str
    problems: tuple[str, ...]
    source: Any = dataclasses.field(repr=False, compare=False)


def _nifti_entry(path: Path) -> SeriesEntry:
    import nibabel as nib

    from nvc_viewer.io.roles import guess_role

    problems: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()
    spacing: tuple[float, ...] = ()
    try:
        header = nib.load(path).header  # the header only: no voxel is read
        shape = tuple(int(n) for n in header.get_data_shape())
        spacing = tuple(float(z) for z in header.get_zooms()[:3])
        if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
            problems = (f"{len(shape)}-D image {shape}: not a 3-D volume",)
    except Exception as exc:  # nibabel raises many types for a broken header
        problems = (f"cannot read the header ({exc})",)
    return SeriesEntry(
        key=path.name,
        kind="nifti",
        description=path.name,
        sequence="",
        n_slices=shape[2] if len(shape) > 2 else 0,
        shape=shape[:3],
        spacing_mm=spacing,
        role=guess_role([path.name]),
        problems=problems,
        source=path,
    )


def list_series(path: str | os.PathLike[str]) -> list[SeriesEntry]:
    """Every image series of an input: a DICOM folder/file, a NIfTI file or a NIfTI folder.

    Reads headers only.

    Raises
    ------
    NVCError
        The path does not exist, or holds no readable DICOM or NIfTI series.
    """
    from nvc_viewer.errors import InputNotFoundError
    from nvc_viewer.io.nifti import is_nifti_path

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("no such file or folder", path=path)
    if path.is_file() and is_nifti_path(path):
        return [_nifti_entry(path)]
    if path.is_dir():
        niftis = sorted(p for p in path.iterdir() if p.is_file() and is_nifti_path(p))
        if niftis:
            return [_nifti_entry(p) for p in niftis]
    from nvc_viewer.io.dicom import scan_dicom

    scan = scan_dicom(path)
    return [
        SeriesEntry(
            key=s.key,
            kind="dicom",
            description=s.description,
            sequence=s.sequence,
            n_slices=s.n_slices,
            shape=tuple(s.shape),
            spacing_mm=tuple(float(v) for v in s.spacing_mm),
            role=s.role,
            problems=tuple(s.problems),
            source=s,
        )
        for s in scan.series
    ]


def read_entry(entry: SeriesEntry) -> Volume:
    """Read a listed series as a `Volume` (see `list_series`)."""
    if entry.kind == "nifti":
        from nvc_viewer.io.nifti import read_nifti

        return read_nifti(entry.source)
    from nvc_viewer.io.dicom import read_series

    return read_series(entry.source)


def default_roles(entries: Sequence[SeriesEntry]) -> tuple[str | None, str | None]:
    """The series keys to propose as T2 and TOF: the first readable one of each role.

    Without a recognised T2 the first readable non-TOF series is proposed.
    """
    readable = [e for e in entries if not e.problems]
    t2 = next((e.key for e in readable if e.role == "t2"), None)
    if t2 is None:
        t2 = next((e.key for e in readable if e.role != "tof"), None)
    tof = next((e.key for e in readable if e.role == "tof" and e.key != t2), None)
    return t2, tof


def default_workspace() -> Path:
    """Where findings are autosaved when no workspace is given.

    ``$NVC_VIEWER_WORKSPACE`` when set, else ``~/nvc-viewer-workspace``.
    """
    env = os.environ.get("NVC_VIEWER_WORKSPACE")
    return Path(env) if env else Path.home() / "nvc-viewer-workspace"


def _author() -> str | None:
    try:
        return getpass.getuser() or None
    except (KeyError, OSError):  # no user name in a container
        return None


def _warm_up(case: CaseFindings) -> None:
    from nvc_viewer.findings import findings_to_json

    try:
        findings_to_json(case)
    except NVCError:  # reported by the autosave that meets it
        pass


# -- the case -------------------------------------------------------------------------------
Listener = Callable[[str], None]


class CaseSession:
    """The case open in the viewer and everything the surgeon did to it.

    Parameters
    ----------
    workspace : Workspace or path-like
        Where findings (``<root>/<case_id>/findings.json``) and the label map are autosaved.
    author : str, optional
        Recorded on every finding the surgeon makes or reviews; default the login name.

    Notes
    -----
    Listeners (`subscribe`) are called with one word saying what changed: ``"case"`` (a case
    was opened), ``"findings"``, ``"labels"``, ``"analysis"`` (a result was applied) or
    ``"saved"`` / ``"save-failed"`` (autosave; `last_error` holds the message).
    """

    def __init__(self, workspace: Workspace | str | os.PathLike[str], *, author: str | None = None):
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        self.author = _author() if author is None else author
        self.case_id: str | None = None
        self.input_path: Path | None = None
        self.t2: Volume | None = None
        self.tof: Volume | None = None
        self.grid: DisplayGrid | None = None
        self.labels: Volume | None = None
        #: Whether ``labels`` holds the surgeon's brush corrections (since the last analysis).
        self.labels_edited = False
        self.centrelines: dict[str, np.ndarray] = {}
        #: The last analysis result of this session (what `refine` corrects), or None.
        self.result: Any = None
        self.findings: CaseFindings | None = None
        self.last_saved: Path | None = None
        self.last_error: str | None = None
        self._undo: list[CaseFindings] = []
        self._redo: list[CaseFindings] = []
        self._listeners: list[Listener] = []
        self._labels_lock = threading.Lock()

    # -- listeners ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(what)`` after every change."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self, what: str) -> None:
        """Tell every listener that ``what`` changed."""
        for listener in list(self._listeners):
            listener(what)

    # -- opening --------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.findings is not None

    def open(
        self,
        t2: Volume,
        tof: Volume | None = None,
        *,
        case_id: str | None = None,
        input_path: str | os.PathLike[str] | None = None,
    ) -> CaseFindings:
        """Open a case; restore what the workspace holds for it.

        Parameters
        ----------
        t2 : Volume
            The heavy-T2 reference; its grid is the display grid.
        tof : Volume, optional
            The TOF angiogram (any grid).
        case_id : str, optional
            Default: from ``input_path``'s name (`nvc_viewer.workspace.case_id_for`).
        input_path : path-like, optional
            The input as the user gave it.

        Returns
        -------
        CaseFindings
            The restored findings, or an empty record for a new case.

        Raises
        ------
        NVCError
            A saved ``findings.json`` that cannot be read (named in the message): the case is
            not opened rather than silently overwriting the surgeon's work.
        """
        if case_id is None:
            if input_path is None:
                raise InputError("open: give case_id or input_path")
            case_id = case_id_for(input_path)
        saved = self.workspace.load(case_id)  # raises on a broken file: nothing is replaced
        self.case_id = case_id
        self.input_path = None if input_path is None else Path(input_path)
        self.t2, self.tof = t2, tof
        _, self.grid = to_display(t2)
        self.centrelines = {}
        self.result = None
        self.labels, self.labels_edited = self._saved_labels()
        self.findings = saved if saved is not None else self._empty_record()
        self._undo.clear()
        self._redo.clear()
        self.last_error = None
        self.notify("case")
        return self.findings

    def warm_up(self) -> None:
        """Build the JSON Schema validator in a background thread (about 0.3 s) so that the
        first autosave, at the surgeon's first click, does not pay for it."""
        if self.findings is not None:
            threading.Thread(target=_warm_up, args=(self.findings,), daemon=True).start()

    def _empty_record(self) -> CaseFindings:
        assert self.case_id is not None and self.t2 is not None
        volumes = [v for v in (self.t2, self.tof) if v is not None]
        try:
            source = source_from_volumes(volumes)
        except InvalidFindingError:
            # An in-memory volume (phantom, derived): the schema knows only DICOM and NIfTI
            # sources; such volumes reach the viewer written as NIfTI.
            source = {
                "kind": "nifti",
                "series": [{"role": v.meta.role, "uid_sha256": None} for v in volumes],
            }
        return CaseFindings(case_id=self.case_id, source=source)

    def _saved_labels(self) -> tuple[Volume | None, bool]:
        """The saved label map (the corrected one first) and whether it is a corrected one."""
        assert self.case_id is not None and self.t2 is not None
        from nvc_viewer.io.nifti import read_nifti

        folder = self.workspace.case_dir(self.case_id)
        for name, corrected in ((CORRECTED_SEGMENTATION_FILE, True), (SEGMENTATION_FILE, False)):
            path = folder / name
            if not path.is_file():
                continue
            try:
                saved = read_nifti(path)
            except NVCError as exc:
                self.last_error = f"the saved label map is not used: {exc}"
                continue
            # NIfTI-1 keeps the affine in float32: about a micrometre per 100 mm.
            if saved.shape != self.t2.shape or not np.allclose(
                saved.affine, self.t2.affine, atol=1e-3
            ):
                self.last_error = f"the saved label map {path} is on another grid; not used"
                continue
            labels = self.t2.with_data(saved.data.astype(np.uint8), role="label", description="")
            return labels, corrected
        return None, False

    def _require_open(self) -> CaseFindings:
        if self.findings is None:
            raise InputError("no case is open: open a case first")
        return self.findings

    # -- changes --------------------------------------------------------------------------
    def _commit(self, new: CaseFindings, what: str = "findings") -> None:
        old = self._require_open()
        new = new.replace(
            flags=flags_from_findings(
                new.findings, new.landmarks, va_tortuosity=new.flags.va_tortuosity
            )
        )
        self._undo.append(old)
        del self._undo[:-_UNDO_DEPTH]
        self._redo.clear()
        self.findings = new
        self.autosave()
        self.notify(what)

    def finding(self, finding_id: str) -> Finding:
        """The finding with this id (KeyError if none)."""
        return self._require_open().finding(finding_id)

    def confirm(self, finding_id: str) -> Finding:
        """The surgeon accepts a finding (``auto`` -> ``auto-confirmed``)."""
        case = self._require_open()
        f = confirm(case.finding(finding_id), author=self.author)
        self._commit(case.with_finding(f))
        return f

    def reject(self, finding_id: str) -> Finding:
        """The surgeon rejects a machine finding (kept, as ``auto-rejected``).

        Raises
        ------
        InvalidFindingError
            For a manual finding (delete it instead).
        """
        case = self._require_open()
        f = reject(case.finding(finding_id), author=self.author)
        self._commit(case.with_finding(f))
        return f

    def delete(self, finding_id: str) -> None:
        """Remove a finding (undo brings it back)."""
        case = self._require_open()
        self._commit(case.without_finding(finding_id))

    def edit(self, finding_id: str, **changes: Any) -> Finding:
        """Correct fields of a finding (`nvc_viewer.findings.edit`).

        Changing ``vessel`` without ``vessel_kind`` sets the kind that goes with it (an artery
        name -> ``"artery"``, ``"vein"`` -> ``"vein"``, else ``"unknown"``).
        """
        case = self._require_open()
        current = case.finding(finding_id)
        if "vessel" in changes and "vessel_kind" not in changes:
            vessel = changes["vessel"]
            changes["vessel_kind"] = (
                "artery" if vessel in _ARTERIES else "vein" if vessel == "vein" else "unknown"
            )
        changes = {k: v for k, v in changes.items() if getattr(current, k, object()) != v}
        if not changes:
            return current
        f = edit(current, author=self.author, **changes)
        self._commit(case.with_finding(f))
        return f

    def add_manual(self, position_ras: Sequence[float] | np.ndarray, **fields: Any) -> Finding:
        """Record a finding the surgeon placed by hand at ``position_ras`` (RAS mm).

        Side, nerve, distance along the nerve from the RDP, segment, nearest vessel and crossing
        angle are measured from the analysis' centrelines, or from the saved landmarks after a
        reopen (`nvc_viewer.annotate.describe_point`); ``fields`` override any of them (e.g.
        ``grade``). Without any nerve information the side comes from the point's position
        against the T2 volume's centre and the note says to check it.
        """
        case = self._require_open()
        position = np.asarray(position_ras, dtype=np.float64)
        try:
            d = describe_point(position, self.centrelines, case.landmarks)
            measured: dict[str, Any] = {
                "side": d.side,
                "nerve": d.nerve,
                "segment": d.segment,
                "distance_from_brainstem_mm": d.distance_from_brainstem_mm,
                "vessel": d.vessel,
                "vessel_kind": d.vessel_kind,
                "crossing_angle_deg": d.crossing_angle_deg,
                "note": f"placed by hand {d.distance_to_nerve_mm:.1f} mm from the "
                f"{d.nerve} centreline",
            }
        except InvalidFindingError:
            assert self.t2 is not None
            centre = self.t2.ras_of((np.asarray(self.t2.shape) - 1) / 2.0)
            measured = {
                "side": "right" if position[0] >= centre[0] else "left",  # RAS: +x = right
                "nerve": "VII",
                "segment": "cisternal",
                "distance_from_brainstem_mm": None,
                "vessel": "unknown",
                "vessel_kind": "unknown",
                "note": "placed by hand without a nerve centreline: check side, nerve, segment",
            }
        record: dict[str, Any] = {
            "grade": "contact",
            "confidence": 1.0,
            **measured,
            **fields,
        }
        f = Finding(
            id=new_finding_id(),
            position_ras=tuple(position),
            origin="manual",
            author=self.author,
            **record,
        )
        self._commit(case.with_finding(f))
        return f

    def set_clinical(self, **changes: Any) -> None:
        """Change the surgeon's clinical record (condition, symptomatic side, EMG, note)."""
        case = self._require_open()
        clinical = dataclasses.replace(case.clinical, **changes)
        self._commit(case.replace(clinical=clinical))

    # -- undo / redo ----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Go back one change (autosaved). Returns False when there is nothing to undo."""
        if not self._undo or self.findings is None:
            return False
        self._redo.append(self.findings)
        self.findings = self._undo.pop()
        self.autosave()
        self.notify("findings")
        return True

    def redo(self) -> bool:
        """Re-apply the change last undone. Returns False when there is nothing to redo."""
        if not self._redo or self.findings is None:
            return False
        self._undo.append(self.findings)
        self.findings = self._redo.pop()
        self.autosave()
        self.notify("findings")
        return True

    # -- analysis -------------------------------------------------------------------------
    def apply_analysis(
        self, result: Any, *, labels: Volume | None = None, save_labels: bool = True
    ) -> CaseFindings:
        """Take an analysis result: its label map, centrelines, landmarks and findings.

        The machine's findings are merged with the surgeon's (`merge_auto`): only ``auto`` ones
        are replaced. One undo step takes the findings back to before the analysis.

        Parameters
        ----------
        result : AnalysisResult
        labels : Volume, optional
            The label map to keep instead of ``result.labels`` (the surgeon's corrections, when
            the analysis could not take them).
        save_labels : bool, optional
            False when the caller has written the label map already (off the GUI thread).
        """
        case = self._require_open()
        assert self.t2 is not None and self.case_id is not None
        fresh = result.to_case_findings(self.case_id, t2=self.t2, tof=self.tof)
        self.result = result
        self.centrelines = {
            k: np.asarray(v, dtype=np.float64) for k, v in dict(result.centrelines).items()
        }
        if labels is None and getattr(result, "labels", None) is not None:
            # The machine's map replaces the corrections (they went into the analysis, or the
            # surgeon chose not to use them): the files say the same.
            self.labels, self.labels_edited = result.labels, False
            self._remove_corrected_labels()
            if save_labels:
                self.save_labels()
        elif labels is not None:
            self.labels, self.labels_edited = labels, True  # kept corrections stay corrections
            if save_labels:
                self.save_labels()
        merged = merge_auto(case, fresh)
        self._commit(merged, what="analysis")
        return merged

    # -- label map ------------------------------------------------------------------------
    def set_labels_from_display(self, data: np.ndarray, *, save: bool = True) -> Volume:
        """Take the label map as shown (display order, e.g. after brush corrections)."""
        if self.t2 is None or self.grid is None:
            raise InputError("no case is open: open a case first")
        self.labels = volume_from_display(np.asarray(data), self.grid, self.t2)
        self.labels_edited = True
        if save:
            self.save_labels()
        self.notify("labels")
        return self.labels

    def labels_path(self, *, corrected: bool | None = None) -> Path:
        """Where the label map of the open case is saved (the workspace case folder).

        ``corrected`` (default: whether `labels` holds brush corrections) picks the corrected
        map's file or the machine's.
        """
        if self.case_id is None:
            raise InputError("no case is open: open a case first")
        corrected = self.labels_edited if corrected is None else corrected
        name = CORRECTED_SEGMENTATION_FILE if corrected else SEGMENTATION_FILE
        return self.workspace.case_dir(self.case_id) / name

    def _remove_corrected_labels(self) -> None:
        path = self.labels_path(corrected=True)
        try:
            with self._labels_lock:
                path.unlink(missing_ok=True)
        except OSError as exc:
            self.last_error = f"the old corrected label map could not be removed: {exc}"

    def save_labels(self, *, report: bool = True) -> Path | None:
        """Write the label map into the workspace case folder (atomic); None without one.

        Safe to call from a worker thread with ``report=False`` (then a failure raises instead
        of being reported to the listeners, which may touch the GUI).
        """
        labels = self.labels
        if labels is None or self.case_id is None:
            return None
        from nvc_viewer.export.nifti_labels import write_segmentation_nifti

        path = self.labels_path()
        try:
            with self._labels_lock:  # two quick saves must not finish out of order
                path.parent.mkdir(parents=True, exist_ok=True)
                return write_segmentation_nifti(labels, path)
        except (OSError, NVCError) as exc:
            if not report:
                raise
            self.last_error = f"the label map could not be saved: {exc}"
            self.notify("save-failed")
            return None

    # -- saving and exporting -------------------------------------------------------------
    def autosave(self) -> Path | None:
        """Write ``findings.json`` now (atomic). A failure is reported, never raised: the
        findings stay in memory and the next change tries again."""
        if self.findings is None:
            return None
        try:
            self.last_saved = self.workspace.save(self.findings)
        except (OSError, NVCError) as exc:
            self.last_error = f"autosave failed: {exc}"
            self.notify("save-failed")
            return None
        self.last_error = None
        self.notify("saved")
        return self.last_saved

    def export(
        self, out_dir: str | os.PathLike[str] | None = None, *, formats: Iterable[str] | None = None
    ) -> list[Path]:
        """Write every export format (`nvc_viewer.export.export_case`).

        Parameters
        ----------
        out_dir : path-like, optional
            Default: the case folder of the workspace.
        formats : iterable of str, optional
            Default: all of `nvc_viewer.export.FORMATS`.
        """
        from nvc_viewer.export import FORMATS, export_case

        case = self._require_open()
        assert self.t2 is not None and self.case_id is not None
        out = self.workspace.case_dir(self.case_id) if out_dir is None else Path(out_dir)
        return export_case(
            case,
            out,
            t2=self.t2,
            labels=self.labels,
            formats=FORMATS if formats is None else tuple(formats),
        )
