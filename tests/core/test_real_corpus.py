"""A corpus nobody here wrote: every installed file of pydicom's test data, pydicom-data and
nibabel's test data, read one by one and grouped by SeriesInstanceUID (one folder per series),
either loads or is refused with an `NVCError` that names the file and a known reason. Nothing
else may escape (no TypeError from a singular affine, no "truncated" for a colour image).

pydicom-data is a test dependency (``scripts/setup.sh`` installs it); under CI its absence fails
the test instead of skipping it.
"""

from __future__ import annotations

import glob
import os
import re
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import nibabel as nib
import pydicom
import pytest

from nvc_viewer.errors import NVCError
from nvc_viewer.io import load
from nvc_viewer.io.dicom import scan_dicom

#: Every reason a refusal may give, by its words. A message matching none is a failure: a new
#: reason must be named here on purpose.
REASONS = {
    "not an image": r"not a DICOM image: |not a NIfTI image|no DICOM image series found",
    "other format": r"DICOM or NIfTI only; this is ",
    "colour": r"colour image \(",
    "mosaic": r"Siemens mosaic",
    "float pixels": r"floating-point pixel data",
    "no position": r"has no ImagePositionPatient|frames without per-frame ImagePositionPatient",
    "one position": r"lie at one position|share a position",
    "mixed geometry": r"slices of one series disagree on",
    "which series": r"series and (none|several) recognised as the heavy-T2 series",
    "missing slices": r"slice\(s\) missing along the slice normal",
    "uneven": r"slice steps vary",
    "truncated": r"pixel data truncated|the file is truncated",
    "4-D": r"4-D image with \d+ volumes",
    "NaN": r"voxels are NaN or infinite",
    "no decoder": r"cannot be decoded|has no decoder",
}

#: Inputs whose reason is known: (file name, or "series of" + a member's name) -> reason.
EXPECTED = {
    "MR_small.dcm": "loaded",
    # The same slice in 9 transfer syntaxes, one of them cut short (MR_truncated.dcm): the
    # first problem is said; the shared position is listed too (checked below).
    "series of MR_small.dcm": "truncated",
    "series of MR2_J2KI.dcm": "one position",
    "SC_ybr_full_422_uncompressed.dcm": "colour",  # two bytes a pixel: not truncated
    "0.dcm": "mosaic",
    "test.mgz": "other format",
    "minc1_1_scale.mnc": "other format",
    "minc2_1_scale.mnc": "other format",
    "scaled+tlrc.HEAD": "other format",
    "T1.PAR": "other format",
    "phantom_EPI_asc_CLEAR_2_1.REC": "other format",
    "analyze.hdr": "other format",
    "example4d.nii.gz": "4-D",
    "anatomical.nii": "loaded",
}


def _corpus_files() -> list[Path]:
    from pydicom.data import get_testdata_files

    files = [Path(p) for p in get_testdata_files() if os.path.isfile(p)]
    if not any("data_store" in p.parts for p in files):  # pydicom-data's package
        if os.environ.get("CI"):
            pytest.fail("pydicom-data is missing: scripts/setup.sh installs it")
        pytest.skip("pydicom-data not installed")
    root = Path(nib.__file__).parent
    files += [
        Path(p)
        for p in glob.glob(str(root / "**" / "tests" / "data" / "**" / "*"), recursive=True)
        if os.path.isfile(p) and "__pycache__" not in p
    ]
    return sorted(files)


def _series_folders(files: list[Path], root: Path) -> dict[str, Path]:
    """One folder (of links) per SeriesInstanceUID shared by two or more files."""
    by_uid: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[0x0020000E])
            uid = str(ds.get("SeriesInstanceUID", "") or "")
        except Exception:  # noqa: BLE001 -- not DICOM: only read singly
            continue
        if uid:
            by_uid[uid].append(path)
    folders = {}
    for n, (_, members) in enumerate(sorted(by_uid.items())):
        if len(members) < 2:
            continue
        folder = root / f"series{n:03d}"
        folder.mkdir()
        for m, path in enumerate(members):
            (folder / f"{m:03d}_{path.name}").symlink_to(path)
        for path in members:
            folders.setdefault(f"series of {path.name}", folder)
    return folders


def _outcome(path: Path) -> tuple[str, str]:
    """("loaded", "") or (reason, message); any other exception propagates as the failure."""
    try:
        load(path)
    except NVCError as exc:
        message = str(exc)
        assert message.startswith(str(path)), f"the message does not name the input: {message}"
        for reason, pattern in REASONS.items():
            if re.search(pattern, message):
                return reason, message
        raise AssertionError(f"a refusal with no known reason: {message}") from None
    return "loaded", ""


def test_every_real_file_and_series_loads_or_is_refused_with_a_named_reason(tmp_path, capsys):
    files = _corpus_files()
    series = _series_folders(files, tmp_path)
    inputs = {str(p): p for p in files} | {str(p): p for p in set(series.values())}
    outcomes: dict[str, tuple[str, str]] = {}
    errors = []
    for key, path in inputs.items():
        try:
            outcomes[key] = _outcome(path)
        except Exception as exc:  # noqa: BLE001 -- collected: every input is tried
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
    counts = Counter("loaded" if r == "loaded" else "refused" for r, _ in outcomes.values())
    reasons = Counter(r for r, _ in outcomes.values() if r != "loaded")
    with capsys.disabled():
        print(
            f"\ncorpus: {len(inputs)} inputs ({len(files)} files, {len(set(series.values()))} "
            f"series folders): {counts['loaded']} loaded, {counts['refused']} refused with a "
            f"named reason, {len(errors)} other errors; reasons: {dict(reasons.most_common())}"
        )
    assert errors == []

    by_name = {Path(k).name: v for k, v in outcomes.items() if k not in map(str, series.values())}
    for name, folder in series.items():
        by_name[name] = outcomes[str(folder)]
    for name, expected in EXPECTED.items():
        assert name in by_name, f"{name} is not in the corpus"
        got, message = by_name[name]
        assert got == expected, (name, message)
    [info] = scan_dicom(series["series of MR_small.dcm"]).series
    assert any("all 9 images lie at one position" in p for p in info.problems), info.problems
    assert counts["loaded"] >= 40 and counts["refused"] >= 200  # the corpus is really there


def test_mricron_templates_whose_sform_and_qform_disagree_say_so():
    """Debian's mricron-data: jhu189 and natbrainlab set both matrices, far apart (SimpleITK,
    which reads the qform, puts them elsewhere); Colin27 sets them alike."""
    found = {
        Path(p).name: Path(p)
        for name in ("jhu189", "natbrainlab", "ch2better")
        for p in glob.glob(f"/usr/share/mricron*/**/{name}.nii.gz", recursive=True)
    }
    if len(found) < 3:
        if os.environ.get("CI"):
            pytest.fail("mricron-data is missing: scripts/test.sh installs it")
        pytest.skip("mricron-data not installed")
    for name in ("jhu189.nii.gz", "natbrainlab.nii.gz"):
        vol = load(found[name])
        assert vol.meta.extra["affine_source"] == "sform"
        assert any(
            re.search(r"sform and the qform disagree: .* lies \d+\.\d mm apart .* the sform", w)
            for w in vol.meta.warnings
        ), (name, vol.meta.warnings)
    assert not any("qform" in w for w in load(found["ch2better.nii.gz"]).meta.warnings)
