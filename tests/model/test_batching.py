"""The batching queue in front of the engine: requests arriving together share one predict call
and get exactly what they would get alone."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.batching import BatchQueue
from tests.conftest import speechlike

pytestmark = pytest.mark.slow


def test_concurrent_requests_are_batched_and_equal_single_ones(engine):
    waves = [speechlike(1.0 + 0.25 * i, seed=40 + i) for i in range(8)]
    alone = [engine.predict([w], frames=True)[0] for w in waves]
    batches = BatchQueue(engine, max_batch=8, gather_s=0.5)
    try:
        futures = [batches.submit(w, frames=i % 2 == 0) for i, w in enumerate(waves)]
        results = [f.result(timeout=120) for f in futures]
    finally:
        batches.close()
    assert max(batches.batches) > 1
    for i, (one, batched) in enumerate(zip(alone, results, strict=True)):
        assert np.allclose(batched.scores, one.scores, atol=1e-6)
        assert np.allclose(batched.embedding, one.embedding, atol=1e-5)
        if i % 2 == 0:
            assert np.allclose(batched.frame_logits, one.frame_logits, atol=1e-4)
        else:
            assert batched.frame_logits is None


def test_an_error_reaches_every_caller_and_the_queue_goes_on(engine):
    batches = BatchQueue(engine, gather_s=0.01)
    try:
        too_long = np.zeros(16_000 * 200, dtype=np.float32)
        with pytest.raises(Exception, match="at most"):
            batches.submit(too_long).result(timeout=60)
        assert batches.submit(speechlike(1.0)).result(timeout=60).scores.shape == (9,)
    finally:
        batches.close()
