from datetime import datetime

import pytest

from core.errors import InputError
from core.metadata import from_manifest, from_pattern


def test_manifest_comma_and_basename_match():
    lookup = from_manifest(b"path,agent,speaker\ncalls/a.wav,ann,customer\n", "m.csv")
    assert lookup("calls/a.wav").agent == "ann"
    assert lookup("a.wav").speaker == "customer"  # unique base name
    assert lookup("z.wav").warning == "z.wav: not listed in m.csv; stored without metadata."


def test_manifest_without_path_column():
    with pytest.raises(InputError, match="needs a 'path' column \\(found: file, agent\\)"):
        from_manifest(b"file,agent\na.wav,x\n", "m.csv")


def test_manifest_not_utf8():
    with pytest.raises(InputError, match="not UTF-8"):
        from_manifest("path,agent\nä.wav,x\n".encode("latin-1"), "m.csv")


def test_manifest_duplicate_rows_last_wins_and_is_reported():
    lookup = from_manifest(b"path,agent\na.wav,first\nb.wav,x\na.wav,second\n", "m.csv")
    assert lookup("a.wav").agent == "second"
    assert lookup.check(["a.wav", "b.wav"]) == [
        "m.csv: a.wav is listed on lines 2, 4; line 4 is used."
    ]


def test_manifest_check_names_rows_that_match_no_input():
    rows = "".join(f"calls/{i}.wav,ann\n" for i in range(8))
    lookup = from_manifest(f"path,agent\n{rows}".encode(), "m.csv")
    # '0.wav' matches calls/0.wav by its unique base name; seven rows match nothing.
    assert lookup.check(["0.wav", "other.wav"]) == [
        "m.csv: 7 listed file(s) are not among the inputs: calls/1.wav, calls/2.wav, calls/3.wav,"
        " calls/4.wav, calls/5.wav and 2 more."
    ]


def test_pattern_fields_and_wildcards():
    lookup = from_pattern("{agent}/{recorded_at}_*.wav")
    meta = lookup("ann/2024-05-01T10:00_call7.wav")
    assert meta.agent == "ann"
    assert meta.recorded_at == datetime(2024, 5, 1, 10, 0)
    assert "does not match" in lookup("flat.wav").warning


def test_pattern_with_unknown_field():
    with pytest.raises(InputError, match="unknown field \\{agnet\\}"):
        from_pattern("{agnet}/*.wav")
