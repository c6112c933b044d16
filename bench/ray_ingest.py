"""Benchmark and check: `ingest --ray` on a local Ray against the local path, through the CLI.

    python bench/ray_ingest.py [FOLDER] [--files N] [--arch tiny|base|large] [--frames]

Copies the first N audio files of FOLDER (default ../shared/data/ravdess-16k, all of them) and
three bad files (a damaged WAV, an empty MP3, text named .flac) into a scratch folder, then runs
`python -m core ingest` on it twice into two fresh databases, without and with `--ray`, and
once more with `--ray` (every file cached). Each run is a fresh process, so the times include
loading the model and, for --ray, starting a local Ray and its actors. Then it compares the two
databases table by table (clips, predictions, embeddings, frame curves, segments, ingest_files
outcomes). Last, in this process with the model loaded once, it times the local `ingest` and
`ray_ingest` (Ray started beforehand, its start timed apart) into fresh databases: the
pipelines' own cost without process start-up. Writes bench/results/ray-ingest-cpu-<arch>-<n>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = Path(__file__).parent / "results"
RAVDESS = REPO.parent / "shared" / "data" / "ravdess-16k"
BAD_FILES = {
    "bad/damaged.wav": b"RIFF\x00\x00junk" * 10,
    "bad/empty.mp3": b"",
    "bad/text.flac": b"not audio at all " * 20,
}


def held_out(source: Path, n_files: int | None, into: Path) -> int:
    """Copy the first n audio files of `source` (sorted) and the bad files; return the count."""
    from core.model.audio import SUPPORTED_EXTENSIONS

    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    for path in files[:n_files]:
        target = into / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for name, data in BAD_FILES.items():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(data)
    return len(files[:n_files]) + len(BAD_FILES)


def cli_ingest(folder: Path, db: Path, model: Path, extra: list[str]) -> tuple[float, dict]:
    """One `python -m core ingest` in a fresh process: wall seconds and its JSON summary."""
    argv = [sys.executable, "-m", "core", "ingest", str(folder), "--corpus", "bench",
            "--db", str(db), "--model", str(model), "--device", "cpu", "--json", *extra]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def differences(db_a: Path, db_b: Path, dim: int) -> dict[str, dict]:
    """Per table: rows on each side, cells that differ (text, counts) and the largest
    difference of any number or vector element."""
    from tests.ingest.test_ray_ingest import table_rows  # the test's definition of "the same rows"

    left, right = table_rows(db_a, dim), table_rows(db_b, dim)
    report = {}
    for table in left:
        unequal, largest = 0, 0.0
        for a, b in zip(left[table], right[table], strict=False):
            for x, y in zip(a, b, strict=True):
                if isinstance(x, float) or (isinstance(x, list | tuple) and x and
                                            isinstance(x[0], float)):  # fmt: skip
                    gap = np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))
                    largest = max(largest, float(gap))
                else:
                    unequal += x != y
        report[table] = {"rows": [len(left[table]), len(right[table])],
                         "unequal_cells": int(unequal), "max_abs_diff": largest}  # fmt: skip
    return report


def in_process(folder: Path, model: Path, frames: bool, work: Path) -> dict:
    """Both pipelines in this process on one loaded engine: seconds and x real time."""
    import ray

    from core.ingest.pipeline import ingest
    from core.ingest.ray.driver import ray_ingest
    from core.ingest.sources import collected
    from core.model.engine import load_engine
    from core.store.database import Store

    engine = load_engine(str(model), "cpu")
    with collected([folder]) as inputs:
        start = time.perf_counter()
        local = ingest(Store(work / "p-local.duckdb"), engine, inputs, "bench", frames=frames)
        local_s = time.perf_counter() - start
        start = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False)
        ray_start_s = time.perf_counter() - start
        try:
            start = time.perf_counter()
            remote = ray_ingest(Store(work / "p-ray.duckdb"), engine, inputs, "bench",
                                frames=frames)  # fmt: skip
            ray_s = time.perf_counter() - start
        finally:
            ray.shutdown()
    audio_s = local.seconds_audio
    return {
        "files": len(inputs), "audio_s": round(audio_s, 1), "summaries_equal":
        local.as_dict() == remote.as_dict(), "local_ingest_s": round(local_s, 2),
        "local_x_realtime": round(audio_s / local_s, 1), "ray_start_s": round(ray_start_s, 2),
        "ray_ingest_s": round(ray_s, 2), "ray_x_realtime": round(audio_s / ray_s, 1),
        "ray_over_local": round(ray_s / local_s, 2),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(RAVDESS))
    parser.add_argument("--files", type=int, default=None, help="first N audio files (all)")
    parser.add_argument("--arch", default="tiny", choices=["tiny", "base", "large"])
    parser.add_argument("--frames", action="store_true", help="also store frame curves")
    args = parser.parse_args()
    from core.model.engine import load_engine
    from core.model.testmodel import make_test_model
    from tests.ingest.test_ray_ingest import TOLERANCE

    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    try:
        model = make_test_model(work / f"model-{args.arch}", arch=args.arch)
        n_inputs = held_out(Path(args.folder), args.files, work / "in")
        extra = ["--frames"] if args.frames else []
        local_s, local = cli_ingest(work / "in", work / "local.duckdb", model, extra)
        ray_s, remote = cli_ingest(work / "in", work / "ray.duckdb", model, [*extra, "--ray"])
        dim = load_engine(str(model), "cpu", threads=1).embedding_dim
        tables = differences(work / "local.duckdb", work / "ray.duckdb", dim)  # before the rerun
        rerun_s, rerun = cli_ingest(work / "in", work / "ray.duckdb", model, [*extra, "--ray"])
        pipelines = in_process(work / "in", model, args.frames, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "inputs": n_inputs, "arch": args.arch, "frames": args.frames, "cpus": os.cpu_count(),
        "machine": platform.machine(), "local_summary": local, "ray_summary": remote,
        "summaries_equal": local == remote, "rerun_summary": rerun,
        "local_s": round(local_s, 2), "ray_local_s": round(ray_s, 2),
        "ray_rerun_cached_s": round(rerun_s, 2), "cli_ray_over_local": round(ray_s / local_s, 2),
        "tables": tables, "in_process": pipelines, "load_average_1min": os.getloadavg()[0],
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ray-ingest-cpu-{args.arch}-{n_inputs}{'-frames' if args.frames else ''}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"-> {out}")
    same = result["summaries_equal"] and all(
        t["rows"][0] == t["rows"][1] and not t["unequal_cells"]
        and t["max_abs_diff"] <= TOLERANCE.get(name, 1e-6)
        for name, t in tables.items()
    )  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
