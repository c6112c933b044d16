"""What was said more than before (#26): Monroe et al.'s z by hand, the minimum count, the
direction, CJK words, and the two selections of an item."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from core.analysis import words
from core.analysis.attention import NEGATIVE, Window
from core.records import ClipFilter, WordCounts

WEEK = Window("week", date(2025, 3, 3), True, None, date(2025, 3, 3))


def counts(rows: list[tuple[str, int, int]], docs=(10, 40), pairs=(100, 400)) -> WordCounts:
    table = pd.DataFrame(rows, columns=["word", "n_flagged", "n_base"])
    return WordCounts(table, docs[0] + 2, docs[1] + 5, *docs, *pairs)


def test_z_is_the_log_odds_ratio_under_the_informative_prior_by_hand():
    # prior 100 over 500 pairs: alpha = 100 * (6 + 4) / 500 = 2
    # delta = ln(8 / (100 + 100 - 8)) - ln(6 / (400 + 100 - 6)) = ln(8/192) - ln(6/494)
    #       = -3.178054 + 4.409763 = 1.231709 ... sigma^2 = 1/8 + 1/6 = 0.291667
    assert words.log_odds_z(6, 4, 100, 400, 100) == pytest.approx(2.282558, abs=1e-6)
    # a zero in the baseline is shrunk, not infinite: alpha = 0.6, sigma^2 = 1/3.6 + 1/0.6
    assert words.log_odds_z(3, 0, 100, 400, 100) == pytest.approx(1.954208, abs=1e-6)
    # the same share on both sides (5 of 100 pairs, 20 of 400): no difference at all
    assert words.log_odds_z(5, 20, 100, 400, 100) == pytest.approx(0.0, abs=1e-12)
    assert words.log_odds_z(3, 30, 100, 400, 100) < 0  # said less than before


def test_rank_keeps_words_of_at_least_the_minimum_said_more_than_before():
    table = counts([("refund", 6, 4), ("thanks", 5, 20), ("cancel", 2, 0), ("never", 3, 0),
                    ("hello", 3, 30)])  # fmt: skip
    ranked = words.rank_words(table, prior_size=100)
    assert [w.word for w in ranked] == ["refund", "never"]  # cancel: 2 tracks; hello: fewer
    refund = ranked[0]
    assert (refund.n_flagged, refund.n_base) == (6, 4)
    assert (refund.share_flagged, refund.share_base) == (0.6, 0.1)  # of 10 and 40 transcribed
    assert refund.z == pytest.approx(2.282558, abs=1e-6)
    loose = words.rank_words(table, min_tracks=2, prior_size=100)
    assert [w.word for w in loose] == ["refund", "never", "cancel"]
    assert loose[2].z == pytest.approx(1.592272, abs=1e-6)
    assert [w.word for w in words.rank_words(table, limit=1, prior_size=100)] == ["refund"]


def test_cjk_words_rank_like_any_other():
    table = counts([("退款", 4, 1), ("申请", 3, 3), ("谢谢", 1, 30)])
    ranked = words.rank_words(table)
    assert [w.word for w in ranked] == ["退款", "申请"]
    assert ranked[0].z == pytest.approx(words.log_odds_z(4, 1, 100, 400), abs=1e-12)


def test_nothing_to_rank_without_transcripts_on_either_side():
    table = counts([("refund", 6, 4)])
    assert words.rank_words(counts([("refund", 6, 0)], docs=(10, 0), pairs=(100, 0))) == []
    assert words.rank_words(counts([], docs=(0, 40), pairs=(0, 400))) == []
    assert len(words.rank_words(table)) == 1


def test_stop_words_cover_both_apostrophes():
    assert {"don't", "don’t", "the", "我们", "什么"} <= set(words.STOP_WORDS)
    assert "的" in words.PARTICLES


def test_an_items_clips_and_its_baseline():
    where = ClipFilter(corpora=("calls",), tracks=("customer", "mix"),
                       date_from=datetime(2025, 1, 15))  # fmt: skip
    flagged, base = words.item_filters(where, "ann", "angry", WEEK)
    assert flagged == ClipFilter(corpora=("calls",), agents=("ann",), top_labels=("angry",),
                                 tracks=("customer", "mix"), date_from=datetime(2025, 3, 3),
                                 date_to=datetime(2025, 3, 10))  # fmt: skip
    assert base == ClipFilter(corpora=("calls",), agents=("ann",), tracks=("customer", "mix"),
                              date_from=datetime(2025, 1, 15), date_to=datetime(2025, 3, 3))  # fmt: skip
    negative, _ = words.item_filters(ClipFilter(), "ann", "negative", WEEK)
    assert negative.top_labels == NEGATIVE
    narrow = ClipFilter(date_from=datetime(2025, 3, 5), date_to=datetime(2025, 3, 7))
    inside, before = words.item_filters(narrow, "ann", "sad", WEEK)  # the sidebar's dates win
    assert (inside.date_from, inside.date_to) == (datetime(2025, 3, 5), datetime(2025, 3, 7))
    assert before.date_to == datetime(2025, 3, 3)
