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
import sys
import time
from pathlib import Path

import pytest
from phantom_cases import small_phantom

from nvc_viewer.phantom import write_case

pytestmark = pytest.mark.slow  # a scheduler, two workers, three analyses: about 30 s

BIN = Path(sys.executable).parent
CASES = ("w1", "w2", "w3")


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers, each worker in its own process group."""
    info = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--dashboard-address", "127.0.0.1:0", "--scheduler-file", info], **quiet,
    )  # fmt: skip
    workers: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert scheduler.poll() is None and time.monotonic() < deadline, "no scheduler"
            time.sleep(0.1)
        time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for n in range(2):
            workers.append(subprocess.Popen(
                [BIN / "dask", "worker", "--scheduler-file", info, "--nworkers", "1",
                 "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                 "--local-directory", tmp_path / f"worker{n}"],
                start_new_session=True, **quiet,
            ))  # fmt: skip
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        scheduler.terminate()
        try:
            scheduler.wait(timeout=20)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.wait()


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
