#!/usr/bin/env bash
# Run the whole test suite (core + napari plugin under a virtual X server). Sets itself up first.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests use: a real brain (Colin27, mricron-data) for the DICOM geometry
# oracle and the NIfTI sform/qform test; dciodvfy (dicom3tools) to validate the DICOM SEG and SR;
# pdftotext (poppler-utils) to read the printable report's text back.
bash scripts/setup.sh mricron-data dicom3tools poppler-utils
export PATH="$PWD/.venv/bin:$PATH"
unset QT_QPA_PLATFORM   # pytest-xvfb provides a real X display; offscreen cannot make GL contexts
.venv/bin/ruff check --output-format concise .
.venv/bin/ruff format --check .
.venv/bin/mypy nvc_viewer
.venv/bin/python -m pytest "$@"
