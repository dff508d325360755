"""Hand-placed findings are measured along the nerve; painted labels go back to the T2 grid."""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.annotate import (
    describe_point,
    vessel_of_key,
    volume_from_display,
)
from nvc_viewer.errors import InvalidFindingError, InvalidVolumeError
from nvc_viewer.findings import Landmark
from nvc_viewer.geometry import to_display
from nvc_viewer.volume import Volume

# A left facial nerve leaving the brainstem at x = -5 mm and running straight to the left (-x);
# RExP at its start, RDP 4 mm out, TZ 2.6 mm further (docs/anatomy.md).
NERVE = np.column_stack([np.linspace(-5.0, -25.0, 201), np.zeros(201), np.zeros(201)])
LANDMARKS = (
    Landmark("RExP", "left", "VII", (-5.0, 0.0, 0.0)),
    Landmark("RDP", "left", "VII", (-9.0, 0.0, 0.0)),
    Landmark("TZ", "left", "VII", (-11.6, 0.0, 0.0)),
)
# An AICA loop crossing the nerve at right angles, 1.5 mm anterior of it, at x = -10 mm.
AICA = np.column_stack([np.full(50, -10.0), np.full(50, 1.5), np.linspace(-6.0, 6.0, 50)])
CENTRELINES = {"VII_left": NERVE, "AICA_left": AICA, "V_left": NERVE + [0.0, 0.0, 15.0]}


@pytest.mark.parametrize(
    ("x", "distance", "segment"),
    [
        (-6.0, -3.0, "attached"),
        (-9.5, 0.5, "RDP"),
        (-11.0, 2.0, "TZ"),
        (-15.0, 6.0, "cisternal"),
        (-23.0, 14.0, "meatal"),
    ],
)
def test_distance_and_segment_along_the_nerve(x: float, distance: float, segment: str) -> None:
    # the point sits 0.8 mm off the axis (on the nerve's surface, where contacts are)
    d = describe_point([x, 0.0, 0.8], CENTRELINES, LANDMARKS)
    assert (d.side, d.nerve) == ("left", "VII")
    assert d.distance_from_brainstem_mm == pytest.approx(distance, abs=1e-9)
    assert d.segment == segment
    assert d.distance_to_nerve_mm == pytest.approx(0.8, abs=1e-9)


def test_a_centreline_stored_from_the_porus_inward_gives_the_same_distance() -> None:
    reversed_lines = {**CENTRELINES, "VII_left": NERVE[::-1]}
    d = describe_point([-15.0, 0.0, 0.0], reversed_lines, LANDMARKS)
    assert d.distance_from_brainstem_mm == pytest.approx(6.0)
    assert d.segment == "cisternal"


def test_nearest_vessel_named_with_its_kind_and_crossing_angle() -> None:
    d = describe_point([-10.0, 0.8, 0.0], CENTRELINES, LANDMARKS)
    assert (d.vessel, d.vessel_kind) == ("AICA", "artery")
    assert d.distance_to_vessel_mm == pytest.approx(0.7)
    assert d.crossing_angle_deg == pytest.approx(90.0, abs=1e-6)
    # far from every vessel: unknown
    far = describe_point([-20.0, 0.0, 0.0], CENTRELINES, LANDMARKS)
    assert (far.vessel, far.vessel_kind, far.distance_to_vessel_mm) == ("unknown", "unknown", None)


def test_the_nearest_nerve_wins() -> None:
    d = describe_point([-12.0, 0.0, 13.0], CENTRELINES, LANDMARKS)
    assert d.nerve == "V"
    # no V landmarks: the distance is unknown, the segment defaults to cisternal
    assert d.distance_from_brainstem_mm is None and d.segment == "cisternal"


def test_landmarks_alone_stand_in_for_a_missing_centreline() -> None:
    # reopened case: centrelines are gone, the landmarks were saved in findings.json
    d = describe_point([-15.0, 0.3, 0.0], {}, LANDMARKS)
    assert (d.side, d.nerve) == ("left", "VII")
    assert d.distance_from_brainstem_mm == pytest.approx(6.0)
    assert d.segment == "cisternal"


def test_without_any_nerve_the_error_says_what_to_do() -> None:
    with pytest.raises(InvalidFindingError, match="run the analysis first"):
        describe_point([0.0, 0.0, 0.0], {"BA": AICA}, LANDMARKS[:1])
    with pytest.raises(InvalidFindingError, match="position_ras must be 3 finite"):
        describe_point([0.0, np.nan, 0.0], CENTRELINES, LANDMARKS)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("PICA_right", ("PICA", "artery")),
        ("BA", ("BA", "artery")),
        ("vein_sp_left", ("vein", "vein")),
        ("vessel_3", ("unknown", "unknown")),
    ],
)
def test_vessel_names_from_centreline_keys(key: str, expected: tuple[str, str]) -> None:
    assert vessel_of_key(key) == expected


def _affines() -> dict[str, np.ndarray]:
    axial_lps = np.diag([-0.5, -0.6, 0.8, 1.0])  # LPS-stored axial: i -> left, j -> posterior
    sagittal = np.array(
        [[0.0, 0.0, -0.8, 3.0], [-0.5, 0.0, 0.0, 1.0], [0.0, -0.6, 0.0, 2.0], [0, 0, 0, 1.0]]
    )
    c, s = np.cos(np.radians(12)), np.sin(np.radians(12))
    oblique = np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]]) @ axial_lps
    return {"axial": axial_lps, "sagittal": sagittal, "oblique": oblique}


@pytest.mark.parametrize("orientation", ["axial", "sagittal", "oblique"])
def test_volume_from_display_inverts_to_display_exactly(orientation: str) -> None:
    data = np.arange(5 * 6 * 7, dtype=np.uint8).reshape(5, 6, 7)
    t2 = Volume(data.astype(np.float32), _affines()[orientation])
    labels = t2.with_data(data)
    shown, grid = to_display(labels)
    back = volume_from_display(np.array(shown), grid, t2)
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(back.affine, t2.affine)
    assert back.meta.role == "label"


def test_volume_from_display_refuses_a_foreign_grid() -> None:
    t2 = Volume(np.zeros((5, 6, 7)), _affines()["axial"])
    other = Volume(np.zeros((5, 6, 7)), _affines()["oblique"])
    shown, grid = to_display(other)
    with pytest.raises(InvalidVolumeError, match="does not belong"):
        volume_from_display(np.array(shown), grid, t2)
    with pytest.raises(InvalidVolumeError, match="shape"):
        volume_from_display(np.zeros((2, 2, 2)), grid, t2)
