"""User-supplied names (files, corpora, agents, speakers, tags, roles) shown as literal text.

Streamlit renders Markdown in titles and captions, and Plotly renders a subset of HTML (links
included) in titles, axis ticks, legends and hover text. A name such as
`[login](https://evil.example).wav` or `<a href=…>` must show as typed, never act. Bidirectional
control characters are replaced by a visible mark, so "…\u202egnp.exe" cannot pose as another name.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

# Embeddings, overrides and isolates: they reorder how the rest of the name is displayed.
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BIDI_MARK = "\ufffd"

# Characters with a meaning in Streamlit Markdown (CommonMark, GFM tables, :emoji: / :color[]
# directives, $math$) or HTML; each is shown literally once backslash-escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&])")


# GFM turns bare URLs and e-mail addresses into links even when escaped; a zero-width space
# inside the trigger ("http://", "www.", "@") keeps them text without changing what is seen.
_AUTOLINK = re.compile(r"(?i)(://|www\.|@)")


def literal(text: str) -> str:
    """`text` escaped so that Streamlit Markdown shows it as typed (user-supplied names)."""
    flat = " ".join(plain(text).split())  # a newline would end a table row or start a block
    flat = _AUTOLINK.sub(lambda m: "\u200b" + "\u200b".join(m.group(1)), flat)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def plain(text: object) -> str:
    """The text with bidirectional controls neutralised (for any display)."""
    return _BIDI.sub(_BIDI_MARK, str(text))


def plot_label(text: object) -> str:
    """Text for a Plotly title, tick, legend entry or hover label: HTML escaped."""
    return html.escape(plain(text), quote=False)


def plot_labels(values):
    """plot_label over a pandas Series or a sequence, keeping its type where it is a Series."""
    if hasattr(values, "map"):
        return values.map(lambda v: v if v is None or v != v else plot_label(v))
    return [plot_label(v) for v in values]


def natural_key(value: object) -> tuple:
    """Sort key that puts 'agent 2' before 'agent 10' and cluster '2' before '10'."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", str(value)))


def literal_table(frame):
    """A DataFrame for st.table, whose cells and labels Streamlit renders as Markdown: every
    value and label as literal text, a missing one as "—", a time to the second."""
    shown = frame.map(_cell)
    shown.index = [literal(str(i)) for i in shown.index]
    shown.columns = [literal(str(c)) for c in shown.columns]
    return shown


def _cell(value: object) -> str:
    if value is None or value != value:  # None, NaN and NaT
        return "—"
    if isinstance(value, datetime):  # pandas' Timestamp too: microseconds are noise in a log
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return literal(str(value))


def server_zone() -> str:
    """The server's time zone as an offset ("UTC", "UTC+08:00"): the stored log times' zone
    (DuckDB's current_timestamp is written in the server's local time)."""
    offset = datetime.now().astimezone().strftime("%z")
    return "UTC" if offset == "+0000" else f"UTC{offset[:3]}:{offset[3:]}"
