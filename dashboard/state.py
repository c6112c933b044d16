"""View state kept in the URL's query parameters, so a view can be shared by copying its URL."""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from collections.abc import Sequence
from datetime import date

import numpy as np
import streamlit as st

MAX_ROWS_TEXT = 2_000  # a row-set parameter longer than this is not read (rows_value's are shorter)


def key(name: str) -> str:
    """The widget key of parameter `name` on the current page.

    A widget without a key is identified by its arguments, its default included: when the
    default comes from the URL, every choice changes the URL and so makes a new widget, and the
    next choice, made on the old one, was lost. Keys are per page, so that a link from another
    page starts from the link's parameters rather than a choice remembered from before.
    """
    return f"{st.session_state.get('page', '')}:{name}"


def get_list(name: str, allowed: Sequence[str] | None = None) -> list[str]:
    """A list parameter (?agent=a&agent=b); unknown values are dropped."""
    values = st.query_params.get_all(name)
    return [v for v in values if allowed is None or v in allowed]


def get_str(
    name: str, default: str | None = None, allowed: Sequence[str] | None = None
) -> str | None:
    value = st.query_params.get(name, default)
    return value if allowed is None or value in allowed else default


def get_float(
    name: str, default: float, *, low: float | None = None, high: float | None = None
) -> float:
    """A number parameter clamped to [low, high]; missing, garbage, inf or nan give `default`.

    URLs are typed by anyone: `?cmin=inf` or `?smooth=nan` must not reach a widget, which would
    raise (a traceback on the page) or draw nonsense.
    """
    number = _finite_float(st.query_params.get(name))
    return default if number is None else float(_clamp(number, low, high))


def get_int(name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
    """A whole-number parameter clamped to [low, high]; '4.0' is 4, '4.5' or garbage `default`."""
    text = st.query_params.get(name)
    try:
        number = int(text.strip()) if text is not None else None  # exact even past 2**53
    except ValueError:
        whole = _finite_float(text)
        number = int(whole) if whole is not None and whole.is_integer() else None
    return default if number is None else int(_clamp(number, low, high))


def _finite_float(text: str | None) -> float | None:
    """The finite number written in `text`, or None (also for 'inf', 'nan', '1e999')."""
    try:
        number = float(text.strip()) if text is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clamp(number, low, high):
    if low is not None and number < low:
        return low
    if high is not None and number > high:
        return high
    return number


def get_date(name: str) -> date | None:
    """A YYYY-MM-DD parameter; anything else reads as absent."""
    try:
        return date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def put(**values) -> None:
    """Write parameters; None or empty removes one."""
    for name, value in values.items():
        if value is None or value == [] or value == "":
            st.query_params.pop(name, None)
        elif isinstance(value, (list, tuple)):
            st.query_params[name] = [str(v) for v in value]
        else:
            st.query_params[name] = str(value)


def carried(names: Sequence[str]) -> dict[str, list[str]]:
    """The URL's values of these parameters (those set), for a link that keeps them."""
    return {name: values for name in names if (values := st.query_params.get_all(name))}


def rows_value(rows: Sequence[int], tag: str, n: int) -> str | None:
    """Positions among `n` rows as one URL value, bounded whatever the selection: `tag`, a dot,
    then the rows' bitmap, zlib-compressed, in base64url (5,000 rows: at most ~850 characters;
    one row: ~30). None when no row is picked. `tag` names what the rows index (get_rows
    refuses positions written for anything else)."""
    picked = np.zeros(n, bool)
    picked[[r for r in rows if 0 <= r < n]] = True
    if not picked.any():
        return None
    packed = zlib.compress(np.packbits(picked).tobytes(), 9)
    return f"{tag}.{base64.urlsafe_b64encode(packed).decode().rstrip('=')}"


def get_rows(name: str, tag: str, n: int) -> list[int]:
    """The positions `rows_value` wrote into parameter `name` for `tag` and `n` rows, sorted;
    [] when absent, written for another tag or size, or garbage (URLs are typed by anyone)."""
    text = st.query_params.get(name, "")
    head, _, body = text.partition(".")
    if head != tag or not body or len(text) > MAX_ROWS_TEXT:
        return []
    size = -(-n // 8)
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflate = zlib.decompressobj()
        bitmap = inflate.decompress(packed, size + 1)  # never more than the bitmap's size
    except (binascii.Error, ValueError, zlib.error):
        return []
    if len(bitmap) != size or not inflate.eof:
        return []
    bits = np.unpackbits(np.frombuffer(bitmap, np.uint8))
    return np.flatnonzero(bits[:n]).tolist() if not bits[n:].any() else []
