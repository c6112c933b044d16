#!/usr/bin/env bash
# Install everything, then start the dashboard on http://localhost:8501 (database: $EMOSCOPE_DB or
# data/emoscope.duckdb). Extra arguments go to streamlit, e.g. --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/streamlit run dashboard/app.py "$@"
