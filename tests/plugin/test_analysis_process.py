"""The analysis in a child process: errors come back typed, Cancel stops the child at once."""

from __future__ import annotations

import time

import numpy as np
import pytest
from nvc_viewer_napari import _analysis_process
from nvc_viewer_napari._analysis_process import analyse_in_process

from nvc_viewer.errors import AnalysisCancelled, InvalidVolumeError

from ._phantoms import make_volume


def test_the_analysis_error_is_raised_in_the_viewer_with_its_type_and_message() -> None:
    blank = make_volume("axial", data=np.zeros((40, 48, 32), np.float32))
    with pytest.raises(InvalidVolumeError, match="no positive values"):
        analyse_in_process(blank)


def test_cancel_stops_the_child_process_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    children = []
    popen = _analysis_process.subprocess.Popen

    def recording_popen(*args, **kwargs):  # type: ignore[no-untyped-def]
        children.append(popen(*args, **kwargs))
        return children[-1]

    monkeypatch.setattr(_analysis_process.subprocess, "Popen", recording_popen)
    volume = make_volume("axial")
    start = time.monotonic()
    with pytest.raises(AnalysisCancelled):
        analyse_in_process(volume, cancel=lambda: time.monotonic() - start > 0.2)
    (child,) = children
    assert child.poll() is not None  # killed and reaped, not left running
