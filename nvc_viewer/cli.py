"""The ``nvc-viewer`` command line.

Every sub-command turns an `NVCError` into one readable line on stderr and exit code 1; usage
errors exit 2 (argparse's convention); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import NoSeriesFoundError, NVCError

__all__ = ["main", "build_parser"]


def _cmd_info(args: argparse.Namespace) -> int:
    from .io import is_nifti_path, load

    path = Path(args.path)
    if (
        path.is_file()
        and is_nifti_path(path)
        or (
            path.is_dir()
            and any(is_nifti_path(p) for p in path.iterdir())
            and not _holds_dicom(path)
        )
    ):
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if is_nifti_path(p))
        rows = []
        for f in files:
            try:
                vol = load(f)
            except NVCError as exc:
                rows.append({"file": f.name, "problem": exc.reason})
                continue
            rows.append(_volume_row(f.name, vol))
        _print_rows(rows, as_json=args.json)
        return 0
    from .io.dicom import describe_scan, scan_dicom

    scan = scan_dicom(path)
    if not scan.series:
        raise NoSeriesFoundError(
            f"no DICOM image series or NIfTI file found ({scan.n_files} file(s) looked at, "
            f"{scan.n_skipped} skipped as not DICOM images)",
            path=path,
        )
    if args.json:
        print(json.dumps(_scan_json(scan), indent=2))
    else:
        print(describe_scan(scan))
    return 0


def _holds_dicom(folder: Path) -> bool:
    from .io.nifti import is_nifti_path

    return any(p.is_file() and not is_nifti_path(p) for p in folder.rglob("*"))


def _volume_row(name: str, vol) -> dict:  # type: ignore[no-untyped-def]
    return {
        "file": name,
        "role": vol.meta.role,
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
        print(
            f"{row['file']}: role {row['role']}, {shape} voxels of {sp} mm, "
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


def _cmd_view(args: argparse.Namespace) -> int:
    from nvc_viewer_napari._launch import view

    view([str(p) for p in args.paths], series=args.series)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from nvc_viewer_napari._launch import demo

    out_dir = Path(args.out)
    result = demo(headless=args.headless, out_dir=out_dir)
    if args.headless:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


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
        "info", parents=[common], help="list the series of a DICOM folder or describe NIfTI files"
    )
    p.add_argument("path", help="a DICOM folder or file, a NIfTI file or a folder of NIfTI files")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "view", parents=[common], help="open napari with the nvc-viewer panels and the given case"
    )
    p.add_argument("paths", nargs="*", help="DICOM folders or NIfTI files")
    p.add_argument("--series", help="which series to open (key, UID, number, role, description)")
    p.set_defaults(func=_cmd_view)

    p = sub.add_parser("demo", parents=[common], help="run the main job on the bundled sample case")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: write outputs and screenshots and print where they are",
    )
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.set_defaults(func=_cmd_demo)

    return parser


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
