"""A synthetic cerebellopontine-angle (CPA) phantom with ground truth: CISS-like T2, TOF, labels.

Design note
-----------
`make_phantom` draws a random but anatomically plausible CPA (docs/anatomy.md):
pons and medulla with the pontomedullary sulcus, cisterns, cerebellum, clivus, petrous bones with
the internal auditory meatus; the facial (VII), vestibulocochlear (VIII) and trigeminal (V) roots
of both sides; basilar, vertebral, AICA, PICA and SCA arteries and small veins. One of
`SCENARIOS` fixes the relation between the facial nerve and its vessels (no contact, sub-voxel
gap, contact, indentation, displacement, sandwich, two offenders, contact on the asymptomatic
side, distal cisternal contact). Everything is deterministic from ``seed``; scenario and side
are independent of it (the base anatomy of a seed is the same for every scenario).

The images are rendered with analytic partial volume (sub-voxel sampling where a surface passes
through a voxel, see `._render`), with CISS contrast (CSF 1.0, brainstem 0.35-0.5, nerves
0.2-0.3, vessels 0.1-0.3 with heterogeneity), a smooth coil shading, optional banding and CSF
flow voids, and Rician noise at the asked CSF SNR. The TOF is rendered on its own grid (coarser
voxels by default) after a small rigid patient motion (1-2 degrees, 0.5-1 mm), so that its
affine alone does not align it with the T2: arteries bright, veins and CSF dark, some small
arteries missing.

Ground truth is measured on the final geometry: the label map on the T2 grid (docs/design.md,
section 3), a findings document (docs/design.md, section 4) with the true findings and the
RExP/RDP/TZ landmarks, centrelines and radii of every nerve and vessel in patient RAS mm, and
``params`` with the measured gaps, indentation ratio, displacement, misregistration and
appearance.

Factors that a robustness benchmark varies one at a time or together (``benchmarks/robustness.py``)
are keyword arguments whose defaults keep the default output bit for bit: the T2 and TOF
contrasts (``t2_contrast``, ``tof_contrast``), the coil shading's depth (``bias_field``), the size
of the TOF misregistration, whether the slab reaches the trigeminal root (``include_v``), nerve
and vessel calibres and how far their courses bow (``nerve_scale``, ``vessel_scale``,
``course_mm``), and the other cranial nerves near the CPA (``lower_nerves``: IX, X and VI,
drawn and rendered like the roots the analysis looks for, but in no label: truth label 0, their
centrelines and radii in the truth; `lower_nerve_mask` gives their voxels).
``params["factors"]`` records those that differ from their defaults.

Coordinates: patient RAS mm. ``distance_from_brainstem_mm`` of a finding is the arclength along
the nerve centreline from the RDP: negative on the attached segment (between RExP and RDP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..anatomy import segment_name
from ..volume import Volume, VolumeMeta
from ._anatomy import (
    CLEARANCE_MM,
    LOWER_NERVES,
    ORIGIN_RAS,
    V_TZ_MM,
    VII_TZ_MM,
    Anatomy,
    PhantomBuildError,
    Variation,
    build_anatomy,
    measure_contact,
    min_gap,
    other_side,
)
from ._appearance import (
    DEFAULT_BIAS,
    T2_CONTRAST_KEYS,
    TOF_CONTRAST_KEYS,
    Appearance,
    make_appearance,
)
from ._render import render
from ._write import PHANTOM_PATIENT, write_case

__all__ = [
    "SCENARIOS",
    "SNR_PRESETS",
    "LOWER_NERVES",
    "lower_nerve_mask",
    "Phantom",
    "make_phantom",
    "write_case",
    "PHANTOM_PATIENT",
    "ORIGIN_RAS",
    "PhantomBuildError",
]

SCENARIOS = (
    "no_contact",
    "subvoxel_gap",
    "contact",
    "indentation",
    "displacement",
    "sandwich",
    "two_offenders",
    "asymptomatic_contact",
    "distal_cisternal",
)

#: CSF signal-to-noise presets: 3 T heavy-T2 (15-40 measured) and a low-SNR 1.5 T one.
SNR_PRESETS = {"3T": 25.0, "1.5T": 10.0}

#: Fixed timestamp of truth findings, so that written cases are reproducible byte for byte.
TRUTH_TIMESTAMP = "2000-01-01T00:00:00+00:00"

#: Default field of view (mm) when ``shape`` is None: the CPA of both sides.
DEFAULT_FOV_MM = (64.0, 64.0, 40.0)
#: Grid centre in the phantom's local frame (mm): midline, between the VII and V levels.
_GRID_CENTRE_LOCAL = np.array([0.0, 1.0, 3.0])
#: Largest TOF misregistration (mm) accepted as a number.
_MAX_MISREGISTRATION_MM = 10.0


@dataclass(frozen=True)
class Phantom:
    """A synthetic CPA case with its ground truth.

    Attributes
    ----------
    t2 : Volume
        CISS-like heavy-T2, role ``"t2"``, float32 (CSF about 1.0).
    tof : Volume
        TOF angiogram, role ``"tof"``, float32 (arteries about 1.0), on its own grid, with a
        small rigid misregistration against ``t2`` (``params["tof_motion"]``).
    labels : Volume
        uint8 truth label map on the T2 grid, in the values of the label table
        (`nvc_viewer.labels`: 1 brainstem, 2 cisternal CSF, 3 VII, 4 VIII, 5 V, 6 artery, 7 vein).
    truth : dict
        Findings document (schema ``nvc-viewer/findings`` version 1): true findings, landmarks
        RExP/RDP/TZ of VII and V on both sides, flags and clinical side.
    centrelines : dict of str to (N, 3) ndarray
        Patient RAS mm, for every nerve (``"VII_left"``, ``"VIII_right"``, ``"V_left"``) and
        vessel (``"BA"``, ``"VA_left"``, ``"AICA_left"``, ``"PICA_left"``, ``"SCA_left"``,
        ``"vein_sp_left"``, ``"vein_tp_left"`` ...), in the T2's anatomy.
    radii : dict of str to (N,) ndarray
        Radius in mm along each centreline.
    scenario, side : str
        ``side`` is the symptomatic side.
    seed : int
    params : dict
        JSON-ready measured truth and settings (see `make_phantom`).
    """

    t2: Volume
    tof: Volume
    labels: Volume
    truth: dict
    centrelines: dict[str, np.ndarray]
    radii: dict[str, np.ndarray]
    scenario: str
    side: str
    seed: int
    params: dict


def _check_args(scenario, side, shape, spacing_mm, snr, supersample, oblique_deg, seed):
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=np.float64), (3,)).copy()
    if np.any(~np.isfinite(spacing)) or np.any(spacing < 0.1) or np.any(spacing > 3.0):
        raise ValueError(f"spacing_mm must be 0.1-3 mm per axis, got {spacing_mm!r}")
    if shape is not None:
        shape = tuple(int(n) for n in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be three positive sizes, got {shape!r}")
    if isinstance(snr, str):
        if snr not in SNR_PRESETS:
            raise ValueError(f"snr must be a number or one of {tuple(SNR_PRESETS)}, got {snr!r}")
        snr = SNR_PRESETS[snr]
    snr = float("inf") if snr is None else float(snr)
    if not snr > 0:
        raise ValueError(f"snr must be positive, got {snr!r}")
    if int(supersample) < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample!r}")
    oblique = np.broadcast_to(np.asarray(oblique_deg, dtype=np.float64), (2,)).copy()
    if np.any(np.abs(oblique) > 45.0):
        raise ValueError(f"oblique_deg must be within +-45 degrees, got {oblique_deg!r}")
    return spacing, shape, snr, oblique


def _check_contrast(name: str, value, keys: tuple[str, ...]) -> dict[str, float]:
    if value is None:
        return {}
    if not hasattr(value, "items"):
        raise ValueError(f"{name} must be a mapping of {keys} to levels, got {value!r}")
    out = {}
    for key, level in value.items():
        if key not in keys:
            raise ValueError(f"{name}: unknown key {key!r}; known: {keys}")
        try:
            level = float(level)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{key!r}] must be a number, got {level!r}") from None
        if not (0.0 <= level <= 2.0):
            raise ValueError(f"{name}[{key!r}] must be 0-2 (relative levels), got {level!r}")
        out[key] = level
    return out


def _check_factors(
    t2_contrast, tof_contrast, bias_field, tof_misregistration, include_v, variation
) -> tuple[dict, dict, float, bool | float]:
    t2_set = _check_contrast("t2_contrast", t2_contrast, T2_CONTRAST_KEYS)
    tof_set = _check_contrast("tof_contrast", tof_contrast, TOF_CONTRAST_KEYS)
    if not isinstance(bias_field, int | float | np.number) or not 0.0 <= bias_field <= 0.5:
        raise ValueError(f"bias_field must be an RMS depth of 0-0.5, got {bias_field!r}")
    misreg = tof_misregistration
    if not isinstance(misreg, bool | np.bool_):
        if not isinstance(misreg, int | float | np.number) or not (
            0.0 <= misreg <= _MAX_MISREGISTRATION_MM
        ):
            raise ValueError(
                "tof_misregistration must be True, False or a shift of "
                f"0-{_MAX_MISREGISTRATION_MM:g} mm, got {tof_misregistration!r}"
            )
        misreg = float(misreg)
    else:
        misreg = bool(misreg)
    if not isinstance(include_v, bool | np.bool_):
        raise ValueError(f"include_v must be True or False, got {include_v!r}")
    for name, low, high in (("nerve_scale", 0.5, 2.0), ("vessel_scale", 0.5, 2.0)):
        v = getattr(variation, name)
        if not isinstance(v, int | float | np.number) or not low <= v <= high:
            raise ValueError(f"{name} must be {low}-{high}, got {v!r}")
    c = variation.course_mm
    if not isinstance(c, int | float | np.number) or not 0.0 <= c <= 4.0:
        raise ValueError(f"course_mm must be 0-4 mm, got {c!r}")
    return t2_set, tof_set, float(bias_field), misreg


def _rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def grid_affine(
    shape: tuple[int, int, int],
    spacing_mm: np.ndarray,
    centre_ras: np.ndarray,
    oblique_deg: np.ndarray | None = None,
) -> np.ndarray:
    """Voxel -> RAS affine of an axial scanner grid (``i`` to the left, ``j`` posterior, ``k``
    superior, as a DICOM axial series) centred on ``centre_ras`` and tilted by ``oblique_deg``
    (about the R-L axis, then the A-P axis)."""
    base = np.diag([-1.0, -1.0, 1.0])
    oblique_deg = np.zeros(2) if oblique_deg is None else np.asarray(oblique_deg, dtype=float)
    x_axis, y_axis = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    tilt = _rotation(y_axis, oblique_deg[1]) @ _rotation(x_axis, oblique_deg[0])
    linear = tilt @ base @ np.diag(spacing_mm)
    centre_index = (np.asarray(shape, dtype=np.float64) - 1.0) / 2.0
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = np.asarray(centre_ras, dtype=np.float64) - linear @ centre_index
    return affine


def make_phantom(
    scenario: str = "contact",
    *,
    side: str = "left",
    seed: int = 0,
    shape: tuple[int, int, int] | None = (160, 160, 64),
    spacing_mm: tuple[float, float, float] | float = (0.5, 0.5, 0.5),
    snr: float | str | None = 25.0,
    supersample: int = 8,
    banding: bool = False,
    flow_voids: bool = False,
    oblique_deg: tuple[float, float] = (0.0, 0.0),
    tof_misregistration: bool | float = True,
    tof_spacing_mm: tuple[float, float, float] | float | None = None,
    fov_mm: tuple[float, float, float] = DEFAULT_FOV_MM,
    threads: int = 2,
    t2_contrast: dict[str, float] | None = None,
    tof_contrast: dict[str, float] | None = None,
    bias_field: float = DEFAULT_BIAS,
    include_v: bool = True,
    nerve_scale: float = 1.0,
    vessel_scale: float = 1.0,
    course_mm: float = 0.0,
    lower_nerves: bool = False,
) -> Phantom:
    """Make a synthetic CPA case (CISS-like T2 + TOF) with its ground truth.

    Parameters
    ----------
    scenario : str
        One of `SCENARIOS`: the relation of the facial nerve to its vessels.
    side : {"left", "right"}
        The symptomatic side (the relation is on it, except for ``"asymptomatic_contact"``).
    seed : int
        Everything random follows from it (numpy ``Generator`` streams).
    shape : (I, J, K) or None
        T2 grid size; ``i`` runs to the patient's left, ``j`` posterior, ``k`` superior. None: the
        ``fov_mm`` box at ``spacing_mm``.
    spacing_mm : float or (3,) floats
        T2 voxel size in mm (0.3-0.8 is typical; anisotropic allowed).
    snr : float, {"3T", "1.5T"} or None
        CSF signal over the noise standard deviation of each complex channel (Rician noise);
        None or ``inf`` for no noise.
    supersample : int
        Sub-samples per axis in voxels a surface passes through (>= 8 for accurate partial
        volume).
    banding : bool
        Dark off-resonance bands across the T2.
    flow_voids : bool
        CSF pulsation flow voids (dark blobs in the cisterns of the T2, absent on the TOF).
    oblique_deg : (2,) floats
        Tilt of the acquisition about the R-L axis and the A-P axis (T2 and TOF).
    tof_misregistration : bool or float
        True: move the anatomy of the TOF by a small random rigid motion (1-2 degrees, 0.5-1
        mm). A number ``x`` (0-10): a shift of exactly ``x`` mm in a random direction with a
        rotation of ``x`` degrees about the centre of the default grid (0: none, like False).
    tof_spacing_mm : float or (3,) floats, optional
        TOF voxel size; default 1.2 times the T2's.
    fov_mm : (3,) floats
        Field of view when ``shape`` is None.
    threads : int
        Rendering threads.
    t2_contrast : dict of str to float, optional
        T2 levels relative to CSF (1.0) instead of the drawn CISS ones: ``"brainstem"``
        (drawn 0.38-0.48), ``"tissue"`` (cerebrum and cerebellum, 0.35-0.44), ``"nerve"`` (every
        root, 0.2-0.3), ``"artery"`` (every artery, 0.08-0.3) and ``"vein"`` (0.15-0.3); each
        0-2. Textures and the flow variation along vessels are kept. E.g. ``{"brainstem": 0.25}``
        gives a CSF:brainstem ratio of 4:1; an ``"artery"`` above ``"nerve"`` gives vessels
        brighter than nerves (some bSSFP flavours).
    tof_contrast : dict of str to float, optional
        TOF levels instead of the drawn ones: ``"artery"`` (a large fast artery, drawn
        0.85-1.05; smaller arteries keep their drawn fraction of it), ``"background"`` (brain,
        brainstem and cerebellum, 0.22-0.3; nerves 0.9 of it), ``"csf"`` (0.05-0.09), ``"vein"``
        (0.08-0.14); each 0-2.
    bias_field : float
        RMS depth (0-0.5) of the smooth multiplicative coil shading (wavelengths 120-300 mm) of
        the T2 and the TOF; the pattern is the same for every depth.
    include_v : bool
        False: the T2 slab (and the TOF with it) is moved along its slice normal until its last
        slice lies below the trigeminal roots (a slab centred on the internal auditory meatus):
        no label 5 in it. The TOF keeps its offset to the T2.
    nerve_scale, vessel_scale : float
        Multiply every nerve's / vessel's radius (0.5-2; the anatomy is built around the new
        calibres).
    course_mm : float
        Extra bowing (0-4 mm) of the cisternal courses of VII/VIII and V, and extra swing of the
        AICA, PICA and SCA loops away from the brainstem and the nerves.
    lower_nerves : bool
        True: also the glossopharyngeal (IX), vagus (X) and abducens (VI) roots of both sides
        (docs/anatomy.md). IX (0.9-1.1 mm thick) and X (a band of rootlets, 1.5-1.9 mm) leave
        the post-olivary sulcus 2-6 mm below the facial root exit and run laterally, forward
        and down to the jugular foramen, where they join; VI (0.6-0.9 mm) leaves the
        pontomedullary sulcus medial of VII (5-8 mm from the midline in a real brainstem; in the
        phantom's narrower one 0.55-0.75 of VII's exit distance, at least 3 mm) and runs up in
        front of the pons through the prepontine cistern into the clivus. Dark on the T2 and
        grey on the TOF like the other roots, kept clear of the vessels (the vessels are routed
        around them) and of V/VII/VIII, and written into the truth label map as background
        (0): the label table has no value for them. Their centrelines and radii are in
        ``centrelines`` / ``radii`` (``"IX_left"``, ``"X_right"``, ``"VI_left"`` ...) and
        ``params["lower_nerves"]`` describes them. Their shapes and looks come from random
        streams of their own: the rest of the base anatomy and of the look is that of the seed
        without them (the vessels may take other courses around them; in rare cases the
        scenario needs another base anatomy).

    Returns
    -------
    Phantom
        ``params`` holds (JSON-ready): ``relations`` (per intended relation: vessel, side,
        grade, recorded, measured ``gap_mm``, ``distance_from_rdp_mm``, ``segment``,
        ``indentation_ratio``, ``shift_mm``, ``crossing_angle_deg``), the primary relation's
        ``gap_mm`` / ``indentation_ratio`` / ``shift_mm``, ``contact_side``, ``min_gap_mm``
        (nerve -> vessel -> smallest surface gap, for pairs within 5 mm), ``nerve_radius_mm``,
        ``vessel_radius_mm``, ``tof_motion`` (4x4 RAS: TOF anatomy = motion @ T2 anatomy),
        ``tof_rotation_deg``, ``tof_translation_mm``, ``tof_dropped`` (arteries invisible on the
        TOF), ``noise_sigma``, intensities and the settings; ``factors`` (only when one of
        ``t2_contrast`` ... ``course_mm`` or a numeric ``tof_misregistration`` is given) the
        factors that differ from their defaults, and with ``include_v=False`` the slab's shift
        ``slab_shift_mm``.

    Raises
    ------
    ValueError
        For an unknown scenario or side, or out-of-range sizes or factors (the message names
        the argument).
    """
    spacing, shape, snr_value, oblique = _check_args(
        scenario, side, shape, spacing_mm, snr, supersample, oblique_deg, seed
    )
    variation = Variation(nerve_scale=nerve_scale, vessel_scale=vessel_scale, course_mm=course_mm)
    t2_set, tof_set, bias, misreg = _check_factors(
        t2_contrast, tof_contrast, bias_field, tof_misregistration, include_v, variation
    )
    if not isinstance(lower_nerves, bool | np.bool_):
        raise ValueError(f"lower_nerves must be True or False, got {lower_nerves!r}")
    lower_nerves = bool(lower_nerves)
    factors: dict[str, Any] = {}
    if t2_set:
        factors["t2_contrast"] = t2_set
    if tof_set:
        factors["tof_contrast"] = tof_set
    if bias != DEFAULT_BIAS:
        factors["bias_field"] = bias
    if not isinstance(misreg, bool):
        factors["tof_misregistration_mm"] = misreg
    if not include_v:
        factors["include_v"] = False
    for key, value, default in (
        ("nerve_scale", nerve_scale, 1.0),
        ("vessel_scale", vessel_scale, 1.0),
        ("course_mm", course_mm, 0.0),
    ):
        if value != default:
            factors[key] = float(value)
    if lower_nerves:
        factors["lower_nerves"] = True
    seed = int(seed)
    anatomy = build_anatomy(
        scenario,
        side,
        seed,
        variation if variation != Variation() else None,
        lower_nerves=lower_nerves,
    )
    streams = np.random.SeedSequence([seed, 7]).spawn(4)
    rng_app, rng_motion, rng_noise_t2, rng_noise_tof = (np.random.default_rng(s) for s in streams)

    # --- grids ------------------------------------------------------------------------------
    if shape is None:
        ni, nj, nk = (max(int(round(f / s)), 1) for f, s in zip(fov_mm, spacing))
        shape = (ni, nj, nk)
    centre_ras = ORIGIN_RAS + _GRID_CENTRE_LOCAL
    t2_affine = grid_affine(shape, spacing, centre_ras, oblique)
    slab_shift = 0.0
    if not include_v:
        slab_shift = _below_trigeminal(anatomy, t2_affine, shape, spacing)
        normal = t2_affine[:3, 2] / np.linalg.norm(t2_affine[:3, 2])
        centre_ras = centre_ras - slab_shift * normal
        t2_affine = grid_affine(shape, spacing, centre_ras, oblique)
        factors["slab_shift_mm"] = round(slab_shift, 4)
    tof_spacing = (
        spacing * 1.2
        if tof_spacing_mm is None
        else np.broadcast_to(np.asarray(tof_spacing_mm, dtype=np.float64), (3,)).copy()
    )
    extent = np.asarray(shape) * spacing
    ti, tj, tk = (max(int(np.ceil(e / s)), 1) for e, s in zip(extent, tof_spacing))
    tof_shape = (ti, tj, tk)
    tof_affine = grid_affine(tof_shape, tof_spacing, centre_ras + [0.0, 0.0, 1.0], oblique)
    motion = np.eye(4)
    rot_deg = shift = 0.0
    if misreg:
        axis = rng_motion.normal(size=3)
        rot_deg = float(rng_motion.uniform(1.0, 2.0)) * float(rng_motion.choice([-1.0, 1.0]))
        direction = rng_motion.normal(size=3)
        shift = float(rng_motion.uniform(0.5, 1.0))
        if not isinstance(misreg, bool):  # the asked size: x mm and x degrees
            rot_deg, shift = float(np.copysign(misreg, rot_deg)), misreg
        r = _rotation(axis, rot_deg)
        pivot = ORIGIN_RAS + _GRID_CENTRE_LOCAL
        motion[:3, :3] = r
        motion[:3, 3] = pivot - r @ pivot + shift * direction / np.linalg.norm(direction)
    ras_to_local = np.eye(4)
    ras_to_local[:3, 3] = -ORIGIN_RAS

    # --- appearance and rendering -------------------------------------------------------------
    look: Appearance = make_appearance(
        anatomy,
        rng_app,
        banding=banding,
        flow_voids=flow_voids,
        t2_contrast=t2_set,
        tof_contrast=tof_set,
        bias_field=bias,
        lower_rng=(
            np.random.default_rng(np.random.SeedSequence([seed, 7, 1])) if lower_nerves else None
        ),
    )
    t2_to_local = ras_to_local @ t2_affine
    tof_to_local = ras_to_local @ np.linalg.inv(motion) @ tof_affine
    t2_data, label_data = render(
        look.structures,
        look.t2_textures,
        shape,
        t2_to_local,
        supersample=supersample,
        labels=True,
        threads=threads,
    )
    assert label_data is not None  # asked for: labels=True
    t2_data *= look.t2_modulate(t2_to_local, shape)
    tof_data, _ = render(
        look.structures,
        look.tof_textures,
        tof_shape,
        tof_to_local,
        supersample=supersample,
        labels=False,
        threads=threads,
    )
    tof_data *= look.tof_modulate(tof_to_local, tof_shape)
    sigma = 0.0 if not np.isfinite(snr_value) else 1.0 / snr_value
    if sigma > 0:
        t2_data = _rician(t2_data, sigma, rng_noise_t2)
        tof_data = _rician(tof_data, sigma, rng_noise_tof)

    # --- truth --------------------------------------------------------------------------------
    truth, relations = _truth(anatomy, scenario, side, seed)
    centrelines, radii = _centrelines(anatomy)
    params = _params(
        anatomy,
        relations,
        scenario,
        side,
        look,
        spacing=spacing,
        tof_spacing=tof_spacing,
        snr=snr_value,
        sigma=sigma,
        supersample=supersample,
        banding=banding,
        flow_voids=flow_voids,
        oblique=oblique,
        motion=motion,
        rot_deg=rot_deg,
        shift=shift,
    )
    if factors:
        params["factors"] = factors
    if lower_nerves:
        params["lower_nerves"] = _lower_params(anatomy)
    iso = bool(np.allclose(spacing, spacing[0]))
    t2_name = f"t2_ciss3d_{spacing[0]:.1f}iso" if iso else "t2_ciss3d"
    t2 = Volume(
        t2_data,
        t2_affine,
        VolumeMeta(
            kind="phantom", role="t2", modality="MR", description=t2_name, sequence="*ci3d1"
        ),
    )
    tof = Volume(
        tof_data,
        tof_affine,
        VolumeMeta(
            kind="phantom",
            role="tof",
            modality="MR",
            description="tof_3d_multi-slab",
            sequence="*fl3d1r_t70",
        ),
    )
    labels = Volume(
        label_data,
        t2_affine,
        VolumeMeta(kind="phantom", role="label", description="labels_truth"),
    )
    return Phantom(t2, tof, labels, truth, centrelines, radii, scenario, side, seed, params)


def _below_trigeminal(
    anatomy: Anatomy, affine: np.ndarray, shape: tuple[int, int, int], spacing: np.ndarray
) -> float:
    """How far (mm, >= 0) to move a grid along its slice normal (towards the feet) so that
    its last slice lies at least a voxel below every trigeminal root (radius included)."""
    inv = np.linalg.inv(affine)
    lowest = np.inf
    for key, nerve in anatomy.nerves.items():
        if not key.startswith("V_"):
            continue
        ijk = _to_ras(nerve.points) @ inv[:3, :3].T + inv[:3, 3]
        lowest = min(lowest, float(np.min(ijk[:, 2] - nerve.radii / spacing[2])))
    need = (shape[2] - 1) + 1.0 - lowest  # slices the top must drop
    return max(need, 0.0) * float(spacing[2])


def _lower_params(anatomy: Anatomy) -> dict[str, dict[str, Any]]:
    """What ``params["lower_nerves"]`` records of each optional nerve (patient RAS mm)."""
    out: dict[str, dict[str, Any]] = {}
    for key, nerve in anatomy.nerves.items():
        if nerve.name not in LOWER_NERVES:
            continue
        n7 = anatomy.nerves[f"VII_{nerve.side}"]
        exit_pt = nerve.points[nerve.marks["RExP"]]
        end = nerve.points[nerve.marks["porus"]]
        out[key] = {
            "nerve": nerve.name,
            "side": nerve.side,
            "label": 0,
            "radius_mm": round(nerve.radius0, 4),
            "exit_ras": _round(_to_ras(exit_pt)),
            "end_ras": _round(_to_ras(end)),
            "end": "clivus" if nerve.name == "VI" else "jugular foramen",
            "exit_below_vii_rexp_mm": round(float(n7.points[n7.marks["RExP"], 2] - exit_pt[2]), 3),
            "cisternal_length_mm": round(nerve.s_of("porus") - nerve.s_of("RExP"), 3),
        }
    return out


def lower_nerve_mask(phantom: Any) -> np.ndarray:
    """The T2 voxels whose centre lies inside IX, X or VI (a phantom made with
    ``lower_nerves=True``; all False otherwise).

    Parameters
    ----------
    phantom : Phantom
        Or any object with its ``labels`` (or ``t2``) volume, ``centrelines`` and ``radii``.

    Returns
    -------
    (I, J, K) bool ndarray
        On the grid of ``phantom.labels``: where the truth has label 0 but a nerve root lies.
    """
    from scipy.spatial import cKDTree

    from ._shapes import resample_polyline

    grid = phantom.labels if getattr(phantom, "labels", None) is not None else phantom.t2
    shape = grid.data.shape
    mask = np.zeros(shape, dtype=bool)
    inv = np.linalg.inv(grid.affine)
    for key, line in phantom.centrelines.items():
        if key.split("_")[0] not in LOWER_NERVES:
            continue
        radii = np.asarray(phantom.radii[key], dtype=np.float64)
        pts, r, _ = resample_polyline(np.asarray(line, dtype=np.float64), radii, 0.05)
        ijk = pts @ inv[:3, :3].T + inv[:3, 3]
        pad = float(r.max()) / float(np.min(np.linalg.norm(grid.affine[:3, :3], axis=0))) + 1
        lo = np.clip(np.floor(ijk.min(axis=0) - pad), 0, shape).astype(int)
        hi = np.clip(np.ceil(ijk.max(axis=0) + pad) + 1, 0, shape).astype(int)
        if np.any(hi <= lo):
            continue
        idx = np.stack(
            np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi)), indexing="ij"), axis=-1
        ).reshape(-1, 3)
        centres = idx @ grid.affine[:3, :3].T + grid.affine[:3, 3]
        dist, near = cKDTree(pts).query(centres, distance_upper_bound=float(r.max()) + 1e-6)
        ok = near < len(pts)
        inside = np.zeros(len(idx), dtype=bool)
        inside[ok] = dist[ok] <= r[near[ok]]
        hit = idx[inside]
        mask[hit[:, 0], hit[:, 1], hit[:, 2]] = True
    return mask


def _rician(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the image plus complex Gaussian noise of ``sigma`` per channel."""
    real = rng.standard_normal(image.shape, dtype=np.float32)
    real *= np.float32(sigma)
    real += image
    imag = rng.standard_normal(image.shape, dtype=np.float32)
    imag *= np.float32(sigma)
    return np.hypot(real, imag)


def _to_ras(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, dtype=np.float64) + ORIGIN_RAS


def _round(values, nd: int = 4):
    return [round(float(v), nd) for v in np.ravel(values)]


def _truth(anatomy: Anatomy, scenario: str, side: str, seed: int) -> tuple[dict, list[dict]]:
    """The findings document and the measured relations."""
    findings: list[dict] = []
    relations = []
    for c in anatomy.contacts:
        nerve = anatomy.nerves[f"VII_{c.side}"]
        vessel = anatomy.vessels[c.vessel_key]
        m = measure_contact(nerve, vessel, c.s_nerve)
        s_rdp = nerve.s_of("RDP")
        d = m.s_nerve - s_rdp
        # the truth is named with the analysis' own segment boundaries
        segment = segment_name(d, VII_TZ_MM, nerve.s_of("porus") - s_rdp)
        position = _to_ras(0.5 * (m.nerve_point + m.vessel_point))
        rel = {
            "kind": c.kind,
            "side": c.side,
            "nerve": "VII",
            "vessel": c.vessel,
            "vessel_key": c.vessel_key,
            "grade": c.grade,
            "recorded": c.record,
            "gap_mm": round(m.gap_mm, 4),
            "distance_from_rdp_mm": round(d, 3),
            "segment": segment,
            "position_ras": _round(position),
            "direction_ras": _round(m.direction),
            "crossing_angle_deg": round(m.crossing_angle_deg, 2),
            "vessel_diameter_mm": round(m.vessel_diameter_mm, 3),
            "indentation_ratio": (
                round(1.0 - float(nerve.radii.min()) / nerve.radius0, 4)
                if c.grade == "indentation"
                else 0.0
            ),
            "shift_mm": round(c.shift, 4) if c.grade == "displacement" else 0.0,
        }
        if c.undisplaced is not None:
            rel["undisplaced_position_ras"] = _round(_to_ras(c.undisplaced))
        relations.append(rel)
        if not c.record:
            continue
        note = f"phantom {scenario}: measured surface gap {m.gap_mm:+.2f} mm"
        if c.grade == "indentation":
            note += f", nerve radius reduced {100 * rel['indentation_ratio']:.0f}%"
        if c.grade == "displacement":
            note += f", centreline shifted {c.shift:.2f} mm"
        findings.append(
            {
                "id": f"truth-{len(findings) + 1}",
                "side": c.side,
                "nerve": "VII",
                "vessel": c.vessel,
                "vessel_kind": anatomy.vessels[c.vessel_key].kind,
                "segment": segment,
                "grade": c.grade,
                "position_ras": rel["position_ras"],
                "distance_from_brainstem_mm": round(d, 3),
                "vessel_diameter_mm": rel["vessel_diameter_mm"],
                "crossing_angle_deg": rel["crossing_angle_deg"],
                "confidence": 1.0,
                "origin": "manual",
                "author": "phantom",
                "created": TRUTH_TIMESTAMP,
                "modified": TRUTH_TIMESTAMP,
                "note": note,
            }
        )
    landmarks = []
    for nerve_name, tz in (("VII", VII_TZ_MM), ("V", V_TZ_MM)):
        for s in ("left", "right"):
            nerve = anatomy.nerves[f"{nerve_name}_{s}"]
            s_rdp = nerve.s_of("RDP")
            for name, index in (
                ("RExP", nerve.marks["RExP"]),
                ("RDP", nerve.marks["RDP"]),
                ("TZ", nerve.index_at(s_rdp + tz)),
            ):
                landmarks.append(
                    {
                        "name": name,
                        "side": s,
                        "nerve": nerve_name,
                        "position_ras": _round(_to_ras(nerve.points[index])),
                        "origin": "manual",
                    }
                )
    graded = [f for f in findings if f["grade"] != "none"]
    per_nerve: dict[tuple[str, str], int] = {}
    for f in graded:
        per_nerve[(f["side"], f["nerve"])] = per_nerve.get((f["side"], f["nerve"]), 0) + 1
    offenders = [r for r in relations if r["recorded"] and r["grade"] != "none"]
    sandwich = any(
        a["side"] == b["side"] and np.dot(a["direction_ras"], b["direction_ras"]) < -0.5
        for i, a in enumerate(offenders)
        for b in offenders[i + 1 :]
    )
    tort = anatomy.info.get("va_tortuosity_mm", {})
    truth = {
        "schema": "nvc-viewer/findings",
        "schema_version": 1,
        "case_id": f"phantom-{scenario}-{side}-{seed}",
        "source": {
            "kind": "nifti",
            "series": [{"role": "t2", "uid_sha256": None}, {"role": "tof", "uid_sha256": None}],
        },
        "coordinate_system": "RAS",
        "units": "mm",
        "landmarks": landmarks,
        "findings": findings,
        "flags": {
            "multiple_offenders": any(n >= 2 for n in per_nerve.values()),
            "sandwich": bool(sandwich),
            "va_tortuosity": bool(max(tort.values(), default=0.0) >= 3.0),
        },
        "clinical": {
            "condition": "hemifacial_spasm",
            "symptomatic_side": side,
            "emg_lateral_spread_response": None,
            "note": "synthetic phantom",
        },
    }
    return truth, relations


def _centrelines(anatomy: Anatomy) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    lines: dict[str, np.ndarray] = {}
    radii: dict[str, np.ndarray] = {}
    for key, nerve in anatomy.nerves.items():
        lines[key] = _to_ras(nerve.points)
        radii[key] = np.asarray(nerve.radii, dtype=np.float64).copy()
    for key, vessel in anatomy.vessels.items():
        lines[key] = _to_ras(vessel.points)
        radii[key] = np.full(len(vessel.points), vessel.radius)
    return lines, radii


def _params(anatomy: Anatomy, relations, scenario, side, look, **settings) -> dict[str, Any]:
    primary = next((r for r in relations if r["kind"] == "offender"), None)
    if primary is None:
        primary = relations[0] if relations else None
    contact_side = other_side(side) if scenario == "asymptomatic_contact" else side
    gaps: dict[str, dict[str, float]] = {}
    for nkey, nerve in anatomy.nerves.items():
        for vkey, vessel in anatomy.vessels.items():
            g = min_gap(nerve, vessel)
            if g < 5.0:
                gaps.setdefault(nkey, {})[vkey] = round(g, 4)
    motion = settings["motion"]
    return {
        "scenario": scenario,
        "side": side,
        "contact_side": contact_side,
        "relations": relations,
        "gap_mm": primary["gap_mm"] if primary else None,
        "indentation_ratio": primary["indentation_ratio"] if primary else 0.0,
        "shift_mm": primary["shift_mm"] if primary else 0.0,
        "min_gap_mm": gaps,
        "clearance_mm": CLEARANCE_MM,
        "nerve_radius_mm": {k: round(n.radius0, 4) for k, n in anatomy.nerves.items()},
        "vessel_radius_mm": {k: round(v.radius, 4) for k, v in anatomy.vessels.items()},
        "vessel_kind": {k: v.kind for k, v in anatomy.vessels.items()},
        "landmark_tz_mm": {"VII": VII_TZ_MM, "V": V_TZ_MM},
        "va_tortuosity_mm": {
            k: round(v, 3) for k, v in anatomy.info.get("va_tortuosity_mm", {}).items()
        },
        "origin_ras": _round(ORIGIN_RAS),
        "tof_motion": [_round(row, 6) for row in motion],
        "tof_rotation_deg": round(settings["rot_deg"], 4),
        "tof_translation_mm": round(settings["shift"], 4),
        "tof_dropped": sorted(look.dropped),
        "intensities_t2": {k: round(v, 4) for k, v in look.t2_levels.items()},
        "intensities_tof": {k: round(v, 4) for k, v in look.tof_levels.items()},
        "snr": None if not np.isfinite(settings["snr"]) else settings["snr"],
        "noise_sigma": round(settings["sigma"], 6),
        "spacing_mm": _round(settings["spacing"]),
        "tof_spacing_mm": _round(settings["tof_spacing"]),
        "supersample": int(settings["supersample"]),
        "banding": bool(settings["banding"]),
        "flow_voids": bool(settings["flow_voids"]),
        "oblique_deg": _round(settings["oblique"]),
    }
