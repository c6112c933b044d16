"""Transcripts: one row per utterance (segment) of a track, what was said and how it sounded.

The tables are made by schema step 10 (core.store.schema). `transcripts` holds SenseVoice's segments with their words (a list column) and emotion2vec's
scores over each segment's span; `transcribed` marks each (clip, track, ASR settings) done, so a
track with no speech is not transcribed again either. The cache key is the clip's content hash,
the track and `asr_key` (models, revisions, language and text-normalisation settings).

When a track was transcribed with several settings, the latest one is current: every read here
goes through CURRENT, which keeps one transcript per track.

Search is plain SQL: `contains` on `text_lower`, each line lower-cased by DuckDB when stored,
as the search is when matched. DuckDB's full-text extension is not
available with duckdb 2.0, and a substring match also finds words in CJK text, which has no
spaces to split on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import InputError
from core.records import ClipFilter, WordCounts
from core.store.filters import normalised, where_sql
from core.store.keyed import rows_of
from core.store.query import first_row
from core.store.schema import CLIP_VIEW


def current_over(lines: str, done: str) -> str:
    """The current transcript of each track (the settings it was last transcribed with), from
    these relations of lines and of transcribed tracks (tables or CTE names)."""
    return (
        f"(SELECT t.* FROM {lines} t JOIN (SELECT clip_id, track,"
        f" arg_max(asr_key, transcribed_at) AS asr_key FROM {done} GROUP BY clip_id, track) k"
        f" USING (clip_id, track, asr_key))"
    )


CURRENT = current_over("transcripts", "transcribed")
EXPORT_COLUMNS = (
    "corpus", "clip_id", "source_name", "agent", "recorded_at", "track", "segment", "start_s",
    "end_s", "text", "language", "emotion", "events", "words", "top_label", "confidence",
    "scores", "asr_key",
)  # fmt: skip


@dataclass(frozen=True)
class SegmentRow:
    """One segment to store: SenseVoice's output and emotion2vec's scores over its span."""

    start_s: float
    end_s: float
    text: str
    language: str | None
    emotion: str | None
    events: tuple[str, ...]
    words: tuple[tuple[str, float, float], ...]
    scores: tuple[float, ...] | None = None
    top_label: str | None = None
    confidence: float | None = None


def done_tracks(store, asr_key: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (clip_id, track) pairs of `keys` already transcribed with `asr_key`."""
    if not keys:
        return set()
    with store.reading() as con:
        rows = con.execute(
            "SELECT clip_id, track FROM transcribed WHERE asr_key = ?"
            " AND (clip_id, track) IN (SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]))",
            [asr_key, [k[0] for k in keys], [k[1] for k in keys]],
        ).fetchall()
    return {(c, t) for c, t in rows}


def write(store, asr_key: str, model_key: str | None,
          tracks: Sequence[tuple[str, str, Sequence[SegmentRow]]]) -> int:  # fmt: skip
    """Store the segments of (clip_id, track, segments) tracks, replacing any earlier rows of
    the same settings; returns the number of segments written. One transaction."""
    rows = [
        (clip_id, track, asr_key, i, s.start_s, s.end_s, s.text, s.language, s.emotion,
         list(s.events), [{"word": w, "start_s": a, "end_s": b} for w, a, b in s.words],
         model_key if s.scores is not None else None,
         list(s.scores) if s.scores is not None else None, s.top_label, s.confidence, s.text)
        for clip_id, track, segments in tracks
        for i, s in enumerate(segments)
    ]  # fmt: skip
    with store.writing(changes_results=False) as con:
        for clip_id, track, segments in tracks:
            for table in ("transcripts", "transcribed"):
                con.execute(
                    f"DELETE FROM {table} WHERE clip_id = ? AND track = ? AND asr_key = ?",
                    [clip_id, track, asr_key],
                )
            con.execute(
                "INSERT INTO transcribed (clip_id, track, asr_key, n_segments) VALUES (?, ?, ?, ?)",
                [clip_id, track, asr_key, len(segments)],
            )
        if rows:
            con.executemany(  # the text twice: as said, and lower-cased by DuckDB for search
                f"INSERT INTO transcripts VALUES ({'?, ' * 15}lower(?))", rows
            )
    return len(rows)


def write_table(store, asr_key: str, segments, done) -> int:
    """Store transcripts given as Arrow tables, for tracks not transcribed with `asr_key` yet
    (bench/synth_db.py writes millions of lines; an ingest, which may replace rows, uses `write`).

    `segments` has every column of the transcripts table except asr_key; `done` has clip_id,
    track and n_segments of every transcribed track, those with no line included. One
    transaction; returns the number of lines written."""
    with store.writing(changes_results=False) as con:
        con.register("new_segments", segments)
        con.register("new_done", done)
        con.execute(
            "INSERT INTO transcripts SELECT clip_id, track, ?, segment, start_s, end_s, text,"
            " language, emotion, events, words, model_key, scores, top_label, confidence,"
            " lower(text) FROM new_segments",
            [asr_key],
        )
        con.execute(
            "INSERT INTO transcribed (clip_id, track, asr_key, n_segments)"
            " SELECT clip_id, track, ?, n_segments FROM new_done",
            [asr_key],
        )
    return segments.num_rows


def segments_of(store, clip_id: str, track: str | None = None) -> pd.DataFrame:
    """The current transcript of one clip (all tracks, or one), in time order."""
    condition, params = ("TRUE", []) if track is None else ("track = ?", [track])
    lines, line_ids = rows_of("lines", "transcripts", [clip_id])
    done, done_ids = rows_of("done", "transcribed", [clip_id])
    with store.reading() as con:
        return con.execute(
            f"WITH {lines}, {done}"
            f" SELECT track, segment, start_s, end_s, text, language, emotion, events, words,"
            f" top_label, confidence, scores FROM {current_over('lines', 'done')} c"
            f" WHERE {condition} ORDER BY start_s, track",
            [*line_ids, *done_ids, *params],
        ).df()


def matching_lines(store, said: str, keys: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """For each (clip_id, track) of `keys`, its first segment containing `said`, with its time.

    The page's clip ids come first: filtering by them before matching text or picking current
    settings reads a page's lines only (0.08 s at 3.3M lines; a filter on (clip_id, track)
    pairs or CURRENT's every-track pick took 0.4 s)."""
    if not keys or not normalised(said):
        return pd.DataFrame(columns=["clip_id", "track", "start_s", "end_s", "text"])
    with store.reading() as con:
        return con.execute(
            "WITH want AS (SELECT unnest(?::VARCHAR[]) AS clip_id, unnest(?::VARCHAR[]) AS track),"
            " current AS (SELECT clip_id, track, arg_max(asr_key, transcribed_at) AS asr_key"
            " FROM transcribed WHERE clip_id IN (SELECT clip_id FROM want) GROUP BY ALL)"
            " SELECT s.clip_id, s.track, arg_min(s.start_s, s.start_s) AS start_s,"
            " arg_min(s.end_s, s.start_s) AS end_s, arg_min(s.text, s.start_s) AS text"
            " FROM transcripts s JOIN current USING (clip_id, track, asr_key)"
            " SEMI JOIN want USING (clip_id, track)"
            " WHERE s.clip_id IN (SELECT clip_id FROM want) AND contains(s.text_lower, lower(?))"
            " GROUP BY s.clip_id, s.track",
            [[k[0] for k in keys], [k[1] for k in keys], normalised(said)],
        ).df()


# Tokens of a line (core.analysis.words says why): spaced scripts' words of letters, digits and
# apostrophes, CJK characters blanked out first, and CJK runs' character bigrams (a run of one
# character as itself). RE2 patterns as SQL literals: code of this module, not values.
_CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"
_WORD = r"[\p{L}\p{M}\p{N}''’]+"  # '' is one apostrophe inside the SQL literal
_TOKENS = (
    f"list_concat(list_transform(regexp_extract_all(regexp_replace(lower(s.text), '{_CJK}', ' ',"
    f" 'g'), '{_WORD}'), lambda w: trim(w, '''’')), flatten(list_transform(regexp_extract_all("
    f"lower(s.text), '{_CJK}+'), lambda r: list_transform(range(greatest(length(r) - 1, 1)),"
    " lambda i: substr(r, i + 1, 2)))))"
)
# A token is kept when it has two characters (or is one CJK character), is no stop word, and
# neither starts nor ends with a particle.
_KEPT = (
    f"(length(t.word) >= 2 OR regexp_full_match(t.word, '{_CJK}'))"
    " AND NOT list_contains(?::VARCHAR[], t.word)"
    " AND NOT list_has_any([left(t.word, 1), right(t.word, 1)], ?::VARCHAR[])"
)


def tokens_of(store, text: str, stop_words: Sequence[str] = (),
              particles: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The distinct tokens `word_counts` takes from one line of text, sorted."""
    with store.reading() as con:
        rows = con.execute(
            f"SELECT DISTINCT t.word FROM (SELECT unnest({_TOKENS}) AS word"
            f" FROM (SELECT ?::VARCHAR AS text) s) t WHERE {_KEPT} ORDER BY 1",
            [text, list(stop_words), list(particles)],
        ).fetchall()
    return [r[0] for r in rows]


def word_counts(store, model_key: str, flagged: ClipFilter, base: ClipFilter,
                stop_words: Sequence[str] = (), particles: Sequence[str] = (),
                min_flagged: int = 1) -> WordCounts:  # fmt: skip
    """Per word, the tracks of `flagged` and of `base` whose current transcript contains it
    (words in fewer than `min_flagged` flagged tracks left out), and the two sides' totals.

    Cheap at 1M clips because the filters come first: both name one agent, so each side is that
    agent's tracks of the clip view (thousands, not millions); the transcript tables are joined
    to those keys only, the current settings are picked among them, and only their lines are
    tokenised and counted. Nothing is aggregated over every transcript.
    """
    flagged_sql, flagged_params = where_sql(flagged)
    base_sql, base_params = where_sql(base)
    picked = (
        f"WITH sides AS (SELECT DISTINCT v.clip_id, v.track, TRUE AS f, FALSE AS b"
        f" FROM ({CLIP_VIEW}) v WHERE {flagged_sql} UNION ALL"
        f" SELECT DISTINCT v.clip_id, v.track, FALSE, TRUE FROM ({CLIP_VIEW}) v WHERE {base_sql}),"
        " picked AS (SELECT clip_id, track, bool_or(f) AS f, bool_or(b) AS b FROM sides"
        " GROUP BY clip_id, track),"
        " current AS (SELECT t.clip_id, t.track, arg_max(t.asr_key, t.transcribed_at) AS asr_key"
        " FROM transcribed t SEMI JOIN picked USING (clip_id, track) GROUP BY t.clip_id, t.track)"
    )
    params = [model_key, *flagged_params, model_key, *base_params]
    with store.reading() as con:
        totals = first_row(con.execute(
            f"{picked} SELECT count(*) FILTER (WHERE p.f), count(*) FILTER (WHERE p.b),"
            " count(c.asr_key) FILTER (WHERE p.f), count(c.asr_key) FILTER (WHERE p.b)"
            " FROM picked p LEFT JOIN current c USING (clip_id, track)",
            params,
        ))  # fmt: skip
        words = con.execute(
            f"{picked}, tokens AS (SELECT DISTINCT s.clip_id, s.track, unnest({_TOKENS}) AS word"
            " FROM transcripts s JOIN current USING (clip_id, track, asr_key)),"
            " counts AS (SELECT t.word, count(*) FILTER (WHERE p.f) AS n_flagged,"
            " count(*) FILTER (WHERE p.b) AS n_base FROM tokens t JOIN picked p"
            f" USING (clip_id, track) WHERE {_KEPT} GROUP BY t.word)"
            " SELECT word, n_flagged, n_base, sum(n_flagged) OVER () AS pairs_flagged,"
            " sum(n_base) OVER () AS pairs_base FROM counts QUALIFY n_flagged >= ?"
            " ORDER BY n_flagged DESC, word",
            [*params, list(stop_words), list(particles), min_flagged],
        ).df()
    pairs = [int(words[c].iloc[0]) if len(words) else 0 for c in ("pairs_flagged", "pairs_base")]
    return WordCounts(
        words[["word", "n_flagged", "n_base"]].astype({"n_flagged": "int64", "n_base": "int64"}),
        *(int(n or 0) for n in totals), *pairs,
    )  # fmt: skip


def full_text_sql() -> str:
    """A subquery of (clip_id, track, transcript): each track's current text in time order."""
    return (
        f"(SELECT clip_id, track, string_agg(text, ' ' ORDER BY start_s) AS transcript"
        f" FROM {CURRENT} c GROUP BY clip_id, track)"
    )


def export_query(model_key: str, fmt: str, where: ClipFilter = ClipFilter()) -> tuple[str, list]:
    """The transcripts export: one row per segment of the selected clips' tracks."""
    condition, params = where_sql(where)
    columns = []
    for c in EXPORT_COLUMNS:
        if c == "events" and fmt == "csv":
            columns.append("array_to_string(s.events, '|') AS events")
        elif c == "words" and fmt == "csv":  # word@start-end, space separated
            columns.append(
                "array_to_string(list_transform(s.words, lambda w: w.word || '@' ||"
                " round(w.start_s, 2) || '-' || round(w.end_s, 2)), ' ') AS words"
            )
        elif c == "scores" and fmt == "csv":
            columns.append("array_to_string(s.scores, '|') AS scores")
        elif c in ("corpus", "source_name", "agent", "recorded_at"):
            columns.append(f"v.{c}")
        else:
            columns.append(f"s.{c}")
    sql = (
        f"WITH v AS (SELECT DISTINCT ON (clip_id, track) * FROM ({CLIP_VIEW}) v WHERE {condition}"
        " ORDER BY clip_id, track, corpus)"
        f" SELECT {', '.join(columns)} FROM {CURRENT} s JOIN v USING (clip_id, track)"
        " ORDER BY v.source_name, s.clip_id, s.start_s, s.track"
    )
    return sql, [model_key, *params]


def export(store, fmt: str, out: Path, model_key: str, where: ClipFilter = ClipFilter()) -> int:
    """Write the transcripts export with DuckDB's COPY; return the number of rows."""
    if fmt not in ("csv", "parquet"):
        raise InputError(f"unknown format {fmt!r}; choose csv or parquet.")
    sql, params = export_query(model_key, fmt, where)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    with store.reading() as con:
        result = con.execute(f"COPY ({sql}) TO ? ({options})", [*params, str(out)]).fetchall()
    return int(result[0][0])


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles(segments: pd.DataFrame, fmt: str) -> str:
    """SRT or WebVTT text of a clip's segments (a split call's lines say whose they are)."""
    if fmt not in ("srt", "vtt"):
        raise InputError(f"unknown subtitle format {fmt!r}; choose srt or vtt.")
    sep = "," if fmt == "srt" else "."
    blocks = ["WEBVTT\n"] if fmt == "vtt" else []
    several = segments["track"].nunique() > 1 if len(segments) else False
    for n, row in enumerate(segments.sort_values(["start_s", "track"]).itertuples(), start=1):
        text = f"{row.track}: {row.text}" if several else row.text
        cue = f"{_timestamp(row.start_s, sep)} --> {_timestamp(row.end_s, sep)}\n{text}\n"
        blocks.append(f"{n}\n{cue}" if fmt == "srt" else cue)
    return "\n".join(blocks)
