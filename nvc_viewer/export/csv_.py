"""Findings as CSV: one row per finding, every field of the findings schema flattened.

Schema: docs/design.md, section 4.

Columns: ``case_id``, the finding's fields in schema order with ``position_ras`` split into
``x_ras, y_ras, z_ras`` (patient RAS mm), then the case's flags and clinical record
(``multiple_offenders, sandwich, va_tortuosity, condition, symptomatic_side,
emg_lateral_spread_response, clinical_note``) repeated on each row of the case so that one merged
table of a batch can be filtered in a spreadsheet.

Encoding: UTF-8, RFC 4180 quoting; empty cell = null; booleans ``true``/``false``; numbers with
full precision (``repr``), so writing and reading gives back the same floats. Free text (author,
notes) that starts with ``= + - @ '``, a tab or a carriage return gets one leading ``'`` so a
spreadsheet never runs it as a formula; `read_findings_csv` removes it again.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from ..atomic import atomic_write_text
from ..errors import FindingsFileError, InputNotFoundError, InvalidFindingError
from ..findings import FINDING_FIELDS, CaseFindings, Clinical, Finding, Flags

__all__ = ["CSV_COLUMNS", "CsvCase", "findings_csv_text", "write_findings_csv", "read_findings_csv"]

_FLAG_COLUMNS = ("multiple_offenders", "sandwich", "va_tortuosity")
_CLINICAL_COLUMNS = (
    "condition",
    "symptomatic_side",
    "emg_lateral_spread_response",
    "clinical_note",
)

#: The header row.
CSV_COLUMNS: tuple[str, ...] = (
    ("case_id",)
    + tuple(
        c
        for name in FINDING_FIELDS
        for c in (("x_ras", "y_ras", "z_ras") if name == "position_ras" else (name,))
    )
    + _FLAG_COLUMNS
    + _CLINICAL_COLUMNS
)

_FLOAT_FIELDS = {
    "x_ras",
    "y_ras",
    "z_ras",
    "distance_from_brainstem_mm",
    "vessel_diameter_mm",
    "crossing_angle_deg",
    "confidence",
}
_NULLABLE_TEXT = {"author", "condition", "symptomatic_side", "emg_lateral_spread_response"}
_FREE_TEXT = {"author", "note", "rationale", "clinical_note"}
#: Columns of true / false.
_BOOL_COLUMNS = (*_FLAG_COLUMNS, "edited")
#: Columns added by findings version 3: a CSV written before has none (defaults).
_V3_DEFAULTS = {"edited": "false", "rationale": ""}
_FORMULA_START = ("=", "+", "-", "@", "'", "\t", "\r")


class CsvCase(NamedTuple):
    """What a CSV holds of one case."""

    findings: tuple[Finding, ...]
    flags: Flags
    clinical: Clinical


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if name in _FREE_TEXT and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _rows(case: CaseFindings) -> Iterable[dict[str, str]]:
    case_part = {
        **{k: _cell(k, getattr(case.flags, k)) for k in _FLAG_COLUMNS},
        "condition": _cell("condition", case.clinical.condition),
        "symptomatic_side": _cell("symptomatic_side", case.clinical.symptomatic_side),
        "emg_lateral_spread_response": _cell(
            "emg_lateral_spread_response", case.clinical.emg_lateral_spread_response
        ),
        "clinical_note": _cell("clinical_note", case.clinical.note),
    }
    for f in case.findings:
        row = {"case_id": case.case_id}
        for name in FINDING_FIELDS:
            if name == "position_ras":
                x, y, z = f.position_ras
                row.update(
                    x_ras=_cell("x_ras", x), y_ras=_cell("y_ras", y), z_ras=_cell("z_ras", z)
                )
            else:
                row[name] = _cell(name, getattr(f, name))
        row.update(case_part)
        yield row


def findings_csv_text(cases: Iterable[CaseFindings]) -> str:
    """The CSV text of some cases (header row even when there is no finding)."""
    cases = list(cases)
    ids = [c.case_id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InvalidFindingError(f"case_id(s) {dupes} appear in more than one case")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for case in cases:
        if not isinstance(case, CaseFindings):
            raise InvalidFindingError(f"cases must be CaseFindings; got {type(case).__name__}")
        writer.writerows(_rows(case))
    return buf.getvalue()


def write_findings_csv(cases: Iterable[CaseFindings], path: str | os.PathLike[str]) -> Path:
    """Write one row per finding of every case to ``path`` (atomic).

    Parameters
    ----------
    cases : iterable of CaseFindings
        Distinct ``case_id`` values.
    path : path-like
        Usually ``findings.csv``.

    Returns
    -------
    Path
    """
    return atomic_write_text(path, findings_csv_text(cases))


def _parse(name: str, text: str) -> Any:
    if name in _FLOAT_FIELDS:
        return None if text == "" else float(text)
    if name in _BOOL_COLUMNS:
        if text not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text == "true"
    if name in _FREE_TEXT and text.startswith("'") and text[1:].startswith(_FORMULA_START):
        text = text[1:]
    if name in _NULLABLE_TEXT and text == "":
        return None
    return text


def read_findings_csv(path: str | os.PathLike[str]) -> dict[str, CsvCase]:
    """Read a findings CSV written by `write_findings_csv`.

    Returns
    -------
    dict
        ``case_id`` -> `CsvCase` (findings in file order, flags, clinical record). Cases with
        no finding have no row, so they are absent.

    Raises
    ------
    FindingsFileError
        Naming the file, the line and the column of the first bad value.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError("no such findings CSV", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FindingsFileError(f"cannot read as UTF-8 text ({exc})", path=path) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = tuple(reader.fieldnames or ())
    missing = [c for c in CSV_COLUMNS if c not in header and c not in _V3_DEFAULTS]
    if missing:
        raise FindingsFileError(f"not a findings CSV: missing column(s) {missing}", path=path)
    out: dict[str, tuple[list[Finding], Flags, Clinical]] = {}
    for row in reader:
        line = reader.line_num
        column = ""
        try:
            values = {}
            for column in CSV_COLUMNS:
                cell = row.get(column, _V3_DEFAULTS.get(column))
                if cell is None:
                    raise ValueError("the row is too short")
                values[column] = _parse(column, cell)
            column = ""
            f = Finding(
                **{n: values[n] for n in FINDING_FIELDS if n != "position_ras"},
                position_ras=(values["x_ras"], values["y_ras"], values["z_ras"]),
            )
            flags = Flags(**{k: values[k] for k in _FLAG_COLUMNS})
            clinical = Clinical(
                condition=values["condition"],
                symptomatic_side=values["symptomatic_side"],
                emg_lateral_spread_response=values["emg_lateral_spread_response"],
                note=values["clinical_note"],
            )
            case_id = values["case_id"]
            if case_id in out:
                out[case_id][0].append(f)
            else:
                out[case_id] = ([f], flags, clinical)
        except (ValueError, TypeError) as exc:
            where = f"line {line}" + (f", column {column!r}" if column else "")
            reason = exc.reason if isinstance(exc, InvalidFindingError) else str(exc)
            raise FindingsFileError(f"{where}: {reason}", path=path) from None
    return {k: CsvCase(tuple(fs), flags, clinical) for k, (fs, flags, clinical) in out.items()}
