"""View state kept in the URL's query parameters, so a view can be shared by copying its URL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import streamlit as st


def get_list(name: str, allowed: Sequence[str] | None = None) -> list[str]:
    """A list parameter (?agent=a&agent=b); unknown values are dropped."""
    values = st.query_params.get_all(name)
    return [v for v in values if allowed is None or v in allowed]


def get_str(
    name: str, default: str | None = None, allowed: Sequence[str] | None = None
) -> str | None:
    value = st.query_params.get(name, default)
    return value if allowed is None or value in allowed else default


def get_float(name: str, default: float) -> float:
    try:
        return float(st.query_params.get(name, default))
    except ValueError:
        return default


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
