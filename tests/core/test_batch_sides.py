"""The batch's one local worker asks the analysis for its per-side processes only when the load
average leaves a core idle (`nvc_viewer.batch._core_to_spare`)."""

from __future__ import annotations

import os

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
