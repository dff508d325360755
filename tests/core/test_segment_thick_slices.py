"""Slices thicker than the facial nerve: 0.5 mm in-plane, 1.2 mm between slices.

A facial nerve (about 1.2 mm) crossing the cistern in such slices is only one or two slices
high; its curvature across the slices must still be seen, or the tracker takes a vessel in
its place and every finding on VII is wrong.
"""

from __future__ import annotations

from scipy.spatial import cKDTree

from nvc_viewer.analysis import analyse
from nvc_viewer.metrics import match_findings
from nvc_viewer.phantom import make_phantom


def test_facial_nerve_and_its_contact_in_1_2_mm_slices():
    ph = make_phantom(
        "contact",
        side="left",
        seed=3002,
        shape=None,
        fov_mm=(80.0, 80.0, 32.0),
        spacing_mm=(0.5, 0.5, 1.2),
        supersample=4,
    )
    res = analyse(ph.t2, ph.tof)
    traced = res.centrelines["VII_left"]
    truth = ph.centrelines["VII_left"]
    assert float(cKDTree(truth).query(traced)[0].mean()) < 1.0
    proposed = [f.to_dict() for f in res.findings if f.confidence >= 0.5]
    m = match_findings(proposed, ph.truth["findings"])
    assert (m.true_positives, m.false_positives) == (1, 0), [
        (f["nerve"], f["vessel"], f["distance_from_brainstem_mm"]) for f in proposed
    ]
