"""Findings CSV: every field of the findings schema (docs/design.md, section 4) as a column, read
back losslessly."""

from __future__ import annotations

import csv

import pytest
from findings_cases import finding

from nvc_viewer.errors import FindingsFileError, InvalidFindingError
from nvc_viewer.export.csv_ import CSV_COLUMNS, read_findings_csv, write_findings_csv
from nvc_viewer.findings import (
    FINDING_FIELDS,
    CaseFindings,
    Clinical,
    Flags,
    findings_schema,
    uid_sha256,
)

SRC = {"kind": "nifti", "series": [{"role": "t2", "uid_sha256": None}]}


def cases() -> list[CaseFindings]:
    a = CaseFindings(
        "case-a",
        SRC,
        findings=[
            finding(
                position_ras=(-12.5, 3.1, -30.000000000000004),
                distance_from_brainstem_mm=0.1 + 0.2,
                vessel_diameter_mm=1.8,
                crossing_angle_deg=72.5,
                confidence=1 / 3,
                note='comma, "quote"\nnewline',
            ),
            finding(
                id="f2",
                vessel="PICA",
                origin="manual",
                author='=HYPERLINK("x")',
                note="-1 mm lateral",
            ),
        ],
        flags=Flags(multiple_offenders=True),
        clinical=Clinical("hemifacial_spasm", "left", None, "'already quoted"),
    )
    b = CaseFindings(
        "case-b",
        {"kind": "dicom", "series": [{"role": "t2", "uid_sha256": uid_sha256("1.2.3")}]},
        findings=[finding(id="g1", side="right", nerve="V", vessel="SCA")],
    )
    empty = CaseFindings("case-c", SRC)
    return [a, b, empty]


def test_columns_are_every_field_flattened():
    finding_props = list(findings_schema()["$defs"]["finding"]["properties"])
    flat = [
        c
        for n in finding_props
        for c in (("x_ras", "y_ras", "z_ras") if n == "position_ras" else (n,))
    ]
    case_props = list(findings_schema()["properties"]["flags"]["properties"]) + [
        "condition",
        "symptomatic_side",
        "emg_lateral_spread_response",
        "clinical_note",
    ]
    assert list(CSV_COLUMNS) == ["case_id", *flat, *case_props]
    assert len(FINDING_FIELDS) == len(finding_props)


def test_write_read_round_trip(tmp_path):
    path = write_findings_csv(cases(), tmp_path / "findings.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["case_id"] for r in rows] == ["case-a", "case-a", "case-b"]  # one row per finding
    assert rows[0]["x_ras"] == "-12.5" and rows[0]["vessel_diameter_mm"] == "1.8"
    assert rows[0]["multiple_offenders"] == "true" and rows[2]["multiple_offenders"] == "false"
    assert rows[1]["distance_from_brainstem_mm"] == "" and rows[1]["author"].startswith("'=")
    back = read_findings_csv(path)
    assert list(back) == ["case-a", "case-b"]
    for case in cases()[:2]:
        assert back[case.case_id].findings == case.findings  # floats bit-exact, text intact
        assert back[case.case_id].flags == case.flags
        assert back[case.case_id].clinical == case.clinical


def test_formula_text_is_defused_for_spreadsheets(tmp_path):
    path = write_findings_csv(cases(), tmp_path / "f.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for col in ("author", "note", "clinical_note"):
                assert not row[col].startswith(("=", "+", "-", "@"))


def test_header_only_without_findings(tmp_path):
    path = write_findings_csv([cases()[2]], tmp_path / "f.csv")
    assert path.read_text("utf-8").strip() == ",".join(CSV_COLUMNS)
    assert read_findings_csv(path) == {}


def test_duplicate_case_ids_refused(tmp_path):
    with pytest.raises(InvalidFindingError, match="more than one case"):
        write_findings_csv([cases()[0], cases()[0]], tmp_path / "f.csv")


def test_bad_csv_names_line_and_column(tmp_path):
    path = write_findings_csv(cases(), tmp_path / "f.csv")
    text = path.read_text("utf-8").replace(",contact,", ",squeezed,", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FindingsFileError, match=r"line \d+: finding grade must be one of"):
        read_findings_csv(path)
    text = path.read_text("utf-8").replace("-12.5", "abc", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FindingsFileError, match=r"line \d+, column 'x_ras'"):
        read_findings_csv(path)
    (tmp_path / "g.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(FindingsFileError, match="missing column"):
        read_findings_csv(tmp_path / "g.csv")
