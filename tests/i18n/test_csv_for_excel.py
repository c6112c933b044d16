"""CSV for Excel (#28): the CLI's `export --format csv --bom` and the Exports page's "CSV for
Excel" start with the UTF-8 byte-order mark, and a Chinese agent name survives the round trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from core.store.export import UTF8_BOM
from tests.conftest import make_corpus
from tests.core_cli import run_cli

AGENT = "张伟"


@pytest.fixture(scope="module")
def chinese_db(tmp_path_factory, engine) -> Path:
    from core.ingest.metadata import from_pattern
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.store.database import Store

    root = tmp_path_factory.mktemp("zh-corpus")
    corpus = make_corpus(root / "calls", agents=(AGENT, "ann"), per_agent=2)
    db = root / "zh.duckdb"
    ingest(Store(db), engine, collect([corpus]), "客服",
           metadata=from_pattern("{agent}/{recorded_at}_*.wav"))  # fmt: skip
    return db


def agents_in(content: bytes) -> list[str]:
    """The agent column as a spreadsheet reads a UTF-8 file marked by its BOM."""
    assert content.startswith(UTF8_BOM)
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert next(iter(rows[0])) == "corpus"  # the mark is not part of the first heading
    return sorted({row["agent"] for row in rows})


def cli(*args, db: Path):
    return run_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "EMOSCOPE_DB": str(db)})


def test_cli_export_csv_bom(chinese_db, tmp_path):
    marked, plain = tmp_path / "excel.csv", tmp_path / "plain.csv"
    done = cli("export", "--what", "clips", "--format", "csv", "--bom", "--out", marked,
                   db=chinese_db)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert agents_in(marked.read_bytes()) == sorted([AGENT, "ann"])
    assert "客服" in marked.read_bytes().decode("utf-8-sig")
    done = cli("export", "--what", "clips", "--format", "csv", "--out", plain, db=chinese_db)
    assert done.returncode == 0 and not plain.read_bytes().startswith(UTF8_BOM)  # unchanged
    # the same rows, only the mark in front
    assert marked.read_bytes() == UTF8_BOM + plain.read_bytes()


def test_cli_bom_is_for_csv_only(chinese_db, tmp_path):
    done = cli("export", "--what", "clips", "--format", "parquet", "--bom", "--out",
                   tmp_path / "x.parquet", db=chinese_db)  # fmt: skip
    assert done.returncode == 2 and "--bom" in done.stderr and "Traceback" not in done.stderr


def test_cli_help_says_messages_stay_english():
    done = run_cli("--help")
    assert "Messages are in English" in done.stdout


def test_exports_page_csv_for_excel(chinese_db, monkeypatch):
    """The page's export, written as its click writes it: the mark, then 张伟 intact."""
    from core.records import ClipFilter
    from dashboard import downloads

    monkeypatch.setenv("EMOSCOPE_DB", str(chinese_db))
    from dashboard import reads

    model_key = str(reads.models().model_key.iloc[0])

    def content(fmt: str) -> bytes:
        request = downloads.ExportRequest("clips", fmt, model_key, ClipFilter())
        slot = downloads.FileSlot()
        state = downloads.start_export(None, request, slot).wait()
        try:
            with downloads.served(None, state.result, "zh")() as handle:
                return handle.read()
        finally:
            slot.drop()  # as the page's session does when it moves on

    assert agents_in(content(downloads.EXCEL_CSV)) == sorted([AGENT, "ann"])
    assert downloads.file_name("clips", downloads.EXCEL_CSV) == "emoscope-clips.csv"
    assert not content("csv").startswith(UTF8_BOM)  # plain CSV is unchanged


def test_exports_page_offers_csv_for_excel_by_default_in_chinese(chinese_db, monkeypatch):
    from tests.apptest import open_page

    at = open_page("exports", chinese_db, monkeypatch, lang="zh")
    assert at.toggle[0].value is True  # CSV for Excel is the default in Chinese
    labels = [b.label for b in at.main.button]
    assert labels[0] == "clips.csv，Excel 用 CSV（4 行）" and labels[1] == "clips.parquet（4 行）"
    at = open_page("exports", chinese_db, monkeypatch, lang="en")
    assert at.toggle[0].label == "CSV for Excel (UTF-8 with a byte-order mark)"
    assert at.toggle[0].value is False  # plain CSV, as before
    assert [b.label for b in at.main.button][:2] == [
        "clips.csv (4 rows)", "clips.parquet (4 rows)"]  # fmt: skip
    at.toggle[0].set_value(True).run()
    assert at.main.button[0].label == "clips.csv, CSV for Excel (4 rows)"
