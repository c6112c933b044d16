"""Fixtures of the browser tests: a dashboard server over a copy of the seeded database.

Every test in this folder is marked `browser` and skipped where Debian's Chromium is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.store.models import list_models
from tests.browser.driving import (
    CHROMIUM,
    start_server,
)


def pytest_collection_modifyitems(items):
    here = __file__.rsplit("/", 1)[0]
    missing = pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium missing: scripts/setup.sh --dev"
    )
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.browser)
            item.add_marker(missing)


@pytest.fixture(scope="module")
def server_db(tmp_path_factory, seeded_db) -> Path:
    """The copy of the seeded database that `server` serves (a test may add to it)."""
    db = tmp_path_factory.mktemp("server") / "emoscope.duckdb"
    shutil.copy(seeded_db, db)
    return db


@pytest.fixture(scope="module")
def server(server_db):
    """The dashboard over a copy of the seeded database."""
    yield from start_server(server_db.parent, server_db)


@pytest.fixture(scope="module")
def seeded_model(seeded_db) -> str:
    from core.store.database import Store

    return str(list_models(Store(seeded_db)).model_key[0])


@pytest.fixture(scope="module")
def check_server(tmp_path_factory, labelled_db):
    folder = tmp_path_factory.mktemp("check-server")
    db = folder / "emoscope.duckdb"
    shutil.copy(labelled_db[0].path, db)
    yield from start_server(folder, db)
