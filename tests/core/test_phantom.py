"""The CPA phantom: deterministic, each scenario has the geometry it claims, the DICOM and NIfTI
forms agree, and its truth is a valid findings document.

Geometry is measured here, on the phantom's output (the exported centrelines and radii in RAS mm,
and the label map), with this file's own tube-distance code; the builder's intended parameters
are never read back. Each phantom is rendered once per module, small (0.8 mm voxels, 2
sub-samples per axis): the relations are analytic, the label map only has to place them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

import nvc_viewer
from nvc_viewer.findings import read_findings_json, validate_findings_dict
from nvc_viewer.io import load_case
from nvc_viewer.phantom import PHANTOM_PATIENT, SCENARIOS, Phantom, make_phantom, write_case

#: Small grid: both cerebellopontine angles at 0.8 mm.
SHAPE = (80, 80, 48)
SPACING_MM = 0.8
SUPERSAMPLE = 2

#: Scenario -> (side, seed). Both sides occur; no_contact and displacement share side and seed,
#: so the undisplaced nerve of that anatomy is known.
CASES = {
    "no_contact": ("right", 0),
    "subvoxel_gap": ("left", 1),
    "contact": ("left", 0),
    "contact_right": ("right", 0),
    "indentation": ("left", 2),
    "displacement": ("right", 0),
    "sandwich": ("left", 0),
    "two_offenders": ("right", 0),
    "asymptomatic_contact": ("left", 0),
    "distal_cisternal": ("right", 0),
}

#: A surface gap below this is a contact (the builder aims at a hair of overlap).
TOUCH_MM = 0.1
#: Nothing that is not an intended relation comes closer than this to a nerve.
CLEAR_MM = 0.5
#: Sign of x_RAS on each side (RAS: +x is the patient's right; the midline is x = 0).
SIGN = {"left": -1.0, "right": 1.0}


def _build(scenario: str, side: str, seed: int, **kwargs) -> Phantom:
    args = {"shape": SHAPE, "spacing_mm": SPACING_MM, "supersample": SUPERSAMPLE, **kwargs}
    return make_phantom(scenario, side=side, seed=seed, **args)


@pytest.fixture(scope="module")
def phantoms():
    """Build each case of `CASES` on first use, once per module."""
    cache: dict[str, Phantom] = {}

    def get(name: str) -> Phantom:
        if name not in cache:
            side, seed = CASES[name]
            cache[name] = _build(name.removesuffix("_right"), side, seed)
        return cache[name]

    return get


# --------------------------------------------------------------------------------------------
# Measurements on the exported geometry (this file's own code)
# --------------------------------------------------------------------------------------------
def _dense(points: np.ndarray, values: np.ndarray, step: float = 0.05):
    """Points (and a value per point) every ``step`` mm along a polyline, with arclengths."""
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    t = np.arange(0.0, s[-1] + step / 2, step)
    pts = np.stack([np.interp(t, s, points[:, a]) for a in range(3)], axis=1)
    return pts, np.interp(t, s, values), t


def _vessels(ph: Phantom) -> list[str]:
    return [k for k in ph.centrelines if k.split("_")[0] not in ("VII", "VIII", "V")]


def _approach(ph: Phantom, nerve: str, vessel: str) -> dict:
    """Closest approach of a vessel tube to a nerve tube (surface gap in mm, RAS points)."""
    n_pts, n_r, n_s = _dense(ph.centrelines[nerve], ph.radii[nerve])
    v_pts, v_r, _ = _dense(ph.centrelines[vessel], ph.radii[vessel])
    dist, j = cKDTree(v_pts).query(n_pts)
    gaps = dist - n_r - v_r[j]
    i = int(np.argmin(gaps))
    axis_n, axis_v = n_pts[i], v_pts[j[i]]
    e = (axis_v - axis_n) / np.linalg.norm(axis_v - axis_n)
    tangent = n_pts[min(i + 10, len(n_pts) - 1)] - n_pts[max(i - 10, 0)]
    tangent /= np.linalg.norm(tangent)
    across = e - (e @ tangent) * tangent
    return {
        "vessel": vessel,
        "gap": float(gaps[i]),
        "s": float(n_s[i]),
        "point": 0.5 * ((axis_n + e * n_r[i]) + (axis_v - e * v_r[j[i]])),
        "across": across / np.linalg.norm(across),
        "gaps": gaps,
    }


def _approaches(ph: Phantom, nerve: str) -> list[dict]:
    """Every vessel's closest approach to ``nerve``, closest first."""
    return sorted((_approach(ph, nerve, v) for v in _vessels(ph)), key=lambda a: a["gap"])


def _touching(ph: Phantom, nerve: str) -> list[dict]:
    return [a for a in _approaches(ph, nerve) if a["gap"] < TOUCH_MM]


def _arclength_from(ph: Phantom, nerve: str, position_ras, s: float) -> float:
    """Arclength (mm) along ``nerve`` from the centreline point nearest ``position_ras`` to
    the arclength ``s`` (as `_approach` gives it)."""
    n_pts, _, n_s = _dense(ph.centrelines[nerve], ph.radii[nerve])
    k = int(np.argmin(np.linalg.norm(n_pts - np.asarray(position_ras), axis=1)))
    return s - float(n_s[k])


def _landmark(ph: Phantom, name: str, side: str, nerve: str = "VII") -> np.ndarray:
    (lm,) = [
        m
        for m in ph.truth["landmarks"]
        if (m["name"], m["side"], m["nerve"]) == (name, side, nerve)
    ]
    return np.asarray(lm["position_ras"])


def _label_contact_ras(ph: Phantom) -> np.ndarray:
    """RAS mm of facial-nerve voxels that touch a vessel voxel (26-neighbourhood)."""
    lab = ph.labels.data
    vessel = ndimage.binary_dilation(np.isin(lab, (6, 7)), structure=np.ones((3, 3, 3)))
    ijk = np.argwhere((lab == 3) & vessel)
    return ph.labels.ras_of(ijk) if len(ijk) else np.zeros((0, 3))


def _check_side(point: np.ndarray, side: str) -> None:
    # the brainstem midline of the phantom is x = 0 (RAS)
    assert np.sign(point[0]) == SIGN[side], f"conflict at x = {point[0]:.1f} mm, not {side}"


def _check_label_contact(ph: Phantom, point: np.ndarray) -> None:
    """The label map puts a VII voxel against a vessel voxel within 2 mm of ``point``."""
    near = np.linalg.norm(_label_contact_ras(ph) - point, axis=1)
    assert near.size and near.min() < 2.0, "the label map shows no VII-vessel contact there"


def _check_truth_has(ph: Phantom, hit: dict, side: str, grade: str) -> None:
    """The truth document records this relation, at this place (within 1 mm)."""
    match = [
        f
        for f in ph.truth["findings"]
        if f["side"] == side
        and f["grade"] == grade
        and np.linalg.norm(np.asarray(f["position_ras"]) - hit["point"]) < 1.0
    ]
    assert match, f"truth has no {grade} finding at {np.round(hit['point'], 1)} ({side})"


# --------------------------------------------------------------------------------------------
# (a) determinism
# --------------------------------------------------------------------------------------------
def _digest(ph: Phantom) -> dict[str, str]:
    return {
        k: hashlib.sha256(np.ascontiguousarray(v.data).tobytes()).hexdigest()
        for k, v in (("t2", ph.t2), ("tof", ph.tof), ("labels", ph.labels))
    }


def test_same_seed_gives_the_same_bytes_another_seed_does_not(phantoms):
    first = phantoms("contact")
    side, seed = CASES["contact"]
    again = _build("contact", side, seed)
    assert _digest(again) == _digest(first)
    assert again.truth == first.truth
    reseeded = _digest(_build("contact", side, seed + 1))
    for key, value in _digest(first).items():
        assert reseeded[key] != value, f"{key} did not change with the seed"


# --------------------------------------------------------------------------------------------
# (b) every scenario has the geometry it claims
# --------------------------------------------------------------------------------------------
def test_no_contact_leaves_a_clear_gap(phantoms):
    ph = phantoms("no_contact")
    side = CASES["no_contact"][0]
    for s in ("left", "right"):
        closest = _approaches(ph, f"VII_{s}")[0]
        assert closest["gap"] >= CLEAR_MM - 0.02, (s, closest["vessel"], closest["gap"])
    # the near miss: a vessel passes the REZ with CSF between, well over half a millimetre
    near = _approaches(ph, f"VII_{side}")[0]
    assert near["gap"] > 0.6
    _check_side(near["point"], side)
    assert [f for f in ph.truth["findings"] if f["grade"] != "none"] == []


def test_subvoxel_gap_is_between_a_tenth_and_four_tenths_of_a_millimetre(phantoms):
    ph = phantoms("subvoxel_gap")
    side = CASES["subvoxel_gap"][0]
    closest = _approaches(ph, f"VII_{side}")[0]
    assert 0.1 - 0.02 <= closest["gap"] <= 0.4 + 0.02
    _check_side(closest["point"], side)
    other = _approaches(ph, f"VII_{'right' if side == 'left' else 'left'}")[0]
    assert other["gap"] >= CLEAR_MM - 0.02


@pytest.mark.parametrize("name", ["contact", "contact_right"])
def test_contact_is_on_the_side_asked(phantoms, name):
    ph = phantoms(name)
    side = CASES[name][0]
    (hit,) = _touching(ph, f"VII_{side}")
    assert abs(hit["gap"]) < TOUCH_MM
    _check_side(hit["point"], side)
    _check_label_contact(ph, hit["point"])
    _check_truth_has(ph, hit, side, "contact")
    other = "right" if side == "left" else "left"
    assert _touching(ph, f"VII_{other}") == []


def test_contact_left_and_right_mirror_the_side(phantoms):
    left, right = phantoms("contact"), phantoms("contact_right")
    assert left.truth["clinical"]["symptomatic_side"] == "left"
    assert right.truth["clinical"]["symptomatic_side"] == "right"
    assert {f["side"] for f in left.truth["findings"]} == {"left"}
    assert {f["side"] for f in right.truth["findings"]} == {"right"}
    assert all(f["position_ras"][0] < 0 for f in left.truth["findings"])
    assert all(f["position_ras"][0] > 0 for f in right.truth["findings"])


def test_indentation_narrows_the_nerve_by_a_fifth_to_a_half_under_the_vessel(phantoms):
    ph = phantoms("indentation")
    side = CASES["indentation"][0]
    nerve = f"VII_{side}"
    (hit,) = _touching(ph, nerve)
    _, radii, s = _dense(ph.centrelines[nerve], ph.radii[nerve])
    typical = float(np.median(radii))
    k = int(np.argmin(radii))
    reduction = 1.0 - radii[k] / typical
    assert 0.2 - 0.01 <= reduction <= 0.5 + 0.01, reduction
    # the narrowing is where the vessel presses, and only there
    assert abs(s[k] - hit["s"]) < 1.0
    assert np.all(radii[np.abs(s - s[k]) > 3.0] > 0.97 * typical)
    _check_side(hit["point"], side)
    _check_label_contact(ph, hit["point"])
    _check_truth_has(ph, hit, side, "indentation")


def test_displacement_shifts_the_nerve_by_a_diameter_or_more(phantoms):
    ph = phantoms("displacement")
    base = phantoms("no_contact")  # same seed and side: the same anatomy before the vessel
    side = CASES["displacement"][0]
    assert CASES["no_contact"] == CASES["displacement"]
    other = "right" if side == "left" else "left"
    np.testing.assert_allclose(ph.centrelines[f"VII_{other}"], base.centrelines[f"VII_{other}"])
    nerve = f"VII_{side}"
    moved, _, s = _dense(ph.centrelines[nerve], ph.radii[nerve])
    before, _, _ = _dense(base.centrelines[nerve], base.radii[nerve])
    shift, _ = cKDTree(before).query(moved)
    diameter = 2.0 * float(np.median(base.radii[nerve]))
    assert shift.max() >= diameter, (shift.max(), diameter)
    # the nerve still leaves the brainstem and enters the meatus where it did
    assert shift[0] < 0.05 and shift[-1] < 0.05
    (hit,) = _touching(ph, nerve)
    assert abs(s[int(np.argmax(shift))] - hit["s"]) < 2.0  # pushed where the vessel lies
    _check_side(hit["point"], side)
    _check_label_contact(ph, hit["point"])
    _check_truth_has(ph, hit, side, "displacement")


def test_sandwich_has_a_vessel_on_each_side_of_the_nerve(phantoms):
    ph = phantoms("sandwich")
    side = CASES["sandwich"][0]
    hits = _touching(ph, f"VII_{side}")
    assert len(hits) == 2 and hits[0]["vessel"] != hits[1]["vessel"]
    a, b = hits
    assert a["across"] @ b["across"] < -0.5  # from the nerve's axis: opposite directions
    assert abs(a["s"] - b["s"]) < 3.0  # facing each other across the same stretch of nerve
    for hit in hits:
        _check_side(hit["point"], side)
        _check_label_contact(ph, hit["point"])
        _check_truth_has(ph, hit, side, "contact")
    assert ph.truth["flags"]["sandwich"] is True


def test_two_offenders_touch_the_nerve_at_two_places(phantoms):
    ph = phantoms("two_offenders")
    side = CASES["two_offenders"][0]
    hits = _touching(ph, f"VII_{side}")
    assert len(hits) == 2 and hits[0]["vessel"] != hits[1]["vessel"]
    assert abs(hits[0]["s"] - hits[1]["s"]) > 2.0
    for hit in hits:
        _check_side(hit["point"], side)
        _check_label_contact(ph, hit["point"])
        _check_truth_has(ph, hit, side, "contact")
    assert ph.truth["flags"]["multiple_offenders"] is True


def test_asymptomatic_contact_is_on_the_other_side(phantoms):
    ph = phantoms("asymptomatic_contact")
    side = CASES["asymptomatic_contact"][0]
    other = "right" if side == "left" else "left"
    assert _approaches(ph, f"VII_{side}")[0]["gap"] >= CLEAR_MM - 0.02
    (hit,) = _touching(ph, f"VII_{other}")
    _check_side(hit["point"], other)
    _check_label_contact(ph, hit["point"])
    _check_truth_has(ph, hit, other, "contact")
    assert ph.truth["clinical"]["symptomatic_side"] == side


def test_distal_cisternal_contact_is_far_from_the_root_detachment_point(phantoms):
    ph = phantoms("distal_cisternal")
    side = CASES["distal_cisternal"][0]
    nerve = f"VII_{side}"
    (hit,) = _touching(ph, nerve)
    along = _arclength_from(ph, nerve, _landmark(ph, "RDP", side), hit["s"])
    assert along > 6.0, along
    # the truth's TZ lies between the RDP and the contact, on the nerve
    tz = _arclength_from(ph, nerve, _landmark(ph, "TZ", side), hit["s"])
    assert 0.0 < tz < along
    _check_side(hit["point"], side)
    _check_label_contact(ph, hit["point"])
    _check_truth_has(ph, hit, side, "contact")


def test_every_scenario_is_covered():
    assert {name.removesuffix("_right") for name in CASES} == set(SCENARIOS)
    assert {side for side, _ in CASES.values()} == {"left", "right"}


def test_label_map_follows_the_tubes(phantoms):
    ph = phantoms("contact")
    lab = ph.labels.data
    assert lab.dtype == np.uint8 and ph.labels.shape == ph.t2.shape
    np.testing.assert_allclose(ph.labels.affine, ph.t2.affine)
    assert set(np.unique(lab)) <= set(range(8))
    for value, prefix in ((3, "VII"), (4, "VIII"), (5, "V")):
        ras = ph.labels.ras_of(np.argwhere(lab == value))
        for side in ("left", "right"):
            on_side = ras[np.sign(ras[:, 0]) == SIGN[side]]
            assert len(on_side) > 10, f"no {prefix} {side} voxels"
            key = f"{prefix}_{side}"
            axis, radii, _ = _dense(ph.centrelines[key], ph.radii[key])
            d, k = cKDTree(axis).query(on_side)
            # a voxel is labelled when most of it is inside: its centre lies within the
            # radius plus half a voxel diagonal of the axis
            outside = d - radii[k] - 0.5 * np.sqrt(3.0) * SPACING_MM
            assert np.mean(outside > 0) < 0.02, (key, np.mean(outside > 0))


# --------------------------------------------------------------------------------------------
# (c) DICOM and NIfTI forms
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def written(phantoms, tmp_path_factory):
    ph = phantoms("indentation")
    root = tmp_path_factory.mktemp("phantom_case")
    return {
        "phantom": ph,
        "nifti": write_case(ph, root / "nifti", fmt="nifti"),
        "dicom": write_case(ph, root / "dicom", fmt="dicom"),
        "dicom_again": write_case(ph, root / "dicom_again", fmt="dicom"),
        "enhanced": write_case(ph, root / "enhanced", fmt="dicom", enhanced=True),
        "root": root,
    }


def _assert_same_volume(a, b):
    np.testing.assert_allclose(a.affine, b.affine, rtol=0.0, atol=1e-3)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))


def test_dicom_and_nifti_forms_load_onto_the_same_voxels(written):
    root = written["root"]
    nifti = load_case(root / "nifti")
    dicom = load_case(root / "dicom")
    assert (nifti.t2.meta.role, nifti.tof.meta.role) == ("t2", "tof")
    assert (dicom.t2.meta.role, dicom.tof.meta.role) == ("t2", "tof")
    _assert_same_volume(dicom.t2, nifti.t2)
    _assert_same_volume(dicom.tof, nifti.tof)
    # nvc_viewer.load picks the T2 of the folder, or the series asked for
    _assert_same_volume(nvc_viewer.load(root / "dicom"), nifti.t2)
    _assert_same_volume(nvc_viewer.load(root / "dicom", series="tof"), nifti.tof)
    # the stored values are the phantom's, in scanner-like units, on the phantom's affines
    ph = written["phantom"]
    np.testing.assert_allclose(nifti.t2.affine, ph.t2.affine, atol=1e-3)
    np.testing.assert_allclose(nifti.tof.affine, ph.tof.affine, atol=1e-3)
    np.testing.assert_array_equal(nifti.t2.data, np.rint(ph.t2.data.astype(np.float64) * 1e3))


def _series_headers(folder: Path) -> dict[str, pydicom.Dataset]:
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(sub.glob("*.dcm"))
        assert files, sub
        out[sub.name] = (len(files), pydicom.dcmread(files[0], stop_before_pixels=True))
    return out


def test_dicom_series_share_one_frame_of_reference_and_carry_a_fake_patient(written):
    headers = _series_headers(written["root"] / "dicom")
    assert set(headers) == {"t2_ciss", "tof"}
    (n_t2, t2), (n_tof, tof) = headers["t2_ciss"], headers["tof"]
    ph = written["phantom"]
    assert n_t2 == ph.t2.shape[2] and n_tof == ph.tof.shape[2]  # one file per slice
    assert t2.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
    assert t2.FrameOfReferenceUID == tof.FrameOfReferenceUID
    assert t2.StudyInstanceUID == tof.StudyInstanceUID
    assert t2.SeriesInstanceUID != tof.SeriesInstanceUID
    for ds in (t2, tof):
        assert str(ds.PatientName) == PHANTOM_PATIENT["name"]
        assert ds.PatientID == PHANTOM_PATIENT["id"]
        assert ds.PatientBirthDate and ds.AccessionNumber
    # the truth names the series only by hashes of their UIDs
    truth = json.loads(written["dicom"]["truth"].read_text())
    assert truth["source"]["kind"] == "dicom"
    hashed = {s["role"]: s["uid_sha256"] for s in truth["source"]["series"]}
    assert hashed["t2"] == hashlib.sha256(str(t2.SeriesInstanceUID).encode()).hexdigest()
    assert str(t2.SeriesInstanceUID) not in written["dicom"]["truth"].read_text()


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_writing_twice_gives_the_same_files(written):
    root = written["root"]
    first, second = _tree_hashes(root / "dicom"), _tree_hashes(root / "dicom_again")
    assert len(first) > 10
    assert first == second


def test_enhanced_multiframe_on_request(written):
    root = written["root"]
    for sub in ("t2_ciss", "tof"):
        files = sorted((root / "enhanced" / sub).iterdir())
        assert len(files) == 1
        ds = pydicom.dcmread(files[0], stop_before_pixels=True)
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4.1"
    enhanced, nifti = load_case(root / "enhanced"), load_case(root / "nifti")
    assert (enhanced.t2.meta.role, enhanced.tof.meta.role) == ("t2", "tof")
    _assert_same_volume(enhanced.t2, nifti.t2)
    _assert_same_volume(enhanced.tof, nifti.tof)


# --------------------------------------------------------------------------------------------
# (d) the truth is a findings document
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["no_contact", "indentation", "sandwich", "two_offenders"])
def test_truth_validates_against_the_findings_schema(phantoms, name):
    doc = validate_findings_dict(phantoms(name).truth)
    assert doc["coordinate_system"] == "RAS" and doc["units"] == "mm"
    for finding in doc["findings"]:
        assert finding["nerve"] == "VII" and finding["origin"] == "manual"


def test_written_truth_json_reads_back(written):
    for form in ("nifti", "dicom"):
        case = read_findings_json(written[form]["truth"])
        assert case.case_id == written["phantom"].truth["case_id"]
        assert [f.grade for f in case.findings] == ["indentation"]
