"""One worker and no scheduler: each case runs in a child process forked from the batch, with no
Dask cluster; the report is the one a cluster gives, and a case whose process dies fails alone."""

from __future__ import annotations

import json
import os

import nibabel as nib
import numpy as np
import pydicom
import pytest
from phantom_cases import small_phantom

import nvc_viewer.batch as batch
from nvc_viewer.cli import main
from nvc_viewer.phantom import write_case

pytestmark = [
    pytest.mark.slow,  # two small analyses
    pytest.mark.skipif(not batch.can_fork(), reason="no fork start method here"),
]


def test_one_worker_forks_a_child_per_case_and_a_dead_child_fails_its_case_only(
    tmp_path, monkeypatch, capsys
):
    import distributed

    def no_local_cluster(*args, **kwargs):
        raise AssertionError("a LocalCluster was started for one worker")

    monkeypatch.setattr(distributed, "LocalCluster", no_local_cluster)
    cases = tmp_path / "cases"
    phantom = small_phantom("contact", "left", shape=(56, 56, 36))
    for name in ("a_good", "b_dies", "c_good"):
        write_case(phantom, cases / name, fmt="nifti")
    real = batch.run_case
    parent = os.getpid()

    def run_case(job):
        assert os.getpid() != parent  # in a child process
        if job.case_id == "b_dies":
            os._exit(3)  # as if killed (out of memory, a crash in a C extension)
        return real(job)

    monkeypatch.setattr(batch, "run_case", run_case)
    out = tmp_path / "out"

    assert main(["batch", str(cases), "--out", str(out), "--workers", "1"]) == 1

    assert "b_dies: failed" in capsys.readouterr().err
    report = json.loads((out / "batch_report.json").read_text("utf-8"))
    assert report["finished"] is not None
    rows = {row["case_id"]: row for row in report["cases"]}
    assert sorted(rows) == ["a_good", "b_dies", "c_good"]
    assert "died" in rows["b_dies"]["error"] and "exit code 3" in rows["b_dies"]["error"]
    for case_id in ("a_good", "c_good"):
        row = rows[case_id]
        assert row["status"] == "ok", row
        assert set(row["timings_s"]) >= {"load", "analyse", "export", "total"}
        assert all((out / p).is_file() for p in row["outputs"])
        assert (out / case_id / ".nvc-done.json").is_file()
    assert not (out / "b_dies" / ".nvc-done.json").exists()


def _run(cases, out, **kwargs):
    return batch.run_batch([str(cases)], out, progress=lambda row: None, **kwargs)


def test_the_analysis_runs_in_its_own_process_and_the_outputs_are_those_of_one_process(tmp_path):
    """One worker: the case's process prepares the exports while a child analyses, and draws
    the report in another child; what is written is what one process writes."""
    cases = tmp_path / "cases"
    write_case(small_phantom("contact", "left", shape=(56, 56, 36)), cases / "a", fmt="dicom")
    write_case(small_phantom("contact", "right", shape=(56, 56, 36)), cases / "b", fmt="nifti")

    beside = _run(cases, tmp_path / "beside", workers=1)
    jobs = [
        batch.CaseJob(name, str(cases / name), str(cases / name), str(tmp_path / "inline"))
        for name in ("a", "b")
    ]
    inline = [batch.run_case(job) for job in jobs]  # here, no child process at all

    rows = {row["case_id"]: row for row in beside["cases"]}
    for row in inline:
        other = rows[row["case_id"]]
        assert row["status"] == other["status"] == "ok", (row, other)
        assert row["outputs"] == other["outputs"]
        assert row["warnings"] == other["warnings"]
        assert "export_prep" in other["timings_s"] and "export_prep" not in row["timings_s"]
        a, b = (tmp_path / d / row["case_id"] for d in ("beside", "inline"))
        fa, fb = (json.loads((d / "findings.json").read_text("utf-8")) for d in (a, b))
        drop = {"id", "created", "modified"}
        assert [{k: v for k, v in f.items() if k not in drop} for f in fa["findings"]] == [
            {k: v for k, v in f.items() if k not in drop} for f in fb["findings"]
        ]
        assert fa["landmarks"] == fb["landmarks"] and fa["flags"] == fb["flags"]
        assert fa["warnings"] == fb["warnings"] and fa["source"] == fb["source"]
        la, lb = (np.asanyarray(nib.load(d / "segmentation.nii.gz").dataobj) for d in (a, b))
        assert np.array_equal(la, lb)
        assert (a / "report.png").is_file() and (a / "report.pdf").is_file()
    sa, sb = (
        pydicom.dcmread(tmp_path / d / "a" / "segmentation.dcm") for d in ("beside", "inline")
    )
    assert sa.NumberOfFrames == sb.NumberOfFrames
    assert (sa.pixel_array == sb.pixel_array).all()


def test_an_analysis_process_that_dies_or_fails_fails_its_case_only(tmp_path, monkeypatch):
    import nvc_viewer.analysis as analysis
    from nvc_viewer.errors import AnalysisError

    cases = tmp_path / "cases"
    phantom = small_phantom("contact", "left", shape=(56, 56, 36))
    for name in ("a_dies", "b_refused", "c_good"):
        write_case(phantom, cases / name, fmt="nifti")
    real = analysis.analyse
    parent = os.getpid()

    def analyse(t2, tof=None, **kwargs):
        assert os.getpid() != parent
        if "a_dies" in str(t2.meta.source_paths or t2.meta.description):
            os._exit(5)  # as if killed
        if "b_refused" in str(t2.meta.source_paths or t2.meta.description):
            raise AnalysisError("no brainstem in the field of view (test)")
        return real(t2, tof, **kwargs)

    monkeypatch.setattr(analysis, "analyse", analyse)
    report = _run(cases, tmp_path / "out", workers=1)

    rows = {row["case_id"]: row for row in report["cases"]}
    assert rows["a_dies"]["status"] == "failed"
    assert "analysing this case died" in rows["a_dies"]["error"]
    assert "exit code 5" in rows["a_dies"]["error"]
    assert rows["b_refused"]["status"] == "failed"
    assert rows["b_refused"]["error"] == "no brainstem in the field of view (test)"
    assert rows["c_good"]["status"] == "ok"
    assert (tmp_path / "out" / "c_good" / ".nvc-done.json").is_file()
    assert not (tmp_path / "out" / "a_dies" / ".nvc-done.json").exists()


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("filled", [True, False], ids=["labels", "empty"])
def test_a_label_map_crosses_the_pipe_as_its_box_and_comes_back_the_same(order, filled):
    import pickle

    from nvc_viewer.volume import Volume, VolumeMeta

    data = np.zeros((30, 20, 10), np.uint8, order=order)
    if filled:
        data[4:9, 11:13, 2] = 3
        data[20, 5, 7:9] = 6
    affine = np.diag([0.4, 0.5, 0.6, 1.0])
    affine[:3, 3] = [-10.0, 4.0, 2.0]
    labels = Volume(data, affine, VolumeMeta(role="label", description="labels"))

    packed = pickle.dumps(batch._pack_labels(labels))
    back = batch._unpack_labels(pickle.loads(packed))

    assert np.array_equal(back.data, data) and back.data.dtype == data.dtype
    assert back.data.flags.f_contiguous == data.flags.f_contiguous
    assert np.array_equal(back.affine, affine) and back.meta == labels.meta
    if filled:
        assert len(packed) < data.nbytes  # the zeros around the box stay behind
