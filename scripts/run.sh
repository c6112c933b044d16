#!/usr/bin/env bash
# Install everything, then start the dashboard and its HTTP API (/api/*) on http://localhost:8501
# (database: $EMOSCOPE_DB or data/emoscope.duckdb; the API's model: $EMOSCOPE_MODEL). Extra
# arguments go to streamlit, e.g. --server.port 8600.
#
# It listens on this machine only (127.0.0.1) unless asked otherwise: EMOSCOPE_ADDRESS=0.0.0.0,
# or --server.address ADDRESS among the arguments. Without [auth] in .streamlit/secrets.toml
# anyone who can reach the address sees all data (README, "Deploying for a team").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
address=(--server.address "${EMOSCOPE_ADDRESS:-127.0.0.1}")
for arg in "$@"; do
  case "$arg" in
    --server.address | --server.address=*) address=() ;;  # the caller's choice wins
  esac
done
exec .venv/bin/python -m dashboard.serve "${address[@]}" "$@"
