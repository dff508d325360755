"""napari sample-data contribution: the nvc-viewer sample case."""

from __future__ import annotations

from nvc_viewer.sample import load_sample

from ._layers import LayerDataTuple, case_layers

__all__ = ["sample_case"]


def sample_case() -> list[LayerDataTuple]:
    """Layers of the sample case (`nvc_viewer.sample.load_sample`) on one display grid."""
    return case_layers(**load_sample())
