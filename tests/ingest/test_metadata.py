import random
import re
from datetime import datetime

import pytest

from core.errors import InputError
from core.ingest.metadata import from_manifest, from_pattern


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


def _regex_reference(pattern: str) -> re.Pattern[str]:
    """The regex the matcher replaced (backtracking; fine for the small names used here)."""
    out, pos = [], 0
    for token in re.finditer(r"\{(\w+)\}|\*\*/?|\*", pattern):
        out.append(re.escape(pattern[pos : token.start()]))
        if token.group(1):
            out.append(f"(?P<{token.group(1)}>[^/]+?)")
        elif token.group(0).startswith("**"):
            out.append("(?:.*/)?")
        else:
            out.append("[^/]*")
        pos = token.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def _random_pattern(rng: random.Random) -> str:
    fields = ["{agent}", "{speaker}", "{tags}"]
    rng.shuffle(fields)

    def piece() -> str:
        choice = rng.choice(["a", "b", "_", "ab", "*", "*", "field", "field"])
        if choice == "field":
            return fields.pop() if fields else "*"
        return choice

    segments = []
    for _ in range(rng.randint(1, 3)):
        if segments and rng.random() < 0.25:
            segments.append("**")
        else:
            segments.append("".join(piece() for _ in range(rng.randint(1, 4))))
    return "/".join(segments)


def test_pattern_agrees_with_the_regex_it_replaced_on_random_cases():
    rng = random.Random(7)
    compared = matched = 0
    for _ in range(400):
        pattern = _random_pattern(rng)
        segments = pattern.split("/")
        # '**' means folders only as a whole segment now (inside a segment it is one '*'), and
        # the old regex made a trailing '**' match nothing useful: compare the rest.
        if segments[-1] == "**" or any("**" in s and s != "**" for s in segments):
            continue
        regex = _regex_reference(pattern)
        lookup = from_pattern(pattern)
        for _ in range(20):
            name = "/".join(
                "".join(rng.choice("ab_") for _ in range(rng.randint(1, 6)))
                for _ in range(rng.randint(1, 3))
            )
            found = regex.fullmatch(name) or regex.fullmatch(name.rsplit("/", 1)[-1])
            meta = lookup(name)
            compared += 1
            assert (meta.warning is None) == (found is not None), (pattern, name)
            if found:
                matched += 1
                groups = found.groupdict()
                assert meta.agent == groups.get("agent"), (pattern, name)
                assert meta.speaker == groups.get("speaker"), (pattern, name)
                tags = tuple(t for t in re.split(r"[|,;]", groups.get("tags") or "") if t)
                assert meta.tags == tags, (pattern, name)
    assert compared > 4000 and matched > 300  # the random cases really exercise both outcomes


def test_hostile_patterns_over_many_names_complete():
    # '*a' x 10 then 'b' took 55 s per 44-character name with the regex; each name here fails.
    names = ["a" * 44 + f"{i}.wav" for i in range(2000)] + [
        f"{'a/' * 40}{i}.wav" for i in range(200)
    ]
    for pattern in [
        "*a" * 10 + "*b.wav",
        "{agent}" + "*a" * 30 + "*b.wav",
        "**/a/" * 20 + "*b.wav",
    ]:
        lookup = from_pattern(pattern)
        warnings = [lookup(name).warning for name in names]
        assert all(w is not None and "does not match" in w for w in warnings)
    # ... and the same shapes still match when they should
    assert from_pattern("*a" * 10 + "*b.wav")("a" * 44 + "b.wav").warning is None
    meta = from_pattern("**/{agent}/" + "*a" * 10 + "*.wav")("x/" * 30 + "ann/" + "a" * 12 + ".wav")
    assert meta.agent == "ann"


def test_pattern_edge_cases():
    assert from_pattern("{agent}_*.wav")("ann_x_y.wav").agent == "ann"  # a field is lazy
    assert from_pattern("*_{agent}.wav")("x_y_ann.wav").agent == "ann"  # '*' is greedy
    assert from_pattern("**/{agent}/*.wav")("a.wav").warning is not None  # needs a folder
    assert from_pattern("**/*.wav")("a.wav").warning is None  # '**' may be empty
    assert from_pattern("{agent}{speaker}.wav")("abc.wav").speaker == "bc"
    assert from_pattern("calls/{agent}.wav")("calls/ann.wav").agent == "ann"
    assert from_pattern("{agent}.wav")("deep/folder/ann.wav").agent == "ann"  # base name
    assert from_pattern("a*a")("a").warning is not None  # literals may not overlap


def test_pattern_refusals():
    with pytest.raises(InputError, match="at most 256 allowed"):
        from_pattern("*" * 257)
    with pytest.raises(InputError, match="field \\{agent\\} appears twice"):
        from_pattern("{agent}/{agent}.wav")


def test_a_field_past_the_csv_limit_is_refused_naming_its_line():
    text = f"path,agent\na.wav,ann\nb.wav,{'x' * 5_000_000}\n".encode()
    with pytest.raises(InputError, match=r"^m\.csv line 3: a field is longer than 131,072 "):
        from_manifest(text, "m.csv")
