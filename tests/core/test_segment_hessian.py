"""The closed-form 3x3 eigen-solver and the scale-space Hessian in mm."""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.segment.hessian import eigvalsh3, eigvec3, hessian_at, hessian_mm, smooth_mm


def _random_symmetric(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, 3, 3))
    return m + m.transpose(0, 2, 1)


def _entries(m: np.ndarray) -> tuple[np.ndarray, ...]:
    return m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 1], m[:, 1, 2], m[:, 2, 2]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-7), (np.float32, 2e-4)])
def test_eigvalsh3_matches_numpy(dtype, tol):
    m = _random_symmetric(20000)
    # degenerate and special matrices: multiples of identity, double eigenvalues, zeros
    m[0] = 2.0 * np.eye(3)
    m[1] = np.diag([1.0, 1.0, 3.0])
    m[2] = np.diag([-4.0, 2.0, 2.0])
    m[3] = 0.0
    m[4] = np.diag([1e-3, 0.0, -1e-3])
    ref = np.linalg.eigvalsh(m)
    w = eigvalsh3(*_entries(m.astype(dtype)))
    assert w.shape == (3, len(m))
    assert w.dtype == dtype
    scale = np.maximum(np.linalg.norm(m, axis=(1, 2)), 1e-12)
    err = np.abs(w.T - ref).max(axis=1) / scale
    assert err.max() < tol
    assert np.all(w[0] <= w[1] + 1e-12) and np.all(w[1] <= w[2] + 1e-12)


def test_eigvalsh3_works_on_volumes():
    m = _random_symmetric(6 * 5 * 4, seed=3)
    vol = [x.reshape(6, 5, 4) for x in _entries(m)]
    w = eigvalsh3(*vol)
    assert w.shape == (3, 6, 5, 4)
    np.testing.assert_allclose(w.reshape(3, -1).T, np.linalg.eigvalsh(m), atol=1e-8)


def test_eigvec3_is_an_eigenvector():
    m = _random_symmetric(5000, seed=1)
    w = eigvalsh3(*_entries(m))
    for k in range(3):
        v = eigvec3(*_entries(m), w[k])
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-9)
        res = np.einsum("nij,nj->ni", m, v) - w[k][:, None] * v
        assert np.abs(res).max() < 1e-6 * np.abs(m).max()


def _ramp_quadratic(shape, spacing, coef):
    """f = sum_ab coef[a, b] x_a x_b (x in mm): its Hessian is coef + coef.T everywhere."""
    idx = np.indices(shape).astype(np.float64)
    x = [idx[a] * spacing[a] for a in range(3)]
    return sum(coef[a, b] * x[a] * x[b] for a in range(3) for b in range(3))


def test_hessian_in_mm_on_a_quadratic():
    spacing = np.array([0.5, 0.7, 0.9])
    coef = np.array([[1.0, 0.3, -0.2], [0.0, -0.5, 0.4], [0.0, 0.0, 0.25]])
    f = _ramp_quadratic((30, 26, 22), spacing, coef)
    h = hessian_mm(f, spacing, 0.6, normalise=False)
    expected = coef + coef.T
    inner = (slice(8, -8),) * 3
    for comp, (a, b) in zip(h, [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]):
        np.testing.assert_allclose(comp[inner], expected[a, b], rtol=2e-3, atol=2e-3)
    # at chosen voxels only: the same values
    flat = np.ravel_multi_index(np.array([[15, 13, 11], [10, 12, 9]]).T, f.shape)
    h2 = hessian_at(smooth_mm(f, spacing, 0.6), flat, spacing)
    for comp, (a, b) in zip(h2, [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]):
        np.testing.assert_allclose(comp, expected[a, b], rtol=2e-3, atol=2e-3)


def test_hessian_rejects_bad_spacing():
    with pytest.raises(ValueError, match="spacing_mm"):
        hessian_mm(np.zeros((4, 4, 4)), (0.5, -1.0, 0.5), 1.0)
    with pytest.raises(ValueError, match="sigma_mm"):
        hessian_mm(np.zeros((4, 4, 4)), (0.5, 0.5, 0.5), 0.0)
