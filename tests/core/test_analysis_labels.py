"""A re-run of the analysis on a label map the surgeon corrected uses the corrections."""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.analysis import analyse
from nvc_viewer.errors import InvalidVolumeError
from nvc_viewer.phantom import make_phantom
from nvc_viewer.volume import Volume

CONFIDENT = 0.5


@pytest.fixture(scope="module")
def indentation():
    ph = make_phantom("indentation", side="left", seed=40, shape=(100, 100, 56), spacing_mm=0.6,
                      supersample=3)  # fmt: skip
    return ph, analyse(ph.t2, ph.tof)


def _near(findings, position_ras, mm):
    return [
        f
        for f in findings
        if f.confidence >= CONFIDENT
        and np.linalg.norm(np.subtract(f.position_ras, position_ras)) <= mm
    ]


def test_an_erased_vessel_proposes_nothing_and_the_map_comes_back_as_given(indentation):
    ph, first = indentation
    truth = next(f for f in ph.truth["findings"] if f["grade"] != "none")
    assert _near(first.findings, truth["position_ras"], 3.0), "the indentation was missed"
    # the surgeon paints the vessel voxels within 4 mm of the contact over with CSF
    corrected = first.labels.data.copy()
    ijk = np.indices(corrected.shape).reshape(3, -1).T
    ras = ijk @ first.labels.affine[:3, :3].T + first.labels.affine[:3, 3]
    close = (np.linalg.norm(ras - truth["position_ras"], axis=1) <= 4.0).reshape(corrected.shape)
    erased = close & np.isin(corrected, (6, 7))
    assert erased.sum() > 10
    corrected[erased] = 2
    labels = first.labels.with_data(corrected)

    second = analyse(ph.t2, ph.tof, labels=labels)

    assert not _near(second.findings, truth["position_ras"], 3.0)
    assert second.labels is labels
    # elsewhere the machine's work is unchanged: same nerves traced, same landmarks
    assert set(second.centrelines) == set(first.centrelines)
    assert [(lm.name, lm.side, lm.nerve) for lm in second.landmarks] == [
        (lm.name, lm.side, lm.nerve) for lm in first.landmarks
    ]


def test_a_label_map_off_the_t2_grid_is_refused(indentation):
    ph, first = indentation
    lab = first.labels
    with pytest.raises(InvalidVolumeError, match="labels: .* T2 grid"):
        analyse(ph.t2, ph.tof, labels=Volume(lab.data[1:], lab.affine, lab.meta))
    moved = lab.affine.copy()
    moved[0, 3] += 2.0
    with pytest.raises(InvalidVolumeError, match="another affine"):
        analyse(ph.t2, ph.tof, labels=Volume(lab.data, moved, lab.meta))
