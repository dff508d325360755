"""The DICOM SEG and SR pass dciodvfy (Debian's dicom3tools, David Clunie's validator of the
standard's IODs): no error; warnings only for the private ``99NVC`` codes of the SR.
``scripts/test.sh`` installs dicom3tools; under CI its absence fails the test."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from test_export_dicom import make_case, make_labels, write_t2

from nvc_viewer.export import export_case


def _dciodvfy() -> str:
    found = shutil.which("dciodvfy")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("dciodvfy (Debian dicom3tools) is missing: scripts/test.sh installs it")
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    return found


@pytest.mark.parametrize("enhanced", [False, True], ids=["classic T2", "enhanced T2"])
def test_seg_and_sr_pass_dciodvfy(tmp_path, enhanced):
    binary = _dciodvfy()
    t2 = write_t2(tmp_path / "t2", enhanced=enhanced)
    out = tmp_path / "out"
    export_case(make_case(t2), out, t2=t2, labels=make_labels(t2), formats=("seg", "sr"))

    for name, iod in (("segmentation.dcm", "Segmentation"), ("report_sr.dcm", "Comprehensive3DSR")):
        proc = subprocess.run(
            [binary, "-new", str(out / name)], capture_output=True, text=True, timeout=60
        )
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        assert lines[0] == iod, lines  # dciodvfy names the IOD it recognised first
        errors = [line for line in lines if line.startswith("Error")]
        warnings = [line for line in lines if line.startswith("Warning")]
        assert errors == [], (name, errors)
        assert all("99NVC" in line for line in warnings), (name, warnings)
