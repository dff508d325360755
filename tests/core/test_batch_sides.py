"""The batch's one local worker asks the analysis for its per-side processes only when the load
average leaves a core idle (`nvc_viewer.batch._core_to_spare`), and prepares the exports beside
the analysis on a thread of lower priority (`nvc_viewer.batch._LowPriority`)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

import nvc_viewer.batch as batch


def test_the_per_side_processes_only_when_a_core_is_idle(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.3, 1.0, 1.0))
    assert batch._core_to_spare()
    monkeypatch.setattr(os, "getloadavg", lambda: (1.7, 2.5, 2.0))
    assert not batch._core_to_spare()


def test_without_a_load_average_they_are_used(monkeypatch):
    def no_load() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", no_load)
    assert batch._core_to_spare()


def test_the_exports_are_prepared_on_a_thread_of_lower_priority():
    base = os.getpriority(os.PRIO_PROCESS, 0)

    def prepare() -> tuple[bool, int]:
        return threading.current_thread() is not threading.main_thread(), os.getpriority(
            os.PRIO_PROCESS, 0
        )

    on_thread, nice = batch._LowPriority(prepare).result()

    assert on_thread
    if sys.platform.startswith("linux"):
        assert nice == min(base + batch.PREP_NICENESS, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the case's own thread unchanged


def test_a_failure_to_prepare_the_exports_is_raised_where_they_are_waited_for():
    def prepare() -> None:
        raise ValueError("no T2 header (test)")

    with pytest.raises(ValueError, match="no T2 header"):
        batch._LowPriority(prepare).result()
