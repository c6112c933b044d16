"""A small batching queue in front of an Engine, for many concurrent single-clip requests.

Each caller submits one waveform and gets a Future. One worker thread takes whatever has
arrived, waits `gather_s` for more to join (only while others are queued behind the first),
and scores them in one `Engine.predict` call: the engine's padded batching is exact, so a clip
scored in a batch equals the clip scored alone. On CPU the engine still runs one clip per forward
(see Engine.default_batch_samples); the queue then only keeps the model busy back to back.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from core.model.engine import Engine, Prediction


@dataclass
class _Request:
    wave: np.ndarray
    frames: bool
    future: Future


class BatchQueue:
    """Batches concurrent `submit` calls into shared `Engine.predict` calls."""

    def __init__(self, engine: Engine, max_batch: int = 16, gather_s: float = 0.005):
        self.engine, self.max_batch, self.gather_s = engine, max_batch, gather_s
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self.batches: list[int] = []  # size of each batch run (the last 1,000), for tests/bench
        self._thread = threading.Thread(target=self._work, daemon=True, name="emoscope-batch")
        self._thread.start()

    def submit(self, wave: np.ndarray, frames: bool = False) -> Future:
        """Queue one 16 kHz mono waveform; the Future holds its Prediction (or the error)."""
        future: Future = Future()
        self._queue.put(_Request(np.asarray(wave, dtype=np.float32), frames, future))
        return future

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=self.gather_s)
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        frames = any(r.frames for r in batch)
        try:
            predictions = self.engine.predict([r.wave for r in batch], frames=frames)
        except Exception as exc:  # every caller hears it; the worker stays alive
            for request in batch:
                request.future.set_exception(exc)
            return
        self.batches = [*self.batches[-999:], len(batch)]
        for request, prediction in zip(batch, predictions, strict=True):
            if frames and not request.frames:
                prediction = Prediction(prediction.scores, prediction.labels, prediction.embedding)
            request.future.set_result(prediction)
