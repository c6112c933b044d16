"""`ingest --transcribe`: what was said in each track, after the emotion scores are stored.

A pass of its own over the same inputs, so the emotion ingest is unchanged: each file is hashed
again (its content id), tracks already transcribed with these ASR settings are skipped (the cache:
adding --transcribe to a scored corpus transcribes only), short files are decoded whole and their
tracks transcribed together in batches, long ones are streamed in windows (bounded memory).

Each segment carries emotion2vec's scores over its span: the mean of the stored frame scores when
the track has a frame curve, else emotion2vec run on the segment's audio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.ingest.reading import read_file, track_names, tracks_of
from core.model.audio import AudioStream, decode, probe
from core.model.engine import HOP_MS, Engine, softmax
from core.model.transcribe import Transcriber
from core.model.transcript import TranscriptSegment
from core.store import transcripts
from core.store.curves import read_frame_logits
from core.store.transcripts import SegmentRow

log = logging.getLogger(__name__)

GROUP_TRACKS = 32  # short tracks transcribed together (their utterances batched)

ProgressFn = Callable[[int, int, float], None]  # files done, files, seconds of audio


@dataclass
class TranscribeSummary:
    transcribed: int = 0  # tracks transcribed now
    cached: int = 0  # tracks already transcribed with these settings
    segments: int = 0
    failed: list[str] = field(default_factory=list)
    seconds_audio: float = 0.0

    def as_dict(self) -> dict:
        return {"tracks_transcribed": self.transcribed, "tracks_cached": self.cached,
                "segments": self.segments, "failed": list(self.failed),
                "seconds_transcribed": round(self.seconds_audio, 3)}  # fmt: skip


def span_scores(frame_logits: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Mean of the frame scores (softmax per 20 ms frame) over [start_s, end_s)."""
    hop = HOP_MS / 1000
    a = min(int(start_s / hop), len(frame_logits) - 1)
    b = max(a + 1, min(int(np.ceil(end_s / hop)), len(frame_logits)))
    return softmax(frame_logits[a:b]).mean(axis=0)


def rows_of(segments: Sequence[TranscriptSegment], engine: Engine | None,
            frame_logits: np.ndarray | None) -> list[SegmentRow]:  # fmt: skip
    """Segments as rows to store, each with emotion2vec's scores over its span."""
    rows = []
    for s in sorted(segments, key=lambda s: s.start_s):
        scores = s.scores
        if frame_logits is not None and len(frame_logits):
            scores = span_scores(frame_logits, s.start_s, s.end_s)
        top = confidence = None
        if scores is not None and engine is not None:
            top, confidence = engine.labels[int(np.argmax(scores))], float(np.max(scores))
        rows.append(
            SegmentRow(
                start_s=s.start_s, end_s=s.end_s, text=s.text, language=s.language,
                emotion=s.emotion, events=s.events,
                words=tuple((w.text, w.start_s, w.end_s) for w in s.words),
                scores=None if scores is None else tuple(float(x) for x in scores),
                top_label=top, confidence=confidence,
            )
        )  # fmt: skip
    return rows


def segment_documents(transcriber: Transcriber, engine: Engine, path) -> list[dict]:
    """One file's transcript (channel mix, streamed) as JSON-ready lines for result.json, each
    with emotion2vec's scores on the line's audio."""

    def score(_tracks, pieces):
        return [p.scores for p in engine.predict(pieces)]

    segments = transcriber.transcribe_stream(
        (chunk for chunk in AudioStream(path)), [("mix", None)], score=score
    )
    return [
        {"start_s": r.start_s, "end_s": r.end_s, "text": r.text, "language": r.language,
         "emotion": r.emotion, "events": list(r.events),
         "words": [{"word": w, "start_s": a, "end_s": b} for w, a, b in r.words],
         "top_emotion": r.top_label, "confidence": r.confidence,
         "scores": dict(zip(engine.labels, r.scores or (), strict=False))}
        for r in rows_of(segments, engine, None)
    ]  # fmt: skip


class _Pass:
    def __init__(self, store, transcriber: Transcriber, engine: Engine | None):
        self.store, self.transcriber, self.engine = store, transcriber, engine
        self.model_key = engine.model_key if engine is not None else None
        self.summary = TranscribeSummary()
        self.pending: list[tuple[str, str, np.ndarray]] = []  # clip_id, track, wave

    def curve(self, clip_id: str, track: str) -> np.ndarray | None:
        if self.model_key is None:
            return None
        return read_frame_logits(self.store, clip_id, self.model_key, track)

    def score_hook(self, need: set[str]):
        """emotion2vec on the segments of the labelled tracks in `need` (no stored curve)."""
        if self.engine is None or not need:
            return None

        def score(labels: list[str], pieces: list[np.ndarray]) -> list[np.ndarray | None]:
            wanted = [i for i, label in enumerate(labels) if label in need]
            out: list[np.ndarray | None] = [None] * len(pieces)
            predictions = self.engine.predict([pieces[i] for i in wanted])
            for i, p in zip(wanted, predictions, strict=True):
                out[i] = p.scores
            return out

        return score

    def flush(self) -> None:
        if not self.pending:
            return
        labels = [f"{i}" for i in range(len(self.pending))]
        curves = {
            lab: self.curve(c, t) for lab, (c, t, _) in zip(labels, self.pending, strict=True)
        }
        need = {lab for lab, curve in curves.items() if curve is None}
        segments = self.transcriber.transcribe(
            [(lab, wave) for lab, (_, _, wave) in zip(labels, self.pending, strict=True)],
            score=self.score_hook(need),
        )
        by_label: dict[str, list[TranscriptSegment]] = {lab: [] for lab in labels}
        for s in segments:
            by_label[s.track].append(s)
        tracks = [
            (clip_id, track, rows_of(by_label[lab], self.engine, curves[lab]))
            for lab, (clip_id, track, _) in zip(labels, self.pending, strict=True)
        ]
        self.summary.segments += transcripts.write(
            self.store, self.transcriber.settings_key, self.model_key, tracks
        )
        self.summary.transcribed += len(tracks)
        self.pending = []

    def long(self, read, clip_id: str, names: list[str], todo: list[str], channels: int) -> None:
        index = {name: (None if name == "mix" else i) for i, name in enumerate(names)}
        curves = {t: self.curve(clip_id, t) for t in todo}
        segments = self.transcriber.transcribe_stream(
            AudioStream(read.source, read.item.name), [(t, index[t]) for t in todo],
            score=self.score_hook({t for t, c in curves.items() if c is None}),
        )  # fmt: skip
        tracks = [
            (clip_id, t, rows_of([s for s in segments if s.track == t], self.engine, curves[t]))
            for t in todo
        ]
        self.summary.segments += transcripts.write(
            self.store, self.transcriber.settings_key, self.model_key, tracks
        )
        self.summary.transcribed += len(tracks)


def transcribe_inputs(
    store,
    transcriber: Transcriber,
    engine: Engine | None,
    inputs: Sequence,
    channel_mode: str = "mix",
    roles: tuple[str, ...] = (),
    on_progress: ProgressFn | None = None,
) -> TranscribeSummary:
    """Transcribe every track of `inputs` not yet transcribed with these settings."""
    from core.model.transcribe import WINDOW_S

    work = _Pass(store, transcriber, engine)
    summary = work.summary
    for n, item in enumerate(inputs, start=1):
        read = read_file(item)
        try:
            if read.error:
                raise ValueError(read.error)
            info = probe(read.source, item.name)
            names = track_names(info.channels, channel_mode, roles)
            done = transcripts.done_tracks(
                store, transcriber.settings_key, [(read.clip_id, t) for t in names]
            )
            todo = [t for t in names if (read.clip_id, t) not in done]
            summary.cached += len(names) - len(todo)
            if todo:
                if info.duration_s > WINDOW_S:
                    work.long(read, read.clip_id, names, todo, info.channels)
                else:
                    audio = decode(read.source, item.name)
                    for track, wave in tracks_of(audio, channel_mode, roles):
                        if track in todo:
                            work.pending.append((read.clip_id, track, wave))
                summary.seconds_audio += info.duration_s * len(todo)
            if len(work.pending) >= GROUP_TRACKS:
                work.flush()
        except Exception as exc:  # one bad file never stops the others (the ingest said why)
            log.warning("transcription of %s failed: %s", item.name, exc)
            summary.failed.append(f"{item.name}: {exc}")
        if on_progress:
            on_progress(n, len(inputs), summary.seconds_audio)
    work.flush()
    return summary
