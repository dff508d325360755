"""The annotation model: landmarks, neurovascular-compression findings and case flags.

Design note
-----------
One file per case, ``findings.json``, schema ``"nvc-viewer/findings"`` version 3 (docs/design.md,
section 4; shipped as ``nvc_viewer/schemas/findings.schema.json``). Every position is patient
**RAS** mm (``position_ras``); unknown values are ``None`` / ``null``.

The objects are frozen dataclasses that validate every field when built, so an invalid landmark,
finding or case cannot exist. Editing makes new objects: `confirm`, `reject` and `edit` return a
changed copy with ``modified`` set to now. Only `confirm` and `reject` move ``origin`` along the
review path (``auto`` -> ``auto-confirmed`` / ``auto-rejected``; the machine proposes, the surgeon
decides); `edit` of a proposal keeps it ``auto`` and marks it ``edited`` (still to review).

Reading accepts every schema version ever written: `CaseFindings.from_dict` upgrades an older
document step by step through ``_MIGRATIONS`` (version ``n`` -> ``n + 1``) before validating it
against the current JSON Schema. Version 2 added ``identification`` and ``warnings``; a version-1
file opens with both empty. Version 3 split the machine's words from the surgeon's: a finding's
``note`` is the surgeon's, ``rationale`` the machine's (read-only), and ``edited`` says that a
surgeon corrected a proposal; an older file's machine findings have their ``note`` moved to
``rationale``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from .atomic import atomic_write_text
from .errors import FindingsFileError, InputNotFoundError, InvalidFindingError

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "LANDMARK_NAMES",
    "SIDES",
    "LANDMARK_NERVES",
    "NERVES",
    "VESSELS",
    "VESSEL_KINDS",
    "SEGMENTS",
    "GRADES",
    "ORIGINS",
    "LANDMARK_ORIGINS",
    "FINDING_FIELDS",
    "NERVE_DIAMETER_MM",
    "Landmark",
    "Finding",
    "Flags",
    "Clinical",
    "NerveIdentification",
    "CaseFindings",
    "uid_sha256",
    "series_fingerprint",
    "utc_now",
    "new_finding_id",
    "source_from_volumes",
    "confirm",
    "reject",
    "edit",
    "is_offending",
    "review_counts",
    "ReviewCounts",
    "flags_from_findings",
    "merge_auto",
    "findings_schema",
    "validate_findings_dict",
    "write_findings_json",
    "read_findings_json",
    "findings_to_json",
]

SCHEMA_NAME = "nvc-viewer/findings"
SCHEMA_VERSION = 3

Side = Literal["left", "right"]
LandmarkName = Literal["RExP", "RDP", "TZ"]
LandmarkNerve = Literal["V", "VII", "VIII"]
Nerve = Literal["V", "VII", "VIII", "IX"]
Vessel = Literal["AICA", "PICA", "VA", "BA", "SCA", "vein", "perforator", "unknown"]
VesselKind = Literal["artery", "vein", "unknown"]
Segment = Literal["attached", "RDP", "TZ", "cisternal", "meatal"]
Grade = Literal["none", "contact", "indentation", "displacement"]
Origin = Literal["auto", "manual", "auto-confirmed", "auto-rejected"]
LandmarkOrigin = Literal["auto", "manual"]

LANDMARK_NAMES: tuple[str, ...] = ("RExP", "RDP", "TZ")
SIDES: tuple[str, ...] = ("left", "right")
LANDMARK_NERVES: tuple[str, ...] = ("V", "VII", "VIII")
NERVES: tuple[str, ...] = ("V", "VII", "VIII", "IX")
VESSELS: tuple[str, ...] = ("AICA", "PICA", "VA", "BA", "SCA", "vein", "perforator", "unknown")
VESSEL_KINDS: tuple[str, ...] = ("artery", "vein", "unknown")
SEGMENTS: tuple[str, ...] = ("attached", "RDP", "TZ", "cisternal", "meatal")
GRADES: tuple[str, ...] = ("none", "contact", "indentation", "displacement")
ORIGINS: tuple[str, ...] = ("auto", "manual", "auto-confirmed", "auto-rejected")
LANDMARK_ORIGINS: tuple[str, ...] = ("auto", "manual")
SOURCE_KINDS: tuple[str, ...] = ("dicom", "nifti")
SERIES_ROLES: tuple[str, ...] = ("t2", "tof", "t1", "label", "other", "unknown")
CONDITIONS: tuple[str | None, ...] = ("hemifacial_spasm", "trigeminal_neuralgia", "other", None)
SYMPTOMATIC_SIDES: tuple[str | None, ...] = ("left", "right", "bilateral", None)
EMG_LSR: tuple[str | None, ...] = ("present", "absent", "not_done", None)

#: Order of a finding's fields in JSON and CSV (docs/design.md, section 4).
FINDING_FIELDS: tuple[str, ...] = (
    "id", "side", "nerve", "vessel", "vessel_kind", "segment", "grade", "position_ras",
    "distance_from_brainstem_mm", "vessel_diameter_mm", "crossing_angle_deg", "confidence",
    "origin", "author", "created", "modified", "edited", "note", "rationale",
)  # fmt: skip

#: Nerve diameter in the CPA cistern, mm (docs/anatomy.md; IX *assumed*). Used by the sandwich test.
NERVE_DIAMETER_MM: Mapping[str, float] = MappingProxyType(
    {"V": 2.5, "VII": 1.15, "VIII": 2.15, "IX": 1.0}
)

_CASE_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)


# -- small validators (the message names the field, the expected and the received value) -------
def _choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    if isinstance(value, bool) or value not in allowed:
        shown = ", ".join("null" if a is None else repr(a) for a in allowed)
        raise InvalidFindingError(f"{name} must be one of {shown}; got {value!r}")
    return value


def _position(name: str, value: Any) -> tuple[float, float, float]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidFindingError(
            f"{name} must be 3 numbers (x, y, z) in RAS mm; got {value!r}"
        ) from None
    if arr.shape != (3,) or isinstance(value, str | bytes):
        raise InvalidFindingError(f"{name} must be 3 numbers (x, y, z) in RAS mm; got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise InvalidFindingError(f"{name} must be finite; got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def _number(
    name: str,
    value: Any,
    *,
    optional: bool,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float | None:
    if value is None:
        if optional:
            return None
        raise InvalidFindingError(f"{name} is required (a number); got None")
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidFindingError(f"{name} must be a number; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidFindingError(f"{name} must be finite; got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise InvalidFindingError(f"{name} must be {'>' if low_open else '>='} {low}; got {value}")
    if high is not None and value > high:
        raise InvalidFindingError(f"{name} must be <= {high}; got {value}")
    return value


def _text(name: str, value: Any, *, optional: bool = False, nonempty: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidFindingError(f"{name} must be a string; got {value!r}")
    if nonempty and not value.strip():
        raise InvalidFindingError(f"{name} must not be empty")
    return value


def _timestamp(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise InvalidFindingError(
            f"{name} must be an ISO 8601 date and time like 2026-01-31T14:05:00+00:00; "
            f"got {value!r}"
        )
    try:
        # Python 3.10's fromisoformat does not read "Z".
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise InvalidFindingError(f"{name} is not a valid date and time: {value!r}") from None
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidFindingError(f"{name} must be true or false; got {value!r}")
    return bool(value)


def utc_now() -> str:
    """The current time as ISO 8601 UTC with seconds, e.g. ``"2026-01-31T14:05:00+00:00"``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_finding_id() -> str:
    """A fresh, unique finding id (a random UUID, hex)."""
    return uuid.uuid4().hex


def uid_sha256(uid: str) -> str:
    """Hex sha256 of a DICOM UID string: how exports name a series without revealing it.

    Trailing padding (space or NUL, as DICOM pads odd-length values) is stripped first, so the
    digest of a UID read raw from a file equals the digest of the same UID read by pydicom.
    """
    if not isinstance(uid, str) or not uid.strip(" \x00"):
        raise InvalidFindingError(f"uid must be a non-empty string; got {uid!r}")
    return hashlib.sha256(uid.strip(" \x00").encode("ascii", "replace")).hexdigest()


# -- the model ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Landmark:
    """A point on a nerve's centreline: root exit point, root detachment point, transition zone.

    Parameters
    ----------
    name : {"RExP", "RDP", "TZ"}
    side : {"left", "right"}
    nerve : {"V", "VII", "VIII"}
    position_ras : (3,) array_like
        Patient RAS mm.
    origin : {"auto", "manual"}
    """

    name: LandmarkName
    side: Side
    nerve: LandmarkNerve
    position_ras: tuple[float, float, float]
    origin: LandmarkOrigin = "auto"

    def __post_init__(self) -> None:
        _choice("landmark name", self.name, LANDMARK_NAMES)
        _choice("landmark side", self.side, SIDES)
        _choice("landmark nerve", self.nerve, LANDMARK_NERVES)
        object.__setattr__(
            self, "position_ras", _position("landmark position_ras", self.position_ras)
        )
        _choice("landmark origin", self.origin, LANDMARK_ORIGINS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (docs/design.md, section 4)."""
        return {
            "name": self.name,
            "side": self.side,
            "nerve": self.nerve,
            "position_ras": list(self.position_ras),
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Landmark:
        """Build from a `to_dict` result."""
        return cls(**_fields_of(cls, d, "landmark"))


#: Range of each numeric field of a finding (see `_number`).
_NUMBER_RULES: dict[str, dict[str, Any]] = {
    "distance_from_brainstem_mm": {"optional": True},
    "vessel_diameter_mm": {"optional": True, "low": 0.0, "low_open": True},
    "crossing_angle_deg": {"optional": True, "low": 0.0, "high": 180.0},
    "confidence": {"optional": False, "low": 0.0, "high": 1.0},
}


@dataclass(frozen=True)
class Finding:
    """One neurovascular contact: which vessel touches which nerve where, and how badly.

    Parameters
    ----------
    id : str
        Unique within the case (`new_finding_id` makes one).
    side : {"left", "right"}
    nerve : {"V", "VII", "VIII", "IX"}
    vessel : {"AICA", "PICA", "VA", "BA", "SCA", "vein", "perforator", "unknown"}
    vessel_kind : {"artery", "vein", "unknown"}
    segment : {"attached", "RDP", "TZ", "cisternal", "meatal"}
        Where on the nerve (REZ vocabulary, docs/anatomy.md).
    grade : {"none", "contact", "indentation", "displacement"}
    position_ras : (3,) array_like
        The contact point, patient RAS mm: midway between the closest nerve-surface and
        vessel-surface points.
    distance_from_brainstem_mm : float or None
        Along the nerve, from the root detachment point (negative on the attached segment).
    vessel_diameter_mm : float or None
        Vessel diameter at the contact, > 0.
    crossing_angle_deg : float or None
        Angle between nerve and vessel axes, 0..180.
    confidence : float
        0..1.
    origin : {"auto", "manual", "auto-confirmed", "auto-rejected"}
    author : str or None
        Who made or last reviewed it.
    created, modified : str
        ISO 8601; both default to now (``modified`` to ``created``).
    edited : bool
        A surgeon corrected fields of it (`edit`); for an ``auto`` proposal: edited, still to
        review (version 3).
    note : str
        The surgeon's note.
    rationale : str
        The machine's account of why it proposed or measured the finding; read-only for the
        surgeon (version 3; older files kept it in ``note``).
    """

    id: str
    side: Side
    nerve: Nerve
    vessel: Vessel
    vessel_kind: VesselKind
    segment: Segment
    grade: Grade
    position_ras: tuple[float, float, float]
    distance_from_brainstem_mm: float | None = None
    vessel_diameter_mm: float | None = None
    crossing_angle_deg: float | None = None
    confidence: float = 0.5
    origin: Origin = "auto"
    author: str | None = None
    created: str = field(default_factory=utc_now)
    modified: str | None = None
    edited: bool = False
    note: str = ""
    rationale: str = ""

    def __post_init__(self) -> None:
        _text("finding id", self.id, nonempty=True)
        _choice("finding side", self.side, SIDES)
        _choice("finding nerve", self.nerve, NERVES)
        _choice("finding vessel", self.vessel, VESSELS)
        _choice("finding vessel_kind", self.vessel_kind, VESSEL_KINDS)
        _choice("finding segment", self.segment, SEGMENTS)
        _choice("finding grade", self.grade, GRADES)
        if self.vessel == "vein" and self.vessel_kind == "artery":
            raise InvalidFindingError("finding vessel 'vein' cannot have vessel_kind 'artery'")
        if self.vessel in ("AICA", "PICA", "VA", "BA", "SCA") and self.vessel_kind == "vein":
            raise InvalidFindingError(
                f"finding vessel {self.vessel!r} is an artery; got vessel_kind 'vein'"
            )
        setv = object.__setattr__
        setv(self, "position_ras", _position("finding position_ras", self.position_ras))
        for name, rule in _NUMBER_RULES.items():
            setv(self, name, _number(f"finding {name}", getattr(self, name), **rule))
        _choice("finding origin", self.origin, ORIGINS)
        _text("finding author", self.author, optional=True)
        _timestamp("finding created", self.created)
        if self.modified is None:
            setv(self, "modified", self.created)
        _timestamp("finding modified", self.modified)
        setv(self, "edited", _flag("finding edited", self.edited))
        _text("finding note", self.note)
        _text("finding rationale", self.rationale)

    @property
    def label(self) -> str:
        """Short human label, e.g. ``"VII-L AICA contact"``."""
        return f"{self.nerve}-{self.side[0].upper()} {self.vessel} {self.grade}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the fields in `FINDING_FIELDS` order."""
        d = {name: getattr(self, name) for name in FINDING_FIELDS}
        d["position_ras"] = list(self.position_ras)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        """Build from a `to_dict` result."""
        return cls(**_fields_of(cls, d, "finding"))


@dataclass(frozen=True)
class Flags:
    """Case-level observations (docs/anatomy.md: multiple offenders, sandwich, VA tortuosity)."""

    multiple_offenders: bool = False
    sandwich: bool = False
    va_tortuosity: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _flag(f"flags {f.name}", getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Flags:
        return cls(**_fields_of(cls, d, "flags"))


@dataclass(frozen=True)
class Clinical:
    """What the surgeon enters: condition, symptomatic side, EMG lateral spread response."""

    condition: Literal["hemifacial_spasm", "trigeminal_neuralgia", "other"] | None = None
    symptomatic_side: Literal["left", "right", "bilateral"] | None = None
    emg_lateral_spread_response: Literal["present", "absent", "not_done"] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _choice("clinical condition", self.condition, CONDITIONS)
        _choice("clinical symptomatic_side", self.symptomatic_side, SYMPTOMATIC_SIDES)
        _choice("clinical emg_lateral_spread_response", self.emg_lateral_spread_response, EMG_LSR)
        _text("clinical note", self.note)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Clinical:
        return cls(**_fields_of(cls, d, "clinical"))


@dataclass(frozen=True)
class NerveIdentification:
    """Whether the analysis identified one nerve on one side, and how surely (version 2).

    Parameters
    ----------
    side : {"left", "right"}
    nerve : {"V", "VII", "VIII"}
    found : bool
    confidence : float
        0..1 (0 when not found).
    reason : str or None
        Why the nerve was not found, or why its name is uncertain.
    """

    side: Side
    nerve: LandmarkNerve
    found: bool
    confidence: float
    reason: str | None = None

    #: Below this confidence a finding on the nerve says that its name is uncertain.
    LOW_CONFIDENCE = 0.6

    def __post_init__(self) -> None:
        _choice("identification side", self.side, SIDES)
        _choice("identification nerve", self.nerve, LANDMARK_NERVES)
        object.__setattr__(self, "found", _flag("identification found", self.found))
        object.__setattr__(
            self,
            "confidence",
            _number(
                "identification confidence", self.confidence, optional=False, low=0.0, high=1.0
            ),
        )
        _text("identification reason", self.reason, optional=True)

    @property
    def uncertain(self) -> bool:
        """Found, but with a confidence under `LOW_CONFIDENCE`."""
        return self.found and self.confidence < self.LOW_CONFIDENCE

    @property
    def warning(self) -> str | None:
        """The plain-language case warning this calls for, or None."""
        if not self.found:
            return f"{self.side} {self.nerve} not identified: {self.reason or 'no evidence'}"
        if self.uncertain:
            return (
                f"{self.side} {self.nerve} identified with low confidence: "
                f"{self.reason or 'weak evidence'}"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NerveIdentification:
        return cls(**_fields_of(cls, d, "identification"))


def _freeze_source(source: Any) -> Mapping[str, Any]:
    if not isinstance(source, Mapping):
        raise InvalidFindingError(
            f'source must be a dict {{"kind": ..., "series": [...]}}; got {source!r}'
        )
    extra = set(source) - {"kind", "series"}
    if extra or "kind" not in source:
        raise InvalidFindingError(
            f'source must have exactly the keys "kind" and "series"; got {sorted(source)}'
        )
    kind = _choice("source kind", source["kind"], SOURCE_KINDS)
    series_in = source.get("series", [])
    if isinstance(series_in, str | bytes | Mapping) or not isinstance(series_in, Iterable):
        raise InvalidFindingError(f"source series must be a list; got {series_in!r}")
    series = []
    for n, item in enumerate(series_in):
        if not isinstance(item, Mapping) or set(item) - {"role", "uid_sha256"}:
            raise InvalidFindingError(
                f'source series[{n}] must be {{"role": ..., "uid_sha256": ...}}; got {item!r}'
            )
        role = _choice(f"source series[{n}] role", item.get("role"), SERIES_ROLES)
        digest = item.get("uid_sha256")
        if digest is not None and (not isinstance(digest, str) or not _SHA256.match(digest)):
            raise InvalidFindingError(
                f"source series[{n}] uid_sha256 must be 64 lower-case hex digits (use "
                f"uid_sha256(uid)), never a raw UID; got {digest!r}"
            )
        series.append(MappingProxyType({"role": role, "uid_sha256": digest}))
    return MappingProxyType({"kind": kind, "series": tuple(series)})


@dataclass(frozen=True)
class CaseFindings:
    """Everything recorded for one case; serialises to ``findings.json``.

    Parameters
    ----------
    case_id : str
        A pseudonym matching ``[A-Za-z0-9._-]+`` (never a patient name or ID).
    source : dict
        ``{"kind": "dicom"|"nifti", "series": [{"role": "t2"|..., "uid_sha256": str|None}]}``;
        stored read-only (`source_from_volumes` builds it from `Volume` objects).
    landmarks : sequence of Landmark
    findings : sequence of Finding
        Ids must be unique.
    flags : Flags
    clinical : Clinical
    identification : sequence of NerveIdentification
        What the analysis could and could not establish per side and nerve; empty when
        unknown (a version-1 file, or no analysis run).
    warnings : sequence of str
        Case-level warnings in plain language (a nerve not identified, a name uncertain).
    """

    case_id: str
    source: Mapping[str, Any]
    landmarks: tuple[Landmark, ...] = ()
    findings: tuple[Finding, ...] = ()
    flags: Flags = field(default_factory=Flags)
    clinical: Clinical = field(default_factory=Clinical)
    identification: tuple[NerveIdentification, ...] = ()
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.case_id, str) or not _CASE_ID.match(self.case_id):
            raise InvalidFindingError(
                f"case_id must match [A-Za-z0-9._-]+ (a pseudonym); got {self.case_id!r}"
            )
        object.__setattr__(self, "source", _freeze_source(self.source))
        for name, cls in (
            ("landmarks", Landmark),
            ("findings", Finding),
            ("identification", NerveIdentification),
            ("warnings", str),
        ):
            items = getattr(self, name)
            if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
                raise InvalidFindingError(f"{name} must be a list of {cls.__name__}")
            items = tuple(items)
            for n, item in enumerate(items):
                if not isinstance(item, cls):
                    raise InvalidFindingError(
                        f"{name}[{n}] must be a {cls.__name__}; got {type(item).__name__}"
                    )
            object.__setattr__(self, name, items)
        seen: set[str] = set()
        for f in self.findings:
            if f.id in seen:
                raise InvalidFindingError(
                    f"finding id {f.id!r} appears twice in case {self.case_id!r}"
                )
            seen.add(f.id)
        if not isinstance(self.flags, Flags):
            raise InvalidFindingError(f"flags must be a Flags; got {type(self.flags).__name__}")
        if not isinstance(self.clinical, Clinical):
            raise InvalidFindingError(
                f"clinical must be a Clinical; got {type(self.clinical).__name__}"
            )

    # -- editing ---------------------------------------------------------------------------
    def finding(self, finding_id: str) -> Finding:
        """The finding with this id (KeyError if none)."""
        for f in self.findings:
            if f.id == finding_id:
                return f
        raise KeyError(finding_id)

    def with_finding(self, finding: Finding) -> CaseFindings:
        """A copy with ``finding`` added, or replacing the one with the same id."""
        findings = list(self.findings)
        for n, f in enumerate(findings):
            if f.id == finding.id:
                findings[n] = finding
                break
        else:
            findings.append(finding)
        return dataclasses.replace(self, findings=tuple(findings))

    def without_finding(self, finding_id: str) -> CaseFindings:
        """A copy without the finding of this id (KeyError if none)."""
        self.finding(finding_id)
        return dataclasses.replace(
            self, findings=tuple(f for f in self.findings if f.id != finding_id)
        )

    def replace(self, **changes: Any) -> CaseFindings:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``findings.json`` document (docs/design.md, section 4) as plain dicts and lists."""
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "case_id": self.case_id,
            "source": {
                "kind": self.source["kind"],
                "series": [dict(s) for s in self.source["series"]],
            },
            "coordinate_system": "RAS",
            "units": "mm",
            "landmarks": [lm.to_dict() for lm in self.landmarks],
            "findings": [f.to_dict() for f in self.findings],
            "flags": self.flags.to_dict(),
            "clinical": self.clinical.to_dict(),
            "identification": [i.to_dict() for i in self.identification],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseFindings:
        """Build from a ``findings.json`` document of any schema version ever written.

        Raises
        ------
        InvalidFindingError
            The document is not a findings document, is from a newer program, or breaks the
            schema; the message gives the JSON path of the problem (e.g.
            ``$.findings[0].grade``).
        """
        doc = validate_findings_dict(d)
        return cls(
            case_id=doc["case_id"],
            source=doc["source"],
            landmarks=tuple(Landmark.from_dict(x) for x in doc["landmarks"]),
            findings=tuple(Finding.from_dict(x) for x in doc["findings"]),
            flags=Flags.from_dict(doc["flags"]),
            clinical=Clinical.from_dict(doc["clinical"]),
            identification=tuple(NerveIdentification.from_dict(x) for x in doc["identification"]),
            warnings=tuple(doc["warnings"]),
        )


def _fields_of(cls: type, d: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise InvalidFindingError(f"{what} must be an object; got {d!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise InvalidFindingError(f"{what} has unknown field(s) {sorted(unknown)}")
    return dict(d)


def source_from_volumes(volumes: Sequence[Any]) -> dict[str, Any]:
    """The ``source`` record of a case from its `Volume` objects (T2 first).

    Series UIDs enter only as sha256 digests.

    Raises
    ------
    InvalidFindingError
        If a volume is neither DICOM nor NIfTI (the schema knows no other source kind).
    """
    if not volumes:
        raise InvalidFindingError("source_from_volumes needs at least one volume")
    kind = volumes[0].meta.kind
    if kind not in SOURCE_KINDS:
        raise InvalidFindingError(
            f"source kind must be 'dicom' or 'nifti'; the first volume is {kind!r} "
            "(write it to NIfTI first, or pass source= yourself)"
        )
    series = []
    for vol in volumes:
        role = vol.meta.role if vol.meta.role in SERIES_ROLES else "unknown"
        series.append({"role": role, "uid_sha256": series_fingerprint(vol)})
    return {"kind": kind, "series": series}


def series_fingerprint(volume: Any) -> str | None:
    """What names a series in ``findings.json`` (``source.series[].uid_sha256``), or None.

    DICOM: the sha256 of its SeriesInstanceUID (`uid_sha256`). NIfTI: the sha256 of the file
    name, the shape and the voxel -> RAS affine (to 1e-4 mm), so that findings are not attached
    to another file by mistake while a moved or copied file keeps its fingerprint. None for a
    volume that is neither (in memory) or a DICOM series without a UID.
    """
    meta = volume.meta
    if meta.kind == "dicom":
        return uid_sha256(meta.series_uid) if meta.series_uid else None
    if meta.kind != "nifti" or not meta.source_paths:
        return None
    name = Path(meta.source_paths[0]).name
    affine = np.asarray(volume.affine, dtype=np.float64)
    text = "\n".join(
        (
            "nvc-viewer/nifti-series/1",
            name,
            "x".join(str(int(n)) for n in volume.shape),
            ",".join(f"{v:.4f}" for v in (affine.ravel() + 0.0)),
        )
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- review actions -------------------------------------------------------------------------------
def confirm(finding: Finding, author: str | None = None) -> Finding:
    """The surgeon accepts a finding: ``auto``/``auto-rejected`` -> ``auto-confirmed``.

    A ``manual`` or already confirmed finding keeps its origin. ``modified`` becomes now;
    ``author`` is recorded when given.
    """
    origin = "auto-confirmed" if finding.origin in ("auto", "auto-rejected") else finding.origin
    return dataclasses.replace(
        finding,
        origin=origin,
        author=finding.author if author is None else author,
        modified=utc_now(),
    )


def reject(finding: Finding, author: str | None = None) -> Finding:
    """The surgeon rejects a machine finding: ``auto``/``auto-confirmed`` -> ``auto-rejected``.

    The finding is kept (a rejected proposal is evidence too). A ``manual`` finding cannot be
    rejected, only deleted (`CaseFindings.without_finding`).
    """
    if finding.origin == "manual":
        raise InvalidFindingError(
            f"finding {finding.id!r} was made by hand; delete it instead of rejecting it"
        )
    return dataclasses.replace(
        finding,
        origin="auto-rejected",
        author=finding.author if author is None else author,
        modified=utc_now(),
    )


def edit(finding: Finding, *, author: str | None = None, **changes: Any) -> Finding:
    """The surgeon corrects a finding: a validated copy with ``changes`` applied.

    An edit is not a review: an ``auto`` proposal stays ``auto`` (only `confirm` and `reject`
    change the origin) and is marked ``edited``. Changing only the surgeon's ``note`` does not
    mark it edited. ``id``, ``created``, ``modified`` and ``rationale`` (the machine's words)
    cannot change; ``modified`` becomes now.
    """
    for frozen in ("id", "created", "modified", "rationale", "edited"):
        if frozen in changes:
            raise InvalidFindingError(f"edit cannot change a finding's {frozen!r}")
    names = {f.name for f in dataclasses.fields(Finding)}
    unknown = set(changes) - names
    if unknown:
        raise InvalidFindingError(f"edit: a finding has no field(s) {sorted(unknown)}")
    if set(changes) - {"note", "origin", "author"}:
        changes["edited"] = True
    if author is not None:
        changes["author"] = author
    return dataclasses.replace(finding, modified=utc_now(), **changes)


def is_offending(finding: Finding, *, confirmed_only: bool = False) -> bool:
    """Whether a finding counts as a compressing vessel.

    A finding counts when its grade is not ``"none"`` and it was not rejected; with
    ``confirmed_only`` only ``manual`` and ``auto-confirmed`` ones count (the machine proposes,
    the surgeon decides).
    """
    if finding.grade == "none" or finding.origin == "auto-rejected":
        return False
    return not confirmed_only or finding.origin in ("manual", "auto-confirmed")


@dataclass(frozen=True)
class ReviewCounts:
    """How far the review of a case is: findings per review state."""

    to_review: int = 0
    confirmed: int = 0
    rejected: int = 0
    own: int = 0
    #: Proposals a surgeon edited without confirming or rejecting them yet (among ``to_review``).
    edited: int = 0

    @property
    def total(self) -> int:
        return self.to_review + self.confirmed + self.rejected + self.own


def review_counts(findings: Iterable[Finding]) -> ReviewCounts:
    """Count findings by review state: ``auto`` (to review), ``auto-confirmed``,
    ``auto-rejected`` and ``manual`` (the surgeon's own)."""
    by = {origin: 0 for origin in ORIGINS}
    edited = 0
    for f in findings:
        by[f.origin] += 1
        edited += f.origin == "auto" and f.edited
    return ReviewCounts(
        to_review=by["auto"],
        confirmed=by["auto-confirmed"],
        rejected=by["auto-rejected"],
        own=by["manual"],
        edited=edited,
    )


def _nerve_axis(landmarks: Iterable[Landmark], side: str, nerve: str) -> np.ndarray | None:
    """Unit direction of a nerve from its landmarks (RExP -> RDP -> TZ), if two are known."""
    order = {name: n for n, name in enumerate(LANDMARK_NAMES)}
    pts = sorted(
        (lm for lm in landmarks if lm.side == side and lm.nerve == nerve),
        key=lambda lm: order[lm.name],
    )
    if len(pts) < 2:
        return None
    d = np.subtract(pts[-1].position_ras, pts[0].position_ras)
    norm = float(np.linalg.norm(d))
    return d / norm if norm > 1e-6 else None


def flags_from_findings(
    findings: Iterable[Finding],
    landmarks: Iterable[Landmark] = (),
    *,
    confirmed_only: bool = False,
    va_tortuosity: bool = False,
    sandwich_window_mm: float = 4.0,
) -> Flags:
    """Derive the case flags from the findings.

    Parameters
    ----------
    findings : iterable of Finding
        Only offending ones count (`is_offending`).
    landmarks : iterable of Landmark, optional
        Used for each nerve's direction in the sandwich test.
    confirmed_only : bool, optional
        Count only surgeon-confirmed and manual findings.
    va_tortuosity : bool, optional
        Not derivable from contacts; passed through.
    sandwich_window_mm : float, optional
        Largest separation along the nerve of two contacts that squeeze it from opposite sides
        (docs/anatomy.md: the facial nerve is vulnerable about 4 mm beyond the RDP).

    Returns
    -------
    Flags
        ``multiple_offenders``: two or more different vessels (``vessel`` names; all
        ``"unknown"`` ones count as one) compress the same nerve on the same side.
        ``sandwich``: two different vessels touch the same nerve at most ``sandwich_window_mm``
        apart along it and on opposite sides of it -- their contact points are at least
        0.75 nerve diameters apart across the nerve (`NERVE_DIAMETER_MM`). The along-nerve
        separation comes from ``distance_from_brainstem_mm`` when both are known, otherwise from
        the nerve direction given by ``landmarks``; without either only the straight distance
        between the points is used (across >= 0.75 diameter and <= the window).
    """
    findings = tuple(findings)
    landmarks = tuple(landmarks)
    offending = [f for f in findings if is_offending(f, confirmed_only=confirmed_only)]
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in offending:
        groups.setdefault((f.side, f.nerve), []).append(f)
    multiple = any(len({f.vessel for f in fs}) >= 2 for fs in groups.values())
    sandwich = False
    for (side, nerve), fs in groups.items():
        axis = _nerve_axis(landmarks, side, nerve)
        across_min = 0.75 * NERVE_DIAMETER_MM[nerve]
        for a_i, a in enumerate(fs):
            for b in fs[a_i + 1 :]:
                if a.vessel == b.vessel and a.vessel != "unknown":
                    continue
                sep = np.subtract(b.position_ras, a.position_ras)
                dist = float(np.linalg.norm(sep))
                if a.distance_from_brainstem_mm is not None and (
                    b.distance_from_brainstem_mm is not None
                ):
                    along = abs(a.distance_from_brainstem_mm - b.distance_from_brainstem_mm)
                    across = math.sqrt(max(dist**2 - along**2, 0.0))
                elif axis is not None:
                    along = abs(float(sep @ axis))
                    across = float(np.linalg.norm(sep - (sep @ axis) * axis))
                else:
                    along, across = dist, dist
                if along <= sandwich_window_mm and across >= across_min:
                    sandwich = True
    return Flags(multiple_offenders=multiple, sandwich=sandwich, va_tortuosity=va_tortuosity)


def _same_contact(a: Finding, b: Finding, same_place_mm: float) -> bool:
    """Whether two findings describe the same contact: same side, nerve and vessel (or one of
    the vessels unknown), at most ``same_place_mm`` apart."""
    if a.side != b.side or a.nerve != b.nerve:
        return False
    if a.vessel != b.vessel and "unknown" not in (a.vessel, b.vessel):
        return False  # two named vessels side by side: a sandwich or a second offender
    gap = float(np.linalg.norm(np.subtract(a.position_ras, b.position_ras)))
    return gap <= same_place_mm


def merge_auto(
    saved: CaseFindings, fresh: CaseFindings, *, same_place_mm: float = 3.0
) -> CaseFindings:
    """Refresh the machine's work in ``saved`` with ``fresh`` without touching the surgeon's.

    Keeps every finding of ``saved`` whose origin is ``manual``, ``auto-confirmed`` or
    ``auto-rejected`` and every ``manual`` landmark; takes ``fresh``'s ``auto`` findings and
    ``auto`` landmarks (except those a ``manual`` landmark of the same name, side and nerve
    replaces), ``fresh``'s source, identification and warnings (the machine's account of
    what it found), and ``saved``'s clinical record. Flags are
    re-derived from the merged findings, keeping ``saved``'s ``va_tortuosity`` if either says
    so.

    A fresh ``auto`` finding is dropped when a kept finding already has its id, or describes the
    same contact -- same side, nerve and vessel (or one vessel ``"unknown"``), positions at most
    ``same_place_mm`` apart: ids are new on every analysis, and a contact the surgeon has
    decided on (confirmed, rejected or drawn by hand) must not come back as a new proposal.

    Parameters
    ----------
    saved, fresh : CaseFindings
        What the workspace holds; what the analysis just proposed.
    same_place_mm : float, optional
        Largest distance (RAS mm) between two positions of one contact. The default, 3 mm,
        covers a surgeon's re-placed point while two vessels squeezing a nerve from opposite
        sides stay apart by their names.
    """
    kept = [f for f in saved.findings if f.origin != "auto"]
    kept_ids = {f.id for f in kept}
    findings = kept + [
        f
        for f in fresh.findings
        if f.origin == "auto"
        and f.id not in kept_ids
        and not any(_same_contact(f, k, same_place_mm) for k in kept)
    ]
    manual = [lm for lm in saved.landmarks if lm.origin == "manual"]
    placed = {(lm.name, lm.side, lm.nerve) for lm in manual}
    # a landmark the surgeon placed replaces the machine's one of the same name, side and nerve
    landmarks = manual + [
        lm
        for lm in fresh.landmarks
        if lm.origin == "auto" and (lm.name, lm.side, lm.nerve) not in placed
    ]
    flags = flags_from_findings(
        findings,
        landmarks,
        va_tortuosity=saved.flags.va_tortuosity or fresh.flags.va_tortuosity,
    )
    return CaseFindings(
        case_id=saved.case_id,
        source=fresh.source,
        landmarks=tuple(landmarks),
        findings=tuple(findings),
        flags=flags,
        clinical=saved.clinical,
        identification=fresh.identification,
        warnings=fresh.warnings,
    )


# -- schema, migrations, files -------------------------------------------------------------
#: ``_MIGRATIONS[n]`` turns a version-``n`` document into a version-``n + 1`` one.
def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    # version 1 did not record what the analysis identified: unknown, not "nothing found"
    return {**doc, "schema_version": 2, "identification": [], "warnings": []}


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    # version 2 kept the machine's rationale in a machine finding's note: move it to
    # ``rationale`` so that the note is the surgeon's; a manual finding's note is the surgeon's
    findings = []
    for f in doc.get("findings", []):
        if isinstance(f, dict):
            f = dict(f)
            machine = f.get("origin") != "manual"
            note = f.get("note", "")
            f["rationale"] = note if machine else ""
            f["note"] = "" if machine else note
            f["edited"] = False
        findings.append(f)
    return {**doc, "schema_version": 3, "findings": findings}


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
}


@lru_cache(maxsize=1)
def findings_schema() -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) of the current findings version."""
    from importlib.resources import files

    text = files("nvc_viewer").joinpath("schemas", "findings.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = findings_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _upgrade(d: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise InvalidFindingError(
            f"$: a findings document is a JSON object; got {type(d).__name__}"
        )
    if d.get("schema") != SCHEMA_NAME:
        raise InvalidFindingError(
            f'$.schema: not a findings document (expected "{SCHEMA_NAME}", got {d.get("schema")!r})'
        )
    version = d.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidFindingError(f"$.schema_version: expected an integer >= 1, got {version!r}")
    if version > SCHEMA_VERSION:
        raise InvalidFindingError(
            f"$.schema_version: written by a newer nvc-viewer (version {version}; this one "
            f"reads up to {SCHEMA_VERSION}); update nvc-viewer"
        )
    doc = json.loads(json.dumps(d))  # a deep, plain copy (tuples -> lists)
    while doc["schema_version"] < SCHEMA_VERSION:
        doc = _MIGRATIONS[doc["schema_version"]](doc)
    return doc


def validate_findings_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    """Upgrade a findings document to the current version and check it against the schema.

    Returns
    -------
    dict
        The current-version document (a copy).

    Raises
    ------
    InvalidFindingError
        With the JSON path of the first problem, e.g. ``$.findings[0].confidence: 1.5 is
        greater than the maximum of 1``.
    """
    try:
        doc = _upgrade(d)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidFindingError):
            raise
        raise InvalidFindingError(f"$: not JSON data ({exc})") from None
    import jsonschema

    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InvalidFindingError(f"{err.json_path}: {err.message}{more}")
    return doc


def findings_to_json(case: CaseFindings) -> str:
    """The ``findings.json`` text of a case (validated, UTF-8, 2-space indent)."""
    d = case.to_dict()
    validate_findings_dict(d)
    return json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_findings_json(case: CaseFindings, path: str | os.PathLike[str]) -> Path:
    """Validate ``case`` against the shipped schema and write it to ``path`` atomically.

    Returns
    -------
    Path
        ``path``.
    """
    if not isinstance(case, CaseFindings):
        raise InvalidFindingError(f"case must be a CaseFindings; got {type(case).__name__}")
    return atomic_write_text(path, findings_to_json(case))


def read_findings_json(path: str | os.PathLike[str]) -> CaseFindings:
    """Read and validate a ``findings.json`` of any schema version ever written.

    Raises
    ------
    FindingsFileError
        Naming the file and, for a schema violation, the JSON path of the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError("no such findings file", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FindingsFileError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path
        ) from None
    except OSError as exc:
        raise FindingsFileError(f"cannot read ({exc.strerror})", path=path) from None
    try:
        d = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FindingsFileError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path=path
        ) from None
    except ValueError as exc:
        raise FindingsFileError(f"not valid JSON: {exc}", path=path) from None
    try:
        return CaseFindings.from_dict(d)
    except InvalidFindingError as exc:
        raise FindingsFileError(exc.reason, path=path) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
