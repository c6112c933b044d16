#!/usr/bin/env bash
# Install everything the suite needs (ffmpeg, chromium, the Python pins), then lint and test.
# The tests build their own tiny emotion2vec model and audio; nothing is downloaded at test time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
