"""3D Slicer markups (``findings.mrk.json``): findings and landmarks as fiducial points.

Format: Slicer's markups JSON, schema ``markups-schema-v1.0.3.json``: one ``"Fiducial"`` markup
per kind of point (``"<case_id> NVC findings"`` and ``"<case_id> REZ landmarks"``), coordinate
system ``"LPS"`` (Slicer's file default: RAS with x and y negated), units mm. Each control point
has a readable ``label`` (``"VII-L AICA contact"``, ``"VII-L RDP"``) and a ``description`` whose
first line is a summary for the eye and whose second line is the point's full record as JSON
after the marker ``nvc-viewer:`` (every field except the position, which is the control point
itself). Case-level data (``case_id``, ``source``, ``flags``, ``clinical``) sit in an extra
top-level member ``"nvc-viewer"``, which the schema allows and Slicer ignores.

`read_slicer_markups` rebuilds the `CaseFindings` from the points: positions come from the
control points (so a point moved in Slicer moves the finding), everything else from the records.
json -> mrk.json -> model loses nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import FindingsFileError, InputNotFoundError, InvalidFindingError
from ..findings import (
    SCHEMA_NAME,
    SCHEMA_VERSION,
    CaseFindings,
    Clinical,
    Finding,
    Flags,
    Landmark,
    NerveIdentification,
)

__all__ = [
    "MARKUPS_SCHEMA",
    "slicer_markups_dict",
    "write_slicer_markups",
    "read_slicer_markups",
    "ras_to_lps",
]

#: The ``@schema`` value Slicer writes and reads.
MARKUPS_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)

_MARKER = "nvc-viewer:"
_HEADER_KEY = "nvc-viewer"
_FINDINGS_NAME = "NVC findings"
_LANDMARKS_NAME = "REZ landmarks"
# Slicer's identity orientation of a control point written in LPS.
_ORIENTATION_LPS = [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0]


def ras_to_lps(position_ras: tuple[float, float, float] | list[float]) -> list[float]:
    """Patient RAS mm -> LPS mm (x and y negated; the map is its own inverse)."""
    x, y, z = position_ras
    return [-float(x), -float(y), float(z)]


def _fmt(value: float | None, unit: str) -> str | None:
    return None if value is None else f"{value:.1f} {unit}"


def _finding_summary(f: Finding) -> str:
    parts = [f"{f.vessel} ({f.vessel_kind}) {f.grade} of {f.side} {f.nerve} at {f.segment}"]
    for text in (
        _fmt(f.distance_from_brainstem_mm, "mm from RDP"),
        _fmt(f.vessel_diameter_mm, "mm vessel"),
        _fmt(f.crossing_angle_deg, "deg crossing"),
    ):
        if text:
            parts.append(text)
    parts.append(f"confidence {f.confidence:.2f}")
    parts.append(f.origin + (f" by {f.author}" if f.author else ""))
    return "; ".join(parts)


def _description(summary: str, record: Mapping[str, Any]) -> str:
    return f"{summary}\n{_MARKER}{json.dumps(record, ensure_ascii=False, allow_nan=False)}"


def _control_point(point_id: str, label: str, description: str, position_ras: Any) -> dict:
    return {
        "id": point_id,
        "label": label,
        "description": description,
        "associatedNodeID": "",
        "position": ras_to_lps(position_ras),
        "orientation": list(_ORIENTATION_LPS),
        "selected": True,
        "locked": False,
        "visibility": True,
        "positionStatus": "defined",
    }


def _markup(name: str, points: list[dict], rgb: tuple[float, float, float]) -> dict:
    return {
        "type": "Fiducial",
        "name": name,
        "coordinateSystem": "LPS",
        "coordinateUnits": "mm",
        "locked": False,
        "fixedNumberOfControlPoints": False,
        "labelFormat": "%N-%d",
        "controlPoints": points,
        "measurements": [],
        "display": {
            "visibility": True,
            "opacity": 1.0,
            "color": list(rgb),
            "selectedColor": list(rgb),
            "propertiesLabelVisibility": False,
            "pointLabelsVisibility": True,
            "textScale": 2.5,
            "glyphType": "Sphere3D",
            "glyphScale": 1.5,
            "glyphSize": 1.5,
            "useGlyphScale": False,
            "sliceProjection": False,
        },
    }


def _landmark_id(lm: Landmark, n: int) -> str:
    return f"{lm.nerve}-{lm.side}-{lm.name}-{n}"


def slicer_markups_dict(case: CaseFindings) -> dict[str, Any]:
    """The markups JSON document of a case (see module notes)."""
    if not isinstance(case, CaseFindings):
        raise InvalidFindingError(f"case must be a CaseFindings; got {type(case).__name__}")
    finding_points = []
    for f in case.findings:
        record = f.to_dict()
        del record["position_ras"]
        finding_points.append(
            _control_point(f.id, f.label, _description(_finding_summary(f), record), f.position_ras)
        )
    landmark_points = []
    for n, lm in enumerate(case.landmarks):
        record = lm.to_dict()
        del record["position_ras"]
        label = f"{lm.nerve}-{lm.side[0].upper()} {lm.name}"
        summary = f"{lm.name} of the {lm.side} {lm.nerve} nerve ({lm.origin})"
        landmark_points.append(
            _control_point(
                _landmark_id(lm, n), label, _description(summary, record), lm.position_ras
            )
        )
    header = case.to_dict()
    for key in ("landmarks", "findings"):
        del header[key]
    return {
        "@schema": MARKUPS_SCHEMA,
        "markups": [
            _markup(f"{case.case_id} {_FINDINGS_NAME}", finding_points, (1.0, 0.25, 0.2)),
            _markup(f"{case.case_id} {_LANDMARKS_NAME}", landmark_points, (1.0, 0.9, 0.1)),
        ],
        _HEADER_KEY: header,
    }


def write_slicer_markups(case: CaseFindings, path: str | os.PathLike[str]) -> Path:
    """Write ``findings.mrk.json`` for 3D Slicer (atomic). Returns ``path``."""
    text = json.dumps(slicer_markups_dict(case), indent=2, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def _record_of(point: Mapping[str, Any], where: str) -> dict[str, Any]:
    desc = point.get("description", "")
    if not isinstance(desc, str):
        raise InvalidFindingError(f"{where}.description must be a string")
    for line in desc.splitlines():
        if line.startswith(_MARKER):
            try:
                record = json.loads(line[len(_MARKER) :])
            except json.JSONDecodeError as exc:
                raise InvalidFindingError(
                    f"{where}.description: the nvc-viewer record is not JSON ({exc.msg})"
                ) from None
            if not isinstance(record, dict):
                raise InvalidFindingError(f"{where}.description: the record is not an object")
            return record
    raise InvalidFindingError(
        f"{where}: no nvc-viewer record in the description (a point added in Slicer?); "
        f"label {point.get('label')!r}"
    )


def _position_ras(point: Mapping[str, Any], coordinate_system: str, where: str) -> list[float]:
    pos = point.get("position")
    if (
        not isinstance(pos, list)
        or len(pos) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
    ):
        raise InvalidFindingError(f"{where}.position must be 3 numbers; got {pos!r}")
    return ras_to_lps(pos) if coordinate_system == "LPS" else [float(v) for v in pos]


def read_slicer_markups(path: str | os.PathLike[str]) -> CaseFindings:
    """Rebuild a case's findings from a ``findings.mrk.json`` written by `write_slicer_markups`.

    Points may have been moved in Slicer (their position wins) and the file may use
    ``coordinateSystem`` ``"RAS"`` or ``"LPS"``. Points without an nvc-viewer record are refused.

    Raises
    ------
    FindingsFileError
        Naming the file and the JSON path of the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError("no such markups file", path=path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FindingsFileError(f"not a readable JSON file ({exc})", path=path) from None
    try:
        return _case_from_markups(doc)
    except InvalidFindingError as exc:
        raise FindingsFileError(exc.reason, path=path) from None


def _case_from_markups(doc: Any) -> CaseFindings:
    if not isinstance(doc, dict) or not isinstance(doc.get("markups"), list):
        raise InvalidFindingError('$: not Slicer markups JSON (no "markups" list)')
    header = doc.get(_HEADER_KEY)
    if not isinstance(header, dict):
        raise InvalidFindingError(
            f'$: no "{_HEADER_KEY}" case record (the file was not written by nvc-viewer, or '
            "Slicer re-saved it); re-export the case from nvc-viewer"
        )
    version = header.get("schema_version")
    if (
        header.get("schema") != SCHEMA_NAME
        or not isinstance(version, int)
        or isinstance(version, bool)
        or not 1 <= version <= SCHEMA_VERSION
    ):
        raise InvalidFindingError(
            f'$["{_HEADER_KEY}"]: unsupported record {header.get("schema")!r} version '
            f"{header.get('schema_version')!r}"
        )
    findings: list[Finding] = []
    landmarks: list[Landmark] = []
    for m, markup in enumerate(doc["markups"]):
        where_m = f"$.markups[{m}]"
        if not isinstance(markup, dict):
            raise InvalidFindingError(f"{where_m} is not an object")
        if markup.get("type") != "Fiducial":
            continue
        system = markup.get("coordinateSystem", "LPS")
        if system not in ("LPS", "RAS"):
            raise InvalidFindingError(f"{where_m}.coordinateSystem must be LPS or RAS")
        units = markup.get("coordinateUnits", "mm")
        if units not in ("mm", ["mm", "UCUM", "millimeter"]):
            raise InvalidFindingError(f"{where_m}.coordinateUnits must be mm; got {units!r}")
        for n, point in enumerate(markup.get("controlPoints", [])):
            where = f"{where_m}.controlPoints[{n}]"
            if not isinstance(point, dict):
                raise InvalidFindingError(f"{where} is not an object")
            if point.get("positionStatus", "defined") != "defined":
                continue
            record = _record_of(point, where)
            record["position_ras"] = _position_ras(point, system, where)
            try:
                if "name" in record:
                    landmarks.append(Landmark.from_dict(record))
                else:
                    findings.append(Finding.from_dict(record))
            except InvalidFindingError as exc:
                raise InvalidFindingError(f"{where}: {exc.reason}") from None
            except TypeError as exc:
                raise InvalidFindingError(f"{where}: incomplete record ({exc})") from None
    try:
        return CaseFindings(
            case_id=header.get("case_id"),  # type: ignore[arg-type]
            source=header.get("source"),  # type: ignore[arg-type]
            landmarks=tuple(landmarks),
            findings=tuple(findings),
            flags=Flags.from_dict(header.get("flags", {})),
            clinical=Clinical.from_dict(header.get("clinical", {})),
            identification=tuple(
                NerveIdentification.from_dict(x) for x in header.get("identification", [])
            ),
            warnings=tuple(header.get("warnings", [])),
        )
    except InvalidFindingError as exc:
        raise InvalidFindingError(f'$["{_HEADER_KEY}"]: {exc.reason}') from None
