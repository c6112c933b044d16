"""Peak memory of ingesting one long recording: 5 min vs 60 min (tiny model, fresh processes).

Memory is bounded by the window group, not the recording: the file is hashed and decoded as a
stream; what grows is the stored output (frame logits: 9 floats per 20 ms = 6.5 MB per hour).

    python bench/long_memory.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def write_recording(path: Path, minutes: int) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", 16_000, 2, "PCM_16") as out:  # stereo call, 16-bit
        for _ in range(minutes * 6):  # 10 s blocks
            out.write((0.1 * rng.standard_normal((160_000, 2))).astype(np.float32))


def child(audio: str, model: str, db: str) -> None:
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.model.engine import load_engine
    from core.store.database import Store

    engine = load_engine(model, "cpu")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    ingest(Store(db), engine, collect([audio]), "long", frames=True)
    print(json.dumps({"after_load_mb": round(baseline), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "seconds": round(time.perf_counter() - start, 1)}))  # fmt: skip


def main() -> None:
    if len(sys.argv) == 4:
        child(*sys.argv[1:])
        return
    from core.model.testmodel import make_test_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = make_test_model(folder / "model")
        for minutes in (5, 60):
            audio = folder / f"call-{minutes}min.wav"
            write_recording(audio, minutes)
            out = subprocess.run([sys.executable, __file__, str(audio), str(model), str(folder / f"{minutes}.duckdb")],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            result = json.loads(out.stdout.strip().splitlines()[-1])
            size_mb = audio.stat().st_size / 2**20
            print(f"{minutes:>3} min stereo WAV ({size_mb:.0f} MB): peak RSS {result['peak_mb']} MB "
                  f"(after model load {result['after_load_mb']} MB), ingest {result['seconds']} s")  # fmt: skip


if __name__ == "__main__":
    main()
