#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine (or any machine with Python >= 3.10):
#   1. the system libraries headless napari needs (Xvfb, OpenGL, xcb) -- via apt-get when missing,
#   2. a virtualenv in .venv with nvc-viewer installed editable, with Qt and the test tools.
# Re-running it is cheap: it only does what is missing or out of date. Arguments: more Debian
# packages to install when possible (the test suite asks for its real-data package this way).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  xvfb xauth libgl1 libegl1 libgl1-mesa-dri libfontconfig1 libdbus-1-3 libxkbcommon-x11-0
  libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
  libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxcb-sync1 libx11-xcb1 libxcb-cursor0
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
  # extra packages named on the command line (test data) are installed when possible
  extra=()
  for pkg in "$@"; do installed "$pkg" || extra+=("$pkg"); done
  if [ $((${#missing[@]} + ${#extra[@]})) -gt 0 ]; then
    echo "[setup] installing system packages: ${missing[*]} ${extra[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if [ ${#extra[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${extra[@]}" >/dev/null \
        || echo "[setup] could not install ${extra[*]}: the tests that need it skip (fail under CI)" >&2
    fi
  fi
else
  echo "[setup] not a Debian-like system: install Xvfb and the OpenGL/xcb libraries yourself" >&2
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.nvc-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing nvc-viewer and its dependencies into .venv (about a minute the first time)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 \
    | { grep -v "^WARNING: Location" || true; }
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[qt,test]" 2>&1 \
    | { grep -v "^WARNING: Location" || true; }
  echo "$want" > "$stamp"
fi
