"""Keep the catalogs in step with the code: `python -m dashboard.i18n.extract`
(`--compile`: only compile each messages.po into its messages.mo, as scripts/setup.sh does).

Extracts every marked message of pages/ and dashboard/ with Babel into
`dashboard/locale/messages.pot`, then updates each language's `messages.po` from it (new
messages added untranslated, gone ones marked obsolete) and compiles its `messages.mo`, the
same as `pybabel extract`, `pybabel update` and `pybabel compile` with the keywords below.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from dashboard.i18n.catalog import BABEL_LOCALES, DOMAIN, LANGUAGES, LOCALE_DIR, compile_catalogs

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pages", "dashboard")
# _() and N_() (Babel's defaults) and the builders' tr(lang, message) / ntr(lang, s, p, n).
KEYWORDS = {**DEFAULT_KEYWORDS, "tr": (2,), "ntr": (2, 3)}
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"


def extracted() -> Catalog:
    """Every message marked in the code, with where it is used."""
    catalog = Catalog(project="EmoScope", charset="utf-8")
    for folder in SOURCES:
        for filename, line, message, comments, context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            catalog.add(message, None, [(f"{folder}/{filename}", line)],
                        auto_comments=comments, context=context)  # fmt: skip
    return catalog


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=BABEL_LOCALES[lang])


def main() -> None:
    template = extracted()
    with TEMPLATE.open("wb") as handle:
        write_po(handle, template, width=100, sort_output=True)
    for lang in LANGUAGES[1:]:
        path = po_path(lang)
        if path.exists():
            catalog = read(lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=BABEL_LOCALES[lang], project="EmoScope", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=True, ignore_obsolete=True)
        with path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog)
        missing = [m.id for m in catalog if m.id and not all(_strings(m))]
        print(f"{lang}: {len(catalog)} messages, {len(missing)} untranslated -> {path}")


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


if __name__ == "__main__":
    import sys

    if "--compile" in sys.argv[1:]:
        for path in compile_catalogs():
            print(f"compiled {path}")
    else:
        main()
