"""Two ways real scans mislead the analysis, on small phantoms (0.6 mm voxels).

- A 1.5 T TOF is noisy: noise alone lifts tissue voxels over the arterial level, and such specks
  must not seed "arteries" in the brain tissue around the cisterns.
- The TOF often misses the small arteries (AICA, PICA) lying on the pons: on the T2 they are dark
  tubes like the facial nerve, and the nerve must still be traced to its own root exit point, at
  the lateral end of the pontomedullary sulcus beside VIII, not down such a vessel.
- Two offenders a few mm apart along the root may touch each other where they touch it: their
  voxels form one piece that never leaves the nerve between the two contacts, and both must be
  reported -- and named after their own origins: a path through the artery mask from the PICA
  crosses into the AICA it touches and reaches the basilar at the AICA's origin.
- A balanced-SSFP scan keeps dark off-resonance bands across the CSF: where such a band touches
  an artery, its voxels must not be named artery with it and proposed as contacts wherever the
  band meets a root.
- Where only one root of the facial pair is found, the other is left among the dark tubes: a
  "vessel" touching the root there that the TOF does not show may be that other root.
- An artery the TOF shows in part may lead back to no trunk in the artery mask; at the facial
  root exit zone its plain contact is still the likely culprit.
- VII enters the porus pressed against VIII, may lie pressed against it across the cistern or
  into it for the last third of its course, and may lie on the pons with the pons's own
  signal: it is still traced, from its exit beside VIII to the porus.
- A thin artery in coarse voxels loses its voxels beside the root to the opening that takes the
  root's halo off, and must still be measured whole where it touches; a band's fragment lying
  on the pons beside the attached root, joined to an artery farther off, is no vessel.
- A facial root with the pons's own signal lies on the pons as a ridge, no tube: its attached
  segment is still followed, and a vessel touching it there proposed.
- A vessel touching the root twice a little more than 2.5 mm apart is one finding.
- A facial root followed as a tube only where it rises off the pons is followed on over it, and
  a vessel touching it there proposed; a short course over the pons in coarse voxels still
  reaches the root exit.
- Where the root named VII lies behind and below the one named VIII, the names are in doubt and
  nothing on them is proposed.
"""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.analysis import analyse
from nvc_viewer.metrics import match_findings
from nvc_viewer.phantom import make_phantom

SMALL = dict(shape=(100, 100, 56), spacing_mm=0.6, supersample=3)


def test_tof_noise_at_1_5_tesla_seeds_no_arteries_in_tissue():
    ph = make_phantom("contact", side="left", seed=40, snr="1.5T", **SMALL)
    res = analyse(ph.t2, ph.tof)
    found, truth = res.labels.data == 6, ph.labels.data == 6
    both = int((found & truth).sum())
    assert both / found.sum() >= 0.65, "TOF noise was taken for arteries"
    assert both / truth.sum() >= 0.7, "arteries were lost"


def test_facial_root_exit_is_not_taken_down_a_vessel_the_tof_misses():
    ph = make_phantom("two_offenders", side="left", seed=54, **SMALL)
    # the two offenders (AICA and PICA) of the left facial nerve are missing from the TOF
    assert {"AICA_left", "PICA_left"} <= set(ph.params["tof_dropped"])
    res = analyse(ph.t2, ph.tof)
    truth = {(m["name"], m["side"]): m["position_ras"] for m in ph.truth["landmarks"]
             if m["nerve"] == "VII"}  # fmt: skip
    found = {(m.name, m.side): m.position_ras for m in res.landmarks if m.nerve == "VII"}
    for name in ("RExP", "RDP"):
        err = np.linalg.norm(np.subtract(found[(name, "left")], truth[(name, "left")]))
        assert err < 1.5, f"left VII {name} is {err:.1f} mm off"


@pytest.mark.xfail(
    strict=True,
    reason="since the TOF is read against the case's own tissue, the PICA (missing from the "
    "TOF) is also proposed a second time 2 mm further along the attached root, where its loop "
    "wraps the nerve from the other side: counted as a false positive",
)
def test_two_offenders_touching_each_other_on_the_root_are_both_reported():
    ph = make_phantom("two_offenders", side="left", seed=64, **SMALL)
    res = analyse(ph.t2, ph.tof)
    proposed = [f.to_dict() for f in res.findings if f.confidence >= 0.5]
    m = match_findings(proposed, ph.truth["findings"])
    assert m.true_positives == 2, [(f["vessel"], f["distance_from_brainstem_mm"]) for f in proposed]
    assert m.false_positives == 0


def test_a_pica_touching_an_aica_on_the_root_is_named_pica():
    ph = make_phantom("two_offenders", side="right", seed=60, **SMALL)
    res = analyse(ph.t2, ph.tof)
    named = {}
    for truth in ph.truth["findings"]:
        near = [
            f
            for f in res.findings
            if f.confidence >= 0.5
            and np.linalg.norm(np.subtract(f.position_ras, truth["position_ras"])) < 3.0
        ]
        assert near, f"the {truth['vessel']} contact was not found"
        named[truth["vessel"]] = near[0].vessel
    assert named == {"AICA": "AICA", "PICA": "PICA"}


def _draw(scenario: str, side: str, seed: int, **factors):
    """A phantom at the generator's default field of view, as the robustness benchmark's
    random draws make them (``factors``: the drawn contrast, voxels, tilt, bands ...)."""
    return make_phantom(
        scenario,
        side=side,
        seed=seed,
        threads=1,
        shape=None,
        fov_mm=(80.0, 80.0, 32.0),
        supersample=4,
        **factors,
    )


def test_a_dark_band_touching_an_artery_is_not_proposed_as_a_contact():
    # a tilted 0.7 x 0.7 x 0.94 mm slab whose CSF is crossed by off-resonance bands; nothing
    # touches the trigeminal roots, and the facial contact is out of reach of the analysis here
    ph = _draw(
        "displacement",
        "right",
        3131,
        banding=True,
        spacing_mm=(0.698, 0.698, 0.944),
        tof_spacing_mm=(0.632, 0.632, 0.819),
        snr=37.18,
        t2_contrast={"brainstem": 0.2971, "tissue": 0.28, "nerve": 0.2688, "artery": 0.0506,
                     "vein": 0.2495},
        tof_contrast={"artery": 1.0291, "background": 0.2323, "csf": 0.0462, "vein": 0.1108},
        bias_field=0.1844,
        oblique_deg=(-9.62, 22.04),
        tof_misregistration=1.874,
        nerve_scale=1.137,
        vessel_scale=0.726,
        course_mm=1.45,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    assert not _proposed_away_from_vessels(ph, res)


def _proposed_away_from_vessels(ph, res, reach_mm: float = 2.0) -> list[str]:
    """The proposals (confidence 0.5 or more) farther than ``reach_mm`` from every vessel of
    the phantom's truth."""
    vessels = [k for k in ph.centrelines if k.split("_")[0] in ("AICA", "PICA", "SCA", "VA", "BA")
               or k.startswith("vein")]  # fmt: skip
    out = []
    for f in res.findings:
        if f.confidence < 0.5:
            continue
        p = np.asarray(f.position_ras)
        gap = min(
            float(np.min(np.linalg.norm(ph.centrelines[k] - p, axis=1) - ph.radii[k]))
            for k in vessels
        )
        if gap >= reach_mm:
            out.append(f"{f.side} {f.nerve} - {f.vessel} proposed {gap:.1f} mm from any vessel")
    return out


def test_a_facial_root_without_its_partner_is_not_proposed_against_what_the_tof_misses():
    # 0.48 x 0.48 x 1.05 mm, banded; on the right the analysis finds one root of the facial
    # pair, names it VII with low confidence, and the vestibulocochlear root beside it is left
    # among the dark tubes: what touches it there and does not show on the TOF may be VIII.
    # On the left, VII's course passes beside a VIII the TOF does not show either: the bands
    # leave it unnamed, and it is not proposed as an artery touching the cisternal root
    ph = _draw(
        "contact",
        "left",
        3192,
        banding=True,
        spacing_mm=(0.477, 0.477, 1.046),
        tof_spacing_mm=(0.39, 0.39, 0.738),
        snr=36.11,
        t2_contrast={"brainstem": 0.2688, "tissue": 0.2621, "nerve": 0.2639, "artery": 0.0572,
                     "vein": 0.3055},
        tof_contrast={"artery": 0.5285, "background": 0.2542, "csf": 0.0629, "vein": 0.0933},
        bias_field=0.0513,
        oblique_deg=(-2.73, -10.76),
        tof_misregistration=1.1,
        nerve_scale=1.003,
        vessel_scale=0.746,
        course_mm=1.96,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    named = {(i.side, i.nerve): i for i in res.identification}
    assert named[("right", "VII")].uncertain and not named[("right", "VIII")].found
    on_root = [f for f in res.findings if (f.side, f.nerve) == ("right", "VII")]
    assert on_root, "no contact measured on the right facial root"
    for f in on_root:
        assert f.confidence <= 0.45, f.rationale
        assert "may be the VIII beside it" in f.rationale
    assert not _proposed_away_from_vessels(ph, res)


def test_a_vessel_traced_to_no_artery_is_proposed_at_the_facial_root_exit_zone():
    # a tilted 0.74 x 0.74 x 0.99 mm slab: the AICA indenting the right facial root at its
    # detachment point is dark on the TOF where it touches, and the artery mask does not lead
    # back to the basilar; a plain contact there, where hemifacial spasm's culprit lies, stays
    # a proposal (elsewhere along the root it would be possible only)
    ph = _draw(
        "indentation",
        "right",
        3103,
        spacing_mm=(0.743, 0.743, 0.985),
        tof_spacing_mm=(0.533, 0.533, 0.573),
        snr=13.84,
        t2_contrast={"brainstem": 0.3837, "tissue": 0.3665, "nerve": 0.2622, "artery": 0.1828,
                     "vein": 0.3338},
        tof_contrast={"artery": 1.0396, "background": 0.2277, "csf": 0.0317, "vein": 0.1852},
        bias_field=0.0511,
        oblique_deg=(-14.55, 2.07),
        tof_misregistration=1.027,
        nerve_scale=1.02,
        vessel_scale=0.923,
        course_mm=0.25,
        include_v=False,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    (truth,) = ph.truth["findings"]
    near = [
        f
        for f in res.findings
        if (f.side, f.nerve) == ("right", "VII")
        and np.linalg.norm(np.subtract(f.position_ras, truth["position_ras"])) < 3.0
    ]
    assert near, "the contact was not measured"
    assert max(f.confidence for f in near) >= 0.5, [f.rationale for f in near]
    assert all(f.segment in ("attached", "RDP", "TZ") for f in near)
    assert not _proposed_away_from_vessels(ph, res)


def _proposed_at(res, truth: dict, within_mm: float = 3.0) -> list:
    """The proposals (confidence 0.5 or more) on ``truth``'s nerve within ``within_mm`` of it."""
    return [
        f
        for f in res.findings
        if (f.side, f.nerve) == (truth["side"], truth["nerve"])
        and f.confidence >= 0.5
        and np.linalg.norm(np.subtract(f.position_ras, truth["position_ras"])) < within_mm
    ]


def _median_off_mm(line: np.ndarray, truth: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(line[:, None] - truth[None], axis=2).min(axis=1)))


def test_a_facial_root_pressed_against_viii_at_the_porus_is_still_traced():
    # 0.42 x 0.42 x 0.72 mm, thin roots: VII enters the porus pressed against VIII, and VIII's
    # core, forbidden to VII's path, covers all of the porus that was found
    ph = _draw(
        "two_offenders",
        "left",
        3115,
        spacing_mm=(0.422, 0.422, 0.715),
        tof_spacing_mm=(0.66, 0.66, 0.819),
        snr=15.99,
        t2_contrast={"brainstem": 0.2879, "tissue": 0.2836, "nerve": 0.1759, "artery": 0.2429,
                     "vein": 0.1236},
        tof_contrast={"artery": 0.9028, "background": 0.2253, "csf": 0.1129, "vein": 0.0926},
        bias_field=0.1993,
        oblique_deg=(7.26, 10.53),
        tof_misregistration=1.152,
        nerve_scale=0.801,
        vessel_scale=0.946,
        course_mm=1.718,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    named = {(i.side, i.nerve): i for i in res.identification}
    assert named[("left", "VII")].found, named[("left", "VII")].reason
    assert _median_off_mm(res.centrelines["VII_left"], ph.centrelines["VII_left"]) < 1.0
    assert any(_proposed_at(res, t) for t in ph.truth["findings"])
    assert not _proposed_away_from_vessels(ph, res)


def test_a_facial_root_lying_on_the_pons_with_the_pons_signal_is_traced_from_its_exit():
    # 0.74 x 0.74 x 0.4 mm, tilted: the left facial root lies on the pons with the pons's own
    # signal, so no attached segment can be followed from where its free course reaches the
    # pons; the course from the exit beside VIII runs along the pons into it
    ph = _draw(
        "asymptomatic_contact",
        "right",
        3188,
        spacing_mm=(0.739, 0.739, 0.4),
        tof_spacing_mm=(0.408, 0.408, 0.915),
        snr=9.71,
        t2_contrast={"brainstem": 0.2903, "tissue": 0.2844, "nerve": 0.2006, "artery": 0.3663,
                     "vein": 0.1938},
        tof_contrast={"artery": 0.6822, "background": 0.2699, "csf": 0.0709, "vein": 0.101},
        bias_field=0.0937,
        oblique_deg=(14.04, -19.58),
        tof_misregistration=0.662,
        nerve_scale=1.012,
        vessel_scale=1.099,
        course_mm=0.24,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    (truth,) = ph.truth["findings"]
    assert _proposed_at(res, truth), "the contact at the transition zone was not proposed"
    assert not _proposed_away_from_vessels(ph, res)


def test_a_facial_root_named_without_its_partner_gets_no_proposal():
    # 0.53 x 0.53 x 1.02 mm, tilted 22 degrees, flow voids, no V in the slab: on the left the
    # tracks find no facial pair, and the one root followed out to the porus runs along the
    # vertebral artery; named VII for want of a partner, nothing on it is proposed
    ph = _draw(
        "asymptomatic_contact",
        "left",
        3125,
        spacing_mm=(0.529, 0.529, 1.023),
        tof_spacing_mm=(0.625, 0.625, 0.785),
        snr=17.5,
        t2_contrast={"brainstem": 0.2629, "tissue": 0.2318, "nerve": 0.1683, "artery": 0.2023,
                     "vein": 0.1526},
        tof_contrast={"artery": 0.739, "background": 0.3033, "csf": 0.04, "vein": 0.1415},
        bias_field=0.1095,
        flow_voids=True,
        oblique_deg=(8.07, -21.77),
        tof_misregistration=1.758,
        include_v=False,
        nerve_scale=0.901,
        vessel_scale=1.154,
        course_mm=1.289,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    named = {(i.side, i.nerve): i for i in res.identification}
    assert named[("left", "VII")].uncertain and not named[("left", "VIII")].found
    on_root = [f for f in res.findings if (f.side, f.nerve) == ("left", "VII")]
    assert on_root, "no contact measured on the left root"
    for f in on_root:
        assert f.confidence <= 0.45, f.rationale
        assert "VIII beside it" in f.rationale
    assert not _proposed_away_from_vessels(ph, res)


def test_a_contact_in_thick_slices_is_not_ruled_out_by_the_vessel_model_gap():
    # 0.74 x 0.74 x 1.18 mm: no CSF is seen between the right facial root and the AICA that
    # pushes it aside, and the two radii read off partial volume leave a model gap of 0.73 mm,
    # within what such voxels cannot tell from a contact
    ph = _draw(
        "displacement",
        "right",
        3140,
        spacing_mm=(0.738, 0.738, 1.179),
        tof_spacing_mm=(0.596, 0.596, 0.613),
        snr=12.82,
        t2_contrast={"brainstem": 0.3321, "tissue": 0.3166, "nerve": 0.2125, "artery": 0.0589,
                     "vein": 0.2371},
        tof_contrast={"artery": 1.0638, "background": 0.2772, "csf": 0.0467, "vein": 0.1898},
        bias_field=0.0403,
        flow_voids=True,
        oblique_deg=(-0.64, -12.91),
        tof_misregistration=0.99,
        nerve_scale=0.961,
        vessel_scale=0.765,
        course_mm=1.518,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    (truth,) = ph.truth["findings"]
    assert _proposed_at(res, truth), "the contact was not proposed"
    assert not _proposed_away_from_vessels(ph, res)


def test_a_thin_artery_in_coarse_voxels_is_not_cut_where_it_touches_the_root():
    # 0.8 x 0.8 x 0.5 mm: the AICA touching the left facial root in the cistern is one or two
    # voxels across, and the opening that takes the root's partial-volume halo off took its
    # voxels beside the root too, cutting it in two where it touches
    ph = _draw("distal_cisternal", "left", 3008, spacing_mm=(0.8, 0.8, 0.5))
    res = analyse(ph.t2, ph.tof)
    (truth,) = ph.truth["findings"]
    found = _proposed_at(res, truth)
    assert found, "the contact was not proposed"
    assert found[0].vessel == "AICA"
    assert not _proposed_away_from_vessels(ph, res)


def test_a_band_fragment_on_the_pons_is_not_proposed_against_the_attached_root():
    # bands cross the cisterns; beside the right facial root lying on the pons, a band's
    # fragment the TOF does not show, joined to an artery farther off, was named after it and
    # proposed twice where no vessel comes within 4 mm
    ph = _draw("contact", "left", 3002, spacing_mm=(0.5, 0.5, 0.5), banding=True)
    res = analyse(ph.t2, ph.tof)
    assert not _proposed_away_from_vessels(ph, res)
    right = [f for f in res.findings if (f.side, f.nerve) == ("right", "VII")]
    assert right and all(f.confidence <= 0.45 for f in right), [f.rationale for f in right]


def test_a_facial_root_pressed_against_viii_in_the_cistern_is_still_traced():
    # 0.74 x 0.74 x 0.73 mm, tilted 12 degrees: on the left the two roots lie pressed together
    # across the cistern, and VIII's core, forbidden to VII's path, reaches VII's voxels there
    ph = _draw(
        "asymptomatic_contact",
        "right",
        3134,
        spacing_mm=(0.744, 0.744, 0.727),
        tof_spacing_mm=(0.403, 0.403, 0.515),
        snr=25.95,
        t2_contrast={"brainstem": 0.3901, "tissue": 0.3912, "nerve": 0.3006, "artery": 0.0544,
                     "vein": 0.2623},
        tof_contrast={"artery": 0.9731, "background": 0.173, "csf": 0.07, "vein": 0.0734},
        bias_field=0.0552,
        oblique_deg=(12.37, 1.11),
        tof_misregistration=1.318,
        nerve_scale=1.038,
        vessel_scale=1.125,
        course_mm=1.998,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    named = {(i.side, i.nerve): i for i in res.identification}
    assert named[("left", "VII")].found, named[("left", "VII")].reason
    assert _median_off_mm(res.centrelines["VII_left"], ph.centrelines["VII_left"]) < 0.5
    assert _median_off_mm(res.centrelines["VIII_left"], ph.centrelines["VIII_left"]) < 0.5
    assert not _proposed_away_from_vessels(ph, res)


def test_a_facial_root_pressed_into_viii_for_5_mm_before_the_porus_is_still_traced():
    # 0.53 x 0.53 x 0.47 mm, tilted 21 degrees, flow voids: the left facial root lies on the pons
    # for 8 mm, then pressed into VIII over a third of its free course up to the porus; the PICA
    # touching it on the pons was not proposed, as no VII was found
    ph = _draw(
        "contact",
        "left",
        3138,
        spacing_mm=(0.526, 0.526, 0.469),
        tof_spacing_mm=(0.783, 0.783, 0.501),
        snr=26.54,
        t2_contrast={"brainstem": 0.3243, "tissue": 0.2758, "nerve": 0.2898, "artery": 0.3743,
                     "vein": 0.2302},
        tof_contrast={"artery": 0.7263, "background": 0.1639, "csf": 0.052, "vein": 0.199},
        bias_field=0.0925,
        flow_voids=True,
        oblique_deg=(-21.08, -9.47),
        tof_misregistration=1.353,
        include_v=False,
        nerve_scale=0.874,
        vessel_scale=0.938,
        course_mm=0.571,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    named = {(i.side, i.nerve): i for i in res.identification}
    assert named[("left", "VII")].found, named[("left", "VII")].reason
    (truth,) = ph.truth["findings"]
    assert _proposed_at(res, truth), "the contact on the attached segment was not proposed"
    assert _median_off_mm(res.centrelines["VII_left"], ph.centrelines["VII_left"]) < 0.5
    assert not _proposed_away_from_vessels(ph, res)


def test_a_facial_root_lying_on_the_pons_with_the_pons_signal_is_traced_over_it():
    # 0.51 x 0.51 x 0.43 mm, tilted 16 degrees, no V in the slab: the right facial root has the
    # pons's own signal where it lies on it, so its attached segment is no tube and the track
    # began at the RDP; the AICA touching the root 3 mm before it was out of reach
    ph = _draw(
        "asymptomatic_contact",
        "left",
        3143,
        spacing_mm=(0.512, 0.512, 0.431),
        tof_spacing_mm=(0.649, 0.649, 0.654),
        snr=13.42,
        t2_contrast={"brainstem": 0.3, "tissue": 0.2915, "nerve": 0.2855, "artery": 0.0631,
                     "vein": 0.2473},
        tof_contrast={"artery": 0.8169, "background": 0.1756, "csf": 0.0773, "vein": 0.0582},
        bias_field=0.1541,
        oblique_deg=(-15.61, -1.76),
        tof_misregistration=0.933,
        include_v=False,
        nerve_scale=0.818,
        vessel_scale=0.97,
        course_mm=0.411,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    (truth,) = ph.truth["findings"]
    assert truth["segment"] == "attached"
    found = _proposed_at(res, truth)
    assert found, "the contact on the attached segment was not proposed"
    assert found[0].segment == "attached"
    landmarks = {(m["name"], m["side"]): m["position_ras"] for m in ph.truth["landmarks"]
                 if m["nerve"] == "VII"}  # fmt: skip
    rdp = next(
        m.position_ras
        for m in res.landmarks
        if (m.name, m.nerve, m.side) == ("RDP", "VII", "right")
    )
    assert np.linalg.norm(np.subtract(rdp, landmarks[("RDP", "right")])) < 1.0
    assert not _proposed_away_from_vessels(ph, res)


def test_a_vessel_touching_the_root_twice_within_3_mm_is_one_finding():
    # 0.72 x 0.72 x 0.97 mm: the AICA displacing the left facial root touches it at the TZ and
    # again 2.75 mm further along; the search of one vessel piece keeps its contacts 2.5 mm
    # apart, and the two were proposed as two offenders
    ph = _draw(
        "displacement",
        "left",
        3158,
        spacing_mm=(0.715, 0.715, 0.972),
        tof_spacing_mm=(0.369, 0.369, 0.572),
        snr=14.81,
        t2_contrast={"brainstem": 0.3121, "tissue": 0.3121, "nerve": 0.1882, "artery": 0.0379,
                     "vein": 0.2398},
        tof_contrast={"artery": 0.6875, "background": 0.1658, "csf": 0.0415, "vein": 0.13},
        bias_field=0.0495,
        oblique_deg=(-8.78, 3.91),
        tof_misregistration=0.077,
        nerve_scale=0.962,
        vessel_scale=1.272,
        course_mm=1.664,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    (truth,) = ph.truth["findings"]
    assert _proposed_at(res, truth), "the displacement was not proposed"
    aica = [f for f in res.findings if (f.side, f.nerve, f.vessel) == ("left", "VII", "AICA")]
    assert len(aica) == 1, [(f.distance_from_brainstem_mm, f.grade) for f in aica]


def test_a_facial_root_followed_only_where_it_rises_off_the_pons_is_followed_on_over_it():
    # 0.5 mm voxels, SNR 10, flow voids: the left facial root is a tube on the pons only for its
    # last 2 mm before the RDP; the PICA touching it 4 mm before the RDP was out of reach
    ph = _draw(
        "two_offenders",
        "left",
        3187,
        spacing_mm=(0.497, 0.497, 0.468),
        tof_spacing_mm=(0.44, 0.44, 0.526),
        snr=9.91,
        t2_contrast={"brainstem": 0.2705, "tissue": 0.2536, "nerve": 0.2386, "artery": 0.168,
                     "vein": 0.3038},
        tof_contrast={"artery": 0.4847, "background": 0.2179, "csf": 0.0304, "vein": 0.0789},
        bias_field=0.0579,
        flow_voids=True,
        oblique_deg=(-5.93, -8.9),
        tof_misregistration=1.679,
        nerve_scale=0.939,
        vessel_scale=0.865,
        course_mm=1.489,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    on_pons = [t for t in ph.truth["findings"] if t["segment"] == "attached"]
    assert on_pons, "the draw no longer puts a vessel on the attached segment"
    for truth in ph.truth["findings"]:
        assert _proposed_at(res, truth), f"the {truth['vessel']} contact was not proposed"
    assert not _proposed_away_from_vessels(ph, res)


def test_a_short_course_over_the_pons_in_coarse_voxels_reaches_the_root_exit():
    # 0.74 x 0.74 x 1.06 mm: the right facial root's attached segment is a 5 mm course of six
    # voxels from where its path reached the pons, whose first voxel lies beside the root; the
    # course was judged by that voxel too and dropped, and the exit was put 6 mm off
    ph = _draw(
        "indentation",
        "right",
        3157,
        spacing_mm=(0.742, 0.742, 1.055),
        tof_spacing_mm=(0.659, 0.659, 0.795),
        snr=12.2,
        t2_contrast={"brainstem": 0.2705, "tissue": 0.2628, "nerve": 0.2546, "artery": 0.0506,
                     "vein": 0.2268},
        tof_contrast={"artery": 0.7265, "background": 0.1986, "csf": 0.0712, "vein": 0.0754},
        bias_field=0.1667,
        flow_voids=True,
        oblique_deg=(-0.53, 1.24),
        tof_misregistration=1.133,
        nerve_scale=1.07,
        vessel_scale=0.849,
        course_mm=1.103,
        lower_nerves=True,
    )  # fmt: skip
    res = analyse(ph.t2, ph.tof)
    truth = {m["name"]: m["position_ras"] for m in ph.truth["landmarks"]
             if (m["nerve"], m["side"]) == ("VII", "right")}  # fmt: skip
    found = {m.name: m.position_ras for m in res.landmarks if (m.nerve, m.side) == ("VII", "right")}
    assert np.linalg.norm(np.subtract(found["RExP"], truth["RExP"])) < 2.5
    assert np.linalg.norm(np.subtract(found["RDP"], truth["RDP"])) < 1.0


def test_a_facial_pair_whose_names_are_in_doubt_gets_no_proposal():
    # a slab tilted 10 degrees about R-L: on the left the root traced as VII runs behind and
    # below the one traced as VIII (its RDP 9 mm off), and two "contacts" 4-6 mm from the true
    # ones were proposed on it
    ph = _draw("two_offenders", "left", 3006, spacing_mm=0.5, oblique_deg=(10.0, 0.0))
    res = analyse(ph.t2, ph.tof)
    named = {(i.side, i.nerve): i for i in res.identification}
    vii = named[("left", "VII")]
    assert vii.uncertain and "behind and below" in vii.reason
    on_pair = [f for f in res.findings if f.side == "left" and f.nerve in ("VII", "VIII")]
    assert on_pair, "nothing measured on the left facial pair"
    for f in on_pair:
        assert f.confidence < 0.5, f.rationale
        assert "names of VII and VIII are in doubt" in f.rationale
