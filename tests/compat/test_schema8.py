"""A database written before the redesign (schema 8, commit a66c17d) opens and reads the same on
every page: what each page showed with that commit's app is still shown today.

"The same" is exact for the figures (metrics and tables). Texts and widget choices may have been
added since (a new Admin section, new audit actions), but none that the old app showed is gone.
"""

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tests.compat.capture import PAGES, TEXT_ELEMENTS, capture

HERE = Path(__file__).resolve().parent
APP = str(HERE.parents[1] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("compat") / "schema8.duckdb"  # the name the captions show
    with gzip.open(HERE / "schema8.duckdb.gz", "rb") as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EMOSCOPE_DB", str(db))
        return json.loads(json.dumps(capture(APP)))  # tuples as lists, as in the file


EXPECTED = json.loads((HERE / "schema8.expected.json").read_text(encoding="utf-8"))


def test_the_expectation_covers_every_page():
    assert list(EXPECTED) == PAGES


@pytest.mark.parametrize("page", PAGES)
def test_a_schema8_database_reads_the_same(shown, page):
    before, now = EXPECTED[page], shown[page]
    assert now["exception"] == []
    assert now["metric"] == before["metric"]
    assert now["dataframe"] == before["dataframe"]
    for kind in TEXT_ELEMENTS:
        assert set(before[kind]) <= set(now[kind]), kind
    for kind in ("selectbox", "multiselect"):
        offered = {label: set(options) for label, options in now[kind]}
        for label, options in before[kind]:
            assert set(options) <= offered.get(label, set()), (kind, label)
