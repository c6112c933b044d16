"""dashboard.state: numbers typed into the URL reach widgets finite and in range (#14 item 7);
a set of rows (the Clusters map's selection, #30) goes through the URL whole and bounded."""

from __future__ import annotations

import base64
import json
import random
import zlib

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


def rows_page():
    """A page that reads a row set from the URL the way the Clusters page reads its selection."""
    import json

    import streamlit as st

    from dashboard import state

    st.text(json.dumps(state.get_rows("sel", "abc123", 5_000)))


def rows_read(value: str) -> list[int]:
    at = AppTest.from_function(rows_page)
    at.query_params["sel"] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return json.loads(at.text[0].value)


@pytest.mark.parametrize(
    "rows",
    [[0], [4_999], [3, 17, 245], list(range(0, 5_000, 2)), list(range(5_000)),
     sorted(random.Random(1).sample(range(5_000), 2_500))],
    ids=["first", "last", "three", "every other", "all", "random half"],
)  # fmt: skip
def test_a_row_set_goes_through_the_url_whole_and_bounded(rows):
    from dashboard.state import rows_value

    value = rows_value(rows, "abc123", 5_000)
    assert len(value) <= 900  # whatever the selection: a lasso round every point too
    assert rows_read(value) == rows


def test_a_row_set_is_refused_when_written_for_another_map_or_garbled():
    from dashboard.state import rows_value

    assert rows_value([], "abc123", 5_000) is None  # nothing picked: no parameter
    value = rows_value([1, 2, 3], "abc123", 5_000)
    assert rows_read(value.replace("abc123", "ffffff")) == []  # another projection's map
    assert rows_read(rows_value([1, 2, 3], "abc123", 4_000)) == []  # another sample size
    bomb = base64.urlsafe_b64encode(zlib.compress(b"\xff" * 10**6))  # 1 MB inflated
    for garbage in ["abc123.", "abc123.!!!", "abc123.AAAA", "abc123." + bomb.decode(), "3,17"]:
        assert rows_read(garbage) == []
