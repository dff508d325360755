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
# pytest in parallel, one process a core (at most 4 unless NVC_TEST_WORKERS says; 0: one process),
# each with its own Xvfb display; whole test modules to one process, so a module's fixtures are
# built once. A process that crashes fails the run (no restart: xdist's module scheduling can hang
# on one).
workers=${NVC_TEST_WORKERS:-$(nproc 2>/dev/null || echo 1)}
if [ -z "${NVC_TEST_WORKERS:-}" ] && [ "$workers" -gt 4 ]; then workers=4; fi
.venv/bin/python -m pytest -n "$workers" --dist loadscope --max-worker-restart 0 "$@"
