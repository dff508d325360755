"""The analysis with its per-side work in forked processes (``analyse(..., fork=True)``) gives
what it gives in one process: the same label map, tracks, landmarks, findings and warnings."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from phantom_cases import small_phantom

from nvc_viewer.analysis import analyse
from nvc_viewer.forked import can_fork
from nvc_viewer.segment.nerves import _per_side

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork start method here")


def _same(a, b) -> None:
    assert np.array_equal(a.labels.data, b.labels.data)
    assert a.centrelines.keys() == b.centrelines.keys()
    for key in a.centrelines:
        assert np.array_equal(a.centrelines[key], b.centrelines[key]), key
    drop = {"id", "created", "modified"}
    assert [{k: v for k, v in f.to_dict().items() if k not in drop} for f in a.findings] == [
        {k: v for k, v in f.to_dict().items() if k not in drop} for f in b.findings
    ]
    assert list(a.evidence.values()) == list(b.evidence.values())
    assert a.landmarks == b.landmarks and a.flags == b.flags
    assert a.identification == b.identification and a.warnings == b.warnings
    assert a.info == b.info


@pytest.mark.slow
@pytest.mark.parametrize("with_tof", [True, False], ids=["tof", "no-tof"])
def test_forked_sides_give_the_one_process_result(with_tof):
    # contacts on both sides: each side's search finds something
    ph = small_phantom("asymptomatic_contact", "right", shape=(80, 80, 48), spacing_mm=0.7)
    tof = ph.tof if with_tof else None

    one, forked = analyse(ph.t2, tof), analyse(ph.t2, tof, fork=True)

    assert {f.side for f in one.findings} == {"left", "right"}
    _same(one, forked)


def test_warnings_of_each_side_come_back_in_side_order_from_its_process():
    scene = SimpleNamespace(warnings=["before"])

    def work(side: str) -> str:
        scene.warnings.append(f"{side}: no meatus (test)")
        return side.upper()

    assert _per_side(scene, work, True) == ["LEFT", "RIGHT"]  # type: ignore[arg-type]
    assert scene.warnings == ["before", "left: no meatus (test)", "right: no meatus (test)"]
