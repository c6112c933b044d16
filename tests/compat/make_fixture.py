"""Write the schema-compatibility database with a given checkout's own CLI.

    python tests/compat/make_fixture.py --repo CHECKOUT --out tests/compat/schema8.duckdb.gz

`schema8.duckdb.gz` was written this way by commit a66c17d (schema 8, before the redesign of
#24): a weekly mono corpus with frame curves and a split-stereo corpus with agent/customer roles,
scored by the untrained tiny test model. Only the CLI is used, so any version can write it.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float, seed: int, channels: int = 1) -> np.ndarray:
    """A deterministic speech-like signal: a few harmonics under a slow envelope, with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    f0 = 110 + 40 * rng.random()
    wave = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 5))
    wave = wave * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t)) + 0.05 * rng.standard_normal(len(t))
    mono = (0.3 * wave / np.abs(wave).max()).astype(np.float32)
    return mono if channels == 1 else np.stack([mono, np.roll(mono, 800)[::1] * 0.7], axis=1)


def write_audio(root: Path) -> tuple[Path, Path]:
    mono, stereo = root / "calls", root / "stereo"
    for a, agent in enumerate(("alice", "bob", "carol")):
        (mono / agent).mkdir(parents=True)
        for i in range(4):
            sf.write(mono / agent / f"2024-05-{1 + 7 * i + a:02d}_{i}.wav",
                     tone(1.0 + (i + a) % 4, 10 * a + i), 16_000)  # fmt: skip
    (stereo / "dave").mkdir(parents=True)
    for i in range(3):
        sf.write(stereo / "dave" / f"2024-06-{3 + 7 * i:02d}_{i}.wav", tone(2.0 + i, 90 + i, 2),
                 16_000)  # fmt: skip
    return mono, stereo


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--repo", type=Path, required=True, help="checkout whose CLI writes the file")
    args.add_argument("--out", type=Path, required=True)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mono, stereo = write_audio(root)
        db, model = root / "schema.duckdb", root / "model"

        def core(*argv: str) -> None:
            subprocess.run([sys.executable, "-m", "core", *argv], cwd=opts.repo, check=True)

        core("make-test-model", str(model))
        pattern = "{agent}/{recorded_at}_*.wav"
        core("ingest", str(mono), "--corpus", "calls", "--pattern", pattern, "--frames",
             "--model", str(model), "--db", str(db))  # fmt: skip
        core("ingest", str(stereo), "--corpus", "stereo", "--pattern", pattern, "--channels",
             "split", "--roles", "agent,customer", "--model", str(model), "--db", str(db))  # fmt: skip
        with db.open("rb") as src, gzip.open(opts.out, "wb", compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
    print(f"wrote {opts.out} ({opts.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
