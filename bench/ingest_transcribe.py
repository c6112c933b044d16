"""Ingest time with and without `--transcribe` (#26), on real speech and real architectures.

    python bench/ingest_transcribe.py [--actor 1] [--threads 2]

Writes emotion2vec's base architecture and SenseVoice-Small's (random weights: the real compute
cost, "untrained test model" output), then ingests one RAVDESS actor (../shared/data/ravdess-16k,
60 clips) through the CLI, each in a fresh process: (1) scores only, (2) scores and transcribes
into a new database, (3) `--transcribe` added to the corpus scored in (1), which transcribes only.
Writes bench/results/ingest-transcribe.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT.parent / "shared" / "data" / "ravdess-16k"
RESULTS = ROOT / "bench" / "results"


def core(*args: str, threads: int) -> tuple[float, dict]:
    """Seconds of one CLI command in a fresh process, and its --json summary."""
    env = {**os.environ, "EMOSCOPE_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core", *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actor", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    folder = RAVDESS / f"Actor_{args.actor:02d}"
    if not folder.is_dir():
        sys.exit(f"no {folder}: RAVDESS lives in ../shared/data/ravdess-16k")
    report = {"threads": args.threads, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_1min_start": os.getloadavg()[0]}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for family, arch, name in (("emotion2vec", "base", "e2v"), ("sensevoice", "small", "sv")):
            subprocess.run([sys.executable, "-m", "core", "make-test-model", str(tmp / name),
                            "--family", family, "--arch", arch], cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip
        common = [str(folder), "--corpus", "ravdess", "--model", str(tmp / "e2v")]
        asr = ["--transcribe", "--asr-model", str(tmp / "sv")]
        runs = {
            "scores only": core("ingest", *common, "--db", str(tmp / "a.duckdb"),
                                threads=args.threads),
            "scores and transcripts": core("ingest", *common, *asr, "--db", str(tmp / "b.duckdb"),
                                           threads=args.threads),
            "transcripts added to a scored corpus": core(
                "ingest", *common, *asr, "--db", str(tmp / "a.duckdb"), threads=args.threads
            ),
        }  # fmt: skip
    first = runs["scores only"][1]  # the CLI's own count of clips and seconds of audio
    report["clips"], audio_s = first["scored"], first["seconds_audio"]
    report["audio_s"] = round(audio_s, 1)
    report["runs"] = {name: {"s": round(s, 1), "x_real_time": round(audio_s / s, 2),
                             "summary": summary} for name, (s, summary) in runs.items()}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest-transcribe.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Ingest with and without --transcribe ({report['when']})", "",
             f"RAVDESS actor {args.actor}: {report['clips']} clips, {audio_s:.0f} s of speech; "
             f"emotion2vec base and SenseVoice-Small architectures (random weights), "
             f"{args.threads} threads, load average {report['load_1min_start']:.1f} at the start; "
             "each run a fresh `python -m core ingest` process (model loading included).", "",
             "| run | seconds | x real time |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {r['s']} | {r['x_real_time']} |" for name, r in report["runs"].items()]
    (RESULTS / "ingest-transcribe.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
