"""Contact detection and grading on synthetic nerve-vessel pairs with known geometry.

A straight facial-nerve-sized tube and a crossing artery are rendered with partial volume and
Rician noise at 0.5 mm; the nerve's track is the true centreline, the vessel mask the true
vessel voxels, so these tests isolate the measurement of the gap and the grade.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nvc_viewer.compression import CompressionSettings, find_contacts, segment_name
from nvc_viewer.segment import centreline as cl
from nvc_viewer.segment.crop import Box
from nvc_viewer.segment.masks import FineMasks
from nvc_viewer.segment.nerves import NerveTrack, nerve_voxels
from nvc_viewer.segment.normalise import IntensityReference
from nvc_viewer.segment.scene import Scene
from nvc_viewer.segment.vessels import VesselMasks

SP = np.array([0.5, 0.5, 0.5])


class _Frame:
    """Brainstem midline at x = 0 (the synthetic volume lies on the patient's left)."""

    axis_ras = np.array([[0.0, 0.0, -10.0], [0.0, 0.0, 10.0]])

    def midline_x(self, z):
        return np.zeros_like(np.asarray(z, dtype=float))


def _segment_distance(p, a, b):
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def synthetic_pair(
    *,
    gap=0.0,
    r_n=0.6,
    r_v=0.8,
    angle=60.0,
    ratio=0.0,
    shift=0.0,
    bend=0.0,
    seed=0,
    noise=0.03,
    shape=(40, 32, 32),
    ss=3,
    extra_vessels=(),
    nerve_level=0.25,
    vessel_level=0.15,
):
    """Nerve along x; vessel crossing at ``angle`` on its +y side with surface gap ``gap``.

    ``ratio``: indentation (nerve radius reduced by that fraction at the contact, gaussian of
    0.8 mm); ``shift``: displacement (nerve bent away from the vessel by that many mm);
    ``bend``: the root detaches at the centre (degrees): attached along x before it, turning
    towards +y after it, and the vessel (along z) sits in the inner angle of the bend, touching
    both limbs -- a root-detachment-point contact. ``extra_vessels``: more vessel segments
    ``(a, b, radius)``, ends in mm from the centre (x along the nerve, y towards the vessel).
    Returns the scene, the nerve track, the vessel masks and the true contact point (RAS).
    """
    c = np.array(shape) * SP / 2
    b = np.radians(bend)
    free = np.array([np.cos(b), np.sin(b), 0.0])
    if bend:
        u = np.array([np.cos(b) - 1.0, np.sin(b), 0.0])
        u /= np.linalg.norm(u)
        angle = 90.0
    else:
        u = np.array([0.0, 1.0, 0.0])
    t = np.radians(angle)
    dv = np.array([np.cos(t), 0.0, np.sin(t)])
    vc = c - shift * u + u * (r_n * (1 - ratio) + r_v + gap) / np.cos(b / 2)
    g = [(np.arange(k * ss) + 0.5) / ss * SP[0] for k in shape]
    p = np.stack(np.meshgrid(*g, indexing="ij"), -1)
    s = p[..., 0] - c[0]
    radius = r_n * (1 - ratio * np.exp(-((s / 0.8) ** 2)))
    bent = p + (shift * np.exp(-((s / 3.0) ** 2)))[..., None] * u
    if bend:
        nerve = (
            np.minimum(
                _segment_distance(p, c - [9, 0, 0], c), _segment_distance(p, c, c + 9 * free)
            )
            < radius
        )
    else:
        nerve = _segment_distance(bent, c - [9, 0, 0], c + [9, 0, 0]) < radius
    vessel = _segment_distance(p, vc - 7 * dv, vc + 7 * dv) < r_v
    for a, b_end, r_x in extra_vessels:
        vessel |= _segment_distance(p, c + np.asarray(a), c + np.asarray(b_end)) < r_x
    img = np.ones(p.shape[:3], np.float32)
    img[nerve] = nerve_level
    img[vessel] = vessel_level

    def down(a):
        return a.reshape(shape[0], ss, shape[1], ss, shape[2], ss).mean(axis=(1, 3, 5))

    img = down(img)
    lab_v = down(vessel.astype(np.float32)) > 0.5
    rng = np.random.default_rng(seed)
    img = np.abs(img + rng.normal(0, noise, img.shape) + 1j * rng.normal(0, noise, img.shape))
    img = img.astype(np.float32)
    xs = np.arange(-9.0, 9.001, 0.25)
    pts_mm = c + xs[:, None] * [1.0, 0.0, 0.0] - (shift * np.exp(-((xs / 3.0) ** 2)))[:, None] * u
    i_rdp = 8
    if bend:
        pts_mm = c + np.where(xs[:, None] < 0, xs[:, None] * [1.0, 0.0, 0.0], xs[:, None] * free)
        i_rdp = int(np.argmin(np.abs(xs)))
    pts = pts_mm / SP - 0.5
    track = NerveTrack(
        "VII", "left", pts, np.full(len(pts), r_n), 0, i_rdp, 0.8, cl.arclength(pts_mm)
    )
    affine = np.diag([0.5, 0.5, 0.5, 1.0])
    affine[:3, 3] = [-20.0, -8.0, -8.0]
    empty = np.zeros(shape, bool)
    masks = FineMasks(empty, img > 0.68, np.ones(shape, bool), empty, img < 0.62, empty)
    scene = Scene(
        Box.full(shape), affine, SP, img, IntensityReference(1.0, 0.4, noise, 0.7), _Frame(), masks
    )  # type: ignore[arg-type]
    scene.side_right = np.zeros(shape, bool)
    scene.nerves = {track.key: track}
    vmask = lab_v & ~nerve_voxels(track, shape, SP, pad_mm=0.2)
    # T2 only (no TOF): the vessel's kind is not known, as in a case without an angiogram
    radius = np.where(vmask, r_v, 0).astype(np.float32)
    vm = VesselMasks(vmask, empty, empty, empty, radius, False)
    truth_ijk = (c - shift * u + u * (r_n * (1 - ratio) + gap / 2)) / SP - 0.5
    return scene, track, vm, scene.to_ras(truth_ijk)


def _confident(findings):
    return [f for f in findings if f.confidence >= 0.5]


@pytest.mark.parametrize("angle", [40.0, 85.0])
def test_contact_is_found_where_it_is(angle):
    scene, track, vm, truth = synthetic_pair(gap=0.0, angle=angle)
    found = _confident(find_contacts(scene, track, vm))
    assert len(found) == 1
    f = found[0]
    assert f.grade == "contact"
    assert (f.side, f.nerve) == ("left", "VII")
    assert np.linalg.norm(np.subtract(f.position_ras, truth)) < 0.6
    assert f.crossing_angle_deg == pytest.approx(angle, abs=12.0)
    assert f.vessel_diameter_mm == pytest.approx(1.6, abs=0.45)
    assert f.evidence["surface_gap_mm"] < 0.25
    assert f.evidence["sequences"] == ["T2"]


@pytest.mark.parametrize("gap", [0.7, 1.5])
def test_no_contact_across_a_clear_gap(gap):
    scene, track, vm, _ = synthetic_pair(gap=gap, seed=1)
    assert _confident(find_contacts(scene, track, vm)) == []


@pytest.mark.parametrize("nerve_level, vessel_level", [(0.25, 0.5), (0.45, 0.3)])
def test_contact_holds_when_the_structures_themselves_are_brighter(nerve_level, vessel_level):
    """Vessels brighter than nerves (balanced SSFP inflow), or a nerve blurred towards CSF by
    coarse voxels: what lies between two touching tubes is read against their own signal."""
    scene, track, vm, truth = synthetic_pair(
        gap=0.0, nerve_level=nerve_level, vessel_level=vessel_level
    )
    found = _confident(find_contacts(scene, track, vm))
    assert len(found) == 1
    assert np.linalg.norm(np.subtract(found[0].position_ras, truth)) < 0.6
    assert found[0].evidence["structures_own_signal"] > 0.3


@pytest.mark.parametrize("gap", [0.8, 1.2])
def test_no_contact_across_a_clear_gap_between_bright_structures(gap):
    scene, track, vm, _ = synthetic_pair(gap=gap, nerve_level=0.25, vessel_level=0.5)
    assert _confident(find_contacts(scene, track, vm)) == []


def test_subvoxel_gap_is_at_most_a_low_confidence_contact():
    scene, track, vm, _ = synthetic_pair(gap=0.3, seed=2)
    found = find_contacts(scene, track, vm)
    assert all(f.confidence < 0.5 for f in found)
    assert all("sub-voxel" in f.note for f in found)


def test_indentation_is_graded():
    scene, track, vm, _ = synthetic_pair(gap=-0.03, ratio=0.45, seed=3)
    found = _confident(find_contacts(scene, track, vm))
    assert [f.grade for f in found] == ["indentation"]
    assert found[0].evidence["indentation_ratio"] > 0.15


def test_width_of_an_attached_root_is_evidence_not_a_grade():
    # the same indentation, on a root still lying on the pons (its RDP 5 mm farther out)
    scene, track, vm, _ = synthetic_pair(gap=-0.03, ratio=0.45, seed=3)
    i_rdp = int(np.argmin(np.abs(track.s_mm - track.s_mm[track.i_rdp] - 12.0)))
    attached = dataclasses.replace(track, i_rdp=i_rdp)
    scene.nerves = {attached.key: attached}
    found = _confident(find_contacts(scene, attached, vm))
    assert [(f.segment, f.grade) for f in found] == [("attached", "contact")]
    assert found[0].evidence["indentation_ratio"] > 0.15
    assert "not graded on the attached root" in found[0].note


def test_displacement_is_graded():
    scene, track, vm, _ = synthetic_pair(gap=-0.03, shift=1.5, seed=4)
    found = _confident(find_contacts(scene, track, vm))
    assert [f.grade for f in found] == ["displacement"]
    assert found[0].evidence["displacement_mm"] > 0.8


def test_contact_in_the_angle_of_the_detaching_root_is_not_displacement():
    # where the root leaves the pons its course bends; a vessel in that angle is a contact at
    # the RDP, not a nerve pushed aside (a chord across the bend deviates by about 1.5 mm)
    scene, track, vm, truth = synthetic_pair(gap=0.0, bend=40.0, seed=6)
    found = _confident(find_contacts(scene, track, vm))
    assert len(found) == 1
    f = found[0]
    assert f.grade == "contact", f.evidence
    assert f.segment == "RDP"
    assert np.linalg.norm(np.subtract(f.position_ras, truth)) < 1.0


def _two_offenders_in_one_piece():
    # a second vessel crosses the nerve 4.5 mm farther along, touching it too; a branch about
    # 0.6-0.9 mm off the nerve joins the two vessels, so their voxels form one piece
    r_n, r_v = 0.6, 0.8
    y = r_n + r_v
    second = ([4.5, y, -7.0], [4.5, y, 7.0], r_v)
    branch = ([0.0, 1.1, 1.1], [4.5, 1.1, 1.1], 0.45)
    scene, track, vm, _ = synthetic_pair(
        gap=0.0, r_n=r_n, r_v=r_v, angle=90.0, seed=7, extra_vessels=(second, branch)
    )
    return scene, track, vm


def test_two_offenders_joined_into_one_piece_are_two_contacts():
    found = _confident(find_contacts(*_two_offenders_in_one_piece()))
    assert len(found) == 2, [(f.distance_from_brainstem_mm, f.evidence) for f in found]
    along = sorted(f.distance_from_brainstem_mm for f in found)
    assert along[1] - along[0] == pytest.approx(4.5, abs=0.8)
    assert all(f.grade == "contact" for f in found)


def test_the_second_offender_of_a_piece_is_judged_like_the_first():
    # both touch with no CSF between: neither needs its model gap inside the sub-voxel range
    plain_only = CompressionSettings(contact_mm=-1.0, ambiguous_mm=-1.0)
    found = _confident(find_contacts(*_two_offenders_in_one_piece(), settings=plain_only))
    assert len(found) == 2


def test_plain_contact_is_not_graded_as_indentation_or_displacement():
    for seed in range(2):
        scene, track, vm, _ = synthetic_pair(gap=0.0, seed=10 + seed)
        grades = [f.grade for f in _confident(find_contacts(scene, track, vm))]
        assert grades == ["contact"]


def test_thresholds_are_settings():
    scene, track, vm, _ = synthetic_pair(gap=0.0, seed=5)
    strict = CompressionSettings(contact_mm=-1.0, ambiguous_mm=-1.0, apart_mm=-1.0)
    assert _confident(find_contacts(scene, track, vm, settings=strict)) == []


def test_no_csf_between_decides_over_a_model_gap_a_few_tenths_wide():
    # the vessel model's gap rests on the few voxels vessel and nerve halo share: where it comes
    # out a few tenths of a mm wider than the sub-voxel range, the absence of CSF between the two
    # still makes it a contact -- up to `apart_mm`, beyond which it is plainly apart
    scene, track, vm, _ = synthetic_pair(gap=0.0, seed=5)
    found = _confident(find_contacts(scene, track, vm))
    assert len(found) == 1
    gap = found[0].evidence["surface_gap_mm"]
    assert found[0].evidence["csf_signal_between"] < 0.56
    narrow = dict(contact_mm=gap - 0.2, ambiguous_mm=gap - 0.1)
    kept = find_contacts(scene, track, vm, settings=CompressionSettings(**narrow))
    assert [f.grade for f in _confident(kept)] == ["contact"]
    apart = CompressionSettings(**narrow, apart_mm=gap - 0.05)
    assert _confident(find_contacts(scene, track, vm, settings=apart)) == []


@pytest.mark.parametrize(
    "d, expected",
    [
        (-3.0, "attached"),
        (-0.5, "RDP"),
        (1.0, "RDP"),
        (2.0, "TZ"),
        (5.0, "cisternal"),
        (13.0, "meatal"),
    ],
)
def test_segment_names(d, expected):
    assert segment_name(d, 2.6, 12.0) == expected
