"""core.store.transcripts on a seeded database: the said filter (any case, CJK), the cache
marks, the current settings, subtitles, and corpus deletion."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from core.records import ClipFilter
from core.store import transcripts
from core.store.clips import select_clips
from core.store.corpora import list_corpora
from core.store.database import Store
from core.store.export import export
from core.store.models import list_models
from core.store.transcripts import SegmentRow
from tests.store.older import database_at


def line(start, end, text, **extra) -> SegmentRow:
    return SegmentRow(start_s=start, end_s=end, text=text, language=extra.get("language"),
                      emotion=extra.get("emotion"), events=extra.get("events", ()),
                      words=tuple((w, start, end) for w in text.split()))  # fmt: skip


@pytest.fixture
def said_db(seeded_db, tmp_path):
    path = tmp_path / "said.duckdb"
    shutil.copy(seeded_db, path)
    store = Store(path)
    clips = select_clips(store, list_models(store).model_key.iloc[0]).sort_values("source_name")
    a, b, c = clips.clip_id.iloc[:3]
    transcripts.write(store, "sv@1/auto/noitn", None, [
        (a, "mix", [line(0.1, 1.0, "我们会尽快处理您的退款申请", language="zh")]),
        (b, "mix", [line(0.2, 0.9, "Thank you"), line(1.0, 1.8, "I want a REFUND now", emotion="angry")]),
        (c, "mix", []),  # no speech: transcribed, no lines
    ])  # fmt: skip
    return store, (a, b, c)


def selected(store, said: str) -> set[str]:
    out = store.path.parent / "out.csv"
    export(store, "clips", "csv", out, list_models(store).model_key.iloc[0], ClipFilter(said=said))
    return set(pd.read_csv(out).clip_id)


def test_said_matches_any_case_and_cjk_substrings(said_db):
    store, (a, b, _) = said_db
    assert selected(store, "退款") == {a}
    assert selected(store, "refund") == selected(store, "  Refund ") == {b}
    assert selected(store, "want a   refund") == {b}  # a phrase, white space normalised
    assert selected(store, "nobody said this") == set()


def test_clips_export_carries_the_full_text(said_db):
    store, (_, b, c) = said_db
    out = store.path.parent / "all.csv"
    export(store, "clips", "csv", out, list_models(store).model_key.iloc[0])
    table = pd.read_csv(out).set_index("clip_id")
    assert table.loc[b, "transcript"] == "Thank you I want a REFUND now"
    assert pd.isna(table.loc[c, "transcript"])


def test_cache_marks_and_current_settings(said_db):
    store, (a, b, c) = said_db
    keys = [(a, "mix"), (b, "mix"), (c, "mix"), ("other", "mix")]
    assert transcripts.done_tracks(store, "sv@1/auto/noitn", keys) == set(keys[:3])
    assert transcripts.done_tracks(store, "sv@1/en/noitn", keys) == set()
    transcripts.write(store, "sv@1/en/noitn", None, [(b, "mix", [line(0.0, 1.0, "hello there")])])
    assert list(transcripts.segments_of(store, b).text) == ["hello there"]  # the latest settings
    lines = transcripts.matching_lines(store, "REFUND", [(b, "mix")])
    assert lines.empty  # the current transcript no longer says it


def test_subtitles_srt_and_vtt():
    segments = pd.DataFrame({"track": ["agent", "customer"], "start_s": [0.5, 3661.25],
                             "end_s": [2.0, 3662.0], "text": ["Hello", "Hi"]})  # fmt: skip
    assert transcripts.subtitles(segments, "srt") == (
        "1\n00:00:00,500 --> 00:00:02,000\nagent: Hello\n\n"
        "2\n01:01:01,250 --> 01:01:02,000\ncustomer: Hi\n"
    )
    assert transcripts.subtitles(segments.iloc[:1], "vtt") == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello\n"
    )


def test_deleting_the_corpus_deletes_its_transcripts(said_db):
    from core.access.principal import Principal, Role
    from core.store.deletion import delete_corpus

    store, _ = said_db
    corpus = list_corpora(store).corpus.iloc[0]
    admin = Principal("boss@team.test", Role.ADMIN)
    report = delete_corpus(store, admin, corpus, store.path.parent / "media")
    assert report.transcripts == 3
    with store.reading() as con:
        assert con.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM transcribed").fetchone()[0] == 0


def test_laughter_and_crying_select_the_tracks_whose_lines_have_them(said_db):
    """#26: a track matches an event when any of its lines carries it; several events: any."""
    from core.analysis.overview import overview

    store, (a, b, _) = said_db
    transcripts.write(store, "sv@1/auto/noitn", None, [
        (a, "mix", [line(0.1, 1.0, "哈哈 好的", events=("laughter",))]),
        (b, "mix", [line(0.2, 0.9, "Thank you"), line(1.0, 1.8, "oh no", events=("cry", "cough"))]),
    ])  # fmt: skip
    model_key = list_models(store).model_key.iloc[0]

    def chosen(*events: str) -> set[str]:
        where = ClipFilter(events=events)
        return set(select_clips(store, model_key, where).clip_id)

    assert chosen("laughter") == {a} and chosen("cry") == {b}
    assert chosen("laughter", "cry") == {a, b}
    assert len(select_clips(store, model_key)) == 12  # no event chosen: every track
    # Every reader of a ClipFilter follows it: the Overview's counts (not the unfiltered day
    # rollup), the clips export and the transcripts export.
    assert overview(store, model_key, ClipFilter(events=("laughter",))).volume.tracks == 1
    out = store.path.parent / "laughing.csv"
    export(store, "clips", "csv", out, model_key, ClipFilter(events=("laughter",)))
    assert list(pd.read_csv(out).clip_id) == [a]
    transcripts.export(store, "csv", out, model_key, ClipFilter(events=("cry",)))
    lines = pd.read_csv(out)
    assert list(lines.text) == ["Thank you", "oh no"] and list(lines.events.fillna("")) == [
        "", "cry|cough"]  # fmt: skip


def test_matched_lines_of_a_page_are_each_tracks_first_in_any_case(said_db):
    """The Clips page's matched lines: one per asked track (the first in time), found by the
    stored lower-case copy whatever the case of either side, non-ASCII letters included."""
    store, (a, b, c) = said_db
    transcripts.write(store, "sv@1/auto/noitn", None, [
        (c, "mix", [line(0.5, 1.0, "ÉCLAIR au café"), line(2.0, 3.0, "un autre éclair")]),
    ])  # fmt: skip
    lines = transcripts.matching_lines(store, "Éclair", [(c, "mix"), (b, "mix"), (a, "mix")])
    assert lines[["clip_id", "start_s", "text"]].values.tolist() == [[c, 0.5, "ÉCLAIR au café"]]
    lines = transcripts.matching_lines(store, " refund ", [(b, "mix"), (b, "agent")])
    assert lines[["clip_id", "track", "start_s", "end_s"]].values.tolist() == [[b, "mix", 1.0, 1.8]]
    assert selected(store, "éclair") == selected(store, "ÉCLAIR") == {c}
    transcripts.write(store, "sv@1/auto/noitn", None, [(a, "mix", [line(0, 1, "İSTANBUL'a")])])
    assert selected(store, "İstanbul") == selected(store, "istanbul") == {a}  # DuckDB's lower()


def test_a_schema_11_file_keeps_its_lines_and_finds_them_after_the_migration(tmp_path):
    """Step 12 copies the transcripts table to add each line's lower-case copy: every line
    survives with its words and scores, the copy is filled, and the said search finds them."""
    import duckdb

    path = tmp_path / "v11.duckdb"
    con = database_at(path, 11)
    con.execute(
        "INSERT INTO transcripts VALUES ('c1', 'agent', 'sv', 0, 0.5, 1.5, 'Ihr RÜCKGELD',"
        " 'de', 'angry', ['laughter'], [{'word': 'Ihr', 'start_s': 0.5, 'end_s': 0.8}], 'm',"
        " [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], 'sad', 0.9)"
    )
    con.execute("INSERT INTO transcribed (clip_id, track, asr_key, n_segments)"
                " VALUES ('c1', 'agent', 'sv', 1)")  # fmt: skip
    con.close()
    store = Store(path)
    with store.reading() as con:
        row = con.execute(
            "SELECT text, text_lower, events, words[1].word, scores[9], top_label FROM transcripts"
        ).fetchall()
    assert row == [("Ihr RÜCKGELD", "ihr rückgeld", ["laughter"], "Ihr", pytest.approx(0.9), "sad")]
    lines = transcripts.matching_lines(store, "rückGELD", [("c1", "agent")])
    assert lines[["clip_id", "track", "text"]].values.tolist() == [["c1", "agent", "Ihr RÜCKGELD"]]
    with store.reading() as con:  # step 10's constraints are back on the copy
        nullable = dict(con.execute("SELECT column_name, is_nullable FROM information_schema.columns"
                                    " WHERE table_name = 'transcripts'").fetchall())  # fmt: skip
    assert nullable["text_lower"] == nullable["words"] == "NO" and nullable["language"] == "YES"
    with pytest.raises(duckdb.ConstraintException), store.writing() as con:
        con.execute("INSERT INTO transcripts SELECT * FROM transcripts")  # the same keys again


@pytest.mark.parametrize(("order_by", "descending", "page_rows", "page"), [
    ("source_name", False, 500, 0), ("confidence", True, 1, 0), ("agent", False, 1, 1),
    ("recorded_at", True, 1, 5),  # past the last page: the count, no rows
])  # fmt: skip
def test_a_said_table_read_in_one_query_equals_its_count_and_page_read_apart(
    said_db, order_by, descending, page_rows, page
):
    """clip_table selects a said search once for its count line and its page: the same summary
    and rows as summary_in and page_in, which select twice."""
    from core.store.aggregates import ClipQuery, clip_table, page_in, summary_in

    store, (_, _, c) = said_db
    transcripts.write(store, "sv@1/auto/noitn", None, [(c, "mix", [line(0, 1, "a refund")])])
    model_key = list_models(store).model_key.iloc[0]
    query = ClipQuery(ClipFilter(said="Refund"), "", order_by, descending, page, page_rows)
    summary, rows = clip_table(store, model_key, query)
    with store.reading() as con:
        assert summary == summary_in(con, model_key, query.where, "")
        apart = page_in(con, model_key, query)
    assert summary.rows == 2 and summary.recordings == 2
    assert rows.clip_id.tolist() == apart.clip_id.tolist()
    assert len(rows) == {0: min(2, page_rows), 1: 1, 5: 0}[page]
    pd.testing.assert_frame_equal(rows, apart, check_dtype=False)
