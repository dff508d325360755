"""The phantom's robustness factors do what they say: contrast remapping, coil shading, slab
coverage, TOF misregistration, calibres and courses; bad values are refused by name.

Measured on the rendered images and the exported geometry, on small grids (0.8 mm, 2 sub-samples
per axis, no noise): a few seconds each.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from nvc_viewer.phantom import CLEARANCE_MM, LOWER_NERVES, lower_nerve_mask, make_phantom

SMALL = {"shape": (64, 64, 40), "spacing_mm": 0.8, "supersample": 2, "snr": None}


def _interior(labels: np.ndarray, value: int, iterations: int = 1) -> np.ndarray:
    return ndimage.binary_erosion(labels == value, iterations=iterations)


def _dense(points: np.ndarray, step: float = 0.05) -> np.ndarray:
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    t = np.arange(0.0, s[-1], step)
    return np.stack([np.interp(t, s, points[:, a]) for a in range(3)], axis=1)


def test_defaults_record_no_factor_and_a_factor_is_recorded():
    plain = make_phantom("contact", seed=0, shape=(8, 8, 8), supersample=1)
    assert "factors" not in plain.params
    shaded = make_phantom("contact", seed=0, shape=(8, 8, 8), supersample=1, bias_field=0.2)
    assert shaded.params["factors"] == {"bias_field": 0.2}
    # the anatomy is the same: only the shading differs
    np.testing.assert_array_equal(shaded.labels.data, plain.labels.data)


@pytest.mark.parametrize("ratio", [2.5, 4.0])
def test_t2_contrast_gives_the_asked_csf_to_brainstem_ratio(ratio):
    ph = make_phantom(
        "contact", seed=0, bias_field=0.0, t2_contrast={"brainstem": 1.0 / ratio}, **SMALL
    )
    t2, lab = ph.t2.data, ph.labels.data
    csf = np.median(t2[_interior(lab, 2, 2)])
    brainstem = np.median(t2[_interior(lab, 1, 2)])
    # the brainstem's texture varies by a few per cent around its level
    assert csf / brainstem == pytest.approx(ratio, rel=0.05)


def test_t2_contrast_can_make_vessels_brighter_than_nerves_and_darker():
    def artery_over_nerve(t2_contrast):
        ph = make_phantom("contact", seed=0, bias_field=0.0, t2_contrast=t2_contrast, **SMALL)
        t2, lab = ph.t2.data, ph.labels.data
        # voxels mostly of one tissue: the basilar/vertebral core and the thick VIII/V roots
        artery = np.median(t2[_interior(lab, 6)])
        nerve = np.median(t2[np.isin(lab, (4, 5))])
        return artery / nerve

    assert artery_over_nerve({"nerve": 0.2, "artery": 0.5}) > 1.3
    assert artery_over_nerve({"nerve": 0.35, "artery": 0.08}) < 0.6


def test_tof_contrast_sets_the_background_and_arteries():
    ph = make_phantom(
        "contact",
        seed=0,
        bias_field=0.0,
        tof_misregistration=False,
        tof_spacing_mm=0.8,
        tof_contrast={"artery": 1.0, "background": 0.35},
        **SMALL,
    )
    lab = ph.labels.data
    # the TOF of the brainstem's core, found through the T2 labels (no motion between them)
    ras = ph.labels.ras_of(np.argwhere(_interior(lab, 1, 2)))
    ijk = np.rint(ph.tof.ijk_of(ras)).astype(int)
    ok = np.all((ijk >= 0) & (ijk < np.asarray(ph.tof.shape)), axis=1)
    background = np.median(ph.tof.data[tuple(ijk[ok].T)])
    assert background == pytest.approx(0.35, rel=0.08)
    assert ph.params["intensities_tof"]["brainstem"] == 0.35
    assert np.max(ph.tof.data) > 0.7  # arteries stay bright


def test_bias_field_shades_smoothly_without_changing_the_anatomy():
    flat = make_phantom("contact", seed=0, bias_field=0.0, **SMALL)
    shaded = make_phantom("contact", seed=0, bias_field=0.2, **SMALL)
    np.testing.assert_array_equal(flat.labels.data, shaded.labels.data)
    inside = flat.t2.data > 0.2
    ratio = shaded.t2.data[inside] / flat.t2.data[inside]
    assert ratio.max() - ratio.min() > 0.1  # a real shading ...
    full = np.ones(flat.t2.shape)
    full[inside] = ratio
    for axis in range(3):
        both = np.logical_and(np.delete(inside, 0, axis=axis), np.delete(inside, -1, axis=axis))
        step = np.abs(np.diff(full, axis=axis))[both]
        assert step.max() < 0.02  # ... smooth: under 2 % from one voxel to the next


def test_slab_without_the_trigeminal_keeps_vii_and_viii():
    with_v = make_phantom("contact", seed=0, bias_field=0.0, **SMALL)
    without = make_phantom("contact", seed=0, bias_field=0.0, include_v=False, **SMALL)
    assert np.count_nonzero(with_v.labels.data == 5) > 0
    assert np.count_nonzero(without.labels.data == 5) == 0
    for label in (3, 4):
        assert np.count_nonzero(without.labels.data == label) > 0.8 * np.count_nonzero(
            with_v.labels.data == label
        )
    # the slab moved towards the feet along its slice normal; the TOF kept its offset
    shift = without.params["factors"]["slab_shift_mm"]
    assert shift > 0
    moved = without.t2.affine[:3, 3] - with_v.t2.affine[:3, 3]
    np.testing.assert_allclose(moved, [0.0, 0.0, -shift], atol=1e-3)
    np.testing.assert_allclose(
        without.tof.affine[:3, 3] - with_v.tof.affine[:3, 3], moved, atol=1e-6
    )


@pytest.mark.parametrize("mm", [0.0, 2.0])
def test_tof_misregistration_of_an_asked_size(mm):
    ph = make_phantom("contact", seed=0, shape=(8, 8, 8), supersample=1, tof_misregistration=mm)
    motion = np.asarray(ph.params["tof_motion"])
    rotation = np.degrees(np.arccos(np.clip((np.trace(motion[:3, :3]) - 1) / 2, -1, 1)))
    assert rotation == pytest.approx(mm, abs=1e-3)
    # the grid centre (the pivot) moves by exactly the asked shift
    centre = ph.t2.ras_of((np.asarray(ph.t2.shape) - 1) / 2.0)
    moved = motion[:3, :3] @ centre + motion[:3, 3]
    assert np.linalg.norm(moved - centre) == pytest.approx(mm, abs=1e-3)


def test_calibres_scale_the_nerves_and_vessels():
    ph = make_phantom(
        "contact", seed=0, shape=(8, 8, 8), supersample=1, nerve_scale=1.3, vessel_scale=0.7
    )
    r7 = max(ph.radii["VII_left"].max(), ph.radii["VII_right"].max())
    assert 0.55 * 1.3 - 1e-6 <= r7 <= 0.6 * 1.3 + 1e-6
    r5 = ph.radii["V_left"].max()
    assert 1.2 * 1.3 - 1e-6 <= r5 <= 1.3 * 1.3 + 1e-6
    ba = ph.radii["BA"].max()
    assert 1.55 * 0.7 - 1e-6 <= ba <= 1.8 * 0.7 + 1e-6
    # the scenario still holds: the left facial nerve is touched by a vessel
    nerve = _dense(ph.centrelines["VII_left"])
    gaps = []
    for key, line in ph.centrelines.items():
        if key.split("_")[0] in ("VII", "VIII", "V"):
            continue
        dist, _ = cKDTree(_dense(line)).query(nerve)
        gaps.append(dist.min() - r7 - ph.radii[key].max())
    assert min(gaps) < 0.1


def test_course_bows_the_facial_nerve_further():
    def bow(course_mm):
        ph = make_phantom("no_contact", seed=2, shape=(8, 8, 8), supersample=1, course_mm=course_mm)
        line = _dense(ph.centrelines["VII_left"], 0.1)
        rdp = next(
            np.asarray(m["position_ras"])
            for m in ph.truth["landmarks"]
            if (m["name"], m["nerve"], m["side"]) == ("RDP", "VII", "left")
        )
        start = int(np.argmin(np.linalg.norm(line - rdp, axis=1)))
        free = line[start : start + 100]  # the first 10 mm of the free course
        chord = (free[-1] - free[0]) / np.linalg.norm(free[-1] - free[0])
        off = (free - free[0]) - np.outer((free - free[0]) @ chord, chord)
        return np.linalg.norm(off, axis=1).max()

    assert bow(2.0) > bow(0.0) + 0.5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"t2_contrast": {"brainstem": -0.1}}, "t2_contrast"),
        ({"t2_contrast": {"pons": 0.3}}, "t2_contrast"),
        ({"t2_contrast": 0.3}, "t2_contrast"),
        ({"tof_contrast": {"artery": "bright"}}, "tof_contrast"),
        ({"bias_field": 0.9}, "bias_field"),
        ({"tof_misregistration": -1.0}, "tof_misregistration"),
        ({"include_v": "no"}, "include_v"),
        ({"nerve_scale": 0.1}, "nerve_scale"),
        ({"vessel_scale": 3.0}, "vessel_scale"),
        ({"course_mm": 9.0}, "course_mm"),
        ({"lower_nerves": "yes"}, "lower_nerves"),
    ],
)
def test_bad_factors_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_phantom("contact", seed=0, shape=(8, 8, 8), supersample=1, **kwargs)


# --- the other cranial nerves near the CPA (lower_nerves=True) ------------------------------
@pytest.fixture(scope="module")
def lower():
    """The same case without and with IX, X and VI (small grid)."""
    kwargs = {**SMALL, "bias_field": 0.0}
    return (
        make_phantom("contact", seed=0, **kwargs),
        make_phantom("contact", seed=0, lower_nerves=True, **kwargs),
    )


def _landmark(ph, name: str, nerve: str, side: str) -> np.ndarray:
    return next(
        np.asarray(m["position_ras"])
        for m in ph.truth["landmarks"]
        if (m["name"], m["nerve"], m["side"]) == (name, nerve, side)
    )


def _surface_gap(ph, a: str, b: str) -> float:
    """Smallest surface gap (mm) between two tubes of the truth."""
    pa, pb = _dense(ph.centrelines[a]), _dense(ph.centrelines[b])
    ra = np.interp(np.linspace(0, 1, len(pa)), np.linspace(0, 1, len(ph.radii[a])), ph.radii[a])
    dist, idx = cKDTree(pb).query(pa)
    rb = np.interp(idx / max(len(pb) - 1, 1), np.linspace(0, 1, len(ph.radii[b])), ph.radii[b])
    return float(np.min(dist - ra - rb))


def test_lower_nerves_off_by_default_and_recorded_when_on(lower):
    plain, ph = lower
    assert not any(k.split("_")[0] in LOWER_NERVES for k in plain.centrelines)
    assert "lower_nerves" not in plain.params
    assert not lower_nerve_mask(plain).any()
    assert ph.params["factors"] == {"bias_field": 0.0, "lower_nerves": True}
    keys = {f"{n}_{s}" for n in LOWER_NERVES for s in ("left", "right")}
    assert keys <= set(ph.centrelines) and keys <= set(ph.radii)
    assert set(ph.params["lower_nerves"]) == keys
    # the base anatomy of the seed is kept: the same roots V, VII and VIII
    for key in ("VII_left", "VII_right", "VIII_left", "V_right"):
        np.testing.assert_array_equal(ph.centrelines[key], plain.centrelines[key])
    # no label of their own: the label table is unchanged
    assert set(np.unique(ph.labels.data)) <= set(range(8))


@pytest.mark.parametrize("side", ["left", "right"])
def test_ix_and_x_leave_below_vii_and_run_to_the_jugular_foramen(lower, side):
    ph = lower[1]
    rexp7 = _landmark(ph, "RExP", "VII", side)
    sg = -1.0 if side == "left" else 1.0
    info = ph.params["lower_nerves"]
    for nerve, (r_lo, r_hi) in (("IX", (0.44, 0.56)), ("X", (0.74, 0.96))):
        key = f"{nerve}_{side}"
        exit_pt, end = np.asarray(info[key]["exit_ras"]), np.asarray(info[key]["end_ras"])
        below = rexp7[2] - exit_pt[2]
        assert 2.0 <= below <= 6.0 and info[key]["exit_below_vii_rexp_mm"] == pytest.approx(
            below, abs=1e-3
        )
        assert info[key]["end"] == "jugular foramen" and info[key]["label"] == 0
        assert r_lo <= ph.radii[key].max() <= r_hi
        # from the lateral medulla, laterally, forward and down
        assert sg * exit_pt[0] > 4.0
        assert sg * (end[0] - exit_pt[0]) > 8.0
        assert end[1] - exit_pt[1] > 3.0  # RAS y: anterior
        assert exit_pt[2] - end[2] > 4.0
        # the foramen lies below the internal acoustic porus (VII's course there)
        assert end[2] < ph.centrelines[f"VII_{side}"][:, 2].min() - 3.0
    # X leaves below IX, and they join in the foramen
    ix, x = (np.asarray(info[f"{n}_{side}"]["exit_ras"]) for n in ("IX", "X"))
    assert x[2] < ix[2]
    ends = [np.asarray(info[f"{n}_{side}"]["end_ras"]) for n in ("IX", "X")]
    gap_end = (
        np.linalg.norm(ends[0] - ends[1]) - ph.radii[f"IX_{side}"][0] - ph.radii[f"X_{side}"][0]
    )
    assert gap_end < 0.5
    assert _surface_gap(ph, f"IX_{side}", f"X_{side}") < 0.5


@pytest.mark.parametrize("side", ["left", "right"])
def test_vi_leaves_next_to_the_midline_and_climbs_the_clivus(lower, side):
    ph = lower[1]
    rexp7 = _landmark(ph, "RExP", "VII", side)
    sg = -1.0 if side == "left" else 1.0
    info = ph.params["lower_nerves"][f"VI_{side}"]
    exit_pt, end = np.asarray(info["exit_ras"]), np.asarray(info["end_ras"])
    assert info["end"] == "clivus"
    assert 3.0 - 1e-6 <= sg * exit_pt[0] <= 6.0  # beside the midline, on its own side
    assert sg * exit_pt[0] < sg * rexp7[0] - 1.0  # medial of the facial root exit
    assert abs(exit_pt[2] - rexp7[2]) < 2.0  # the pontomedullary sulcus
    assert exit_pt[1] > rexp7[1]  # anterior
    assert end[2] - exit_pt[2] > 9.0  # up ...
    assert end[1] - exit_pt[1] > 5.0  # ... in front of the pons
    line = ph.centrelines[f"VI_{side}"]
    start = int(np.argmin(np.linalg.norm(line - exit_pt, axis=1)))
    assert line[start:, 2].min() > exit_pt[2] - 0.3  # from its exit on, never down
    assert 0.29 <= ph.radii[f"VI_{side}"].max() <= 0.46


def test_lower_nerves_collide_with_nothing(lower):
    ph = lower[1]
    lower_keys = [k for k in ph.centrelines if k.split("_")[0] in LOWER_NERVES]
    vessels = [k for k in ph.params["vessel_radius_mm"]]
    for key in lower_keys:
        for vessel in vessels:
            assert _surface_gap(ph, key, vessel) > CLEARANCE_MM - 0.05, (key, vessel)
        for other in ("VII", "VIII", "V"):
            for side in ("left", "right"):
                assert _surface_gap(ph, key, f"{other}_{side}") > 0.45, (key, other, side)
    for a in lower_keys:
        for b in lower_keys:
            if a < b and {a.split("_")[0], b.split("_")[0]} != {"IX", "X"}:
                assert _surface_gap(ph, a, b) > 0.45, (a, b)


def test_lower_nerves_are_dark_unlabelled_roots(lower):
    plain, ph = lower
    mask = lower_nerve_mask(ph)
    assert mask.sum() > 50
    labels = ph.labels.data[mask]
    # no other structure's label lands on them; where they fill a voxel it is background
    assert not np.isin(labels, (3, 4, 5, 6, 7)).any()
    assert np.mean(labels == 0) > 0.6
    # dark on the T2 where the thick X fills the voxel (CSF about 1)
    assert np.median(ph.t2.data[mask & (ph.labels.data == 0)]) < 0.45
    # the truth elsewhere is unchanged where no vessel was moved around them
    changed = plain.labels.data != ph.labels.data
    assert np.mean(changed) < 0.02
