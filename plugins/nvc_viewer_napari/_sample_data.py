"""napari sample-data contribution: the nvc-viewer sample case (a synthetic CPA phantom)."""

from __future__ import annotations

from nvc_viewer.sample import load_sample

from ._layers import LayerDataTuple, case_layers

__all__ = ["sample_case"]


def sample_case() -> list[LayerDataTuple]:
    """Layers of the sample case (`nvc_viewer.sample.load_sample`) on one display grid.

    The T2 reference, the TOF resampled into the T2 grid (red overlay) and the truth label map
    as a hidden labels layer named ``truth labels``: the answer key stays out of sight until the
    user turns it on.
    """
    layers = case_layers(**load_sample())
    out = []
    for data, kwargs, layer_type in layers:
        if layer_type == "labels":
            kwargs = {**kwargs, "name": "truth labels", "visible": False}
        out.append((data, kwargs, layer_type))
    return out
