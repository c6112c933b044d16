"""How long the Overview page's queries take on a large synthetic database.

    python bench/overview_scale.py --clips 1000000 --db /tmp/overview/scale.duckdb

Fills the real schema (created by Store.initialise) with numpy -> Arrow -> DuckDB: N recordings
spread over 400 agents and 52 weeks, 10% of them split into two tracks (agent, customer), 2% of
them in a second corpus as well, 1% undated and 1% without an agent. Then times, on fresh
short-lived connections as the dashboard uses them, core.analysis.overview.overview() for each period and
with sidebar filters, plus the Store reads every results page makes (models, corpora, filter
options). Prints a Markdown table; the numbers are best of --repeat runs.

The unfiltered Overview sums the day rollup (core.store.rollup) and counts only the 2% of recordings
held by both corpora from their tracks; a confidence filter makes it count every track.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.analysis.overview import overview
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter
from core.store import rollup
from core.store.corpora import list_corpora
from core.store.database import Store
from core.store.filters import filter_options
from core.store.models import list_models, register_model
from core.store.query import read_frame

MODEL = "emotion2vec_plus_large@synthetic"
START = datetime(2025, 1, 6)  # a Monday


def fill(path: Path, n_clips: int, n_agents: int = 400, weeks: int = 52, seed: int = 0) -> Store:
    """A database of `n_clips` synthetic recordings in the real schema; returns its Store."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    path.unlink(missing_ok=True)
    store = Store(path)
    store.initialise()
    register_model(store, MODEL, "emotion2vec_plus_large", "synthetic", 1024, False)
    ids = np.frombuffer(rng.bytes(32 * n_clips), dtype="S32")
    clip_id = np.array([b.hex() for b in ids.tolist()], dtype=object)
    seconds = rng.integers(0, weeks * 7 * 86_400, n_clips)
    recorded = np.datetime64(START, "s") + seconds.astype("timedelta64[s]")
    agent = np.array([f"agent{i:03d}" for i in range(n_agents)], dtype=object)[
        rng.integers(0, n_agents, n_clips)
    ]
    clips = pa.table({
        "corpus_id": np.ones(n_clips, np.int32), "clip_id": clip_id,
        "source_name": clip_id, "duration_s": rng.uniform(5, 900, n_clips),
        "source_rate_hz": np.full(n_clips, 8000, np.int32), "channels": np.ones(n_clips, np.int32),
        "codec": np.full(n_clips, "pcm_s16le", object), "size_bytes": np.full(n_clips, 1, np.int64),
        "agent": pa.array(agent, mask=rng.random(n_clips) < 0.01),
        "recorded_at": pa.array(recorded, mask=rng.random(n_clips) < 0.01),
    })  # fmt: skip
    split = rng.random(n_clips) < 0.10
    track_ids = np.concatenate([clip_id[~split], clip_id[split], clip_id[split]])
    tracks = np.concatenate([np.full((~split).sum(), "mix", object),
                             np.full(split.sum(), "agent", object),
                             np.full(split.sum(), "customer", object)])  # fmt: skip
    scores = rng.dirichlet(np.full(len(EMOTIONS), 0.6), len(track_ids)).astype(np.float32)
    top = scores.argmax(axis=1)
    predictions = pa.table({
        "clip_id": track_ids, "track": tracks, "model_key": np.full(len(track_ids), MODEL, object),
        **{c: scores[:, i] for i, c in enumerate(SCORE_COLUMNS)},
        "top_label": np.array(EMOTIONS, dtype=object)[top], "confidence": scores.max(axis=1),
    })  # fmt: skip
    columns = ", ".join(clips.column_names)
    with store.writing() as con:
        con.execute("INSERT INTO corpora (corpus_id, name) VALUES (1, 'calls'), (2, 'audit')")
        con.register("clips_arrow", clips)
        con.execute(f"INSERT INTO clips ({columns}) SELECT {columns} FROM clips_arrow")
        con.execute(  # 2% of the recordings are in the second corpus too
            f"INSERT INTO clips ({columns}) SELECT 2 AS corpus_id, * EXCLUDE (corpus_id)"
            f" FROM clips_arrow USING SAMPLE 2 PERCENT (bernoulli, {seed})"
        )
        con.register("predictions_arrow", predictions)
        names = ", ".join(predictions.column_names)
        con.execute(f"INSERT INTO predictions ({names}) SELECT {names} FROM predictions_arrow")
        rollup.rebuild(con)  # as the end of an ingest run does (core.store.ingest_runs.finish_run)
    return store


def best_of(repeat: int, action) -> tuple[float, float]:
    """Best wall-clock seconds and best CPU seconds (all threads) over `repeat` runs.

    CPU seconds are reported too because the benchmark machine is shared: under load the wall
    clock mostly measures the neighbours.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/overview/scale.duckdb"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="time an existing --db as it is")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    store = Store(args.db) if args.reuse else fill(args.db, args.clips)
    print(f"database ready in {time.perf_counter() - start:.1f} s: {args.db}")
    facts = read_frame(
        store,
        "SELECT (SELECT count(*) FROM clips) AS clip_rows, (SELECT count(DISTINCT clip_id) FROM"
        " clips) AS recordings, (SELECT count(*) FROM predictions) AS tracks",
    ).iloc[0]
    print(
        f"{facts.clip_rows:,} clip rows, {facts.recordings:,} recordings, {facts.tracks:,} tracks"
    )
    agent = filter_options(store)["agents"][0]
    cases = {
        "overview, week": lambda: overview(store, MODEL, ClipFilter(), "week"),
        # A filter the day rollup does not keep: every track is counted, as before the rollup.
        "overview, week, counted from the tracks (confidence >= 0.01)": lambda: overview(
            store, MODEL, ClipFilter(min_confidence=0.01), "week"
        ),
        "overview, day": lambda: overview(store, MODEL, ClipFilter(), "day"),
        "overview, month": lambda: overview(store, MODEL, ClipFilter(), "month"),
        "overview, week, corpus 'calls'": lambda: overview(
            store, MODEL, ClipFilter(corpora=("calls",)), "week"
        ),
        f"overview, week, agent {agent}": lambda: overview(
            store, MODEL, ClipFilter(agents=(agent,)), "week"
        ),
        "sidebar: models()": lambda: list_models(store),
        "sidebar: corpora()": lambda: list_corpora(store),
        "sidebar: filter_options()": lambda: filter_options(store),
    }
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"\n| query | wall, best of {args.repeat} (s) | CPU, best of {args.repeat} (s) |")
    print("|---|---|---|")
    total = {}
    for name, action in cases.items():
        total[name] = best_of(args.repeat, action)
        print(f"| {name} | {total[name][0]:.3f} | {total[name][1]:.3f} |")
    page = [k for k in total if k == "overview, week" or k.startswith("sidebar")]
    wall, cpu = (sum(total[k][i] for k in page) for i in (0, 1))
    print(f"| **page total (overview, week + sidebar reads)** | **{wall:.3f}** | **{cpu:.3f}** |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    flagged = overview(store, MODEL, ClipFilter(), "week").shifts.flagged.sum()
    print(f"\nflagged shifts on random data (expected ~1% of tested pairs): {flagged}")


if __name__ == "__main__":
    main()
