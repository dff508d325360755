"""The ``nvc-viewer`` command line.

Every sub-command turns an `NVCError` into one readable line on stderr and exit code 1; usage
errors exit 2 (argparse's convention); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import NoSeriesFoundError, NVCError

__all__ = ["main", "build_parser"]


def _cmd_info(args: argparse.Namespace) -> int:
    from .session import list_series

    path = Path(args.path)
    entries = list_series(path)  # the one folder rule: DICOM series first, then NIfTI files
    dicom = [e for e in entries if e.kind == "dicom"]
    rows = [_nifti_row(e) for e in entries if e.kind == "nifti"]
    if not dicom and not rows:
        from .io.dicom import scan_dicom

        scan = scan_dicom(path)  # only to say what was looked at
        raise NoSeriesFoundError(
            f"no DICOM image series or NIfTI file found ({scan.n_files} file(s) looked at, "
            f"{scan.n_skipped} skipped as not DICOM images)",
            path=path,
        )
    if not dicom:
        _print_rows(rows, as_json=args.json)
        return 0
    from .io.dicom import describe_scan

    scan = dicom[0].scan
    if args.json:
        doc = _scan_json(scan)
        if rows:
            doc["nifti"] = rows
        print(json.dumps(doc, indent=2))
        return 0
    print(describe_scan(scan))
    if rows:
        print()
        _print_rows(rows, as_json=False)
    return 0


def _nifti_row(entry: Any) -> dict:
    """The ``info`` row of a listed NIfTI file (`nvc_viewer.session.SeriesEntry`)."""
    from .session import read_entry

    name = entry.source.name
    if entry.problems:
        return {"file": name, "problem": "; ".join(entry.problems)}
    try:
        vol = read_entry(entry)
    except NVCError as exc:
        return {"file": name, "problem": exc.reason}
    return _volume_row(name, vol, role=entry.role)


def _volume_row(name: str, vol, *, role: str) -> dict:  # type: ignore[no-untyped-def]
    return {
        "file": name,
        "role": role,
        "shape": list(vol.shape),
        "spacing_mm": [round(float(s), 4) for s in vol.spacing_mm],
        "orientation": vol.orientation,
        "dtype": str(vol.data.dtype),
        "problems": list(vol.meta.warnings),
    }


def _print_rows(rows: list[dict], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "problem" in row:
            print(f"{row['file']}: PROBLEM: {row['problem']}")
            continue
        sp = " x ".join(f"{s:g}" for s in row["spacing_mm"])
        shape = " x ".join(str(n) for n in row["shape"])
        role = "label map (never proposed as the T2 or the TOF)" if row["role"] == "label" else None
        print(
            f"{row['file']}: {role or 'role ' + row['role']}, {shape} voxels of {sp} mm, "
            f"orientation {row['orientation']}, {row['dtype']}"
        )
        for problem in row["problems"]:
            print(f"  problem: {problem}")


def _scan_json(scan) -> dict:  # type: ignore[no-untyped-def]
    series = []
    for s in scan.series:
        series.append(
            {
                "key": s.key,
                "series_number": s.series_number,
                "description": s.description,
                "sequence": s.sequence,
                "role": s.role,
                "slices": s.n_slices,
                "shape": list(s.shape),
                "spacing_mm": [round(float(v), 4) for v in s.spacing_mm],
                "orientation": s.orientation,
                "problems": list(s.problems),
            }
        )
    return {"folder": str(scan.folder), "series": series, "skipped_files": scan.n_skipped}


#: Entry-point group through which ``view`` and ``demo`` reach the viewer (pyproject.toml).
VIEWER_ENTRY_POINTS = "nvc_viewer.viewer"
_VIEWER_INSTALL = "install nvc-viewer with napari and a Qt binding: pip install 'nvc-viewer[qt]'"


def _viewer_command(name: str) -> Callable[..., Any]:
    """The viewer's ``name`` command (``view``, ``demo``), found by its entry point.

    Calling it turns a missing napari or Qt into an `NVCError` that says what to install.
    """
    from importlib.metadata import entry_points

    found = list(entry_points(group=VIEWER_ENTRY_POINTS, name=name))
    if not found:
        raise NVCError(
            f"no viewer is installed (no {name!r} entry point in the group "
            f"{VIEWER_ENTRY_POINTS!r}): {_VIEWER_INSTALL}"
        )
    entry = found[0]
    try:
        command = entry.load()
    except ImportError as exc:
        raise NVCError(
            f"the viewer ({entry.value}) could not be loaded: {exc}; {_VIEWER_INSTALL}"
        ) from exc

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ImportError as exc:
            if exc.name is not None and exc.name.split(".")[0] not in _GUI_PACKAGES:
                raise
            raise NVCError(f"the viewer could not start: {exc}; {_VIEWER_INSTALL}") from exc

    return run


#: Packages the viewer needs beyond the core (an ImportError naming another one is a bug).
_GUI_PACKAGES = frozenset(
    {"napari", "magicgui", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy", "superqt"}
)


def _cmd_view(args: argparse.Namespace) -> int:
    view = _viewer_command("view")
    view([str(p) for p in args.paths], series=args.series, workspace=args.workspace)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    demo = _viewer_command("demo")
    out_dir = Path(args.out)
    result = demo(headless=args.headless, out_dir=out_dir)
    if args.headless:
        print(f"sample case: {result['sample']}")
        print(f"proposed findings ({len(result['findings'])}):")
        for line in result["findings"]:
            print(f"  {line}")
        print(f"exports ({len(result['exports'])} files) in {result['exports'][0].parent}:")
        for path in result["exports"]:
            print(f"  {Path(path).name}")
        for key in ("screenshot_axial", "screenshot_3d", "screenshot_workspace"):
            print(f"{key}: {result[key]}")
    return 0


def _cmd_phantom(args: argparse.Namespace) -> int:
    from .phantom import make_phantom, write_case

    shape = None if args.shape is None else tuple(args.shape)
    phantom = make_phantom(
        args.scenario,
        side=args.side,
        seed=args.seed,
        shape=shape,
        spacing_mm=args.spacing,
        snr=args.snr,
        banding=args.banding,
        oblique_deg=tuple(args.oblique),
    )
    written = write_case(
        phantom, args.out, fmt=args.format, enhanced=args.enhanced, overwrite=args.overwrite
    )
    for key, path in written.items():
        print(f"{key}: {path}")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import discover_cases, run_batch
    from .errors import InputError

    if args.workers is not None and args.scheduler:
        args.usage_error("--workers sizes the local cluster; it cannot go with --scheduler")
    if args.workers is not None and args.workers < 1:
        args.usage_error(f"--workers must be at least 1; got {args.workers}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        args.usage_error(f"--out {args.out}: exists and is not a folder")
    try:
        discover_cases(args.inputs, exclude=out)  # a bad INPUT is a usage error: nothing runs
    except InputError as exc:
        args.usage_error(str(exc))
    report = run_batch(
        args.inputs,
        out,
        workers=args.workers,
        scheduler=args.scheduler,
        formats=args.formats,
        t2=args.t2,
        tof=args.tof,
        force=args.force,
        include_phi=args.include_phi,
        debug=args.debug,
    )
    counts = {
        s: sum(c["status"] == s for c in report["cases"]) for s in ("ok", "skipped", "failed")
    }
    print(
        f"{len(report['cases'])} case(s): {counts['ok']} ok, {counts['skipped']} skipped "
        f"(done before), {counts['failed']} failed; report: {out / 'batch_report.json'}",
        file=sys.stderr,
    )
    return 1 if counts["failed"] else 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .batch import export_workspace

    def progress(row: dict) -> None:
        why = "; ".join(([row["error"]] if row["error"] else []) + row["skipped"])
        print(f"{row['case_id']}: {row['status']}" + (f": {why}" if why else ""), file=sys.stderr)

    report = export_workspace(
        args.workspace,
        args.out,
        formats=args.formats,
        include_phi=args.include_phi,
        progress=progress,
    )
    return 1 if any(c["status"] == "failed" for c in report["cases"]) else 0


class _PhantomScenarios(Sequence[str]):
    """The phantom's scenarios as argparse's choices, read when first looked at (by the
    ``phantom`` command only): the other commands start without importing the phantom."""

    def _names(self) -> tuple[str, ...]:
        from .phantom import SCENARIOS

        return tuple(SCENARIOS)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``nvc-viewer`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="nvc-viewer",
        description="Plan microvascular decompression on brainstem MRI (CISS/FIESTA + TOF).",
    )
    parser.add_argument("--version", action="version", version=f"nvc-viewer {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    # --debug is accepted after the sub-command too (``nvc-viewer info --debug PATH``)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "info",
        parents=[common],
        help="list the series of an input: DICOM series, then NIfTI files (label maps marked)",
    )
    p.add_argument("path", help="a DICOM folder or file, a NIfTI file, or a folder holding either")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "view", parents=[common], help="open napari with the nvc-viewer panels and the given case"
    )
    p.add_argument("paths", nargs="*", help="DICOM folders or NIfTI files")
    p.add_argument("--series", help="which series to open (key, UID, number, role, description)")
    p.add_argument(
        "--workspace",
        metavar="DIR",
        help="where findings and label corrections are autosaved and restored from "
        "(DIR/<case_id>/, the layout `batch --out DIR` writes; default $NVC_VIEWER_WORKSPACE, "
        "else ~/nvc-viewer-workspace)",
    )
    p.set_defaults(func=_cmd_view)

    p = sub.add_parser("demo", parents=[common], help="run the main job on the bundled sample case")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: write outputs and screenshots and print where they are",
    )
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "phantom",
        parents=[common],
        help="write a synthetic CPA case (T2 + TOF + truth) for a scenario",
    )
    p.add_argument(
        "--scenario",
        choices=_PhantomScenarios(),
        default="contact",
        metavar="NAME",  # not the choices: listing them here would import the phantom
        help="what the facial nerve and its vessels do: one of %(choices)s (default %(default)s)",
    )
    p.add_argument("--side", choices=("left", "right"), default="left")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="the case folder to create")
    p.add_argument("--format", choices=("nifti", "dicom"), default="nifti")
    p.add_argument("--enhanced", action="store_true", help="DICOM: Enhanced MR multi-frame")
    p.add_argument(
        "--shape",
        type=int,
        nargs=3,
        metavar=("I", "J", "K"),
        help="voxels (default: the standard field of view around the CPA)",
    )
    p.add_argument("--spacing", type=float, default=0.5, help="voxel size in mm (default 0.5)")
    p.add_argument("--snr", type=float, default=25.0, help="CSF signal-to-noise ratio")
    p.add_argument("--banding", action="store_true", help="add CISS banding artefacts")
    p.add_argument(
        "--oblique",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("A", "B"),
        help="acquisition tilt about two axes, degrees",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_phantom)
    _add_batch_parsers(sub, common)
    return parser


_BATCH_EPILOG = """\
cases:
  A NIfTI file, or a folder that directly holds image files (DICOM or NIfTI, several series
  side by side), is one case. Any other folder is a folder of cases: each subfolder holding
  image files at any depth is one case. The case id is the folder's (or NIfTI file's) name
  with characters outside [A-Za-z0-9._-] replaced; outputs go to OUT/<case_id>/.

resuming:
  A finished case is skipped when the command runs again on the same input (a batch that was
  killed finishes the rest); one whose findings a surgeon changed since is re-exported without
  re-analysis. OUT is a workspace shared with the viewer: a re-analysis refreshes only the
  machine's "auto" findings and keeps what a surgeon made, confirmed or rejected, and a
  corrected label map -- unless --force, which redoes every case from scratch (a replaced
  findings.json holding surgeon work is kept as findings.before-force-<time>.json).

exit status:
  0  every case succeeded (or was done before)
  1  some case failed (the others are exported; OUT/batch_report.json says why), or the
     batch could not start (e.g. the --scheduler cannot be reached)
  2  usage error: bad options, or an INPUT that does not exist or holds no image file;
     nothing is run then
"""


def _add_batch_parsers(sub, common: argparse.ArgumentParser) -> None:  # type: ignore[no-untyped-def]
    from .export import FORMATS  # not from .batch: that would import the readers

    p = sub.add_parser(
        "batch",
        parents=[common],
        help="analyse and export many cases, headless, in parallel (dask.distributed)",
        description="Analyse and export many cases headless, in parallel on a local Dask "
        "cluster or an existing one.",
        epilog=_BATCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="a case, or a folder of cases")
    p.add_argument("--out", required=True, metavar="DIR", help="the output folder (workspace)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local worker processes (default: the number of cores, at most one per case)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster (tcp://host:8786); its workers need nvc-viewer "
        "installed and the same paths to the inputs and DIR",
    )
    p.add_argument(
        "--formats",
        nargs="+",
        choices=FORMATS,
        default=list(FORMATS),
        metavar="FMT",
        help=f"what to write (default all: {' '.join(FORMATS)}); csv is the merged "
        "DIR/findings.csv, seg and sr are written for DICOM input only; findings.json and "
        "segmentation.nii.gz (the workspace) are always written",
    )
    p.add_argument(
        "--t2",
        metavar="S",
        help="which series is the T2 (DICOM key, number, description; NIfTI file name)",
    )
    p.add_argument(
        "--tof", metavar="S", help="which series is the TOF (as --t2); 'none' ignores any TOF"
    )
    p.add_argument("--force", action="store_true", help="redo finished cases from scratch")
    p.add_argument(
        "--include-phi",
        action="store_true",
        help="print patient name, ID and dates on the printable report (never in JSON/CSV)",
    )
    p.set_defaults(func=_cmd_batch, usage_error=p.error)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="re-export every saved case of a workspace, without re-running any analysis",
        description="Re-export every saved case of a workspace (findings, markups, label map, "
        "DICOM SEG/SR, report) and the merged findings.csv, without re-running any analysis. "
        "DICOM SEG/SR and the report need the source images (recorded in <case_id>/case.json); "
        "when they are gone, the rest is exported and what was skipped is said. Exit 1 when a "
        "case could not be exported at all.",
    )
    p.add_argument("workspace", metavar="WORKSPACE", help="a folder written by batch or the viewer")
    p.add_argument("--out", metavar="DIR", help="where to write (default: the workspace)")
    p.add_argument(
        "--formats",
        nargs="+",
        choices=FORMATS,
        default=list(FORMATS),
        metavar="FMT",
        help=f"what to write (default all: {' '.join(FORMATS)})",
    )
    p.add_argument(
        "--include-phi",
        action="store_true",
        help="print patient name, ID and dates on the printable report (never in JSON/CSV)",
    )
    p.set_defaults(func=_cmd_export, usage_error=p.error)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nvc-viewer`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NVCError as exc:
        if args.debug:
            raise
        print(f"nvc-viewer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nvc-viewer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
