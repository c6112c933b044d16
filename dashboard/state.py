"""View state kept in the URL's query parameters, so a view can be shared by copying its URL."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import streamlit as st


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
