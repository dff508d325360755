"""A real ``dask scheduler`` and ``dask worker`` processes on loopback, for the batch tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def dask_processes(root: Path, n_workers: int) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """Start a scheduler (random free port) and ``n_workers`` single-threaded workers.

    Each worker (a nanny and its worker process) runs in its own process group, so that
    ``os.killpg(worker.pid, SIGKILL)`` kills both. Yields the scheduler address and the worker
    processes; everything still running is stopped on exit.
    """
    from distributed import Client

    info = root / "scheduler.json"
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
        time.sleep(0.2)  # the file is written in one go, but let it be complete
        address = json.loads(info.read_text())["address"]
        for n in range(n_workers):
            workers.append(subprocess.Popen(
                [BIN / "dask", "worker", "--scheduler-file", info, "--nworkers", "1",
                 "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                 "--local-directory", root / f"worker{n}"],
                start_new_session=True, **quiet,
            ))  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(n_workers, timeout=60)
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
