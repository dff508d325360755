"""Both sides compared (`nvc_viewer.compare`) against the phantom's measured truth.

The phantom ``asymptomatic_contact`` puts a vessel on the facial root of the side that is *not*
symptomatic (``params["contact_side"]``) and a nearby vessel with CSF between it and the root on
the symptomatic one. The truth distances along the nerve are arclengths between the truth
landmarks on the truth centreline; the truth calibre is twice the nerve's drawn radius.

Tolerances: on the truth label map with the truth landmarks (a saved case, no centrelines: the
course is traced through the label voxels) RExP-RDP 0.5 mm, RDP-TZ 0.5 mm (VII) and 1.0 mm
(V: the trace of a 2.5 mm root is blunt at its exit), calibre 0.15 mm; on the analysis'
result RExP-RDP 1.0 mm, RDP-TZ 0.3 mm, calibre 0.2 mm. Voxels are 0.5 mm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nvc_viewer.analysis import analyse
from nvc_viewer.compare import (
    COMPARED_NERVES,
    REZ_SEGMENTS,
    compare_case,
    compare_result,
    comparison_rows,
    format_rows,
)
from nvc_viewer.findings import (
    CaseFindings,
    read_findings_json,
    validate_findings_dict,
    write_findings_json,
)
from nvc_viewer.phantom import Phantom, make_phantom
from nvc_viewer.segment.centreline import polyline_distance


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom("asymptomatic_contact", side="left", seed=1)


@pytest.fixture(scope="module")
def truth_case(phantom: Phantom) -> CaseFindings:
    return CaseFindings.from_dict(validate_findings_dict(phantom.truth))


@pytest.fixture(scope="module")
def result(phantom: Phantom):  # type: ignore[no-untyped-def]
    return analyse(phantom.t2, phantom.tof)


def truth_distances(ph: Phantom, side: str, nerve: str) -> tuple[float, float]:
    """RExP-RDP and RDP-TZ along the truth centreline (mm)."""
    line = ph.centrelines[f"{nerve}_{side}"]
    s = {
        lm["name"]: float(polyline_distance(np.array([lm["position_ras"]]), line)[1][0])
        for lm in ph.truth["landmarks"]
        if lm["side"] == side and lm["nerve"] == nerve
    }
    return s["RDP"] - s["RExP"], s["TZ"] - s["RDP"]


def truth_calibre(ph: Phantom, side: str, nerve: str) -> float:
    return 2.0 * ph.params["nerve_radius_mm"][f"{nerve}_{side}"]


@pytest.mark.parametrize("side", ["left", "right"])
def test_saved_case_distances_and_calibres_match_the_truth(
    phantom: Phantom, truth_case: CaseFindings, side: str
) -> None:
    cmp = compare_case(phantom.labels, truth_case)
    for nerve, tz_tol in (("VII", 0.5), ("V", 1.0)):
        row = cmp.get(side, nerve)
        assert row.course == "labels"
        rexp_rdp, rdp_tz = truth_distances(phantom, side, nerve)
        assert row.rexp_rdp_mm == pytest.approx(rexp_rdp, abs=0.5)
        assert row.rdp_tz_mm == pytest.approx(rdp_tz, abs=tz_tol)
    for nerve in COMPARED_NERVES:
        row = cmp.get(side, nerve)
        assert row.identified
        assert row.calibre_mm == pytest.approx(truth_calibre(phantom, side, nerve), abs=0.15)
    # VIII has no landmarks of its own: no distances, but its segments are measured
    viii = cmp.get(side, "VIII")
    assert viii.rexp_rdp_mm is None and viii.rdp_tz_mm is None
    assert all(viii.segment(s).source == "measured" for s in ("RDP", "TZ", "cisternal"))
    # the trigeminal root leaves the pons directly: no attached segment to measure
    assert cmp.get(side, "V").rexp_rdp_mm == pytest.approx(0.0, abs=1e-6)
    assert cmp.get(side, "V").segment("attached").source == "none"


def test_analysis_result_distances_and_calibres_match_the_truth(phantom: Phantom, result) -> None:  # type: ignore[no-untyped-def]
    cmp = compare_result(result)
    for side in ("left", "right"):
        for nerve in ("VII", "V"):
            row = cmp.get(side, nerve)
            assert row.course == "centreline"
            rexp_rdp, rdp_tz = truth_distances(phantom, side, nerve)
            assert row.rexp_rdp_mm == pytest.approx(rexp_rdp, abs=1.0)
            assert row.rdp_tz_mm == pytest.approx(rdp_tz, abs=0.3)
        for nerve in COMPARED_NERVES:
            row = cmp.get(side, nerve)
            assert row.identified and row.confidence is not None
            assert row.calibre_mm == pytest.approx(truth_calibre(phantom, side, nerve), abs=0.2)


def test_the_asymptomatic_side_shows_its_contact_and_the_symptomatic_side_its_gap(
    phantom: Phantom, truth_case: CaseFindings, result
) -> None:  # type: ignore[no-untyped-def]
    contact_side = phantom.params["contact_side"]
    assert contact_side != phantom.side
    (touching,) = [r for r in phantom.params["relations"] if r["side"] == contact_side]
    (apart,) = [r for r in phantom.params["relations"] if r["side"] == phantom.side]

    # from the findings of the saved case
    cmp = compare_case(phantom.labels, truth_case)
    seg = cmp.get(contact_side, "VII").segment(touching["segment"])
    assert seg.source == "finding" and seg.contact
    assert seg.vessel == touching["vessel"] and seg.text() == f"{touching['vessel']} contact"
    assert cmp.symptomatic_side == phantom.side

    # measured on the label map alone, with no findings at all
    bare = compare_case(phantom.labels, truth_case.replace(findings=()))
    seg = bare.get(contact_side, "VII").segment(touching["segment"])
    assert seg.source == "measured" and seg.contact and seg.gap_mm == 0.0
    assert seg.vessel_kind == "artery"
    near = bare.get(phantom.side, "VII").segment(apart["segment"])
    assert not near.contact and near.vessel_kind == "artery"
    assert near.gap_mm == pytest.approx(apart["gap_mm"], abs=0.5)
    assert all(not bare.get(phantom.side, "VII").segment(s).contact for s in REZ_SEGMENTS)

    # the analysis proposes the contact on the asymptomatic side's REZ
    auto = compare_result(result).get(contact_side, "VII")
    assert any(auto.segment(s).contact for s in ("attached", "RDP", "TZ"))
    assert auto.segment(touching["segment"]).vessel == touching["vessel"]


def test_a_reopened_case_is_compared_without_the_analysis(
    phantom: Phantom, result, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = write_findings_json(
        result.to_case_findings("reopened", t2=phantom.t2), tmp_path / "f.json"
    )
    reopened = read_findings_json(path)
    fresh, again = compare_result(result), compare_case(result.labels, reopened)
    for side in ("left", "right"):
        for nerve in ("VII", "V"):
            a, b = fresh.get(side, nerve), again.get(side, nerve)
            assert b.course == "labels"
            assert b.rexp_rdp_mm == pytest.approx(a.rexp_rdp_mm, abs=0.7)
            assert b.calibre_mm == pytest.approx(a.calibre_mm, abs=0.2)
        for nerve in COMPARED_NERVES:
            assert again.get(side, nerve).identified == fresh.get(side, nerve).identified
    contact_side = phantom.params["contact_side"]
    assert [s.contact for s in again.get(contact_side, "VII").segments] == [
        s.contact for s in fresh.get(contact_side, "VII").segments
    ]


def test_rows_put_left_and_right_side_by_side(phantom: Phantom, truth_case: CaseFindings) -> None:
    cmp = compare_case(phantom.labels, truth_case)
    rows = comparison_rows(cmp)
    assert rows[0] == ("", "left (symptomatic)", "right")
    names = [r[0] for r in rows[1:]]
    assert len(names) == len(set(names)) == 3 * (4 + len(REZ_SEGMENTS))
    by_name = {r[0]: r[1:] for r in rows}
    left, right = by_name["VII attached"]
    assert right == "AICA contact" and "contact" not in left
    assert by_name["VIII RExP-RDP"] == ("-", "-")
    assert by_name["V attached"] == ("-", "-")
    assert by_name["VII calibre"][0].endswith(" mm")
    text = format_rows(rows).splitlines()
    assert len(text) == len(rows)
    # aligned columns: every row's right cell starts at the same place
    start = text[0].index("right")
    assert all(line[start - 2 : start] == "  " for line in text[1:] if len(line) > start)


def test_an_unidentified_nerve_says_why(phantom: Phantom, truth_case: CaseFindings) -> None:
    from nvc_viewer.findings import NerveIdentification

    why = "no thick root leaves the pons above the facial nerve"
    case = truth_case.replace(identification=(NerveIdentification("right", "V", False, 0.0, why),))
    rows = {r[0]: r[1:] for r in comparison_rows(compare_case(phantom.labels, case))}
    assert rows["V identified"][1] == f"no: {why}"
