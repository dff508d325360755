"""Findings as a DICOM Comprehensive 3D SR, TID 1500 Measurement Report (``report_sr.dcm``).

One TID 1410 measurement group per finding:

- tracking identifier: the finding's label and id, and a UID derived from case and finding id;
- finding type "Neurovascular conflict"; finding site = the nerve (SNOMED CT) with laterality
  and, as topographical modifier, the nerve segment (attached, RDP, TZ, cisternal, meatal);
- the contact point as an ``SCOORD3D`` ``POINT`` in the source series' frame of reference
  (patient LPS mm, DICOM's own convention: RAS with x and y negated);
- measurements: distance from the root detachment point along the nerve (mm), vessel diameter
  (mm, finding site = the vessel), crossing angle (deg), confidence (no unit);
- qualitative evaluations: vessel, vessel kind, grade, origin (auto / manual / confirmed).

Anatomy uses SNOMED CT where pydicom's DICOM code dictionary has the concept (nerves, vertebral and
basilar artery, artery, vein, blood vessel, laterality). Concepts with no standard code in that
dictionary (AICA, PICA, SCA, the REZ segments, the grades and origins) use the private coding
scheme ``99NVC`` with their full meaning. A case without findings gets one TID 1501 group saying
so. The document inherits patient and study from the T2 series and lists it as evidence.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import ExportError
from ..findings import CaseFindings, Finding
from ..volume import Volume
from .dicom_seg import read_source_datasets

__all__ = [
    "PRIVATE_SCHEME",
    "CODES",
    "concept",
    "build_dicom_sr",
    "write_dicom_sr",
]

#: Private coding scheme designator (DICOM PS3.16 8.2: private schemes start with "99").
PRIVATE_SCHEME = "99NVC"

#: (code value, scheme, meaning) of every concept the report uses, by role and model value.
CODES: dict[str, dict[str, tuple[str, str, str]]] = {
    "nerve": {
        "V": ("27612005", "SCT", "Trigeminal nerve"),
        "VII": ("56052001", "SCT", "Facial nerve"),
        "VIII": ("8598002", "SCT", "Vestibulocochlear nerve"),
        "IX": ("21161002", "SCT", "Glossopharyngeal nerve"),
    },
    "side": {
        "left": ("7771000", "SCT", "Left"),
        "right": ("24028007", "SCT", "Right"),
    },
    "segment": {
        "attached": ("SEG-ATT", PRIVATE_SCHEME, "Attached segment of nerve root"),
        "RDP": ("SEG-RDP", PRIVATE_SCHEME, "Root detachment point"),
        "TZ": ("SEG-TZ", PRIVATE_SCHEME, "Transition zone of nerve root"),
        "cisternal": ("SEG-CIS", PRIVATE_SCHEME, "Cisternal segment of nerve"),
        "meatal": ("SEG-MEA", PRIVATE_SCHEME, "Meatal segment of nerve"),
    },
    "vessel": {
        "AICA": ("V-AICA", PRIVATE_SCHEME, "Anterior inferior cerebellar artery"),
        "PICA": ("V-PICA", PRIVATE_SCHEME, "Posterior inferior cerebellar artery"),
        "VA": ("85234005", "SCT", "Vertebral artery"),
        "BA": ("59011009", "SCT", "Basilar artery"),
        "SCA": ("V-SCA", PRIVATE_SCHEME, "Superior cerebellar artery"),
        "vein": ("29092000", "SCT", "Vein"),
        "perforator": ("V-PERF", PRIVATE_SCHEME, "Perforating artery"),
        "unknown": ("59820001", "SCT", "Blood vessel"),
    },
    "vessel_kind": {
        "artery": ("51114001", "SCT", "Artery"),
        "vein": ("29092000", "SCT", "Vein"),
        "unknown": ("VK-UNK", PRIVATE_SCHEME, "Unknown vessel kind"),
    },
    "grade": {
        "none": ("G-NONE", PRIVATE_SCHEME, "No neurovascular contact"),
        "contact": ("G-CONTACT", PRIVATE_SCHEME, "Neurovascular contact"),
        "indentation": ("G-INDENT", PRIVATE_SCHEME, "Nerve indentation by vessel"),
        "displacement": ("G-DISPL", PRIVATE_SCHEME, "Nerve displacement by vessel"),
    },
    "origin": {
        "auto": ("O-AUTO", PRIVATE_SCHEME, "Proposed by software, not reviewed"),
        "manual": ("O-MANUAL", PRIVATE_SCHEME, "Marked by a clinician"),
        "auto-confirmed": ("O-CONF", PRIVATE_SCHEME, "Proposed by software, confirmed"),
        "auto-rejected": ("O-REJ", PRIVATE_SCHEME, "Proposed by software, rejected"),
    },
    "name": {
        "finding_type": ("NVC", PRIVATE_SCHEME, "Neurovascular conflict"),
        "no_finding": ("NVC-NONE", PRIVATE_SCHEME, "No neurovascular conflict recorded"),
        "vessel": ("Q-VESSEL", PRIVATE_SCHEME, "Offending vessel"),
        "vessel_kind": ("Q-VKIND", PRIVATE_SCHEME, "Offending vessel kind"),
        "grade": ("Q-GRADE", PRIVATE_SCHEME, "Neurovascular conflict grade"),
        "origin": ("Q-ORIGIN", PRIVATE_SCHEME, "Finding origin"),
        "distance": ("M-DIST-RDP", PRIVATE_SCHEME, "Distance from root detachment point"),
        "diameter": ("81827009", "SCT", "Diameter"),
        "angle": ("1483009", "SCT", "Angle"),
        "confidence": ("M-CONF", PRIVATE_SCHEME, "Confidence of finding"),
    },
    "unit": {
        "mm": ("mm", "UCUM", "millimeter"),
        "deg": ("deg", "UCUM", "degree"),
        "1": ("1", "UCUM", "no units"),
    },
}


def concept(role: str, value: str):  # type: ignore[no-untyped-def]
    """The `highdicom.sr.CodedConcept` for a model value, e.g. ``concept("vessel", "VA")``."""
    import highdicom as hd

    code, scheme, meaning = CODES[role][value]
    return hd.sr.CodedConcept(value=code, scheme_designator=scheme, meaning=meaning)


def _uid_from(*parts: str) -> str:
    # A stable UID (2.25 = UUID-derived root) so re-exports track the same finding.
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _frame_of_reference(datasets: Sequence) -> str:
    uids = {str(ds.FrameOfReferenceUID) for ds in datasets if "FrameOfReferenceUID" in ds}
    if len(uids) != 1:
        raise ExportError(
            "the source series must have exactly one FrameOfReferenceUID for 3-D coordinates; "
            f"found {len(uids)}"
        )
    return uids.pop()


def _group(finding: Finding, case_id: str, frame_uid: str, algorithm: Any):  # type: ignore[no-untyped-def]
    import highdicom as hd

    x, y, z = finding.position_ras
    point_lps = np.array([[-x, -y, z]], dtype=np.float64)
    measurements = []
    mm = concept("unit", "mm")
    if finding.distance_from_brainstem_mm is not None:
        measurements.append(
            hd.sr.Measurement(
                name=concept("name", "distance"),
                value=finding.distance_from_brainstem_mm,
                unit=mm,
            )
        )
    if finding.vessel_diameter_mm is not None:
        measurements.append(
            hd.sr.Measurement(
                name=concept("name", "diameter"),
                value=finding.vessel_diameter_mm,
                unit=mm,
                finding_sites=[hd.sr.FindingSite(concept("vessel", finding.vessel))],
            )
        )
    if finding.crossing_angle_deg is not None:
        measurements.append(
            hd.sr.Measurement(
                name=concept("name", "angle"),
                value=finding.crossing_angle_deg,
                unit=concept("unit", "deg"),
            )
        )
    measurements.append(
        hd.sr.Measurement(
            name=concept("name", "confidence"), value=finding.confidence, unit=concept("unit", "1")
        )
    )
    evaluations = [
        hd.sr.QualitativeEvaluation(concept("name", role), concept(role, getattr(finding, role)))
        for role in ("vessel", "vessel_kind", "grade", "origin")
    ]
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=_uid_from(case_id, finding.id),
            identifier=f"{finding.label} [{finding.id}]"[:64],
        ),
        referenced_region=hd.sr.ImageRegion3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POINT,
            graphic_data=point_lps,
            frame_of_reference_uid=frame_uid,
        ),
        finding_type=concept("name", "finding_type"),
        finding_sites=[
            hd.sr.FindingSite(
                anatomic_location=concept("nerve", finding.nerve),
                laterality=concept("side", finding.side),
                topographical_modifier=concept("segment", finding.segment),
            )
        ],
        algorithm_id=algorithm if finding.origin != "manual" else None,
        measurements=measurements,
        qualitative_evaluations=evaluations,
    )


def build_dicom_sr(
    case: CaseFindings,
    source_datasets: Sequence,
    *,
    include_rejected: bool = False,
    series_number: int = 902,
    series_description: str = "nvc-viewer NVC findings",
):  # type: ignore[no-untyped-def]
    """Build the TID 1500 Comprehensive 3D SR of a case (in memory).

    Parameters
    ----------
    case : CaseFindings
    source_datasets : sequence of pydicom.Dataset
        The T2 series' headers: evidence, patient/study, frame of reference.
    include_rejected : bool, optional
        Also report findings a surgeon rejected (``auto-rejected``); off by default so that a
        report sent to PACS holds only what stands.
    series_number : int
    series_description : str

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from .. import __version__

    if not source_datasets:
        raise ExportError("no source DICOM datasets to reference")
    frame_uid = _frame_of_reference(source_datasets)
    algorithm = hd.sr.AlgorithmIdentification(name="nvc-viewer", version=__version__)
    findings = [f for f in case.findings if include_rejected or f.origin != "auto-rejected"]
    groups: list[Any] = [_group(f, case.case_id, frame_uid, algorithm) for f in findings]
    if not groups:
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=_uid_from(case.case_id, "no findings"), identifier="no findings"
                ),
                finding_type=concept("name", "no_finding"),
                algorithm_id=algorithm,
            )
        )
    observer = hd.sr.ObserverContext(
        observer_type=codes.cid270.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=_uid_from("nvc-viewer", "device"),
            name="nvc-viewer",
            manufacturer_name="nvc-viewer",
            model_name="nvc-viewer",
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.cid100.ImagingProcedure,
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=list(source_datasets),
        content=report[0],
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="nvc-viewer",
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=series_description,
    )


def write_dicom_sr(
    case: CaseFindings,
    t2: Volume,
    path: str | os.PathLike[str],
    *,
    source_datasets: Sequence | None = None,
    **kwargs: Any,
) -> Path:
    """Write the findings as a DICOM Comprehensive 3D SR (TID 1500) referencing the T2 series.

    Parameters
    ----------
    case : CaseFindings
    t2 : Volume
        The T2 volume read from DICOM (``meta.source_paths`` are re-read for their headers).
    path : path-like
        Usually ``report_sr.dcm``.
    source_datasets : sequence of pydicom.Dataset, optional
        The T2 headers, if already in memory.
    **kwargs
        Passed to `build_dicom_sr`.

    Returns
    -------
    Path
    """
    datasets = list(source_datasets) if source_datasets is not None else read_source_datasets(t2)
    sr = build_dicom_sr(case, datasets, **kwargs)
    with atomic_path(path) as tmp:
        sr.save_as(tmp, enforce_file_format=True)
    return Path(path)
