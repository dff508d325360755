"""Small CPA phantoms shared by the batch, privacy and worker tests (seconds to build)."""

from __future__ import annotations

from nvc_viewer.phantom import Phantom, make_phantom


def small_phantom(
    scenario: str = "contact",
    side: str = "left",
    *,
    seed: int = 1,
    shape: tuple[int, int, int] = (64, 64, 40),
    spacing_mm: float = 0.8,
) -> Phantom:
    """A coarse phantom (2x supersampling) of ``scenario`` on ``side``: enough for the batch."""
    return make_phantom(
        scenario, side=side, seed=seed, shape=shape, spacing_mm=spacing_mm, supersample=2
    )
