"""Metrics on hand-made arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.metrics import (
    centreline_distance_mm,
    dice,
    dice_per_label,
    hausdorff95_mm,
    match_findings,
    surface_distances_mm,
)


def test_dice_known_values():
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[:5] = True  # 500 voxels
    b[2:6] = True  # 400 voxels, 300 shared
    assert dice(a, b) == pytest.approx(2 * 300 / 900)
    assert dice(a, a) == 1.0
    assert dice(a, ~a) == 0.0
    assert dice(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_dice_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        dice(np.zeros((3, 3, 3)), np.zeros((3, 3, 4)))


def test_dice_per_label():
    pred = np.zeros((4, 4, 4), np.uint8)
    true = np.zeros_like(pred)
    pred[0] = 3
    true[0] = 3
    pred[1] = 6
    true[2] = 6
    scores = dice_per_label(pred, true, labels=[3, 6, 7])
    assert scores == {3: 1.0, 6: 0.0, 7: 1.0}


def _tube_mask(shape, centre_yz, radius_vox):
    """A straight tube along axis 0 (voxel units)."""
    _, y, z = np.indices(shape)
    return (y - centre_yz[0]) ** 2 + (z - centre_yz[1]) ** 2 <= radius_vox**2


def test_centreline_distance_of_a_shifted_tube():
    shape = (40, 21, 21)
    affine = np.diag([0.5, 0.5, 0.5, 1.0])
    mask = _tube_mask(shape, (10, 10), 2.5)
    x = np.linspace(10, 30, 50) * 0.5  # away from the tube's ends, which thinning shortens
    on_axis = np.column_stack([x, np.full_like(x, 5.0), np.full_like(x, 5.0)])
    assert centreline_distance_mm(mask, on_axis, affine) < 0.05
    # the truth 1.5 mm to the side of the skeleton
    shifted = on_axis + [0.0, 1.5, 0.0]
    assert centreline_distance_mm(mask, shifted, affine) == pytest.approx(1.5, abs=0.05)
    full = np.column_stack([np.linspace(0.5, 19.0, 80), np.full(80, 6.5), np.full(80, 5.0)])
    assert centreline_distance_mm(mask, full, affine, symmetric=True) == pytest.approx(1.5, abs=0.1)


def test_centreline_distance_penalises_a_false_branch_only_when_symmetric():
    shape = (40, 41, 21)
    affine = np.eye(4)
    mask = _tube_mask(shape, (10, 10), 1.5)
    mask[20, 10:38, 8:13] = True  # a spur across the tube
    x = np.arange(3, 37, dtype=float)
    truth = np.column_stack([x, np.full_like(x, 10.0), np.full_like(x, 10.0)])
    one_way = centreline_distance_mm(mask, truth, affine)
    both = centreline_distance_mm(mask, truth, affine, symmetric=True)
    assert one_way < 0.3
    assert both > one_way + 1.0


def test_centreline_distance_edge_cases():
    affine = np.eye(4)
    empty = np.zeros((10, 10, 10), bool)
    line = np.array([[1.0, 1, 1], [8.0, 1, 1]])
    assert centreline_distance_mm(empty, line, affine) == float("inf")
    outside = line + 100.0
    assert np.isnan(centreline_distance_mm(empty | True, outside, affine))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        centreline_distance_mm(empty, np.zeros((4, 2)), affine)


def test_hausdorff95_of_concentric_cubes():
    a = np.zeros((30, 30, 30), bool)
    b = np.zeros_like(a)
    a[5:25, 5:25, 5:25] = True
    b[7:23, 7:23, 7:23] = True  # two voxels in on every face
    d = hausdorff95_mm(a, b, (0.5, 0.5, 0.5))
    # every surface voxel of one cube is 2 voxels (1 mm) from the other's surface along a
    # face normal (more at edges): the 95th percentile is between 1 and sqrt(3) mm
    assert 1.0 - 1e-9 <= d <= np.sqrt(3) + 1e-9
    assert hausdorff95_mm(a, a, (1, 1, 1)) == 0.0
    assert hausdorff95_mm(a, np.zeros_like(a), (1, 1, 1)) == float("inf")
    assert hausdorff95_mm(np.zeros_like(a), np.zeros_like(a), (1, 1, 1)) == 0.0


def test_surface_distances_use_anisotropic_spacing():
    a = np.zeros((20, 20, 20), bool)
    b = np.zeros_like(a)
    a[5:10, 5:10, 5:10] = True
    b[5:10, 5:10, 8:13] = True  # shifted 3 voxels along k
    d_ab, d_ba = surface_distances_mm(a, b, (1.0, 1.0, 2.0))
    assert d_ab.max() == pytest.approx(6.0)  # 3 voxels of 2 mm
    assert d_ba.max() == pytest.approx(6.0)


def _finding(side, nerve, pos, grade="contact", vessel="AICA", along=None, origin="manual"):
    return {
        "side": side,
        "nerve": nerve,
        "position_ras": list(pos),
        "grade": grade,
        "vessel": vessel,
        "distance_from_brainstem_mm": along,
        "origin": origin,
    }


def test_match_findings_counts_and_agreement():
    true = [
        _finding("left", "VII", (0, 0, 0), "contact", "AICA", 1.0),
        _finding("left", "VII", (10, 0, 0), "indentation", "PICA", 5.0),
        _finding("right", "VII", (0, 0, 0), "none", "AICA", 2.0),  # not a positive
    ]
    pred = [
        _finding("left", "VII", (0.5, 0, 0), "contact", "AICA", 1.5),  # matches true 0
        _finding("left", "VII", (20, 0, 0), "contact", "VA", 9.0),  # too far: FP
        _finding("right", "VII", (0, 0, 0.2), "contact", "AICA", 2.0),  # FP (truth is none)
        _finding("left", "VIII", (10, 0, 0), "contact"),  # other nerve: FP
        _finding("left", "VII", (10, 0, 0), "contact", origin="auto-rejected"),  # ignored
    ]
    r = match_findings(pred, {"findings": true}, max_distance_mm=3.0)
    assert (r.true_positives, r.false_negatives, r.false_positives) == (1, 1, 3)
    assert r.matches == [(0, 0, pytest.approx(0.5))]
    assert r.unmatched_true == [1]
    assert sorted(r.unmatched_pred) == [1, 2, 3]
    assert r.sensitivity == pytest.approx(0.5)
    assert r.false_positives_per_side == pytest.approx(1.5)
    assert r.false_positives_by_side == {"left": 2, "right": 1}
    assert r.grade_agreement == 1.0
    assert r.vessel_agreement == 1.0
    assert r.along_nerve_errors_mm == [pytest.approx(0.5)]
    assert r.as_dict()["true_positives"] == 1


def test_match_findings_is_greedy_by_distance():
    true = [_finding("left", "VII", (0, 0, 0)), _finding("left", "VII", (2, 0, 0))]
    pred = [_finding("left", "VII", (1.9, 0, 0)), _finding("left", "VII", (0.8, 0, 0))]
    r = match_findings(pred, true)
    # nearest pair first: pred 0 - true 1 (0.1 mm), then pred 1 - true 0 (0.8 mm)
    assert sorted(r.matches) == [(0, 1, pytest.approx(0.1)), (1, 0, pytest.approx(0.8))]
    assert r.sensitivity == 1.0 and r.false_positives == 0


def test_match_findings_without_positives_and_bad_input():
    r = match_findings([], [])
    assert r.sensitivity is None and r.grade_agreement is None
    with pytest.raises(ValueError, match="position_ras"):
        match_findings([{"side": "left", "nerve": "VII"}], [])
    with pytest.raises(ValueError, match="max_distance_mm"):
        match_findings([], [], max_distance_mm=0)
