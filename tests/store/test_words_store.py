"""core.store.transcripts.word_counts on a real DuckDB file (#26): per word, the tracks of an
item's clips and of its baseline whose current transcript says it, English and Chinese; the
tokens; and the Clips link of a word, followed, giving exactly the clips that say it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import parse_qs

import pandas as pd
import pytest

from core.analysis import ranking, words
from core.analysis.attention import Window
from core.records import ClipFilter
from core.store import transcripts
from core.store.clips import select_clips
from core.store.database import Store
from core.store.transcripts import SegmentRow
from tests.analysis.test_attention import MODEL, write_rows

WEEK = Window("week", date(2025, 3, 3), True, None, date(2025, 3, 3))
VOICE = ClipFilter(tracks=("customer", "mix"))  # the customer's voice of split calls
# clip, track, agent, day, top emotion, what it said (None: never transcribed)
CLIPS = [
    ("c1", "mix", "ann", "2025-03-04", "angry", "I want a REFUND now"),
    ("c2", "customer", "ann", "2025-03-05", "angry", "Refund please, my refund!"),
    ("c2", "agent", "ann", "2025-03-05", "neutral", "I understand, the refund"),  # not the voice
    ("c3", "mix", "ann", "2025-03-06", "angry", "我要退款"),
    ("c4", "mix", "ann", "2025-03-06", "happy", "great service"),  # not the item's emotion
    ("c5", "mix", "ann", "2025-03-07", "angry", None),
    ("b1", "mix", "ann", "2025-02-10", "neutral", "refund refund refund"),  # rewritten below
    ("b2", "mix", "ann", "2025-02-11", "happy", "Refund received, thank you"),
    ("b3", "customer", "ann", "2025-02-18", "angry", "退款到账了吗"),
    ("x1", "mix", "bob", "2025-03-04", "angry", "refund refund"),  # another agent
    ("x2", "mix", "ann", "2025-03-11", "angry", "refund"),  # after the week
]


def line(text: str) -> SegmentRow:
    return SegmentRow(0.0, 1.0, text, None, None, (), ())


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("words") / "emoscope.duckdb")
    rows = pd.DataFrame([(c, t, a, pd.Timestamp(d) + timedelta(hours=9), e)
                         for c, t, a, d, e, _ in CLIPS],
                        columns=["clip_id", "track", "agent", "recorded_at", "emotion"])  # fmt: skip
    write_rows(store, "calls", rows)
    said = [(c, t, [line(text)]) for c, t, _, _, _, text in CLIPS if text is not None]
    transcripts.write(store, "sv@1", None, said)
    # b1's current transcript (the latest settings) no longer says refund
    transcripts.write(store, "sv@2", None, [("b1", "mix", [line("Thank you for the help")])])
    return store


def item_counts(store: Store, emotion: str = "angry", min_flagged: int = 1):
    flagged, base = words.item_filters(VOICE, "ann", emotion, WEEK)
    return transcripts.word_counts(store, MODEL, flagged, base, words.STOP_WORDS,
                                   words.PARTICLES, min_flagged)  # fmt: skip


def test_tracks_saying_each_word_on_both_sides(store):
    counts = item_counts(store)
    got = {r.word: (r.n_flagged, r.n_base) for r in counts.words.itertuples()}
    # flagged: c1, c2's customer, c3 (c5 has no transcript); base: b1 (sv@2), b2, b3
    assert got == {"refund": (2, 1), "want": (1, 0), "please": (1, 0), "要退": (1, 0),
                   "退款": (1, 1)}  # fmt: skip
    assert (counts.tracks_flagged, counts.transcribed_flagged) == (4, 3)
    assert (counts.tracks_base, counts.transcribed_base) == (3, 3)
    # pairs over every word, also those only the baseline says: thank x2, help, received,
    # refund, 退款, 款到, 到账 (账了 and 了吗 end or start with a particle)
    assert (counts.pairs_flagged, counts.pairs_base) == (6, 8)
    strict = item_counts(store, min_flagged=2)
    assert list(strict.words.word) == ["refund"] and strict.pairs_flagged == 6


def test_the_combined_negative_item_and_an_item_without_transcripts(store):
    negative = item_counts(store, "negative")
    assert negative.tracks_flagged == 4 and negative.words.n_flagged.sum() == 6
    happy = item_counts(store, "happy")  # c4: "great service"
    assert {r.word: r.n_flagged for r in happy.words.itertuples()} == {"great": 1, "service": 1}
    flagged, base = words.item_filters(VOICE, "nobody", "angry", WEEK)
    empty = transcripts.word_counts(store, MODEL, flagged, base)
    assert (empty.tracks_flagged, empty.transcribed_flagged, empty.pairs_flagged) == (0, 0, 0)
    assert empty.words.empty


def test_tokens_english_and_chinese(store):
    tokens = transcripts.tokens_of(
        store, "我们会尽快处理您的退款 I don’t want a REFUND, 'ok'? 好 5 10 ありがとう",
        words.STOP_WORDS, words.PARTICLES,
    )  # fmt: skip
    # bigrams of each CJK run (我们 a stop word; 您的 and 的退 hold a particle), a run of one
    # character as itself (好: a stop word), words of two or more characters, stop words out
    assert tokens == sorted(["10", "refund", "want", "们会", "会尽", "尽快", "快处", "处理",
                             "理您", "退款", "あり", "りが", "がと", "とう"])  # fmt: skip
    assert transcripts.tokens_of(store, "退 and 款") == ["and", "款", "退"]


def test_a_words_link_opens_exactly_the_clips_that_say_it(store):
    params = ranking.clips_params("ann", "angry", WEEK, MODEL, VOICE.tracks, said="refund")
    assert ranking.query_string(params) == (
        "agent=ann&emotion=angry&from=2025-03-03&to=2025-03-09&model=emotion2vec_plus_base%40test"
        "&role=customer&role=mix&said=refund"
    )
    assert "said" not in ranking.clips_params("ann", "angry", WEEK, MODEL)
    for word, expected in (("refund", {"c1", "c2"}), ("退款", {"c3"})):
        query = parse_qs(ranking.query_string(
            ranking.clips_params("ann", "angry", WEEK, MODEL, VOICE.tracks, said=word)))  # fmt: skip
        last = date.fromisoformat(query["to"][0])
        where = ClipFilter(  # the Clips page's filter of those parameters (dashboard.widgets)
            agents=tuple(query["agent"]), top_labels=tuple(query["emotion"]),
            tracks=tuple(query["role"]), said=query["said"][0],
            date_from=datetime.fromisoformat(query["from"][0]),
            date_to=datetime.combine(last, datetime.min.time()) + timedelta(days=1),
        )  # fmt: skip
        clips = select_clips(store, MODEL, where)
        assert set(clips.clip_id) == expected and set(clips.track) <= {"customer", "mix"}
        n_flagged = item_counts(store).words.set_index("word").n_flagged[word]
        assert len(clips) == n_flagged  # the link lists the tracks the ranking counted
