#!/usr/bin/env bash
# Run the demo on the bundled sample case. Sets itself up first.
# With a display: opens napari with the case. Without one: runs headless under Xvfb, writes the
# outputs and a screenshot, and prints where they are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/nvc-viewer demo "$@"
fi
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/nvc-viewer demo --headless "$@"
