"""Findings shared by the tests of the findings model, its files and the workspace."""

from __future__ import annotations

from nvc_viewer.findings import Finding

T0 = "2026-01-31T14:05:00+00:00"


def finding(**changes) -> Finding:
    """A valid automatic VII/AICA contact at the left RDP; ``changes`` override any field."""
    fields = dict(
        id="f1",
        side="left",
        nerve="VII",
        vessel="AICA",
        vessel_kind="artery",
        segment="RDP",
        grade="contact",
        position_ras=(-12.5, 3.25, -30.0),
        created=T0,
    )
    fields.update(changes)
    return Finding(**fields)
