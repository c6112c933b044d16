"""Exports of a clip selection as CSV or Parquet: clips with scores, frame curves, embeddings.

Tables are built as DataFrames from core.store, so the CLI and the dashboard's download buttons
write exactly the same columns. Parquet keeps the embedding as one list<float> column; CSV,
which has no lists, spreads it over emb_0 ... emb_{D-1}.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.store import ClipFilter, Store

WHATS = ("clips", "frames", "embeddings")
FORMATS = ("csv", "parquet")


def table(
    store: Store, what: str, model_key: str, where: ClipFilter = ClipFilter()
) -> pd.DataFrame:
    """The export table for `what` (clips | frames | embeddings) of one model's results."""
    if what == "clips":
        frame = store.clips(model_key, where)
        frame["tags"] = frame["tags"].map(lambda t: "|".join(t) if t is not None else "")
        return frame.drop(columns=["source_path"])
    if what == "frames":
        return store.frame_rows(model_key, where)
    if what == "embeddings":
        clips, matrix = store.embeddings(model_key, where)
        keep = ["corpus", "clip_id", "source_name", "track", "agent", "recorded_at", "top_label"]
        frame = clips[keep].copy() if len(clips) else pd.DataFrame(columns=keep)
        frame["embedding"] = list(matrix) if len(matrix) else []
        return frame
    raise InputError(f"cannot export {what!r}; choose one of {', '.join(WHATS)}.")


def to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise an export table as CSV (UTF-8, header) or Parquet (snappy)."""
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "csv":
        if "embedding" in frame.columns:
            vectors = np.vstack(frame["embedding"].to_numpy()) if len(frame) else np.zeros((0, 0))
            spread = pd.DataFrame(vectors, columns=[f"emb_{i}" for i in range(vectors.shape[1])])
            frame = pd.concat(
                [frame.drop(columns=["embedding"]).reset_index(drop=True), spread], axis=1
            )
        return frame.to_csv(index=False).encode("utf-8")
    raise InputError(f"unknown format {fmt!r}; choose csv or parquet.")


def export(store: Store, what: str, fmt: str, out: Path, model_key: str,
           where: ClipFilter = ClipFilter()) -> int:  # fmt: skip
    """Write one export file; return the number of rows written."""
    frame = table(store, what, model_key, where)
    data = to_bytes(frame, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return len(frame)
