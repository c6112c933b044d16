"""One upload scored for an HTTP answer: the old demo's /api/predict, cache first.

`Predictor` holds a loaded Engine behind a BatchQueue (concurrent requests are scored together),
a small in-memory cache of recent answers, and the database's inference cache. Nothing is written
here: storing a result in a corpus is the ingest pipeline's job (the caller runs it first when a
corpus is named, and this then answers from what it stored).
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.ingest.reading import clip_id_of
from core.ingest.result_folders import document
from core.model.audio import AudioInfo, decode
from core.model.batching import BatchQueue
from core.model.engine import HOP_MS, Engine, Prediction, softmax
from core.store import cache
from core.store.curves import read_frame_logits

GRANULARITIES = ("utterance", "frame")
MEMORY_ENTRIES = 512


@dataclass(frozen=True)
class Answer:
    """A scored upload: the JSON document and whether the model had to run."""

    document: dict
    cached: bool


class Predictor:
    """Scores single uploads for many concurrent callers with one shared Engine."""

    def __init__(self, engine: Engine, store=None, max_batch: int = 16):
        self.engine, self.store = engine, store
        self.queue = BatchQueue(engine, max_batch=max_batch)
        self._memory: OrderedDict[str, Prediction] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.queue.close()

    def predict(self, name: str, data: bytes, granularity: str = "utterance",
                embedding: bool = False) -> Answer:  # fmt: skip
        """Score `data` (any supported format); InputError or AudioError for bad input."""
        if granularity not in GRANULARITIES:
            raise InputError(f"granularity {granularity!r}: choose utterance or frame.")
        frames = granularity == "frame"
        clip_id = clip_id_of(data)
        decoded = decode(data, name)  # refuses damaged or non-audio files with one line
        prediction, cached = self._cached(clip_id, frames), True
        if prediction is None:
            prediction, cached = self._score(decoded.mono, frames), False
            self._remember(clip_id, prediction)
        return Answer(self.document(name, decoded.info, prediction, granularity, embedding),
                      cached)  # fmt: skip

    def _cached(self, clip_id: str, frames: bool) -> Prediction | None:
        with self._lock:
            hit = self._memory.get(clip_id)
            if hit is not None and (hit.frame_logits is not None or not frames):
                self._memory.move_to_end(clip_id)
                return hit
        if self.store is None or not self.store.path.exists():
            return None
        stored = cache.scored(self.store, clip_id, self.engine.model_key)
        if stored is None or stored["embedding"] is None:
            return None
        logits = read_frame_logits(self.store, clip_id, self.engine.model_key) if frames else None
        if frames and logits is None:
            return None
        return Prediction(stored["scores"], self.engine.labels, stored["embedding"], logits)

    def _score(self, wave: np.ndarray, frames: bool) -> Prediction:
        from core.ingest.longform import score_long
        from core.ingest.reading import LONG_FROM_S
        from core.model.engine import SAMPLE_RATE_HZ

        if len(wave) > LONG_FROM_S * SAMPLE_RATE_HZ:  # windows, as every long recording
            long = score_long(self.engine, iter([wave]))
            return Prediction(long.scores, self.engine.labels, long.embedding,
                              long.frame_logits if frames else None)  # fmt: skip
        result = self.queue.submit(wave, frames).result()
        # Frame embeddings are (T, D): not answered, so not kept in memory either.
        return Prediction(result.scores, result.labels, result.embedding, result.frame_logits)

    def _remember(self, clip_id: str, prediction: Prediction) -> None:
        with self._lock:
            self._memory[clip_id] = prediction
            self._memory.move_to_end(clip_id)
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)

    def document(self, name: str, info: AudioInfo, p: Prediction, granularity: str,
                 embedding: bool) -> dict:  # fmt: skip
        """result.json's fields, plus `emotion` (the old endpoint's key), frames and embedding."""
        scores = dict(zip(p.labels, (float(s) for s in p.scores), strict=True))
        e = self.engine
        doc = document(name, info, scores, e.model_id, e.revision, e.untrained, granularity)
        doc = {"emotion": doc["top_emotion"], **doc}
        if granularity == "frame" and p.frame_logits is not None:
            probabilities = np.round(softmax(p.frame_logits).astype(np.float64), 5)
            doc["frame_hop_ms"] = HOP_MS
            doc["frames"] = [
                {"time": round(i * HOP_MS / 1000, 3),
                 "scores": dict(zip(p.labels, row.tolist(), strict=True))}
                for i, row in enumerate(probabilities)
            ]  # fmt: skip
        if embedding:
            vector = np.asarray(p.embedding, dtype="<f4")
            doc["embedding"] = {"dim": int(vector.size), "dtype": "float32",
                                "base64": base64.b64encode(vector.tobytes()).decode()}  # fmt: skip
        return doc
