"""The dashboard in 中文 and English: one translation function over gettext catalogs (Babel).

Pages write `_("English text")` (and `ngettext` for counts); the language is the one chosen for
this session's run (`use_language` in dashboard/app.py, before any page): the URL's `?lang=`,
else the session's earlier choice, else the browser's language (`st.context.locale`), else
`EMOSCOPE_LANGUAGE` (default en). It is written back to the URL every run, so a copied link
opens in the sender's language. Pure builders (charts, tables) take the language as an
argument and call `tr(lang, …)` from dashboard.i18n.catalog.

Data is never translated: file, agent, corpus and tag names and transcripts are shown as stored.
Emotion names are not data but the model's classes: `emotion()` gives the model's own Chinese
label. Widget values kept in the URL stay the English keys; only their labels are translated.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable
from datetime import date, datetime

import streamlit as st

from core.model.labels import EMOJI
from dashboard.i18n import catalog
from dashboard.i18n.catalog import LANGUAGES, N_, NAMES, core_text, tr

__all__ = ["LANGUAGES", "N_", "_", "core_text", "emotion", "language", "ngettext", "tr"]

SESSION_KEY = "lang"  # this session's language (the URL's is the same once written)
SWITCH_KEY = "lang-switch"
_FIXED: contextvars.ContextVar[str | None] = contextvars.ContextVar("emoscope_lang", default=None)


def _in_script_run() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx(suppress_warning=True) is not None


def language() -> str:
    """This run's language ("en" or "zh"); the deployment's default outside a script run."""
    if _FIXED.get() is not None:
        return _FIXED.get()
    if _in_script_run():
        chosen = st.session_state.get(SESSION_KEY)
        if chosen in LANGUAGES:
            return chosen
    return catalog.normal(os.environ.get("EMOSCOPE_LANGUAGE", catalog.DEFAULT))


def fixed(function: Callable) -> Callable:
    """`function` with this run's language fixed, for a widget's format_func: Streamlit keeps it
    and may call it after the run (AppTest does, to read a widget back)."""
    lang = language()

    def call(*args, **kwargs):
        token = _FIXED.set(lang)
        try:
            return function(*args, **kwargs)
        finally:
            _FIXED.reset(token)

    return call


def _(message: str) -> str:
    """`message` in this run's language."""
    return tr(language(), message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog.ntr(language(), singular, plural, n)


def emotion(name: str, emoji: bool = False) -> str:
    """An emotion's name in this run's language ("😠 生气" with `emoji`)."""
    text = catalog.emotion(name, language())
    return f"{EMOJI.get(name, '🔻')} {text}" if emoji else text


def number(value: float, digits: int = 0) -> str:
    return catalog.number(value, language(), digits)


def percent(share: float, digits: int = 1) -> str:
    return catalog.percent(share, language(), digits)


def day(value: date | datetime, style: str = "medium") -> str:
    return catalog.day(value, language(), style)


def period(start: date | datetime, kind: str) -> str:
    return catalog.period(start, kind, language())


_PERIOD_NAMES = {"day": N_("day"), "week": N_("week"), "month": N_("month")}
_PERIODS_NAMES = {"day": N_("days"), "week": N_("weeks"), "month": N_("months")}


def period_name(kind: str) -> str:
    """ "week" in this run's language (the value in the URL stays "week")."""
    return _(_PERIOD_NAMES[kind]) if kind in _PERIOD_NAMES else kind


def periods_name(kind: str) -> str:
    """ "weeks" in this run's language."""
    return _(_PERIODS_NAMES[kind]) if kind in _PERIODS_NAMES else kind


def progress(stage: str, seconds: float) -> str:
    """A background job's progress line: its stage (from core, translated) and the time taken."""
    return _("{stage} · {seconds} s").format(stage=message(stage), seconds=f"{seconds:.0f}")


def error(text: str) -> str:
    """An error message from core in this run's language (see catalog.core_text)."""
    return core_text(text, language(), lead_in=True)


def message(text: str) -> str:
    """A progress or status line from core or a worker thread, in this run's language."""
    return core_text(text, language())


def use_language() -> str:
    """Decide this run's language and keep it in the session and the URL (dashboard/app.py,
    before anything is drawn)."""
    try:
        browser = st.context.locale
    except Exception:  # no browser (a bare run)
        browser = None
    chosen = catalog.choose(
        st.query_params.get("lang"),
        st.session_state.get(SESSION_KEY),
        browser,
        os.environ.get("EMOSCOPE_LANGUAGE"),
    )
    st.session_state[SESSION_KEY] = chosen
    st.query_params["lang"] = chosen  # page links drop it; every run writes it back
    return chosen


def _switched() -> None:
    picked = st.session_state.get(SWITCH_KEY)
    if picked in LANGUAGES:
        st.session_state[SESSION_KEY] = picked
        st.query_params["lang"] = picked


def switch() -> None:
    """The sidebar's 中文 / English switch; the choice goes into the URL (`lang`)."""
    st.session_state[SWITCH_KEY] = language()
    st.sidebar.segmented_control(
        _("Language"), list(LANGUAGES)[::-1], format_func=NAMES.get, key=SWITCH_KEY,
        on_change=_switched, label_visibility="collapsed",
    )  # fmt: skip
