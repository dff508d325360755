"""napari plugin for nvc-viewer."""
