"""No user-facing literal bypasses the translation function (#28): an AST check over pages/ and
dashboard/ (the Streamlit side; the HTTP API and the sign-in guard answer in English).

A text argument of a Streamlit call that shows text (titles, captions, messages, widget labels,
help and placeholders, progress texts, table headings in column_config) must be a call of
`_()` / `ngettext()` / `tr()`, a variable, or literal text without words (emoji, punctuation,
f-strings of values only). The few words that read the same in every language are listed below.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {  # not drawn by Streamlit pages: English by design
    "dashboard/api",  # the HTTP API (JSON for scripts)
    "dashboard/guard.py",  # HTTP answers in front of Streamlit
    "dashboard/serve.py",
    "dashboard/asgi_app.py",
    "dashboard/i18n",  # the catalog machinery itself
}
# Calls whose first positional argument (or `label=`/`body=`) is text shown to the visitor.
TEXT_CALLS = {
    "title", "header", "subheader", "caption", "markdown", "write", "text", "info", "warning",
    "error", "success", "toast", "metric", "button", "download_button", "link_button",
    "form_submit_button", "selectbox", "radio", "multiselect", "slider", "select_slider",
    "text_input", "text_area", "number_input", "toggle", "checkbox", "date_input", "time_input",
    "file_uploader", "expander", "spinner", "segmented_control", "pills", "page_link",
    "NumberColumn", "ProgressColumn", "DateColumn", "DatetimeColumn", "SelectboxColumn",
    "TextColumn", "LinkColumn", "ListColumn", "Column", "results_page",
}  # fmt: skip
TEXT_KEYWORDS = {"label", "body", "help", "placeholder", "caption", "text", "title"}
TRANSLATORS = {"_", "ngettext", "tr", "ntr"}
NOT_SHOWN = {*TRANSLATORS, "format"}  # str.format's keywords are fields, not text
# Words that read the same in both languages (names of things, file names), and examples of what
# to type, which are values, not prose.
ALLOWED = {"EmoScope", "🎙️ EmoScope", "Macro-F1", "macro-F1", "F1", "n", "result.json",
           "embedding.npy", "name@example.com", "agent, customer", "{agent}/{recorded_at}_*.wav"}  # fmt: skip


def _has_words(text: str) -> bool:
    return any(c.isalpha() and c.isascii() for c in text) and text.strip() not in ALLOWED


def _bare_text(node: ast.AST) -> str | None:
    """The literal words of an expression that reaches the page untranslated, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _has_words(node.value) else None
    if isinstance(node, ast.JoinedStr):
        words = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return words if _has_words(words) else None
    if isinstance(node, ast.BinOp):  # "📊 " + _("Overview")
        return _bare_text(node.left) or _bare_text(node.right)
    if isinstance(node, ast.IfExp):
        return _bare_text(node.body) or _bare_text(node.orelse)
    if isinstance(node, ast.Call) and _name(node.func) in {"literal", "plain", "str"}:
        return next(filter(None, map(_bare_text, node.args)), None)
    return None


def _name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _shown_arguments(call: ast.Call) -> list[ast.AST]:
    name = _name(call.func)
    shown = [k.value for k in call.keywords if k.arg in TEXT_KEYWORDS]
    if name in TEXT_CALLS and call.args:
        shown.append(call.args[0])
    if name == "progress" and len(call.args) > 1:
        shown.append(call.args[1])
    if name == "results_page" and len(call.args) > 1:
        shown.append(call.args[1])
    for k in call.keywords:  # table headings: column_config={"col": "heading", ...}
        if k.arg == "column_config" and isinstance(k.value, ast.Dict):
            shown += [v for v in k.value.values if v is not None]
    return shown


def _sources() -> list[Path]:
    files = sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "dashboard").rglob("*.py"))
    return [f for f in files if not any(str(f.relative_to(ROOT)).startswith(s) for s in SKIPPED)]


def bare_literals(path: Path) -> list[str]:
    """`line: 'text'` of each untranslated text shown by a Streamlit call in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _name(node.func) in NOT_SHOWN:
            continue
        for argument in _shown_arguments(node):
            text = _bare_text(argument)
            if text is not None:
                found.append((argument.lineno, text))
    return [f"{line}: {text!r}" for line, text in sorted(found)]


def test_no_user_facing_literal_bypasses_the_translation_function():
    assert len(_sources()) > 20
    found = [f"{p.relative_to(ROOT)}:{line}" for p in _sources() for line in bare_literals(p)]
    assert found == []


def test_the_check_catches_a_bare_literal(tmp_path):
    """The checker itself: untranslated text is found, translated text and values are not."""
    page = tmp_path / "page.py"
    page.write_text(
        "st.title('Overview')\n"
        "st.sidebar.selectbox(f'Sort by {x}', options)\n"
        "col.caption(_('fine'))\n"
        "st.metric(_('Audio'), f'{hours:.1f}')\n"
        "st.info('📊 ' + _('Overview'))\n"
        "st.progress(0.5, f'{stage} · {s:.0f} s')\n"
        "st.button(label='Go')\n"
        "st.dataframe(t, column_config={'a': 'agent', 'b': _('file')})\n",
        encoding="utf-8",
    )
    found = [line.split(": ", 1)[1] for line in bare_literals(page)]
    assert found == ["'Overview'", "'Sort by '", "' ·  s'", "'Go'", "'agent'"]
