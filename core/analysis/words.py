"""What was said more than before (#26): the words over-represented in a flagged agent x emotion
item's clips against the same agent's earlier clips.

Pure functions, no SQL: core.store.transcripts.word_counts counts, per word, the tracks of each
side whose current transcript contains it (a track counts a word once, so one talkative call
cannot carry a word); this module ranks them.

- **Which clips.** The flagged side is the item's agent, period and top emotion(s) in the voice
  counted; the baseline is the same agent and voice in every earlier period (the periods the
  attention test compares with), whatever the emotion.
- **The ranking** is the log-odds ratio with an informative Dirichlet prior of Monroe,
  Colaresi & Quinn (2008, "Fightin' Words", Political Analysis 16(4), eq. 16-22), on track
  counts: the prior spreads `PRIOR_SIZE` pseudo-counts over the words in proportion to their
  pooled frequency, which pulls a word seen in a handful of tracks towards "no difference"
  instead of ranking it first for a zero in the baseline. A word is listed when at least
  `MIN_TRACKS` of the flagged tracks say it and its z is positive (said more, not less).
- **Tokens** (made in SQL): lower-cased words of letters, digits and apostrophes in spaced
  scripts, at least two characters; Chinese, Japanese and Korean runs as character bigrams
  (a run of one character as itself), since Chinese has no spaces between words.
  `STOP_WORDS` and any token starting or ending with a `PARTICLES` character are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time

from core.analysis.attention import COMBINED, NEGATIVE, Window
from core.records import ClipFilter, WordCounts

MIN_TRACKS = 3  # a word is listed when at least this many flagged tracks say it
SHOWN = 12  # words listed for an item
PRIOR_SIZE = 500.0  # alpha_0: pseudo-counts of the prior, spread by pooled frequency

_ENGLISH = (
    "a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "did", "do", "does", "don't", "for", "from", "get", "got",
    "had", "has", "have", "he", "her", "here", "him", "his", "how", "i'll", "i'm", "if", "in",
    "is", "it", "it's", "its", "just", "know", "let's", "like", "me", "my", "no", "not", "now",
    "of", "oh", "ok", "okay", "on", "one", "or", "our", "she", "so", "that", "that's", "the",
    "their", "them", "then", "there", "there's", "these", "they", "this", "those", "to", "too",
    "uh", "um", "up", "us", "very", "was", "we", "we're", "well", "were", "what", "when",
    "where", "which", "who", "why", "will", "with", "would", "yeah", "yes", "you", "you're",
    "your",
)  # fmt: skip
_CHINESE = (
    "我", "你", "他", "她", "它", "是", "在", "有", "和", "就", "不", "也", "都", "这", "那",
    "个", "一", "说", "要", "会", "对", "好", "我们", "你们", "他们", "这个", "那个", "一个",
    "什么", "怎么", "就是", "还是", "但是", "因为", "所以", "然后", "可以", "没有", "不是",
    "已经", "现在", "这样", "那样", "知道", "一下", "这边", "那边", "有点", "我是", "你是",
    "这是", "那是", "我要", "我想", "一些", "您好", "你好", "谢谢",
)  # fmt: skip
# Typed apostrophes (’) are as common as straight ones in transcripts: both forms are stopped.
STOP_WORDS: tuple[str, ...] = (
    *_ENGLISH, *(w.replace("'", "’") for w in _ENGLISH if "'" in w), *_CHINESE,
)  # fmt: skip
# Sentence-final and structural particles: a bigram with one at either end is almost always a
# fragment across two words (您的, 的退), never a word a PM would search for.
PARTICLES: tuple[str, ...] = ("的", "了", "吗", "呢", "吧", "啊", "嗯", "哦", "呀", "么", "哈")


@dataclass(frozen=True)
class Word:
    """One over-represented word: tracks saying it on each side, their shares, and its z."""

    word: str
    n_flagged: int
    n_base: int
    share_flagged: float  # of the flagged tracks with a transcript
    share_base: float  # of the baseline tracks with a transcript
    z: float


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time())


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else max(a, b)


def _earlier(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else min(a, b)


def item_filters(where: ClipFilter, agent: str, emotion: str,
                 window: Window) -> tuple[ClipFilter, ClipFilter]:  # fmt: skip
    """The flagged and the baseline selection of one item, inside the page's filter `where`
    (its voice's tracks included): the agent's tracks with the item's top emotion(s) in the
    window, and the agent's tracks of every earlier period, any emotion."""
    if window.start is None:
        raise ValueError("an item needs a dated window")
    start, end = _day_start(window.start), _day_start(window.end_exclusive)
    emotions = NEGATIVE if emotion == COMBINED else (emotion,)
    flagged = replace(where, agents=(agent,), top_labels=emotions,
                      date_from=_later(where.date_from, start),
                      date_to=_earlier(where.date_to, end))  # fmt: skip
    base = replace(where, agents=(agent,), date_to=_earlier(where.date_to, start))
    return flagged, base


def log_odds_z(y_flagged: float, y_base: float, n_flagged: float, n_base: float,
               prior_size: float = PRIOR_SIZE) -> float:  # fmt: skip
    """Monroe et al.'s z of one word: its log-odds ratio under an informative Dirichlet prior,
    over the ratio's approximate standard deviation.

    y: the word's counts on each side; n: each side's counts over every word; the prior gives
    the word alpha_w = prior_size * (y_flagged + y_base) / (n_flagged + n_base).
    """
    pooled = n_flagged + n_base
    alpha = prior_size * (y_flagged + y_base) / pooled if pooled else 0.0
    if alpha <= 0:
        return 0.0
    delta = math.log((y_flagged + alpha) / (n_flagged + prior_size - y_flagged - alpha)) - math.log(
        (y_base + alpha) / (n_base + prior_size - y_base - alpha)
    )
    return delta / math.sqrt(1 / (y_flagged + alpha) + 1 / (y_base + alpha))


def rank_words(counts: WordCounts, min_tracks: int = MIN_TRACKS, limit: int = SHOWN,
               prior_size: float = PRIOR_SIZE) -> list[Word]:  # fmt: skip
    """The words said in at least `min_tracks` flagged tracks and more often there than in the
    baseline (z > 0), highest z first (ties: more tracks, then the word), at most `limit`.

    Empty when either side has no transcribed track: there is nothing to compare.
    """
    if counts.transcribed_flagged == 0 or counts.transcribed_base == 0:
        return []
    words = []
    for row in counts.words.itertuples(index=False):
        if row.n_flagged < min_tracks:
            continue
        z = log_odds_z(row.n_flagged, row.n_base, counts.pairs_flagged, counts.pairs_base,
                       prior_size)  # fmt: skip
        if z > 0:
            words.append(Word(str(row.word), int(row.n_flagged), int(row.n_base),
                              row.n_flagged / counts.transcribed_flagged,
                              row.n_base / counts.transcribed_base, z))  # fmt: skip
    words.sort(key=lambda w: (-w.z, -w.n_flagged, w.word))
    return words[:limit]
