"""Concurrent ingests of the same files run the model once per file (#14 item 10)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb

from core.ingest.pipeline import ingest
from core.ingest.sources import collect
from core.store.claims import CLAIM_TTL_S, claim_tracks, held_tracks
from core.store.database import Store
from core.store.ingest_runs import finish_run, start_run
from core.store.integrity import integrity_report
from core.store.models import register_model
from tests.conftest import make_corpus
from tests.ingest.test_ingest import CountingEngine
from tests.store.test_runs import open_run_in_a_process

ROOT = Path(__file__).resolve().parents[2]
TRACKS = [("c1", "mix"), ("c2", "mix"), ("c3", "mix")]


def runs(store: Store, n: int) -> list[int]:
    register_model(store, "m@1", "m", "1", 4, untrained=True)
    return [start_run(store, "calls", "m@1", 3) for _ in range(n)]


def test_a_second_run_gets_no_track_the_first_holds(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    first, second = runs(store, 2)
    got = claim_tracks(store, first, "m@1", TRACKS[:2], frames=False)
    assert (got.mine, got.held, got.done) == (frozenset(TRACKS[:2]), frozenset(), frozenset())
    other = claim_tracks(store, second, "m@1", TRACKS, frames=False)
    assert other.mine == {("c3", "mix")}
    assert other.held == set(TRACKS[:2])
    assert held_tracks(store, second, "m@1", TRACKS) == set(TRACKS[:2])
    assert held_tracks(store, first, "m@1", TRACKS) == {("c3", "mix")}
    # The same run claiming again keeps what it holds.
    assert claim_tracks(store, first, "m@1", TRACKS[:2], frames=False).mine == set(TRACKS[:2])


def test_claims_lapse_when_their_run_ends(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    first, second = runs(store, 2)
    claim_tracks(store, first, "m@1", TRACKS, frames=False)
    finish_run(store, first, "interrupted")
    assert held_tracks(store, second, "m@1", TRACKS) == set()
    assert claim_tracks(store, second, "m@1", TRACKS, frames=False).mine == set(TRACKS)


def test_a_killed_runs_claims_lapse_at_the_next_claim(tmp_path):
    db = tmp_path / "db.duckdb"
    killed, killed_run = open_run_in_a_process(db)
    store = Store(db)
    claim_tracks(store, killed_run, "m@1", TRACKS, frames=False)
    killed.kill()
    killed.wait()
    (mine,) = runs(store, 1)
    assert claim_tracks(store, mine, "m@1", TRACKS, frames=False).mine == set(TRACKS)


def test_claims_older_than_the_ttl_lapse(tmp_path):
    db = tmp_path / "db.duckdb"
    store = Store(db)
    first, second = runs(store, 2)
    claim_tracks(store, first, "m@1", TRACKS, frames=False)
    con = duckdb.connect(str(db))  # a run of another host, killed an hour ago, still 'running'
    con.execute(
        f"UPDATE score_claims SET claimed_at = claimed_at - INTERVAL {CLAIM_TTL_S + 1} SECOND"
    )
    con.close()
    assert claim_tracks(store, second, "m@1", TRACKS, frames=False).mine == set(TRACKS)


class BlockedEngine(CountingEngine):
    """The real engine, holding its first batch until told to go on."""

    def __init__(self, engine):
        super().__init__(engine)
        self.scoring, self.go_on = threading.Event(), threading.Event()

    def predict(self, waves, **kwargs):
        self.scoring.set()
        assert self.go_on.wait(120)
        return super().predict(waves, **kwargs)


def test_an_ingest_waits_for_tracks_another_is_scoring_and_scores_none_twice(tmp_path, engine):
    corpus = make_corpus(tmp_path / "c", agents=("ann", "bob"), per_agent=3)
    first_engine, second_engine = BlockedEngine(engine), CountingEngine(engine)
    results = {}
    # One Store shared by two threads, as two upload sessions of the dashboard share it; two
    # processes are the next test.
    store = Store(tmp_path / "db.duckdb")
    first = threading.Thread(target=lambda: results.update(
        first=ingest(store, first_engine, collect([corpus]), "a")))  # fmt: skip
    first.start()
    assert first_engine.scoring.wait(120)  # claimed, scoring, nothing committed yet
    second = threading.Thread(target=lambda: results.update(
        second=ingest(store, second_engine, collect([corpus]), "b")))  # fmt: skip
    second.start()
    second.join(1.0)
    assert second.is_alive()  # waiting for the first run's tracks
    first_engine.go_on.set()
    first.join(120)
    second.join(120)
    assert (first_engine.clips_scored, second_engine.clips_scored) == (6, 0)
    assert (results["first"].scored, results["second"].scored) == (6, 0)
    assert results["second"].cached == 6
    assert all(
        "scored meanwhile by another ingest" in o.message for o in results["second"].outcomes
    )
    assert set(integrity_report(store).values()) == {0}
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM score_claims").fetchone() == (0,)  # all released
    con.close()


def test_two_cli_ingests_started_together_score_each_file_once(tmp_path, tiny_model_dir):
    corpus = make_corpus(tmp_path / "c", agents=("ann", "bob", "cy"), per_agent=4)
    db = tmp_path / "db.duckdb"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "EMOSCOPE_DB": str(db)}
    command = [sys.executable, "-m", "core", "ingest", str(corpus), "--model",
               str(tiny_model_dir), "--json", "--corpus"]  # fmt: skip
    children = [subprocess.Popen([*command, name], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for name in ("a", "b")]  # fmt: skip
    for child in children:
        _, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
    con = duckdb.connect(str(db), read_only=True)
    scored = con.execute(
        "SELECT clip_id, count(*) FROM ingest_files WHERE status = 'scored' GROUP BY clip_id"
    ).fetchall()
    in_both = con.execute(
        "SELECT count(DISTINCT clip_id) FROM clips GROUP BY corpus_id ORDER BY corpus_id"
    ).fetchall()
    con.close()
    assert len(scored) == 12 and {n for _, n in scored} == {1}
    assert in_both == [(12,), (12,)]
