"""dashboard.state: numbers typed into the URL reach widgets finite and in range (#14 item 7)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest


def read_page():
    """A page that reads its query parameters the way the dashboard's pages do."""
    import json

    import streamlit as st

    from dashboard import state

    st.text(json.dumps({
        "f": state.get_float("x", 0.5),
        "f_clamped": state.get_float("x", 0.5, low=0.0, high=1.0),
        "i": state.get_int("x", 7),
        "i_clamped": state.get_int("x", 7, low=2, high=12),
    }))  # fmt: skip


def read(value: str | None) -> dict:
    at = AppTest.from_function(read_page)
    if value is not None:
        at.query_params["x"] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return json.loads(at.text[0].value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),  # missing
        ("0.25", {"f": 0.25, "f_clamped": 0.25, "i": 7, "i_clamped": 7}),
        ("4", {"f": 4.0, "f_clamped": 1.0, "i": 4, "i_clamped": 4}),
        (" 4.0 ", {"f": 4.0, "f_clamped": 1.0, "i": 4, "i_clamped": 4}),
        ("inf", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),
        ("-inf", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),
        ("nan", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),
        ("1e999", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),  # overflows to inf
        ("1e300", {"f": 1e300, "f_clamped": 1.0, "i": int(1e300), "i_clamped": 12}),
        ("9" * 30, {"f": 1e30, "f_clamped": 1.0, "i": int("9" * 30), "i_clamped": 12}),
        ("9" * 5000, {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),  # past int's limit
        ("-3", {"f": -3.0, "f_clamped": 0.0, "i": -3, "i_clamped": 2}),
        ("2.5", {"f": 2.5, "f_clamped": 1.0, "i": 7, "i_clamped": 7}),  # not a whole number
        ("abc", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),
        ("", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),
        ("0x10", {"f": 0.5, "f_clamped": 0.5, "i": 7, "i_clamped": 7}),
    ],
)
def test_numbers_in_the_url(value, expected):
    got = read(value)
    assert got["i"] == expected["i"] and got["i_clamped"] == expected["i_clamped"]
    assert got["f"] == pytest.approx(expected["f"], rel=1e-12)
    assert got["f_clamped"] == expected["f_clamped"]
