"""The way to the first frame: the T2 drawn before the TOF is resampled, napari's settings written
once while the window and the panels are made, pint's unit definitions read from its cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nvc_viewer_napari import _layers
from nvc_viewer_napari._case_view import case_view_for
from nvc_viewer_napari._dock import dock_panels
from nvc_viewer_napari._layers import case_layers, iter_case_layers

from ._phantoms import make_volume


def _t2_and_tof() -> tuple[Any, Any]:
    t2 = make_volume("axial")
    tof = make_volume("sagittal", shape=(10, 12, 8), spacing=(1.5, 1.5, 2.0), role="tof")
    return t2, tof


def test_iter_case_layers_makes_case_layers_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t2, tof = _t2_and_tof()
    labels = t2.with_data((t2.data > t2.data.mean()).astype(np.uint8), role="label")
    resampled: list[str] = []
    resample_like = _layers.resample_like
    monkeypatch.setattr(
        _layers,
        "resample_like",
        lambda moving, *a, **k: (
            resampled.append(moving.meta.role) or resample_like(moving, *a, **k)
        ),
    )
    layers = iter_case_layers(t2, tof, labels)
    first = next(layers)
    assert first[1]["name"].startswith("T2") and resampled == []  # nothing resampled yet
    rest = list(layers)
    assert resampled == ["tof", "label"]
    for (data, kwargs, kind), (data_all, kwargs_all, kind_all) in zip(
        [first, *rest], case_layers(t2, tof, labels), strict=True
    ):
        assert (kind, kwargs["name"]) == (kind_all, kwargs_all["name"])
        np.testing.assert_array_equal(data, data_all)
        assert kwargs["scale"] == kwargs_all["scale"]
        assert kwargs["translate"] == kwargs_all["translate"]


def test_opening_a_case_draws_the_t2_before_the_tof_is_resampled(
    make_napari_viewer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = make_napari_viewer()
    view = case_view_for(viewer)
    t2, tof = _t2_and_tof()
    shown_at_resampling: list[list[str]] = []
    resample_like = _layers.resample_like

    def watched(moving: Any, *args: Any, **kwargs: Any) -> Any:
        shown_at_resampling.append([layer.name for layer in viewer.layers])
        return resample_like(moving, *args, **kwargs)

    monkeypatch.setattr(_layers, "resample_like", watched)
    view.open_case(t2, tof, case_id="first-frame")

    (shown,) = shown_at_resampling
    assert [name.split(":")[0] for name in shown] == ["T2"]  # the T2 is in the viewer already
    t2_layer, tof_layer = viewer.layers[:2]
    assert view.reference is t2_layer
    assert tof_layer.blending == "additive"
    np.testing.assert_array_equal(tof_layer.scale, t2_layer.scale)
    np.testing.assert_array_equal(tof_layer.translate, t2_layer.translate)
    assert tof_layer.data.shape == t2_layer.data.shape

    # another case in the same viewer: its layers replace the first one's, in the same order
    shown_at_resampling.clear()
    other_t2 = make_volume("sagittal")
    view.open_case(other_t2, tof, case_id="first-frame-2")
    assert len(shown_at_resampling) == 1
    assert viewer.layers[0] is t2_layer and viewer.layers[1] is tof_layer
    assert tof_layer.data.shape == t2_layer.data.shape == view.session.grid.shape


def test_the_window_and_the_panels_write_napari_settings_once(
    make_napari_viewer: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import napari
    from napari.settings import get_settings
    from nvc_viewer_napari._viewer import new_viewer

    settings = get_settings()
    if not settings.config_path:
        pytest.skip("napari's settings have no file here")
    saves: list[dict] = []
    save = type(settings).save

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        saves.append(dict(self.application.plugin_widget_positions))
        return save(self, *args, **kwargs)

    monkeypatch.setattr(type(settings), "save", counted)
    monkeypatch.setattr(napari, "Viewer", lambda show=False, **kwargs: make_napari_viewer(**kwargs))
    viewer = new_viewer(show=False)
    assert len(saves) <= 1  # napari alone writes the file once per dock widget it adds
    saves.clear()
    dock_panels(viewer)
    assert len(saves) == 1
    # what is written is what napari would have written last: every panel's dock area
    for name in ("Case", "Findings", "Compare sides", "Analysis", "Display"):
        assert saves[0].get(name) == "right"
    assert settings._save_on_change  # napari saves on change again
    qtbot.wait(50)  # the panels settle in the window


_UNITS = """
import sys
import pint
from pint.registry import LazyRegistry
from nvc_viewer_napari._launch import use_cached_units
if sys.argv[1] == "built":
    pint.get_application_registry().mm
before = pint.get_application_registry().get()
use_cached_units()
registry = pint.get_application_registry().get()
import numpy as np
from napari.layers import Image
layer = Image(np.zeros((3, 4, 5)), scale=(0.5, 0.5, 1.0), units="mm")
print(type(registry).__name__, registry is before, registry.cache_folder, layer.units[0])
"""


def _units(tmp_path: Path, cache: Path, how: str = "lazy") -> list[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", _UNITS, how],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_pints_unit_definitions_come_from_its_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kind, same, folder, unit = _units(tmp_path, cache)
    assert (kind, same, unit) == ("UnitRegistry", "False", "millimeter")
    assert Path(folder) == cache / "pint"
    written = sorted(p.name for p in (cache / "pint").iterdir())
    assert any(name.endswith(".pickle") for name in written)
    # the next start reads them (and writes nothing new)
    assert _units(tmp_path, cache) == [kind, same, folder, unit]
    assert sorted(p.name for p in (cache / "pint").iterdir()) == written


def test_a_registry_built_already_or_no_cache_folder_keeps_pints_registry(
    tmp_path: Path,
) -> None:
    # units of the built registry may exist: it stays
    kind, same, folder, unit = _units(tmp_path, tmp_path / "cache", "built")
    assert (kind, same, folder, unit) == ("UnitRegistry", "True", "None", "millimeter")
    assert not (tmp_path / "cache" / "pint").exists()
    # no cache folder can be made (a file in the way): pint's own lazy registry, still working
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "pint").write_text("")
    kind, same, folder, unit = _units(tmp_path, blocked)
    assert (same, folder, unit) == ("True", "None", "millimeter")
