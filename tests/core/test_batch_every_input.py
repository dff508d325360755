"""Every immediate subfolder of a folder of cases is in ``batch_report.json``: one that is
empty, or holds no image (junk named ``*.dcm``, a README, a PNG), is ``failed`` with what it
holds, and the exit code is 1 -- a patient is never left out unnoticed."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np

from nvc_viewer.cli import main


def test_empty_and_junk_subfolders_are_failed_cases_with_their_contents(tmp_path, capsys):
    cases = tmp_path / "cases"
    (cases / "empty").mkdir(parents=True)
    junk = cases / "junk"
    (junk / "series1").mkdir(parents=True)
    (junk / "series1" / "IM0001.dcm").write_bytes(b"this is not DICOM at all " * 20)
    (junk / "README").write_text("export of the CPA protocol\n")
    (junk / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    fake = cases / "fake_dicom"  # DICM preamble, but no image: fails when it is read
    fake.mkdir()
    (fake / "IM0001").write_bytes(bytes(128) + b"DICM" + b"\x02\x00garbage")
    (fake / "notes.txt").write_text("referral letter")
    # One case with an image (a truncated NIfTI: fails fast, without an analysis).
    broken = cases / "truncated"
    broken.mkdir()
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.eye(4)), broken / "t2.nii")
    (broken / "t2.nii").write_bytes((broken / "t2.nii").read_bytes()[:600])
    (cases / ".trash").mkdir()  # hidden: not a case
    out = tmp_path / "out"

    code = main(["batch", str(cases), "--out", str(out), "--workers", "1"])

    assert code == 1
    report = json.loads((out / "batch_report.json").read_text("utf-8"))
    rows = {row["case_id"]: row for row in report["cases"]}
    assert sorted(rows) == ["empty", "fake_dicom", "junk", "truncated"]
    assert all(row["status"] == "failed" for row in rows.values())
    assert rows["empty"]["error"] == (
        f"{cases / 'empty'}: no DICOM or NIfTI image in this case folder: the folder is empty"
    )
    assert rows["junk"]["error"] == (
        f"{cases / 'junk'}: no DICOM or NIfTI image in this case folder: 3 files: "
        "1 .dcm file holding text, not DICOM (IM0001.dcm), 1 PNG image (shot.png), "
        "1 text file (README)"
    )
    assert (
        "no DICOM image series found: looked at 2 file(s), skipped 2 ("
        in (rows["fake_dicom"]["error"])
    )
    assert "1 text file (notes.txt)" in rows["fake_dicom"]["error"]
    assert "truncated" in rows["truncated"]["error"]
    err = capsys.readouterr().err
    assert "empty: failed" in err and "junk: failed" in err and "Traceback" not in err
    assert not (out / "empty").exists() and not (out / "junk").exists()  # nothing written
