"""The batch command: analyse and export many cases, headless, on dask.distributed.

Design note
-----------
The contract is fixed (other tools call it):

- inputs: a NIfTI file, or a folder that directly holds image files, is one case; any other
  folder holding images in its subfolders is a folder of cases, and every immediate subfolder
  of it (hidden ones and the output folder aside) is a case: one holding no image at any depth
  is reported ``failed`` with what it holds (how many files, of which kinds), so that no patient
  is left out unnoticed;
- ``case_id`` = the case folder's (or NIfTI file's) name, sanitised; never a DICOM value;
- per case ``OUT/<case_id>/`` (findings.json and every export); across cases ``OUT/findings.csv``
  and ``OUT/batch_report.json``;
- exit 0 when every case succeeded, 1 when some failed, 2 for a usage error;
- resumable, and the output folder is a workspace shared with the viewer
  (`nvc_viewer.workspace`).

What a case needs is decided by `plan_case` from its done marker
(``OUT/<case_id>/.nvc-done.json``, written last, after every export):

``"analyse"``
    no marker, ``--force``, the input changed (names, sizes, modification times), the ``--t2`` /
    ``--tof`` choice changed, or an output it listed is gone: load, analyse, merge into the
    saved findings (`nvc_viewer.workspace.Workspace.save_analysis`: surgeons' findings stay),
    export;
``"export"``
    the analysis is current but a surgeon changed ``findings.json`` or a label map since (the
    viewer autosaves there), or new formats are asked for: re-export from what is
    saved, no analysis (`export_saved_case`, also behind ``nvc-viewer export``);
``"skip"``
    nothing to do: the report says ``skipped``.

A batch killed at any point leaves whole files only (every write is atomic) and no marker for an
unfinished case, so running it again finishes the rest. A label map the surgeon corrected in the
viewer (``segmentation_corrected.nii.gz``, or a ``segmentation.nii.gz`` other than the last one
the analysis produced) is kept by a re-analysis and exported, as are the surgeon's findings;
``--force`` replaces both (the corrected map is kept aside, renamed). Which series are the T2
and the TOF, and how a saved case is opened and exported, is the case model's
(`nvc_viewer.session`), shared with the viewer. A case folder whose
``case.json`` names another input is not merged into (two inputs of the same name).

Each case runs in `run_case`, a function of one picklable `CaseJob` that never raises, submitted
to a `distributed.Client`: a `LocalCluster` (processes, one thread each, no dashboard) by
default, or an existing scheduler, whose workers must import ``nvc_viewer`` and see the input and
output paths. With one local worker (``--workers 1``, or a single case) and no scheduler there is
no cluster: each case runs in a child process forked from the batch (where ``fork`` exists), one
after the other; as on a cluster, a case whose process dies is reported failed and the others
go on. The outputs and the report are the same; what is saved is the cluster's start-up and a
worker importing everything again. Such a case has the machine to itself, so its process keeps
the second core busy too: the analysis runs in a child process forked for it while the case's
process prepares the exports (imports, the T2's DICOM headers: `nvc_viewer.export.prepare_export`),
and the report is drawn in a child process beside the other formats. When the load average
leaves a core idle, the analysis does its per-side work for the two sides in two processes
(`nvc_viewer.analysis.analyse`'s ``fork``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from .atomic import atomic_write_text
from .errors import InputError, InputNotFoundError, NVCError
from .export import FORMATS
from .forked import can_fork
from .io.nifti import is_nifti_path
from .io.sniff import holds_images, iter_files
from .session import SavedExport, case_volumes, export_saved_case, saved_labels
from .workspace import CaseRecord, Workspace, case_id_for

__all__ = [
    "FORMATS",
    "DEFAULT_FORMATS",
    "DONE_MARKER",
    "REPORT_FILE",
    "CSV_FILE",
    "CaseJob",
    "SavedExport",
    "discover_cases",
    "no_image_reason",
    "plan_case",
    "run_case",
    "run_batch",
    "export_saved_case",
    "export_workspace",
]

log = logging.getLogger(__name__)

#: Every export format (``csv`` is the merged ``OUT/findings.csv``), all written by default.
DEFAULT_FORMATS = FORMATS
DONE_MARKER = ".nvc-done.json"
REPORT_FILE = "batch_report.json"
EXPORT_REPORT_FILE = "export_report.json"
CSV_FILE = "findings.csv"
REPORT_SCHEMA = "nvc-viewer/batch-report"
EXPORT_REPORT_SCHEMA = "nvc-viewer/export-report"
_MARKER_SCHEMA = "nvc-viewer/batch-done"
#: Formats that need the label map / the DICOM source / the T2 image itself.
_LABEL_FORMATS = ("nifti", "seg")
_DICOM_FORMATS = ("seg", "sr")


@dataclass(frozen=True)
class CaseJob:
    """One case to process: where it is, where it goes and how. Picklable.

    Attributes
    ----------
    case_id : str
    input : str
        The path as the user gave it (joined with the subfolder name for a folder of cases).
    path : str
        Absolute path of the case.
    out_dir : str
        Absolute path of the workspace.
    formats : tuple of str
        Of `FORMATS`.
    t2, tof : str or None
        Series overrides (`nvc_viewer.io.load_case`).
    force, include_phi, debug : bool
        As the command-line options.
    side_processes : bool
        The case's process runs alone (one local worker): the analysis in a child process while
        the exports are prepared, the report in a child process beside the other formats. The
        same outputs; for a process that runs no other thread.
    """

    case_id: str
    input: str
    path: str
    out_dir: str
    formats: tuple[str, ...] = DEFAULT_FORMATS
    t2: str | None = None
    tof: str | None = None
    force: bool = False
    include_phi: bool = False
    debug: bool = False
    side_processes: bool = False


@dataclass
class CaseReport:
    """A row of ``batch_report.json``."""

    case_id: str
    input: str
    status: str  # "ok" | "failed" | "skipped"
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    #: The analysis' case-level warnings (a nerve not identified, a name uncertain).
    warnings: list[str] = field(default_factory=list)


# -- discovery -----------------------------------------------------------------------------


def _holds_images_directly(folder: Path) -> bool:
    return holds_images(folder, recursive=False)


def _holds_images(folder: Path) -> bool:
    return holds_images(folder)


#: At most this many files are looked at to say what a folder without images holds.
_MAX_DESCRIBED = 10_000


def _contents(folder: Path) -> str:
    """What a folder holds, for a refusal: ``"3 files: 1 text file (README), ..."``."""
    from .io.kinds import describe_files

    files: list[Path] = []
    more = 0
    for path in iter_files(folder):
        if len(files) < _MAX_DESCRIBED:
            files.append(path)
        else:
            more += 1
    if not files:
        return "the folder is empty" if not any(folder.iterdir()) else "no file, hidden ones aside"
    text = describe_files(files)
    return text + (f" (and {more} more files not looked at)" if more else "")


def no_image_reason(path: str | os.PathLike[str]) -> str | None:
    """Why a case folder cannot be a case (it holds no DICOM or NIfTI file), or None."""
    path = Path(path)
    if not path.is_dir() or _holds_images(path):
        return None
    return f"no DICOM or NIfTI image in this case folder: {_contents(path)}"


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and (path == folder or folder in path.parents)


def discover_cases(
    inputs: Sequence[str | os.PathLike[str]], *, exclude: str | os.PathLike[str] | None = None
) -> list[tuple[str, str, Path]]:
    """Find the cases in the inputs, as the module's design note defines them.

    Parameters
    ----------
    inputs : sequence of path-like
        NIfTI files, case folders, folders of cases.
    exclude : path-like, optional
        A folder never taken as a case (the output folder, when it sits among the cases).
        Hidden folders (``.name``) are never cases either.

    Returns
    -------
    list of (case_id, input as given, path)
        In input order, subfolders by name; a case id seen twice gets ``-2``, ``-3`` ...
        appended. Every immediate subfolder of a folder of cases is listed, also one without
        any image (`no_image_reason` says what it holds; the batch reports it failed).

    Raises
    ------
    InputNotFoundError
        An input does not exist.
    InputError
        An input is a file that is not NIfTI, or a folder without any image file at any depth
        (the message says what it holds).
    """
    skip = Path(exclude).resolve() if exclude is not None else None
    found: list[tuple[str, str, Path]] = []
    for given in map(str, inputs):
        path = Path(given)
        if not path.exists():
            raise InputNotFoundError("no such file or folder", path=given)
        if path.is_file():
            if not is_nifti_path(path):
                raise InputError(
                    "a single file must be a NIfTI image (.nii, .nii.gz); give a DICOM series "
                    "as its folder",
                    path=given,
                )
            found.append((case_id_for(path), given, path))
        elif _holds_images_directly(path):
            found.append((case_id_for(path), given, path))
        else:
            subs = sorted(
                p
                for p in path.iterdir()
                if p.is_dir() and not p.name.startswith(".") and not _inside(p.resolve(), skip)
            )
            if not any(_holds_images(p) for p in subs):
                raise InputError(
                    "no DICOM or NIfTI image found in this folder or its subfolders "
                    f"({_contents(path)})",
                    path=given,
                )
            found.extend((case_id_for(p), str(Path(given) / p.name), p) for p in subs)
    seen: dict[str, int] = {}
    unique = []
    for case_id, given, path in found:
        seen[case_id] = seen.get(case_id, 0) + 1
        if seen[case_id] > 1:
            case_id = f"{case_id}-{seen[case_id]}"
        unique.append((case_id, given, path))
    return unique


# -- the done marker -----------------------------------------------------------------------


def _fingerprint(path: Path) -> list[list[Any]]:
    """Cheap identity of an input: relative names, sizes and modification times (ns)."""
    if path.is_file():
        files, root = [path], path.parent
    else:
        files, root = sorted(p for p in path.rglob("*") if p.is_file()), path
    out = []
    for p in files:
        st = p.stat()
        out.append([p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return out


def _same_content(a: Sequence[Sequence[Any]], b: Sequence[Sequence[Any]]) -> bool:
    """Same names and sizes (a copied or moved input has other modification times)."""
    return [list(x[:2]) for x in a] == [list(x[:2]) for x in b]


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _marker_path(job: CaseJob) -> Path:
    return Path(job.out_dir) / job.case_id / DONE_MARKER


def _read_marker(job: CaseJob) -> dict | None:
    try:
        marker = json.loads(_marker_path(job).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("schema") == _MARKER_SCHEMA else None


def _options(job: CaseJob) -> dict[str, Any]:
    return {"t2": job.t2, "tof": job.tof}


def _write_marker(
    job: CaseJob, fingerprint: list, outputs: list[str], machine_labels_sha256: str | None
) -> None:
    """Mark a case done: what it was made from and the state of what it wrote.

    ``segmentation_sha256`` is the label map as exported now (a later change is a surgeon's
    edit, to re-export); ``machine_segmentation_sha256`` the last one the analysis itself
    produced (a saved map that differs from it is a surgeon's, kept by a re-analysis).
    """
    workspace = Workspace(job.out_dir)
    marker = {
        "schema": _MARKER_SCHEMA,
        "schema_version": 1,
        "fingerprint": fingerprint,
        "options": _options(job),
        "formats": sorted(job.formats),
        "outputs": outputs,
        "findings_sha256": _sha256(workspace.findings_path(job.case_id)),
        "segmentation_sha256": _sha256(workspace.segmentation_path(job.case_id)),
        "corrected_segmentation_sha256": _sha256(
            workspace.corrected_segmentation_path(job.case_id)
        ),
        "machine_segmentation_sha256": machine_labels_sha256,
        "finished": _now(),
    }
    atomic_write_text(_marker_path(job), json.dumps(marker, indent=1) + "\n")


def plan_case(job: CaseJob, marker: dict | None = None) -> str:
    """What a case needs: ``"analyse"``, ``"export"`` (re-export only) or ``"skip"``.

    See the module's design note for the rules.
    """
    marker = _read_marker(job) if marker is None else marker
    if job.force or marker is None:
        return "analyse"
    if marker.get("options") != _options(job):
        return "analyse"
    if marker.get("fingerprint") != _fingerprint(Path(job.path)):
        return "analyse"
    out = Path(job.out_dir)
    if not all((out / p).is_file() for p in marker.get("outputs", [])):
        return "analyse"
    workspace = Workspace(out)
    if (
        not set(job.formats) <= set(marker.get("formats", []))
        or _sha256(workspace.findings_path(job.case_id)) != marker.get("findings_sha256")
        or _sha256(workspace.segmentation_path(job.case_id)) != marker.get("segmentation_sha256")
        or _sha256(workspace.corrected_segmentation_path(job.case_id))
        != marker.get("corrected_segmentation_sha256")
    ):
        return "export"
    return "skip"


# -- one case ------------------------------------------------------------------------------


def _case_findings(result: Any, case_id: str, volumes: Any) -> Any:
    """The analysis' proposal as a `CaseFindings` of this case."""
    from .findings import CaseFindings, Flags, source_from_volumes

    helper = getattr(result, "to_case_findings", None)
    if callable(helper):
        return helper(case_id, t2=volumes.t2, tof=volumes.tof)
    source = source_from_volumes([v for v in (volumes.t2, volumes.tof) if v is not None])
    flags = getattr(result, "flags", None)
    if isinstance(flags, dict):
        flags = Flags.from_dict(flags)
    return CaseFindings(
        case_id=case_id,
        source=source,
        landmarks=tuple(getattr(result, "landmarks", ()) or ()),
        findings=tuple(getattr(result, "findings", ()) or ()),
        flags=flags if isinstance(flags, Flags) else Flags(),
    )


def _labels_volume(labels: Any, t2: Any) -> Any:
    """The analysis' label map as a `Volume` on the T2 grid (it may give a bare array)."""
    from .volume import Volume

    if labels is None or isinstance(labels, Volume):
        return labels
    return t2.with_data(np.asarray(labels, dtype=np.uint8), role="label", description="labels")


def _check_owner(workspace: Workspace, job: CaseJob, marker: dict | None) -> None:
    """Refuse to merge into a case folder that holds another input's work."""
    record = workspace.load_record(job.case_id)
    if record is None or Path(record.path) == Path(job.path):
        return
    if marker is not None and _same_content(
        marker.get("fingerprint", []), _fingerprint(Path(job.path))
    ):
        return  # the same images, moved
    raise InputError(
        f"the workspace folder {job.case_id!r} holds the work of another input "
        f"({record.input}); give this case another name, use another --out, or delete "
        f"{job.case_id}/case.json if it is the same case moved",
        path=job.input,
    )


def _case_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """The per-case exports of a re-analysis: findings.json and the label map are the
    workspace (the viewer reads them), so they are always written; csv is the merged table."""
    return tuple(f for f in dict.fromkeys(("json", "nifti", *formats)) if f != "csv")


def _relative(paths: Sequence[str | os.PathLike[str]], root: Path) -> list[str]:
    return sorted({Path(p).relative_to(root).as_posix() for p in paths})


def run_case(job: CaseJob) -> dict:
    """Analyse and export one case (or re-export it, or skip it: `plan_case`).

    Never raises: a failure is reported in the returned row, with the reason.

    Returns
    -------
    dict
        A row of ``batch_report.json``: ``case_id, input, status, error, outputs`` (paths
        relative to the workspace), ``timings_s`` and ``warnings``. With ``job.debug`` a
        failed row also has ``"traceback"`` (the caller prints it and drops it from the
        report).
    """
    with warnings.catch_warnings():
        if not job.debug:  # the report says what went wrong; library warnings are noise here
            warnings.simplefilter("ignore")
        return _run_case(job)


def _run_case(job: CaseJob) -> dict:
    report = CaseReport(case_id=job.case_id, input=job.input, status="ok")
    timings = report.timings_s
    extra: dict[str, str] = {}
    start = time.perf_counter()
    try:
        workspace = Workspace(job.out_dir)
        marker = _read_marker(job)
        plan = plan_case(job, marker)
        if plan == "skip":
            report.status = "skipped"
            report.outputs = list(marker.get("outputs", [])) if marker else []
            report.warnings = _saved_warnings(workspace, job.case_id)
            return asdict(report)  # nothing timed
        fingerprint = _fingerprint(Path(job.path))  # before reading: a later change shows
        if plan == "export":
            report.outputs = _reexport(job, workspace, marker, fingerprint, timings)
        else:
            report.outputs = _analyse_and_export(job, workspace, marker, fingerprint, timings)
        report.warnings = _saved_warnings(workspace, job.case_id)
    except NVCError as exc:
        report.status = "failed"
        report.error = str(exc)
        if job.debug:
            extra["traceback"] = traceback.format_exc()
    except Exception as exc:  # an unexpected failure must not stop the other cases
        report.status = "failed"
        report.error = f"{job.input}: internal error: {type(exc).__name__}: {exc}"
        if job.debug:
            extra["traceback"] = traceback.format_exc()
    finally:
        if report.status != "skipped":
            timings["total"] = time.perf_counter() - start
            for key in timings:
                timings[key] = round(timings[key], 3)
    return {**asdict(report), **extra}


def _saved_warnings(workspace: Workspace, case_id: str) -> list[str]:
    """The case-level warnings of a saved case (none when it cannot be read)."""
    from .findings import read_findings_json

    path = workspace.findings_path(case_id)
    try:
        return list(read_findings_json(path).warnings) if path.is_file() else []
    except NVCError:
        return []


def _reexport(
    job: CaseJob,
    workspace: Workspace,
    marker: dict | None,
    fingerprint: list,
    timings: dict[str, float],
) -> list[str]:
    """Plan "export": write the exports again from what the workspace holds."""
    t0 = time.perf_counter()
    result = export_saved_case(
        workspace, job.case_id, workspace.root, formats=job.formats, include_phi=job.include_phi
    )
    timings["export"] = time.perf_counter() - t0
    if result.skipped:
        raise NVCError("; ".join(result.skipped), path=job.input)
    outputs = _relative(result.outputs, workspace.root)
    machine = marker.get("machine_segmentation_sha256") if marker else None
    _write_marker(job, fingerprint, outputs, machine)
    return outputs


def _analyse_and_export(
    job: CaseJob,
    workspace: Workspace,
    marker: dict | None,
    fingerprint: list,
    timings: dict[str, float],
) -> list[str]:
    """Plan "analyse": load, analyse, merge into the workspace, export."""
    from .analysis import analyse
    from .export import export_case

    case_dir = workspace.case_dir(job.case_id)
    case_dir.mkdir(parents=True, exist_ok=True)
    if not job.force:
        _check_owner(workspace, job, marker)
    t0 = time.perf_counter()
    volumes = case_volumes(job.path, t2=job.t2, tof=job.tof)
    timings["load"] = time.perf_counter() - t0

    formats = _case_formats(job.formats)
    t0 = time.perf_counter()
    prepared = None
    if job.side_processes and can_fork():
        proposal, labels, prepared = _analyse_beside(job, volumes, formats, timings)
    else:
        result = analyse(volumes.t2, volumes.tof)
        proposal = _case_findings(result, job.case_id, volumes)
        labels = _labels_volume(getattr(result, "labels", None), volumes.t2)
    timings["analyse"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    seg_path = workspace.segmentation_path(job.case_id)
    machine_sha = marker.get("machine_segmentation_sha256") if marker else None
    kept = None
    if job.force:
        _set_aside_corrections(workspace, job.case_id)
    else:
        saved, corrected, _ = saved_labels(workspace, job.case_id, volumes.t2)
        if saved is not None and (corrected or _sha256(seg_path) != machine_sha):
            kept = saved  # a surgeon's correction: keep it
    labels = kept if kept is not None else labels
    merged = workspace.save_analysis(proposal, force=job.force)
    workspace.save_record(
        CaseRecord(
            case_id=job.case_id,
            input=job.input,
            path=job.path,
            kind=volumes.t2.meta.kind if volumes.t2.meta.kind == "dicom" else "nifti",
            t2=volumes.t2_key,
            tof=volumes.tof_key,
        )
    )
    written = export_case(
        merged,
        case_dir,
        t2=volumes.t2,
        labels=labels,
        tof=volumes.tof,  # drawn in red on the report's key images
        formats=formats,
        include_phi=job.include_phi,
        timings=timings,  # each format's own time (they are written at the same time)
        processes=("report",) if job.side_processes else (),
        prepared=prepared,
    )
    timings["export"] = time.perf_counter() - t0
    outputs = _relative(written, workspace.root)
    if kept is None:
        machine_sha = _sha256(seg_path)
    _write_marker(job, fingerprint, outputs, machine_sha)
    return outputs


def _pack_labels(labels: Any) -> Any:
    """A label map to cross a pipe: the box that holds labels, not the zeros around it."""
    from .volume import Volume

    if not isinstance(labels, Volume):
        return labels
    data = labels.data
    hit = [
        np.flatnonzero(data.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)
    ]
    box = tuple(slice(int(h[0]), int(h[-1]) + 1) if h.size else slice(0, 0) for h in hit)
    order = "F" if data.flags.f_contiguous and not data.flags.c_contiguous else "C"
    return ("labels box", labels.with_data(np.zeros((1, 1, 1), data.dtype)), data.shape, order,
            box, np.ascontiguousarray(data[box]))  # fmt: skip


def _unpack_labels(packed: Any) -> Any:
    """The label map `_pack_labels` packed: the same values, shape, dtype and memory order."""
    if not (isinstance(packed, tuple) and packed and packed[0] == "labels box"):
        return packed
    _, empty, shape, order, box, values = packed
    data = np.zeros(shape, dtype=values.dtype, order=order)
    data[box] = values
    return empty.with_data(data)


def _analysis_child(job: CaseJob, volumes: Any) -> tuple[dict, Any]:
    """In the analysis' child process: the proposal and the label map for the parent."""
    from .analysis import analyse

    result = analyse(volumes.t2, volumes.tof, fork=_core_to_spare())
    labels = _labels_volume(getattr(result, "labels", None), volumes.t2)
    proposal = _case_findings(result, job.case_id, volumes).to_dict()  # picklable
    return proposal, _pack_labels(labels)


def _core_to_spare() -> bool:
    """Whether a core is idle for the analysis' per-side processes (`analyse`'s ``fork``): the
    1-minute load average, this batch included (about 1), at least half a core under the number
    of cores. On a busy machine a second process of the case gains little (the other work holds
    the cores) and costs more than it saves: each process of a fork pays again for the memory
    it writes (measured on 2 cores with another session busy: the two sides' work 1.5 times
    the CPU time, and slower)."""
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1) - 0.5
    except OSError:  # no load average on this platform
        return True


def _analyse_beside(
    job: CaseJob, volumes: Any, formats: Sequence[str], timings: dict[str, float]
) -> tuple[Any, Any, Any]:
    """The analysis in a child process forked for it, the exports prepared here meanwhile.

    Returns the proposal (`CaseFindings`), the label map and the `ExportPrep`. Only what the
    batch keeps of the analysis crosses the pipe (the label map, about 40 MB for 512 x 512 x
    160), not its intermediate volumes.
    """
    from .export import prepare_export
    from .forked import ChildDied, Forked

    child = Forked(lambda: _analysis_child(job, volumes), f"nvc-analyse-{job.case_id}")
    try:
        t0 = time.perf_counter()
        prepared = prepare_export(volumes.t2, formats, include_phi=job.include_phi)
        timings["export_prep"] = time.perf_counter() - t0  # beside the analysis, not after
        try:
            proposal, labels = child.result()
        except ChildDied as died:
            raise NVCError(
                f"the process analysing this case died (exit code {died.exitcode})",
                path=job.input,
            ) from None
    finally:
        child.kill()  # interrupted: the analysis goes with the case
    from .findings import CaseFindings

    return CaseFindings.from_dict(proposal), _unpack_labels(labels), prepared


# -- re-export from the workspace ----------------------------------------------------------
# `export_saved_case` and `SavedExport` are the case model's (`nvc_viewer.session`): the batch
# and ``nvc-viewer export`` re-export a saved case as the viewer would, corrected map included.


def _set_aside_corrections(workspace: Workspace, case_id: str) -> None:
    """``--force``: the surgeon's corrected label map is replaced too; kept aside, renamed."""
    path = workspace.corrected_segmentation_path(case_id)
    if path.is_file():
        stamp = _now().replace(":", "").replace("+0000", "Z")
        path.replace(path.with_name(f"segmentation_corrected.before-force-{stamp}.nii.gz"))


def _write_merged_csv(workspace: Workspace, out: Path) -> tuple[Path, list[str]]:
    """``out/findings.csv`` from every readable ``findings.json`` of the workspace."""
    from .export.csv_ import write_findings_csv

    cases, problems = [], []
    for case_id in workspace.case_ids():
        try:
            case = workspace.load(case_id)
        except NVCError as exc:
            problems.append(f"{case_id}: not in {CSV_FILE}: {exc}")
            continue
        if case is not None:
            cases.append(case)
    return write_findings_csv(cases, out / CSV_FILE), problems


def export_workspace(
    workspace_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
    include_phi: bool = False,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Re-export every saved case of a workspace (`export_saved_case`) and the merged CSV.

    Parameters
    ----------
    workspace_dir : path-like
        A folder written by the batch command or the viewer.
    out_dir : path-like, optional
        Where to write (default: the workspace itself).
    formats, include_phi
        As the command-line options.
    progress : callable, optional
        Called with each case's report row.

    Returns
    -------
    dict
        The report, also written to ``out_dir/export_report.json``: schema
        ``nvc-viewer/export-report`` version 1, ``started``, ``finished`` and ``cases``, each
        ``{"case_id", "status": "ok"|"partial"|"failed", "error", "skipped": [str],
        "outputs": [str]}`` (outputs relative to ``out_dir``).

    Raises
    ------
    InputError
        The workspace does not exist or holds no saved case.
    """
    ws = Workspace(workspace_dir)
    if not ws.root.is_dir():
        raise InputNotFoundError("no such workspace folder", path=workspace_dir)
    case_ids = ws.case_ids()
    if not case_ids:
        raise InputError("no saved case (no <case_id>/findings.json) in this folder", path=ws.root)
    out = Path(out_dir) if out_dir is not None else ws.root
    out.mkdir(parents=True, exist_ok=True)
    started = _now()
    rows = []
    for case_id in case_ids:
        row: dict[str, Any] = {"case_id": case_id, "status": "ok", "error": None}
        try:
            result = export_saved_case(ws, case_id, out, formats=formats, include_phi=include_phi)
            row["skipped"] = result.skipped
            row["outputs"] = _relative(result.outputs, out)
            if result.skipped:
                row["status"] = "partial"
        except NVCError as exc:
            row.update(status="failed", error=str(exc), skipped=[], outputs=[])
        rows.append(row)
        if progress is not None:
            progress(row)
    if "csv" in formats:
        _, problems = _write_merged_csv(ws, out)
        for problem in problems:
            log.warning(problem)
    report = {
        "schema": EXPORT_REPORT_SCHEMA,
        "schema_version": 1,
        "started": started,
        "finished": _now(),
        "cases": rows,
    }
    atomic_write_text(out / EXPORT_REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


# -- many cases ----------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class _Progress:
    """A progress bar on a terminal, one plain line per case otherwise (stderr)."""

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = self.failed = 0
        self.start = time.perf_counter()

    def __call__(self, row: dict) -> None:
        self.done += 1
        self.failed += row["status"] == "failed"
        elapsed = time.perf_counter() - self.start
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            text = (
                f"\r[{bar}] {self.done}/{self.total} cases, {self.failed} failed, {elapsed:.0f} s"
            )
            self.stream.write(text + ("\n" if self.done == self.total else ""))
        else:
            why = f": {row['error'].splitlines()[0]}" if row.get("error") else ""
            self.stream.write(
                f"[{self.done}/{self.total}] {row['case_id']}: {row['status']}{why} "
                f"({elapsed:.1f} s)\n"
            )
        self.stream.flush()


def _write_report(out: Path, started: str, rows: Sequence[dict], finished: str | None) -> dict:
    report = {
        "schema": REPORT_SCHEMA,
        "schema_version": 1,
        "started": started,
        "finished": finished,
        "cases": sorted(rows, key=lambda r: r["case_id"]),
    }
    atomic_write_text(out / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


@contextlib.contextmanager
def _quiet_distributed(debug: bool) -> Iterator[None]:
    """Silence distributed's start-up and shut-down chatter unless debugging."""
    if debug:
        yield
        return
    names = ("distributed", "tornado", "asyncio", "bokeh")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a TCP address nobody listens on (distributed would retry for its timeout)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "") or parts.hostname is None:
        return  # tls://, ucx://, inproc://: let distributed handle them
    try:
        port = parts.port or 8786
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler ({type(exc).__name__}: {exc}); is it running, "
            "and is the address tcp://HOST:PORT?",
            path=address,
        ) from None


#: Imported once before the first case's process is forked, so that no case imports them again.
_PRELOAD: dict[str, tuple[str, ...]] = {
    "": ("scipy.ndimage", "nvc_viewer.analysis", "nvc_viewer.export"),
    "nifti": ("nibabel", "nvc_viewer.export.nifti_labels"),
    "seg": ("pydicom", "highdicom", "nvc_viewer.export.dicom_seg"),
    "sr": ("pydicom", "highdicom", "nvc_viewer.export.dicom_sr"),
    "report": ("PIL.Image", "fpdf", "nvc_viewer.export.report"),
}


def _preload(formats: Sequence[str]) -> None:
    import importlib

    for key in ("", "nifti", *formats):
        for name in _PRELOAD.get(key, ()):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


def _run_forked(job: CaseJob) -> dict:
    """`run_case` in a forked child process: its row, or a failed row if the child died."""
    from .forked import ChildDied, Forked

    row: dict | None = None
    exitcode: int | None = None
    child = Forked(lambda: run_case(job), f"nvc-case-{job.case_id}")
    try:
        row = child.result()
    except ChildDied as died:
        exitcode = died.exitcode
    finally:
        child.kill()  # interrupted: the case goes with the batch
    if row is None:
        row = asdict(
            CaseReport(
                job.case_id,
                job.input,
                "failed",
                f"{job.input}: the worker processing this case died or was lost "
                f"(exit code {exitcode})",
            )
        )
    return row


@contextlib.contextmanager
def _client(scheduler: str | None, n_workers: int, debug: bool) -> Iterator[Any]:
    """A `distributed.Client` on the given scheduler, or on a fresh `LocalCluster`."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        _check_reachable(scheduler)
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler ({type(exc).__name__}: {exc})",
                path=scheduler,
            ) from None
        try:
            try:  # tasks would wait forever on a scheduler without workers
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise InputError(
                    "the Dask scheduler has no worker (waited 60 s); start one with "
                    f"'dask worker {scheduler}'",
                    path=scheduler,
                ) from None
            yield client
        finally:
            client.close()
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            # No dashboard; its HTTP server (health, metrics) on any free port rather than on
            # 8787, which may be taken (distributed then warns).
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.DEBUG if debug else logging.CRITICAL,
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    t2: str | None = None,
    tof: str | None = None,
    force: bool = False,
    include_phi: bool = False,
    debug: bool = False,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Run the batch and return the report (also written to ``OUT/batch_report.json``).

    Parameters
    ----------
    inputs : sequence of path-like
        Cases or folders of cases (see `discover_cases`).
    out_dir : path-like
        The workspace folder (created).
    workers : int, optional
        Local worker processes (default: the number of cores, at most the number of cases
        to run).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); no local cluster then.
    formats : sequence of str
        Of `FORMATS` (default all). ``findings.json`` and ``segmentation.nii.gz`` are always
        written: they are the workspace.
    t2, tof : str, optional
        Series overrides for every case (`nvc_viewer.io.load_case`); ``tof="none"``: no TOF.
    force : bool
        Redo finished cases and replace what surgeons saved (kept aside as
        ``findings.before-force-<time>.json``).
    include_phi : bool
        Patient lines on the printable report.
    debug : bool
        Keep distributed's logging; print tracebacks of failures to stderr.
    progress : callable, optional
        Called with each case's report row (default: a bar on a terminal, lines otherwise).

    Returns
    -------
    dict
        The report (``schema``, ``started``, ``finished``, ``cases``: one row per case). While
        the batch runs the file is rewritten after
        every case with ``"finished": null``.

    Raises
    ------
    InputError
        An input does not exist or holds no image (nothing is run), an unknown format, or the
        scheduler cannot be reached.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format(s) {unknown}; known: {', '.join(FORMATS)}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1; got {workers}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the output must be a folder; this is a file", path=out)
    cases = discover_cases(inputs, exclude=out)
    out.mkdir(parents=True, exist_ok=True)
    started = _now()
    jobs = [
        CaseJob(
            case_id=cid,
            input=given,
            path=str(path.resolve()),
            out_dir=str(out.resolve()),
            formats=tuple(dict.fromkeys(formats)),
            t2=t2,
            tof=tof,
            force=force,
            include_phi=include_phi,
            debug=debug,
        )
        for cid, given, path in cases
    ]
    progress = progress or _Progress(len(jobs))
    rows: list[dict] = []

    def finish(row: dict) -> None:
        trace = row.pop("traceback", None)
        if trace and debug:
            sys.stderr.write(f"{row['case_id']}:\n{trace}")
        rows.append(row)
        progress(row)
        _write_report(out, started, rows, None)  # a killed batch still leaves its report

    todo = []
    for job in jobs:
        empty = no_image_reason(job.path)
        if empty is not None:  # reported, never dropped: a patient left out must be seen
            finish(asdict(CaseReport(job.case_id, job.input, "failed", f"{job.input}: {empty}")))
        elif plan_case(job) == "skip":
            finish(run_case(job))  # cheap: reads the marker only
        else:
            todo.append(job)
    n = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    if todo and n == 1 and not scheduler and can_fork():
        # One worker on this machine: a child process per case, forked from this one, does
        # what a one-worker LocalCluster does (a case that kills its process fails alone)
        # without starting a scheduler, a nanny and a worker that imports everything again.
        # What the analysis needs is imported before the fork; the exports' modules are
        # imported by each case's process while its analysis runs in another.
        _preload(())
        for job in todo:
            finish(_run_forked(replace(job, side_processes=True)))
    elif todo:
        token = uuid.uuid4().hex[:8]  # two batches on one scheduler must not share task keys
        with _quiet_distributed(debug), _client(scheduler, n, debug) as client:
            from distributed import as_completed

            futures = client.map(
                run_case, todo, key=[f"nvc-case-{j.case_id}-{token}" for j in todo], pure=False
            )
            job_of = {f.key: j for f, j in zip(futures, todo)}
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as exc:  # the worker died or the task was lost
                    job = job_of[future.key]
                    row = asdict(
                        CaseReport(
                            job.case_id,
                            job.input,
                            "failed",
                            f"{job.input}: the worker processing this case died or was lost "
                            f"({type(exc).__name__}: {exc})",
                        )
                    )
                finish(row)
    if "csv" in formats:
        _, problems = _write_merged_csv(Workspace(out), out)
        for problem in problems:
            log.warning(problem)
    return _write_report(out, started, rows, _now())
