"""Paging, aggregation, exports and the cluster job on a small database from bench/synth_db.py.

Every value is checked against an independent computation in pandas/numpy over the whole table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter, ClusterPick
from core.store.aggregates import (
    PERIODS,
    ClipQuery,
    agent_trends,
    clip_page,
    clip_summary,
    clip_table,
    selection_fingerprint,
)
from core.store.clips import select_clips
from core.store.database import Store
from core.store.embeddings import select_embeddings
from core.store.filters import filter_options
from core.store.integrity import integrity_report
from core.store.projections import (
    cluster_profile,
    projection_points,
    projection_size,
    read_projection,
    save_projection,
)

SORTABLE = ["source_name", "recorded_at", "duration_s", "confidence", "agent", "top_label",
            *SCORE_COLUMNS]  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> tuple[Store, str]:
    import synth_db

    db = tmp_path_factory.mktemp("synth") / "synth.duckdb"
    synth_db.build(db, synth_db.SynthSpec(clips=400, seed=3, batch=150, curve_share=0.1))
    return Store(db), synth_db.MODEL_KEY


def test_synthetic_database_is_consistent_and_deterministic(synth, tmp_path):
    import synth_db

    store, key = synth
    assert set(integrity_report(store).values()) == {0}
    clips = select_clips(store, key)
    assert clips.clip_id.nunique() == 400
    assert set(clips.track) == {"mix", "agent", "customer"}
    assert clips.duration_s.between(3, 900).all()
    again = tmp_path / "again.duckdb"
    synth_db.build(again, synth_db.SynthSpec(clips=400, seed=3, batch=150, curve_share=0.1))
    other = select_clips(Store(again), key)
    pd.testing.assert_frame_equal(
        clips.drop(columns=["added_at"]), other.drop(columns=["added_at"])
    )


def test_segment_bounds_tile_like_longform():
    import synth_db

    assert synth_db.segment_bounds(130.0) == [
        (0.0, 27.5), (27.5, 52.5), (52.5, 77.5), (77.5, 102.5), (102.5, 130.0),
    ]  # fmt: skip
    assert synth_db.segment_bounds(61.0)[-1] == (52.5, 61.0)


@pytest.mark.parametrize("order_by", SORTABLE)
@pytest.mark.parametrize("descending", [False, True])
def test_clip_pages_sort_like_pandas(synth, order_by, descending):
    store, key = synth
    every = select_clips(store, key)
    expected = every.sort_values(
        [order_by, "clip_id", "track"], ascending=[not descending, True, True],
        na_position="last", kind="stable",
    )  # fmt: skip
    pages = [clip_page(store, key, ClipQuery(order_by=order_by, descending=descending, page=p,
                                            page_rows=100)) for p in range(6)]  # fmt: skip
    assert [len(p) for p in pages] == [100, 100, 100, 100, 100, len(every) - 500]
    got = pd.concat(pages)
    assert list(got.clip_id + got.track) == list(expected.clip_id + expected.track)


def test_search_and_filters_count_like_pandas(synth):
    store, key = synth
    every = select_clips(store, key)
    where = ClipFilter(agents=tuple(sorted(every.agent.unique())[:50]), min_confidence=0.4)
    subset = every[every.agent.isin(where.agents) & (every.confidence >= 0.4)]
    wanted = subset[subset.source_name.str.lower().str.contains("call-00001")]
    summary, first = clip_table(store, key, ClipQuery(where, "CALL-00001", page_rows=5))
    assert len(first) == min(5, len(wanted))
    assert summary.rows == len(wanted) > 0
    assert summary.recordings == wanted.clip_id.nunique()
    assert summary.mean_confidence == pytest.approx(wanted.confidence.mean(), rel=1e-6)
    page = clip_page(store, key, ClipQuery(where, "CALL-00001", page_rows=1000))
    assert set(page.clip_id + page.track) == set(wanted.clip_id + wanted.track)
    assert clip_summary(store, key, search="%").rows == 0  # a wildcard is a character


def _pandas_trends(clips: pd.DataFrame, period: str) -> pd.DataFrame:
    """Independent: pandas periods (weeks start on Monday), crosstab shares."""
    data = clips.dropna(subset=["agent", "recorded_at"]).copy()
    freq = {"day": "D", "week": "W-SUN", "month": "M"}[period]
    data["period"] = data.recorded_at.dt.to_period(freq).dt.start_time
    shares = pd.crosstab([data.agent, data.period], data.top_label, normalize="index")
    shares = shares.reindex(columns=list(EMOTIONS), fill_value=0.0)
    grouped = data.groupby(["agent", "period"])
    table = shares.join(grouped.size().rename("n")).join(grouped.confidence.mean().rename("conf"))
    return table.reset_index().sort_values(["agent", "period"]).reset_index(drop=True)


@pytest.mark.parametrize("period", PERIODS)
def test_trends_match_an_independent_computation(synth, period):
    store, key = synth
    got = agent_trends(store, key, period=period)
    expected = _pandas_trends(select_clips(store, key), period)
    assert len(got) == len(expected)
    assert list(got.agent) == list(expected.agent)
    assert list(pd.to_datetime(got.period)) == list(expected.period)
    assert list(got.n) == list(expected.n)
    np.testing.assert_allclose(got[list(EMOTIONS)], expected[list(EMOTIONS)], atol=1e-12)
    np.testing.assert_allclose(got.mean_confidence, expected.conf, rtol=1e-6)
    assert list(got.low_n) == list(expected.n < 5)
    if period == "week":
        assert (pd.to_datetime(got.period).dt.dayofweek == 0).all()
    if period == "month":
        assert (pd.to_datetime(got.period).dt.day == 1).all()


def test_filter_options_count_agents(synth):
    store, _ = synth
    options = filter_options(store)
    with store.reading() as con:
        expected = con.execute(
            "SELECT agent, count(*) FROM clips WHERE agent IS NOT NULL GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert list(options["agent_clips"].items()) == expected
    assert options["agents"] == [agent for agent, _ in expected]
    assert sum(options["agent_clips"].values()) == 400


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_exports_write_every_row_with_duckdb(synth, tmp_path, fmt):
    from core.store import export

    store, key = synth
    every = select_clips(store, key)
    out = tmp_path / f"clips.{fmt}"
    assert export.export(store, "clips", fmt, out, key) == len(every)
    if fmt == "parquet":
        schema = pq.read_schema(out)
        assert schema.field("tags").type == pa.list_(pa.string())  # a list stays a list
        table = pq.read_table(out)
        assert table.num_rows == len(every)
        ids, lists = table.column("clip_id").to_pylist(), table.column("tags").to_pylist()
        tags = dict(zip(ids, lists, strict=True))
        assert all(tags[c] == list(t) for c, t in zip(every.clip_id, every.tags, strict=True))
    else:
        frame = pd.read_csv(out, keep_default_na=False)
        assert len(frame) == len(every)
        joined = every.set_index(["clip_id", "track"]).tags.map("|".join)
        assert (frame.set_index(["clip_id", "track"]).tags == joined.loc[
            list(zip(frame.clip_id, frame.track, strict=True))].to_numpy()).all()  # fmt: skip
    assert export.count_rows(store, key)["clips"] == len(every)


def test_embedding_and_frame_exports_count_and_keep_lists(synth, tmp_path):
    from core.store import export

    store, key = synth
    clips, matrix = select_embeddings(store, key)
    out = tmp_path / "emb.parquet"
    assert export.export(store, "embeddings", "parquet", out, key) == len(clips)
    table = pq.read_table(out)
    assert pa.types.is_list(table.schema.field("embedding").type)
    by_id = {(c, t): i for i, (c, t) in enumerate(zip(clips.clip_id, clips.track, strict=True))}
    first = (table.column("clip_id")[0].as_py(), table.column("track")[0].as_py())
    np.testing.assert_array_equal(table.column("embedding")[0].as_py(), matrix[by_id[first]])
    frames = tmp_path / "frames.parquet"
    with store.reading() as con:
        n_frames = con.execute("SELECT sum(n_frames) FROM frame_curves").fetchall()[0][0]
    assert export.export(store, "frames", "parquet", frames, key) == n_frames
    assert export.count_rows(store, key) == {"clips": len(select_clips(store, key)), "frames": n_frames,
                                             "embeddings": len(clips)}  # fmt: skip
    probabilities = duckdb.sql(
        f"SELECT {' + '.join(SCORE_COLUMNS)} AS total FROM read_parquet(?)", params=[str(frames)]
    ).df()
    np.testing.assert_allclose(probabilities.total, 1.0, atol=1e-5)
    csv = tmp_path / "emb.csv"
    export.export(store, "embeddings", "csv", csv, key, ClipFilter(agents=("agent-001",)))
    spread = pd.read_csv(csv)
    assert [c for c in spread.columns if c.startswith("emb_")][-1] == "emb_1023"


def test_embeddings_are_read_without_per_row_work(synth):
    store, key = synth
    clips, matrix = select_embeddings(store, key)
    assert matrix.shape == (len(clips), 1024) and matrix.dtype == np.float32
    with store.reading() as con:
        row = con.execute(
            "SELECT embedding FROM embeddings_d1024 WHERE clip_id = ? AND track = ?",
            [clips.clip_id[7], clips.track[7]],
        ).fetchall()[0][0]
    np.testing.assert_array_equal(matrix[7], np.asarray(row, np.float32))


def test_sampling_is_deterministic_and_bounded():
    from core.analysis.clusters import sample_indices

    a, b = sample_indices(100_000, 10_000, seed=0), sample_indices(100_000, 10_000, seed=0)
    assert np.array_equal(a, b) and len(a) == 10_000 and len(np.unique(a)) == 10_000
    assert np.all(np.diff(a) > 0) and a[-1] < 100_000
    assert not np.array_equal(a, sample_indices(100_000, 10_000, seed=1))
    assert np.array_equal(sample_indices(50, 10_000), np.arange(50))


@pytest.mark.parametrize("isolated", [False, True], ids=["in-thread", "child-process"])
def test_cluster_job_end_to_end(synth, isolated):
    from core.analysis import clusters, projection
    from core.jobs import JobRegistry

    limits = clusters.Limits(silhouette_sample=200, umap_fit_sample=300, minibatch_above=100)
    store, key = synth
    where = ClipFilter()
    params = clusters.ProjectionParams(k=0, n_neighbors=10)
    stages = []
    registry = JobRegistry()
    job = registry.start(
        "p", lambda progress: projection.compute_projection(
            store, key, where, params, lambda d, t, s: (stages.append(s), progress(d, t, s)),
            limits=limits, isolated=isolated),
    )  # fmt: skip
    assert registry.start("p", lambda progress: None) is job or job.snapshot().finished
    state = job.wait(300)
    assert state.finished and state.error is None, state.error
    result = state.result
    n, fingerprint = selection_fingerprint(store, key, where)
    assert result.key == clusters.projection_key(key, n, fingerprint, params)
    assert (
        result.n_points == n == len(select_clips(store, key))
        and projection_size(store, result.key) == n
    )
    assert set(result.silhouette) == set(range(2, 11)) and result.k == max(
        result.silhouette, key=result.silhouette.get
    )
    assert any("placing the other" in s for s in stages)  # the rest transformed, not fitted
    profile = cluster_profile(store, result.key, key)
    assert profile.n.sum() == n and len(profile) == result.k
    points = projection_points(store, result.key, key, where, 50)
    assert len(points) == 50 and points.x.notna().all()
    assert list(points.clip_id) == list(
        projection_points(store, result.key, key, where, 50).clip_id
    )
    stored = read_projection(store, result.key).merge(
        select_clips(store, key), on=["clip_id", "track"]
    )
    expected = stored.groupby("cluster").agg(n=("clip_id", "size"), angry=("score_angry", "mean"))
    np.testing.assert_allclose(profile.set_index("cluster").angry, expected.angry, rtol=1e-5)
    top = stored.groupby("cluster").top_label.agg(lambda s: s.value_counts().sort_index()
                                                  .sort_values(ascending=False, kind="stable")
                                                  .index[0])  # fmt: skip
    assert list(profile.top_emotion) == list(top)


def stored_by_hand(store: Store, key: str, name: str, k: int = 3) -> pd.DataFrame:
    """A projection stored as the job would store it, the selection's tracks dealt round-robin
    into k clusters: (clip_id, track, x, y, cluster)."""
    tracks = select_clips(store, key)[["clip_id", "track"]].drop_duplicates()
    frame = tracks.assign(x=0.0, y=0.0, cluster=np.arange(len(tracks)) % k)
    save_projection(store, name, frame)
    return frame


def keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame.clip_id, frame.track, strict=True))


@pytest.mark.parametrize("cluster", [0, 1, 2])
def test_a_cluster_filter_pages_every_member_and_leaves_out_the_rest(synth, cluster):
    store, key = synth
    points = stored_by_hand(store, key, "by-hand")
    members = set(keys(points[points.cluster == cluster]))
    clips = select_clips(store, key)
    expected = [k for k in keys(clips) if k in members]  # a clip in two corpora: two rows
    where = ClipFilter(cluster=ClusterPick("by-hand", cluster))
    summary, first = clip_table(store, key, ClipQuery(where, page_rows=50))
    listed = [first] + [clip_page(store, key, ClipQuery(where, page=p, page_rows=50))
                        for p in range(1, -(-summary.rows // 50))]  # fmt: skip
    listed = pd.concat(listed)
    assert summary.rows == len(expected) == len(listed) > 50  # more than one page
    assert sorted(keys(listed)) == sorted(expected)
    assert list(listed.source_name) == sorted(listed.source_name)  # paged in one order
    outside = ClipFilter(cluster=ClusterPick("by-hand", cluster, inside=False))
    rest = clip_page(store, key, ClipQuery(outside, page_rows=10**6))
    assert sorted(keys(rest)) == sorted(k for k in keys(clips) if k not in members)
    assert clip_summary(store, key, where).rows == len(expected)  # never the day rollup


def test_more_like_a_cluster_is_the_nearest_outside_it(synth):
    from core.search.similar import similar_to_cluster

    store, key = synth
    points = stored_by_hand(store, key, "by-hand")
    members = set(keys(points[points.cluster == 1]))
    clips, matrix = select_embeddings(store, key, ClipFilter())
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    inside = np.array([k in members for k in keys(clips)])
    centre = unit[inside].mean(axis=0)
    sims = unit @ (centre / np.linalg.norm(centre))
    ranked = [keys(clips)[i] for i in np.argsort(-sims, kind="stable") if not inside[i]]
    found, used = similar_to_cluster(store, key, "by-hand", 1, ClipFilter(), k=10)
    assert used == len(members)  # every track of a cluster this small
    assert keys(found.rows) == list(dict.fromkeys(ranked))[:10]
    np.testing.assert_allclose(found.rows.similarity, np.sort(sims[~inside])[::-1][:10], rtol=1e-4)


def test_a_failing_job_reports_its_error():
    from core.errors import InputError
    from core.jobs import JobRegistry

    def work(progress):
        progress(1, 2, "half")
        raise InputError("too few clips")

    state = JobRegistry().start("x", work).wait(10)
    assert state.finished and state.error == "too few clips" and state.done == 1


def test_the_child_process_computes_what_the_thread_computes_and_relays_input_errors():
    from core.analysis.clusters import Limits, ProjectionParams, cluster_and_map, normalised
    from core.analysis.projection import cluster_and_map_in_child
    from core.errors import InputError

    rng = np.random.default_rng(5)
    x = normalised(np.concatenate([rng.normal(c, 1.0, (40, 64)) for c in (-3, 0, 3)]))
    params, limits = ProjectionParams(k=3, n_neighbors=8), Limits(minibatch_above=100)
    stages = []
    here = cluster_and_map(x, params, limits)
    there = cluster_and_map_in_child(x, params, limits, lambda d, t, s: stages.append((d, s)))
    assert there.k == here.k == 3 and there.silhouette == here.silhouette == {}
    assert np.array_equal(there.clusters, here.clusters) and len(set(there.clusters)) == 3
    np.testing.assert_allclose(there.xy, here.xy, rtol=1e-5)
    assert [d for d, _ in stages] == [1, 2, 2] and stages[-1][1].startswith("projecting")
    with pytest.raises(InputError, match="k = 500 must be between 2 and 119 for 120 clips"):
        cluster_and_map_in_child(x, ProjectionParams(k=500), limits, lambda d, t, s: None)


def test_synthetic_transcripts_are_found_by_the_said_filter(synth):
    """A tenth of the clips carry transcripts (bench/synth_db.py): a word taken from one stored
    line selects exactly the tracks whose current transcript says it, counted in pandas."""
    store, key = synth
    with duckdb.connect(str(store.path), read_only=True) as con:
        lines = con.execute("SELECT clip_id, track, text, language FROM transcripts").df()
        done = con.execute("SELECT count(*) FROM transcribed").fetchall()[0][0]
    tracks = select_clips(store, key)
    assert 0.05 < lines.clip_id.nunique() / tracks.clip_id.nunique() < 0.2
    assert (
        set(lines.language) == {"en", "zh"} and done >= lines.groupby(["clip_id", "track"]).ngroups
    )
    for word in ("refund", "退款"):
        wanted = set(
            lines[lines.text.str.contains(word)].apply(lambda r: (r.clip_id, r.track), axis=1)
        )
        found = select_clips(store, key, ClipFilter(said=word.upper()))
        assert set(zip(found.clip_id, found.track, strict=True)) == wanted and wanted
