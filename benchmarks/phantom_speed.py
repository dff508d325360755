"""Time the CPA phantom: geometry, rendering and noise, at test size and at full scanner size.

Usage::

    python benchmarks/phantom_speed.py            # test size and a 512 x 512 x 160 case at 0.4 mm
    python benchmarks/phantom_speed.py --quick    # test size only

Prints wall and CPU time per case; the full-size target is under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

from nvc_viewer.phantom import make_phantom
from nvc_viewer.phantom._anatomy import build_anatomy


def _time(label: str, fn) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<48s} wall {wall:7.2f} s   cpu {cpu:7.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="test size only")
    parser.add_argument("--scenario", default="contact")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sc, seed = args.scenario, args.seed
    _time(f"geometry only ({sc}, seed {seed})", lambda: build_anatomy(sc, "left", seed))
    ph = _time(
        "test size: 64 x 64 x 40 mm at 0.5 mm",
        lambda: make_phantom(sc, seed=seed, shape=None, spacing_mm=0.5),
    )
    print(f"    T2 {ph.t2.shape}, TOF {ph.tof.shape}")
    if args.quick:
        return
    ph = _time(
        "full size: 512 x 512 x 160 at 0.4 mm",
        lambda: make_phantom(sc, seed=seed, shape=(512, 512, 160), spacing_mm=0.4),
    )
    print(f"    T2 {ph.t2.shape}, TOF {ph.tof.shape}")


if __name__ == "__main__":
    main()
