"""Nerve identity and proposals on images the analysis was not tuned on.

Each test checks a relation that holds whatever the scanner or the generator: a nerve is named
from anatomy (VII and VIII side by side at the pontomedullary junction, V well above them), a
name the analysis cannot support is withheld and said so, a contrast change that keeps the
anatomy keeps the findings, and the normal side gets no proposal.
"""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.analysis import analyse
from nvc_viewer.phantom import make_phantom
from nvc_viewer.volume import Volume

SMALL = dict(shape=(100, 100, 56), spacing_mm=0.6, supersample=3)
CONFIDENT = 0.5


def _confident(res, side=None):
    return [f for f in res.findings if f.confidence >= CONFIDENT and side in (None, f.side)]


def _identified(res):
    return {(i.side, i.nerve): i for i in res.identification}


def _slab(vol: Volume, z_min_ras: float = -np.inf, z_max_ras: float = np.inf) -> Volume:
    """The axial slices of ``vol`` between two heights (a slab that covers less)."""
    k_axis = int(np.argmax(np.abs(vol.affine[2, :3])))
    z = vol.affine[2, k_axis] * np.arange(vol.shape[k_axis]) + vol.affine[2, 3]
    keep = np.nonzero((z >= z_min_ras) & (z <= z_max_ras))[0]
    sl = [slice(None)] * 3
    sl[k_axis] = slice(int(keep.min()), int(keep.max()) + 1)
    shift = np.eye(4)
    shift[k_axis, 3] = keep.min()
    return Volume(np.ascontiguousarray(vol.data[tuple(sl)]), vol.affine @ shift, vol.meta)


@pytest.fixture(scope="module")
def contact():
    ph = make_phantom("contact", side="left", seed=40, **SMALL)
    return ph, analyse(ph.t2, ph.tof)


def test_the_default_size_case_proposes_nothing_on_the_normal_side():
    # the generator's default field of view, as `nvc-viewer phantom --seed 7` writes it
    ph = make_phantom("contact", side="left", seed=7, shape=None)
    res = analyse(ph.t2, ph.tof)
    assert _confident(res, "right") == [], "a contact was proposed on the normal side"
    truth = [f for f in ph.truth["findings"] if f["grade"] != "none"]
    found = _confident(res, "left")
    assert (
        found
        and min(
            np.linalg.norm(np.subtract(f.position_ras, truth[0]["position_ras"])) for f in found
        )
        < 2.5
    )
    assert not res.flags.multiple_offenders and not res.flags.sandwich


def test_a_slab_without_v_still_names_vii_and_viii(contact):
    ph, full = contact
    v_exit = min(m["position_ras"][2] for m in ph.truth["landmarks"] if m["nerve"] == "V")
    pair_top = max(
        max(line[:, 2].max() for k, line in ph.centrelines.items() if k.startswith(n))
        for n in ("VII_", "VIII_")
    )
    assert v_exit > pair_top + 1.5  # the cut below passes between the pair and V's exit
    res = analyse(_slab(ph.t2, z_max_ras=pair_top + 1.0), ph.tof)
    ident = _identified(res)
    for side in ("left", "right"):
        assert ident[(side, "VII")].found and ident[(side, "VIII")].found
        assert not ident[(side, "V")].found and ident[(side, "V")].reason
        line, truth = res.centrelines[f"VII_{side}"], ph.centrelines[f"VII_{side}"]
        d = np.min(np.linalg.norm(line[:, None, :] - truth[None, ::5, :], axis=2), axis=1)
        assert np.median(d) < 0.8, f"{side} VII is not on the facial nerve"
    assert not any(k.startswith("V_") for k in res.centrelines)
    assert all(lm.nerve != "V" for lm in res.landmarks)
    assert all(f.nerve != "V" for f in res.findings)
    assert not (res.labels.data == 5).any()
    assert any("V not identified" in w for w in res.warnings)
    # and the full slab does name V on both sides
    assert all(_identified(full)[(s, "V")].found for s in ("left", "right"))


#: T2 contrasts (CSF = 1) of other sequences and field strengths: CSF:brainstem 4:1 with the
#: nerves greyer than the vessels, and 4:1 with brain tissue as dark as the nerves.
REMAPPED = {
    "vessels darker than nerves": {
        "brainstem": 0.25, "tissue": 0.3, "nerve": 0.3, "artery": 0.12, "vein": 0.12,
    },
    "dark tissue": {
        "brainstem": 0.25, "tissue": 0.24, "nerve": 0.2, "artery": 0.09, "vein": 0.15,
    },
}  # fmt: skip


def _default_size(**contrast):
    # the generator's default field of view, at a supersampling that renders in seconds
    return make_phantom("contact", side="left", seed=40, shape=None, supersample=3, **contrast)


@pytest.fixture(scope="module")
def default_size():
    ph = _default_size()
    return ph, analyse(ph.t2, ph.tof)


@pytest.mark.parametrize("contrast", sorted(REMAPPED))
def test_a_remapped_contrast_gives_the_same_findings(default_size, contrast):
    ph, res = default_size
    # the same anatomy and noise seed; the T2 levels of another sequence, a weaker TOF inflow
    other = _default_size(
        t2_contrast=REMAPPED[contrast], tof_contrast={"artery": 0.7, "background": 0.3}
    )
    res2 = analyse(other.t2, other.tof)
    before = [(f.side, f.nerve, f.segment) for f in _confident(res)]
    after = [(f.side, f.nerve, f.segment) for f in _confident(res2)]
    assert before and sorted(before) == sorted(after)
    for a in _confident(res):
        b = min(
            _confident(res2),
            key=lambda f: np.linalg.norm(np.subtract(f.position_ras, a.position_ras)),
        )
        assert np.linalg.norm(np.subtract(a.position_ras, b.position_ras)) < 1.5
    line, truth = res2.centrelines["VII_left"], other.centrelines["VII_left"]
    d = np.min(np.linalg.norm(line[:, None, :] - truth[None, ::5, :], axis=2), axis=1)
    assert np.median(d) < 0.8


def test_a_nerve_touching_an_artery_keeps_its_label(contact):
    ph, res = contact
    truth, found = ph.labels.data, res.labels.data
    for value in (3, 4):
        nerve = truth == value
        as_artery = int((found[nerve] == 6).sum())
        assert as_artery <= 0.1 * nerve.sum(), f"label {value}: {as_artery} voxels called artery"
    touched = _confident(res, "left")
    assert touched, "the contact itself was missed"


def test_a_case_without_an_identifiable_facial_nerve_warns_and_proposes_nothing_on_it(contact):
    ph, _ = contact
    # only the slab above the facial pair: V is there, VII and VIII are not
    pair_top = max(
        line[:, 2].max() for k, line in ph.centrelines.items() if k.startswith(("VII", "VIII"))
    )
    upper = _slab(ph.t2, z_min_ras=pair_top + 2.0)
    res = analyse(upper, ph.tof)
    ident = _identified(res)
    for side in ("left", "right"):
        assert not ident[(side, "VII")].found and ident[(side, "VII")].reason
        assert any(w.startswith(f"{side} VII not identified") for w in res.warnings)
    assert all(f.nerve != "VII" for f in res.findings)
    assert not (res.labels.data == 3).any()
    # with no facial pair to place it against, a thick root is V only with low confidence
    assert all(not ident[(s, "V")].found or ident[(s, "V")].uncertain for s in ("left", "right"))


def _track(name: str, start, end, radius_mm: float):
    from nvc_viewer.segment.nerves import NerveTrack

    n = 40
    points = np.linspace(start, end, n)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    return NerveTrack(name, "left", points, np.full(n, radius_mm), s_mm=s)


def _scene_of(*tracks):
    from types import SimpleNamespace

    frame = SimpleNamespace(midline_x=lambda z: 0.0)
    scene = SimpleNamespace(
        to_ras=lambda p: np.asarray(p, float), frame=frame, nerves={}, unnamed=[]
    )
    scene.nerves = {t.key: t for t in tracks}
    return scene


def test_two_roots_that_do_not_run_side_by_side_are_not_named_a_pair():
    from nvc_viewer.segment.identify import identify_nerves

    # (mm, scene = RAS) VIII from the pontomedullary junction out to the porus; VII beside it,
    # anterosuperior and thinner: a pair
    viii = _track("VIII", (-8.0, -29.0, -38.0), (-32.0, -21.0, -35.0), 1.0)
    vii = _track("VII", (-6.5, -27.5, -36.5), (-30.5, -19.5, -33.5), 0.6)
    ident = {(i.side, i.nerve): i for i in identify_nerves(_scene_of(vii, viii))}
    assert ident[("left", "VII")].found and ident[("left", "VII")].confidence >= 0.9
    # a "VII" in front of the pons, 20 mm from VIII and short of the porus, is not VII
    stray = _track("VII", (-1.0, -10.0, -29.0), (-4.0, -7.0, -29.0), 0.6)
    viii = _track("VIII", (-8.0, -29.0, -38.0), (-32.0, -21.0, -35.0), 1.0)
    scene = _scene_of(stray, viii)
    ident = {(i.side, i.nerve): i for i in identify_nerves(scene)}
    assert not ident[("left", "VII")].found and ident[("left", "VII")].reason
    assert ident[("left", "VIII")].found and ident[("left", "VIII")].uncertain
    assert "VII_left" not in scene.nerves and stray in scene.unnamed


@pytest.mark.xfail(
    strict=True,
    reason="open: a TOF-dark tube wider than a vein is called an artery (a small artery the TOF "
    "missed); IX, X and VI are such tubes. Leaving TOF-dark tubes that touch the brainstem "
    "unlabelled fixes them but loses arteries lying on the brainstem with a flow gap",
)
def test_the_other_cranial_nerves_are_not_called_arteries():
    from nvc_viewer.labels import LABEL_VALUES
    from nvc_viewer.phantom import lower_nerve_mask

    ph = make_phantom("contact", side="left", seed=41, lower_nerves=True, **SMALL)
    res = analyse(ph.t2, ph.tof)
    roots = lower_nerve_mask(ph)
    assert roots.sum() > 100
    as_artery = int((res.labels.data[roots] == LABEL_VALUES["artery"]).sum())
    assert as_artery <= 0.25 * roots.sum(), f"{as_artery} of {roots.sum()} root voxels artery"
