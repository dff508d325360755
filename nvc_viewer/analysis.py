"""The automatic analysis of one case: segmentation, REZ landmarks, compression findings.

Public entry points::

    from nvc_viewer.analysis import analyse, refine
    result = analyse(t2, tof)                 # Volumes (TOF optional)
    result.labels                             # uint8 label map on the T2 grid (docs/design.md, 3)
    result.findings, result.landmarks         # nvc_viewer.findings objects, origin "auto"
    result = refine(result, t2, tof, seed_ras=(x, y, z), kind="nerve")   # surgeon's click

The machine proposes, the surgeon decides: every finding starts as ``"auto"`` and carries its
evidence (``result.evidence[finding.id]``: measured gap, radii, sequences that show it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from .compression import POSSIBLE_ONLY, CompressionSettings, ContactFinding, find_contacts
from .errors import AnalysisError, InvalidVolumeError
from .findings import (
    CaseFindings,
    Finding,
    Flags,
    Landmark,
    LandmarkNerve,
    NerveIdentification,
    Side,
    flags_from_findings,
    new_finding_id,
    source_from_volumes,
)
from .forked import side_by_side
from .labels import ARTERY, VEIN
from .segment.crop import Box
from .segment.landmarks import landmarks_of
from .segment.nerves import NerveTrack
from .segment.pipeline import Stages, align_tof, build_scene, labels_of, run_stages
from .segment.roots import nerve_voxels
from .segment.scene import Scene
from .segment.vessels import VesselMasks, segment_vessels
from .volume import Volume

__all__ = ["AnalysisResult", "analyse", "refine"]

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


@dataclass
class AnalysisResult:
    """Everything the automatic analysis found in one case.

    Attributes
    ----------
    labels : Volume
        uint8 label map on the T2 grid (0 background, 1 brainstem, 2 CSF, 3 VII, 4 VIII, 5 V,
        6 artery, 7 vein).
    centrelines : dict of str to (N, 3) ndarray
        Nerve centrelines in patient RAS mm, keyed ``"VII_left"``, ``"VIII_right"``,
        ``"V_left"``..., ordered from the brainstem outward.
    landmarks : list of Landmark
        RExP, RDP and TZ of VII (and V) per side, origin ``"auto"``.
    findings : list of Finding
        Proposed neurovascular contacts, origin ``"auto"``.
    flags : Flags
        Multiple offenders, sandwich, vertebral-artery tortuosity.
    timings_s : dict of str to float
        Seconds per stage.
    evidence : dict of str to dict
        Per finding id: the measurements behind it (surface gap and radii in mm, indentation
        ratio, displacement, which sequences show the vessel, and the nerve's identification
        when its name is uncertain).
    info : dict
        Diagnostics (TOF alignment).
    identification : list of NerveIdentification
        Per side and nerve: identified or not, with a confidence and the reason.
    warnings : list of str
        Case-level warnings in plain language: nerves not identified or uncertain, what the
        analysis had to do without (e.g. no internal auditory meatus in the field of view).
    """

    labels: Volume
    centrelines: dict[str, np.ndarray]
    landmarks: list[Landmark]
    findings: list[Finding]
    flags: Flags
    timings_s: dict[str, float]
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    identification: list[NerveIdentification] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _scene: Scene | None = field(default=None, repr=False, compare=False)
    _vessels: VesselMasks | None = field(default=None, repr=False, compare=False)

    def to_case_findings(
        self,
        case_id: str,
        *,
        t2: Volume | None = None,
        tof: Volume | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> CaseFindings:
        """The case's findings document (docs/design.md, section 4) from this result.

        ``source`` defaults to the one `nvc_viewer.findings.source_from_volumes` builds from
        ``t2`` (and ``tof``); volumes that are neither DICOM nor NIfTI (a phantom) are recorded
        as NIfTI.
        """
        if source is None:
            vols = [v for v in (t2, tof) if v is not None]
            if not vols:
                source = {"kind": "nifti", "series": []}
            elif vols[0].meta.kind in ("dicom", "nifti"):
                source = source_from_volumes(vols)
            else:
                source = {
                    "kind": "nifti",
                    "series": [
                        {
                            "role": v.meta.role if v.meta.role != "label" else "other",
                            "uid_sha256": None,
                        }
                        for v in vols
                    ],
                }
        return CaseFindings(
            case_id=case_id,
            source=source,
            landmarks=tuple(self.landmarks),
            findings=tuple(self.findings),
            flags=self.flags,
            identification=tuple(self.identification),
            warnings=tuple(self.warnings),
        )


def _to_finding(c: ContactFinding) -> Finding:
    return Finding(
        id=new_finding_id(),
        side=c.side,  # type: ignore[arg-type]
        nerve=c.nerve,  # type: ignore[arg-type]
        vessel=c.vessel,  # type: ignore[arg-type]
        vessel_kind=c.vessel_kind,  # type: ignore[arg-type]
        segment=c.segment,  # type: ignore[arg-type]
        grade=c.grade,  # type: ignore[arg-type]
        position_ras=c.position_ras,
        distance_from_brainstem_mm=c.distance_from_brainstem_mm,
        vessel_diameter_mm=c.vessel_diameter_mm if c.vessel_diameter_mm else None,
        crossing_angle_deg=c.crossing_angle_deg,
        confidence=c.confidence,
        origin="auto",
        rationale=c.note,
    )


def _findings_stage(
    scene: Scene,
    vm: VesselMasks,
    settings: CompressionSettings,
    nerves: Sequence[str] | None,
    *,
    fork: bool = False,
) -> tuple[list[Landmark], list[ContactFinding]]:
    """Landmarks and contacts of both sides (left, then right); with ``fork`` the right
    side's in a child process beside the left's (`nvc_viewer.forked.side_by_side`)."""
    landmarks: list[Landmark] = []
    contacts: list[ContactFinding] = []
    # the nerve masks `find_contacts` reads for every nerve of the scene (cached on the
    # tracks), made once for both sides
    for track in scene.nerves.values():
        for pad_mm in (0.15, 0.45):
            nerve_voxels(track, scene.shape, scene.spacing, pad_mm=pad_mm)
    sides: tuple[Side, Side] = ("left", "right")
    calls = [partial(_findings_on_side, scene, vm, settings, nerves, side) for side in sides]
    for side_landmarks, side_contacts in side_by_side(calls, "nvc-contacts", fork=fork):
        landmarks += side_landmarks
        contacts += side_contacts
    return landmarks, contacts


def _findings_on_side(
    scene: Scene,
    vm: VesselMasks,
    settings: CompressionSettings,
    nerves: Sequence[str] | None,
    side: Side,
) -> tuple[list[Landmark], list[ContactFinding]]:
    landmarks: list[Landmark] = []
    contacts: list[ContactFinding] = []
    costs = scene.costs
    iam = costs.iam if costs is not None else None
    vii = scene.nerves.get(f"VII_{side}")
    v = scene.nerves.get(f"V_{side}")
    sulcus_z = float(scene.to_ras(vii.points[0])[2]) if vii is not None else None
    v_z = float(scene.to_ras(v.points[0])[2]) if v is not None else None
    rooted: tuple[tuple[NerveTrack | None, LandmarkNerve], ...] = ((vii, "VII"), (v, "V"))
    for track, nerve in rooted:
        if track is None:
            continue
        for lp in landmarks_of(scene, track):
            landmarks.append(Landmark(lp.name, side, nerve, lp.position_ras, "auto"))
    for name in ("VII", "VIII", "V"):
        track = scene.nerves.get(f"{name}_{side}")
        if track is None or (nerves is not None and track.key not in nerves):
            continue
        porus = None
        if iam is not None and name in ("VII", "VIII"):
            idx = np.clip(np.rint(track.points).astype(int), 0, np.array(scene.shape) - 1)
            inside = np.nonzero(iam[tuple(idx.T)])[0]
            inside = inside[inside > track.i_rdp]
            porus = int(inside[0]) if inside.size else None
        contacts += find_contacts(
            scene,
            track,
            vm,
            settings=settings,
            porus_index=porus,
            sulcus_z_ras=sulcus_z,
            v_root_z_ras=v_z,
        )
    return landmarks, contacts


def _va_tortuosity(scene: Scene, vm: VesselMasks, threshold_mm: float = 3.0) -> bool:
    """Whether a vertebral artery bows laterally more than ``threshold_mm`` from its chord."""
    large = vm.large
    if not large.any():
        return False
    sp = scene.spacing
    pts = scene.to_ras(np.argwhere(large))
    mid = scene.frame.midline_x(pts[:, 2])
    for sign in (-1.0, 1.0):
        sel = (pts[:, 0] - mid) * sign > 2.0
        if sel.sum() * np.prod(sp) < 20.0:
            continue
        p = pts[sel]
        zs = np.round(p[:, 2] / 1.0)
        xs = np.array([np.mean(p[zs == z, 0]) for z in np.unique(zs)])
        zz = np.unique(zs)
        if len(zz) < 6:
            continue
        chord = np.interp(zz, [zz[0], zz[-1]], [xs[0], xs[-1]])
        if np.max(np.abs(xs - chord)) > threshold_mm:
            return True
    return False


def _result(
    scene: Scene,
    vm: VesselMasks,
    stages: Stages,
    t2: Volume,
    settings: CompressionSettings,
    previous: AnalysisResult | None = None,
    nerves: Sequence[str] | None = None,
    fork: bool = False,
) -> AnalysisResult:
    stages.start("findings", "Landmarks and contacts")
    landmarks, contacts = _findings_stage(scene, vm, settings, nerves, fork=fork)
    if previous is not None and nerves is not None:
        contacts = [c for c in contacts if f"{c.nerve}_{c.side}" in nerves]
    identification = _identification(scene, previous, nerves)
    named: dict[tuple[str, str], NerveIdentification] = {
        (i.side, i.nerve): i for i in identification
    }
    findings = []
    evidence: dict[str, dict[str, Any]] = {}
    for c in contacts:
        ident = named.get((c.side, c.nerve))
        if ident is not None and ident.uncertain:
            c = replace(
                c,
                note=f"{c.nerve} named with low confidence ({ident.reason}); {c.note}",
                evidence={**c.evidence, "nerve_identification": ident.to_dict()},
            )
            partner = {"VII": "VIII", "VIII": "VII"}.get(c.nerve)
            if partner is not None:
                # Its partner root was not found beside it: the name is unconfirmed (a vessel
                # followed out to the porus is named so too), and a dark tube there that the
                # TOF does not show may be that partner root, not a vessel. Or the two roots
                # contradict VII's and VIII's relations: the names are in doubt.
                lost = not named.get((c.side, partner), ident).found
                if not lost:
                    why = "possible only while the names of VII and VIII are in doubt"
                elif vm.kind_known and "TOF" not in c.evidence["sequences"]:
                    why = f"the vessel does not show on the TOF and may be the {partner} beside it"
                else:
                    why = f"possible only until a {partner} beside it confirms the root's name"
                c = replace(c, confidence=min(c.confidence, POSSIBLE_ONLY), note=f"{c.note}; {why}")
        f = _to_finding(c)
        findings.append(f)
        evidence[f.id] = dict(c.evidence)
    if previous is not None and nerves is not None:
        # findings of the re-traced nerves are redone inside the box only
        def in_box(f: Finding) -> bool:
            ijk = scene.to_ijk(np.asarray(f.position_ras))
            return bool(np.all((ijk >= 0) & (ijk <= np.asarray(scene.shape) - 1)))

        findings = [f for f in findings if in_box(f)]
        keep = [
            f for f in previous.findings if f"{f.nerve}_{f.side}" not in nerves or not in_box(f)
        ]
        findings = keep + findings
        evidence = {**{f.id: previous.evidence.get(f.id, {}) for f in keep}, **evidence}
    flags = flags_from_findings(findings, landmarks, va_tortuosity=_va_tortuosity(scene, vm))
    stages.finish("findings")
    stages.start("labels", "Label map")
    labels = labels_of(scene, vm, t2.shape)
    if previous is not None:
        # outside the refined box the previous labels stand
        full = previous.labels.data.copy()
        full[scene.box.slices] = labels[scene.box.slices]
        labels = full
    stages.finish("labels")
    centrelines = {k: scene.to_ras(t.points) for k, t in scene.nerves.items()}
    if previous is not None:
        centrelines = {**previous.centrelines, **centrelines}
    info: dict[str, Any] = {}
    if scene.tof_ncc is not None:
        info["tof_ncc"] = scene.tof_ncc
    warnings = list(scene.warnings)
    if previous is not None:
        warnings = [
            w
            for w in previous.warnings
            if not any(w.startswith(f"{i.side} {i.nerve} ") for i in identification)
        ]
    warnings += [i.warning for i in identification if i.warning is not None]
    info["tof_motion_ras"] = np.asarray(scene.tof_motion).round(6).tolist()
    if stages.progress is not None:
        stages.progress(1.0, "Done")
    return AnalysisResult(
        labels=Volume(labels, t2.affine, replace(t2.meta, role="label", kind="derived")),
        centrelines=centrelines,
        landmarks=landmarks,
        findings=findings,
        flags=flags,
        timings_s=dict(stages.timings_s),
        evidence=evidence,
        info=info,
        identification=identification,
        warnings=list(dict.fromkeys(warnings)),
        _scene=scene,
        _vessels=vm,
    )


def _identification(
    scene: Scene, previous: AnalysisResult | None, nerves: Sequence[str] | None
) -> list[NerveIdentification]:
    """The scene's identifications; after a re-trace, the previous ones with the re-traced
    nerves marked as placed through the surgeon's click."""
    if previous is None or nerves is None:
        return list(scene.identification)
    out = []
    for i in previous.identification:
        if f"{i.nerve}_{i.side}" in nerves:
            i = NerveIdentification(
                i.side, i.nerve, True, 0.9, "traced through the surgeon's click"
            )
        out.append(i)
    return out


def analyse(
    t2: Volume,
    tof: Volume | None = None,
    *,
    seeds: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    settings: CompressionSettings | None = None,
    labels: Volume | None = None,
    fork: bool = False,
) -> AnalysisResult:
    """Segment the cerebellopontine angles, mark the REZ and propose compression findings.

    Parameters
    ----------
    t2 : Volume
        Heavy-T2 (CISS/FIESTA-like) reference; the result lives on its grid.
    tof : Volume, optional
        TOF angiogram on its own grid (resampled and aligned internally); without it arteries
        and veins are told apart by calibre only and vessel kinds are "unknown".
    seeds : mapping, optional
        ``{"brainstem": (x, y, z)}`` RAS mm: a point inside the brainstem, if the automatic
        localisation fails (e.g. a field of view far off-centre).
    progress : callable, optional
        ``progress(fraction, message)``, called between stages (fraction 0..1).
    cancel : callable, optional
        ``cancel() -> bool``, polled between stages; when true the analysis stops with
        `nvc_viewer.errors.AnalysisCancelled`.
    settings : CompressionSettings, optional
        Contact thresholds (default `CompressionSettings()`).
    labels : Volume, optional
        A label map on the T2 grid (docs/design.md, section 3) corrected by the surgeon, e.g. with
        napari's brush. Its artery (6) and vein (7) voxels replace the machine's vessels in
        contact detection -- an erased false vessel proposes nothing, a painted missed one is
        measured against the nerves -- and it is returned as ``result.labels`` unchanged. Nerve
        centrelines and landmarks are still traced on the image.
    fork : bool
        Use a second core for the work done once per side: the facial pair's tracking and
        the contact search run for the right side in a child process forked for it, beside
        the left side's here (where the platform forks and this process may have children;
        else one after the other). The result is the same. Each process then pays again for
        the memory it writes, so it is worth it only when a core is idle (the batch's one local
        worker, `nvc_viewer.batch`, asks for it when the load average says so).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    InvalidVolumeError
        If an input is not a usable volume (NaN, not 3-D), or ``labels`` is not on the T2 grid.
    AnalysisError
        If no brainstem can be found in the T2.
    AnalysisCancelled
        If ``cancel()`` returned true.
    """
    settings = settings or CompressionSettings()
    if labels is not None:
        _check_on_grid(labels, t2)
    t0 = time.perf_counter()
    scene, vm, stages = run_stages(
        t2, tof, seeds=seeds, progress=progress, cancel=cancel, fork=fork
    )
    if labels is not None:
        vm = _vessels_from_labels(scene, vm, labels)
    result = _result(scene, vm, stages, t2, settings, fork=fork)
    if labels is not None:
        result.labels = labels
    result.timings_s["total"] = round(time.perf_counter() - t0, 4)
    return result


def _check_on_grid(labels: Volume, t2: Volume) -> None:
    if labels.shape != t2.shape or not np.allclose(labels.affine, t2.affine, atol=1e-4):
        raise InvalidVolumeError(
            f"labels: a corrected label map must lie on the T2 grid (shape {t2.shape} and the "
            f"T2's affine); got shape {labels.shape}"
            + ("" if labels.shape != t2.shape else " with another affine")
        )


def _vessels_from_labels(scene: Scene, vm: VesselMasks, labels: Volume) -> VesselMasks:
    """The machine's vessel masks of the crop, overruled by the surgeon's artery/vein voxels."""
    crop = np.asarray(labels.data[scene.box.slices])
    artery, vein = crop == ARTERY, crop == VEIN
    vessel = artery | vein
    # a painted vessel has no Hessian scale: its radius is its half-width in the painted mask
    painted_radius = ndimage.distance_transform_edt(vessel, sampling=scene.spacing)
    radius = np.where(vm.radius_mm > 0, vm.radius_mm, painted_radius).astype(np.float32)
    radius[~vessel] = 0
    return replace(
        vm,
        artery=artery,
        vein=vein,
        large=vm.large & artery,
        tof_bright=vm.tof_bright & vessel,
        radius_mm=radius,
    )


def refine(
    result: AnalysisResult,
    t2: Volume,
    tof: Volume | None,
    seed_ras: Sequence[float] | np.ndarray,
    kind: Literal["nerve", "vessel"] = "nerve",
    *,
    half_size_mm: float = 10.0,
    settings: CompressionSettings | None = None,
) -> AnalysisResult:
    """Re-run the analysis in a small box around a surgeon's click.

    Parameters
    ----------
    result : AnalysisResult
        The analysis to correct (from `analyse` on the same volumes).
    t2, tof : Volume
        The case's volumes.
    seed_ras : (3,) array_like
        The click, patient RAS mm.
    kind : {"nerve", "vessel"}
        What the surgeon says is there: a nerve the analysis missed or misplaced (it is traced
        through the click), or a vessel (the dark tube at the click becomes a vessel, taken from
        any nerve that claimed it).
    half_size_mm : float
        Half size of the box re-analysed.
    settings : CompressionSettings, optional

    Returns
    -------
    AnalysisResult
        Labels change only inside the box; findings of the nerves passing through it are
        recomputed; everything else is kept.
    """
    from .segment.refine import refine_scene

    settings = settings or CompressionSettings()
    seed = np.asarray(seed_ras, dtype=np.float64)
    if seed.shape != (3,) or not np.all(np.isfinite(seed)):
        raise InvalidVolumeError(f"seed_ras must be 3 finite numbers (RAS mm), got {seed_ras!r}")
    if kind not in ("nerve", "vessel"):
        raise AnalysisError(f"kind must be 'nerve' or 'vessel', got {kind!r}")
    t0 = time.perf_counter()
    prev = result._scene
    ijk = np.linalg.solve(t2.affine[:3, :3], seed - t2.affine[:3, 3])
    if np.any(ijk < -0.5) or np.any(ijk > np.asarray(t2.shape) - 0.5):
        raise AnalysisError(f"the click {seed.round(1).tolist()} is outside the T2 volume")
    box = Box.around(ijk, half_size_mm, t2.spacing_mm, t2.shape)
    stages = Stages()
    scene = build_scene(
        t2,
        box=box,
        ref=None if prev is None else prev.ref,
        frame=None if prev is None else prev.frame,
        stages=stages,
    )
    stages.start("tof", "Aligning the TOF angiogram")
    if tof is not None:
        align_tof(scene, tof, motion=None if prev is None else prev.tof_motion)
    stages.finish("tof")
    stages.start("nerves", "Tracing through the click")
    changed, forced = refine_scene(scene, prev, result, seed, kind)
    stages.finish("nerves")
    stages.start("vessels", "Vessels")
    vm = segment_vessels(scene)
    if forced is not None:
        vm.artery |= forced & ~vm.vein
    stages.finish("vessels")
    out = _result(scene, vm, stages, t2, settings, previous=result, nerves=changed)
    # landmarks of nerves that were not re-traced stay as they were
    kept = [lm for lm in result.landmarks if f"{lm.nerve}_{lm.side}" not in changed]
    out.landmarks = kept + [lm for lm in out.landmarks if f"{lm.nerve}_{lm.side}" in changed]
    out.timings_s["total"] = round(time.perf_counter() - t0, 4)
    return out
