"""3D Slicer markups: Slicer's schema, LPS positions, lossless round trip to the model."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from nvc_viewer.errors import FindingsFileError
from nvc_viewer.export.slicer import (
    MARKUPS_SCHEMA,
    read_slicer_markups,
    slicer_markups_dict,
    write_slicer_markups,
)
from nvc_viewer.findings import (
    CaseFindings,
    Clinical,
    Finding,
    Flags,
    Landmark,
    read_findings_json,
    uid_sha256,
    write_findings_json,
)

T0 = "2026-01-31T14:05:00+00:00"


def _array(n: int) -> dict:
    return {"type": "array", "items": {"type": "number"}, "minItems": n, "maxItems": n}


def _rgb() -> dict:
    return {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": 1},
        "minItems": 3,
        "maxItems": 3,
    }


# The constraints of Slicer's markups-schema-v1.0.3.json (Modules/Loadable/Markups/Resources/
# Schema in the Slicer repository) on the members this writer uses, restated for validation.
SLICER_MARKUPS_SUBSET = {
    "$schema": "http://json-schema.org/draft-07/schema",
    "type": "object",
    "required": ["@schema", "markups"],
    "properties": {
        "@schema": {"type": "string"},
        "markups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {
                        "enum": [
                            "Fiducial",
                            "Line",
                            "Angle",
                            "Curve",
                            "ClosedCurve",
                            "Plane",
                            "ROI",
                        ]
                    },
                    "name": {"type": "string"},
                    "coordinateSystem": {"enum": ["LPS", "RAS"]},
                    "coordinateUnits": {
                        "anyOf": [
                            {"enum": ["mm", "um"]},
                            {
                                "type": "array",
                                "items": {"type": "string"},
                                "minItems": 3,
                                "maxItems": 3,
                            },
                        ]
                    },
                    "locked": {"type": "boolean"},
                    "fixedNumberOfControlPoints": {"type": "boolean"},
                    "labelFormat": {"type": "string"},
                    "controlPoints": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "label": {"type": "string"},
                                "description": {"type": "string"},
                                "associatedNodeID": {"type": "string"},
                                "position": _array(3),
                                "orientation": _array(9),
                                "selected": {"type": "boolean"},
                                "locked": {"type": "boolean"},
                                "visibility": {"type": "boolean"},
                                "positionStatus": {"enum": ["undefined", "preview", "defined"]},
                            },
                        },
                    },
                    "measurements": {"type": "array"},
                    "display": {
                        "type": "object",
                        "properties": {
                            "visibility": {"type": "boolean"},
                            "opacity": {"type": "number", "minimum": 0, "maximum": 1},
                            "color": _rgb(),
                            "selectedColor": _rgb(),
                            "propertiesLabelVisibility": {"type": "boolean"},
                            "pointLabelsVisibility": {"type": "boolean"},
                            "textScale": {"type": "number", "minimum": 0},
                            "glyphType": {
                                "enum": [
                                    "Vertex2D",
                                    "Dash2D",
                                    "Cross2D",
                                    "ThickCross2D",
                                    "Triangle2D",
                                    "Square2D",
                                    "Circle2D",
                                    "Diamond2D",
                                    "Arrow2D",
                                    "ThickArrow2D",
                                    "HookedArrow2D",
                                    "StarBurst2D",
                                    "Sphere3D",
                                    "Diamond3D",
                                ]
                            },
                            "glyphScale": {"type": "number", "minimum": 0},
                            "glyphSize": {"type": "number", "minimum": 0},
                            "useGlyphScale": {"type": "boolean"},
                            "sliceProjection": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}


def make_case() -> CaseFindings:
    return CaseFindings(
        "case_12",
        {
            "kind": "dicom",
            "series": [
                {"role": "t2", "uid_sha256": uid_sha256("1.2.3")},
                {"role": "tof", "uid_sha256": None},
            ],
        },
        landmarks=[
            Landmark("RExP", "left", "VII", (-9.0, 1.5, -31.2)),
            Landmark("RDP", "left", "VII", (-10.1, 1.9, -31.0), origin="manual"),
        ],
        findings=[
            Finding(
                "f-1",
                "left",
                "VII",
                "AICA",
                "artery",
                "RDP",
                "indentation",
                (-11.123456789012345, 2.5, -30.75),
                distance_from_brainstem_mm=0.4,
                vessel_diameter_mm=1.9,
                crossing_angle_deg=81.0,
                confidence=0.83,
                created=T0,
                note="under VIII",
            ),
            Finding(
                "f-2",
                "right",
                "V",
                "SCA",
                "artery",
                "cisternal",
                "contact",
                (14.0, -0.2, -18.5),
                origin="auto-confirmed",
                author="dr.b",
                created=T0,
                modified="2026-02-01T08:00:00+00:00",
            ),
        ],
        flags=Flags(multiple_offenders=False, sandwich=False, va_tortuosity=True),
        clinical=Clinical("trigeminal_neuralgia", "right", "not_done", "V2 pain"),
    )


def test_document_follows_slicer_schema_and_uses_lps(tmp_path):
    case = make_case()
    path = write_slicer_markups(case, tmp_path / "findings.mrk.json")
    doc = json.loads(path.read_text("utf-8"))
    jsonschema.validate(doc, SLICER_MARKUPS_SUBSET)
    assert doc["@schema"] == MARKUPS_SCHEMA and doc["@schema"].endswith(
        "markups-schema-v1.0.3.json#"
    )
    findings, landmarks = doc["markups"]
    assert (findings["type"], findings["coordinateSystem"], findings["coordinateUnits"]) == (
        "Fiducial",
        "LPS",
        "mm",
    )
    # One control point per finding and landmark; positions are RAS with x and y negated.
    assert len(findings["controlPoints"]) == 2 and len(landmarks["controlPoints"]) == 2
    for point, f in zip(findings["controlPoints"], case.findings):
        x, y, z = f.position_ras
        assert point["position"] == [-x, -y, z]
    np.testing.assert_array_equal(landmarks["controlPoints"][1]["position"], [10.1, -1.9, -31.0])
    assert findings["controlPoints"][0]["label"] == "VII-L AICA indentation"
    assert landmarks["controlPoints"][0]["label"] == "VII-L RExP"
    assert findings["controlPoints"][0]["description"].startswith(
        "AICA (artery) indentation of left VII at RDP; 0.4 mm from RDP"
    )


def test_json_to_markups_to_model_loses_nothing(tmp_path):
    case = make_case()
    write_findings_json(case, tmp_path / "findings.json")
    from_json = read_findings_json(tmp_path / "findings.json")
    write_slicer_markups(from_json, tmp_path / "findings.mrk.json")
    back = read_slicer_markups(tmp_path / "findings.mrk.json")
    assert back == case
    assert back.findings[0].position_ras[0] == -11.123456789012345  # bit-exact through LPS


def test_point_moved_in_slicer_moves_the_finding(tmp_path):
    path = write_slicer_markups(make_case(), tmp_path / "findings.mrk.json")
    doc = json.loads(path.read_text("utf-8"))
    doc["markups"][0]["controlPoints"][1]["position"] = [-15.0, 0.5, -19.0]  # LPS
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_slicer_markups(path).findings[1].position_ras == (15.0, -0.5, -19.0)


def test_ras_coordinate_system_is_read_as_is(tmp_path):
    doc = slicer_markups_dict(make_case())
    for markup in doc["markups"]:
        markup["coordinateSystem"] = "RAS"
        for point in markup["controlPoints"]:
            point["position"] = [-point["position"][0], -point["position"][1], point["position"][2]]
    path = tmp_path / "ras.mrk.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_slicer_markups(path) == make_case()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("nvc-viewer"), 'no "nvc-viewer" case record'),
        (
            lambda d: d["markups"][0]["controlPoints"][0].update(description="added in Slicer"),
            r"controlPoints\[0\]: no nvc-viewer record",
        ),
        (
            lambda d: d["markups"][0]["controlPoints"][0].update(position=[1, 2]),
            r"controlPoints\[0\]\.position must be 3 numbers",
        ),
        (
            lambda d: d["markups"][0]["controlPoints"][0].update(
                description='x\nnvc-viewer:{"id": "f-1"}'
            ),
            "incomplete record",
        ),
        (lambda d: d["markups"][0].update(coordinateUnits="um"), "must be mm"),
        (lambda d: d["nvc-viewer"].update(case_id="Doe, Jane"), "case_id must match"),
        (lambda d: d.pop("markups"), "not Slicer markups JSON"),
    ],
)
def test_bad_markups_name_file_and_place(tmp_path, mutate, match):
    doc = slicer_markups_dict(make_case())
    mutate(doc)
    path = tmp_path / "bad.mrk.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(FindingsFileError, match=match) as info:
        read_slicer_markups(path)
    assert str(path) in str(info.value)


def test_empty_case(tmp_path):
    case = CaseFindings("empty", {"kind": "nifti", "series": []})
    path = write_slicer_markups(case, tmp_path / "e.mrk.json")
    jsonschema.validate(json.loads(path.read_text("utf-8")), SLICER_MARKUPS_SUBSET)
    assert read_slicer_markups(path) == case
