"""Message catalogs and locale formatting without Streamlit: every function takes the language.

The catalogs are gettext `.po` files kept with Babel under `dashboard/locale/<lang>/LC_MESSAGES/`
(`messages.pot` is the template, extracted from the code: see `dashboard/i18n/README.md`). A
compiled `.mo` beside the `.po` is used when it is up to date; otherwise the `.po` is compiled
in memory on first use, so a fresh clone works without a build step.

English is the source language: its messages are the msgids themselves.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal, format_percent

from core.model.labels import EMOTIONS, TOKENS, english_label

LANGUAGES = ("en", "zh")
DEFAULT = "en"
NAMES = {"en": "English", "zh": "中文"}  # each language in its own script: the switch's options
BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"

# The model's own Chinese names (tokens.txt: "生气/angry"); <unk> has none, so it reads 未知.
_ZH_EMOTIONS = {english_label(t): t.split("/")[0] for t in TOKENS if "/" in t}
EMOTION_NAMES = {
    "en": {e: e for e in EMOTIONS},
    "zh": {e: _ZH_EMOTIONS.get(e, "未知") for e in EMOTIONS},
}


def N_(message: str) -> str:
    """Mark a message for the catalog where it is defined; translate it where it is shown."""
    return message


def normal(lang: str | None) -> str:
    """`lang` if it is a supported language code, else the default."""
    return lang if lang in LANGUAGES else DEFAULT


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang` (English: the identity)."""
    lang = normal(lang)
    if lang == DEFAULT:
        return gettext.NullTranslations()
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALES[lang])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def compile_catalogs() -> list[Path]:
    """Write each language's messages.mo from its messages.po (scripts/setup.sh runs this)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for lang in LANGUAGES:
        po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po.exists():
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=BABEL_LOCALES[lang])
        with po.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog)
        written.append(po.with_suffix(".mo"))
    translations.cache_clear()
    return written


def tr(lang: str, message: str) -> str:
    """`message` in `lang` (for pure builders, which are told the language)."""
    return translations(lang).gettext(message)


def ntr(lang: str, singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message in `lang`, for the count `n`."""
    return translations(lang).ngettext(singular, plural, n)


# Messages core defines as constants, shown through _(): kept equal to core's (tests/i18n).
UNTRAINED = N_("untrained test model")
TEST_NAME = N_("two-sided Fisher exact test, Benjamini-Hochberg across all tests")
NEGATIVE = N_("negative")  # the four negative emotions together (core.analysis.attention)


def emotion(name: str, lang: str) -> str:
    """An emotion's name in `lang`: the model's own Chinese label in Chinese."""
    if name == NEGATIVE:
        return tr(lang, NEGATIVE)
    return EMOTION_NAMES[normal(lang)].get(name, name)


def locale(lang: str) -> Locale:
    return Locale.parse(BABEL_LOCALES[normal(lang)])


def number(value: float, lang: str, digits: int = 0) -> str:
    """A number with the locale's grouping, `digits` decimals."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(_rounded(float(value), digits), pattern, locale=locale(lang))


def percent(share: float, lang: str, digits: int = 1) -> str:
    """A share (0–1) as a percentage with `digits` decimals."""
    pattern = "0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(_rounded(float(share) * 100, digits) / 100, pattern, locale=locale(lang))


def _rounded(value: float, digits: int) -> Decimal:
    """`value` rounded as Python's own format rounds it: from the float's exact value, ties to
    even (0.65 is 0.6500000000000000222…, so 0.7; 6.25 is exact, so 6), so English pages read
    exactly as before. Babel would round the shortest repr ("0.65"), half up."""
    return Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)


def day(value: date | datetime, lang: str, style: str = "medium") -> str:
    """A date as the locale writes it: Nov 23, 2026 / 2026年11月23日."""
    return format_date(value, style, locale=locale(lang))


def period(start: date | datetime, kind: str, lang: str) -> str:
    """A period by its start: "week 48 of 2026" / 2026年第48周 (ISO weeks), a month
    (Nov 2026 / 2026年11月) or a day."""
    if kind == "week":
        year, week, _ = start.isocalendar()
        return tr(lang, "week {week} of {year}").format(week=week, year=year)
    if kind == "month":
        return format_skeleton("yMMM", start, locale=locale(lang))
    return day(start, lang)


# -- messages written by core (errors, progress): English templates matched and translated ----

# Each is an English message template of core (or of a worker thread) with its fields in braces.
CORE_TEMPLATES = (
    N_(
        "{email} has the {role} role: only {needed}s and above may {action}. Ask an admin for a "
        "higher role."
    ),
    N_("Sign in to open this dashboard."),
    N_("You have been signed out (or your sign-in has expired). Sign in again."),
    N_(
        "database busy: another EmoScope process is writing to {path}. Retry when it finishes "
        "(its ingest commits batch by batch), or use another database with --db / EMOSCOPE_DB."
    ),
    N_("Checking the database…"),
    N_("Loading the model {name}…"),
    N_("Downloading {source} (first use only): {mb} MB so far…"),
    N_("{done}/{total} files · {seconds} s of audio"),
    N_("transcribing: {done}/{total} files"),
    N_("{done}/{total} blocks verified"),
    N_("The file could not be built; the server log has the details. Try again, or tell an admin."),
    N_("The export was cancelled."),
    N_("This file was removed from the server; export it again."),
    N_("queued"),
    N_("every track (no call is split by channel)"),
    N_("every track: both voices of split calls"),
    N_("the {role}'s track of split calls (and the one track of unsplit recordings)"),
    N_("the tracks chosen in the sidebar: {tracks}"),
    N_("principal components"),
    N_("suggesting k (silhouette on {n} points)"),
    N_("clustering {n} points (KMeans, k = {k})"),
    N_("projecting (UMAP fitted on {n} points)"),
    N_("placing the other {n} points"),
)


@functools.cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    compiled = []
    for template in CORE_TEMPLATES:
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)
        )
        compiled.append((re.compile(regex, re.DOTALL), template))
    return compiled


def core_text(text: str, lang: str, lead_in: bool = False) -> str:
    """A message core (or a worker thread) wrote in English, in `lang`.

    A known template is translated with its fields kept as they are (names, paths, numbers).
    Any other message is kept, after a translated lead-in when `lead_in` (errors), so a reader
    of Chinese still learns what the line is.
    """
    if normal(lang) == DEFAULT or not text:
        return text
    for pattern, template in _patterns():
        found = pattern.fullmatch(text)
        if found:
            return tr(lang, template).format(**found.groupdict())
    return tr(lang, "EmoScope reports: {detail}").format(detail=text) if lead_in else text


def choose(
    url: str | None, session: str | None, browser: str | None, deployment: str | None
) -> str:
    """The page's language: the URL's `lang`, else this session's earlier choice, else the
    browser's language (st.context.locale, e.g. zh-CN), else the deployment's default."""
    for candidate in (url, session):
        if candidate in LANGUAGES:
            return candidate
    if browser:
        primary = browser.replace("_", "-").split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return normal((deployment or DEFAULT).strip().lower())
