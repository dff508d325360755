import pytest

from nvc_viewer.io.roles import guess_role


@pytest.mark.parametrize(
    ("texts", "role"),
    [
        (["t2_ciss3d_0.5iso"], "t2"),
        (["Ax 3D FIESTA-C"], "t2"),
        (["T2_SPACE_sag"], "t2"),
        (["3D DRIVE"], "t2"),
        (["sT2W_3D_bFFE"], "t2"),
        ([None, "*ci3d1"], "t2"),
        (["tof_3d_multi-slab"], "tof"),
        (["3D TOF MRA", "*fl3d1r_t70"], "tof"),
        (["Angio COW"], "tof"),
        (["t1_mprage_sag"], "t1"),
        (["localizer"], "unknown"),
        ([], "unknown"),
        (["spacer notes"], "unknown"),  # "space" only as a word
        (["case_t20"], "unknown"),
    ],
)
def test_guess_role(texts, role):
    assert guess_role(texts) == role
