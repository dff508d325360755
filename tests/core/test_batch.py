"""The batch command end to end on small phantoms: a local cluster, an existing Dask scheduler,
a batch killed midway and resumed, a surgeon's work that survives re-runs and reaches every
export, exit codes, failures explained, de-identified outputs, and ``nvc-viewer export``."""

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from dask_processes import BIN, dask_processes
from phantom_cases import small_phantom

from nvc_viewer.cli import main
from nvc_viewer.export.slicer import read_slicer_markups
from nvc_viewer.findings import Finding, confirm, new_finding_id, reject
from nvc_viewer.phantom import write_case
from nvc_viewer.phantom._write import PHANTOM_PATIENT, phantom_uids
from nvc_viewer.workspace import Workspace

pytestmark = pytest.mark.slow  # real clusters and analyses: about a minute in all

REPORT_KEYS = {"schema", "schema_version", "started", "finished", "cases"}
ROW_KEYS = {"case_id", "input", "status", "error", "outputs", "timings_s", "warnings"}


@pytest.fixture(scope="module")
def phantom_case(tmp_path_factory):
    """One small contact phantom written as NIfTI and as DICOM, and its patient data and UIDs."""
    root = tmp_path_factory.mktemp("phantom")
    phantom = small_phantom("contact", "left", shape=(80, 80, 50))
    write_case(phantom, root / "nifti", fmt="nifti")
    write_case(phantom, root / "dicom", fmt="dicom")
    uids = set(phantom_uids(phantom).values())
    for path in (root / "dicom").rglob("*.dcm"):
        uids.add(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    phi = {v for k, v in PHANTOM_PATIENT.items() if k != "sex"} | {"PHANTOM NVC"} | uids
    return root, phi


def copy_case(phantom_case, kind, dest):
    shutil.copytree(phantom_case[0] / kind, dest)
    return dest


def report_of(out):
    report = json.loads((out / "batch_report.json").read_text())
    assert set(report) == REPORT_KEYS
    assert report["schema"] == "nvc-viewer/batch-report" and report["schema_version"] == 1
    for row in report["cases"]:
        assert set(row) == ROW_KEYS
        saved = out / row["case_id"] / "findings.json"
        if row["status"] != "failed" and saved.is_file():
            # the report lists the analysis' case warnings as the saved case holds them
            assert row["warnings"] == json.loads(saved.read_text())["warnings"]
    return report, {row["case_id"]: row for row in report["cases"]}


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_no_phi(folder, phi):
    checked = 0
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".csv", ".txt"):
            text = path.read_text("utf-8")
            leaked = [value for value in phi if value in text]
            assert not leaked, f"{path.name} holds patient data {leaked}"
            checked += 1
    assert checked


# -- a local cluster: exit codes, a failing case, outputs, de-identification, export -----------


def test_batch_exports_every_case_and_explains_a_failure(tmp_path, phantom_case, capsys):
    cases = tmp_path / "cases"
    copy_case(phantom_case, "dicom", cases / "Case A (dicom)")
    copy_case(phantom_case, "nifti", cases / "case_b")
    broken = copy_case(phantom_case, "nifti", cases / "case_c")
    t2 = broken / "t2_ciss.nii.gz"
    t2.write_bytes(t2.read_bytes()[: t2.stat().st_size // 2])  # a truncated file
    out = tmp_path / "out"

    assert main(["batch", str(cases), "--out", str(out), "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "case_c: failed" in err
    report, rows = report_of(out)
    assert report["finished"] is not None
    assert sorted(rows) == ["Case_A_dicom", "case_b", "case_c"]
    assert rows["case_c"]["status"] == "failed"
    assert "t2_ciss.nii.gz" in rows["case_c"]["error"]  # names the file
    assert "Traceback" not in rows["case_c"]["error"]
    assert rows["case_c"]["input"] == str(cases / "case_c")  # the path as given
    for case_id, kind in (("Case_A_dicom", "dicom"), ("case_b", "nifti")):
        row = rows[case_id]
        assert row["status"] == "ok" and row["error"] is None
        assert set(row["timings_s"]) >= {"load", "analyse", "export", "total"}
        names = {Path(p).name for p in row["outputs"]}
        assert {"findings.json", "segmentation.nii.gz", "findings.mrk.json"} <= names
        assert ({"segmentation.dcm", "report_sr.dcm"} <= names) == (kind == "dicom")
        assert all((out / p).is_file() for p in row["outputs"])
        assert Workspace(out).load(case_id).case_id == case_id
    saved = Workspace(out)
    expected = sorted((c, f.id) for c in ("Case_A_dicom", "case_b") for f in saved.load(c).findings)
    assert sorted((r["case_id"], r["id"]) for r in csv_rows(out / "findings.csv")) == expected
    assert not (out / "case_c" / "findings.json").exists()  # nothing half-written
    assert_no_phi(out, phantom_case[1])

    # Re-export the workspace elsewhere, without analysis; then with the DICOM source gone.
    exported = tmp_path / "exported"
    assert main(["export", str(out), "--out", str(exported)]) == 0
    assert (exported / "Case_A_dicom" / "report_sr.dcm").is_file()
    assert csv_rows(exported / "findings.csv") == csv_rows(out / "findings.csv")
    shutil.move(cases / "Case A (dicom)", tmp_path / "moved")
    again = tmp_path / "again"
    assert main(["export", str(out), "--out", str(again), "--formats", "json", "mrk", "sr"]) == 0
    err = capsys.readouterr().err
    assert "Case_A_dicom: partial: sr not written: the source images are gone" in err
    assert (again / "Case_A_dicom" / "findings.mrk.json").is_file()
    assert not (again / "Case_A_dicom" / "report_sr.dcm").exists()
    export_report = json.loads((again / "export_report.json").read_text())
    rows = {r["case_id"]: r for r in export_report["cases"]}
    assert rows["case_b"]["status"] == "ok" and rows["Case_A_dicom"]["status"] == "partial"
    assert_no_phi(again, phantom_case[1])


# -- an existing Dask cluster ---------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A real ``dask scheduler`` and ``dask worker`` on loopback, random free ports."""
    with dask_processes(tmp_path_factory.mktemp("dask"), 1) as (address, _):
        yield address


def test_batch_runs_on_an_existing_scheduler(tmp_path, phantom_case, dask_cluster, monkeypatch):
    import distributed

    def no_local_cluster(*args, **kwargs):
        raise AssertionError("a LocalCluster was started although --scheduler was given")

    monkeypatch.setattr(distributed, "LocalCluster", no_local_cluster)
    case = copy_case(phantom_case, "nifti", tmp_path / "c1")
    out = tmp_path / "out"
    assert main(["batch", str(case), "--out", str(out), "--scheduler", dask_cluster]) == 0
    _, rows = report_of(out)
    assert rows["c1"]["status"] == "ok"
    assert (out / "c1" / "segmentation.nii.gz").is_file()
    assert main(["batch", str(case), "--out", str(out), "--scheduler", dask_cluster]) == 0
    assert report_of(out)[1]["c1"]["status"] == "skipped"


def test_an_unreachable_scheduler_is_one_line_and_exit_1(tmp_path, phantom_case, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    case = copy_case(phantom_case, "nifti", tmp_path / "c1")
    argv = ["batch", str(case), "--out", str(tmp_path / "out"), "--scheduler",
            f"tcp://127.0.0.1:{port}"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "Traceback" not in err


# -- killed midway, then resumed ----------------------------------------------------------------


def test_a_killed_batch_finishes_the_rest_when_run_again(tmp_path, phantom_case):
    cases = tmp_path / "cases"
    for name in ("k1", "k2", "k3"):
        copy_case(phantom_case, "nifti", cases / name)
    out = tmp_path / "out"
    argv = [BIN / "nvc-viewer", "batch", cases, "--out", out, "--workers", "1"]
    proc = subprocess.Popen(
        argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    markers = [out / name / ".nvc-done.json" for name in ("k1", "k2", "k3")]
    try:
        deadline = time.monotonic() + 120
        while not (out / "batch_report.json").exists():  # written once a case is done
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no case finished in time"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its worker processes
        proc.wait()
    done_before = {m.parent.name for m in markers if m.exists()}
    assert 1 <= len(done_before) < 3
    report, rows = report_of(out)
    assert report["finished"] is None  # the report of a killed batch says it did not finish

    assert main(["batch", str(cases), "--out", str(out), "--workers", "1"]) == 0
    report, rows = report_of(out)
    assert report["finished"] is not None
    assert {c for c, r in rows.items() if r["status"] == "skipped"} == done_before
    assert {c for c, r in rows.items() if r["status"] == "ok"} == {"k1", "k2", "k3"} - done_before
    for row in rows.values():
        assert row["outputs"] and all((out / p).is_file() for p in row["outputs"])
    assert {r["case_id"] for r in csv_rows(out / "findings.csv")} <= {"k1", "k2", "k3"}
    assert not list(out.rglob(".*.tmp*"))


# -- the surgeon's work survives and reaches every export -----------------------------------


def exported_ids(out, case_id):
    """Finding ids (and origins) as every per-case export and the merged CSV carry them."""
    folder = out / case_id
    from_json = {f.id: f.origin for f in Workspace(out).load(case_id).findings}
    from_mrk = {f.id: f.origin for f in read_slicer_markups(folder / "findings.mrk.json").findings}
    table = csv_rows(out / "findings.csv")
    from_csv = {r["id"]: r["origin"] for r in table if r["case_id"] == case_id}
    texts = []

    def walk(items):
        for item in items:
            texts.append(str(item.get("TextValue", "")))
            walk(item.get("ContentSequence", []))

    walk(pydicom.dcmread(folder / "report_sr.dcm").ContentSequence)
    from_sr = {i for i in from_json if any(t.endswith(f"[{i}]") for t in texts)}
    return from_json, from_mrk, from_csv, from_sr


def test_surgeon_findings_survive_re_runs_and_reach_every_export(
    tmp_path, phantom_case, dask_cluster
):
    case = copy_case(phantom_case, "dicom", tmp_path / "hfs01")
    out = tmp_path / "ws"
    argv = ["batch", str(case), "--out", str(out), "--scheduler", dask_cluster]
    assert main(argv) == 0
    ws = Workspace(out)
    machine = ws.load("hfs01")
    assert machine.findings == () or all(f.origin == "auto" for f in machine.findings)

    # The surgeon confirms one machine proposal, rejects another, adds one by hand and enters
    # the clinical record (what the viewer autosaves). Two proposals are added to what this
    # analysis made so that the test does not depend on how many contacts it finds.
    def proposal(side, vessel, position):
        return Finding(new_finding_id(), side, "VII", vessel, "artery", "RDP", "contact",
                       position, confidence=0.6)  # fmt: skip

    confirmed = confirm(proposal("left", "AICA", (-13.0, -29.2, -33.7)), author="dr_a")
    rejected = reject(proposal("right", "PICA", (14.0, -29.0, -38.0)), author="dr_a")
    manual = Finding(new_finding_id(), "right", "VII", "PICA", "artery", "cisternal",
                     "indentation", (20.0, -30.0, -35.0), origin="manual", author="dr_a",
                     note="seen on the TOF")  # fmt: skip
    edited = machine.replace(
        findings=(*machine.findings, confirmed, rejected, manual),
        clinical=machine.clinical.__class__(condition="hemifacial_spasm", symptomatic_side="left"),
    )
    ws.save(edited)
    decided = {f.id: f.origin for f in (confirmed, rejected, manual)}

    # Second run: the analysis is current, the findings changed: re-exported, not re-analysed.
    assert main(argv) == 0
    row = report_of(out)[1]["hfs01"]
    assert row["status"] == "ok" and "analyse" not in row["timings_s"]
    from_json, from_mrk, from_csv, from_sr = exported_ids(out, "hfs01")
    assert from_json == from_mrk == from_csv == {f.id: f.origin for f in edited.findings}
    assert from_sr == {i for i, o in from_json.items() if o != "auto-rejected"}  # by design

    # Third run: the images were sent again (newer files): re-analysed and merged.
    later = time.time() + 60
    for path in case.rglob("*"):
        os.utime(path, (later, later))
    assert main(argv) == 0
    row = report_of(out)[1]["hfs01"]
    assert row["status"] == "ok" and "analyse" in row["timings_s"]
    merged = ws.load("hfs01")
    kept = {f.id: f for f in merged.findings if f.origin != "auto"}
    assert {i: f.origin for i, f in kept.items()} == decided
    assert kept[confirmed.id] == confirmed and kept[manual.id] == manual
    assert merged.clinical.condition == "hemifacial_spasm"
    for f in merged.findings:  # nothing the surgeon decided is proposed again
        if f.origin == "auto":
            assert all(
                (f.side, f.nerve, f.vessel) != (k.side, k.nerve, k.vessel)
                or sum((a - b) ** 2 for a, b in zip(f.position_ras, k.position_ras)) > 9.0
                for k in kept.values()
            )
    from_json, from_mrk, from_csv, from_sr = exported_ids(out, "hfs01")
    assert from_json == from_mrk == from_csv
    assert {i: o for i, o in from_json.items() if i in decided} == decided
    assert from_sr == {i for i, o in from_json.items() if o != "auto-rejected"}  # by design
    assert_no_phi(out, phantom_case[1])


# -- what a re-run does, case by case (in process, no cluster) -------------------------------


def test_plan_skip_export_or_analyse_and_a_corrected_label_map_is_kept(tmp_path, phantom_case):
    import nibabel as nib
    import numpy as np

    from nvc_viewer.batch import CaseJob, plan_case, run_case

    case = copy_case(phantom_case, "nifti", tmp_path / "c1")
    out = tmp_path / "ws"
    job = CaseJob("c1", "c1", str(case), str(out), formats=("json", "mrk", "nifti"))
    assert plan_case(job) == "analyse"
    first = run_case(job)
    assert first["status"] == "ok" and "analyse" in first["timings_s"]
    assert plan_case(job) == "skip"
    assert run_case(job)["status"] == "skipped"
    assert plan_case(job.__class__(**{**job.__dict__, "formats": ("json", "report")})) == "export"
    assert plan_case(job.__class__(**{**job.__dict__, "tof": "none"})) == "analyse"

    # The surgeon corrects the label map in the viewer: re-exported, and kept by a re-analysis.
    seg = out / "c1" / "segmentation.nii.gz"
    img = nib.load(seg)
    corrected = np.asarray(img.dataobj).copy()
    corrected[:4, :4, :4] = 7
    nib.save(nib.Nifti1Image(corrected, img.affine, img.header), seg)
    assert plan_case(job) == "export"
    row = run_case(job)
    assert row["status"] == "ok" and "analyse" not in row["timings_s"]
    assert plan_case(job) == "skip"
    later = time.time() + 60
    os.utime(case / "t2_ciss.nii.gz", (later, later))
    assert plan_case(job) == "analyse"
    assert run_case(job)["status"] == "ok"
    assert np.array_equal(np.asarray(nib.load(seg).dataobj), corrected)
    # --force redoes everything: the machine's label map again.
    forced = run_case(job.__class__(**{**job.__dict__, "force": True}))
    assert forced["status"] == "ok"
    assert not np.array_equal(np.asarray(nib.load(seg).dataobj), corrected)

    # An output that disappeared: analysed again.
    (out / "c1" / "findings.mrk.json").unlink()
    assert plan_case(job) == "analyse"

    # Another input under the same name is refused rather than merged into this case.
    other = copy_case(phantom_case, "dicom", tmp_path / "elsewhere" / "c1")
    row = run_case(CaseJob("c1", str(other), str(other), str(out)))
    assert row["status"] == "failed" and "holds the work of another input" in row["error"]


def test_debug_adds_the_traceback_of_a_failure(tmp_path):
    from nvc_viewer.batch import CaseJob, run_case

    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\0" * 40)
    job = CaseJob("bad", str(bad), str(bad), str(tmp_path / "out"))
    row = run_case(job)
    assert row["status"] == "failed" and "bad.nii.gz" in row["error"] and "traceback" not in row
    row = run_case(job.__class__(**{**job.__dict__, "debug": True}))
    assert "Traceback" in row["traceback"]


def test_the_batch_report_is_drawn_with_the_tof(tmp_path, phantom_case, monkeypatch):
    # the report draws the TOF in red over the T2: the batch gives it the case's TOF, when it
    # analyses the case and when it re-exports it from the workspace (`export_saved_case`)
    import nibabel as nib
    import numpy as np

    from nvc_viewer.batch import CaseJob, plan_case, run_case
    from nvc_viewer.export import report

    drawn = []

    def record_report(case, t2, png, pdf, *, tof=None, **kwargs):
        drawn.append(tof)
        for path in (png, pdf):
            Path(path).write_bytes(b"")
        return Path(png), Path(pdf)

    monkeypatch.setattr(report, "write_case_report", record_report)
    case = copy_case(phantom_case, "nifti", tmp_path / "c1")
    tof = nib.load(case / "tof.nii.gz")
    out = tmp_path / "ws"
    job = CaseJob("c1", "c1", str(case), str(out), formats=("json", "report"))
    assert plan_case(job) == "analyse"
    assert run_case(job)["status"] == "ok"
    more = job.__class__(**{**job.__dict__, "formats": ("json", "mrk", "report")})
    assert plan_case(more) == "export"
    assert run_case(more)["status"] == "ok"
    assert len(drawn) == 2
    for volume in drawn:  # analysed, then re-exported
        assert volume is not None and volume.shape == tof.shape
        assert np.allclose(volume.affine, tof.affine, atol=1e-4)
