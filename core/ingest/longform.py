"""Long recordings: stream, score in overlapping windows, merge frame curves without seams.

A recording is read as a stream and cut into windows of 30 s every 25 s (5 s overlap). Each
window is scored with full context; frames in an overlap are taken from the window whose centre
is nearer (the cut sits at the overlap's midpoint), so every frame keeps at least 2.5 s of context
on both sides and the merged curve has exactly the frames of an unwindowed pass. Memory is one
window group plus the merged curve (9 floats per 20 ms), whatever the recording's length.

Each window's own share of the curve is a segment with its 9 scores. The recording's scores are
the duration-weighted aggregate in logit space: softmax of the mean frame logit over the whole
recording, the same identity that makes a short clip's score the mean of its frame logits.

A window whose samples repeat one of the last few windows exactly (dead air: a hold in digital
silence, a file padded with zeros) takes that window's output instead of a forward pass; the
model's answer to the same samples is the same, and two hours of silence cost one window.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from core.model.engine import HOP_MS, SAMPLE_RATE_HZ, Engine, softmax

WINDOW_S = 30.0
OVERLAP_S = 5.0
WINDOWS_PER_FORWARD = 4  # equal-length windows batch without padding
_HOP_SAMPLES = 320  # one 20 ms frame; window starts stay on the frame grid
REPEATS_KEPT = 4  # distinct windows remembered: a run of dead air repeats the last one


@dataclass(frozen=True)
class Segment:
    """One window's share of a long recording."""

    index: int
    start_s: float
    end_s: float
    scores: np.ndarray  # (9,)


@dataclass(frozen=True)
class LongResult:
    """A long recording's merged result."""

    scores: np.ndarray  # (9,) softmax of the mean frame logit
    embedding: np.ndarray  # (D,) mean frame embedding
    frame_logits: np.ndarray  # (T, 9) whole recording, 20 ms frames
    segments: tuple[Segment, ...]


def windows(
    chunks: Iterable[np.ndarray], window: int, hop: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(start sample, samples) windows of `window` samples every `hop` samples from a stream.

    The last window holds the remainder (shorter than `window`), and is skipped when every one
    of its samples was already inside the previous window.
    """
    buffer: np.ndarray | None = None
    start = 0
    for chunk in chunks:
        buffer = chunk if buffer is None else np.concatenate([buffer, chunk], axis=-1)
        while buffer.shape[-1] >= window:
            yield start, buffer[..., :window]
            buffer = buffer[..., hop:]
            start += hop
    if buffer is not None and (start == 0 or buffer.shape[-1] > window - hop):
        yield start, buffer


class _Merger:
    """Collects windows in order and keeps each frame from the window nearest its centre."""

    def __init__(self, dim: int):
        self.logits: list[np.ndarray] = []
        self.embedding_sum = np.zeros(dim, np.float64)
        self.segments: list[Segment] = []
        self.cursor = 0  # next global frame to emit
        self.pending: tuple[int, np.ndarray, np.ndarray] | None = None

    def add(self, offset: int, logits: np.ndarray, embeddings: np.ndarray) -> None:
        if self.pending is not None:
            previous_offset, previous_logits, _ = self.pending
            self._emit(cut=(offset + previous_offset + len(previous_logits)) // 2)
        self.pending = (offset, logits, embeddings)

    def finish(self) -> LongResult:
        offset, logits, _ = self.pending
        self._emit(cut=offset + len(logits))
        frame_logits = np.concatenate(self.logits)
        return LongResult(
            scores=softmax(frame_logits.mean(axis=0)),
            embedding=(self.embedding_sum / len(frame_logits)).astype(np.float32),
            frame_logits=frame_logits,
            segments=tuple(self.segments),
        )

    def _emit(self, cut: int) -> None:
        offset, logits, embeddings = self.pending
        local = slice(self.cursor - offset, cut - offset)
        taken = logits[local]
        self.logits.append(taken)
        self.embedding_sum += embeddings[local].sum(axis=0, dtype=np.float64)
        seconds = HOP_MS / 1000
        self.segments.append(Segment(len(self.segments), self.cursor * seconds, cut * seconds,
                                     softmax(taken.mean(axis=0))))  # fmt: skip
        self.cursor = cut


class _Repeats:
    """The model's output for the last few distinct windows, by their samples."""

    def __init__(self, kept: int = REPEATS_KEPT):
        self.kept = kept
        self.outputs: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    @staticmethod
    def key(samples: np.ndarray) -> bytes:
        data = np.ascontiguousarray(samples)
        return hashlib.blake2b(data.view(np.uint8), digest_size=16).digest() + bytes(
            str(data.shape), "ascii"
        )

    def score(self, engine: Engine, group: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(frame logits, frame embeddings) of each window; only unseen ones reach the model."""
        keys = [self.key(w) for w in group]
        unseen = {k: w for k, w in zip(keys, group, strict=True) if k not in self.outputs}
        predictions = engine.predict(list(unseen.values()), frames=True) if unseen else []
        for k, p in zip(unseen, predictions, strict=True):
            self.outputs[k] = (p.frame_logits, p.frame_embeddings)
        found = [self.outputs[k] for k in keys]
        for k in keys:
            self.outputs.move_to_end(k)
        while len(self.outputs) > self.kept:
            self.outputs.popitem(last=False)
        return found


def score_long(
    engine: Engine,
    chunks: Iterable[np.ndarray],
    on_window: Callable[[float], None] | None = None,
) -> LongResult:
    """Score a mono 16 kHz stream of any length in overlapping windows (see module doc)."""
    window = int(WINDOW_S * SAMPLE_RATE_HZ)
    hop = int((WINDOW_S - OVERLAP_S) * SAMPLE_RATE_HZ) // _HOP_SAMPLES * _HOP_SAMPLES
    merger = _Merger(engine.embedding_dim)
    repeats = _Repeats()
    group: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        outputs = repeats.score(engine, [w for _, w in group])
        for (start, _), (logits, embeddings) in zip(group, outputs, strict=True):
            merger.add(start // _HOP_SAMPLES, logits, embeddings)
            if on_window:
                on_window(start / SAMPLE_RATE_HZ)
        group.clear()

    for start, samples in windows(chunks, window, hop):
        group.append((start, samples))
        if len(group) == WINDOWS_PER_FORWARD:
            flush()
    if group:
        flush()
    return merger.finish()
