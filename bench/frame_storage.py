"""Bytes on disk per minute of audio for stored frame curves (tiny model; the curve size does
not depend on the model: 50 frames/s x 9 float32 logits).

    python bench/frame_storage.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def db_bytes(folder: Path, frames: bool, model_dir: Path, minutes: int) -> int:
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.model.engine import load_engine
    from core.store.database import Store

    db = folder / f"frames-{frames}.duckdb"
    store = Store(db)
    ingest(
        store, load_engine(str(model_dir), "cpu"), collect([folder / "audio"]), "c", frames=frames
    )
    import duckdb

    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")
    con.close()
    return db.stat().st_size


def main() -> None:
    from core.model.testmodel import make_test_model

    minutes = 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "audio").mkdir()
        rng = np.random.default_rng(0)
        for i in range(minutes):
            sf.write(folder / "audio" / f"{i}.wav", 0.1 * rng.standard_normal(60 * 16_000), 16_000)
        model = make_test_model(folder / "model")
        without, with_frames = (
            db_bytes(folder, False, model, minutes),
            db_bytes(folder, True, model, minutes),
        )
    per_minute = (with_frames - without) / minutes
    print(f"frame curves: {per_minute / 1024:.0f} KiB per minute of audio on disk "
          f"(raw float32: {50 * 60 * 9 * 4 / 1024:.0f} KiB)")  # fmt: skip


if __name__ == "__main__":
    main()
