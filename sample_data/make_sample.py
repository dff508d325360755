"""Regenerate the bundled sample case ``sample_data/cpa_phantom`` bit for bit.

Usage::

    python sample_data/make_sample.py            # rewrite cpa_phantom/ and the hashes in README.md
    python sample_data/make_sample.py --check    # regenerate into a temporary folder and compare
                                                 # every file's sha256 with README.md (exit 1 if
                                                 # any differs)

The case is the synthetic CPA phantom of `nvc_viewer.phantom` (scenario, side, seed and grid
below), written by `nvc_viewer.phantom.write_case` in both forms. Every byte follows from these
settings: DICOM UIDs are derived from the phantom's identity, dates are fixed, gzip headers carry
no time stamp.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from nvc_viewer.atomic import atomic_write_text
from nvc_viewer.phantom import make_phantom, write_case

HERE = Path(__file__).resolve().parent
CASE = "cpa_phantom"

#: The phantom of the sample case. A small field of view (both cerebellopontine angles, the
#: brainstem and the porus acusticus) at 0.6 mm keeps the folder at a few MB.
SETTINGS = {
    "scenario": "indentation",
    "side": "left",
    "seed": 3,
    "shape": (96, 96, 52),
    "spacing_mm": 0.6,
    "supersample": 8,
    "snr": 25.0,
}

BEGIN = "<!-- sha256 begin (written by make_sample.py) -->"
END = "<!-- sha256 end -->"


def build(out: Path) -> None:
    """Write the sample case into the new folder ``out``.

    Layout: ``dicom/t2_ciss/``, ``dicom/tof/`` (classic MR Image Storage), ``nifti/t2_ciss.nii.gz``,
    ``nifti/tof.nii.gz``, ``labels_truth.nii.gz`` and ``truth.json`` (from the DICOM form, so its
    series entries carry the hashed SeriesInstanceUIDs).
    """
    settings = dict(SETTINGS)
    scenario = settings.pop("scenario")
    phantom = make_phantom(scenario, threads=1, **settings)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        dicom = write_case(phantom, Path(tmp) / "dicom", fmt="dicom")
        nifti = write_case(phantom, Path(tmp) / "nifti", fmt="nifti")
        if _sha256(dicom["labels"]) != _sha256(nifti["labels"]):
            raise RuntimeError("the two forms wrote different label maps")
        out.mkdir()
        (out / "dicom").mkdir()
        (out / "nifti").mkdir()
        for role in ("t2", "tof"):
            shutil.move(dicom[role], out / "dicom" / dicom[role].name)
            shutil.move(nifti[role], out / "nifti" / nifti[role].name)
        shutil.move(dicom["labels"], out / "labels_truth.nii.gz")
        shutil.move(dicom["truth"], out / "truth.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(case_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``case_dir``, keyed by its POSIX path relative to HERE."""
    root = case_dir.parent
    return {
        p.relative_to(root).as_posix(): _sha256(p)
        for p in sorted(case_dir.rglob("*"))
        if p.is_file()
    }


def readme_hashes(readme: Path) -> dict[str, str]:
    """The ``sha256  path`` lines between the markers of ``readme``."""
    text = readme.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    out = {}
    for line in block.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            out[parts[1]] = parts[0]
    return out


def _write_readme_hashes(readme: Path, table: dict[str, str]) -> None:
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    lines = "\n".join(f"{h}  {p}" for p, h in table.items())
    atomic_write_text(readme, f"{head}{BEGIN}\n```\n{lines}\n```\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="regenerate into a temporary folder and compare"
    )
    args = parser.parse_args(argv)
    readme = HERE / "README.md"
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / CASE
            build(fresh)
            new = hashes(fresh)
        old = readme_hashes(readme)
        differ = sorted(set(new) ^ set(old) | {p for p in new if old.get(p) != new[p]})
        for p in differ:
            print(f"differs: {p}")
        print(f"{len(new)} files regenerated, {len(differ)} differ from README.md")
        return 1 if differ else 0
    target = HERE / CASE
    staging = HERE / f".{CASE}.partial-{uuid.uuid4().hex[:12]}"
    try:
        build(staging)
        old = HERE / f".{CASE}.old-{uuid.uuid4().hex[:12]}"
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    table = hashes(target)
    _write_readme_hashes(readme, table)
    total = sum((HERE / p).stat().st_size for p in table)
    print(f"wrote {len(table)} files, {total / 1e6:.2f} MB, into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
