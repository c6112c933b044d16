#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian/Ubuntu machine: system packages, .venv, pinned Python deps.
#   scripts/setup.sh          what the dashboard and CLI need (ffmpeg)
#   scripts/setup.sh --dev    plus the test suite's needs (chromium, chromium-driver, CJK fonts for
#                             Chinese screenshots, pytest, ruff, and the optional Ray extra that
#                             tests/test_ray_ingest.py drives)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(ffmpeg)
[[ "${1:-}" == "--dev" ]] && apt_packages+=(chromium chromium-driver fonts-noto-color-emoji fonts-noto-cjk)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[[ -x .venv/bin/python ]] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# torch first and pinned: funasr asks for torch unpinned, which would pull a multi-GB CUDA build.
"${pip[@]}" torch==2.13.0
"${pip[@]}" -r requirements.txt
[[ "${1:-}" == "--dev" ]] && "${pip[@]}" -r requirements-dev.txt -r requirements-ray.txt
"${pip[@]}" --no-deps -e .
# The dashboard's Chinese catalog, compiled once (else the .po is compiled in memory on first use).
.venv/bin/python -m dashboard.i18n.extract --compile
# UMAP's kernels compiled into numba's on-disk cache once (~25 s), not in a user's first projection.
.venv/bin/python -c "from core.analysis.clusters import compile_kernels; compile_kernels()"
echo "set-up done: .venv ready"
