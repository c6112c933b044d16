"""Single-file scoring results in the old web UI's layout: outputs/outputs_YYYYmmdd_HHMMSS/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from core.errors import CorruptAudioError
from core.model.audio import AudioInfo
from core.model.engine import HOP_MS, Engine, Prediction, finite_output
from core.model.labels import UNTRAINED_LABEL


@dataclass(frozen=True)
class ScoredFile:
    """One file's prediction with the facts needed to describe it."""

    name: str
    info: AudioInfo
    prediction: Prediction


def score_files(
    engine: Engine, probed: list[tuple[Path, AudioInfo]], frames: bool
) -> list[ScoredFile]:
    """Score files (with their `core.model.audio.probe` headers) as the old web UI did, of any length.

    Short files are decoded and scored together; files over a minute are streamed through the
    windowed long-recording path (core.ingest.longform), so an hour-long file needs no more memory
    than a minute. Their frame embeddings are not kept (hundreds of MB per hour): `embedding`
    is the recording's mean.
    """
    from core.ingest.longform import score_long
    from core.ingest.pipeline import LONG_FROM_S
    from core.model.audio import AudioStream, decode

    paths = [path for path, _ in probed]
    short = [i for i, (_, info) in enumerate(probed) if info.duration_s <= LONG_FROM_S]
    decoded = {i: decode(paths[i]) for i in short}
    predictions = dict(zip(short, engine.predict([decoded[i].mono for i in short], frames=frames),
                           strict=True))  # fmt: skip
    results = []
    for i, path in enumerate(paths):
        if i in decoded:
            results.append(ScoredFile(path.name, decoded[i].info, predictions[i]))
            continue
        stream = AudioStream(path)
        long = score_long(engine, (chunk.mean(axis=0) for chunk in stream))
        prediction = Prediction(long.scores, engine.labels, long.embedding,
                                long.frame_logits if frames else None)  # fmt: skip
        results.append(ScoredFile(path.name, stream.info, prediction))
    for scored in results:
        p = scored.prediction
        if not finite_output(p.scores, p.embedding, p.frame_logits):  # no NaN in result.json
            raise CorruptAudioError(
                f"{scored.name}: the model's output for this audio is not a finite number (NaN "
                "or infinity); no result was written. Check its levels and re-export it."
            )
    return results


def result_document(scored: ScoredFile, engine: Engine, granularity: str) -> dict:
    """The result.json content for one freshly scored file (JSON-ready)."""
    p = scored.prediction
    frames = p.frame_scores if granularity == "frame" else None
    return document(scored.name, scored.info, dict(zip(p.labels, p.scores, strict=True)),
                    engine.model_id, engine.revision, engine.untrained, granularity, frames)  # fmt: skip


def document(name: str, info: AudioInfo, scores: dict[str, float], model_id: str, revision: str,
             untrained: bool, granularity: str, frame_scores: np.ndarray | None = None) -> dict:  # fmt: skip
    """result.json as the old web UI wrote it, plus the model's identity and audio facts."""
    top = max(scores, key=scores.get)
    doc = {
        "file": name,
        "model": model_id,
        "model_revision": revision,
        "untrained_test_model": untrained,
        "granularity": granularity,
        "duration_s": round(info.duration_s, 3),
        "source_rate_hz": info.source_rate_hz,
        "channels": info.channels,
        "codec": info.codec,
        "top_emotion": top,
        "confidence": round(float(scores[top]), 6),
        "scores": {label: round(float(s), 6) for label, s in scores.items()},
    }
    if untrained:
        doc["warning"] = f"{UNTRAINED_LABEL}: random weights, the scores mean nothing"
    if frame_scores is not None:
        doc["frame_hop_ms"] = HOP_MS
        doc["frame_scores"] = np.round(frame_scores, 5).tolist()
    return doc


def write_run(results: list[ScoredFile], engine: Engine, granularity: str, embedding: bool,
              root: Path = Path("outputs"), segments: dict[str, list[dict]] | None = None) -> Path:  # fmt: skip
    """Write result.json (and embedding.npy) per file into a new timestamped folder.

    With `segments` (file name -> transcript lines, `score --transcribe`), result.json gains
    them under "segments"."""
    folder = root / f"outputs_{datetime.now():%Y%m%d_%H%M%S}"
    suffix = 1
    while folder.exists():  # two runs in one second must not overwrite each other
        folder = root / f"outputs_{datetime.now():%Y%m%d_%H%M%S}_{suffix}"
        suffix += 1
    for scored in results:
        target = folder if len(results) == 1 else folder / Path(scored.name).stem
        target.mkdir(parents=True, exist_ok=True)
        doc = result_document(scored, engine, granularity)
        if segments is not None:
            doc["segments"] = segments.get(scored.name, [])
        (target / "result.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        if embedding:
            p = scored.prediction
            framewise = granularity == "frame" and p.frame_embeddings is not None
            vectors = p.frame_embeddings if framewise else p.embedding
            np.save(target / "embedding.npy", vectors)
    return folder
