"""The oblique reformat through a nerve's axis: the plane's geometry is exact (a pixel goes back
to the patient RAS it was sampled at), the nerve lies along the plane, the plane turns towards
the offending vessel, and the edges carry the right patient letters."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvc_viewer.errors import AnalysisError
from nvc_viewer.findings import Landmark
from nvc_viewer.labels import ARTERY, CN7, VEIN
from nvc_viewer.orientation import EdgeLetters
from nvc_viewer.phantom import Phantom, make_phantom
from nvc_viewer.reformat import (
    REFORMAT_SIZE_MM,
    case_reformat,
    closest_on_polyline,
    nerve_axis,
    plane_directions,
    reformat,
    sample_plane,
    toward_vessel,
)
from nvc_viewer.volume import Volume

SPACING = np.array([0.5, 0.6, 0.8])
SHAPE = (96, 80, 60)
# A linear image: trilinear interpolation gives it back exactly, so a pixel's value says
# which patient position it was sampled at.
GRADIENT = np.array([0.7, -1.3, 2.1])
OFFSET = 500.0
# The synthetic nerve: a straight tube through CENTRE along NERVE_DIR, radius 1.2 mm; an artery
# ball of radius 1 mm touching it on the UP_DIR side, a vein ball on the other side.
CENTRE = np.array([4.0, -20.0, -30.0])
NERVE_DIR = np.array([-0.8, 0.45, 0.3]) / np.linalg.norm([-0.8, 0.45, 0.3])
_ACROSS = np.cross(NERVE_DIR, [0.0, 0.0, 1.0])
UP_DIR = np.cross(_ACROSS / np.linalg.norm(_ACROSS), NERVE_DIR)  # perpendicular, superior-ish
NERVE_RADIUS = 1.2


def _affine() -> np.ndarray:
    """An oblique acquisition: voxel axes turned away from the patient axes."""
    linear = Rotation.from_euler("xyz", [18.0, -12.0, 27.0], degrees=True).as_matrix()
    linear = linear @ np.diag([-1.0, -1.0, 1.0]) @ np.diag(SPACING)
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = CENTRE - linear @ ((np.asarray(SHAPE) - 1) / 2.0)
    return affine


@pytest.fixture(scope="module")
def volumes() -> tuple[Volume, Volume]:
    affine = _affine()
    ijk = np.indices(SHAPE, dtype=np.float64).reshape(3, -1).T
    ras = ijk @ affine[:3, :3].T + affine[:3, 3]
    image = (ras @ GRADIENT + OFFSET).reshape(SHAPE).astype(np.float32)
    rel = ras - CENTRE
    off_axis = rel - np.outer(rel @ NERVE_DIR, NERVE_DIR)
    labels = np.zeros(len(ras), np.uint8)
    labels[np.linalg.norm(off_axis, axis=1) <= NERVE_RADIUS] = CN7
    artery = CENTRE + 2.2 * UP_DIR + 1.0 * NERVE_DIR
    vein = CENTRE - 2.3 * UP_DIR
    labels[np.linalg.norm(ras - artery, axis=1) <= 1.0] = ARTERY
    labels[np.linalg.norm(ras - vein, axis=1) <= 1.0] = VEIN
    return Volume(image, affine), Volume(labels.reshape(SHAPE), affine)


def _inside(volume: Volume, ras: np.ndarray) -> np.ndarray:
    ijk = volume.ijk_of(ras)
    return np.all((ijk >= 0) & (ijk <= np.asarray(volume.shape) - 1), axis=-1)


# -- geometry of the plane --------------------------------------------------------------------
def test_every_pixel_goes_back_to_the_patient_position_it_was_sampled_at(volumes) -> None:
    image, labels = volumes
    plane = reformat(image, CENTRE, NERVE_DIR, labels=labels)
    size = plane.shape[0]
    assert plane.shape == (size, size) and size % 2 == 1
    assert plane.spacing_mm == pytest.approx(0.5)  # the finest voxel size
    assert (size - 1) * plane.spacing_mm == pytest.approx(REFORMAT_SIZE_MM, abs=plane.spacing_mm)
    half = (size - 1) / 2
    assert np.allclose(plane.pixel_to_ras([half, half]), CENTRE, atol=1e-9)
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    pixels = np.stack([rows, cols], axis=-1).astype(float)
    ras = plane.pixel_to_ras(pixels)
    inside = _inside(image, ras)
    assert inside.mean() > 0.9
    # the value at each pixel is the linear image at that pixel's RAS position
    expected = ras @ GRADIENT + OFFSET
    assert np.max(np.abs(plane.image[inside] - expected[inside])) < 1e-2
    # 0 where the plane leaves the volume (a plane larger than the volume)
    wide = reformat(image, CENTRE, NERVE_DIR, size_mm=120.0, spacing_mm=2.0)
    rows, cols = np.meshgrid(*(np.arange(n) for n in wide.shape), indexing="ij")
    ijk = image.ijk_of(wide.pixel_to_ras(np.stack([rows, cols], axis=-1).astype(float)))
    far = np.any((ijk < -1) | (ijk > np.asarray(SHAPE)), axis=-1)  # a voxel or more outside
    assert far.any() and np.all(wide.image[far] == 0.0)
    # and back: RAS -> (row, column, depth 0)
    back = plane.ras_to_pixel(ras)
    assert np.allclose(back[..., :2], pixels, atol=1e-9) and np.allclose(back[..., 2], 0, atol=1e-9)
    # pixels are square, spacing_mm apart, and the plane is flat
    assert np.allclose(np.linalg.norm(plane.affine_ras[:3, :3], axis=0), plane.spacing_mm)
    assert np.allclose(plane.affine_ras[:3, :3].T @ plane.affine_ras[:3, :3], 0.25 * np.eye(3))


def test_the_labels_are_the_nearest_voxels_and_the_nerve_lies_along_the_rows(volumes) -> None:
    image, labels = volumes
    plane = reformat(image, CENTRE, NERVE_DIR, labels=labels)
    assert plane.labels is not None and plane.labels.dtype == np.uint8
    # nearest voxel: each pixel holds the label of the voxel its position rounds to
    size = plane.shape[0]
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    ras = plane.pixel_to_ras(np.stack([rows, cols], axis=-1).astype(float))
    ijk = np.rint(labels.ijk_of(ras)).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(SHAPE)), axis=-1)
    assert np.array_equal(plane.labels[inside], labels.data[tuple(ijk[inside].T)])
    # the nerve runs left to right through the centre row, as wide as the nerve
    assert abs(float(plane.axis_ras @ NERVE_DIR)) == pytest.approx(1.0)
    nerve = plane.labels == CN7
    half = (size - 1) // 2
    nerve_rows = np.nonzero(nerve.any(axis=1))[0]
    band = NERVE_RADIUS / plane.spacing_mm + 1
    assert np.all(np.abs(nerve_rows - half) <= band)
    columns_inside = np.nonzero(inside[half])[0]
    assert nerve[half - 1 : half + 2].any(axis=0)[columns_inside].mean() > 0.95


def test_the_nerve_points_to_the_patients_left_on_the_screens_right_and_superior_is_up(
    volumes,
) -> None:
    image, _ = volumes
    for sense in (1.0, -1.0):  # the centreline's direction does not change the picture
        plane = reformat(image, CENTRE, sense * NERVE_DIR)
        assert plane.axis_ras[0] < 0  # to the screen's right: patient left
        assert plane.up_ras[2] > 0 and abs(plane.up_ras @ plane.axis_ras) < 1e-12
        # up is the direction perpendicular to the nerve closest to superior
        assert plane.up_ras == pytest.approx(UP_DIR, abs=1e-9)


def test_letters_of_known_planes() -> None:
    volume = Volume(np.zeros((4, 4, 4), np.float32), np.eye(4))
    centre = (1.5, 1.5, 1.5)
    # a nerve running left-right: the coronal plane, as the viewer's coronal view
    coronal = reformat(volume, centre, (-1.0, 0.0, 0.0), size_mm=3)
    assert coronal.letters == EdgeLetters(top="S", bottom="I", left="R", right="L")
    assert np.allclose(np.abs(coronal.normal_ras), [0, 1, 0])
    # running antero-posterior: the sagittal plane
    sagittal = reformat(volume, centre, (0.0, 1.0, 0.0), size_mm=3)
    assert sagittal.letters == EdgeLetters(top="S", bottom="I", left="P", right="A")
    # running left and 30 degrees forward: two letters an edge, the dominant first
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    oblique = reformat(volume, centre, (-c, s, 0.0), size_mm=3)
    assert oblique.letters == EdgeLetters(top="S", bottom="I", left="RP", right="LA")
    # turned towards anterior (a vessel in front of the nerve): anterior up
    forward = reformat(volume, centre, (-1.0, 0.0, 0.0), toward_ras=(0, -1, 0), size_mm=3)
    assert forward.letters == EdgeLetters(top="A", bottom="P", left="R", right="L")
    # the roll turns the plane about the nerve: 90 degrees from the coronal plane is axial
    rolled = reformat(volume, centre, (-1.0, 0.0, 0.0), size_mm=3, roll_deg=90.0)
    assert rolled.letters.left == "R" and rolled.letters.right == "L"
    assert {rolled.letters.top, rolled.letters.bottom} == {"A", "P"}


def test_plane_directions_refuse_what_makes_no_plane() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        plane_directions((0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="along the nerve axis"):
        plane_directions((1.0, 0.0, 0.0), (2.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        plane_directions((1.0, 0.0, 0.0), roll_deg=float("nan"))
    # a nerve along S-I: anterior up instead of superior
    right, up = plane_directions((0.0, 0.0, 1.0))
    assert np.allclose(up, [0, 1, 0]) and np.allclose(right, [0, 0, 1])


# -- the nerve's axis -------------------------------------------------------------------------
def test_the_axis_is_the_local_chord_of_a_bent_centreline() -> None:
    # a quarter circle of radius 10 mm in the axial plane, from (10, 0, 0) to (0, 10, 0)
    t = np.linspace(0.0, np.pi / 2, 200)
    line = np.stack([10 * np.cos(t), 10 * np.sin(t), np.zeros_like(t)], axis=1)
    near = np.array([10 * np.cos(np.pi / 4), 10 * np.sin(np.pi / 4), 0.0]) * 1.05
    foot, direction = nerve_axis(line, near)
    assert np.linalg.norm(foot) == pytest.approx(10.0, abs=1e-3)
    # the tangent there, in the centreline's order (from the first point outward)
    assert direction == pytest.approx(np.array([-1.0, 1.0, 0.0]) / np.sqrt(2), abs=1e-3)
    point, s = closest_on_polyline(line, near)
    assert s == pytest.approx(10 * np.pi / 4, abs=1e-2)
    with pytest.raises(ValueError, match="two distinct points"):
        nerve_axis(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), near)


def test_the_plane_turns_towards_the_vessel_on_the_contacts_side(volumes) -> None:
    _, labels = volumes
    contact = CENTRE + 1.6 * UP_DIR  # between the nerve's surface and the artery's
    direction = toward_vessel(contact, CENTRE, NERVE_DIR, labels)
    assert direction is not None
    # the artery's centre seen from the axis (the vein on the other side is left out)
    artery = 2.2 * UP_DIR
    assert float(direction @ artery) / np.linalg.norm(artery) > np.cos(np.radians(5.0))
    # on the vein's side, the vein
    direction = toward_vessel(CENTRE - 1.6 * UP_DIR, CENTRE, NERVE_DIR, labels)
    assert direction is not None and float(direction @ UP_DIR) < -np.cos(np.radians(5.0))
    # without a label map, the contact point itself; on the axis, nothing
    assert toward_vessel(contact, CENTRE, NERVE_DIR) == pytest.approx(UP_DIR)
    assert toward_vessel(CENTRE, CENTRE, NERVE_DIR) is None


def test_sample_plane_refuses_other_orders(volumes) -> None:
    image, _ = volumes
    with pytest.raises(ValueError, match="order"):
        sample_plane(image, np.eye(4), (3, 3), order=3)


# -- a case: the phantom with its known nerves ---------------------------------------------------
@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom(
        "contact", side="left", seed=1, shape=(96, 96, 64), spacing_mm=0.5, supersample=2
    )


def _landmarks(phantom: Phantom) -> list[Landmark]:
    return [
        Landmark(lm["name"], lm["side"], lm["nerve"], tuple(lm["position_ras"]))
        for lm in phantom.truth["landmarks"]
    ]


def _nerve_strip(plane, label: int = CN7) -> tuple[float, float]:
    """Spread (mm) of a label's pixels along the columns and along the rows, within 6 mm of
    the centre."""
    size = plane.shape[0]
    half = (size - 1) / 2
    reach = 6.0 / plane.spacing_mm
    rows, cols = np.nonzero(plane.labels == label)
    near = (np.abs(rows - half) <= reach) & (np.abs(cols - half) <= reach)
    rows, cols = rows[near], cols[near]
    assert len(rows) >= 5, "the nerve is not on the plane"
    return float(np.ptp(cols)) * plane.spacing_mm, float(np.ptp(rows)) * plane.spacing_mm


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_root_exit_zone_plane_of_a_phantom_holds_the_facial_nerve(phantom, side) -> None:
    landmarks = _landmarks(phantom)
    plane = case_reformat(
        phantom.t2,
        side=side,
        labels=phantom.labels,
        centrelines=phantom.centrelines,
        landmarks=landmarks,
    )
    rdp = next(lm for lm in landmarks if (lm.side, lm.nerve, lm.name) == (side, "VII", "RDP"))
    half = (plane.shape[0] - 1) / 2
    # centred on the RDP, which maps back to its patient position
    assert np.allclose(plane.ras_to_pixel(rdp.position_ras), [half, half, 0.0], atol=0.05)
    # the nerve's true course near the RDP lies in the plane, along the rows
    line = phantom.centrelines[f"VII_{side}"]
    depth = plane.ras_to_pixel(line)[:, 2] * plane.spacing_mm
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
    _, s_rdp = closest_on_polyline(line, rdp.position_ras)
    close = np.abs(s - s_rdp) <= 2.0
    radius = float(phantom.radii[f"VII_{side}"][0])
    assert np.abs(depth[close]).min() < 0.1  # the plane goes through the nerve's axis
    assert np.mean(np.abs(depth[close]) < radius) > 0.6  # and cuts the nerve 2 mm either side
    centre = int(half)
    assert (plane.labels[centre - 1 : centre + 2, centre - 1 : centre + 2] == CN7).any()
    along, across = _nerve_strip(plane)
    assert along >= 2.0 * across, (along, across)
    # the brainstem is on the medial side: the screen's left for the patient's left nerve
    brainstem = plane.labels == 1
    medial_half = brainstem[:, : int(half)] if side == "left" else brainstem[:, int(half) + 1 :]
    lateral_half = brainstem[:, int(half) + 1 :] if side == "left" else brainstem[:, : int(half)]
    assert medial_half.sum() > 3 * lateral_half.sum()
    assert plane.letters.top[0] == "S"
    assert plane.letters.right[0] == "L" and plane.letters.left[0] == "R"


def test_a_findings_plane_holds_the_nerve_and_its_vessel(phantom) -> None:
    relation = phantom.params["relations"][0]
    finding = SimpleNamespace(**phantom.truth["findings"][0])
    plane = case_reformat(
        phantom.t2,
        side="right",  # the finding's own side and nerve are used
        labels=phantom.labels,
        centrelines=phantom.centrelines,
        landmarks=_landmarks(phantom),
        finding=finding,
    )
    assert plane.toward_vessel
    half = (plane.shape[0] - 1) / 2
    assert np.allclose(plane.ras_to_pixel(finding.position_ras), [half, half, 0.0], atol=0.2)
    # the true nerve -> vessel direction lies in the plane, along its vertical
    toward = np.asarray(relation["direction_ras"], dtype=float)
    assert abs(float(toward @ plane.normal_ras)) < np.sin(np.radians(12.0))
    assert abs(float(toward @ plane.up_ras)) > np.cos(np.radians(25.0))
    # the nerve along the rows, the artery next to it on the vertical through the centre
    along, across = _nerve_strip(plane)
    assert along > 2.0 * across, (along, across)
    rows, cols = np.nonzero(plane.labels == ARTERY)
    near = np.hypot(rows - half, cols - half) * plane.spacing_mm <= 3.0
    assert near.sum() >= 3, "no artery next to the contact"
    # the artery lies on the side the vessel is: above the nerve when the vessel is superior
    side = np.sign(float(toward @ plane.up_ras))
    assert np.all(np.sign(half - rows[near]) != -side)
    assert np.all(np.abs(cols[near] - half) * plane.spacing_mm <= 2.0)


def test_without_centrelines_the_landmarks_give_the_axis(phantom) -> None:
    landmarks = _landmarks(phantom)
    with_line = case_reformat(
        phantom.t2, side="left", centrelines=phantom.centrelines, landmarks=landmarks
    )
    without = case_reformat(phantom.t2, side="left", landmarks=landmarks)
    assert np.allclose(without.centre_ras, with_line.centre_ras, atol=0.5)
    assert float(without.axis_ras @ with_line.axis_ras) > np.cos(np.radians(25.0))
    assert without.labels is None
    with pytest.raises(AnalysisError, match="no VII of the left side"):
        case_reformat(phantom.t2, side="left")
    with pytest.raises(ValueError, match="side"):
        case_reformat(phantom.t2, side="up", landmarks=landmarks)
