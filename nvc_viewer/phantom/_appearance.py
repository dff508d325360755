"""How the phantom looks on CISS and TOF: the scene's solids, their intensities and artefacts.

Intensities (docs/anatomy.md; *assumed*): CISS -- CSF 1.0, brainstem 0.35-0.5, nerves 0.2-0.3,
vessels 0.1-0.3 varying along their length (large fast arteries darkest), bone and air dark,
cerebellum grey with bright CSF between the folia; TOF -- arteries about 1.0 (less where they run
in the slab plane), tissue 0.2-0.3, CSF, veins and bone dark, scalp fat bright, and some arteries
under 1.6 mm missing altogether.

`make_appearance` can be asked for other contrasts (``t2_contrast``, ``tof_contrast``: levels
relative to CSF = 1.0 on the T2, to a fast large artery on the TOF) and another coil shading
(``bias_field``); every random draw is made as for the defaults, so that the scene and its
textures are those of the default look, only their levels or the shading's depth replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..labels import ARTERY, BACKGROUND, BRAINSTEM, CSF, NERVE_LABELS, VEIN
from ._anatomy import LOWER_NERVES, ORIGIN_RAS, SIDES, Anatomy
from ._render import Structure
from ._shapes import Ellipsoid, Tube

Texture = Callable[[np.ndarray], np.ndarray]

#: Head of the phantom, patient RAS: centre and intracranial semi-axes (mm).
_HEAD_CENTRE_RAS = np.array([0.0, -15.0, 0.0])
_HEAD_RADII = np.array([68.0, 92.0, 82.0])
_SKULL_MM = 6.0
_SCALP_MM = 5.0

#: Keys of ``t2_contrast`` and ``tof_contrast`` (see `make_appearance`).
T2_CONTRAST_KEYS = ("brainstem", "tissue", "nerve", "artery", "vein")
TOF_CONTRAST_KEYS = ("artery", "background", "csf", "vein")
#: RMS depth of the default coil shading (T2 and TOF).
DEFAULT_BIAS = 0.05
#: Nominal brightness of a large fast artery on the TOF (the middle of its 0.85-1.05 draw).
_TOF_ARTERY_NOMINAL = 0.95


@dataclass
class Appearance:
    structures: list[Structure]
    t2_textures: list[Texture]
    tof_textures: list[Texture]
    t2_modulate: Callable[[np.ndarray, tuple[int, int, int]], np.ndarray]
    tof_modulate: Callable[[np.ndarray, tuple[int, int, int]], np.ndarray]
    dropped: list[str] = field(default_factory=list)
    t2_levels: dict[str, float] = field(default_factory=dict)
    tof_levels: dict[str, float] = field(default_factory=dict)


class _Waves:
    """A smooth random field: a sum of plane waves, ``amplitude`` times a unit-RMS pattern."""

    def __init__(
        self, rng: np.random.Generator, n: int, wavelength: tuple[float, float], amplitude: float
    ) -> None:
        directions = rng.normal(size=(n, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        lengths = rng.uniform(*wavelength, size=n)
        self.k = (2 * np.pi * directions / lengths[:, None]).astype(np.float32)
        self.phase = rng.uniform(0, 2 * np.pi, size=n).astype(np.float32)
        self.scale = np.float32(amplitude * np.sqrt(2.0 / n))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return np.cos(points @ self.k.T + self.phase) @ np.full(
            len(self.phase), self.scale, dtype=np.float32
        )

    def grid(self, vox_to_local: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
        """The field on a whole voxel grid ``(I, J, K)``, float32.

        A plane wave is separable along the grid axes (``exp(i k.p)`` is a product of one
        factor per axis), so this costs a few complex products per voxel instead of cosines.
        """
        a = np.asarray(vox_to_local, dtype=np.float64)
        out = np.zeros(shape, dtype=np.float32)
        ii, jj, kk = (np.arange(n, dtype=np.float64) for n in shape)
        for k_vec, phase in zip(self.k.astype(np.float64), self.phase.astype(np.float64)):
            along = k_vec @ a[:3, :3]
            offset = k_vec @ a[:3, 3] + phase
            fi = np.exp(1j * along[0] * ii).astype(np.complex64)
            fj = np.exp(1j * along[1] * jj).astype(np.complex64)
            fk = np.exp(1j * (along[2] * kk + offset)).astype(np.complex64)
            ij = fi[:, None] * fj[None, :]
            for k0 in range(0, shape[2], 16):
                out[:, :, k0 : k0 + 16] += np.real(ij[:, :, None] * fk[None, None, k0 : k0 + 16])
        out *= self.scale
        return out


def _constant(value: float) -> Texture:
    v = np.float32(value)

    def tex(points: np.ndarray) -> np.ndarray:
        return np.full(len(points), v, dtype=np.float32)

    tex.value = float(v)  # type: ignore[attr-defined]  # lets the renderer use a look-up table
    return tex


def _textured(value: float, waves: _Waves, low: float = 0.0) -> Texture:
    v = np.float32(value)

    def tex(points: np.ndarray) -> np.ndarray:
        return np.maximum(v + waves(points), np.float32(low))

    return tex


def make_appearance(
    anatomy: Anatomy,
    rng: np.random.Generator,
    *,
    banding: bool,
    flow_voids: bool,
    t2_contrast: Mapping[str, float] | None = None,
    tof_contrast: Mapping[str, float] | None = None,
    bias_field: float = DEFAULT_BIAS,
    lower_rng: np.random.Generator | None = None,
) -> Appearance:
    """The ordered solids (lowest priority first) and their CISS and TOF textures.

    ``t2_contrast`` replaces drawn T2 levels (CSF = 1.0): ``brainstem``; ``tissue`` (cerebrum
    and cerebellum); ``nerve`` (every root); ``artery`` and ``vein`` (every vessel of the kind;
    the flow variation along the vessel is kept). ``tof_contrast`` replaces TOF levels:
    ``artery`` (a large fast artery; smaller ones keep their drawn fraction of it),
    ``background`` (brain, brainstem, cerebellum; nerves 0.9 of it), ``csf``, ``vein``.
    ``bias_field`` is the RMS depth of the smooth multiplicative coil shading of both images.
    The optional nerves IX, X and VI (when the anatomy has them) look like the other roots
    (``nerve`` levels, dark on the T2, grey on the TOF) but carry label 0; their levels and
    textures are drawn from ``lower_rng`` (required then), so that every other draw is as
    without them.
    """
    t2_set = dict(t2_contrast or {})
    tof_set = dict(tof_contrast or {})
    u = rng.uniform
    structures: list[Structure] = []
    t2: list[Texture] = []
    tof: list[Texture] = []
    t2_levels: dict[str, float] = {}
    tof_levels: dict[str, float] = {}

    def add(st: Structure, t2_tex: Texture, tof_tex: Texture) -> None:
        structures.append(st)
        t2.append(t2_tex)
        tof.append(tof_tex)

    head_local = _HEAD_CENTRE_RAS - ORIGIN_RAS
    scalp = Ellipsoid(head_local, _HEAD_RADII + _SKULL_MM + _SCALP_MM)
    skull = Ellipsoid(head_local, _HEAD_RADII + _SKULL_MM)
    brain = Ellipsoid(head_local, _HEAD_RADII)
    fine = _Waves(rng, 6, (4.0, 12.0), 0.02)
    t2_levels.update(
        scalp=u(0.4, 0.5),
        brain=u(0.35, 0.42),
        csf=1.0,
        brainstem=u(0.38, 0.48),
        cerebellum=u(0.36, 0.44),
        bone=0.03,
        clivus=u(0.1, 0.15),
    )
    tof_levels.update(
        scalp=u(0.5, 0.65),
        brain=u(0.22, 0.28),
        csf=u(0.05, 0.09),
        brainstem=u(0.22, 0.3),
        cerebellum=u(0.22, 0.28),
        bone=0.04,
        clivus=u(0.3, 0.45),
        nerve=u(0.2, 0.26),
        vein=u(0.08, 0.14),
    )
    if "brainstem" in t2_set:
        t2_levels["brainstem"] = float(t2_set["brainstem"])
    if "tissue" in t2_set:
        t2_levels["brain"] = t2_levels["cerebellum"] = float(t2_set["tissue"])
    if "background" in tof_set:
        bg = float(tof_set["background"])
        tof_levels.update(brain=bg, brainstem=bg, cerebellum=bg, nerve=0.9 * bg)
    for key in ("csf", "vein"):
        if key in tof_set:
            tof_levels[key] = float(tof_set[key])
    # the head outside the posterior fossa is context: flat tissue, shaded by the coil field
    add(
        Structure("scalp", scalp, 0, smooth=True),
        _constant(t2_levels["scalp"]),
        _constant(tof_levels["scalp"]),
    )
    add(
        Structure("skull", skull, 0, smooth=True),
        _constant(t2_levels["bone"]),
        _constant(tof_levels["bone"]),
    )
    add(
        Structure("brain", brain, 0, smooth=True),
        _constant(t2_levels["brain"]),
        _constant(tof_levels["brain"]),
    )

    csf_t2 = _csf_texture(anatomy, rng, flow_voids)
    csf_domain = Ellipsoid([0.0, -4.0, 5.0], [37.0, 33.0, 32.0])
    add(Structure("csf", csf_domain, CSF, smooth=True), csf_t2, _constant(tof_levels["csf"]))
    for side in SIDES:
        cb = anatomy.solids[f"cerebellum_{side}"]
        assert isinstance(cb, Ellipsoid)
        add(
            Structure(f"cerebellum_{side}", cb, 0, smooth=True),
            _folia(cb, t2_levels["cerebellum"], rng),
            _textured(tof_levels["cerebellum"], fine),
        )
    add(
        Structure("brainstem", anatomy.brainstem, BRAINSTEM),
        _textured(t2_levels["brainstem"], _Waves(rng, 6, (5.0, 15.0), 0.025)),
        _textured(tof_levels["brainstem"], fine),
    )
    add(
        Structure("fourth_ventricle", anatomy.solids["fourth_ventricle"], 0),
        csf_t2,
        _constant(tof_levels["csf"]),
    )
    add(
        Structure("clivus", anatomy.solids["clivus"], 0, smooth=True),
        _textured(t2_levels["clivus"], fine),
        _textured(tof_levels["clivus"], fine),
    )
    for side in SIDES:
        add(
            Structure(f"petrous_{side}", anatomy.solids[f"petrous_{side}"], 0, smooth=True),
            _constant(t2_levels["bone"]),
            _constant(tof_levels["bone"]),
        )
    for side in SIDES:
        add(
            Structure(f"iam_{side}", anatomy.solids[f"iam_{side}"], CSF),
            csf_t2,
            _constant(tof_levels["csf"]),
        )
    for name in ("V", "VIII", "VII"):
        for side in SIDES:
            nerve = anatomy.nerves[f"{name}_{side}"]
            level = u(0.2, 0.3)
            if "nerve" in t2_set:
                level = float(t2_set["nerve"])
            t2_levels[nerve.key] = level
            add(
                Structure(nerve.key, nerve.tube(), NERVE_LABELS[name]),
                _textured(level, _Waves(rng, 4, (2.0, 6.0), 0.012)),
                _constant(tof_levels["nerve"]),
            )
    lower = [n for n in anatomy.nerves.values() if n.name in LOWER_NERVES]
    if lower:
        if lower_rng is None:
            raise ValueError("lower_rng is needed for an anatomy with IX, X and VI")
        for nerve in lower:
            level = float(lower_rng.uniform(0.2, 0.3))
            if "nerve" in t2_set:
                level = float(t2_set["nerve"])
            t2_levels[nerve.key] = level
            add(
                Structure(nerve.key, nerve.tube(), BACKGROUND),  # not in the label table
                _textured(level, _Waves(lower_rng, 4, (2.0, 6.0), 0.012)),
                _constant(tof_levels["nerve"]),
            )
    dropped: list[str] = []
    veins = [v for v in anatomy.vessels.values() if v.kind == "vein"]
    arteries = [v for v in anatomy.vessels.values() if v.kind == "artery"]
    for vessel in veins + arteries:
        tube = vessel.tube()
        if vessel.kind == "vein":
            level = u(0.15, 0.3)
            if "vein" in t2_set:
                level = float(t2_set["vein"])
            tof_tex = _constant(tof_levels["vein"])
            tof_levels[vessel.key] = tof_levels["vein"]
        else:
            # large fast arteries lose most signal on CISS; small ones keep more
            level = u(0.08, 0.15) if vessel.radius > 1.2 else u(0.12, 0.3)
            brightness = u(0.85, 1.05) if vessel.radius > 1.2 else u(0.6, 0.95)
            if "artery" in t2_set:
                level = float(t2_set["artery"])
            if "artery" in tof_set:
                brightness *= float(tof_set["artery"]) / _TOF_ARTERY_NOMINAL
            if vessel.radius < 0.8 and rng.uniform() < 0.35:
                dropped.append(vessel.key)
                brightness = 0.0
            tof_levels[vessel.key] = brightness
            tof_tex = (
                _flow_texture(tube, brightness)
                if brightness > 0
                else _constant(tof_levels["brainstem"])
            )
        t2_levels[vessel.key] = level
        label = VEIN if vessel.kind == "vein" else ARTERY
        ceiling = 0.35 if not t2_set else max(0.35, level + 0.1)
        add(
            Structure(vessel.key, tube, label),
            _vessel_t2(tube, level, rng, ceiling),
            tof_tex,
        )

    t2_bias = _Waves(rng, 4, (120.0, 300.0), DEFAULT_BIAS)
    tof_bias = _Waves(rng, 4, (120.0, 300.0), DEFAULT_BIAS)
    reshade = bias_field != DEFAULT_BIAS
    if reshade:  # the same smooth pattern, deeper or shallower
        for waves in (t2_bias, tof_bias):
            waves.scale = np.float32(waves.scale * (bias_field / DEFAULT_BIAS))
    bands = _Banding(rng) if banding else None

    def shading(waves: _Waves, vox_to_local: np.ndarray, shape) -> np.ndarray:
        field = 1.0 + waves.grid(vox_to_local, shape)
        if reshade:  # a deep shading never turns the image negative
            np.maximum(field, np.float32(0.1), out=field)
        return field

    def t2_modulate(vox_to_local: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
        field = shading(t2_bias, vox_to_local, shape)
        if bands is not None:
            field *= bands.grid(vox_to_local, shape)
        return field

    def tof_modulate(vox_to_local: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
        return shading(tof_bias, vox_to_local, shape)

    return Appearance(
        structures, t2, tof, t2_modulate, tof_modulate, dropped, t2_levels, tof_levels
    )


def _folia(cb: Ellipsoid, level: float, rng: np.random.Generator) -> Texture:
    """Cerebellar cortex: grey, with thin bright CSF lines between the folia (shells about the
    hemisphere's core, wavy)."""
    centre = (cb.centre + rng.normal(scale=2.0, size=3)).astype(np.float32)
    wavelength = np.float32(rng.uniform(2.2, 3.2))
    wobble = _Waves(rng, 5, (6.0, 14.0), 0.5)
    v = np.float32(level)

    def tex(points: np.ndarray) -> np.ndarray:
        d = points - centre
        r = np.sqrt(np.einsum("ij,ij->i", d, d)) + wobble(points)
        line = np.cos(np.float32(2 * np.pi) * r / wavelength)
        return v + np.float32(0.35) * np.maximum(line, 0) ** 8

    return tex


def _vessel_t2(
    tube: Tube, level: float, rng: np.random.Generator, ceiling: float = 0.35
) -> Texture:
    """CISS vessel signal: dark (by default), varying along the vessel (flow), heterogeneous;
    kept within 0.05-``ceiling``."""
    lam = rng.uniform(4.0, 10.0)
    phase = rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.03, 0.07)
    along = (level + amp * np.sin(2 * np.pi * tube.arclength / lam + phase)).astype(np.float32)
    along = np.clip(along, 0.05, ceiling)

    def tex(points: np.ndarray) -> np.ndarray:
        _, idx = tube.nearest(points)
        return along[np.minimum(idx, len(along) - 1)]

    return tex


def _flow_texture(tube: Tube, brightness: float) -> Texture:
    """TOF arterial signal: bright where blood flows into the slab, saturated where in-plane."""
    through = np.abs(tube.tangents[:, 2])
    decay = np.exp(-tube.arclength / 80.0)
    along = (brightness * (0.6 + 0.4 * through) * (0.8 + 0.2 * decay)).astype(np.float32)

    def tex(points: np.ndarray) -> np.ndarray:
        _, idx = tube.nearest(points)
        return along[np.minimum(idx, len(along) - 1)]

    return tex


def _csf_texture(anatomy: Anatomy, rng: np.random.Generator, flow_voids: bool) -> Texture:
    """CSF: 1.0 (the coil field shades it), with optional pulsation flow voids -- dark blobs
    in the prepontine and CPA cisterns."""
    if not flow_voids:
        return _constant(1.0)
    pts: list[np.ndarray] = []
    while len(pts) < int(rng.integers(3, 7)):
        side = rng.choice([-1.0, 1.0])
        p = np.array(
            [side * rng.uniform(0.0, 18.0), rng.uniform(-2.0, 16.0), rng.uniform(-8.0, 18.0)]
        )
        if anatomy.brainstem.sdf(p[None])[0] > 1.0:
            pts.append(p)
    centres = np.array(pts, dtype=np.float32)
    widths = rng.uniform(0.8, 2.0, size=len(pts)).astype(np.float32)
    depths = rng.uniform(0.35, 0.7, size=len(pts)).astype(np.float32)

    def tex(points: np.ndarray) -> np.ndarray:
        out = np.ones(len(points), dtype=np.float32)
        for c, w, dep in zip(centres, widths, depths):
            near = np.flatnonzero(np.all(np.abs(points - c) < 4 * w, axis=1))
            if len(near):
                d = points[near] - c
                out[near] *= 1.0 - dep * np.exp(-np.einsum("ij,ij->i", d, d) / (2 * w * w))
        return out

    return tex


class _Banding:
    """Residual off-resonance bands: dark where a smooth phase field crosses odd multiples of
    pi."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.phase = _Waves(rng, 3, (50.0, 110.0), rng.uniform(2.5, 4.0) * np.pi)
        self.depth = np.float32(rng.uniform(0.6, 0.85))
        self.width = np.float32(rng.uniform(0.15, 0.3))

    def grid(self, vox_to_local: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
        phase = self.phase.grid(vox_to_local, shape)
        wrapped = np.mod(phase, np.float32(2 * np.pi)) - np.float32(np.pi)  # 0 at odd pi
        return np.float32(1.0) - self.depth * np.exp(-(wrapped**2) / (2 * self.width**2))
