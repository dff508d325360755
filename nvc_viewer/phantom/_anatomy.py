"""Random cerebellopontine-angle anatomy with known nerve-vessel relations.

Design note
-----------
Everything here is in the phantom's *local* frame: RAS axes in mm with the origin on the
brainstem axis at the height of the pontomedullary sulcus (``ORIGIN_RAS`` in patient space).
``sigma`` is +1 on the patient's right (RAS +x), -1 on the left.

The anatomy is built in three steps, each from its own random stream so that the base anatomy of
a seed is the same whatever the scenario:

1. base: brainstem (medullary column + pontine ellipsoid joined with a rounded sulcus), cerebellar
   hemispheres, fourth ventricle, clivus, petrous bones with the internal auditory meatus (IAM),
   and the nerve roots VII, VIII and V of both sides;
2. scenario: the intended nerve-vessel relations (`Contact`): which vessel touches which point of
   the facial nerve, from which direction, at what crossing angle, with what gap; indentation
   narrows the nerve there, displacement bends its centreline away;
3. vessels (basilar, vertebral, AICA, PICA, SCA, veins) routed through waypoints by cubic
   splines, every intended contact put in as a short straight piece at the right place, then
   moved until the measured gap is the intended one. A vessel that comes within
   `CLEARANCE_MM` of a nerve anywhere else, runs through the brainstem or into bone, is drawn
   again.

Ground truth is then *measured* on the final tubes (`measure_contact`), never copied from the
intentions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ._shapes import (
    Ellipsoid,
    HalfSpace,
    Intersection,
    ProfileColumn,
    Shape,
    Tube,
    resample_polyline,
    smooth_curve,
)

#: Patient RAS position (mm) of the local origin: brainstem axis, pontomedullary sulcus level.
ORIGIN_RAS = np.array([0.0, -28.0, -40.0])
#: VII: transition zone this far (mm) along the nerve from the root detachment point
#: (docs/anatomy.md).
VII_TZ_MM = 2.6
#: V: central-myelin length (mm) from the root exit to the transition zone (*assumed*).
V_TZ_MM = 2.0
#: Smallest nerve-vessel surface gap (mm) allowed where no relation is intended.
CLEARANCE_MM = 0.5
#: Target surface gap (mm) of a "contact": a hair of overlap, so no CSF between the surfaces.
CONTACT_GAP_MM = -0.03
GAP_TOLERANCE_MM = 0.02

SIDES = ("left", "right")


class PhantomBuildError(RuntimeError):
    """The random geometry could not satisfy its constraints (an internal error)."""


def sigma_of(side: str) -> float:
    return -1.0 if side == "left" else 1.0


def other_side(side: str) -> str:
    return "right" if side == "left" else "left"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _perp(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Unit part of ``v`` perpendicular to unit ``t``."""
    w = v - (v @ t) * t
    return _unit(w)


def _gradient(shape: Shape, p: np.ndarray, h: float = 0.05) -> np.ndarray:
    """Unit outward normal (gradient of the distance) at points ``(N, 3)``."""
    p = np.atleast_2d(p).astype(np.float64)
    g = np.empty_like(p)
    for a in range(3):
        e = np.zeros(3)
        e[a] = h
        g[:, a] = shape.sdf(p + e) - shape.sdf(p - e)
    return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)


def _smoothed(points: np.ndarray, sigma_mm: float, fixed: np.ndarray | None = None) -> np.ndarray:
    """Gaussian smoothing of a polyline with about uniform steps; the ends and the ``fixed``
    points stay put, the smoothing fading in over one sigma away from them."""
    step = float(np.mean(np.linalg.norm(np.diff(points, axis=0), axis=1)))
    out = ndimage.gaussian_filter1d(points, sigma_mm / max(step, 1e-6), axis=0, mode="nearest")
    pinned = np.zeros(len(points), dtype=bool) if fixed is None else fixed.copy()
    pinned[0] = pinned[-1] = True
    # distance (in samples) to the nearest pinned point
    dist = ndimage.distance_transform_edt(~pinned)
    w = np.clip(dist * step / max(sigma_mm, 1e-6), 0.0, 1.0)[:, None]
    return w * out + (1.0 - w) * points


def _round_hairpins(nodes: np.ndarray, width: float) -> np.ndarray:
    """Replace each node where the path turns back (more than 110 degrees) by two nodes
    ``width`` apart across the turn, so that a spline through them makes a U, not a V."""
    out = [nodes[0]]
    for k in range(1, len(nodes) - 1):
        a = _unit(nodes[k] - nodes[k - 1])
        b = _unit(nodes[k + 1] - nodes[k])
        if a @ b < np.cos(np.radians(110.0)):
            across = nodes[k + 1] - nodes[k - 1]
            across = across - (across @ a) * a
            if np.linalg.norm(across) < 1e-3:
                across = np.cross(a, [0.0, 0.0, 1.0] if abs(a[2]) < 0.9 else [1.0, 0.0, 0.0])
            across = _unit(across)
            out += [nodes[k] - 0.5 * width * across, nodes[k] + 0.5 * width * across]
        else:
            out.append(nodes[k])
    out.append(nodes[-1])
    return np.array(out)


def _smooth_max(x: np.ndarray, y: np.ndarray, k: float) -> np.ndarray:
    h = np.maximum(k - np.abs(x - y), 0.0) / k
    return np.maximum(x, y) + h * h * k * 0.25


def _arclength(points: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
@dataclass
class Nerve:
    """A nerve root: a polyline (about 0.1 mm steps) with a radius per point and landmarks.

    ``marks`` holds point indices: ``RExP``, ``RDP``, ``porus`` (where the free course ends).
    """

    name: str  # "VII", "VIII", "V"
    side: str
    points: np.ndarray
    radii: np.ndarray
    marks: dict[str, int]
    radius0: float

    @property
    def key(self) -> str:
        return f"{self.name}_{self.side}"

    @property
    def s(self) -> np.ndarray:
        return _arclength(self.points)

    def index_at(self, s_target: float) -> int:
        return int(np.clip(np.searchsorted(self.s, s_target), 0, len(self.points) - 1))

    def s_of(self, mark: str) -> float:
        return float(self.s[self.marks[mark]])

    def tangent(self, index: int) -> np.ndarray:
        a, b = max(index - 3, 0), min(index + 3, len(self.points) - 1)
        return _unit(self.points[b] - self.points[a])

    def tube(self) -> Tube:
        return Tube(self.points, self.radii)


@dataclass
class Contact:
    """An intended relation between the facial nerve and a vessel."""

    side: str
    vessel: str  # "AICA", "PICA", "VA"
    d_from_rdp: float  # intended position along VII from the RDP, mm
    grade: str  # "none" | "contact" | "indentation" | "displacement"
    gap: float  # intended surface gap, mm
    record: bool  # a truth finding is written for it
    kind: str = "offender"  # "offender" | "near_miss"
    ratio: float = 0.0  # indentation: 1 - r_min / r0
    shift: float = 0.0  # displacement: centreline shift, mm
    u: np.ndarray | None = None  # approach direction (nerve -> vessel), unit
    d: np.ndarray | None = None  # vessel direction at the contact, unit
    bend: float = 8.0  # radius (mm) of the arc the vessel follows at the contact
    half: float = 7.0  # half-length (mm) of that arc
    s_nerve: float = 0.0  # arclength along VII (final nerve)
    against: Contact | None = None  # sandwich: the contact on the other side of the nerve
    partner: Contact | None = None  # sandwich: the contact that will take the other side
    undisplaced: np.ndarray | None = None  # displacement: VII's centreline point before

    @property
    def vessel_key(self) -> str:
        return f"{self.vessel}_{self.side}"


@dataclass
class Vessel:
    name: str  # "AICA", "PICA", "VA", "BA", "SCA", "vein"
    key: str  # unique: "AICA_left", "BA", "vein_sp_left" ...
    kind: str  # "artery" | "vein"
    points: np.ndarray
    radius: float
    side: str | None

    def tube(self) -> Tube:
        return Tube(self.points, self.radius)


@dataclass
class Anatomy:
    """Everything the renderer and the truth need, in the local frame (mm)."""

    brainstem: Shape
    solids: dict[str, Shape]  # name -> shape (cerebellum_left, petrous_left, clivus, ...)
    nerves: dict[str, Nerve]
    vessels: dict[str, Vessel]
    contacts: list[Contact]
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Variation:
    """Departures from the drawn anatomy (the defaults change nothing).

    ``nerve_scale`` and ``vessel_scale`` multiply every drawn nerve and vessel radius;
    ``course_mm`` adds to how far the cisternal courses of VII/VIII and V bow away from a straight
    line and how far the AICA, PICA and SCA loops swing out from the brainstem and nerves.
    """

    nerve_scale: float = 1.0
    vessel_scale: float = 1.0
    course_mm: float = 0.0


# --------------------------------------------------------------------------------------------
# Base anatomy
# --------------------------------------------------------------------------------------------
class _Base:
    """Brainstem, bones, cerebellum and nerve roots of one random anatomy."""

    def __init__(self, rng: np.random.Generator, variation: Variation | None = None) -> None:
        u = rng.uniform
        self.var = variation or Variation()
        self.tilt = u(0.15, 0.3)
        a_med, b_med = u(6.4, 7.2), u(5.8, 6.6)
        pz = u(12.0, 13.5)
        self.zp = pz - u(0.5, 1.5)
        dy = u(2.0, 3.0)
        # The pons: an ellipsoid's profile; where it meets the medulla and midbrain column a
        # rounded crease (smooth maximum) forms the pontomedullary sulcus.
        self.pons = Ellipsoid(
            [0.0, dy + self.tilt * self.zp, self.zp], [u(13.0, 15.0), u(10.5, 12.0), pz]
        )
        z = np.arange(-80.0, 80.0001, 0.1)
        bulge = np.sqrt(np.clip(1.0 - ((z - self.zp) / pz) ** 2, 0.0, None))
        a = _smooth_max(np.full_like(z, a_med), self.pons.radii[0] * bulge, 1.5)
        b = _smooth_max(np.full_like(z, b_med), self.pons.radii[1] * bulge, 1.5)
        weight = np.clip((a - a_med) / (self.pons.radii[0] - a_med), 0.0, 1.0)
        self.brainstem = ProfileColumn(z, a, b, self.tilt * z + dy * weight)
        self.rng = rng
        self.solids: dict[str, Shape] = {}
        self.nerves: dict[str, Nerve] = {}
        self.info: dict = {}

    # -- brainstem surface -----------------------------------------------------------------
    def axis(self, z: float) -> np.ndarray:
        return np.array([0.0, self.tilt * z, z])

    def surface(self, z, phi_deg, sigma: float, offset=0.0) -> tuple[np.ndarray, np.ndarray]:
        """Surface point(s) at height ``z`` and azimuth ``phi_deg`` (0 = anterior, 90 = lateral)
        on side ``sigma``, moved ``offset`` mm along the outward normal; and the normal."""
        z = np.atleast_1d(np.asarray(z, dtype=np.float64))
        phi = np.radians(np.atleast_1d(np.asarray(phi_deg, dtype=np.float64)))
        z, phi = np.broadcast_arrays(z, phi)
        origin = np.column_stack([np.zeros_like(z), self.tilt * z, z])
        direction = np.column_stack([sigma * np.sin(phi), np.cos(phi), np.zeros_like(z)])
        lo = np.zeros(len(z))
        hi = np.full(len(z), 40.0)
        for _ in range(28):
            mid = 0.5 * (lo + hi)
            inside = self.brainstem.sdf(origin + mid[:, None] * direction) < 0
            lo = np.where(inside, mid, lo)
            hi = np.where(inside, hi, mid)
        p = origin + hi[:, None] * direction
        n = _gradient(self.brainstem, p)
        offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), (len(z),))
        return p + n * offset[:, None], n

    def front(self, x, z):
        """y of the brainstem's anterior surface at (x, z) (scalars or arrays)."""
        x, z = np.broadcast_arrays(
            np.atleast_1d(np.asarray(x, dtype=np.float64)),
            np.atleast_1d(np.asarray(z, dtype=np.float64)),
        )
        lo, hi = self.tilt * z, self.tilt * z + 40.0
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            inside = self.brainstem.sdf(np.column_stack([x, mid, z])) < 0
            lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
        return hi if hi.size > 1 else float(hi[0])

    # -- nerves ------------------------------------------------------------------------------
    def build_facial_pair(self, side: str) -> None:
        """VII (attached segment along the pons, free course to the porus, meatal part) and VIII
        alongside it, posterior-inferior; the petrous bone and IAM placed around them."""
        u = self.rng.uniform
        sg = sigma_of(side)
        r7 = u(0.55, 0.6) * self.var.nerve_scale
        r8 = u(1.05, 1.1) * self.var.nerve_scale
        z_e = u(0.5, 1.5)
        phi_e = u(50.0, 62.0)
        phi_r = u(80.0, 95.0)
        dz = u(4.0, 6.0)
        l_att = u(8.0, 10.0)
        lift = 0.8 * r7  # attached: lying on the surface, a fifth of the radius embedded

        def attached(f: float) -> tuple[np.ndarray, np.ndarray]:
            t = np.linspace(0.0, 1.0, 60)
            ease = t * t * (3 - 2 * t) * 0.35 + t * 0.65
            pts, nrm = self.surface(z_e + f * dz * t, phi_e + f * (phi_r - phi_e) * ease, sg, lift)
            return pts, nrm

        f = 1.0
        for _ in range(3):  # scale the path until its length is l_att (nearly linear in f)
            att, att_n = attached(f)
            f *= l_att / _arclength(att)[-1]
        att, att_n = attached(f)
        rexp, n_rexp = att[0], att_n[0]
        rdp, n_rdp = att[-1], att_n[-1]
        t_att = _unit(att[-1] - att[-4])

        # Free cisternal course to the porus of the IAM, 10-12 mm.
        l_cis = u(10.0, 12.0)
        a_iam = _unit(np.array([sg * 1.0, u(0.15, 0.35), u(0.0, 0.12)]))
        start_dir = _unit(t_att + u(0.6, 1.0) * n_rdp)
        sag = _perp(self.rng.normal(size=3), a_iam) * (u(0.0, 1.0) + self.var.course_mm)
        to_porus = _unit(np.array([sg * 1.0, u(0.1, 0.3), u(0.0, 0.1)]))
        reach = l_cis
        for _ in range(6):
            porus = rdp + reach * to_porus
            mid_pt = 0.5 * (rdp + porus) + sag
            cis = smooth_curve(
                np.array([rdp, rdp + 1.0 * start_dir, mid_pt, porus - 1.0 * a_iam, porus]), 0.1
            )
            reach *= l_cis / _arclength(cis)[-1]
        l_meatal = u(7.0, 9.0)
        meatal = porus + np.linspace(0.0, l_meatal, 40)[:, None] * a_iam
        stub = rexp - n_rexp * np.array([[1.0], [0.5]])  # hidden root end inside the brainstem
        vii = np.vstack([stub, att, cis[1:], meatal[1:]])
        vii = _smoothed(smooth_curve(vii, 0.1), 0.6)
        marks = self._marks(vii, {"RExP": rexp, "RDP": rdp, "porus": porus})
        nerve7 = Nerve("VII", side, vii, np.full(len(vii), r7), marks, r7)

        # VIII: enters ~1-2 mm lateral/posterior of the VII root exit, then runs alongside VII
        # on its posterior-inferior side, converging towards the porus.
        g0 = u(0.6, 2.2)
        s7 = nerve7.s
        s_rdp, s_porus = s7[marks["RDP"]], s7[marks["porus"]]
        s_join = s_rdp + u(2.5, 3.5)
        along_points = []
        for idx in range(nerve7.index_at(s_join), len(vii)):
            t = nerve7.tangent(idx)
            o = _perp(np.array([0.0, -0.6, -0.8]), t)
            frac = np.clip((s7[idx] - s_join) / max(s_porus - 3.0 - s_join, 1e-6), 0.0, 1.0)
            g = g0 + (0.1 - g0) * frac * frac * (3 - 2 * frac)
            along_points.append(vii[idx] + o * (r7 + r8 + g))
        along = np.array(along_points)
        entry, n_entry = self.surface(z_e + u(0.5, 2.0), phi_r + u(8.0, 18.0), sg, 0.6 * r8)
        entry, n_entry = entry[0], n_entry[0]
        join_dir = _unit(along[3] - along[0])
        lead = smooth_curve(
            np.array([entry, entry + n_entry * 1.2, along[0] - join_dir * 1.5, along[0]]),
            0.1,
        )
        viii = np.vstack([entry - n_entry * 1.0, lead, along[1:]])
        viii = _smoothed(smooth_curve(viii, 0.1), 0.6)
        marks8 = self._marks(viii, {"RExP": entry, "RDP": entry, "porus": along[0]})
        # VIII's porus is where it meets VII's course in the meatus: take VII's porus projection.
        marks8["porus"] = int(np.argmin(np.linalg.norm(viii - porus, axis=1)))
        self.nerves[f"VII_{side}"] = nerve7
        self.nerves[f"VIII_{side}"] = Nerve("VIII", side, viii, np.full(len(viii), r8), marks8, r8)

        # Petrous bone: its posterior face through the porus, facing posteromedially; the top
        # (petrous ridge) a few mm above the porus, lower towards the apex; bounded anteriorly.
        # The IAM is centred between VII and VIII where they enter it.
        i8 = marks8["porus"]
        mouth = 0.5 * (porus + viii[i8])
        face_n = _unit(np.array([-sg * u(0.7, 0.85), -u(0.5, 0.7), 0.0]))
        face = HalfSpace(mouth, face_n)  # solid where (p - mouth) . face_n < 0
        ridge_pt = mouth + np.array([0.0, 0.0, u(3.5, 5.0)])
        top = HalfSpace(ridge_pt, _unit(np.array([-sg * 0.15, u(0.4, 0.6), 1.0])))
        body = Ellipsoid(mouth + np.array([sg * 16.0, 10.0, -4.0]), [22.0, 24.0, 22.0])
        self.solids[f"petrous_{side}"] = Intersection([face, top, body])
        r_iam = u(2.2, 2.6) * max(self.var.nerve_scale, 1.0)  # the meatus fits the nerves
        iam_axis = mouth + np.linspace(-4.0, l_meatal + 1.0, 40)[:, None] * a_iam
        self.solids[f"iam_{side}"] = Tube(iam_axis, r_iam)
        self.info[f"porus_{side}"] = porus
        self.info[f"iam_axis_{side}"] = a_iam

    def build_trigeminal(self, side: str) -> None:
        u = self.rng.uniform
        sg = sigma_of(side)
        r5 = u(1.2, 1.3) * self.var.nerve_scale
        z_v = self.zp + u(-1.0, 1.0)
        rexp, n = self.surface(z_v, u(72.0, 88.0), sg, 0.9 * r5)
        rexp, n = rexp[0], n[0]
        direction = _unit(np.array([sg * u(0.35, 0.5), u(0.75, 0.9), u(0.25, 0.4)]))
        length = u(12.5, 14.5)
        bend = _perp(self.rng.normal(size=3), direction) * (u(0.0, 1.0) + self.var.course_mm)
        end = rexp + direction * length
        pts = smooth_curve(
            np.array(
                [
                    rexp - n * 1.5,
                    rexp,
                    rexp + 1.5 * _unit(n + direction),
                    0.5 * (rexp + end) + bend,
                    end,
                    end + direction * 4.0,
                ]
            ),
            0.1,
        )
        pts = _smoothed(pts, 0.6)
        marks = self._marks(pts, {"RExP": rexp, "RDP": rexp, "porus": end})
        self.nerves[f"V_{side}"] = Nerve("V", side, pts, np.full(len(pts), r5), marks, r5)

    @staticmethod
    def _marks(points: np.ndarray, where: dict[str, np.ndarray]) -> dict[str, int]:
        return {k: int(np.argmin(np.linalg.norm(points - v, axis=1))) for k, v in where.items()}

    def build_context(self) -> None:
        """Cerebellum, fourth ventricle and clivus (after the nerves: they need the pons)."""
        u = self.rng.uniform
        z_e = 1.0
        for side in SIDES:
            sg = sigma_of(side)
            self.solids[f"cerebellum_{side}"] = Ellipsoid(
                [sg * u(19.0, 22.0), -u(19.0, 22.0), z_e - u(1.0, 4.0)],
                [u(19.0, 22.0), u(17.0, 19.0), u(18.0, 21.0)],
            )
        self.solids["fourth_ventricle"] = Ellipsoid(
            [0.0, self.pons.centre[1] - self.pons.radii[1] + u(1.0, 2.0), self.zp - u(0.0, 3.0)],
            [u(4.5, 6.0), u(2.0, 3.0), u(7.0, 9.0)],
        )
        y_front = self.front(0.0, self.zp)
        gap = u(4.0, 6.5)
        normal = _unit(np.array([0.0, -1.0, self.tilt]))
        plane = HalfSpace(np.array([0.0, y_front + gap, self.zp]), normal)
        bound = Ellipsoid([0.0, y_front + gap + 14.0, self.zp - 5.0], [u(11.0, 14.0), 16.0, 45.0])
        self.solids["clivus"] = Intersection([plane, bound])
        self.info["prepontine_gap"] = gap

    # -- checks ------------------------------------------------------------------------------
    def check(self) -> str | None:
        """Why this base anatomy is not usable, or None."""
        for side in SIDES:
            n7, n8, n5 = (self.nerves[f"{k}_{side}"] for k in ("VII", "VIII", "V"))
            bone = self.solids[f"petrous_{side}"]
            cb = self.solids[f"cerebellum_{side}"]
            iam = self.solids[f"iam_{side}"]
            for nerve in (n7, n8):
                free = nerve.points[nerve.marks["RExP"] : max(nerve.marks["porus"] - 10, 1)]
                r = nerve.radius0
                outside_iam = iam.sdf(free) > -r - 0.2
                if np.any((bone.sdf(free) < r + 0.3) & outside_iam):
                    return f"{nerve.key} runs into the petrous bone"
                if np.any(cb.sdf(free) < r + 0.5):
                    return f"{nerve.key} runs into the cerebellum"
                if np.any(self.solids["clivus"].sdf(free) < r):
                    return f"{nerve.key} runs into the clivus"
            free5 = n5.points[n5.marks["RExP"] : n5.marks["porus"]]
            if np.any(bone.sdf(free5) < n5.radius0 + 0.3):
                return f"{n5.key} runs into the petrous bone"
            if np.any(cb.sdf(free5) < n5.radius0 + 0.5):
                return f"{n5.key} runs into the cerebellum"
            # VII and VIII may touch only inside the meatus.
            stop = n7.marks["porus"] - 5
            gap = _tube_gap_profile(n7.points[:stop], n7.radii[:stop], n8.points, n8.radii)
            if np.min(gap) < 0.05:
                return f"VII and VIII overlap in the cistern ({np.min(gap):.2f} mm)"
            gap5 = _tube_gap_profile(n5.points, n5.radii, n7.points, n7.radii)
            if np.min(gap5) < 2.0:
                return "V too close to VII"
            gap58 = _tube_gap_profile(n5.points, n5.radii, n8.points, n8.radii)
            if np.min(gap58) < 1.5:
                return "V too close to VIII"
        return None


def _tube_gap_profile(
    a_pts: np.ndarray, a_r: np.ndarray, b_pts: np.ndarray, b_r: np.ndarray | float
) -> np.ndarray:
    """Surface gap (mm) from each point of tube A to tube B (nearest-vertex approximation)."""
    b_r = np.broadcast_to(np.asarray(b_r, dtype=np.float64), (len(b_pts),))
    dense_b, dense_r, _ = resample_polyline(b_pts, b_r, 0.05)
    dist, idx = cKDTree(dense_b).query(a_pts)
    return dist - a_r - dense_r[idx]


# --------------------------------------------------------------------------------------------
# The other cranial nerves near the CPA (optional): IX, X and VI
# --------------------------------------------------------------------------------------------
#: The optional nerves (`build_lower_nerves`): drawn and kept clear of the vessels and the other
#: nerves like V/VII/VIII, but given no label (label 0, docs/design.md, section 3).
LOWER_NERVES = ("IX", "X", "VI")
#: Smallest surface gap (mm) between an optional nerve and VII, VIII or V.
LOWER_NERVE_GAP_MM = 0.5


def _lower_path(
    exit_pt: np.ndarray,
    n_exit: np.ndarray,
    waypoints: list[np.ndarray],
    end: np.ndarray,
    leave: np.ndarray | None = None,
) -> np.ndarray:
    """A root from a hidden stub inside the brainstem, out along the surface normal (or
    ``leave``), through ``waypoints`` to ``end`` (smooth, about 0.1 mm steps)."""
    out = n_exit if leave is None else _unit(leave)
    nodes = [exit_pt - n_exit * 1.0, exit_pt, exit_pt + out * 1.0, *waypoints, end]
    return _smoothed(smooth_curve(np.array(nodes), 0.1), 0.6)


def _build_ix_x(base: _Base, side: str, rng: np.random.Generator) -> tuple[Nerve, Nerve]:
    """IX and X of one side: from the post-olivary sulcus 2-6 mm below the facial root exit,
    laterally, forward and down to the jugular foramen, X below and behind IX, joining it
    there."""
    u = rng.uniform
    sg = sigma_of(side)
    n7 = base.nerves[f"VII_{side}"]
    z7 = float(n7.points[n7.marks["RExP"], 2])
    porus = base.info[f"porus_{side}"]
    r9 = u(0.45, 0.55) * base.var.nerve_scale
    r10 = u(0.75, 0.95) * base.var.nerve_scale
    z9 = z7 - u(2.5, 3.5)
    z10 = z9 - (r9 + r10 + u(0.4, 0.8))
    phi = u(98.0, 108.0)
    e9, n9 = (a[0] for a in base.surface(z9, phi, sg, 0.8 * r9))
    e10, n10 = (a[0] for a in base.surface(z10, phi + u(0.0, 6.0), sg, 0.8 * r10))
    # the jugular foramen: below and a little medial of the internal acoustic porus, in front of
    # the root exits
    foramen = np.array(
        [
            sg * (abs(porus[0]) - u(2.0, 5.0)),
            e9[1] + u(6.0, 9.0),
            z9 - u(6.0, 9.0),
        ]
    )
    heading = _unit(foramen - e9)
    sag = _perp(rng.normal(size=3), heading) * u(0.0, 1.0)
    mid9 = 0.5 * (e9 + foramen) + sag
    beyond = foramen + heading * 3.0
    ix = _lower_path(e9, n9, [mid9, foramen - heading * 1.0, foramen], beyond)
    # X converges on IX from below and behind, meeting it in the foramen
    below = _perp(np.array([0.0, -0.5, -1.0]), heading)
    f10 = foramen + below * (r9 + r10 + 0.15)
    mid10 = 0.5 * (e10 + f10) + sag + below * u(0.3, 0.8)
    x = _lower_path(e10, n10, [mid10, f10 - heading * 1.0, f10], f10 + heading * 3.0)
    marks9 = _Base._marks(ix, {"RExP": e9, "RDP": e9, "porus": foramen})
    marks10 = _Base._marks(x, {"RExP": e10, "RDP": e10, "porus": f10})
    return (
        Nerve("IX", side, ix, np.full(len(ix), r9), marks9, r9),
        Nerve("X", side, x, np.full(len(x), r10), marks10, r10),
    )


def _build_vi(base: _Base, side: str, rng: np.random.Generator) -> Nerve:
    """VI of one side: from the pontomedullary sulcus next to the midline (medial of VII's exit),
    up in front of the pons through the prepontine cistern into the clivus."""
    u = rng.uniform
    sg = sigma_of(side)
    n7 = base.nerves[f"VII_{side}"]
    rexp7 = n7.points[n7.marks["RExP"]]
    r6 = u(0.3, 0.45) * base.var.nerve_scale
    z6 = float(rexp7[2]) - u(0.3, 1.0)
    # 5-8 mm from the midline in a real brainstem: here a fraction of the facial root exit's
    # distance from it (the phantom's medulla is narrower)
    x_target = max(u(0.55, 0.75) * abs(float(rexp7[0])), 3.0)
    phis = np.linspace(5.0, 75.0, 71)
    pts, normals = base.surface(np.full(len(phis), z6), phis, sg, 0.8 * r6)
    k = int(np.argmin(np.abs(np.abs(pts[:, 0]) - x_target)))
    e6, n6 = pts[k], normals[k]
    clivus = base.solids["clivus"]
    assert isinstance(clivus, Intersection)
    plane = clivus.parts[0]
    assert isinstance(plane, HalfSpace)

    def clivus_y(x: float, z: float) -> float:
        # y where the clivus' posterior face (a plane) is at (x, z)
        p0, nrm = plane.point, plane.normal
        return float(p0[1] + (nrm[0] * (x - p0[0]) + nrm[2] * (z - p0[2])) / -nrm[1])

    z_top = z6 + u(11.0, 14.0)
    drift = sg * u(0.5, 2.0)
    waypoints = []
    for frac in (0.2, 0.4, 0.6, 0.8):
        z = z6 + frac * (z_top - z6)
        x = e6[0] + drift * frac
        front = float(base.front(x, z))
        depth = clivus_y(x, z) - front
        y = front + r6 + max(0.4, (0.15 + 0.6 * frac * frac) * depth)
        waypoints.append(np.array([x, y, z]))
    x_end = e6[0] + drift
    entry = np.array([x_end, clivus_y(x_end, z_top) + 0.2, z_top])
    heading = _unit(entry - waypoints[-1])
    # out of the sulcus forward and up (its normal points down under the pons' bulge)
    leave = _perp(n6, np.array([0.0, 0.0, 1.0])) + np.array([0.0, 0.0, 1.0])
    vi = _lower_path(e6, n6, [*waypoints, entry], entry + heading * 2.5, leave)
    marks = _Base._marks(vi, {"RExP": e6, "RDP": e6, "porus": entry})
    return Nerve("VI", side, vi, np.full(len(vi), r6), marks, r6)


def _lower_problem(base: _Base, nerves: list[Nerve]) -> str | None:
    """Why optional nerves do not fit the base anatomy (into bone, cerebellum, brainstem or
    another nerve), or None."""
    others = [n for k, n in base.nerves.items() if k.split("_")[0] not in LOWER_NERVES]
    for nerve in nerves:
        r = nerve.radius0
        s = nerve.s
        s_end = nerve.s_of("porus")
        i_free = nerve.index_at(nerve.s_of("RExP") + 1.5)
        free = nerve.points[i_free : nerve.index_at(s_end - 2.0)]
        if len(free) < 10:
            return f"{nerve.key} too short"
        if np.any(base.brainstem.sdf(free) < -0.25 * r):
            return f"{nerve.key} runs into the brainstem"
        side = nerve.side
        bone = base.solids[f"petrous_{side}"]
        if np.any(bone.sdf(free) < r + 0.3):
            return f"{nerve.key} runs into the petrous bone"
        if np.any(base.solids["clivus"].sdf(free) < r + 0.2):
            return f"{nerve.key} runs into the clivus"
        for s_cb in SIDES:
            if np.any(base.solids[f"cerebellum_{s_cb}"].sdf(free) < r + 0.5):
                return f"{nerve.key} runs into the cerebellum"
        if np.any(base.solids[f"iam_{side}"].sdf(nerve.points) < r):
            return f"{nerve.key} runs into the internal acoustic meatus"
        if len(s) < 2:
            return f"{nerve.key} too short"
        for other in others:
            gap = _tube_gap_profile(nerve.points, nerve.radii, other.points, other.radii)
            if np.min(gap) < LOWER_NERVE_GAP_MM:
                return f"{nerve.key} within {np.min(gap):.2f} mm of {other.key}"
    for i, a in enumerate(nerves):
        for b in nerves[i + 1 :]:
            if {a.name, b.name} == {"IX", "X"} and a.side == b.side:
                # they join in the jugular foramen: apart until 2 mm before it
                stop = a.index_at(a.s_of("porus") - 2.0)
                gap = _tube_gap_profile(a.points[:stop], a.radii[:stop], b.points, b.radii)
                if np.min(gap) < 0.1:
                    return f"{a.key} and {b.key} overlap before the jugular foramen"
                continue
            gap = _tube_gap_profile(a.points, a.radii, b.points, b.radii)
            if np.min(gap) < LOWER_NERVE_GAP_MM:
                return f"{a.key} within {np.min(gap):.2f} mm of {b.key}"
    return None


def build_lower_nerves(base: _Base, rng: np.random.Generator, attempts: int = 8) -> str | None:
    """Add IX, X and VI of both sides to ``base.nerves`` (drawn from ``rng`` only, so that
    nothing else of the anatomy changes); returns why they do not fit, or None."""
    why = ""
    for side in SIDES:
        for _ in range(attempts):
            ix, x = _build_ix_x(base, side, rng)
            vi = _build_vi(base, side, rng)
            placed = [n for k, n in base.nerves.items() if k.split("_")[0] in LOWER_NERVES]
            why = _lower_problem(base, [*placed, ix, x, vi]) or ""
            if not why:
                for nerve in (ix, x, vi):
                    base.nerves[nerve.key] = nerve
                break
        else:
            for key in [k for k in base.nerves if k.split("_")[0] in LOWER_NERVES]:
                del base.nerves[key]
            return why
    return None


# --------------------------------------------------------------------------------------------
# Scenario: the intended relations
# --------------------------------------------------------------------------------------------
def _pick_vessel(rng: np.random.Generator, allowed: tuple[str, ...]) -> str:
    # HFS offenders: AICA 40-53 %, PICA ~38 %, VA 7-36 % (usually with another offender).
    weights = {"AICA": 0.47, "PICA": 0.38, "VA": 0.15}
    p = np.array([weights[v] for v in allowed])
    return str(allowed[int(rng.choice(len(allowed), p=p / p.sum()))])


def plan_contacts(scenario: str, side: str, rng: np.random.Generator) -> list[Contact]:
    """The intended relations of a scenario (positions are refined when vessels are routed)."""
    u = rng.uniform
    other = other_side(side)

    def near_miss(s: str) -> Contact:
        return Contact(s, "AICA", u(1.5, 5.0), "none", u(0.8, 1.5), False, "near_miss")

    def offender(s: str, grade: str, vessel: str | None = None, d=None, gap=CONTACT_GAP_MM):
        vessel = vessel or _pick_vessel(rng, ("AICA", "PICA", "VA"))
        if d is None:
            d = {"AICA": u(-3.5, 4.0), "PICA": u(-4.0, 2.0), "VA": u(-5.0, 0.0)}[vessel]
        return Contact(s, vessel, d, grade, gap, True)

    if scenario == "no_contact":
        return [near_miss(side)]
    if scenario == "subvoxel_gap":
        c = offender(side, "none", gap=u(0.1, 0.4))
        return [c]
    if scenario == "contact":
        return [offender(side, "contact")]
    if scenario == "indentation":
        c = offender(side, "indentation")
        c.ratio = u(0.2, 0.5)
        return [c]
    if scenario == "displacement":
        c = offender(side, "displacement", _pick_vessel(rng, ("AICA", "PICA")), d=u(3.5, 6.0))
        c.shift = u(1.05, 1.4)  # in nerve diameters
        return [c]
    if scenario == "sandwich":
        first = offender(side, "contact", "AICA", d=u(1.5, 4.5))
        second = offender(
            side, "contact", _pick_vessel(rng, ("PICA", "AICA")), d=first.d_from_rdp + u(-1.0, 1.0)
        )
        if second.vessel == "AICA":
            second.vessel = "PICA"
        second.against = first
        first.partner = second
        return [first, second]
    if scenario == "two_offenders":
        first = offender(side, "contact", "AICA", d=u(0.5, 4.0))
        second = offender(
            side, "contact", _pick_vessel(rng, ("PICA", "VA")), d=first.d_from_rdp - u(3.5, 6.0)
        )
        return [first, second]
    if scenario == "asymptomatic_contact":
        return [near_miss(side), offender(other, "contact")]
    if scenario == "distal_cisternal":
        return [offender(side, "contact", "AICA", d=u(6.5, 9.0))]
    raise ValueError(f"unknown scenario {scenario!r}")


# --------------------------------------------------------------------------------------------
# Nerve deformation and approach directions
# --------------------------------------------------------------------------------------------
_TYPICAL_RADIUS = {"AICA": 0.8, "PICA": 0.75, "VA": 1.7}


def _arc_points(apex, d, u, bend, half, step=0.2, run=0.0):
    """A circular arc through ``apex`` with tangent ``d``, bending towards ``u``, continued
    straight along its end tangents for ``run`` mm at both ends."""
    x = np.linspace(-half, half, int(np.ceil(2 * half / step)) + 1)
    lift = bend - np.sqrt(np.maximum(bend**2 - x**2, 0.0))
    arc = apex + x[:, None] * d + lift[:, None] * u
    if run <= 0:
        return arc
    ext = np.linspace(step, run, int(np.ceil(run / step)))[:, None]
    t0, t1 = _unit(arc[0] - arc[1]), _unit(arc[-1] - arc[-2])
    return np.vstack([arc[0] + ext[::-1] * t0, arc, arc[-1] + ext * t1])


def _choose_arc(
    contact: Contact, base: _Base, rng: np.random.Generator, keep_direction: bool = False
) -> None:
    """Choose how the vessel meets VII: approach direction ``u``, crossing direction ``d`` and
    the radius of the arc it follows there (tangent to the nerve surface at the apex, bending
    away from the nerve).

    Every combination of 36 directions around the nerve, four crossing angles and three arc
    radii is built and kept when the arc clears VIII, V, the brainstem, bone and cerebellum,
    comes no closer to VII anywhere than at its apex, and the vessel comes from a plausible side
    (from outside on the attached segment; from below for PICA and VA; a displacing vessel does
    not push VII into VIII or the brainstem; a sandwich partner opposite the first vessel).
    One is drawn, preferring the side the vessel comes from. Sets ``contact.u``, ``.d``,
    ``.bend`` and ``.half``. With ``keep_direction`` only ``contact.u`` is tried (after the
    nerve was deformed towards it).

    Raises
    ------
    PhantomBuildError
        When no arc fits.
    """
    n7 = base.nerves[f"VII_{contact.side}"]
    n8 = base.nerves[f"VIII_{contact.side}"]
    n5 = base.nerves[f"V_{contact.side}"]
    i = n7.index_at(contact.s_nerve)
    p, t, r7 = n7.points[i], n7.tangent(i), n7.radii[i]
    n_bs = _perp(_gradient(base.brainstem, p)[0], t)
    e2 = np.cross(t, n_bs)
    _, i8 = cKDTree(n8.points).query(p)
    to8 = _perp(n8.points[i8] - p, t)
    rho = _TYPICAL_RADIUS[contact.vessel] * base.var.vessel_scale
    big = contact.vessel == "VA"
    bends = (5.0, 8.0, 12.0, 16.0) if big else (2.0, 2.5, 3.5, 5.0, 8.0, 12.0)
    half = 9.0 if big else 7.0
    low = 60.0 if contact.grade in ("indentation", "displacement") else 40.0
    alphas = np.radians(np.linspace(low, 90.0, 4))
    lower = [n for n in base.nerves.values() if n.name in LOWER_NERVES]
    dense = {n.key: resample_polyline(n.points, n.radii, 0.05) for n in (n7, n8, n5, *lower)}
    trees = {k: cKDTree(v[0]) for k, v in dense.items()}
    hard = [v for k, v in base.solids.items() if k.startswith(("petrous", "clivus", "cereb"))]
    iams = [v for k, v in base.solids.items() if k.startswith("iam")]
    sg = sigma_of(contact.side)
    home_direction = {
        "AICA": [-sg * 0.3, 0.8, -0.5],
        "PICA": [0.0, -0.6, -0.8],
        "VA": [-sg * 0.4, 0.6, -0.7],
    }[contact.vessel]
    home = _perp(np.asarray(home_direction, dtype=np.float64), t)
    if contact.against is not None and contact.against.u is not None:
        home = -contact.against.u  # sandwich: the other side of the nerve
    opposite = None
    if contact.against is not None:
        assert contact.against.u is not None  # a sandwich's first vessel is placed first
        opposite = -contact.against.u
    keep_u = contact.u if (keep_direction and contact.u is not None) else None
    options, weights = [], []
    for theta in np.radians(np.arange(0.0, 360.0, 10.0)):
        u = np.cos(theta) * n_bs + np.sin(theta) * e2
        if keep_u is not None:
            if theta > 0:
                break
            u = keep_u  # already checked against the side rules
        elif opposite is not None and u @ opposite < np.cos(np.radians(55.0)):
            continue
        elif not _side_ok(contact, u, n_bs, to8, opposite):
            continue
        apex = p + u * (r7 + rho + contact.gap)
        w = np.cross(t, u)
        combos, arcs = [], []
        for alpha in alphas:
            d = np.cos(alpha) * t + np.sin(alpha) * w
            for bend in bends:
                length = min(half, 0.85 * bend)  # stay on the circle's lower part
                combos.append((u, d, bend, length))
                arcs.append(_arc_points(apex, d, u, bend, length, run=4.0))
        ok = _arcs_clear(arcs, rho, contact, dense, trees, base, hard, iams, n7.key)
        for combo, good in zip(combos, ok):
            if good:
                options.append(combo)
                weights.append(np.exp(3.0 * (u @ home)))
    if not options:
        raise PhantomBuildError(
            f"no room for a {contact.vessel} at VII {contact.d_from_rdp:+.1f} mm from the RDP"
        )
    p = np.asarray(weights)
    k = int(rng.choice(len(options), p=p / p.sum()))
    contact.u, contact.d, contact.bend, contact.half = options[k]


def _side_ok(contact: Contact, u, n_bs, to8, opposite) -> bool:
    """Plausible sides: from outside on the attached segment; from below for PICA and VA
    (unless sandwiching); a displacing vessel comes from the side away from VIII and pushes
    the VII-VIII bundle (VIII moves along, `_deform_nerve`), not into the brainstem."""
    if contact.d_from_rdp < 1.0 and u @ n_bs < 0.3:
        return False
    if contact.vessel in ("PICA", "VA") and u[2] > 0.3 and opposite is None:
        return False
    if contact.grade == "displacement" and (u @ to8 > -0.3 or -u @ n_bs < -0.3):
        return False
    return True


def _arcs_clear(arcs, rho, contact, dense, trees, base, hard, iams, key7) -> np.ndarray:
    """Which contact arcs (vessel radius ``rho``) keep clear of everything else (one batch)."""
    lengths = [len(a) for a in arcs]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pts = np.vstack(arcs)
    x = np.concatenate([_arclength(a) - 0.5 * _arclength(a)[-1] for a in arcs])
    bad = np.zeros(len(pts), dtype=bool)
    for key, tree in trees.items():
        _, radii, _ = dense[key]
        dist, idx = tree.query(pts)
        gap = dist - rho - radii[idx]
        if key == key7:
            slack = 0.1 if contact.grade == "displacement" else 0.005
            bad |= gap < contact.gap - slack  # closer than at the apex
            bad |= (np.abs(x) > 4.5) & (gap < CLEARANCE_MM + 0.1)
        else:
            bad |= gap < CLEARANCE_MM + 0.1
    bad |= base.brainstem.sdf(pts) < 0.6 * rho
    in_iam = np.zeros(len(pts), dtype=bool)
    for iam in iams:
        in_iam |= iam.sdf(pts) < -0.2
    for solid in hard:
        bad |= (solid.sdf(pts) < 0.5 * rho) & ~in_iam
    return ~np.logical_or.reduceat(bad, starts)


def _deformed_problem(base: _Base, nerve7: Nerve) -> str | None:
    """Why a deformed facial nerve is not plausible (into VIII, brainstem or bone), or None."""
    n8 = base.nerves[f"VIII_{nerve7.side}"]
    stop = nerve7.marks["porus"] - 5
    start = nerve7.marks["RDP"] + 10
    gap = _tube_gap_profile(
        nerve7.points[start:stop], nerve7.radii[start:stop], n8.points, n8.radii
    )
    if np.min(gap) < 0.05:
        return "the displaced VII touches VIII"
    if np.any(base.brainstem.sdf(nerve7.points[start:stop]) < nerve7.radius0):
        return "the displaced VII runs into the brainstem"
    free8 = n8.points[n8.marks["RExP"] + 10 : n8.marks["porus"] - 10]
    if np.any(base.brainstem.sdf(free8) < n8.radius0 * 0.5):
        return "the displaced VIII runs into the brainstem"
    if np.any(base.solids[f"cerebellum_{nerve7.side}"].sdf(free8) < n8.radius0):
        return "the displaced VIII runs into the cerebellum"
    for nerve in base.nerves.values():
        if nerve.name not in LOWER_NERVES:
            continue
        for moved in (nerve7, n8):
            gap = _tube_gap_profile(moved.points, moved.radii, nerve.points, nerve.radii)
            if np.min(gap) < LOWER_NERVE_GAP_MM:
                return f"the displaced {moved.name} comes near {nerve.key}"
    return None


def _deform_nerve(nerve: Nerve, contact: Contact, companion: Nerve | None = None) -> None:
    s = nerve.s
    sc = contact.s_nerve
    if contact.grade == "indentation":
        w = 0.8
        nerve.radii = nerve.radii * (1.0 - contact.ratio * np.exp(-(((s - sc) / w) ** 2)))
    elif contact.grade == "displacement":
        # The course is pushed aside around the vessel: rising from the RDP to the contact,
        # easing back to the porus (the nerve still enters the meatus).
        amplitude = contact.shift * 2.0 * nerve.radius0
        assert contact.u is not None  # set when the vessel was placed
        s_rdp, s_porus = nerve.s_of("RDP"), nerve.s_of("porus")
        rise = np.clip((s - (s_rdp - 0.5)) / max(sc - (s_rdp - 0.5), 1e-6), 0.0, 1.0)
        fall = np.clip((s_porus - 1.5 - s) / max(s_porus - 1.5 - sc, 1e-6), 0.0, 1.0)
        bump = np.where(s <= sc, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 - 0.5 * np.cos(np.pi * fall))
        contact.undisplaced = nerve.points[int(np.argmin(np.abs(s - sc)))].copy()
        if companion is not None:  # VIII alongside is pushed with VII
            _, nearest = cKDTree(nerve.points).query(companion.points)
            near = np.linalg.norm(companion.points - nerve.points[nearest], axis=1) < 4.0
            move = np.where(near, bump[nearest], 0.0)
            move = ndimage.gaussian_filter1d(move, 10.0, mode="nearest")
            companion.points = companion.points - move[:, None] * amplitude * contact.u[None, :]
        nerve.points = nerve.points - bump[:, None] * amplitude * contact.u[None, :]
        contact.shift = float(amplitude * bump.max())


# --------------------------------------------------------------------------------------------
# Vessels
# --------------------------------------------------------------------------------------------
class _Router:
    """Routes every vessel of the phantom and checks it against nerves, brainstem and bone."""

    def __init__(self, base: _Base, contacts: list[Contact], rng: np.random.Generator) -> None:
        self.base = base
        self.contacts = contacts
        self.rng = rng
        self.vessels: dict[str, Vessel] = {}
        self._dense = {
            k: resample_polyline(n.points, n.radii, 0.05) for k, n in base.nerves.items()
        }
        self._trees = {k: cKDTree(v[0]) for k, v in self._dense.items()}
        self._boxes = {
            k: (v[0].min(axis=0) - v[1].max() - 3.0, v[0].max(axis=0) + v[1].max() + 3.0)
            for k, v in self._dense.items()
        }

    # -- geometry checks -------------------------------------------------------------------
    def _gap_to_nerve(self, key: str, pts: np.ndarray, radius: float):
        """Surface gap from each vessel point to nerve ``key`` and the nerve arclength there."""
        dense, dense_r, s = self._dense[key]
        dist, idx = self._trees[key].query(pts)
        return dist - radius - dense_r[idx], s[idx]

    def _closest(self, contact: Contact, pts: np.ndarray, radius: float):
        """Index of the vessel point closest to VII near the intended place, its gap, and the
        unit direction from the nerve to it (None when the vessel does not pass there)."""
        key = f"VII_{contact.side}"
        dense, dense_r, ns = self._dense[key]
        dist, idx = self._trees[key].query(pts)
        gap = dist - radius - dense_r[idx]
        near = np.abs(ns[idx] - contact.s_nerve) <= 3.0
        if not np.any(near):
            return None
        k = int(np.argmin(np.where(near, gap, np.inf)))
        return k, float(gap[k]), _unit(pts[k] - dense[idx[k]])

    def _loop(self, contact: Contact, radius: float, prev, nxt):
        """The vessel's course at an intended contact: the arc chosen by `_choose_arc`, its
        apex at the intended gap from the (final) nerve surface, oriented to run from ``prev``
        towards ``nxt``. Returns its points, apex and travel directions at both ends."""
        n7 = self.base.nerves[f"VII_{contact.side}"]
        i = n7.index_at(contact.s_nerve)
        u = contact.u
        apex = n7.points[i] + u * (n7.radii[i] + radius + contact.gap)
        arc = _arc_points(apex, contact.d, u, contact.bend, contact.half)
        if np.linalg.norm(arc[0] - prev) + np.linalg.norm(arc[-1] - nxt) > np.linalg.norm(
            arc[-1] - prev
        ) + np.linalg.norm(arc[0] - nxt):
            arc = arc[::-1]
        t_in = _unit(arc[1] - arc[0])
        t_out = _unit(arc[-1] - arc[-2])
        return arc, apex, t_in, t_out

    def _assemble(self, wps, slots, mine, radius):
        """The vessel's curve: a centripetal Catmull-Rom spline (no cusps) through the
        waypoints, each contact slot filled with nodes of its arc (about 1.5 mm apart).

        Returns the curve (0.2 mm steps) and the mask of points on contact arcs (kept fixed
        afterwards), or ``(None, reason)`` when an arc or the waypoints will not do.
        """
        nodes: list[np.ndarray] = []
        spans: list[tuple[np.ndarray, np.ndarray]] = []
        for idx, p in enumerate(wps):
            if idx in slots:
                c = mine[slots[idx]]
                arc, _, t_in, t_out = self._loop(c, radius, wps[idx - 1], wps[idx + 1])
                # the vessel runs on along the arc's ends for a few mm before turning
                lead = [arc[0] - 4.0 * t_in, arc[0] - 2.0 * t_in]
                tail = [arc[-1] + 2.0 * t_out, arc[-1] + 4.0 * t_out]
                stretch = np.vstack([lead, arc, tail])
                problem = self._problem(Vessel("", "loop", "", stretch, radius, None), [c], 0, 0)
                if problem is not None:
                    return None, problem
                step = max(int(round(1.5 / 0.2)), 1)
                picks = list(range(0, len(arc) - 1, step)) + [len(arc) - 1]
                nodes.extend(lead + list(arc[picks]) + tail)
                spans.append((arc[0], arc[-1]))
            else:
                nodes.append(np.asarray(p, dtype=np.float64))
        pts = smooth_curve(_round_hairpins(np.array(nodes), max(3.0, 4.0 * radius)), 0.2)
        fixed = np.zeros(len(pts), dtype=bool)
        for a_end, b_end in spans:
            a, b = sorted(int(np.argmin(np.linalg.norm(pts - e, axis=1))) for e in (a_end, b_end))
            fixed[a : b + 1] = True
        return pts, fixed

    def _route(
        self,
        name: str,
        key: str,
        kind: str,
        side: str | None,
        radius: float,
        make_waypoints,
        mine: list[Contact],
        skip_start: float = 3.0,
        skip_end: float = 0.0,
        attempts: int = 12,
    ) -> Vessel:
        """Route a vessel through random waypoints and its intended contacts.

        Each contact is a fixed loop lying against VII at the intended gap (`_loop`); the rest
        of the spline is smoothed and repaired where it comes within `CLEARANCE_MM` of a nerve
        or runs into the brainstem or bone (points pushed out smoothly). A route that fails the
        final checks (`_problem`) is drawn again.
        """
        why = ""
        for _ in range(attempts):
            wps, slots = make_waypoints()
            pts, fixed = self._assemble(wps, slots, mine, radius)
            if pts is None:
                why = f"{key} contact loop: {fixed}"
                continue
            for sigma in (2.0, 1.0):
                pts = self._repair(
                    _smoothed(pts, sigma, fixed), radius, skip_start, skip_end, fixed
                )
            for c in mine:
                pts = self._pull(c, pts, radius)
                if pts is None:
                    break
            if pts is None:
                why = f"{key}: the gap at the contact does not converge"
                continue
            vessel = Vessel(name, key, kind, pts, radius, side)
            problem = self._problem(vessel, mine, skip_start, skip_end)
            if problem is None:
                self.vessels[key] = vessel
                return vessel
            why = problem
        raise PhantomBuildError(f"could not route {key}: {why}")

    def _pull(self, contact: Contact, pts: np.ndarray, radius: float) -> np.ndarray | None:
        """Move the vessel towards (or away from) VII around its closest approach -- a smooth
        bump along the vessel -- until the gap there is the intended one (a small correction:
        the spline follows the contact arc closely)."""
        pts = pts.copy()
        s = _arclength(pts)
        for _ in range(12):
            found = self._closest(contact, pts, radius)
            if found is None:
                return None
            k, gap, e = found
            delta = gap - contact.gap
            if abs(delta) <= 0.5 * GAP_TOLERANCE_MM:
                return pts
            bump = np.exp(-(((s - s[k]) / 1.5) ** 2))
            bump[0] = bump[-1] = 0.0
            pts -= (delta * bump)[:, None] * e
        return None

    def _repair(
        self, pts: np.ndarray, r: float, skip_start: float, skip_end: float, fixed: np.ndarray
    ):
        """Push points out of the nerves' clearance, the brainstem and bone, smoothly along
        the vessel; the ends and the ``fixed`` points (contact loops) stay."""
        pts = pts.copy()
        s = _arclength(pts)
        fixed = fixed.copy()
        fixed[0] = fixed[-1] = True
        # pushes fade out over 1.5 mm towards fixed points (no kink where they meet)
        taper = np.clip(ndimage.distance_transform_edt(~fixed) * 0.2 / 1.5, 0.0, 1.0)[:, None]
        body = (s >= skip_start) & (s <= s[-1] - skip_end)
        end_zone = s > s[-1] - 6.0
        solids = self.base.solids
        checks: list[tuple[str, Shape, float, np.ndarray]] = [
            ("brainstem", self.base.brainstem, 0.6 * r + 0.1, body)
        ]
        for name, solid in solids.items():
            if name.startswith(("petrous", "clivus")):
                checks.append((name, solid, 0.4 * r + 0.1, body))
            elif name.startswith("cerebellum"):
                checks.append((name, solid, -0.3 * r, body & ~end_zone))
        for _ in range(60):
            push = np.zeros_like(pts)
            for nkey, (dense, dense_r, _ns) in self._dense.items():
                lo, hi = self._boxes[nkey]
                near = np.flatnonzero(np.all((pts >= lo - r) & (pts <= hi + r), axis=1))
                if len(near) == 0:
                    continue
                dist, idx = self._trees[nkey].query(pts[near])
                gap = dist - r - dense_r[idx]
                bad = gap < CLEARANCE_MM + 0.03
                if np.any(bad):
                    rows = near[bad]
                    away = pts[rows] - dense[idx[bad]]
                    away /= np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-9)
                    push[rows] += (CLEARANCE_MM + 0.1 - gap[bad])[:, None] * away
            for name, solid, need, where in checks:
                sd = solid.sdf(pts)
                bad = (sd < need) & where
                if name.startswith("petrous"):
                    bad &= solids[name.replace("petrous", "iam")].sdf(pts) > -0.2
                if np.any(bad):
                    push[bad] += (need + 0.1 - sd[bad])[:, None] * _gradient(solid, pts[bad])
            push[fixed] = 0.0
            if not np.any(push):
                break
            # spread each push smoothly along the vessel (no dents), keep the ends in place
            spread = ndimage.gaussian_filter1d(push, 2.0 / 0.2, axis=0, mode="constant")
            spread *= 0.7 * np.max(np.abs(push)) / max(np.max(np.abs(spread)), 1e-9)
            pts += spread * taper
        return pts

    def _problem(
        self, vessel: Vessel, mine: list[Contact], skip_start: float, skip_end: float
    ) -> str | None:
        """Why the routed vessel is not acceptable, or None."""
        pts, _, s = resample_polyline(vessel.points, np.zeros(len(vessel.points)), 0.05)
        r = vessel.radius
        body = (s >= skip_start) & (s <= s[-1] - skip_end)
        bend = np.linalg.norm(vessel.tube().curvature, axis=1).max()
        if bend * r > 1.3:  # the tube would fold deeply on the inside of the turn
            return f"{vessel.key} turns too tightly ({1 / bend:.2f} mm radius)"
        exempt = {k: np.zeros(len(pts), dtype=bool) for k in self.base.nerves}
        for c in mine:
            found = self._closest(c, pts, r)
            key = f"VII_{c.side}"
            gap, s_n = self._gap_to_nerve(key, pts, r)
            if found is None or abs(s_n[found[0]] - c.s_nerve) > 1.0:
                return f"{vessel.key} does not reach {key} where intended"
            if abs(found[1] - c.gap) > GAP_TOLERANCE_MM:
                return f"{vessel.key}: gap {found[1]:.3f} mm to {key} instead of {c.gap:.3f}"
            exempt[key] |= np.abs(s - s[found[0]]) <= 4.5
            n7 = self.base.nerves[key]
            k = found[0]
            tv = _unit(pts[min(k + 10, len(pts) - 1)] - pts[max(k - 10, 0)])
            tn = n7.tangent(n7.index_at(c.s_nerve))
            if abs(tv @ tn) > np.cos(np.radians(25.0)):
                return f"{vessel.key} runs along {key} instead of crossing it"
            if np.any(gap[exempt[key]] < found[1] - 0.005):
                return f"{vessel.key} comes closer to {key} than at the intended contact"
        for key in self.base.nerves:
            gap, _ = self._gap_to_nerve(key, pts, r)
            bad = (gap < CLEARANCE_MM - 0.02) & ~exempt[key]
            if np.any(bad):
                return f"{vessel.key} within {gap[bad].min():.2f} mm of {key}"
        bs = self.base.brainstem.sdf(pts[body])
        if np.any(bs < 0.5 * r):
            return f"{vessel.key} runs into the brainstem"
        end_zone = s[body] > s[-1] - 6.0
        for name, solid in self.base.solids.items():
            if name.startswith(("petrous", "clivus")):
                inside = solid.sdf(pts[body]) < 0.3 * r
                if name.startswith("petrous"):
                    iam = self.base.solids[name.replace("petrous", "iam")]
                    inside &= iam.sdf(pts[body]) > -0.2
                if np.any(inside):
                    return f"{vessel.key} runs into the {name}"
            if name.startswith("cerebellum"):
                if np.any((solid.sdf(pts[body]) < -0.5 * r) & ~end_zone):
                    return f"{vessel.key} runs through the {name}"
        return None

    def _into_cerebellum(
        self, side: str, p: np.ndarray, depth: float, heading: np.ndarray | None = None
    ) -> np.ndarray:
        """Where a vessel leaving ``p`` (going along ``heading``) ends, ``depth`` mm inside the
        cerebellum: it keeps its heading, turning gradually towards the hemisphere."""
        cb = self.base.solids[f"cerebellum_{side}"]
        assert isinstance(cb, Ellipsoid)
        q = p.copy()
        d = _unit(cb.centre - p) if heading is None else _unit(heading)
        for k in range(600):
            if k >= 30 and cb.sdf(q[None])[0] < -depth:
                return q
            d = _unit(d + 0.02 * _unit(cb.centre - q))
            q = q + 0.1 * d
        return q

    def _mine(self, vessel: str, side: str) -> list[Contact]:
        return [c for c in self.contacts if c.vessel == vessel and c.side == side]

    # -- the vessels -----------------------------------------------------------------------
    def route_all(self) -> None:
        b = self.base
        rng = self.rng
        u = rng.uniform
        z_j = u(-5.0, -2.0)
        x_j = u(-2.0, 2.0)
        r_ba = u(1.55, 1.8) * b.var.vessel_scale
        junction = np.array([x_j, b.front(x_j, z_j) + r_ba + u(0.6, 1.2), z_j])
        b.info["vb_junction"] = junction
        tort_side = SIDES[int(rng.integers(2))]
        tort = {s: 0.0 for s in SIDES}
        tort[tort_side] = u(0.0, 5.0)
        va_contact_sides = {c.side for c in self.contacts if c.vessel == "VA"}
        for s in va_contact_sides:
            tort[s] = max(tort[s], u(3.0, 5.0))
        b.info["va_tortuosity_mm"] = dict(tort)
        for side in SIDES:
            self._route_va(side, junction, tort[side])
        self._route_ba(junction, r_ba)
        for side in SIDES:
            self._route_pica(side)
            self._route_aica(side)
            self._route_sca(side)
            self._route_veins(side)

    def _route_va(self, side: str, junction: np.ndarray, tort: float) -> None:
        b, u, sg = self.base, self.rng.uniform, sigma_of(side)
        r = u(1.4, 1.95) * b.var.vessel_scale
        mine = self._mine("VA", side)

        def make():
            zs = [-48.0, -32.0, -20.0, -10.0]
            phis = [u(80, 95), u(60, 75), u(45, 60), u(30, 45)]
            offs = [r + u(0.8, 2.5), r + u(0.8, 2.0), r + u(0.6, 1.5) + tort, r + u(0.5, 1.2)]
            pts, _ = b.surface(zs, phis, sg, offs)
            wps = list(pts)
            slots = {}
            if mine:
                wps.append(np.zeros(3))  # the contact slot
                slots[len(wps) - 1] = 0
                wps.append(b.surface(junction[2] - 2.0, 25.0, sg, r + 0.8)[0][0])
            wps.append(junction)
            return wps, slots

        self._route("VA", f"VA_{side}", "artery", side, r, make, mine, skip_end=4.0)

    def _route_ba(self, junction: np.ndarray, r: float) -> None:
        b, u = self.base, self.rng.uniform

        def make():
            # In front of the pons, following the envelope of its anterior surface (the
            # artery does not dip into the pontomedullary sulcus).
            bow = u(-3.0, 3.0)
            gap = u(0.5, 1.4)
            z = np.arange(junction[2], 45.0, 1.0)
            frac = (z - junction[2]) / (45.0 - junction[2])
            x = junction[0] * (1 - frac) + bow * np.sin(np.pi * frac)
            front = np.atleast_1d(b.front(x, z))
            envelope = ndimage.maximum_filter1d(front, 13, mode="nearest")
            envelope = ndimage.gaussian_filter1d(envelope, 3.0, mode="nearest")
            y = np.maximum(envelope, front) + r + gap
            pts = np.column_stack([x, y, z])[::3]
            pts[0] = junction
            return list(pts), {}

        self._route("BA", "BA", "artery", None, r, make, [], skip_start=0.0)

    def _on_vessel(self, key: str, z: float) -> np.ndarray:
        pts = self.vessels[key].points
        return pts[int(np.argmin(np.abs(pts[:, 2] - z)))]

    def _route_pica(self, side: str) -> None:
        b, u, sg = self.base, self.rng.uniform, sigma_of(side)
        r = u(0.6, 0.9) * b.var.vessel_scale
        mine = self._mine("PICA", side)
        swing = b.var.course_mm
        z_e = b.nerves[f"VII_{side}"].points[b.nerves[f"VII_{side}"].marks["RExP"], 2]
        behind_ix = f"IX_{side}" in b.nerves

        def make():
            z_o = u(-24.0, -16.0)
            origin = self._on_vessel(f"VA_{side}", z_o)
            p1 = b.surface(z_o + u(0, 3), u(65, 80), sg, r + u(1.0, 2.5))[0][0]
            z2 = 0.5 * (z_o + z_e)
            p2 = b.surface(z2 + u(-2, 2), u(90, 110), sg, r + u(1.5, 3.5) + swing)[0][0]
            # behind the IX/X rootlets when they are drawn (they leave at this height)
            z3 = z_e - u(3.0, 6.0)
            phi3 = u(118, 132) if behind_ix else u(95, 115)
            p3 = b.surface(z3, phi3, sg, r + u(0.8, 2.0) + swing)[0][0]
            p4 = np.array([sg * u(7.0, 10.0), -u(9.0, 12.0), z_e - u(5.0, 9.0)])
            end = self._into_cerebellum(side, p4, 1.5, p4 - p3)
            wps = [origin, p1, p2, p3, p4, end]
            slots = {}
            if mine:
                wps = [origin, p1, p2, np.zeros(3), p4, end]
                slots = {3: 0}
            return wps, slots

        self._route("PICA", f"PICA_{side}", "artery", side, r, make, mine, skip_end=3.0)

    def _route_aica(self, side: str) -> None:
        b, u, sg = self.base, self.rng.uniform, sigma_of(side)
        mine = self._mine("AICA", side)
        r = (u(0.55, 1.0) if mine else u(0.5, 0.9)) * b.var.vessel_scale
        swing = b.var.course_mm
        n7, n8 = b.nerves[f"VII_{side}"], b.nerves[f"VIII_{side}"]

        def below(nerve: Nerve, frac: float, extra: float) -> np.ndarray:
            s0, s1 = nerve.s_of("RDP"), nerve.s_of("porus")
            i = nerve.index_at(s0 + frac * (s1 - s0))
            t = nerve.tangent(i)
            down = _perp(np.array([0.0, -0.3, -1.0]), t)
            return nerve.points[i] + down * (nerve.radii[i] + r + extra)

        def make():
            z_o = b.info["vb_junction"][2] + u(2.0, 6.0)
            origin = self._on_vessel("BA", z_o)
            z_rexp = n7.points[n7.marks["RExP"], 2]
            q1 = b.surface(z_rexp - u(2.5, 4.0), u(35, 50), sg, r + u(0.8, 1.8))[0][0]
            q2 = below(n8, u(0.25, 0.5), u(1.0, 3.0) + swing)
            porus = b.info[f"porus_{side}"]
            a_iam = b.info[f"iam_axis_{side}"]
            q3 = below(n8, 1.0, u(0.8, 1.8) + swing) + a_iam * u(-1.5, 1.0)
            q4 = porus + np.array([-sg * u(4.0, 7.0), -u(6.0, 9.0), -u(1.0, 3.0)])
            end = self._into_cerebellum(side, q4, 1.5, q4 - q3)
            wps = [origin, q1, q2, q3, q4, end]
            slots = {}
            for k, c in enumerate(mine):
                if c.d_from_rdp >= 6.0:
                    slots[3] = k
                else:
                    slots[2] = k
            return wps, slots

        self._route("AICA", f"AICA_{side}", "artery", side, r, make, mine, skip_end=3.0)

    def _route_sca(self, side: str) -> None:
        b, u, sg = self.base, self.rng.uniform, sigma_of(side)
        r = u(0.65, 0.85) * b.var.vessel_scale
        swing = b.var.course_mm
        n5 = b.nerves[f"V_{side}"]
        z5 = n5.points[n5.marks["RExP"], 2]

        def make():
            z_o = min(b.zp + b.pons.radii[2] - u(0.0, 2.0), 40.0)
            origin = self._on_vessel("BA", z_o)
            z_l = z5 + n5.radius0 + r + u(2.5, 7.0)
            s1 = b.surface(z_o - 0.5, u(30, 45), sg, r + u(0.6, 1.5))[0][0]
            s2 = b.surface(z_l, u(80, 95), sg, r + u(0.6, 1.5) + swing)[0][0]
            s3 = b.surface(z_l - u(0.0, 2.0), u(120, 140), sg, r + u(0.8, 2.0))[0][0]
            end = self._into_cerebellum(side, s3, 1.5, s3 - s2)
            return [origin, s1, s2, s3, end], {}

        self._route("SCA", f"SCA_{side}", "artery", side, r, make, [], skip_end=3.0)

    def _route_veins(self, side: str) -> None:
        b, u, sg = self.base, self.rng.uniform, sigma_of(side)
        n7 = b.nerves[f"VII_{side}"]
        n5 = b.nerves[f"V_{side}"]
        z_rdp = n7.points[n7.marks["RDP"], 2]
        z5 = n5.points[n5.marks["RExP"], 2]
        porus = b.info[f"porus_{side}"]

        r_sp = u(0.4, 0.5) * b.var.vessel_scale

        def make_sp():
            start = b.surface(0.5 * (z_rdp + z5) + u(-1, 1), u(110, 125), sg, -0.5)[0][0]
            p1 = b.surface(0.5 * (z_rdp + z5) + u(0, 2), u(105, 120), sg, r_sp + u(1.0, 2.0))[0][0]
            sinus = porus + np.array([sg * u(-1.0, 2.0), u(1.0, 4.0), u(7.0, 9.0)])
            mid = 0.5 * (p1 + sinus) + np.array([0.0, -u(0.0, 2.0), u(0.0, 2.0)])
            return [start, p1, mid, sinus], {}

        self._route("vein", f"vein_sp_{side}", "vein", side, r_sp, make_sp, [], 1.0, 4.0)

        r_tp = u(0.3, 0.45) * b.var.vessel_scale

        def make_tp():
            z = z_rdp + u(2.0, 4.0)
            phis = np.linspace(u(0, 10), u(65, 75), 6)
            pts, _ = b.surface(np.full(6, z) + np.linspace(0, u(-1, 1), 6), phis, sg, 0.95 * r_tp)
            dive = b.surface(z, phis[-1] + 6.0, sg, -1.0)[0][0]
            return list(pts) + [dive], {}

        self._route("vein", f"vein_tp_{side}", "vein", side, r_tp, make_tp, [], 0.0, 2.0)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def _new_base(
    rng: np.random.Generator,
    seed: int,
    variation: Variation | None = None,
    rng_lower: np.random.Generator | None = None,
) -> _Base:
    why = ""
    for _ in range(40):
        base = _Base(rng, variation)
        for s in SIDES:
            base.build_facial_pair(s)
            base.build_trigeminal(s)
        base.build_context()
        why = base.check() or ""
        if not why and rng_lower is not None:
            why = build_lower_nerves(base, rng_lower) or ""
        if not why:
            return base
    raise PhantomBuildError(f"no usable base anatomy for seed {seed}: {why}")


def build_anatomy(
    scenario: str,
    side: str,
    seed: int,
    variation: Variation | None = None,
    lower_nerves: bool = False,
) -> Anatomy:
    """Random anatomy of ``seed`` with the nerve-vessel relations of ``scenario`` on ``side``,
    with the departures of ``variation`` (none by default); with ``lower_nerves`` also IX, X and
    VI of both sides (`build_lower_nerves`, drawn from a stream of their own: the rest of the
    base anatomy is that of the seed without them unless they do not fit it; the vessels are
    routed around them).

    Raises
    ------
    PhantomBuildError
        When no geometry satisfying the constraints is found (a bug, not a user error).
    """
    seeds = np.random.SeedSequence(seed).spawn(4)
    rng_base = np.random.default_rng(seeds[0])
    rng_scen = np.random.default_rng(seeds[1])
    rng_vessels = np.random.default_rng(seeds[2])
    rng_lower = np.random.default_rng(seeds[3]) if lower_nerves else None
    why = ""
    for _ in range(6):  # a new base anatomy when the scenario does not fit this one
        base = _new_base(rng_base, seed, variation, rng_lower)
        pristine = {k: (n.points.copy(), n.radii.copy()) for k, n in base.nerves.items()}
        for _ in range(6):
            for k, (pts, radii) in pristine.items():
                base.nerves[k].points, base.nerves[k].radii = pts.copy(), radii.copy()
            contacts = plan_contacts(scenario, side, rng_scen)
            try:
                for c in contacts:
                    n7 = base.nerves[f"VII_{c.side}"]
                    c.s_nerve = n7.s_of("RDP") + c.d_from_rdp
                    _choose_arc(c, base, rng_scen)
                    if c.grade in ("indentation", "displacement"):
                        _deform_nerve(n7, c, base.nerves[f"VIII_{c.side}"])
                        c.s_nerve = n7.s_of("RDP") + c.d_from_rdp
                        problem = _deformed_problem(base, n7)
                        if problem:
                            raise PhantomBuildError(problem)
                        _choose_arc(c, base, rng_scen, keep_direction=True)
                router = _Router(base, contacts, rng_vessels)
                router.route_all()
                break
            except PhantomBuildError as exc:
                why = str(exc)
        else:
            continue
        break
    else:
        raise PhantomBuildError(f"no geometry for {scenario!r} with seed {seed}: {why}")
    return Anatomy(
        brainstem=base.brainstem,
        solids=base.solids,
        nerves=base.nerves,
        vessels=router.vessels,
        contacts=contacts,
        info={**base.info, "tilt": base.tilt, "pons": base.pons},
    )


# --------------------------------------------------------------------------------------------
# Measurements on the final geometry (the ground truth)
# --------------------------------------------------------------------------------------------
@dataclass
class Measured:
    gap_mm: float
    nerve_point: np.ndarray  # closest nerve-surface point (local mm)
    vessel_point: np.ndarray  # closest vessel-surface point
    s_nerve: float  # arclength of the nerve's closest centreline point
    crossing_angle_deg: float
    direction: np.ndarray  # unit, nerve centreline -> vessel centreline at the closest points
    vessel_diameter_mm: float


def measure_contact(nerve: Nerve, vessel: Vessel, s_centre: float, window: float = 2.5) -> Measured:
    """Closest approach of ``vessel`` to ``nerve`` within ``window`` mm of ``s_centre``."""
    n_pts, n_r, n_s = resample_polyline(nerve.points, nerve.radii, 0.02)
    v_pts, _, _ = resample_polyline(vessel.points, np.zeros(len(vessel.points)), 0.02)
    sel = np.abs(n_s - s_centre) <= window
    dist, j = cKDTree(v_pts).query(n_pts[sel])
    gap = dist - n_r[sel] - vessel.radius
    k = int(np.argmin(gap))
    i = int(np.flatnonzero(sel)[k])
    c, v = n_pts[i], v_pts[j[k]]
    e = _unit(v - c)
    t_n = _unit(n_pts[min(i + 5, len(n_pts) - 1)] - n_pts[max(i - 5, 0)])
    jj = int(j[k])
    t_v = _unit(v_pts[min(jj + 5, len(v_pts) - 1)] - v_pts[max(jj - 5, 0)])
    angle = float(np.degrees(np.arccos(np.clip(abs(t_n @ t_v), 0.0, 1.0))))
    return Measured(
        gap_mm=float(gap[k]),
        nerve_point=c + e * n_r[i],
        vessel_point=v - e * vessel.radius,
        s_nerve=float(n_s[i]),
        crossing_angle_deg=angle,
        direction=e,
        vessel_diameter_mm=2.0 * vessel.radius,
    )


def min_gap(nerve: Nerve, vessel: Vessel) -> float:
    """Smallest surface gap (mm) between a nerve and a vessel anywhere."""
    gap = _tube_gap_profile(nerve.points, nerve.radii, vessel.points, vessel.radius)
    return float(gap.min())
