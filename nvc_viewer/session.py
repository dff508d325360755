"""The case: which series it is made of, its saved work, autosave and export -- one owner.

Design note
-----------
Everything the program knows about *one case* lives here, without Qt or napari: the viewer's
panels, the napari reader, the batch command and ``nvc-viewer export`` all drive this module,
so that they cannot disagree about a case.

* **Which series.** `list_series` lists every image series of an input -- DICOM series and
  NIfTI files side by side, label maps marked as such (``role == "label"``) -- from the one
  folder sniffer (`nvc_viewer.io.sniff`). `choose_series` is the one rule of which series are
  the T2 and the TOF, used by the viewer's proposal (`default_roles`), the napari reader and the
  batch command (`case_volumes`, behind `nvc_viewer.io.load_case`):

  - the T2: the series asked for; else, when the input holds DICOM series, the only one or the
    only one recognised as heavy-T2 (`nvc_viewer.io.dicom.pick_series`); else the only NIfTI
    file that is not a label map, or the only one named as T2 (`nvc_viewer.io.pick_nifti`);
    several candidates and no choice is refused with the list;
  - the TOF: the series asked for (``"none"``: no TOF); else the one series recognised as TOF
    -- none, or several, means no TOF (the surgeon or ``--tof`` picks one);
  - a label map is never the T2 or the TOF unless asked for by name.

* **Saved work.** A case's findings (`nvc_viewer.findings.CaseFindings`, patient RAS mm) are
  autosaved atomically into the workspace (`nvc_viewer.workspace.Workspace`) after every
  change, with undo/redo. The machine's label map is ``segmentation.nii.gz``; a map the
  surgeon corrected with the brush is ``segmentation_corrected.nii.gz``, which a re-analysis
  never overwrites and which wins wherever the case is opened or exported (`saved_labels`).
  Opening a case records where its images are (``case.json``, `nvc_viewer.workspace.CaseRecord`)
  so that ``nvc-viewer export`` finds them again.

* **The right series.** ``findings.json`` names the series it was made on
  (``source.series[].uid_sha256``: `nvc_viewer.findings.series_fingerprint`, the sha256 of the
  DICOM SeriesInstanceUID or of a NIfTI file's name, shape and affine). Saved findings are never
  attached to another series: opening or exporting them on one whose fingerprint differs is
  refused (`SeriesMismatchError`). Files written before NIfTI fingerprints existed (null) open.

* A re-analysis is merged with `nvc_viewer.findings.merge_auto`: it refreshes only the
  machine's ``auto`` findings; whatever the surgeon made, confirmed or rejected stays.

* **Review.** Only `CaseSession.confirm` and `CaseSession.reject` decide a proposal; an edit keeps
  it ``auto`` and marks it ``edited``. Every change is one undo step that says what it did
  (`CaseSession.undo_description`: ``"confirm VII-L AICA contact"``).

* **The view.** Where the surgeon was looking (slice position in RAS mm, zoom, 2-D or 3-D, the
  selected finding) is saved with the case in ``view.json`` beside ``findings.json``
  (`CaseSession.set_view`: written atomically a moment after the last change) and read when the
  case is opened again (`CaseSession.view_state`). It is a convenience: a missing or broken
  ``view.json`` never stops a case from opening.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .annotate import describe_point, volume_from_display
from .atomic import atomic_write_text
from .errors import (
    InputError,
    InputNotFoundError,
    InvalidFindingError,
    NVCError,
    SeriesMismatchError,
    SeriesSelectionError,
)
from .findings import (
    CaseFindings,
    Finding,
    confirm,
    edit,
    flags_from_findings,
    merge_auto,
    new_finding_id,
    reject,
    series_fingerprint,
    source_from_volumes,
)
from .geometry import DisplayGrid, to_display
from .io import CaseVolumes
from .volume import Volume
from .workspace import CaseRecord, Workspace, case_id_for

__all__ = [
    "SeriesEntry",
    "list_series",
    "read_entry",
    "choose_series",
    "default_roles",
    "case_volumes",
    "series_key",
    "check_same_series",
    "saved_labels",
    "default_workspace",
    "CaseSession",
    "SavedExport",
    "export_saved_case",
    "SEGMENTATION_FILE",
    "CORRECTED_SEGMENTATION_FILE",
    "VIEW_FILE",
]

#: The machine's label map in a workspace case folder (as the batch command writes it).
SEGMENTATION_FILE = Workspace.SEGMENTATION
#: The label map as the surgeon corrected it with the brush (`Workspace.CORRECTED_SEGMENTATION`).
CORRECTED_SEGMENTATION_FILE = Workspace.CORRECTED_SEGMENTATION
#: Where the surgeon was looking, in a workspace case folder (`CaseSession.set_view`).
VIEW_FILE = "view.json"
_VIEW_SCHEMA = "nvc-viewer/view"
#: Seconds after the last change of the view before ``view.json`` is written.
_VIEW_SAVE_DELAY_S = 0.5
#: Undo steps kept.
_UNDO_DEPTH = 200
_ARTERIES = ("AICA", "PICA", "VA", "BA", "SCA")
#: Formats that need the DICOM source.
_DICOM_FORMATS = ("seg", "sr")


# -- which series -----------------------------------------------------------------------------
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
    role : {"t2", "tof", "t1", "label", "unknown"}
        The role guessed from tags or the file name; ``"label"`` for a NIfTI label map
        (`nvc_viewer.io.sniff.is_label_map`), never proposed as the T2 or the TOF.
    problems : tuple of str
        Why it cannot be read, in plain words (empty when fine).
    source : object
        A `nvc_viewer.io.dicom.SeriesInfo`, or the NIfTI `Path`.
    scan : object
        The `nvc_viewer.io.dicom.DicomScan` a DICOM series was found by (None for NIfTI).
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
    source: Any = field(repr=False, compare=False)
    scan: Any = field(default=None, repr=False, compare=False)

    @property
    def is_label_map(self) -> bool:
        """A label map: listed, never proposed as the T2 or the TOF."""
        return self.role == "label"


def _nifti_entry(path: Path) -> SeriesEntry:
    import nibabel as nib

    from .io.roles import guess_role
    from .io.sniff import is_label_map

    problems: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()
    spacing: tuple[float, ...] = ()
    try:
        header: Any = nib.load(path).header  # the header only: no voxel is read
        shape = tuple(int(n) for n in header.get_data_shape())
        spacing = tuple(float(z) for z in header.get_zooms()[:3])
        if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
            problems = (f"{len(shape)}-D image {shape}: not a 3-D volume",)
    except Exception as exc:  # nibabel raises many types for a broken header
        problems = (f"cannot read the header ({exc})",)
    role = "label" if not problems and is_label_map(path) else guess_role([path.name])
    return SeriesEntry(
        key=path.name,
        kind="nifti",
        description=path.name,
        sequence="",
        n_slices=shape[2] if len(shape) > 2 else 0,
        shape=shape[:3],
        spacing_mm=spacing,
        role=role,
        problems=problems,
        source=path,
    )


def _dicom_entries(scan: Any) -> list[SeriesEntry]:
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
            scan=scan,
        )
        for s in scan.series
    ]


def _scan(path: Path) -> tuple[list[SeriesEntry], Any]:
    """The entries of an input and the DICOM scan behind them (None when none was made)."""
    from .io.nifti import is_nifti_path
    from .io.sniff import sniff_folder

    if not path.exists():
        raise InputNotFoundError("no such file or folder", path=path)
    if path.is_file() and is_nifti_path(path):
        return [_nifti_entry(path)], None
    niftis: list[SeriesEntry] = []
    if path.is_dir():
        found = sniff_folder(path)
        niftis = [_nifti_entry(p) for p in found.nifti]
        if not found.may_hold_dicom:
            return niftis, None
    from .io.dicom import scan_dicom

    scan = scan_dicom(path)
    return _dicom_entries(scan) + niftis, scan


def list_series(path: str | os.PathLike[str]) -> list[SeriesEntry]:
    """Every image series of an input: DICOM series first, then the folder's NIfTI files.

    ``path`` is a DICOM folder or file, a NIfTI file, or a folder holding both. Label maps are
    listed (``role == "label"``) but never proposed. Reads headers only (and three slices
    of an integer NIfTI file, to tell a label map).

    Raises
    ------
    NVCError
        The path does not exist.
    """
    return _scan(Path(path))[0]


def read_entry(entry: SeriesEntry) -> Volume:
    """Read a listed series as a `Volume` (see `list_series`)."""
    if entry.kind == "nifti":
        from .io.nifti import read_nifti

        return read_nifti(entry.source)
    from .io.dicom import read_series

    return read_series(entry.source)


def _match_nifti(entries: Sequence[SeriesEntry], wanted: str) -> SeriesEntry | None:
    for e in entries:
        if e.kind == "nifti" and wanted in (e.key, e.key.split(".")[0], Path(e.key).stem):
            return e
    return None


def _pick(entries: Sequence[SeriesEntry], scan: Any, wanted: str | None, path: Path) -> SeriesEntry:
    """One series: ``wanted`` (a key, file name, UID, number, role or description), or the T2."""
    from .io import pick_nifti

    if wanted is not None:
        named = _match_nifti(entries, wanted)
        if named is not None:
            return named
    dicom = [e for e in entries if e.kind == "dicom"]
    niftis = [e for e in entries if e.kind == "nifti"]
    if scan is not None and (dicom or not niftis):
        from .io.dicom import pick_series

        info = pick_series(scan, wanted)  # the DICOM rule, with its messages
        picked = next((e for e in dicom if e.key == info.key), None)
        if picked is None:  # left out of the entries given (e.g. not readable)
            raise SeriesSelectionError(f"series {info.key} is not among those offered", path=path)
        return picked
    folder = path if path.is_dir() else path.parent
    candidates = niftis
    if wanted is None or wanted.lower() in ("t2", "tof", "t1"):
        candidates = [e for e in niftis if not e.is_label_map] or niftis
    chosen = pick_nifti(folder, [Path(e.source) for e in candidates], wanted)
    return next(e for e in candidates if Path(e.source) == chosen)


def choose_series(
    entries: Sequence[SeriesEntry],
    t2: str | None = None,
    tof: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    scan: Any = None,
) -> tuple[SeriesEntry, SeriesEntry | None]:
    """The T2 and the TOF of a case: the one rule (see the module's design note).

    Parameters
    ----------
    entries : sequence of SeriesEntry
        From `list_series`.
    t2, tof : str, optional
        Which series (DICOM: key, UID, number, role or description; NIfTI: file name).
        ``tof="none"``: no TOF.
    path : path-like, optional
        The input, for the messages (default: the folder of the first entry).
    scan : DicomScan, optional
        The DICOM scan of the input (default: the one the entries were found by), so that an
        input without any series is refused with what the scan found.

    Returns
    -------
    (SeriesEntry, SeriesEntry or None)

    Raises
    ------
    SeriesSelectionError
        No T2 can be chosen (none, or several, fit), or a series asked for is not there.
    NoSeriesFoundError
        The input holds no image series.
    """
    if scan is None:
        scan = next((e.scan for e in entries if e.scan is not None), None)
    if path is None:
        first = next(iter(entries), None)
        if first is None:
            raise SeriesSelectionError("no image series to choose from")
        path = scan.folder if scan is not None else Path(first.source).parent
    path = Path(path)
    t2_entry = _pick(entries, scan, t2 or None, path)
    tof_entry = None
    if tof != "none":
        try:
            tof_entry = _pick(entries, scan, tof or "tof", path)
        except SeriesSelectionError:
            if tof:  # asked for explicitly: say so
                raise
        if tof_entry is not None and (
            tof_entry.key == t2_entry.key or (tof_entry.is_label_map and not tof)
        ):
            tof_entry = None
    if t2_entry.is_label_map and not t2:
        raise SeriesSelectionError(
            f"{t2_entry.key} is a label map, not an image; choose the T2 series (--t2)",
            path=path,
        )
    return t2_entry, tof_entry


def default_roles(entries: Sequence[SeriesEntry]) -> tuple[str | None, str | None]:
    """The series keys to propose as T2 and TOF (`choose_series` among the readable ones).

    When the rule cannot choose a T2 (several fit, or none) the first readable series that is
    neither a TOF nor a label map is proposed; the surgeon checks it. The TOF is the one series
    recognised as TOF, else none.
    """
    readable = [e for e in entries if not e.problems]
    t2: str | None
    tof: str | None
    try:
        t2_entry, tof_entry = choose_series(readable)
        if t2_entry.problems or t2_entry.is_label_map:
            raise SeriesSelectionError("not readable")
        t2 = t2_entry.key
        tof = None if tof_entry is None else tof_entry.key
    except NVCError:
        images = [e for e in readable if not e.is_label_map]
        t2 = next((e.key for e in images if e.role == "t2"), None)
        if t2 is None:
            t2 = next((e.key for e in images if e.role != "tof"), None)
        tofs = [e.key for e in images if e.role == "tof" and e.key != t2]
        tof = tofs[0] if len(tofs) == 1 else None
    return t2, tof


def series_key(volume: Volume, input_path: str | os.PathLike[str] | None = None) -> str | None:
    """What picks a read series again in its input: the DICOM series key, or the NIfTI file
    name (None for a NIfTI file given as the input itself, or an in-memory volume)."""
    if volume.meta.kind == "dicom":
        key = volume.meta.extra.get("series_key")
        return str(key) if key else None
    if volume.meta.kind == "nifti" and volume.meta.source_paths:
        if input_path is not None and Path(input_path).is_file():
            return None
        return Path(volume.meta.source_paths[0]).name
    return None


def case_volumes(
    path: str | os.PathLike[str],
    *,
    t2: str | None = None,
    tof: str | None = None,
    tof_errors: str = "raise",
) -> CaseVolumes:
    """Read a case's T2 and TOF as `choose_series` picks them (`nvc_viewer.io.load_case`).

    Parameters
    ----------
    path : path-like
        A NIfTI file (a T2-only case), a folder of NIfTI files, a DICOM folder or file.
    t2, tof : str, optional
        As `choose_series`.
    tof_errors : {"raise", "warn"}
        What a TOF that cannot be read does: stop (the batch), or a ``UserWarning`` and no TOF
        (the viewer shows the T2 alone).

    Raises
    ------
    NVCError
        A subclass naming the file and the problem.
    """
    path = Path(path)
    entries, scan = _scan(path)
    t2_entry, tof_entry = choose_series(entries, t2, tof, path=path, scan=scan)
    t2_volume = read_entry(t2_entry)
    t2_key = None if path.is_file() and t2_entry.kind == "nifti" else t2_entry.key
    if tof_entry is None:
        return CaseVolumes(t2_volume, t2_key=t2_key)
    try:
        tof_volume = read_entry(tof_entry)
    except NVCError as exc:
        if tof_errors != "warn":
            raise
        import warnings

        warnings.warn(f"the TOF series is not shown: {exc}", UserWarning, stacklevel=2)
        return CaseVolumes(t2_volume, t2_key=t2_key)
    return CaseVolumes(t2_volume, tof_volume, t2_key, tof_entry.key)


def check_same_series(
    case: CaseFindings,
    t2: Volume | None,
    tof: Volume | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse saved findings made on other series than ``t2`` / ``tof``.

    ``case.source["series"]`` lists the T2 first, then the TOF; a series recorded without a
    fingerprint (null: older files, in-memory volumes) and a volume without one pass.

    Raises
    ------
    SeriesMismatchError
        Naming ``path`` (the saved ``findings.json``) and which series differs.
    """
    recorded = list(case.source.get("series", []))
    for index, (what, volume) in enumerate((("T2", t2), ("TOF", tof))):
        if volume is None or index >= len(recorded):
            continue
        wanted = recorded[index].get("uid_sha256")
        have = series_fingerprint(volume)
        if wanted and have and wanted != have:
            name = volume.meta.description or (
                Path(volume.meta.source_paths[0]).name if volume.meta.source_paths else "?"
            )
            raise SeriesMismatchError(
                f"the saved findings of case {case.case_id!r} were made on another {what} "
                f"series (fingerprint {wanted[:12]}) than the one opened ({name}, fingerprint "
                f"{have[:12]}); open the series they were made on, or give this case another id",
                path=path,
            )


def saved_labels(
    workspace: Workspace, case_id: str, t2: Volume | None
) -> tuple[Volume | None, bool, str | None]:
    """The label map saved for a case, the corrected one first.

    Returns
    -------
    (Volume or None, bool, str or None)
        The map on ``t2``'s grid (as saved when ``t2`` is None), whether it is the surgeon's
        corrected one, and why a saved map was not used (None when fine or none was saved).
    """
    from .io.nifti import read_nifti

    why = None
    for path, corrected in workspace.labels_paths(case_id):
        if not path.is_file():
            continue
        try:
            saved = read_nifti(path)
        except NVCError as exc:
            why = why or f"the saved label map {path.name} cannot be read ({exc.reason})"
            continue
        if t2 is None:
            return saved.with_data(saved.data.astype(np.uint8), role="label"), corrected, None
        # NIfTI-1 keeps the affine in float32: about a micrometre per 100 mm.
        if saved.shape != t2.shape or not np.allclose(saved.affine, t2.affine, atol=1e-3):
            why = why or f"the saved label map {path.name} is on another grid than the T2 series"
            continue
        labels = t2.with_data(saved.data.astype(np.uint8), role="label", description="labels")
        return labels, corrected, None
    return None, False, why


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
    from .findings import findings_to_json

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
        # each step: the findings before it, and what it did ("confirm VII-L AICA contact")
        self._undo: list[tuple[CaseFindings, str]] = []
        self._redo: list[tuple[CaseFindings, str]] = []
        #: The saved view of the open case (`set_view`), or None.
        self.view_state: dict[str, Any] | None = None
        self._view_lock = threading.Lock()
        self._view_timer: threading.Timer | None = None
        self._view_dirty = False
        self._listeners: list[Listener] = []
        self._labels_lock = threading.Lock()
        self._record_pending = False

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
        self.flush_view()  # the view of the case open before goes with that case
        if saved is not None:  # never attach the surgeon's work to another series
            check_same_series(saved, t2, tof, path=self.workspace.findings_path(case_id))
        self.case_id = case_id
        self.input_path = None if input_path is None else Path(input_path)
        self.t2, self.tof = t2, tof
        _, self.grid = to_display(t2)
        self.centrelines = {}
        self.result = None
        self.last_error = None
        self.labels, self.labels_edited, why = saved_labels(self.workspace, case_id, t2)
        if why is not None:
            self.last_error = f"{why}; not used"
        self.findings = saved if saved is not None else self._empty_record()
        self._undo.clear()
        self._redo.clear()
        self.view_state = self._read_view()
        self._record_pending = True  # case.json goes with the first file saved
        self.notify("case")
        return self.findings

    def open_path(
        self,
        path: str | os.PathLike[str],
        *,
        t2: str | None = None,
        tof: str | None = None,
        case_id: str | None = None,
    ) -> CaseFindings:
        """Open the case of an input as `choose_series` picks its series (`open`)."""
        volumes = case_volumes(path, t2=t2, tof=tof)
        return self.open(volumes.t2, volumes.tof, case_id=case_id, input_path=path)

    def open_saved(self, case_id: str) -> CaseFindings:
        """Open a saved case of the workspace from the images its ``case.json`` names.

        Raises
        ------
        NVCError
            No saved case, no ``case.json``, images gone or changed (`SeriesMismatchError`).
        """
        record = self.workspace.load_record(case_id)
        if record is None:
            raise InputNotFoundError(
                "no case.json records where this case's images are",
                path=self.workspace.case_dir(case_id),
            )
        if not Path(record.path).exists():
            raise InputNotFoundError(f"the images of case {case_id!r} are gone", path=record.path)
        volumes = case_volumes(record.path, t2=record.t2, tof=record.tof or "none")
        return self.open(volumes.t2, volumes.tof, case_id=case_id, input_path=record.path)

    def close(self) -> None:
        """Forget the open case (everything is saved already: every change autosaves)."""
        self.flush_view()
        self.view_state = None
        self.case_id = self.input_path = None
        self.t2 = self.tof = self.grid = self.labels = None
        self.labels_edited = False
        self.centrelines = {}
        self.result = None
        self.findings = None
        self._undo.clear()
        self._redo.clear()
        self.notify("closed")

    def _record_source(self) -> None:
        """Write ``case.json`` (where the images are) when it is missing or names others.

        Called with the first save of an opened case: opening alone writes nothing.
        """
        if not self._record_pending or self.case_id is None or self.t2 is None:
            return
        self._record_pending = False
        if self.input_path is None or self.t2.meta.kind not in ("dicom", "nifti"):
            return
        record = CaseRecord(
            case_id=self.case_id,
            input=str(self.input_path),
            path=str(self.input_path.resolve()),
            kind="dicom" if self.t2.meta.kind == "dicom" else "nifti",
            t2=series_key(self.t2, self.input_path),
            tof=None if self.tof is None else series_key(self.tof, self.input_path),
        )
        try:
            old = self.workspace.load_record(self.case_id)
        except NVCError:
            old = None
        same = ("path", "kind", "t2", "tof")
        if old is not None and all(getattr(old, k) == getattr(record, k) for k in same):
            return
        try:
            self.workspace.save_record(record)
        except (OSError, NVCError) as exc:
            self.last_error = f"case.json could not be saved: {exc}"

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

    def _require_open(self) -> CaseFindings:
        if self.findings is None:
            raise InputError("no case is open: open a case first")
        return self.findings

    # -- changes --------------------------------------------------------------------------
    def _commit(self, new: CaseFindings, what: str = "findings", *, step: str = "change") -> None:
        old = self._require_open()
        new = new.replace(
            flags=flags_from_findings(
                new.findings, new.landmarks, va_tortuosity=new.flags.va_tortuosity
            )
        )
        self._undo.append((old, step))
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
        self._commit(case.with_finding(f), step=f"confirm {f.label}")
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
        self._commit(case.with_finding(f), step=f"reject {f.label}")
        return f

    def delete(self, finding_id: str) -> None:
        """Remove a finding (undo brings it back)."""
        case = self._require_open()
        label = case.finding(finding_id).label
        self._commit(case.without_finding(finding_id), step=f"delete {label}")

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
        shown = {k: v for k, v in changes.items() if k != "vessel_kind"} or changes
        what = ", ".join(
            "note" if k == "note" else f"{k.replace('_', ' ')} {v}" for k, v in shown.items()
        )
        self._commit(case.with_finding(f), step=f"edit {current.label}: {what}")
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
                "rationale": f"placed by hand {d.distance_to_nerve_mm:.1f} mm from the "
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
                "rationale": "placed by hand without a nerve centreline: check side, nerve, "
                "segment",
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
        self._commit(case.with_finding(f), step=f"add {f.label}")
        return f

    def set_clinical(self, **changes: Any) -> None:
        """Change the surgeon's clinical record (condition, symptomatic side, EMG, note)."""
        case = self._require_open()
        clinical = dataclasses.replace(case.clinical, **changes)
        fields = ", ".join(k.replace("_", " ") for k in changes)
        self._commit(case.replace(clinical=clinical), step=f"set {fields}")

    # -- undo / redo ----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_description(self) -> str | None:
        """What `undo` would take back, e.g. ``"confirm VII-L AICA contact"`` (None: nothing)."""
        return self._undo[-1][1] if self._undo else None

    @property
    def redo_description(self) -> str | None:
        """What `redo` would apply again (None: nothing)."""
        return self._redo[-1][1] if self._redo else None

    def undo(self) -> bool:
        """Go back one change (autosaved). Returns False when there is nothing to undo."""
        if not self._undo or self.findings is None:
            return False
        previous, step = self._undo.pop()
        self._redo.append((self.findings, step))
        self.findings = previous
        self.autosave()
        self.notify("findings")
        return True

    def redo(self) -> bool:
        """Re-apply the change last undone. Returns False when there is nothing to redo."""
        if not self._redo or self.findings is None:
            return False
        following, step = self._redo.pop()
        self._undo.append((self.findings, step))
        self.findings = following
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
        self._commit(merged, what="analysis", step="analysis")
        return merged

    @property
    def was_analysed(self) -> bool:
        """Whether the open case has been analysed: the machine's label map is saved."""
        if self.case_id is None:
            return False
        return self.workspace.segmentation_path(self.case_id).is_file()

    def restore_analysis(self, result: Any) -> None:
        """Take an analysis result recomputed on reopening a case, for the at-click tools.

        Only what `nvc_viewer.analysis.refine` and manual placement need is taken (the result
        and its centrelines): the saved findings, landmarks and label map stay as the surgeon
        left them, and nothing is written. Listeners hear ``"analysis-restored"``.
        """
        self._require_open()
        self.result = result
        self.centrelines = {
            k: np.asarray(v, dtype=np.float64) for k, v in dict(result.centrelines).items()
        }
        self.notify("analysis-restored")

    # -- the view -------------------------------------------------------------------------
    def view_path(self) -> Path:
        """``view.json`` of the open case (in the workspace case folder)."""
        if self.case_id is None:
            raise InputError("no case is open: open a case first")
        return self.workspace.case_dir(self.case_id) / VIEW_FILE

    def _read_view(self) -> dict[str, Any] | None:
        import json

        try:
            doc = json.loads(self.view_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or broken: the view is a convenience
            return None
        if not isinstance(doc, dict) or doc.get("schema") != _VIEW_SCHEMA:
            return None
        return {k: v for k, v in doc.items() if k not in ("schema", "schema_version")}

    def set_view(self, **state: Any) -> None:
        """Record where the surgeon is looking (JSON-ready values: e.g. ``point_ras``, ``zoom``,
        ``ndisplay``, ``selected``); ``view.json`` is written a moment after the last change
        (`flush_view` writes it now)."""
        if self.case_id is None:
            return
        with self._view_lock:
            merged = {**(self.view_state or {}), **state}
            if merged == self.view_state and not self._view_dirty:
                return
            self.view_state = merged
            self._view_dirty = True
            if self._view_timer is not None:
                self._view_timer.cancel()
            self._view_timer = threading.Timer(_VIEW_SAVE_DELAY_S, self.flush_view)
            self._view_timer.daemon = True
            self._view_timer.start()

    def flush_view(self) -> Path | None:
        """Write ``view.json`` now if the view changed since it was last written (atomic).

        A failure is kept in `last_error`, never raised: the view is a convenience.
        """
        import json

        with self._view_lock:
            if self._view_timer is not None:
                self._view_timer.cancel()
                self._view_timer = None
            if not self._view_dirty or self.case_id is None or self.view_state is None:
                return None
            self._view_dirty = False
            path = self.view_path()
            doc = {"schema": _VIEW_SCHEMA, "schema_version": 1, **self.view_state}
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                return atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
            except (OSError, TypeError, ValueError) as exc:
                self.last_error = f"the view could not be saved: {exc}"
                return None

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
        if corrected:
            return self.workspace.corrected_segmentation_path(self.case_id)
        return self.workspace.segmentation_path(self.case_id)

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
        from .export.nifti_labels import write_segmentation_nifti

        path = self.labels_path()
        try:
            with self._labels_lock:  # two quick saves must not finish out of order
                path.parent.mkdir(parents=True, exist_ok=True)
                written = write_segmentation_nifti(labels, path)
                self._record_source()
                return written
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
        self._record_source()
        self.notify("saved")
        return self.last_saved

    def export(
        self,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        formats: Iterable[str] | None = None,
        include_phi: bool = False,
    ) -> list[Path]:
        """Write every export format (`nvc_viewer.export.export_case`) with the label map in
        use (the corrected one when there is one).

        Parameters
        ----------
        out_dir : path-like, optional
            Default: the case folder of the workspace.
        formats : iterable of str, optional
            Default: all of `nvc_viewer.export.FORMATS`.
        include_phi : bool, optional
            Patient lines on the printable report.
        """
        from .export import FORMATS, export_case

        case = self._require_open()
        assert self.t2 is not None and self.case_id is not None
        out = self.workspace.case_dir(self.case_id) if out_dir is None else Path(out_dir)
        return export_case(
            case,
            out,
            t2=self.t2,
            labels=self.labels,
            formats=FORMATS if formats is None else tuple(formats),
            include_phi=include_phi,
        )


# -- a saved case, exported again ---------------------------------------------------------------
@dataclass
class SavedExport:
    """What `export_saved_case` wrote and what it could not write (and why)."""

    outputs: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: Whether the label map exported is the surgeon's corrected one.
    corrected_labels: bool = False


def _source_t2(record: CaseRecord | None, case: CaseFindings, findings_path: Path) -> Any:
    """The T2 volume a saved case was made from; (None, why) when it cannot be had."""
    from .io import load

    if record is None:
        return None, "no case.json records where the images are"
    if not Path(record.path).exists():
        return None, f"the source images are gone ({record.path})"
    series = record.t2 if Path(record.path).is_dir() else None
    try:
        t2 = load(record.path, series=series)
    except NVCError as exc:
        return None, f"the source images cannot be read ({exc})"
    try:
        check_same_series(case, t2, path=findings_path)
    except SeriesMismatchError:
        return None, f"the source folder now holds another T2 series ({record.path})"
    return t2, None


def _source_tof(record: CaseRecord | None, case: CaseFindings, findings_path: Path) -> Any:
    """The TOF a saved case was made from (for the report's red overlay), or None: no TOF was
    recorded, or it cannot be read or is another series now (the report then shows the T2)."""
    from .io import load

    if record is None or record.tof is None or not Path(record.path).is_dir():
        return None
    try:
        tof = load(record.path, series=record.tof)
        check_same_series(case, None, tof, path=findings_path)
    except NVCError:
        return None
    return tof


def export_saved_case(
    workspace: Workspace | str | os.PathLike[str],
    case_id: str,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] | None = None,
    include_phi: bool = False,
) -> SavedExport:
    """Re-export one saved case of a workspace without re-running any analysis.

    Reads ``findings.json``, the label map (``segmentation_corrected.nii.gz`` when a surgeon
    corrected it, else ``segmentation.nii.gz``: `saved_labels`) and ``case.json`` (the source
    images, for the T2 header and image that DICOM SEG/SR and the report need). What cannot be
    written is listed in ``skipped`` with the reason: no source images (gone, changed, never
    recorded), no label map. A NIfTI case has no DICOM SEG/SR: that is not a skip.

    Parameters
    ----------
    workspace : Workspace or path-like
    case_id : str
    out_dir : path-like
        Files go to ``out_dir/<case_id>/``.
    formats : sequence of str, optional
        Of `nvc_viewer.export.FORMATS` (default all); ``csv`` (the merged table) is not written
        here.
    include_phi : bool, optional
        As `nvc_viewer.export.export_case`.

    Raises
    ------
    NVCError
        The saved findings cannot be read (`FindingsFileError`), or a writer failed.
    """
    from .export import FORMATS, export_case
    from .export.nifti_labels import write_itksnap_labels, write_segmentation_nifti
    from .export.slicer import write_slicer_markups
    from .findings import write_findings_json

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    case = ws.load(case_id)
    if case is None:
        raise InputNotFoundError("no saved findings.json for this case", path=ws.case_dir(case_id))
    dest = Path(out_dir) / case_id
    dest.mkdir(parents=True, exist_ok=True)
    formats = tuple(f for f in (FORMATS if formats is None else formats) if f != "csv")
    result = SavedExport()
    try:
        record = ws.load_record(case_id)
    except NVCError as exc:
        record, result.skipped = None, [f"case.json is unusable: {exc}"]
    t2, why_no_t2 = _source_t2(record, case, ws.findings_path(case_id))
    labels, result.corrected_labels, why_no_labels = saved_labels(ws, case_id, t2)
    if labels is None and why_no_labels is None:
        why_no_labels = f"no label map was saved ({Workspace.SEGMENTATION})"
    is_dicom = case.source["kind"] == "dicom"
    if t2 is not None:
        tof = _source_tof(record, case, ws.findings_path(case_id)) if "report" in formats else None
        result.outputs = export_case(
            case, dest, t2=t2, labels=labels, tof=tof, formats=formats, include_phi=include_phi
        )
    else:
        if "json" in formats:
            result.outputs.append(write_findings_json(case, dest / Workspace.FINDINGS))
        if "mrk" in formats:
            result.outputs.append(write_slicer_markups(case, dest / "findings.mrk.json"))
        if "nifti" in formats and labels is not None:
            result.outputs.append(write_segmentation_nifti(labels, dest / Workspace.SEGMENTATION))
            result.outputs.append(write_itksnap_labels(dest / "segmentation_labels.txt"))
        lost = [f for f in formats if f == "report" or (is_dicom and f in _DICOM_FORMATS)]
        if lost:
            result.skipped.append(f"{', '.join(lost)} not written: {why_no_t2}")
    needs_labels = [f for f in formats if f == "nifti" or (is_dicom and f == "seg")]
    if labels is None and needs_labels:
        result.skipped.append(f"{', '.join(needs_labels)} not written: {why_no_labels}")
    return result
