"""Describing a scan: the plain-text table of ``nvc-viewer info``.

Design note
-----------
Owns `describe_scan`: one row per series (key, number, description, sequence, role, size,
spacing, orientation, problems) and the skipped files by reason. No patient data.
"""

from __future__ import annotations

import math
from collections import Counter

from ._records import DicomScan


def describe_scan(scan: DicomScan) -> str:
    """Plain-text table of a scan for ``nvc-viewer info`` (no patient data).

    One row per series: key, SeriesNumber, description, sequence, role, slices, matrix
    (columns x rows x slices), spacing (mm), orientation and problems; then the skipped files.
    """
    header = (
        "key",
        "no.",
        "description",
        "sequence",
        "role",
        "slices",
        "matrix",
        "spacing mm",
        "orient",
        "problems",
    )
    rows: list[tuple[str, ...]] = []
    for s in scan.series:
        spacing = (
            "x".join(f"{v:.3g}" for v in s.spacing_mm)
            if all(math.isfinite(v) for v in s.spacing_mm)
            else "?"
        )
        rows.append(
            (
                s.key,
                "" if s.series_number is None else str(s.series_number),
                _clip(s.description, 28),
                _clip(s.sequence, 14),
                s.role,
                str(s.n_slices),
                "x".join(str(v) for v in s.shape),
                spacing,
                s.orientation,
                "; ".join(f"{k}: {_clip(m, 90)}" for k, m in zip(s.problem_types, s.problems))
                or "-",
            )
        )
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"{len(scan.series)} series in {scan.n_files} file(s); {scan.n_skipped} file(s) skipped"
    )
    reasons = Counter(reason.split(" (")[0] for _, reason in scan.skipped)
    lines.extend(f"  skipped {n}: {r}" for r, n in reasons.most_common())
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
