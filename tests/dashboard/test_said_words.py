"""The Overview's "What was said" (#26) through AppTest: for a Needs-attention item, the words
its clips say more than the agent's earlier clips, each a link to those clips on Clips; the
item picker (every item, kept in the URL); and the hint when nothing is transcribed."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from core.analysis import words
from core.analysis.attention import NEGATIVE, Window
from core.records import ClipFilter
from core.store import transcripts
from core.store.database import Store
from core.store.transcripts import SegmentRow
from tests.analysis.test_attention import (
    MODEL,
    PLANTED,
    WEEKS,
    planted_rows,
    this_monday,
    write_rows,
)
from tests.apptest import open_page

PICKER = "Words said more than before, in the clips of"
SAID = {"angry": "I want a refund now", "sad": "Please cancel my account"}
CALM = "Thank you for the help"


@pytest.fixture(scope="module")
def dbs(tmp_path_factory) -> tuple[Path, Path]:
    """The planted corpus ending now (8 agents; PLANTED's customers angry and sad in the last
    complete week), without transcripts and with them: in that week PLANTED's angry tracks ask
    for a refund and the sad ones cancel; PLANTED's other tracks thank."""
    start = this_monday() - timedelta(weeks=WEEKS)
    root = tmp_path_factory.mktemp("said_words")
    bare, said = root / "bare.duckdb", root / "said.duckdb"
    rows = planted_rows(agents=8, start=start)
    write_rows(Store(bare), "calls", rows)
    shutil.copy(bare, said)
    week = rows.recorded_at >= str(start + timedelta(weeks=WEEKS - 1))
    voice = rows[(rows.agent == PLANTED) & rows.track.isin(["customer", "mix"])]
    # every track of the week, a quarter of the earlier ones (a write per track costs ~6 ms)
    lines = [(r.clip_id, r.track, [SegmentRow(0.0, 1.0, SAID.get(r.emotion, CALM) if week[r.Index]
                                              else CALM, None, None, (), ())])
             for n, r in enumerate(voice.itertuples()) if week[r.Index] or n % 4 == 0]  # fmt: skip
    transcripts.write(Store(said), "sv@1", None, lines)
    return bare, said


def word_links(at) -> dict[str, dict[str, list[str]]]:
    """The word links drawn: word -> the Clips parameters it opens."""
    links = [parse_qs(link.proto.query_string) for link in at.page_link]
    return {q["said"][0]: q for q in links if "said" in q}


def picker(at):
    return next(s for s in at.selectbox if s.label == PICKER)


def test_the_words_of_each_item_link_to_their_clips(dbs, monkeypatch):
    _, said = dbs
    at = open_page("overview", said, monkeypatch)
    box = picker(at)
    assert box.options == [f"{PLANTED} · 🔻 negative", f"{PLANTED} · 😠 angry",
                           f"{PLANTED} · 😢 sad"]  # fmt: skip
    assert box.value == f"negative:{PLANTED}"  # the first item by default, not in the URL
    assert "item" not in at.query_params
    first = word_links(at)
    assert {"refund", "want", "cancel", "please", "account"} <= set(first)
    assert not {"thank", "help", "you", "my"} & set(first)  # said as often before; stop words
    link = first["refund"]
    assert link["agent"] == [PLANTED] and link["emotion"] == list(NEGATIVE)
    assert link["role"] == ["customer", "mix"] and link["model"] == [MODEL]
    # the ranking's own figures for this item, as a label: "refund · <tracks saying it>"
    window_start = link["from"][0]
    monday = date.fromisoformat(window_start)
    window = Window("week", monday, True, None, monday)
    flagged, base = words.item_filters(ClipFilter(tracks=("customer", "mix")), PLANTED,
                                       "negative", window)  # fmt: skip
    ranked = words.rank_words(transcripts.word_counts(Store(said), MODEL, flagged, base, words.STOP_WORDS,
                                                      words.PARTICLES, words.MIN_TRACKS))  # fmt: skip
    labels = [link.value for link in at.page_link if link.value and " · " in link.value]
    assert labels == [f"{w.word} · {w.n_flagged}" for w in ranked]

    box.select(f"angry:{PLANTED}").run()  # the second item: only the angry clips
    assert at.query_params["item"] == f"angry:{PLANTED}"
    angry = word_links(at)
    assert set(angry) == {"refund", "want"} and angry["refund"]["emotion"] == ["angry"]
    assert angry["refund"]["from"] == [window_start]

    picker(at).select(f"sad:{PLANTED}").run()
    assert {"cancel", "please", "account"} <= set(word_links(at)) and "refund" not in word_links(at)


def test_the_item_comes_from_the_url(dbs, monkeypatch):
    _, said = dbs
    at = open_page("overview", said, monkeypatch, item=f"sad:{PLANTED}")
    assert picker(at).value == f"sad:{PLANTED}" and "cancel" in word_links(at)
    at = open_page("overview", said, monkeypatch, item="happy:nobody")  # not listed: the first
    assert picker(at).value == f"negative:{PLANTED}"


def test_without_transcripts_the_page_says_how_to_get_them(dbs, monkeypatch):
    bare, _ = dbs
    at = open_page("overview", bare, monkeypatch)
    assert picker(at).value == f"negative:{PLANTED}" and word_links(at) == {}
    assert any("--transcribe" in c.value and "Transcribe" in c.value for c in at.caption)
