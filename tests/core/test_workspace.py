"""The workspace shared by the batch command and the viewer: case ids, merging, case records."""

import json

import pytest
from findings_cases import finding

from nvc_viewer.errors import FindingsFileError, InputError
from nvc_viewer.findings import (
    CaseFindings,
    Clinical,
    Landmark,
    confirm,
    merge_auto,
    reject,
    uid_sha256,
)
from nvc_viewer.workspace import CaseRecord, Workspace, case_id_for, sanitize_case_id

SRC = {"kind": "dicom", "series": [{"role": "t2", "uid_sha256": uid_sha256("1.2.3.4")}]}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("case_007", "case_007"),
        ("sub-01.nii.gz", "sub-01"),
        ("Scan.NII", "Scan"),
        ("Müller, Hans (HFS)", "M_ller_Hans_HFS"),
        ("../../etc", "etc"),
        ("...", "case"),
        ("", "case"),
        ("a/b\\c", "a_b_c"),
    ],
)
def test_sanitize_case_id(name, expected):
    assert sanitize_case_id(name) == expected


def test_case_id_for_uses_the_folder_or_file_name(tmp_path):
    folder = tmp_path / "HFS left #12"
    folder.mkdir()
    assert case_id_for(folder) == "HFS_left_12"
    assert case_id_for(folder / "t2 ciss.nii.gz") == "t2_ciss"
    assert case_id_for(folder / ".") == "HFS_left_12"


def test_case_dir_refuses_unsanitised_ids(tmp_path):
    ws = Workspace(tmp_path)
    assert ws.case_dir("c1") == tmp_path / "c1"
    for bad in ("../x", "a b", "", ".."):
        with pytest.raises(InputError, match="outside"):
            ws.case_dir(bad)


def test_case_ids_lists_saved_cases_only(tmp_path):
    ws = Workspace(tmp_path)
    assert ws.case_ids() == []
    ws.save(CaseFindings("b2", SRC))
    ws.save(CaseFindings("a1", SRC))
    (tmp_path / "empty").mkdir()
    assert ws.case_ids() == ["a1", "b2"]
    assert ws.load("a1") == CaseFindings("a1", SRC)
    assert ws.load("nothing") is None


def surgeon_case() -> CaseFindings:
    return CaseFindings(
        "c1",
        SRC,
        landmarks=[Landmark("RDP", "left", "VII", (-10.0, 3.0, -30.0), origin="manual")],
        findings=[
            confirm(finding(id="m1")),  # the machine's AICA contact, confirmed
            reject(finding(id="m2", vessel="PICA", position_ras=(-14.0, 9.0, -35.0))),
            finding(
                id="s1",
                side="right",
                vessel="unknown",
                origin="manual",
                position_ras=(12.0, 3.0, -30.0),
            ),
            finding(id="old-auto", nerve="V", segment="cisternal", position_ras=(-8, 0, -20)),
        ],
        clinical=Clinical(condition="hemifacial_spasm", symptomatic_side="left"),
    )


def test_merge_auto_does_not_propose_again_what_the_surgeon_decided():
    saved = surgeon_case()
    fresh = CaseFindings(
        "c1",
        SRC,
        findings=[
            # new ids every run, same contacts: confirmed (1.5 mm away), rejected, manual
            finding(id="n1", position_ras=(-12.0, 4.5, -30.0)),
            finding(id="n2", vessel="PICA", position_ras=(-14.0, 9.0, -35.5)),
            finding(id="n3", side="right", vessel="AICA", position_ras=(12.5, 3.0, -30.0)),
            # a second vessel squeezing the nerve at the confirmed place: a sandwich, kept
            finding(id="n4", vessel="VA", position_ras=(-12.0, 3.0, -28.8)),
            # the same vessel further along the nerve: another contact, kept
            finding(id="n5", position_ras=(-17.0, 3.0, -30.0)),
            # the same contact on the other side: kept
            finding(id="n6", side="right", position_ras=(-12.0, 3.0, -30.0)),
        ],
    )
    merged = merge_auto(saved, fresh)
    assert [f.id for f in merged.findings] == ["m1", "m2", "s1", "n4", "n5", "n6"]
    assert merged.finding("m1").origin == "auto-confirmed"
    assert merged.finding("m2").origin == "auto-rejected"
    assert merged.clinical == saved.clinical
    assert [lm.origin for lm in merged.landmarks] == ["manual"]
    # the distance is a parameter
    tight = merge_auto(saved, fresh, same_place_mm=1.0)
    assert "n1" in [f.id for f in tight.findings]


def test_save_analysis_merges_into_what_is_saved(tmp_path):
    ws = Workspace(tmp_path)
    fresh = CaseFindings("c1", SRC, findings=[finding(id="n1"), finding(id="n7", nerve="V")])
    assert ws.save_analysis(fresh) == fresh  # nothing saved yet: the proposal as it is
    ws.save(surgeon_case())
    merged = ws.save_analysis(fresh)
    assert ws.load("c1") == merged
    assert [f.id for f in merged.findings] == ["m1", "m2", "s1", "n7"]  # old-auto refreshed
    assert not list(tmp_path.glob("c1/findings.before-force-*"))


def test_save_analysis_with_force_replaces_but_keeps_a_copy(tmp_path):
    ws = Workspace(tmp_path)
    ws.save(surgeon_case())
    before = ws.findings_path("c1").read_bytes()
    fresh = CaseFindings("c1", SRC, findings=[finding(id="n1")])
    assert ws.save_analysis(fresh, force=True) == fresh
    assert ws.load("c1") == fresh
    (backup,) = tmp_path.glob("c1/findings.before-force-*.json")
    assert backup.read_bytes() == before
    assert ws.case_ids() == ["c1"]  # the copy is not a case


def test_save_analysis_merges_again_when_the_viewer_saves_meanwhile(tmp_path, monkeypatch):
    import nvc_viewer.workspace as workspace_module

    ws = Workspace(tmp_path)
    ws.save(CaseFindings("c1", SRC))
    late = surgeon_case()
    calls = []

    def merge_while_the_viewer_saves(saved, fresh):
        calls.append(saved)
        if len(calls) == 1:
            ws.save(late)  # the surgeon confirms while the batch merges
        return merge_auto(saved, fresh)

    monkeypatch.setattr(workspace_module, "merge_auto", merge_while_the_viewer_saves)
    merged = ws.save_analysis(CaseFindings("c1", SRC, findings=[finding(id="n9", nerve="V")]))
    assert len(calls) == 2 and calls[1] == late
    assert {"m1", "m2", "s1", "n9"} <= {f.id for f in merged.findings}
    assert ws.load("c1") == merged


def test_save_analysis_leaves_a_broken_file_alone(tmp_path):
    ws = Workspace(tmp_path)
    path = ws.findings_path("c1")
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(FindingsFileError, match="not valid JSON"):
        ws.save_analysis(CaseFindings("c1", SRC))
    assert path.read_text() == "{not json"


def test_case_record_round_trip_and_errors(tmp_path):
    ws = Workspace(tmp_path)
    assert ws.load_record("c1") is None
    record = CaseRecord("c1", "cases/c1", "/data/cases/c1", "dicom", t2="3", tof="5")
    path = ws.save_record(record)
    assert path == tmp_path / "c1" / "case.json"
    doc = json.loads(path.read_text())
    assert doc["schema"] == "nvc-viewer/case" and doc["series"] == {"t2": "3", "tof": "5"}
    assert ws.load_record("c1") == record
    path.write_text(json.dumps({**doc, "schema_version": 7}))
    with pytest.raises(FindingsFileError, match="version 7"):
        ws.load_record("c1")
    path.write_text(json.dumps({"schema": "something/else"}))
    with pytest.raises(FindingsFileError, match="not a case record"):
        ws.load_record("c1")
    path.write_text("[")
    with pytest.raises(FindingsFileError, match="case.json"):
        ws.load_record("c1")
