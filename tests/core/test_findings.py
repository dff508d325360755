"""The findings model: validation, review actions, flags, merging, JSON files and schema."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import jsonschema
import numpy as np
import pytest
from findings_cases import T0, finding
from hypothesis import given, settings
from hypothesis import strategies as st

from nvc_viewer.errors import FindingsFileError, InputNotFoundError, InvalidFindingError, NVCError
from nvc_viewer.findings import (
    FINDING_FIELDS,
    GRADES,
    NERVES,
    ORIGINS,
    SCHEMA_VERSION,
    SEGMENTS,
    SIDES,
    VESSEL_KINDS,
    CaseFindings,
    Clinical,
    Finding,
    Flags,
    Landmark,
    NerveIdentification,
    confirm,
    edit,
    findings_schema,
    flags_from_findings,
    is_offending,
    merge_auto,
    read_findings_json,
    reject,
    review_counts,
    source_from_volumes,
    uid_sha256,
    validate_findings_dict,
    write_findings_json,
)
from nvc_viewer.volume import Volume, VolumeMeta

SRC = {"kind": "dicom", "series": [{"role": "t2", "uid_sha256": uid_sha256("1.2.3.4")}]}


def full_case() -> CaseFindings:
    return CaseFindings(
        "case_007",
        SRC,
        landmarks=[
            Landmark("RDP", "left", "VII", (-10.0, 2.0, -31.0)),
            Landmark("TZ", "left", "VII", (-12.6, 2.0, -31.0), origin="manual"),
        ],
        findings=[
            finding(
                distance_from_brainstem_mm=1.5,
                vessel_diameter_mm=1.8,
                crossing_angle_deg=72.5,
                confidence=0.9,
                note="loop; under VIII",
            ),
            finding(
                id="f2",
                vessel="PICA",
                grade="indentation",
                position_ras=(-13, 4.5, -32),
                origin="manual",
                author="dr.a",
                note='quote " and \n newline',
            ),
        ],
        flags=Flags(multiple_offenders=True),
        clinical=Clinical("hemifacial_spasm", "left", "present", "EMG LSR 1.2 mV"),
    )


# -- construction and validation -------------------------------------------------------------
def test_finding_defaults_and_label():
    f = Finding("x", "right", "V", "SCA", "artery", "cisternal", "contact", [1, 2, 3])
    assert f.position_ras == (1.0, 2.0, 3.0) and isinstance(f.position_ras, tuple)
    assert f.modified == f.created and f.origin == "auto" and f.confidence == 0.5
    assert f.label == "V-R SCA contact"
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.grade = "none"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"side": "middle"}, "finding side must be one of"),
        ({"nerve": "X"}, "finding nerve must be one of"),
        ({"vessel": "MCA"}, "finding vessel must be one of"),
        ({"vessel_kind": "capillary"}, "finding vessel_kind"),
        ({"segment": "root"}, "finding segment"),
        ({"grade": "severe"}, "finding grade"),
        ({"origin": "robot"}, "finding origin"),
        ({"position_ras": (1, 2)}, "3 numbers"),
        ({"position_ras": (1, 2, float("nan"))}, "finite"),
        ({"position_ras": "abc"}, "3 numbers"),
        ({"confidence": 1.5}, "confidence must be <= 1"),
        ({"confidence": -0.1}, "confidence must be >= 0"),
        ({"confidence": True}, "confidence must be a number"),
        ({"confidence": None}, "confidence is required"),
        ({"vessel_diameter_mm": 0.0}, "vessel_diameter_mm must be > 0"),
        ({"crossing_angle_deg": 181.0}, "crossing_angle_deg must be <= 180"),
        ({"distance_from_brainstem_mm": float("inf")}, "must be finite"),
        ({"id": ""}, "finding id must not be empty"),
        ({"id": 5}, "finding id must be a string"),
        ({"created": "yesterday"}, "ISO 8601"),
        ({"created": "2026-02-30T10:00:00"}, "not a valid date"),
        ({"author": 3}, "author must be a string"),
        ({"note": None}, "note must be a string"),
        ({"vessel": "vein", "vessel_kind": "artery"}, "cannot have vessel_kind 'artery'"),
        ({"vessel": "VA", "vessel_kind": "vein"}, "is an artery"),
    ],
)
def test_invalid_finding_cannot_exist(changes, match):
    with pytest.raises(InvalidFindingError, match=match):
        finding(**changes)


def test_invalid_finding_error_is_an_nvc_value_error():
    with pytest.raises(NVCError):
        finding(grade="bad")
    with pytest.raises(ValueError):
        finding(grade="bad")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("ROOT", "left", "VII", (0, 0, 0)), "landmark name"),
        (("RDP", "both", "VII", (0, 0, 0)), "landmark side"),
        (("RDP", "left", "IX", (0, 0, 0)), "landmark nerve"),
        (("RDP", "left", "VII", (0, 0)), "landmark position_ras"),
        (("RDP", "left", "VII", (0, 0, 0), "auto-confirmed"), "landmark origin"),
    ],
)
def test_invalid_landmark(args, match):
    with pytest.raises(InvalidFindingError, match=match):
        Landmark(*args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"case_id": "Doe, Jane"}, r"case_id must match"),
        ({"case_id": ""}, r"case_id must match"),
        ({"source": {"kind": "dicom"}}, None),
        ({"source": {"kind": "png", "series": []}}, "source kind"),
        ({"source": {"kind": "dicom", "series": [], "x": 1}}, "exactly the keys"),
        (
            {"source": {"kind": "dicom", "series": [{"role": "t2", "uid_sha256": "1.2.3"}]}},
            "never a raw UID",
        ),
        (
            {"source": {"kind": "dicom", "series": [{"role": "dwi", "uid_sha256": None}]}},
            r"series\[0\] role",
        ),
        ({"findings": [finding(), finding()]}, "appears twice"),
        ({"findings": [{"id": "f1"}]}, r"findings\[0\] must be a Finding"),
        ({"landmarks": "RDP"}, "must be a list"),
        ({"flags": {"sandwich": True}}, "flags must be a Flags"),
        ({"clinical": None}, "clinical must be a Clinical"),
    ],
)
def test_invalid_case(kwargs, match):
    args = {"case_id": "c1", "source": SRC, **kwargs}
    if match is None:  # a source without series is fine: an empty list
        assert CaseFindings(**args).source["series"] == ()
        return
    with pytest.raises(InvalidFindingError, match=match):
        CaseFindings(**args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"multiple_offenders": 1}, "true or false"),
        ({"condition": "migraine"}, "clinical condition"),
        ({"symptomatic_side": "both"}, "symptomatic_side"),
        ({"emg_lateral_spread_response": "yes"}, "emg_lateral_spread_response"),
    ],
)
def test_invalid_flags_and_clinical(kwargs, match):
    cls = Flags if "multiple_offenders" in kwargs else Clinical
    with pytest.raises(InvalidFindingError, match=match):
        cls(**kwargs)


def test_case_source_is_read_only():
    case = CaseFindings("c1", SRC)
    with pytest.raises(TypeError):
        case.source["kind"] = "nifti"  # type: ignore[index]
    with pytest.raises(TypeError):
        case.source["series"][0]["uid_sha256"] = "1.2.3"  # type: ignore[index]


def test_uid_sha256():
    uid = "1.2.826.0.1.3680043.8.498.1"
    assert uid_sha256(uid) == hashlib.sha256(uid.encode()).hexdigest()
    assert uid_sha256(uid + "\x00") == uid_sha256(uid)  # DICOM pads odd-length UIDs with NUL
    with pytest.raises(InvalidFindingError):
        uid_sha256("")


def test_source_from_volumes_hashes_uids():
    aff = np.eye(4)
    t2 = Volume(np.zeros((2, 2, 2)), aff, VolumeMeta(kind="dicom", role="t2", series_uid="1.2.3"))
    tof = Volume(np.zeros((2, 2, 2)), aff, VolumeMeta(kind="dicom", role="tof"))
    src = source_from_volumes([t2, tof])
    assert src == {
        "kind": "dicom",
        "series": [
            {"role": "t2", "uid_sha256": uid_sha256("1.2.3")},
            {"role": "tof", "uid_sha256": None},
        ],
    }
    assert "1.2.3" not in json.dumps(src)
    phantom = Volume(np.zeros((2, 2, 2)), aff, VolumeMeta(kind="phantom"))
    with pytest.raises(InvalidFindingError, match="'dicom' or 'nifti'"):
        source_from_volumes([phantom])


# -- review actions ---------------------------------------------------------------------------
def test_confirm_and_reject_move_origin_edit_keeps_it_to_review():
    f = finding()
    c = confirm(f, "dr.b")
    assert (c.origin, c.author, c.created) == ("auto-confirmed", "dr.b", T0)
    assert c.modified > T0
    r = reject(c, "dr.c")
    assert (r.origin, r.author) == ("auto-rejected", "dr.c")
    assert confirm(r).origin == "auto-confirmed"
    e = edit(f, grade="indentation", author="dr.d")
    assert (e.grade, e.origin, e.author, e.id, e.created, e.edited) == (
        "indentation",
        "auto",  # an edit is not a review: only confirm and reject decide
        "dr.d",
        "f1",
        T0,
        True,
    )
    assert e.modified > T0 and not f.edited
    assert confirm(e).origin == "auto-confirmed" and confirm(e).edited
    noted = edit(f, note="seen at surgery")
    assert (noted.origin, noted.edited, noted.note) == ("auto", False, "seen at surgery")
    with pytest.raises(InvalidFindingError, match="cannot change a finding's 'rationale'"):
        edit(f, rationale="mine")
    m = finding(origin="manual")
    assert confirm(m).origin == "manual" and edit(m, note="x").origin == "manual"
    with pytest.raises(InvalidFindingError, match="delete it instead"):
        reject(m)
    with pytest.raises(InvalidFindingError, match="cannot change a finding's 'id'"):
        edit(f, id="f9")
    with pytest.raises(InvalidFindingError, match="no field"):
        edit(f, colour="red")
    with pytest.raises(InvalidFindingError, match="finding grade"):
        edit(f, grade="huge")


def test_case_editing_helpers():
    case = CaseFindings("c1", SRC, findings=[finding()])
    case2 = case.with_finding(finding(id="f2")).with_finding(confirm(finding()))
    assert [f.id for f in case2.findings] == ["f1", "f2"]
    assert case2.finding("f1").origin == "auto-confirmed"
    assert [f.id for f in case2.without_finding("f1").findings] == ["f2"]
    assert case.findings[0].origin == "auto"  # the original is untouched
    with pytest.raises(KeyError):
        case.without_finding("nope")


# -- flags ------------------------------------------------------------------------------------
def test_is_offending():
    assert is_offending(finding())
    assert not is_offending(finding(grade="none"))
    assert not is_offending(finding(origin="auto-rejected"))
    assert not is_offending(finding(), confirmed_only=True)
    assert is_offending(finding(origin="manual"), confirmed_only=True)


def test_flags_multiple_offenders():
    one = [finding(), finding(id="f2", position_ras=(-14, 3, -30))]  # same vessel twice
    assert flags_from_findings(one) == Flags()
    two = one + [finding(id="f3", vessel="VA", position_ras=(-8, 10, -35))]
    assert flags_from_findings(two).multiple_offenders
    other_side = one + [finding(id="f3", vessel="VA", side="right")]
    assert not flags_from_findings(other_side).multiple_offenders
    rejected = one + [finding(id="f3", vessel="VA", origin="auto-rejected")]
    assert not flags_from_findings(rejected).multiple_offenders
    assert not flags_from_findings(two, confirmed_only=True).multiple_offenders
    assert flags_from_findings([], va_tortuosity=True) == Flags(va_tortuosity=True)


def test_flags_sandwich_from_landmark_axis():
    # Nerve VII runs along -x from the RDP; AICA above and PICA below it at the same place.
    lms = [Landmark("RDP", "left", "VII", (-10, 0, 0)), Landmark("TZ", "left", "VII", (-13, 0, 0))]
    above = finding(position_ras=(-11.0, 0.0, 0.7))
    below = finding(id="f2", vessel="PICA", position_ras=(-11.5, 0.0, -0.7))
    assert flags_from_findings([above, below], lms).sandwich
    # Same two vessels but 8 mm apart along the nerve: two offenders, no sandwich.
    far = finding(id="f2", vessel="PICA", position_ras=(-19.0, 0.0, -0.7))
    flags = flags_from_findings([above, far], lms)
    assert flags.multiple_offenders and not flags.sandwich
    # Along-nerve distances, when known, take precedence over geometry.
    a = finding(distance_from_brainstem_mm=1.0, position_ras=(-11.0, 0.0, 0.7))
    b = finding(
        id="f2", vessel="PICA", distance_from_brainstem_mm=9.0, position_ras=(-11.5, 0.0, -0.7)
    )
    assert not flags_from_findings([a, b], lms).sandwich


def test_merge_auto_keeps_surgeon_work():
    saved = CaseFindings(
        "c1",
        SRC,
        landmarks=[
            Landmark("RDP", "left", "VII", (0, 0, 0), origin="manual"),
            Landmark("TZ", "left", "VII", (1, 0, 0)),
        ],
        findings=[
            finding(id="a"),
            confirm(finding(id="b")),
            finding(id="c", origin="manual"),
            reject(finding(id="d")),
        ],
        clinical=Clinical(condition="hemifacial_spasm"),
    )
    fresh = CaseFindings(
        "c1",
        SRC,
        landmarks=[
            Landmark("RDP", "left", "VII", (5, 5, 5)),
            Landmark("TZ", "left", "VII", (6, 5, 5)),
        ],
        findings=[finding(id="b", grade="displacement"), finding(id="e", vessel="VA")],
    )
    merged = merge_auto(saved, fresh)
    assert [f.id for f in merged.findings] == ["b", "c", "d", "e"]
    assert merged.finding("b").origin == "auto-confirmed" and merged.finding("b").grade == "contact"
    # the surgeon's RDP replaces the machine's; the machine's TZ is refreshed
    assert [(lm.name, lm.origin, lm.position_ras) for lm in merged.landmarks] == [
        ("RDP", "manual", (0, 0, 0)),
        ("TZ", "auto", (6, 5, 5)),
    ]
    assert merged.clinical.condition == "hemifacial_spasm"
    assert merged.flags.multiple_offenders  # AICA + VA on left VII


# -- JSON and schema --------------------------------------------------------------------------
def test_schema_is_valid_2020_12_and_mirrors_the_model():
    schema = findings_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    fdef = schema["$defs"]["finding"]
    assert tuple(fdef["required"]) == FINDING_FIELDS
    assert fdef["properties"]["side"] == {"$ref": "#/$defs/side"}
    assert schema["$defs"]["side"]["enum"] == list(SIDES)
    assert fdef["properties"]["nerve"]["enum"] == list(NERVES)
    assert fdef["properties"]["grade"]["enum"] == list(GRADES)
    assert fdef["properties"]["segment"]["enum"] == list(SEGMENTS)
    assert fdef["properties"]["origin"]["enum"] == list(ORIGINS)
    assert fdef["properties"]["vessel_kind"]["enum"] == list(VESSEL_KINDS)


def test_json_round_trip_validates_with_jsonschema(tmp_path):
    case = full_case()
    path = write_findings_json(case, tmp_path / "findings.json")
    doc = json.loads(path.read_text("utf-8"))
    jsonschema.validate(doc, findings_schema(), cls=jsonschema.Draft202012Validator)
    assert doc["schema"] == "nvc-viewer/findings" and doc["schema_version"] == SCHEMA_VERSION == 3
    assert doc["coordinate_system"] == "RAS" and doc["units"] == "mm"
    assert list(doc["findings"][0]) == list(FINDING_FIELDS)
    assert doc["findings"][0]["vessel_diameter_mm"] == 1.8
    assert doc["findings"][1]["distance_from_brainstem_mm"] is None
    assert read_findings_json(path) == case
    assert CaseFindings.from_dict(case.to_dict()) == case


finite = st.floats(-500, 500, allow_nan=False, allow_infinity=False)


@st.composite
def findings_st(draw, n: int):
    kind = draw(st.sampled_from(VESSEL_KINDS))
    vessels = {
        "artery": ["AICA", "PICA", "VA", "BA", "SCA", "perforator", "unknown"],
        "vein": ["vein", "perforator", "unknown"],
        "unknown": ["vein", "unknown", "AICA"],
    }
    return Finding(
        id=f"f{n}",
        side=draw(st.sampled_from(SIDES)),
        nerve=draw(st.sampled_from(NERVES)),
        vessel=draw(st.sampled_from(vessels[kind])),
        vessel_kind=kind,
        segment=draw(st.sampled_from(SEGMENTS)),
        grade=draw(st.sampled_from(GRADES)),
        position_ras=draw(st.tuples(finite, finite, finite)),
        distance_from_brainstem_mm=draw(st.none() | st.floats(-20, 40)),
        vessel_diameter_mm=draw(st.none() | st.floats(0.05, 6)),
        crossing_angle_deg=draw(st.none() | st.floats(0, 180)),
        confidence=draw(st.floats(0, 1)),
        origin=draw(st.sampled_from(ORIGINS)),
        author=draw(st.none() | st.text(max_size=8)),
        created=T0,
        note=draw(st.text(max_size=12)),
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_json_round_trip_is_lossless_property(data):
    n = data.draw(st.integers(0, 4))
    case = CaseFindings("p-1", SRC, findings=[data.draw(findings_st(k)) for k in range(n)])
    text = json.dumps(case.to_dict())
    assert CaseFindings.from_dict(json.loads(text)) == case


def test_validate_reports_json_path():
    doc = full_case().to_dict()
    doc["findings"][1]["grade"] = "huge"
    with pytest.raises(InvalidFindingError, match=r"^\$\.findings\[1\]\.grade: 'huge' is not one"):
        validate_findings_dict(doc)
    doc = full_case().to_dict()
    doc["landmarks"][0]["position_ras"] = [1, 2]
    with pytest.raises(InvalidFindingError, match=r"\$\.landmarks\[0\]\.position_ras"):
        validate_findings_dict(doc)
    doc = full_case().to_dict()
    doc["patient_name"] = "Doe^Jane"  # no field can smuggle PHI in
    with pytest.raises(InvalidFindingError, match="Additional properties"):
        validate_findings_dict(doc)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"not valid JSON: .* line 1 column 2"),
        ('{"schema": "other", "schema_version": 1}', r"\$\.schema: not a findings document"),
        ('{"schema": "nvc-viewer/findings", "schema_version": 99}', "written by a newer"),
        ('{"schema": "nvc-viewer/findings", "schema_version": "1"}', r"\$\.schema_version"),
        ("[1, 2]", r"\$: a findings document is a JSON object"),
        ('{"schema": "nvc-viewer/findings", "schema_version": 1, "x": NaN}', "NaN"),
    ],
)
def test_read_bad_files_names_file_and_problem(tmp_path, text, match):
    path = tmp_path / "bad findings.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FindingsFileError, match=match) as info:
        read_findings_json(path)
    assert str(path) in str(info.value)


def test_read_schema_violation_names_json_path(tmp_path):
    doc = full_case().to_dict()
    doc["findings"][0]["confidence"] = 2
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(FindingsFileError, match=r"\$\.findings\[0\]\.confidence: 2 is greater"):
        read_findings_json(path)


def test_read_missing_and_non_utf8(tmp_path):
    with pytest.raises(InputNotFoundError):
        read_findings_json(tmp_path / "none.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"note": "\xe9"}')
    with pytest.raises(FindingsFileError, match="not UTF-8"):
        read_findings_json(bad)


def test_a_version_1_document_is_migrated_with_identification_unknown():
    """A reader accepts every version it ever wrote: a v1 file (no identification) opens."""
    v1 = full_case().to_dict()
    del v1["identification"], v1["warnings"]
    v1["schema_version"] = 1
    for f in v1["findings"]:
        del f["edited"], f["rationale"]
    case = CaseFindings.from_dict(v1)
    assert case.landmarks == full_case().landmarks
    assert [f.id for f in case.findings] == [f.id for f in full_case().findings]
    assert case.identification == () and case.warnings == ()
    assert case.to_dict()["schema_version"] == SCHEMA_VERSION == 3


def test_a_version_2_document_moves_the_machines_note_to_the_rationale(tmp_path):
    """Version 2 kept the machine's rationale in an auto finding's ``note``; version 3 keeps
    ``note`` for the surgeon and the machine's words in ``rationale``."""
    v2 = full_case().to_dict()
    v2["schema_version"] = 2
    for f in v2["findings"]:
        del f["edited"], f["rationale"]
    v2["findings"].append({**v2["findings"][0], "id": "f3", "origin": "auto-rejected"})
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(v2), encoding="utf-8")
    case = read_findings_json(path)
    auto, manual, rejected = case.findings
    assert (auto.note, auto.rationale) == ("", "loop; under VIII")
    assert (rejected.note, rejected.rationale) == ("", "loop; under VIII")
    assert (manual.note, manual.rationale) == ('quote " and \n newline', "")
    assert not any(f.edited for f in case.findings)
    doc = json.loads(write_findings_json(case, path).read_text("utf-8"))
    assert doc["schema_version"] == 3
    assert doc["findings"][0]["rationale"] == "loop; under VIII"


def test_review_counts_follow_the_review_state():
    f = finding()
    findings = [
        f,
        edit(finding(id="f2"), grade="indentation"),
        confirm(finding(id="f3")),
        reject(finding(id="f4")),
        finding(id="f5", origin="manual"),
    ]
    counts = review_counts(findings)
    assert (counts.to_review, counts.confirmed, counts.rejected, counts.own) == (2, 1, 1, 1)
    assert counts.edited == 1 and counts.total == 5


def test_identification_round_trips_and_is_validated(tmp_path):
    ident = (
        NerveIdentification("left", "VII", True, 0.9),
        NerveIdentification("left", "V", False, 0.0, "no thick root leaves the pons"),
    )
    case = full_case().replace(identification=ident, warnings=("left V not identified",))
    back = read_findings_json(write_findings_json(case, tmp_path / "findings.json"))
    assert back.identification == ident and back.warnings == ("left V not identified",)
    assert ident[1].warning == "left V not identified: no thick root leaves the pons"
    assert NerveIdentification("right", "VIII", True, 0.5, "alone").uncertain
    with pytest.raises(InvalidFindingError, match="identification nerve"):
        NerveIdentification("left", "IX", True, 0.5)
    with pytest.raises(InvalidFindingError, match="identification confidence"):
        NerveIdentification("left", "VII", True, 1.5)
    doc = case.to_dict()
    doc["identification"][0]["found"] = "yes"
    with pytest.raises(InvalidFindingError, match=r"identification"):
        CaseFindings.from_dict(doc)


def test_write_refuses_non_case(tmp_path):
    with pytest.raises(InvalidFindingError):
        write_findings_json({"case_id": "x"}, tmp_path / "f.json")  # type: ignore[arg-type]
    assert not (tmp_path / "f.json").exists()
