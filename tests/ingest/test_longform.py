import itertools

import numpy as np
import pytest
import soundfile as sf

from core.ingest.longform import score_long, windows
from core.ingest.pipeline import LONG_FROM_S, ingest
from core.ingest.sources import collect
from core.model.engine import frame_count, softmax
from core.store.clips import select_clips
from core.store.curves import read_frame_logits, read_segments
from core.store.database import Store
from core.store.integrity import integrity_report
from tests.conftest import speechlike


def chunked(wave: np.ndarray, size: int = 4096):
    return (wave[i : i + size] for i in range(0, len(wave), size))


def test_windows_cover_the_stream_with_overlap():
    stream = chunked(np.arange(100, dtype=np.float32), 7)
    got = [(start, w[0], w[-1], len(w)) for start, w in windows(stream, 30, 25)]
    assert got == [(0, 0, 29, 30), (25, 25, 54, 30), (50, 50, 79, 30), (75, 75, 99, 25)]
    # A remainder already inside the previous window is not scored again.
    assert [s for s, _ in windows(chunked(np.zeros(55), 10), 30, 25)] == [0, 25]
    assert [len(w) for _, w in windows(chunked(np.zeros(12), 5), 30, 25)] == [12]


@pytest.fixture(scope="module")
def long_wave():
    return speechlike(75.0, seed=3)


def test_long_recording_merges_without_seams(engine, long_wave):
    result = score_long(engine, chunked(long_wave))
    assert result.frame_logits.shape == (frame_count(len(long_wave)), 9)
    np.testing.assert_allclose(result.scores, softmax(result.frame_logits.mean(axis=0)), atol=1e-6)
    # Segments tile the recording: each starts where the previous one ends.
    bounds = [(s.start_s, s.end_s) for s in result.segments]
    assert bounds[0][0] == 0 and bounds[-1][1] == pytest.approx(len(result.frame_logits) * 0.02)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert len(bounds) == 3
    # No seam: the curve's jump at a cut is no larger than its ordinary frame-to-frame changes.
    jumps = np.abs(np.diff(result.frame_logits, axis=0)).max(axis=1)
    ordinary = np.percentile(jumps, 99)
    for seg in result.segments[:-1]:
        assert jumps[round(seg.end_s / 0.02) - 1] <= ordinary
    # And it agrees with one unwindowed pass of the same audio.
    whole = engine.predict([long_wave], frames=True)[0]
    np.testing.assert_allclose(result.scores, whole.scores, atol=1e-3)
    assert np.abs(result.frame_logits - whole.frame_logits).mean() < 0.01


class CountingEngine:
    """The real engine, counting the windows that reach the model."""

    def __init__(self, engine):
        self.engine, self.windows = engine, 0
        self.embedding_dim = engine.embedding_dim

    def predict(self, waves, frames=False):
        self.windows += len(waves)
        return self.engine.predict(waves, frames=frames)


def test_dead_air_reaches_the_model_once_and_scores_as_every_window(engine, long_wave):
    # 5 s of speech, 4 min of digital silence, 5 s of speech: the silent windows repeat.
    silence = np.zeros(240 * 16_000, np.float32)
    wave = np.concatenate([long_wave[: 5 * 16_000], silence, long_wave[5 * 16_000 : 10 * 16_000]])
    counting = CountingEngine(engine)
    result = score_long(counting, chunked(wave))
    starts = [start for start, _ in windows(chunked(wave), 30 * 16_000, 25 * 16_000)]
    # Ten windows: speech then silence, eight of silence alone (one forward), silence then speech.
    assert len(starts) == 10 and counting.windows == 3
    # Each window's share of the curve is what a forward pass of that window gives.
    every = [
        engine.predict([w], frames=True)[0] for _, w in windows(chunked(wave), 480_000, 400_000)
    ]
    assert result.frame_logits.shape == (frame_count(len(wave)), 9)
    for index, (start, p) in enumerate(zip(starts, every, strict=True)):
        frame = start // 320
        segment = result.segments[index]
        first, last = round(segment.start_s / 0.02), round(segment.end_s / 0.02)
        np.testing.assert_allclose(result.frame_logits[first:last],
                                   p.frame_logits[first - frame : last - frame], atol=1e-5)  # fmt: skip


def test_long_stereo_recording_is_ingested_in_segments(tmp_path, engine):
    seconds = 2 * LONG_FROM_S + 10
    stereo = np.stack([speechlike(seconds, 1), speechlike(seconds, 2)], axis=1)
    sf.write(tmp_path / "call.flac", stereo, 16_000)
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(
        store, engine, collect([tmp_path / "call.flac"]), "calls", channel_mode="split", frames=True
    )
    assert (summary.scored, summary.failed) == (1, 0)
    clips = select_clips(store, engine.model_key)
    assert sorted(clips.track) == ["ch0", "ch1"]
    assert clips.duration_s.iloc[0] == pytest.approx(seconds)
    segments = read_segments(store, clips.clip_id.iloc[0], engine.model_key, "ch1")
    assert len(segments) == 5 and segments.end_s.iloc[-1] == pytest.approx(seconds, abs=0.03)
    logits = read_frame_logits(store, clips.clip_id.iloc[0], engine.model_key, "ch0")
    assert logits.shape[0] == frame_count(int(seconds * 16_000))
    assert set(integrity_report(store).values()) == {0}
    again = ingest(
        store, engine, collect([tmp_path / "call.flac"]), "calls", channel_mode="split", frames=True
    )
    assert again.cached == 1
