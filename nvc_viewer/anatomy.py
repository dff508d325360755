"""The REZ vocabulary shared by the analysis, the surgeon's annotations and the phantom's truth.

Design note
-----------
Where a point on a nerve root lies (attached segment, root detachment point, transition zone,
cisternal, meatal; docs/anatomy.md) is one rule, used by everything that names a segment: the
analysis for its findings, the annotation tools for a surgeon's point, the phantom for its
ground truth. It lives here, apart from the analysis, so that the truth does not move when the
analysis changes and so that naming a segment costs no heavy import.
"""

from __future__ import annotations

__all__ = ["ROOT_EXIT_ZONE", "segment_name"]

#: The segments of the root exit zone (from the root's exit point through the transition zone),
#: where a vessel's contact with VII causes hemifacial spasm (docs/anatomy.md).
ROOT_EXIT_ZONE = ("attached", "RDP", "TZ")


def segment_name(d_from_rdp_mm: float, tz_mm: float, porus_mm: float | None) -> str:
    """REZ segment of a point ``d_from_rdp_mm`` along the nerve from the RDP.

    ``attached`` more than 1 mm proximal to the RDP; ``RDP`` up to half way to the TZ; ``TZ``
    up to half that distance again past it; ``cisternal`` to the porus of the internal auditory
    meatus (``porus_mm`` from the RDP; None when unknown); ``meatal`` beyond.
    """
    if d_from_rdp_mm < -1.0:
        return "attached"
    if d_from_rdp_mm < tz_mm / 2:
        return "RDP"
    if d_from_rdp_mm < 1.5 * tz_mm:
        return "TZ"
    if porus_mm is None or d_from_rdp_mm < porus_mm:
        return "cisternal"
    return "meatal"
