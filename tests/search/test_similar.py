"""Similar recordings (#27): the index against the exact scan, filters, copies of the same audio
left out, the index following ingests and deletions, a stale index detected, the CLI, RAVDESS."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from core.records import ClipFilter
from core.search import index, similar, sync
from core.store.clips import select_clips
from core.store.database import Store
from core.store.embeddings import select_embeddings
from core.store.models import list_models
from core.store.similar import data_version
from tests.conftest import ffmpeg, make_corpus, speechlike
from tests.core_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
MODEL = "synthetic-e2v@0"


def keys_of(found) -> list[tuple[str, str]]:
    return list(zip(found.rows.clip_id, found.rows.track, strict=True))


@pytest.fixture(scope="module")
def synth_db(tmp_path_factory) -> Path:
    """3,000 synthetic clips (3,940 tracks, 400 agents, a year of dates) with 1024-d embeddings."""
    sys.path.insert(0, str(ROOT / "bench"))
    from synth_db import SynthSpec, build

    path = tmp_path_factory.mktemp("synth") / "synth.duckdb"
    build(path, SynthSpec(3000, seed=3))
    return path


@pytest.fixture(scope="module")
def indexed(synth_db) -> Store:
    store = Store(synth_db)
    state = sync.sync(store, MODEL, ivf_min=100)  # an IVF even at this size
    assert state.ivf is not None and state.alive == state.rows and state.lists == 64
    return store


def exact_ranking(store: Store, where: ClipFilter, clip_id: str, track: str, k: int) -> list:
    """The k nearest by cosine, computed here from the selection's embeddings (numpy), the query
    track left out: independent of core.search."""
    clips, matrix = select_embeddings(store, MODEL, where)
    own, vectors = select_embeddings(store, MODEL, ClipFilter(clip_ids=(clip_id,)))
    query = vectors[list(own.track).index(track)]
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    sims = unit @ (query / np.linalg.norm(query))
    keys = list(zip(clips.clip_id, clips.track, strict=True))
    order = [i for i in np.argsort(-sims, kind="stable") if keys[i] != (clip_id, track)]
    return [keys[i] for i in order[:k]]


def test_index_recall_against_the_exact_scan(indexed):
    keys, _ = index.read_embeddings(indexed, MODEL)
    picks = np.random.default_rng(0).choice(len(keys), 40, replace=False)
    recalls = []
    for i in picks:
        clip_id, track = keys[i]
        found = similar.similar_to_track(indexed, MODEL, clip_id, track, k=20)
        assert found.method == "index"
        exact = similar.similar_to_track(indexed, MODEL, clip_id, track, k=20, use_index=False)
        assert exact.method.startswith("exact scan")
        recalls.append(len(set(keys_of(found)) & set(keys_of(exact))) / 20)
        assert list(found.rows.similarity) == sorted(found.rows.similarity, reverse=True)
        assert (clip_id, track) not in keys_of(found)
    assert np.mean(recalls) >= 0.95
    # and the exact scan in DuckDB agrees with numpy
    clip_id, track = keys[picks[0]]
    exact = similar.similar_to_track(indexed, MODEL, clip_id, track, k=20, use_index=False)
    assert keys_of(exact) == exact_ranking(indexed, ClipFilter(), clip_id, track, 20)


@pytest.mark.parametrize(
    "where",
    [
        ClipFilter(agents=("agent-001", "agent-002", "agent-003", "agent-004")),  # narrow
        ClipFilter(tracks=("customer",)),  # a role: ~23 % of the rows
        ClipFilter(top_labels=("happy", "sad", "neutral", "angry", "fearful", "surprised")),
    ],
)
def test_filters_apply_before_ranking(indexed, where):
    clip_id, track = index.read_embeddings(indexed, MODEL)[0][7]
    found = similar.similar_to_track(indexed, MODEL, clip_id, track, where, k=15)
    truth = exact_ranking(indexed, where, clip_id, track, 15)
    assert len(found.rows) == min(15, len(truth))
    overlap = len(set(keys_of(found)) & set(truth)) / len(truth)
    assert overlap >= 0.9, overlap
    allowed = select_clips(indexed, MODEL, where)
    assert set(keys_of(found)) <= set(zip(allowed.clip_id, allowed.track, strict=True))


def test_more_like_a_cluster_searches_the_index_outside_the_cluster(indexed, monkeypatch):
    from core.store.projections import save_projection

    tracks = select_clips(indexed, MODEL)[["clip_id", "track"]].drop_duplicates()
    halves = tracks.assign(x=0.0, y=0.0, cluster=np.arange(len(tracks)) % 2)
    save_projection(indexed, "halves", halves)
    first = halves[halves.cluster == 0]
    members = set(zip(first.clip_id, first.track, strict=True))
    clips, matrix = select_embeddings(indexed, MODEL, ClipFilter())
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    inside = np.array([k in members for k in zip(clips.clip_id, clips.track, strict=True)])
    centre = unit[inside].mean(axis=0)
    order = np.argsort(-(unit @ (centre / np.linalg.norm(centre))), kind="stable")
    outside = [(clips.clip_id[i], clips.track[i]) for i in order if not inside[i]]
    found, used = similar.similar_to_cluster(indexed, MODEL, "halves", 0, k=15)
    assert found.method == "index" and used == len(members) < similar.CENTROID_SAMPLE
    assert keys_of(found) == list(dict.fromkeys(outside))[:15]
    monkeypatch.setattr(similar, "CENTROID_SAMPLE", 500)  # a large cluster: a sample's centroid
    found, used = similar.similar_to_cluster(indexed, MODEL, "halves", 0, k=15)
    assert used == 500 and len(found.rows) == 15 and not set(keys_of(found)) & members


def test_rows_answer_while_the_ivf_is_built(synth_db, tmp_path, monkeypatch):
    """The rows are published before the IVF: a build stopped half-way (here: its training
    fails) leaves an index that answers by scanning its rows exactly, and the next sync adds
    the IVF without reading the database again."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(synth_db, path)
    store = Store(path)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # what a server stopped mid-build raises

    monkeypatch.setattr(sync, "_trained_ivf", stopped)
    with pytest.raises(KeyboardInterrupt):
        sync.sync(store, MODEL, ivf_min=100)
    state = index.State.read(index.index_dir(path, MODEL))
    assert state.ivf is None and state.rows == state.alive == 3940
    clip_id, track = index.read_embeddings(store, MODEL)[0][7]
    found = similar.similar_to_track(store, MODEL, clip_id, track, k=10)
    assert found.method == "index"  # the mapped rows, not the database
    assert keys_of(found) == exact_ranking(store, ClipFilter(), clip_id, track, 10)

    monkeypatch.undo()
    read = []
    monkeypatch.setattr(sync.queries, "embedding_batches", lambda *a: read.append(a) or iter(()))
    finished = sync.sync(store, MODEL, ivf_min=100)
    assert read == [] and finished.ivf is not None and finished.probes and finished.rows == 3940
    assert index.State.read(index.index_dir(path, MODEL)) == finished


def test_searches_probe_as_many_lists_as_the_calibration_measured(indexed, monkeypatch):
    """After the build, the IVF's recall was measured on a sample of its own rows; every search
    probes at least the count that reached RECALL_MIN (per 20 results, more for more results
    or a narrower filter), and its answers agree with the exact scan's. (EXACT_MAX lowered:
    this index's 3,940 rows would otherwise be scanned, not searched.)"""
    from core.search.calibration import RECALL_MIN, ladder

    monkeypatch.setattr(similar, "EXACT_MAX", 100)
    state = index.State.read(index.index_dir(indexed.path, MODEL))
    assert state.probes in ladder(state.lists) and state.recall >= RECALL_MIN
    asked = []
    real = similar.ivf_candidates
    monkeypatch.setattr(similar, "ivf_candidates",
                        lambda ivf, q, probes, *a: asked.append(probes) or real(ivf, q, probes, *a))  # fmt: skip
    keys, _ = index.read_embeddings(indexed, MODEL)
    recalls = []
    for i in np.random.default_rng(1).choice(len(keys), 40, replace=False):
        found = similar.similar_to_track(indexed, MODEL, *keys[i], k=20)
        exact = similar.similar_to_track(indexed, MODEL, *keys[i], k=20, use_index=False)
        recalls.append(len(set(keys_of(found)) & set(keys_of(exact))) / 20)
    assert len(asked) == 40 and min(asked) >= state.probes
    assert np.mean(recalls) >= RECALL_MIN
    assert 6 * state.probes < state.lists  # room to probe more, below every list
    for k in (5, 30):
        found = similar.similar_to_track(indexed, MODEL, *keys[100 + k], k=k)
        assert found.method == "index" and len(found.rows) == k
    assert asked[-2] >= state.probes  # k = 5 still probes the calibrated count
    assert asked[-1] >= 1.5 * state.probes  # k = 30 (39 wanted with the copies): more lists
    where = ClipFilter(tracks=("customer",))  # about a quarter of the rows
    found = similar.similar_to_track(indexed, MODEL, *keys[3], where, k=20)
    assert asked[-1] >= 3 * state.probes  # a quarter of the rows allowed: about 4 x the lists
    allowed = select_clips(indexed, MODEL, where)
    assert set(keys_of(found)) <= set(zip(allowed.clip_id, allowed.track, strict=True))


def test_the_calibration_ladder_ends_at_every_list(synth_db, tmp_path):
    """Probing every list proposes every row: the ladder always ends where the answers agree
    with the exact ranking, so a calibrated IVF is always used."""
    from core.search.calibration import ladder

    assert ladder(64) == [1, 2, 4, 8, 16, 32, 64] and ladder(100) == [*ladder(64), 100]
    path = tmp_path / "copy.duckdb"
    shutil.copy(synth_db, path)
    store = Store(path)
    state = sync.sync(store, MODEL, ivf_min=100)
    opened = index.open_index(path, MODEL, 1024)
    query = np.asarray(opened.vectors[42])
    every = index.ivf_candidates(opened.ivf, query, state.lists, state.rows)
    assert sorted(every.tolist()) == list(range(state.rows))  # the whole index proposed


def test_an_index_of_the_older_format_is_rebuilt_by_the_next_sync(synth_db, tmp_path):
    """An index from before the IVF (a usearch graph named in its state) is not read: searches
    scan exactly in DuckDB until the next sync (after an ingest too) rebuilds it under a new
    generation, its old files removed."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(synth_db, path)
    store = Store(path)
    folder = index.index_dir(path, MODEL)
    folder.mkdir(parents=True)
    (folder / "graph-g1.usearch").write_bytes(b"an older index")
    (folder / "state.json").write_text(json.dumps({
        "model_key": MODEL, "dim": 1024, "version": 1, "rows": 1, "alive": 1, "generation": 1,
        "vectors": "vectors-g1.f32", "keys": "keys-g1.parquet", "graph": "graph-g1.usearch",
        "candidates": 64, "recall": 0.99}))  # fmt: skip
    assert index.State.read(folder) is None and index.open_index(path, MODEL, 1024) is None
    clip_id, track = index.read_embeddings(store, MODEL)[0][9]
    found = similar.similar_to_track(store, MODEL, clip_id, track, k=10)
    assert found.method == "exact scan (no index yet)"
    assert keys_of(found) == exact_ranking(store, ClipFilter(), clip_id, track, 10)
    assert sync.sync_existing(store) == [MODEL]  # what an ingest or a deletion runs after it
    state = index.State.read(folder)
    assert state.generation == 2 and state.alive == 3940 and state.ivf is None  # < IVF_MIN
    assert not (folder / "graph-g1.usearch").exists()
    state = sync.sync(store, MODEL, ivf_min=100)
    assert state.generation == 2 and state.ivf == "ivf-g2.faiss" and state.probes
    assert keys_of(similar.similar_to_track(store, MODEL, clip_id, track, k=10)) == keys_of(found)


def test_index_keys_are_mapped_one_record_per_row(indexed):
    """A row's key comes from the mapped row-indexed keys, the same as the Parquet keys DuckDB
    joins (a row not in the index left out)."""
    from core.store.models import embedding_dim_of

    opened = index.open_index(Path(indexed.path), MODEL, embedding_dim_of(indexed, MODEL))
    assert len(opened.row_keys) == opened.state.rows
    rows = np.array([7, 0, 3939, 1234, 10**9, -1])
    mapped = opened.keys_at(rows).set_index("row").sort_index()
    assert list(mapped.index) == [0, 7, 1234, 3939]
    keys = pq.read_table(opened.keys_file).to_pandas().set_index("row")
    assert mapped.equals(keys.loc[[0, 7, 1234, 3939], ["clip_id", "track"]])


@pytest.mark.parametrize("share", [0.5, 0.01])  # the allowed rows: scanned in order, gathered
def test_a_filtered_scan_of_the_index_ranks_only_the_allowed_rows_either_way(indexed, share):
    """A filter keeping a large share of the index is served by an ordered scan of every row,
    a small one by gathering its rows: both give the allowed rows' exact top, best first."""
    from core.store.models import embedding_dim_of

    opened = index.open_index(Path(indexed.path), MODEL, embedding_dim_of(indexed, MODEL))
    n = opened.state.rows
    assert (share >= similar.DENSE_MIN_SHARE) == (share == 0.5)
    allowed = np.random.default_rng(5).choice(n, int(n * share), replace=False)
    query = np.asarray(opened.vectors[11])
    rows, sims, complete = similar._index_candidates(opened, query, allowed, 25)
    expected = allowed[np.argsort(-(np.asarray(opened.vectors[allowed]) @ query))][:25]
    assert not complete and set(rows) <= set(allowed) and len(rows) == 25  # more rows remain
    assert np.all(np.diff(sims) <= 0)
    np.testing.assert_allclose(sims, np.asarray(opened.vectors[rows]) @ query, rtol=1e-5)
    assert set(rows) == set(expected)
    every = similar._index_candidates(opened, query, allowed, len(allowed))
    assert every[2] and set(every[0]) == set(allowed)  # every allowed row: nothing more to ask


def test_k_and_unknown_clips_are_refused(indexed):
    from core.errors import InputError

    clip_id, track = index.read_embeddings(indexed, MODEL)[0][0]
    with pytest.raises(InputError, match="k must be"):
        similar.similar_to_track(indexed, MODEL, clip_id, track, k=0)
    with pytest.raises(InputError, match="no clip"):
        similar.similar_to_track(indexed, MODEL, "f" * 64, k=5)
    with pytest.raises(InputError, match="no track"):
        similar.similar_to_track(indexed, MODEL, clip_id, "nope", k=5)


# -- real audio through the tiny model ------------------------------------------------------------


def cli(*args):
    return run_cli(*args, cwd=ROOT)


@pytest.fixture(scope="module")
def audio_db(tmp_path_factory, tiny_model_dir) -> tuple[Path, Path, Path]:
    """Corpus `calls` (3 agents x 4 clips); corpus `copies`: one of those files byte for byte
    (same clip id) and the same samples as FLAC (other bytes, same audio); an index."""
    root = tmp_path_factory.mktemp("similar-audio")
    calls = make_corpus(root / "calls")
    db = root / "db.duckdb"
    done = cli("ingest", calls, "--corpus", "calls", "--model", tiny_model_dir, "--device", "cpu",
               "--pattern", "{agent}/{recorded_at}_*.wav", "--db", db)  # fmt: skip
    assert done.returncode == 0, done.stderr
    original = calls / "alice" / "2024-05-08_1.wav"
    copies = root / "copies"
    copies.mkdir()
    shutil.copy(original, copies / "same-bytes.wav")
    ffmpeg("-i", str(original), str(copies / "same-audio.flac"))
    built = cli("similar", "--build-index", "--db", db)
    assert built.returncode == 0, built.stderr
    done = cli("ingest", copies, "--corpus", "copies", "--model", tiny_model_dir, "--device", "cpu",
               "--db", db)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return db, original, tiny_model_dir


def test_identical_audio_is_left_out_and_counted(audio_db):
    db, _, _ = audio_db
    store = Store(db)
    key = list_models(store).model_key[0]
    rows = select_clips(store, key)
    clip_id = rows[rows.source_name == "alice/2024-05-08_1.wav"].clip_id.iloc[0]
    flac_id = rows[rows.source_name == "same-audio.flac"].clip_id.iloc[0]
    assert flac_id != clip_id  # other bytes: another clip
    found = similar.similar_to_track(store, key, clip_id, k=20)
    assert found.left_out_self == 2  # the track in `calls` and its byte copy in `copies`
    assert found.left_out_identical == 1  # the FLAC
    assert clip_id not in set(found.rows.clip_id) and flac_id not in set(found.rows.clip_id)
    assert len(found.rows) == 11  # the other 11 clips of `calls`
    # within one corpus, its own row only
    one = similar.similar_to_track(store, key, clip_id, where=ClipFilter(corpora=("calls",)), k=5)
    assert one.left_out_self == 1 and one.left_out_identical == 0


def test_the_index_follows_ingests_and_deletions(audio_db, tmp_path):
    db, _, model_dir = audio_db
    work = tmp_path / "db.duckdb"
    shutil.copy(db, work)
    shutil.copytree(Path(f"{db}.similar"), Path(f"{work}.similar"))
    store = Store(work)
    key = list_models(store).model_key[0]
    folder = index.index_dir(work, key)
    state = index.State.read(folder)
    assert (
        state.version == data_version(store) and state.alive == 13
    )  # the FLAC taken in (the byte copy is the same clip)

    more = make_corpus(tmp_path / "more", agents=("dave",), per_agent=3)
    for i, wav in enumerate(sorted(more.rglob("*.wav"))):  # new audio, not the same as `calls`
        sf.write(wav, speechlike(2.0 + i, seed=100 + i), 16_000)
    done = cli("ingest", more, "--corpus", "more", "--model", model_dir, "--device", "cpu",
               "--db", work)  # fmt: skip
    assert done.returncode == 0, done.stderr
    state = index.State.read(folder)
    assert state.version == data_version(store) and state.alive == 16 and state.rows == 16
    dave = pd.read_parquet(folder / state.keys).merge(
        select_clips(store, key, ClipFilter(corpora=("more",)))
    )
    assert len(dave) == 3

    done = cli("delete-corpus", "more", "--yes", "--db", work)
    assert done.returncode == 0, done.stderr
    state = index.State.read(folder)
    assert state.version == data_version(store) and state.alive == 13 and state.rows == 16
    keys = pd.read_parquet(folder / state.keys)
    assert len(keys) == 13 and not set(dave.clip_id) & set(keys.clip_id)
    mapped = np.load(index.rows_keys_path(folder / state.keys))  # one record per row, dead blank
    assert len(mapped) == 16 and set(mapped["clip_id"][dave.row].tolist()) == {b""}
    assert [c.decode() for c in mapped["clip_id"][keys.row]] == list(keys.clip_id)


def test_a_stale_index_is_detected_and_never_wrong(audio_db, tmp_path):
    from core.access.principal import cli_principal
    from core.store.deletion import delete_corpus

    db, _, _ = audio_db
    work = tmp_path / "db.duckdb"
    shutil.copy(db, work)
    shutil.copytree(Path(f"{db}.similar"), Path(f"{work}.similar"))
    store = Store(work)
    key = list_models(store).model_key[0]
    # an index built before `copies` went in, as if the ingest had not synced it
    state = sync.sync(store, key, rebuild=True)
    rows = select_clips(store, key)
    clip_id = rows[rows.source_name == "bob/2024-05-09_1.wav"].clip_id.iloc[0]
    before = similar.similar_to_track(store, key, clip_id, k=20)
    assert before.method == "index"

    delete_corpus(store, cli_principal(), "copies", work.parent / "media")  # no sync
    assert index.State.read(index.index_dir(work, key)).version != data_version(store)
    after = similar.similar_to_track(store, key, clip_id, k=20)
    assert "new tracks" in after.method  # stale: detected, the lacking rows scanned exactly
    exact = similar.similar_to_track(store, key, clip_id, k=20, use_index=False)
    assert keys_of(after) == keys_of(exact)
    assert "copies" not in set(after.rows.corpus)
    assert set(after.rows.clip_id) <= set(select_clips(store, key).clip_id)
    assert state.alive == 13 and len(after.rows) == 11

    # an index of another size, or a damaged state, is not used
    (index.index_dir(work, key) / "state.json").write_text("{")
    assert similar.similar_to_track(store, key, clip_id, k=3).method == "exact scan (no index yet)"


def test_cli_similar_json_and_find_by_example(audio_db, tmp_path):
    db, original, model_dir = audio_db
    store = Store(db)
    key = list_models(store).model_key[0]
    clip_id = select_clips(store, key).clip_id.iloc[0]
    done = cli("similar", clip_id[:12], "--k", "3", "--agent", "bob", "--json", "--db", db)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(answer["results"]) == 3 and {r["agent"] for r in answer["results"]} == {"bob"}
    assert answer["results"][0]["rank"] == 1

    # an example that is stored: its embedding comes from the cache, no model is loaded
    done = cli("similar", "--audio", original, "--k", "3", "--json", "--db", db)
    assert done.returncode == 0, done.stderr
    cached = json.loads(done.stdout.strip().splitlines()[-1])
    assert cached["query"]["cached"] is True and cached["left_out_identical"] == 1

    # a new example: scored now, not stored
    new = tmp_path / "new.wav"
    sf.write(new, speechlike(2.5, seed=77), 16_000)
    versions = data_version(store)
    done = cli("similar", "--audio", new, "--k", "4", "--json", "--db", db, "--model", model_dir,
               "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    assert fresh["query"]["cached"] is False and len(fresh["results"]) == 4
    assert data_version(store) == versions and len(select_clips(store, key)) == 14  # nothing stored

    done = cli("similar", "--db", db)
    assert done.returncode == 2 and "CLIP_ID" in done.stderr
    done = cli("similar", "zz", "--db", db)
    assert done.returncode == 2 and "no clip id starts with" in done.stderr


def test_ravdess_similar_agrees_with_an_exact_ranking_from_the_export(tmp_path, ravdess_pair):
    db = tmp_path / "ravdess.duckdb"
    shutil.copy(ravdess_pair[0], db)  # actors 1 and 2 through the CLI (tests/conftest.py)
    out = tmp_path / "emb.parquet"
    assert cli("export", "--what", "embeddings", "--format", "parquet", "--out", out,
               "--db", db).returncode == 0  # fmt: skip
    exported = pd.read_parquet(out)
    matrix = np.stack(exported.embedding.to_numpy()).astype(np.float64)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    store = Store(db)
    key = list_models(store).model_key[0]
    sync.sync(store, key, ivf_min=50)  # the IVF answers, not a scan
    recalls = []
    for i in range(0, len(exported), 4):
        sims = unit @ unit[i]
        sims[i] = -np.inf
        truth = set(exported.clip_id.iloc[np.argsort(-sims, kind="stable")[:20]])
        found = similar.similar_to_track(store, key, exported.clip_id.iloc[i], k=20)
        assert found.method == "index" and found.left_out_identical == 0
        recalls.append(len(truth & set(found.rows.clip_id)) / 20)
    assert len(exported) == 120 and np.mean(recalls) >= 0.95


def test_a_filters_index_rows_are_kept_for_the_next_search_on_the_same_data(indexed,
                                                                           monkeypatch):  # fmt: skip
    """The rows a filter keeps are looked up once per filter and data version: a second search
    with the same filter asks DuckDB no more, a write (a new data version) asks again."""
    calls = []
    real = similar.queries.allowed_rows
    monkeypatch.setattr(similar.queries, "allowed_rows",
                        lambda *a: calls.append(a[2]) or real(*a))  # fmt: skip
    monkeypatch.setattr(similar, "_allowed", type(similar._allowed)())  # none kept yet
    where = ClipFilter(tracks=("customer",))
    keys, _ = index.read_embeddings(indexed, MODEL)
    first = similar.similar_to_track(indexed, MODEL, *keys[5], where, k=10)
    second = similar.similar_to_track(indexed, MODEL, *keys[6], where, k=10)
    assert calls == [where] and len(first.rows) == len(second.rows) == 10
    assert keys_of(second) == exact_ranking(indexed, where, *keys[6], 10)
    other = ClipFilter(agents=("agent-001",))
    similar.similar_to_track(indexed, MODEL, *keys[5], other, k=5)
    assert calls == [where, other]
    monkeypatch.setattr(similar.queries, "data_version", lambda store: -1)  # as after a write
    similar._allowed_rows(
        indexed, MODEL, where, index.open_index(Path(indexed.path), MODEL, 1024), -1
    )
    assert calls == [where, other, where]
    said = ClipFilter(said="refund")  # transcripts are written without a new data version
    for _ in range(2):
        similar._allowed_rows(
            indexed, MODEL, said, index.open_index(Path(indexed.path), MODEL, 1024), -1
        )
    assert calls == [where, other, where, said, said]  # asked every time: never kept


def test_the_ivf_is_patched_after_an_ingest_and_a_deletion(synth_db, tmp_path):
    """New tracks are added to the IVF and a deleted corpus's removed from it, without training
    it again; every answer meanwhile agrees with the exact ranking, the deleted corpus never in
    it. Growing past four times its training retrains it."""
    from synth_db import SynthSpec, build

    from core.access.principal import cli_principal
    from core.store.deletion import delete_corpus

    path = tmp_path / "copy.duckdb"
    shutil.copy(synth_db, path)
    store = Store(path)
    first = sync.sync(store, MODEL, ivf_min=100)
    build(path, SynthSpec(300, seed=11, corpus="more"))
    added = sync.sync(store, MODEL, ivf_min=100)
    assert added.generation == first.generation + 1 and added.ivf != first.ivf
    assert (added.lists, added.trained_rows) == (first.lists, first.trained_rows)  # not retrained
    assert added.alive > first.alive and added.probes
    opened = index.open_index(path, MODEL, 1024)
    assert opened.ivf.ntotal == added.alive
    more = select_clips(store, MODEL, ClipFilter(corpora=("more",)))
    clip_id, track = more.clip_id.iloc[0], more.track.iloc[0]
    found = similar.similar_to_track(store, MODEL, clip_id, track, k=10)
    assert found.method == "index"
    assert keys_of(found) == exact_ranking(store, ClipFilter(), clip_id, track, 10)

    delete_corpus(store, cli_principal(), "more", tmp_path / "media")
    removed = sync.sync(store, MODEL, ivf_min=100)
    assert removed.alive == first.alive and removed.lists == first.lists
    assert index.open_index(path, MODEL, 1024).ivf.ntotal == first.alive
    clip_id, track = index.read_embeddings(store, MODEL)[0][3]
    found = similar.similar_to_track(store, MODEL, clip_id, track, k=10)
    assert keys_of(found) == exact_ranking(store, ClipFilter(), clip_id, track, 10)
    assert not set(found.rows.clip_id) & set(more.clip_id)

    build(path, SynthSpec(4 * first.trained_rows, seed=12, corpus="many", batch=2000))
    grown = sync.sync(store, MODEL, ivf_min=100)
    assert grown.trained_rows == grown.alive > 4 * first.trained_rows and grown.lists > first.lists


def test_a_search_whose_index_is_replaced_meanwhile_answers_exactly(synth_db, tmp_path):
    """A sync removes the previous generation's keys once the new state is published; a search
    that opened the old one and then finds its keys gone answers by the exact scan."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(synth_db, path)
    store = Store(path)
    state = sync.sync(store, MODEL, ivf_min=100)
    opened = index.open_index(path, MODEL, 1024)  # what a search in progress holds
    (index.index_dir(path, MODEL) / state.keys).unlink()  # as the next sync removes it
    assert index.open_index(path, MODEL, 1024) is opened  # its state file unchanged
    where = ClipFilter(agents=("agent-002", "agent-003", "agent-005"))
    clip_id, track = index.read_embeddings(store, MODEL)[0][21]
    found = similar.similar_to_track(store, MODEL, clip_id, track, where, k=10)
    assert found.method == "exact scan (the index was being replaced)" and len(found.rows) == 10
    assert keys_of(found) == exact_ranking(store, where, clip_id, track, 10)
