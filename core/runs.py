"""Single-file scoring results in the old web UI's layout: outputs/outputs_YYYYmmdd_HHMMSS/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from core.audio import AudioInfo
from core.labels import UNTRAINED_LABEL
from core.model import HOP_MS, Engine, Prediction


@dataclass(frozen=True)
class ScoredFile:
    """One file's prediction with the facts needed to describe it."""

    name: str
    info: AudioInfo
    prediction: Prediction


def result_document(scored: ScoredFile, engine: Engine, granularity: str) -> dict:
    """The result.json content for one file (JSON-ready)."""
    p = scored.prediction
    doc = {
        "file": scored.name,
        "model": engine.model_id,
        "model_revision": engine.revision,
        "untrained_test_model": engine.untrained,
        "granularity": granularity,
        "duration_s": round(scored.info.duration_s, 3),
        "source_rate_hz": scored.info.source_rate_hz,
        "channels": scored.info.channels,
        "codec": scored.info.codec,
        "top_emotion": p.top_label,
        "confidence": round(p.confidence, 6),
        "scores": {label: round(float(s), 6) for label, s in zip(p.labels, p.scores, strict=True)},
    }
    if engine.untrained:
        doc["warning"] = f"{UNTRAINED_LABEL}: random weights, the scores mean nothing"
    if granularity == "frame" and p.frame_scores is not None:
        doc["frame_hop_ms"] = HOP_MS
        doc["frame_scores"] = np.round(p.frame_scores, 5).tolist()
    return doc


def write_run(results: list[ScoredFile], engine: Engine, granularity: str, embedding: bool,
              root: Path = Path("outputs")) -> Path:  # fmt: skip
    """Write result.json (and embedding.npy) per file into a new timestamped folder."""
    folder = root / f"outputs_{datetime.now():%Y%m%d_%H%M%S}"
    suffix = 1
    while folder.exists():  # two runs in one second must not overwrite each other
        folder = root / f"outputs_{datetime.now():%Y%m%d_%H%M%S}_{suffix}"
        suffix += 1
    for scored in results:
        target = folder if len(results) == 1 else folder / Path(scored.name).stem
        target.mkdir(parents=True, exist_ok=True)
        doc = result_document(scored, engine, granularity)
        (target / "result.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        if embedding:
            p = scored.prediction
            vectors = p.frame_embeddings if granularity == "frame" else p.embedding
            np.save(target / "embedding.npy", vectors)
    return folder
