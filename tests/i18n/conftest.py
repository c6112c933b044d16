"""Fixtures of the language tests: the page tests' synthetic database (bench/synth_db.py)."""

import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def synth_db(tmp_path_factory) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import synth_db as synth

    db = tmp_path_factory.mktemp("synth-i18n") / "synth.duckdb"
    synth.build(db, synth.SynthSpec(clips=700, seed=5, batch=350, curve_share=0.05))
    return db
