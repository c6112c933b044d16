"""A database written before the redesign (schema 8, commit a66c17d) opens and reads the same on
every page: what each page shows is compared with what that commit's app showed on the same file."""

import gzip
import json
import shutil
from pathlib import Path

from tests.compat.capture import PAGES, capture

HERE = Path(__file__).resolve().parent
APP = str(HERE.parents[1] / "dashboard" / "app.py")


def test_a_schema8_database_reads_the_same_on_every_page(tmp_path, monkeypatch):
    db = tmp_path / "schema8.duckdb"  # the name the expected captions show
    with gzip.open(HERE / "schema8.duckdb.gz", "rb") as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    expected = json.loads((HERE / "schema8.expected.json").read_text(encoding="utf-8"))
    shown = json.loads(json.dumps(capture(APP)))  # tuples as lists, as in the file
    assert list(expected) == PAGES
    for page in PAGES:
        assert shown[page] == expected[page], page
