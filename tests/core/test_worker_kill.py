"""A dying worker does not lose a batch.

A real ``dask scheduler`` and two ``dask worker`` processes on loopback; ``nvc-viewer batch
--scheduler`` runs three tiny phantom cases on them, and one worker (its nanny and its worker
process) is killed with SIGKILL while it runs a case. Every case must still be analysed and
exported, and the batch must exit 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from dask_processes import BIN, dask_processes
from phantom_cases import small_phantom

from nvc_viewer.phantom import write_case

pytestmark = pytest.mark.slow  # a scheduler, two workers, three analyses: about 30 s

CASES = ("w1", "w2", "w3")


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers, each worker in its own process group."""
    with dask_processes(tmp_path, 2) as running:
        yield running


@pytest.fixture
def cases(tmp_path):
    phantom = small_phantom("contact", "right")
    root = tmp_path / "cases"
    write_case(phantom, root / CASES[0], fmt="nifti")
    for name in CASES[1:]:
        shutil.copytree(root / CASES[0], root / name)
    return root


def test_killing_a_worker_mid_batch_loses_no_case(tmp_path, cluster, cases):
    from distributed import Client

    address, workers = cluster
    out = tmp_path / "out"
    batch = subprocess.Popen(
        [BIN / "nvc-viewer", "batch", cases, "--out", out, "--scheduler", address],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    killed = None
    try:
        with Client(address, timeout="30s") as client:
            deadline = time.monotonic() + 120
            while killed is None:
                assert batch.poll() is None, "the batch ended before a worker could be killed"
                assert time.monotonic() < deadline, "no case started on a worker"
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    group = os.getpgid(pid)  # the nanny's group: nanny and worker die together
                    assert group in {w.pid for w in workers}
                    time.sleep(0.5)  # well into the case
                    os.killpg(group, signal.SIGKILL)
                    killed = busy[0]
                else:
                    time.sleep(0.05)
        _, err = batch.communicate(timeout=300)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    err = err.decode()
    assert [w.poll() is not None for w in workers].count(True) == 1  # one worker is gone
    assert batch.returncode == 0, err
    assert "Traceback" not in err
    report = json.loads((out / "batch_report.json").read_text("utf-8"))
    rows = {row["case_id"]: row for row in report["cases"]}
    assert sorted(rows) == sorted(CASES)
    for name in CASES:
        assert rows[name]["status"] == "ok", rows[name]
        assert (out / name / "findings.json").is_file()
        assert all((out / p).is_file() for p in rows[name]["outputs"])
    print(f"killed worker {killed} mid-case; {len(CASES)} of {len(CASES)} cases exported")
