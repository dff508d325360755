"""No patient data leaks, no path escapes, and the source data is never modified.

A small phantom DICOM case is given distinctive patient data -- name, ID, birth date, accession
number -- with a PatientID and SeriesDescriptions of the form ``../../x``. The batch command
(a local Dask cluster), ``nvc-viewer export`` and the in-process readers run on it; then

* no JSON / CSV / markups / NIfTI / report (PNG, PDF bytes, and the text drawn on the page)
  output holds any of the patient values or a raw UID (SeriesInstanceUID, StudyInstanceUID,
  SOPInstanceUID, FrameOfReferenceUID); DICOM SEG and SR may (the standard wants the patient
  module there);
* nothing is written outside the output folder and no file name comes from a DICOM value;
* the exports carry the pseudonymous case id (the case folder's name);
* every input file keeps its sha256 and its modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from pathlib import Path

import pydicom
import pytest
from phantom_cases import small_phantom

from nvc_viewer.cli import main
from nvc_viewer.io import load_case
from nvc_viewer.phantom import write_case
from nvc_viewer.workspace import Workspace

pytestmark = pytest.mark.slow  # one phantom, one local-cluster batch: about 20 s

PATIENT = {
    "PatientName": "Qzxwv^Jolyon^Marten",
    "PatientID": "../../QZX-ID-7731",
    "PatientBirthDate": "19320229",
    "AccessionNumber": "QZXACC5519",
}
#: How each value could appear once reformatted (name parts, ISO date).
PHI_FORMS = {
    "PatientName": ["Qzxwv", "Jolyon", "Marten"],
    "PatientID": ["QZX-ID-7731", "QZX_ID_7731", "QZX-ID"],
    "PatientBirthDate": ["19320229", "1932-02-29"],
    "AccessionNumber": ["QZXACC5519"],
}
UID_KEYWORDS = ("SeriesInstanceUID", "StudyInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
CASE_ID = "case-017"


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime (ns) of every file under ``root``, by relative path."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def phi_case(tmp_path_factory):
    """A phantom DICOM case carrying distinctive patient data; its values and raw UIDs."""
    root = tmp_path_factory.mktemp("privacy")
    phantom = small_phantom("contact", "left")
    case = root / "inputs" / CASE_ID
    write_case(phantom, case, fmt="dicom")
    uids: set[str] = set()
    for path in sorted(case.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        for keyword, value in PATIENT.items():
            setattr(ds, keyword, value)
        # A description that is a path: must never become one (and still names the role).
        ds.SeriesDescription = "../../" + str(ds.SeriesDescription)
        ds.save_as(path, enforce_file_format=True)
        uids.update(str(ds.get(k)) for k in UID_KEYWORDS if ds.get(k))
    assert len(uids) > 4
    return root, case, uids


@pytest.fixture(scope="module")
def outputs(phi_case):
    """Run the batch and a re-export; record the input tree before and after."""
    root, case, _ = phi_case
    before = tree_state(case)
    outside_before = {p for p in root.rglob("*") if "out" not in p.relative_to(root).parts[:1]}
    out = root / "out"
    code = main(["batch", str(case), "--out", str(out), "--workers", "1"])
    assert code == 0
    exported = root / "out" / "re-export"
    assert main(["export", str(out), "--out", str(exported)]) == 0
    return {"root": root, "case": case, "out": out, "before": before,
            "outside_before": outside_before}  # fmt: skip


def _searchable(path: Path) -> bytes:
    """The file's bytes, plus the inflated content of every Flate stream of a PDF."""
    data = path.read_bytes()
    if path.suffix.lower() == ".pdf":
        for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
            try:
                data += zlib.decompress(match.group(1))
            except zlib.error:
                pass
    return data


def _leaks(data: bytes, uids: set[str]) -> list[str]:
    found = [f"{k}={form}" for k, forms in PHI_FORMS.items() for form in forms
             if form.encode() in data or form.encode("utf-16-le") in data]  # fmt: skip
    found += [f"UID {uid}" for uid in uids if uid.encode() in data]
    return found


def test_no_patient_data_or_raw_uid_in_any_export(outputs, phi_case):
    uids = phi_case[2]
    checked: dict[str, int] = {}
    allowed_phi = {"segmentation.dcm", "report_sr.dcm"}  # DICOM SEG / SR carry the patient
    for path in sorted(outputs["out"].rglob("*")):
        if not path.is_file() or path.name in allowed_phi:
            continue
        leaks = _leaks(_searchable(path), uids)
        assert not leaks, f"{path.relative_to(outputs['out'])} holds {leaks}"
        checked[path.suffix] = checked.get(path.suffix, 0) + 1
    # Every kind of export was looked at (the report in both formats, twice: batch and export).
    for suffix in (".json", ".csv", ".gz", ".png", ".pdf"):
        assert checked.get(suffix, 0) >= 1, (suffix, checked)
    # The SEG and SR do carry the patient module: the scan above would have seen a leak.
    sr = pydicom.dcmread(outputs["out"] / CASE_ID / "report_sr.dcm")
    assert str(sr.PatientID) == PATIENT["PatientID"]
    assert _leaks((outputs["out"] / CASE_ID / "report_sr.dcm").read_bytes(), uids)


def test_the_text_drawn_on_the_report_holds_no_patient_data(outputs, phi_case, monkeypatch):
    from PIL import ImageDraw

    from nvc_viewer.export.report import render_case_report

    drawn: list[str] = []
    original = ImageDraw.ImageDraw.text

    def recording_text(self, xy, text, *args, **kwargs):
        drawn.append(str(text))
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recording_text)
    case = Workspace(outputs["out"]).load(CASE_ID)
    t2 = load_case(phi_case[1]).t2
    assert t2.meta.extra["patient"]["id"] == PATIENT["PatientID"]  # the reader has it in memory
    render_case_report(case, t2)
    text = "\n".join(drawn).encode()
    assert CASE_ID.encode() in text  # the page names the case by its pseudonym
    assert not _leaks(text, phi_case[2]), _leaks(text, phi_case[2])
    # With the user's consent the name is printed: the capture sees what is drawn.
    drawn.clear()
    render_case_report(case, t2, patient={"Patient": PATIENT["PatientName"]})
    assert _leaks("\n".join(drawn).encode(), set())


def test_nothing_is_written_outside_the_output_folder(outputs):
    root = outputs["root"]
    now = {p for p in root.rglob("*") if "out" not in p.relative_to(root).parts[:1]}
    assert now == outputs["outside_before"]
    # "../../QZX-ID-7731" and "../../t2_..." never became a path, inside or outside.
    base = root.parent
    escaped = [p for p in base.rglob("*QZX*")] + [p for p in base.rglob("*") if ".." in p.name]
    assert not escaped, escaped
    names = [p.name for p in outputs["out"].rglob("*")]
    assert not [n for n in names if "QZX" in n or "Qzxwv" in n]


def test_exports_carry_the_pseudonymous_case_id(outputs):
    out = outputs["out"]
    assert Workspace(out).case_ids() == [CASE_ID]
    doc = json.loads((out / CASE_ID / "findings.json").read_text("utf-8"))
    assert doc["case_id"] == CASE_ID
    assert all(s["uid_sha256"] is None or len(s["uid_sha256"]) == 64
               for s in doc["source"]["series"])  # fmt: skip
    report = json.loads((out / "batch_report.json").read_text("utf-8"))
    assert [row["case_id"] for row in report["cases"]] == [CASE_ID]
    markups = (out / CASE_ID / "findings.mrk.json").read_text("utf-8")
    assert CASE_ID in markups or doc["findings"] == []


def test_source_data_is_never_modified(outputs, phi_case):
    """sha256 and mtime of every input file unchanged after batch (load, analyse, export in a
    worker) and ``nvc-viewer export``; then after an in-process load, scan and report."""
    from nvc_viewer import load
    from nvc_viewer.export.report import render_case_report
    from nvc_viewer.io.dicom import describe_scan, scan_dicom

    case = outputs["case"]
    assert tree_state(case) == outputs["before"]
    volumes = load_case(case)
    load(case)
    describe_scan(scan_dicom(case))
    render_case_report(Workspace(outputs["out"]).load(CASE_ID), volumes.t2)
    assert tree_state(case) == outputs["before"]
    # The folder itself gained nothing either (no lock, cache or sidecar file).
    assert sorted(os.listdir(case)) == sorted({Path(p).parts[0] for p in outputs["before"]})
