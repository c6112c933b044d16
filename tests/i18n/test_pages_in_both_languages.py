"""Every page in 中文 and English (#28): opened with ?lang=zh, ?lang=en or no parameter, it
renders without an exception; in Chinese at least 90 % of its widget labels contain Chinese
characters, in English none do."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import open_page

PAGES = ["overview", "upload", "clips", "frames", "clusters", "trends", "exports",
         "model_check", "tokens", "admin"]  # fmt: skip
WIDGETS = ["button", "checkbox", "date_input", "download_button", "expander", "file_uploader",
           "multiselect", "number_input", "radio", "segmented_control", "select_slider",
           "selectbox", "slider", "text_area", "text_input", "toggle"]  # fmt: skip
CJK = re.compile(r"[\u3400-\u9fff]")


def labels(at: AppTest) -> list[str]:
    return [w.label for kind in WIDGETS for w in at.get(kind) if getattr(w, "label", None)]


def chinese_share(at: AppTest) -> float:
    found = labels(at)
    return sum(bool(CJK.search(label)) for label in found) / len(found)


@pytest.mark.parametrize("page", PAGES)
def test_page_in_chinese(page, synth_db, monkeypatch):
    at = open_page(page, synth_db, monkeypatch, lang="zh")  # asserts no exception
    found = labels(at)
    english = [label for label in found if not CJK.search(label)]
    assert found and chinese_share(at) >= 0.9, english
    assert at.query_params["lang"] == "zh"
    assert CJK.search(at.title[0].value if at.title else at.sidebar.title[0].value)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("params", [{"lang": "en"}, {}], ids=["lang=en", "no lang"])
def test_page_in_english(page, params, synth_db, monkeypatch):
    monkeypatch.delenv("EMOSCOPE_LANGUAGE", raising=False)
    at = open_page(page, synth_db, monkeypatch, **params)
    found = labels(at)
    assert found and [label for label in found if CJK.search(label)] == []
    assert at.query_params["lang"] == "en"  # written, so a copied link keeps the language


def test_the_deployment_default_applies_without_lang(synth_db, monkeypatch):
    monkeypatch.setenv("EMOSCOPE_LANGUAGE", "zh")
    at = open_page("overview", synth_db, monkeypatch)
    assert at.query_params["lang"] == "zh" and chinese_share(at) >= 0.9
    at = open_page("overview", synth_db, monkeypatch, lang="en")  # the link wins
    assert chinese_share(at) == 0


def test_the_switch_changes_the_language_and_the_url(synth_db, monkeypatch):
    at = open_page("trends", synth_db, monkeypatch)
    assert at.title[0].value == "📅 Agent trends"
    switch = at.sidebar.segmented_control[0]
    assert switch.options == ["中文", "English"]
    switch.set_value("zh").run()
    assert not at.exception
    assert at.query_params["lang"] == "zh" and at.title[0].value == "📅 坐席趋势"
    # the choice outlives a page change whose link carries no lang (the menu's links)
    at.query_params.pop("lang")
    at.switch_page("../pages/clips.py")
    at.run()
    assert at.title[0].value == "🗂️ 片段" and at.query_params["lang"] == "zh"
    at.sidebar.segmented_control[0].set_value("en").run()
    assert at.title[0].value == "🗂️ Clips" and at.query_params["lang"] == "en"


def test_stored_values_stay_the_same_in_both_languages(synth_db, monkeypatch):
    """Widget values kept in the URL are the English keys: only their labels are translated."""
    at = open_page("trends", synth_db, monkeypatch, lang="zh", period="month")
    period = next(r for r in at.radio if r.label == "周期")
    assert period.value == "month" and period.options == ["日", "周", "月"]
    period.set_value("week").run()
    assert at.query_params["period"] == "week"
    emotion = next(s for s in at.selectbox if s.label == "情绪")
    assert emotion.value in ("angry", "happy", "neutral", "sad", "other", "unknown", "fearful",
                             "disgusted", "surprised") and CJK.search(emotion.options[0])  # fmt: skip


def test_model_check_of_a_labelled_corpus_in_chinese(labelled_db, engine, monkeypatch):
    """The page's full view (the synthetic database has no labels): labels, charts, tables."""
    import json

    store, _ = labelled_db
    at = open_page("model_check", store.path, monkeypatch, lang="zh", corpus="calls",
                   model=engine.model_key)  # fmt: skip
    found = labels(at)
    assert len(found) >= 6 and chinese_share(at) >= 0.9, found
    figures = {
        c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")
    }
    layout = figures["confusion"]["layout"]
    assert layout["xaxis"]["title"]["text"] == "模型的主要情绪"
    assert CJK.search(figures["f1_chart"]["layout"]["title"]["text"])
    per_class = next(d.value for d in at.dataframe if "precision" in d.value.columns)
    assert all(CJK.search(name) for name in per_class["class"])  # the emotions, in Chinese
    assert "left out" not in " ".join(w.value for w in at.main.warning)


def test_clip_tables_name_emotions_in_the_pages_language(synth_db, monkeypatch):
    """The model's classes are named in Chinese; data (file, agent names) is shown as stored."""
    zh = open_page("clips", synth_db, monkeypatch, lang="zh")
    en = open_page("clips", synth_db, monkeypatch, lang="en")
    zh_table, en_table = zh.dataframe[0].value, en.dataframe[0].value
    assert set(zh_table.top_label) <= {
        "生气",
        "厌恶",
        "恐惧",
        "开心",
        "中立",
        "其他",
        "难过",
        "吃惊",
        "未知",
    }
    assert list(zh_table.source_name) == list(en_table.source_name)
    assert list(zh_table.agent) == list(en_table.agent)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_clusters_lists_in_both_languages(lang, clustered_db, monkeypatch):
    """Clusters with a stored projection, a map selection from the URL, a listed cluster and
    both "more like" lists: every widget label in the page's language (#30)."""
    from core.store.database import Store
    from core.store.projections import projection_size
    from dashboard.state import rows_value

    db, key = clustered_db
    drawn = projection_size(Store(db), key)  # every point: fewer than the map's 5,000
    sel = rows_value([1, 2], f"{key[:8]}-{drawn}", drawn)
    at = open_page("clusters", db, monkeypatch, lang=lang, sel=sel, more="1", cluster="1",
                   clmore="1")  # fmt: skip
    assert len(at.dataframe) == 4  # the selection, more like it, the cluster, more like it
    found = labels(at)
    chinese = [label for label in found if CJK.search(label)]
    assert chinese == (found if lang == "zh" else [])
