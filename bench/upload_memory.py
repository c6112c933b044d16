"""The server's memory around uploads through the real page: does it come back afterwards?

    python bench/upload_memory.py [--minutes 40] [--rounds 3]

A Streamlit server over a fresh database; Chromium uploads a zip of WAV files (`--minutes` of
noise-like speech, which barely compresses) and analyses it with the untrained test model, then
uploads and analyses the same zip again (`--rounds` in all). The server's resident memory
(/proc/PID/status VmRSS) is read before, with the files chosen, at its peak during each
analysis, and 5 s after each analysis has ended. A warm-up analysis of one short file loads the
model first, so the rounds compare like with like. Results: bench/results/upload-memory.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakWatcher:
    """Samples a process's RSS every 0.1 s in a thread; `peak_mb` is the largest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PeakWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            time.sleep(0.1)


def make_zip(folder: Path, minutes: float) -> Path:
    import soundfile as sf

    from tests.conftest import speechlike

    archive = folder / "calls.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for i in range(int(minutes)):
            wav = folder / f"call-{i:03d}.wav"
            sf.write(wav, speechlike(60.0, seed=i), 16_000)
            out.write(wav, wav.name)
            wav.unlink()
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import soundfile as sf

    from bench.dashboard_scale import fresh_dashboard
    from tests.browser.driving import (
        SERVER_PIDS,
        analyse,
        fill_upload,
        wait_until_the_uploader_is_empty,
    )
    from tests.conftest import speechlike

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = make_zip(folder, args.minutes)
        size_mb = archive.stat().st_size / 1e6
        warm = folder / "warm-up.wav"
        sf.write(warm, speechlike(2.0), 16_000)
        with fresh_dashboard(folder / "memory.duckdb") as (url, browser):
            pid = SERVER_PIDS[url]
            page = browser.new_page()
            fill_upload(page, url, [warm], "warm-up")
            analyse(page)
            for round_ in range(1, args.rounds + 1):
                time.sleep(5)
                before = rss_mb(pid)
                fill_upload(page, url, [archive], f"round-{round_}")
                chosen = rss_mb(pid)
                with PeakWatcher(pid) as watcher:
                    analyse(page)
                    wait_until_the_uploader_is_empty(page)
                time.sleep(5)
                rows.append((round_, before, chosen, watcher.peak_mb, rss_mb(pid)))
                print(f"round {round_}: {rows[-1]}", file=sys.stderr)
    lines = [
        "# Server memory around uploads",
        "",
        f"`python bench/upload_memory.py --minutes {args.minutes:g} --rounds {args.rounds}`: a zip of "
        f"{int(args.minutes)} one-minute WAV files ({size_mb:.0f} MB) uploaded and analysed through "
        "Chromium, the same zip again each round (the later rounds are all cached: the upload, "
        "unpacking and hashing remain). Streamlit server RSS in MB; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 cores.",
        "",
        "| round | before | files chosen | peak while analysing | 5 s after |",
        "|---|---|---|---|---|",
        *[f"| {r} | {b:.0f} | {c:.0f} | {pk:.0f} | {a:.0f} |" for r, b, c, pk, a in rows],
    ]  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "upload-memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
