"""A batch with many kinds of bad cases, run as the real command: the good case is exported,
each bad one is reported with its reason (naming the file), the exit code is 1 and stderr holds
no traceback -- unless ``--debug``.

``tests/core/test_batch.py`` covers one truncated NIfTI case through ``main()`` in-process; this
adds the other kinds of bad input and the process' own exit code and stderr.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from fuzz_inputs import dicom_series_bytes, gzip_bomb
from phantom_cases import small_phantom

from nvc_viewer.phantom import write_case

pytestmark = pytest.mark.slow  # one local-cluster batch with one real analysis

BIN = Path(sys.executable).parent
NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"


def _bad_cases(root: Path) -> dict[str, str]:
    """Write the bad cases; returns case id -> what its error must mention."""
    expect = {}
    (root / "four_d").mkdir()
    shutil.copy(NIBABEL_DATA / "example4d.nii.gz", root / "four_d" / "t2_ciss.nii.gz")
    expect["four_d"] = "t2_ciss.nii.gz.*4-D"
    series = dicom_series_bytes(root / "tmp")
    (root / "missing_slice").mkdir()
    for n, blob in enumerate(series):
        if n != 2:
            (root / "missing_slice" / f"IM{n:04d}.dcm").write_bytes(blob)
    expect["missing_slice"] = "missing|gap"
    (root / "truncated_slice").mkdir()
    for n, blob in enumerate(series):
        cut = len(blob) - 40 if n == 1 else len(blob)  # the end of one slice's pixels is gone
        (root / "truncated_slice" / f"IM{n:04d}.dcm").write_bytes(blob[:cut])
    expect["truncated_slice"] = "IM0001.dcm.*truncated"
    (root / "tmp").rename(root.parent / "scratch")  # not a case
    (root / "nan_t2").mkdir()
    data = np.ones((8, 8, 8), np.float32)
    data[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), root / "nan_t2" / "t2_ciss.nii")
    expect["nan_t2"] = "t2_ciss.nii.*NaN"
    (root / "gzip_bomb").mkdir()
    (root / "gzip_bomb" / "t2_ciss.nii.gz").write_bytes(gzip_bomb((4096, 4096, 4096), 1))
    expect["gzip_bomb"] = "t2_ciss.nii.gz.*limit"
    return expect


def test_bad_cases_fail_alone_with_reasons_and_no_traceback(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    expect = _bad_cases(cases)
    phantom = small_phantom("contact", "left", shape=(56, 56, 36))
    write_case(phantom, cases / "good", fmt="nifti")
    out = tmp_path / "out"
    argv = [BIN / "nvc-viewer", "batch", cases, "--out", out, "--workers", "1"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    report = json.loads((out / "batch_report.json").read_text("utf-8"))
    rows = {row["case_id"]: row for row in report["cases"]}
    assert sorted(rows) == sorted([*expect, "good"])
    assert rows["good"]["status"] == "ok"
    assert (out / "good" / "findings.json").is_file()

    for case_id, pattern in expect.items():
        row = rows[case_id]
        assert row["status"] == "failed", (case_id, row)
        assert re.search(pattern, row["error"], re.I), (case_id, row["error"])
        assert "Traceback" not in row["error"]
        assert f"{case_id}: failed" in proc.stderr  # each failure is named on the terminal
        assert not (out / case_id / "findings.json").exists()  # nothing half-written

    # --debug: the same failure, now with its traceback on stderr.
    argv = [BIN / "nvc-viewer", "batch", cases / "four_d", "--out", out, "--workers", "1",
            "--debug"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
