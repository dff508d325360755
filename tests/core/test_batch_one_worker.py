"""One worker and no scheduler: each case runs in a child process forked from the batch, with no
Dask cluster; the report is the one a cluster gives, and a case whose process dies fails alone."""

from __future__ import annotations

import json
import os

import pytest
from phantom_cases import small_phantom

import nvc_viewer.batch as batch
from nvc_viewer.cli import main
from nvc_viewer.phantom import write_case

pytestmark = [
    pytest.mark.slow,  # two small analyses
    pytest.mark.skipif(not batch._can_fork(), reason="no fork start method here"),
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
