"""Display grid (flips/transposes onto S, P, L) and resampling keep every voxel at its RAS place."""

import itertools

import numpy as np
import pytest

from nvc_viewer.geometry import (
    LPS_TO_RAS,
    RAS_TO_SPL,
    apply_affine,
    lps_to_ras,
    resample_like,
    to_display,
)
from nvc_viewer.volume import Volume


def _rotation(ax_deg: float, ay_deg: float) -> np.ndarray:
    a, b = np.radians([ax_deg, ay_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return rx @ ry


def _volume(perm, signs, spacing=(0.4, 0.5, 1.2), oblique=(0.0, 0.0), shape=(7, 9, 5), seed=0):
    """A volume whose voxel axes map to the world axes ``perm`` with ``signs``, then rotated."""
    rot = np.zeros((3, 3))
    for vox_axis, (world_axis, sign) in enumerate(zip(perm, signs)):
        rot[world_axis, vox_axis] = sign
    affine = np.eye(4)
    affine[:3, :3] = _rotation(*oblique) @ rot @ np.diag(spacing)
    affine[:3, 3] = [12.5, -30.0, 7.0]
    data = np.random.default_rng(seed).integers(0, 1000, size=shape).astype(np.int16)
    return Volume(data, affine)


LAYOUTS = [
    (perm, signs)
    for perm in itertools.permutations(range(3))
    for signs in itertools.product((1, -1), repeat=3)
]


@pytest.mark.parametrize(("perm", "signs"), LAYOUTS)
@pytest.mark.parametrize("oblique", [(0.0, 0.0), (15.0, 10.0)])
def test_display_grid_keeps_every_voxel_at_its_patient_position(perm, signs, oblique):
    vol = _volume(perm, signs, oblique=oblique)
    data, grid = to_display(vol)
    # no interpolation: the same values, only reordered
    assert sorted(data.ravel().tolist()) == sorted(vol.data.ravel().tolist())
    # every display index maps through the exact affine to the RAS of the same source voxel
    rng = np.random.default_rng(1)
    display_idx = np.stack([rng.integers(0, n, 20) for n in data.shape], axis=1)
    ras = apply_affine(grid.affine_ras, display_idx)
    src_idx = np.rint(vol.ijk_of(ras)).astype(int)
    np.testing.assert_allclose(vol.ras_of(src_idx), ras, atol=1e-9)
    np.testing.assert_array_equal(data[tuple(display_idx.T)], vol.data[tuple(src_idx.T)])
    # display axes run along +S, +P, +L (diagonal of the SPL direction matrix dominant, positive)
    spl = (RAS_TO_SPL @ grid.affine_ras)[:3, :3] / grid.scale
    assert np.all(np.argmax(np.abs(spl), axis=0) == [0, 1, 2])
    assert np.all(np.diag(spl) > 0)
    # the napari scale/translate place voxel centres exactly when not oblique
    world = grid.index_to_display(display_idx)
    exact = apply_affine(RAS_TO_SPL, ras)
    if oblique == (0.0, 0.0):
        np.testing.assert_allclose(world, exact, atol=1e-9)
        assert grid.obliquity_deg == pytest.approx(0.0, abs=1e-9)
    else:
        assert grid.obliquity_deg > 10
    # display <-> RAS round trip is exact whatever the obliquity
    np.testing.assert_allclose(grid.display_to_ras(world), ras, atol=1e-9)
    np.testing.assert_allclose(grid.ras_to_display(ras), world, atol=1e-9)


def test_patient_left_is_on_the_screen_right_and_anterior_up():
    # an LPS-ordered volume as a DICOM axial series gives: i -> patient left, j -> posterior
    affine = lps_to_ras(np.diag([0.5, 0.5, 1.0, 1.0]))
    affine[:3, 3] = [10.0, 10.0, 0.0]  # voxel 0 at the patient's right-anterior corner
    data = np.zeros((40, 40, 3), np.float32)
    data[35, 20, 1] = 1.0  # large i = toward the patient's left
    data[20, 2, 1] = 2.0  # small j = anterior
    vol = Volume(data, affine)
    disp, grid = to_display(vol)
    _, rows, cols = np.nonzero(disp == 1.0)
    assert cols[0] > disp.shape[2] / 2  # left marker in the right half of the screen
    assert vol.ras_of(np.argwhere(vol.data == 1.0)[0])[0] < 0  # and x_RAS < 0
    _, rows, cols = np.nonzero(disp == 2.0)
    assert rows[0] < disp.shape[1] / 2  # anterior marker in the top half


def test_lps_ras_is_an_involution():
    a = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(lps_to_ras(lps_to_ras(a)), a)
    np.testing.assert_array_equal(LPS_TO_RAS @ [1, 2, 3, 1], [-1, -2, 3, 1])


def test_resample_like_moves_values_through_both_affines():
    moving = _volume((2, 0, 1), (-1, 1, -1), spacing=(1.0, 1.0, 1.0), shape=(6, 7, 8))
    # the reference grid is the same lattice, differently ordered: exact for nearest neighbour
    ref_data, ref_grid = to_display(moving)
    reference = Volume(np.zeros(ref_data.shape, np.float32), ref_grid.affine_ras)
    out = resample_like(moving, reference, order=0)
    np.testing.assert_array_equal(out.data, ref_data)
    np.testing.assert_array_equal(out.affine, reference.affine)
    assert out.data.dtype == moving.data.dtype


def test_resample_like_linear_on_a_shifted_grid_interpolates():
    ramp = np.broadcast_to(np.arange(10, dtype=np.float32)[:, None, None], (10, 4, 4)).copy()
    moving = Volume(ramp, np.eye(4))
    shifted = np.eye(4)
    shifted[0, 3] = 0.5  # half a voxel along i
    out = resample_like(moving, Volume(np.zeros((9, 4, 4)), shifted))
    np.testing.assert_allclose(out.data[:, 1, 1], np.arange(9) + 0.5, atol=1e-6)
    assert out.data.dtype == np.float32


def test_resample_like_rejects_bad_order():
    vol = _volume((0, 1, 2), (1, 1, 1))
    with pytest.raises(ValueError, match="order"):
        resample_like(vol, vol, order=7)


# -- voxel axes -> nearest patient axes: nibabel's rules, without importing nibabel ------------
def _affines() -> list[np.ndarray]:
    """Axis-aligned layouts (every permutation and flip), oblique ones up to 45 degrees (where
    two axes tie), anisotropic and sheared ones."""
    rng = np.random.default_rng(3)
    affines = [_volume(perm, signs).affine for perm, signs in LAYOUTS]
    affines += [
        _volume(perm, signs, oblique=tuple(rng.uniform(-45, 45, 2))).affine
        for perm, signs in LAYOUTS
    ]
    affines += [_volume((0, 1, 2), (1, 1, 1), oblique=(45.0, 0.0)).affine]
    affines += [_volume((0, 1, 2), (1, 1, 1), oblique=(45.0, 45.0)).affine]
    for _ in range(40):
        affine = np.eye(4)
        affine[:3, :3] = rng.normal(size=(3, 3)) * rng.uniform(0.2, 3.0, 3)
        affine[:3, 3] = rng.normal(scale=50, size=3)
        affines.append(affine)
    return affines


def test_axis_orientation_follows_nibabels_rules() -> None:
    import nibabel.orientations as nio

    from nvc_viewer.geometry import _apply_orientation, _inv_ornt_aff, _io_orientation, axis_codes

    data = np.arange(7 * 9 * 5).reshape(7, 9, 5)
    for affine in _affines():
        expected = nio.io_orientation(affine)
        ornt = _io_orientation(affine)
        np.testing.assert_array_equal(ornt, expected)
        assert axis_codes(affine) == "".join(nio.aff2axcodes(affine))
        np.testing.assert_array_equal(
            _apply_orientation(data, ornt), nio.apply_orientation(data, expected)
        )
        np.testing.assert_allclose(
            _inv_ornt_aff(ornt, data.shape), nio.inv_ornt_aff(expected, data.shape)
        )


def test_axis_codes_of_common_layouts() -> None:
    from nvc_viewer.geometry import axis_codes

    assert axis_codes(np.diag([1.0, 1.0, 1.0, 1.0])) == "RAS"
    assert axis_codes(LPS_TO_RAS) == "LPS"
    assert axis_codes(lps_to_ras(np.diag([0.5, 0.5, 1.0, 1.0]))) == "LPS"
    sagittal = np.array([[0.0, 0, -1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    assert axis_codes(sagittal) == "ASL"
    # voxel axes to +S, -R (left), +A: what the Volume reports
    assert _volume((2, 0, 1), (1, -1, 1)).orientation == "SLA"
    dropped = np.diag([1.0, 1.0, 0.0, 1.0])  # a voxel axis that goes nowhere
    assert axis_codes(dropped) == "RA?"
