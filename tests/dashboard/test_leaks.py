"""Nothing on the web page tells a visitor where the server keeps its files (issue #14 item 9)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture
def models_dir(tmp_path, tiny_model_dir, monkeypatch) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(tiny_model_dir, folder / "tiny")
    (folder / "notes").mkdir()  # a folder without config.yaml is not offered
    (folder / "readme.txt").write_text("not a model")
    monkeypatch.setenv("EMOSCOPE_MODELS_DIR", str(folder))
    return folder


def upload_page(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("EMOSCOPE_DB", str(tmp_path / "secret-place" / "team.duckdb"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/upload.py")  # the landing page is the Overview
    at.run()
    assert not at.exception
    return at


def test_sidebar_names_the_database_without_its_path(tmp_path, monkeypatch):
    at = upload_page(tmp_path, monkeypatch)
    captions = [c.value for c in at.sidebar.caption]
    assert "Database: `team.duckdb`" in captions
    assert not any("secret-place" in c for c in captions)


def test_local_models_are_chosen_from_the_models_folder(tmp_path, monkeypatch, models_dir):
    at = upload_page(tmp_path, monkeypatch)
    next(s for s in at.selectbox if s.label == "Model").set_value("local model directory").run()
    directory = next(s for s in at.selectbox if s.label == "Model directory")
    assert directory.options == ["tiny"]
    assert directory.value is None
    assert not [t for t in at.text_input if t.label == "Model directory"]  # no free path
    assert not at.info
    directory.set_value("tiny").run()
    assert not at.exception and at.button[0].disabled  # still nothing uploaded


def test_an_empty_models_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOSCOPE_MODELS_DIR", str(tmp_path / "none-here"))
    at = upload_page(tmp_path, monkeypatch)
    next(s for s in at.selectbox if s.label == "Model").set_value("local model directory").run()
    assert next(s for s in at.selectbox if s.label == "Model directory").options == []
    assert "EMOSCOPE_MODELS_DIR" in at.info[0].value and "none-here" not in at.info[0].value


def test_engine_loads_only_offered_models(models_dir):
    from core.errors import InputError
    from dashboard import resources

    assert resources.local_models() == ["tiny"]
    source = resources.model_source("local:tiny")
    assert source == str(models_dir / "tiny")
    assert resources.engine(source).untrained  # the random-weight copy in the models folder
    for sneaky in ("local:../models/tiny", "local:notes", f"local:{models_dir}/tiny", "/etc"):
        with pytest.raises(InputError, match="not one of the models offered here"):
            resources.model_source(sneaky)


def test_the_default_models_folder(monkeypatch):
    from dashboard import resources

    monkeypatch.delenv("EMOSCOPE_MODELS_DIR", raising=False)
    assert resources.models_dir() == (Path.cwd() / "data" / "models").resolve()


def test_tracebacks_stay_in_the_server_log():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_the_pattern_field_is_capped_like_the_matcher(tmp_path, monkeypatch):
    from core.ingest.metadata import MAX_PATTERN_CHARS

    at = upload_page(tmp_path, monkeypatch)
    field = next(t for t in at.text_input if t.label == "…or metadata from file names")
    assert field.proto.max_chars == MAX_PATTERN_CHARS == 256


def test_a_click_neither_collects_garbage_nor_walks_the_imported_modules(monkeypatch):
    """Both Streamlit defaults cost a shared server CPU on every run of a page once torch is
    loaded; Streamlit itself must read them off from the project's config file."""
    from streamlit import config

    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    try:
        assert config.get_option("runner.postScriptGC") is False
        assert config.get_option("server.fileWatcherType") == "none"
    finally:
        config.get_config_options(force_reparse=True)
