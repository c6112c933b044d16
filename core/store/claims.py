"""Claims on tracks being scored, so concurrent ingests of the same files score each one once.

Before it runs the model on a batch, an ingest claims the batch's tracks in one write
transaction. DuckDB lets one process write at a time, so two ingests that start together still
claim in turn: the first gets every track, the second gets none of those and waits until they
are stored, then counts them as cached. Waits only ever point at earlier claims, so two runs
never wait for each other.

A claim lapses when its run is no longer 'running' (finished, or marked interrupted because its
process is gone: core.store.ingest_runs) or after CLAIM_TTL_S, which covers a run killed on another
host of a shared database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.store.batches import cached_tracks_in
from core.store.ingest_runs import mark_interrupted_runs

CLAIM_TTL_S = 3600

Track = tuple[str, str]  # (clip_id, track)


@dataclass(frozen=True)
class Claim:
    """What a claim attempt found for the tracks asked for."""

    done: frozenset[Track]  # already stored by this model: nothing to do
    mine: frozenset[Track]  # claimed by this run now: score them
    held: frozenset[Track]  # being scored by another live run: wait for them


_LIVE_CLAIMS = f"""
    SELECT c.clip_id, c.track, c.run_id FROM score_claims c
    JOIN ingest_runs r USING (run_id)
    WHERE c.model_key = ? AND r.status = 'running'
      AND c.claimed_at > current_timestamp - INTERVAL {CLAIM_TTL_S} SECOND
      AND c.clip_id IN (SELECT unnest(?::VARCHAR[]))
"""


def claim_tracks(store, run_id: int, model_key: str, tracks: Sequence[Track],
                 frames: bool) -> Claim:  # fmt: skip
    """Claim tracks for scoring, in one transaction with the check of what is stored."""
    with store.writing(changes_results=False) as con:
        mark_interrupted_runs(con)  # a dead run's claims lapse at once
        done = cached_tracks_in(con, model_key, sorted({c for c, _ in tracks}), frames)
        return claim_in(con, run_id, model_key, tracks, done)


def held_tracks(store, run_id: int, model_key: str, tracks: Sequence[Track]) -> set[Track]:
    """Which of `tracks` another live ingest still holds a claim on."""
    with store.reading() as con:
        return still_held(con, run_id, model_key, tracks)


def claim_in(con, run_id: int, model_key: str, tracks: Sequence[Track], done: set[Track]) -> Claim:
    """Claim `tracks` not in `done` and not held by another live run, inside the caller's
    transaction; `done` is what the same transaction found already stored."""
    ids = sorted({c for c, _ in tracks})
    held = {(c, t) for c, t, owner in con.execute(_LIVE_CLAIMS, [model_key, ids]).fetchall()
            if owner != run_id}  # fmt: skip
    wanted = [(c, t) for c, t in tracks if (c, t) not in done and (c, t) not in held]
    if wanted:
        # A lapsed claim on a wanted track is replaced by this run's.
        con.execute(
            "INSERT INTO score_claims (clip_id, track, model_key, run_id)"
            " SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), ?, ?"
            " ON CONFLICT DO UPDATE SET run_id = excluded.run_id, claimed_at = now()::TIMESTAMP",
            [[c for c, _ in wanted], [t for _, t in wanted], model_key, run_id],
        )
    return Claim(
        done=frozenset(t for t in tracks if t in done),
        mine=frozenset(wanted),
        held=frozenset(t for t in tracks if t in held and t not in done),
    )


def still_held(con, run_id: int, model_key: str, tracks: Sequence[Track]) -> set[Track]:
    """Which of `tracks` another live run still holds (read-only: for polling while waiting)."""
    ids = sorted({c for c, _ in tracks})
    rows = con.execute(_LIVE_CLAIMS, [model_key, ids]).fetchall()
    wanted = set(tracks)
    return {(c, t) for c, t, owner in rows if owner != run_id and (c, t) in wanted}
