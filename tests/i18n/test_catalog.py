"""The message catalogs (#28): every message in the code has a Chinese translation, with the same
fields; the template is in step with the code; language choice and locale formatting."""

from __future__ import annotations

import re
from datetime import date

import pytest

from core.analysis import attention as att
from core.analysis import ranking
from core.model.labels import EMOTIONS, UNTRAINED_LABEL
from dashboard.i18n import catalog
from dashboard.i18n.extract import TEMPLATE, extracted, read


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _fields(text: str) -> set[str]:
    return set(re.findall(r"\{(\w*)[^{}]*\}", text))


@pytest.fixture(scope="module")
def code_messages():
    return [m for m in extracted() if m.id]


def test_every_message_in_the_code_has_a_chinese_translation(code_messages):
    zh = read("zh")
    assert len(code_messages) > 300  # the extraction found the pages' messages
    untranslated = [m.id for m in code_messages if not all(_strings(zh.get(m.id) or m))]
    missing = [m.id for m in code_messages if zh.get(m.id) is None]
    assert missing == [] and untranslated == []


def test_translations_keep_every_field_and_are_chinese(code_messages):
    zh = read("zh")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    wrong_fields, not_chinese = [], []
    for message in code_messages:
        translated = zh.get(message.id)
        for text in _strings(translated):
            if _fields(text) != _fields(_ids(message)[0]):
                wrong_fields.append((message.id, text))
            # a message with words in it reads as Chinese (names like "UMAP" or "F1" aside)
            if re.search(r"[A-Za-z]{3,}", re.sub(r"\{\w*\}|`[^`]*`", "", _ids(message)[0])) and (
                not cjk.search(text)
            ):
                not_chinese.append((message.id, text))
    assert wrong_fields == []
    assert not_chinese == []


def test_the_template_is_in_step_with_the_code(code_messages):
    """messages.pot holds exactly the code's messages: run `python -m dashboard.i18n.extract`."""
    from babel.messages.pofile import read_po

    with TEMPLATE.open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert template == {m.id for m in code_messages}


def test_the_catalog_compiles_and_translates():
    catalog.translations.cache_clear()
    assert catalog.tr("zh", "Overview") == "概览"
    assert catalog.tr("en", "Overview") == "Overview"
    assert catalog.ntr("zh", "{n} selected clip", "{n} selected clips", 3) == "已选 {n} 个片段"
    assert catalog.ntr("en", "{n} selected clip", "{n} selected clips", 1) == "{n} selected clip"


def test_constants_core_defines_are_the_catalogs_messages():
    assert catalog.UNTRAINED == UNTRAINED_LABEL
    assert catalog.TEST_NAME == att.TEST_NAME
    assert catalog.NEGATIVE == att.COMBINED


def test_emotions_use_the_models_own_chinese_labels():
    names = [catalog.emotion(e, "zh") for e in EMOTIONS]
    assert names == ["生气", "厌恶", "恐惧", "开心", "中立", "其他", "难过", "吃惊", "未知"]
    assert [catalog.emotion(e, "en") for e in EMOTIONS] == list(EMOTIONS)
    assert catalog.emotion("negative", "zh") == "负面"


def test_periods_numbers_and_dates_follow_the_locale():
    day = date(2026, 11, 23)
    assert catalog.period(day, "week", "zh") == "2026年第48周"
    assert catalog.period(day, "week", "en") == "week 48 of 2026"
    assert catalog.period(day, "month", "zh") == "2026年11月"
    assert catalog.period(day, "month", "en") == "Nov 2026"
    assert catalog.day(day, "zh") == "2026年11月23日"
    assert catalog.number(1234567, "zh") == "1,234,567"
    assert catalog.percent(0.1234, "en") == "12.3%"


@pytest.mark.parametrize(
    ("url", "session", "browser", "deployment", "chosen"),
    [
        ("zh", "en", "en-US", "en", "zh"),  # the URL wins: a shared link keeps its language
        (None, "zh", "en-US", None, "zh"),  # then this session's choice
        ("fr", None, "zh-CN", None, "zh"),  # an unknown lang= is ignored; the browser's counts
        (None, None, "zh_TW", "en", "zh"),
        (None, None, "en-GB", "zh", "en"),
        (None, None, "fr-FR", "zh", "zh"),  # a language we lack: the deployment's default
        (None, None, None, None, "en"),
        (None, None, None, " ZH ", "zh"),
        (None, None, None, "de", "en"),
    ],
)
def test_language_choice(url, session, browser, deployment, chosen):
    assert catalog.choose(url, session, browser, deployment) == chosen


def test_core_messages_are_translated_with_their_fields_kept():
    from core.access.principal import Principal, Role, require
    from core.errors import PermissionDenied

    with pytest.raises(PermissionDenied) as refused:
        require(Principal("ana@example.com", Role.VIEWER), "analyse")
    text = catalog.core_text(str(refused.value), "zh", lead_in=True)
    assert text.startswith("ana@example.com 的角色是 viewer") and "EmoScope 提示" not in text
    assert catalog.core_text("3/10 files · 4.2 s of audio", "zh") == "3/10 个文件 · 4.2 秒音频"
    assert catalog.core_text(ranking.role_text("customer", ["agent", "customer"]), "zh") == (
        "拆分通话中 customer 的音轨（以及未拆分录音的唯一音轨）"
    )
    # an unknown message keeps its words after a translated lead-in; English is left alone
    assert (
        catalog.core_text("bad.wav: no audio", "zh", lead_in=True)
        == "EmoScope 提示：bad.wav: no audio"
    )
    assert catalog.core_text("bad.wav: no audio", "en", lead_in=True) == "bad.wav: no audio"


def test_numbers_round_as_pythons_own_format():
    """English pages read exactly as before (0.65 min is 0.7 min, as f"{0.65:.1f}" writes it)."""
    for value in (0.65, 0.05, 2.675, 1234.55, 0.0125, 0.995):
        assert catalog.number(value, "en", 1) == catalog.number(value, "zh", 1) == f"{value:,.1f}"
        assert catalog.percent(value / 10, "en") == f"{value / 10:.1%}"
        assert catalog.percent(value / 10, "zh", 0) == f"{value / 10:.0%}"
