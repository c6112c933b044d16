"""Benchmark: POST /api/predict on the real server (dashboard + API, one process), in one run.

    python bench/api_predict.py [--files N] [--model DIR] [--threads T]

With the tiny test model (default) on the same machine, it measures:
  (a) the CLI: `python -m core score` over the phase-1 files, wall time, and its scoring rate
      without start-up (the same command on one file is subtracted);
  (b) 1 client posting N files one after another (none cached): latency p50/p95, files/s;
  (c) 8 clients posting N other files at once (none cached): latency p50/p95, files/s;
  (d) (c) again on N more files while Chromium opens the dashboard's Clips page over and over
      (seconds to its table), against the same page opened while the server is idle;
  (e) 8 clients posting (c)'s files again: answered from the cache.
The machine's load average is recorded before and after: on a shared 2-core machine other
people's work changes every figure, so compare figures of one run only.
Clips: RAVDESS (../shared/data/ravdess-16k, 16 kHz FLAC, ~3.5 s each) when present, else
synthetic speech-like WAVs. Writes bench/results/api-predict-cpu-tiny.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
RAVDESS = ROOT.parent / "shared" / "data" / "ravdess-16k"


def clips(folder: Path, n: int) -> list[Path]:
    found = sorted(RAVDESS.glob("Actor_*/*.flac")) if RAVDESS.is_dir() else []
    if len(found) >= n:
        return found[:n]
    import soundfile as sf

    from tests.conftest import speechlike

    made = []
    for i in range(n):
        path = folder / f"synth-{i:04d}.wav"
        sf.write(path, speechlike(2.0 + (i % 4), seed=i), 16_000)
        made.append(path)
    return made


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def post_all(url: str, files: list[Path], clients: int) -> dict:
    import httpx

    def one(path: Path) -> tuple[float, bool]:
        start = time.perf_counter()
        with path.open("rb") as handle:
            response = httpx.post(f"{url}/api/predict", files={"audio": (path.name, handle)},
                                  data={"granularity": "utterance"}, timeout=300)  # fmt: skip
        response.raise_for_status()
        return time.perf_counter() - start, response.json()["cached"]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, files))
    wall = time.perf_counter() - start
    latencies = [r[0] for r in results]
    return {"clients": clients, "files": len(files), "wall_s": round(wall, 3),
            "files_per_s": round(len(files) / wall, 2),
            "p50_ms": round(1000 * percentile(latencies, 50), 1),
            "p95_ms": round(1000 * percentile(latencies, 95), 1),
            "cached": sum(r[1] for r in results)}  # fmt: skip


def open_page(url: str) -> float:
    """Seconds until the Clips page shows its table in Chromium (a fresh session)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(f"{url}/clips")
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=120_000)
        seconds = time.perf_counter() - start
        browser.close()
    return seconds


def cli_seconds(model: Path, files: list[Path], out: Path, threads: int) -> float:
    env = {**os.environ, "EMOSCOPE_THREADS": str(threads)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "score", *map(str, files), "--model",
                    str(model), "--device", "cpu"], cwd=out, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32, help="files per phase")
    parser.add_argument("--model", type=Path, help="model directory (default: the tiny one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from core.ingest.metadata import no_metadata
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.model.engine import load_engine
    from core.model.testmodel import make_test_model
    from core.store.database import Store
    from tests.api.server import running

    work = Path(tempfile.mkdtemp(prefix="emoscope-bench-api-"))
    model = args.model or make_test_model(work / "tiny", arch="tiny", seed=0)
    n = args.files
    files = clips(work, 4 * n + 20)
    single, crowd, browsed, seed = files[:n], files[n : 2 * n], files[2 * n : 3 * n], files[3 * n :]
    load_before = os.getloadavg()
    db = work / "emoscope.duckdb"  # a corpus for the dashboard page to show
    ingest(Store(db), load_engine(str(model), "cpu", threads=args.threads), collect(seed),
           "bench", metadata=no_metadata)  # fmt: skip

    cli_one = cli_seconds(model, single[:1], work, args.threads)
    cli_all = cli_seconds(model, single, work, args.threads)
    cli = {"files": len(single), "wall_s": round(cli_all, 3), "one_file_wall_s": round(cli_one, 3),
           "files_per_s_with_startup": round(len(single) / cli_all, 2),
           "files_per_s_scoring": round((len(single) - 1) / max(cli_all - cli_one, 1e-9), 2)}  # fmt: skip

    with running(work, db, model, threads=args.threads) as url:
        post_all(url, files[-1:], 1)  # loads the model (and caches that file only)
        page_idle = open_page(url)
        one = post_all(url, single, 1)
        pages: list[float] = []
        done = threading.Event()

        def browse() -> None:
            while not done.is_set():
                pages.append(open_page(url))

        eight = post_all(url, crowd, 8)
        browser = threading.Thread(target=browse)
        browser.start()
        eight_browsed = post_all(url, browsed, 8)
        done.set()
        browser.join()
        cached = post_all(url, crowd, 8)

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch_threads": args.threads},
        "model": "tiny (untrained test model)" if args.model is None else str(args.model),
        "clips": "ravdess-16k" if RAVDESS.is_dir() else "synthetic",
        "load_average_1min": {"before": round(load_before[0], 1),
                              "after": round(os.getloadavg()[0], 1)},
        "cli_score": cli, "api_1_client": one, "api_8_clients": eight,
        "api_8_clients_while_browsing": eight_browsed, "api_8_clients_cached": cached,
        "dashboard_clips_page_s": {"idle": round(page_idle, 2),
                                   "during_8_clients": [round(s, 2) for s in pages]},
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "api-predict-cpu-tiny.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        f"\nwritten to {out.relative_to(ROOT)}; median page open under load "
        f"{statistics.median(pages) if pages else float('nan'):.2f} s"
    )


if __name__ == "__main__":
    main()
