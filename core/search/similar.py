"""Similar recordings: the k tracks nearest to a track, an uploaded clip or a selection's
centroid, by cosine similarity of their embeddings, within a ClipFilter.

- The filter applies before ranking: the index proposes candidates among the selection's rows
  only (or the selection is scanned exactly when it is small), and every result is looked up
  under the filter in the database before it is shown.
- The query track itself (and its rows in other corpora: the same clip id) and other copies of
  the same audio (another clip whose embedding is the query's, cosine >= IDENTICAL) are left out
  and counted.
- Without a usable index (none built, another model's size, unreadable) the exact scan in DuckDB
  answers; with a stale one the rows it lacks are scored exactly beside it. Slower, never wrong.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.records import ClipFilter, ClusterPick
from core.search.calibration import NEIGHBOURS, rescored
from core.search.index import Opened, ivf_candidates, open_index, scan_rows, unit_rows
from core.store import similar as queries
from core.store.models import embedding_dim_of

IDENTICAL = 1.0 - 1e-6  # cosine at or above which two tracks are copies of the same audio
EXACT_MAX = 50_000  # a selection of at most this many rows is scanned exactly, not searched
DELTA_MAX = 100_000  # a stale index lacking more rows than this is not used (exact scan instead)
MAX_K = 1000
# A filter keeping at least this share of an index's rows is served by scanning every row in
# order and keeping the allowed ones: at 1.3M rows a gather of 300k rows (23 %) took 0.53 s, the
# ordered scan of all 1.3M 0.14 s (a gathered row costs ~16 times a scanned one).
DENSE_MIN_SHARE = 1 / 16
CENTROID_SAMPLE = 2_000  # tracks a cluster's centroid is taken from, at most


@dataclass
class Similar:
    """One search's answer."""

    rows: pd.DataFrame  # rank, similarity, corpus, clip_id, track, source_name, agent, ...
    left_out_self: int = 0  # rows of the query track itself (one per corpus holding it)
    left_out_identical: int = 0  # other tracks with the query's very embedding
    method: str = ""  # how it was answered, for the page and --json
    excluded: set = field(default_factory=set, repr=False)

    def as_dict(self) -> dict:
        rows = self.rows.copy()
        if "recorded_at" in rows:
            rows["recorded_at"] = rows["recorded_at"].astype(str).replace({"NaT": None})
        return {"method": self.method, "left_out_self": self.left_out_self,
                "left_out_identical": self.left_out_identical,
                "results": rows.to_dict(orient="records")}  # fmt: skip


def _check_k(k: int) -> int:
    if not 1 <= int(k) <= MAX_K:
        raise InputError(f"k must be between 1 and {MAX_K}, not {k}.")
    return int(k)


def embedding_dim(store, model_key: str) -> int:
    dim = embedding_dim_of(store, model_key)
    if dim is None:
        raise InputError(f"no results of model {model_key!r} in {store.path}.")
    return dim


def pick_track(store, model_key: str, clip_id: str, track: str | None = None) -> str:
    """The track to search with: the one asked for, else `mix`, else the clip's first."""
    tracks = queries.tracks_of(store, model_key, clip_id)
    if not tracks:
        raise InputError(f"no clip {clip_id!r} scored by {model_key} in {store.path}.")
    if track is not None:
        if track not in tracks:
            raise InputError(
                f"clip {clip_id[:12]} has no track {track!r}; it has {', '.join(tracks)}."
            )
        return track
    return "mix" if "mix" in tracks else tracks[0]


def similar_to_track(store, model_key: str, clip_id: str, track: str | None = None,
                     where: ClipFilter = ClipFilter(), k: int = 20,
                     use_index: bool = True) -> Similar:  # fmt: skip
    """The k tracks of the selection most like one stored track."""
    with store.reading():  # its lookups share one opening of the file
        dim = embedding_dim(store, model_key)
        track = pick_track(store, model_key, clip_id, track)
        vector = queries.embedding_of(store, model_key, dim, clip_id, track)
        if vector is None:
            raise InputError(f"clip {clip_id[:12]} ({track}) has no stored embedding.")
        found = search(store, model_key, vector, where, k, {(clip_id, track)}, use_index)
        found.left_out_self = queries.copies_in_selection(store, model_key, where, clip_id, track)
    return found


def similar_to_vector(store, model_key: str, vector: np.ndarray, where: ClipFilter = ClipFilter(),
                      k: int = 20, exclude: set | None = None,
                      use_index: bool = True) -> Similar:  # fmt: skip
    """The k tracks of the selection most like an embedding (an uploaded clip's, a centroid)."""
    return search(store, model_key, vector, where, k, exclude or set(), use_index)


def centroid(store, model_key: str, keys: list[tuple[str, str]]) -> np.ndarray:
    """The mean direction of some tracks' embeddings (Clusters' "more like these")."""
    dim = embedding_dim(store, model_key)
    vectors = [queries.embedding_of(store, model_key, dim, c, t) for c, t in keys]
    vectors = [v for v in vectors if v is not None]
    if not vectors:
        raise InputError("none of the selected tracks has a stored embedding.")
    return unit_rows(unit_rows(np.stack(vectors)).mean(axis=0))


def similar_to_cluster(store, model_key: str, projection_key: str, cluster: int,
                       where: ClipFilter = ClipFilter(), k: int = 20) -> tuple[Similar, int]:  # fmt: skip
    """The k tracks of the selection outside one cluster of a stored projection that are
    nearest to its centroid (Clusters' "more like this cluster"), and how many of its tracks
    the centroid was taken from: at most CENTROID_SAMPLE (a deterministic sample), so a cluster
    of 100,000 costs one bounded read. The cluster is left out in SQL, not one key at a time."""
    dim = embedding_dim(store, model_key)
    vectors = queries.cluster_embeddings(store, model_key, dim, projection_key, cluster,
                                         CENTROID_SAMPLE)  # fmt: skip
    if not len(vectors):
        raise InputError(f"cluster {cluster} has no stored embedding.")
    centre = unit_rows(unit_rows(vectors).mean(axis=0))
    outside = replace(where, cluster=ClusterPick(projection_key, int(cluster), inside=False))
    return search(store, model_key, centre, outside, k, set()), len(vectors)


def search(store, model_key: str, vector: np.ndarray, where: ClipFilter, k: int,
           exclude: set, use_index: bool = True) -> Similar:  # fmt: skip
    k = _check_k(k)
    with store.reading():  # the lookups of one search share one opening of the file
        dim = embedding_dim(store, model_key)
        query = unit_rows(np.asarray(vector, np.float32).reshape(-1))
        if query.shape[0] != dim:
            raise InputError(f"the example's embedding has {query.shape[0]} values; "
                             f"{model_key} stores {dim}.")  # fmt: skip
        opened = open_index(Path(store.path), model_key, dim) if use_index else None
        if not use_index:
            method = "exact scan (asked for)"
        elif opened is not None:
            try:
                found = _with_index(store, model_key, dim, opened, query, where, k, exclude)
            except FileNotFoundError:  # a sync replaced the index while this search read it
                found, method = None, "exact scan (the index was being replaced)"
            else:
                method = "exact scan (the index lacks too many new tracks; it is being updated)"
            if found is not None:
                return found
        else:
            method = "exact scan (no index yet)"
        return _exact(store, model_key, dim, query, where, k, exclude, method)


def _finish(store, model_key, where, ranked: list[tuple[str, str, float]], k: int, exclude: set,
            method: str) -> tuple[Similar, bool]:  # fmt: skip
    """Look the best candidates up under the filter, leave out the query's copies; returns the
    answer and whether the candidates ran out before k rows were found."""
    kept, identical, shown = [], 0, set()
    position = 0
    while len(kept) < k and position < len(ranked):
        chunk = ranked[position : position + max(2 * k, 32)]
        position += len(chunk)
        rows = queries.result_rows(store, model_key, where, [(c, t) for c, t, _ in chunk])
        found = {(r.clip_id, r.track): r for r in rows.itertuples(index=False)}
        for clip_id, track, similarity in chunk:
            key = (clip_id, track)
            row = found.get(key)
            if row is None or key in exclude or key in shown:
                continue
            if similarity >= IDENTICAL:
                identical += 1
                continue
            shown.add(key)
            kept.append({"rank": 0, "similarity": float(similarity), **row._asdict()})
            if len(kept) == k:
                break
    frame = pd.DataFrame(kept)
    if not frame.empty:
        frame["rank"] = np.arange(1, len(frame) + 1)
    else:
        frame = pd.DataFrame(columns=["rank", "similarity", "corpus", "clip_id", "track"])
    return Similar(frame, 0, identical, method), len(kept) < k and position >= len(ranked)


def _exact(store, model_key, dim, query, where, k, exclude, method) -> Similar:
    limit = k + len(exclude) + 8
    while True:
        top = queries.exact_top(store, model_key, dim, query, where, limit)
        ranked = list(zip(top.clip_id, top.track, top.similarity.astype(float), strict=True))
        found, short = _finish(store, model_key, where, ranked, k, exclude, method)
        if not short or len(top) < limit:
            return found
        limit *= 4


def _with_index(store, model_key, dim, opened: Opened, query, where, k, exclude) -> Similar | None:
    """Candidates from the index (and exactly from the rows it lacks); None when it lacks too
    many rows to be worth using."""
    state = opened.state
    extra = []  # (clip_id, track, similarity) of the rows the index lacks
    method = "index"
    version = queries.data_version(store)
    if state.version != version:
        lacking = 0
        for ids, tracks, block in queries.embedding_batches(
            store, model_key, dim, opened.keys_file
        ):
            lacking += len(block)
            if lacking > DELTA_MAX:
                return None
            sims = unit_rows(block) @ query
            extra.extend(zip(ids.to_pylist(), tracks.to_pylist(), sims.tolist(), strict=True))
        method = f"index + exact scan of {lacking} new tracks (index being updated)"
    allowed = None
    if where != ClipFilter():
        allowed = _allowed_rows(store, model_key, where, opened, version)
    want = k + len(exclude) + 8
    while True:
        rows, sims, complete = _index_candidates(opened, query, allowed, want)
        ranked_rows = opened.keys_at(rows) if len(rows) else None
        ranked = extra[:]
        if ranked_rows is not None:
            by_row = dict(zip(rows.tolist(), sims.tolist(), strict=True))
            ranked += [(c, t, by_row[r]) for r, c, t in ranked_rows.itertuples(index=False)]
        ranked.sort(key=lambda x: (-x[2], x[0], x[1]))
        found, short = _finish(store, model_key, where, ranked, k, exclude, method)
        if not short or complete:
            return found
        want *= 4


_allowed: OrderedDict[tuple, np.ndarray] = OrderedDict()
_allowed_lock = threading.Lock()
ALLOWED_KEPT = 8  # filters whose index rows a process keeps (each at most 8 bytes per row)


def _allowed_rows(store, model_key: str, where: ClipFilter, opened: Opened,
                  version: int) -> np.ndarray:  # fmt: skip
    """The index rows a filter keeps, kept for the next search with the same filter on the same
    data: at 1.3M tracks the join that finds them took 0.4-0.6 s of a 1 s search (one role),
    and a user searching from clip to clip keeps the sidebar's filters."""
    if where.said or where.events or where.cluster is not None:
        # transcripts and projections are written without raising the data version
        return queries.allowed_rows(store, model_key, where, opened.keys_file)
    state = opened.state
    key = (str(opened.keys_file), state.generation, state.rows, state.alive, version, model_key,
           where)  # fmt: skip
    with _allowed_lock:
        if key in _allowed:
            _allowed.move_to_end(key)
            return _allowed[key]
    rows = queries.allowed_rows(store, model_key, where, opened.keys_file)
    with _allowed_lock:
        _allowed[key] = rows
        while len(_allowed) > ALLOWED_KEPT:
            _allowed.popitem(last=False)
    return rows


def _index_candidates(opened: Opened, query: np.ndarray, allowed: np.ndarray | None,
                      want: int) -> tuple[np.ndarray, np.ndarray, bool]:  # fmt: skip
    """The `want` best rows by exact cosine, among `allowed` (None: every row); `complete` when
    no row was left unconsidered (asking for more would find nothing new)."""
    vectors, n = opened.vectors, opened.state.rows
    n_allowed = n if allowed is None else len(allowed)
    probes = _probe_count(opened.state, n_allowed, want)
    if opened.ivf is None or n_allowed <= EXACT_MAX or probes >= opened.state.lists:
        # complete once every row is among the `want` (dead rows and rows deleted since the
        # last sync come out later, so the caller may need more than it asked for)
        if allowed is None:
            return (*_top(np.arange(n), scan_rows(vectors, query, n), want), want >= n)
        rows = np.sort(allowed)
        if n_allowed >= n * DENSE_MIN_SHARE:
            return (*_top(rows, scan_rows(vectors, query, n)[rows], want), want >= n_allowed)
        sims = np.empty(len(rows), np.float32)
        for lo in range(0, len(rows), 65_536):
            part = rows[lo : lo + 65_536]
            sims[lo : lo + len(part)] = vectors[part] @ query
        return (*_top(rows, sims, want), want >= n_allowed)
    rows = ivf_candidates(opened.ivf, query, probes, rescored(want), allowed, n)
    rows = np.sort(rows)
    sims = np.asarray(vectors[rows] @ query) if len(rows) else np.zeros(0, np.float32)
    return (*_top(rows, sims, want), False)


def _probe_count(state, n_allowed: int, want: int) -> int:
    """Lists to probe for `want` rows among `n_allowed`: the calibrated count per NEIGHBOURS
    results, scaled up by `want` and by how few rows the filter keeps (a probed list holds
    that share of allowed rows)."""
    share = min(1.0, n_allowed / max(state.alive, 1))  # rows counts the dead ones too
    per_result = (state.probes or 0) / NEIGHBOURS
    return math.ceil(max(want, NEIGHBOURS) * per_result / max(share, 1e-9))


def _top(rows: np.ndarray, sims: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
    if len(rows) > want:
        pick = np.argpartition(-sims, want - 1)[:want]
        rows, sims = rows[pick], sims[pick]
    order = np.argsort(-sims, kind="stable")
    return rows[order], sims[order]


# -- find by example -----------------------------------------------------------------------------


def example_embedding(store, model_key: str, path: Path, engine_loader) -> tuple[np.ndarray, dict]:
    """An audio file's embedding for a search: the stored one when the database holds this very
    file (its SHA-256) scored by the model, else scored now by `engine_loader()`'s engine, in
    memory: nothing is stored. Returns the embedding and facts (clip_id, cached, scores)."""
    import hashlib

    from core.ingest.result_folders import score_files
    from core.model.audio import probe

    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    with path.open("rb") as handle:
        clip_id = hashlib.file_digest(handle, "sha256").hexdigest()
    dim = embedding_dim(store, model_key)
    tracks = queries.tracks_of(store, model_key, clip_id)
    if tracks:
        track = "mix" if "mix" in tracks else tracks[0]
        vector = queries.embedding_of(store, model_key, dim, clip_id, track)
        if vector is not None:
            return vector, {"clip_id": clip_id, "track": track, "cached": True}
    info = probe(path)
    engine = engine_loader()
    if engine.model_key != model_key:
        raise InputError(f"the loaded model is {engine.model_key}; the results searched are "
                         f"{model_key}: pick the same model.")  # fmt: skip
    scored = score_files(engine, [(path, info)], frames=False)[0]
    scores = dict(zip(scored.prediction.labels, map(float, scored.prediction.scores), strict=True))
    return np.asarray(scored.prediction.embedding, np.float32), {
        "clip_id": clip_id, "track": "mix", "cached": False, "scores": scores,
    }  # fmt: skip
