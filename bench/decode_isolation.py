"""The price of decoding in a child process (core.model.isolated) instead of in-process.

The same files are decoded the way the reading stage does it (header, then the whole clip),
in this process and through one decoder child, in interleaved rounds; the child's start is
timed on its own. Wall and CPU seconds (this process plus the child) per file, medians over
the rounds. Files are held in memory first, so disk reads are not measured.

    python bench/decode_isolation.py                       # 300 RAVDESS files (16 kHz FLAC)
    python bench/decode_isolation.py --files 100 --rounds 5 --out bench/results/decode-isolation.md
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT.parent / "shared" / "data" / "ravdess-16k"


def cpu_s() -> float:
    """CPU seconds of this process and its ended children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def in_process(files: list[tuple[str, bytes]]) -> tuple[float, float]:
    from core.model.audio import decode, probe

    wall, cpu = time.perf_counter(), cpu_s()
    for name, data in files:
        probe(data, name)
        decode(data, name)
    return time.perf_counter() - wall, cpu_s() - cpu


def child_cpu_s(pid: int) -> float:
    """CPU seconds a live process has used (utime + stime from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_child(files: list[tuple[str, bytes]]) -> tuple[float, float, float, float]:
    """(wall, CPU of both processes) of the files through one started child, and the child's
    start with its first file (wall, CPU)."""
    from core.model.isolated import DecoderPool

    pool = DecoderPool()
    start, own = time.perf_counter(), cpu_s()
    pool.read(files[0][1], files[0][0], 60.0)  # starts the child: measured apart from the files
    child = pool._idle[0].process.pid
    started, start_cpu = time.perf_counter() - start, cpu_s() - own + child_cpu_s(child)
    wall, own, theirs = time.perf_counter(), cpu_s(), child_cpu_s(child)
    for name, data in files:
        pool.read(data, name, 60.0)
    wall = time.perf_counter() - wall
    cpu = cpu_s() - own + child_cpu_s(child) - theirs
    pool.close_idle()
    return wall, cpu, started, start_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=RAVDESS)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    paths = sorted(p for p in args.folder.rglob("*") if p.suffix in (".flac", ".wav"))
    files = [(p.name, p.read_bytes()) for p in paths[: args.files]]
    audio_s = sum(_seconds(data, name) for name, data in files)
    local, child, starts = [], [], []
    for _ in range(args.rounds):
        local.append(in_process(files))
        wall, cpu, started, start_cpu = in_child(files)
        child.append((wall, cpu))
        starts.append((started, start_cpu))
    n = len(files)

    def per_file_ms(pairs, i):
        return statistics.median(p[i] for p in pairs) / n * 1000

    lines = [
        f"# Decoding in a child process: {n} files ({audio_s:.0f} s of audio, "
        f"{sum(len(d) for _, d in files) / 1e6:.1f} MB) from {args.folder.name}",
        "",
        f"`python bench/decode_isolation.py --files {args.files} --rounds {args.rounds}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end (medians of {args.rounds} "
        "interleaved rounds).",
        "",
        "| decoding | wall per file (ms) | CPU per file (ms, both processes) |",
        "|---|---|---|",
        f"| in-process | {per_file_ms(local, 0):.2f} | {per_file_ms(local, 1):.2f} |",
        f"| in a decoder child | {per_file_ms(child, 0):.2f} | {per_file_ms(child, 1):.2f} |",
        "",
        "Starting a child (interpreter, numpy, PyAV) with its first file: "
        f"{statistics.median(s[0] for s in starts):.2f} s wall, "
        f"{statistics.median(s[1] for s in starts):.2f} s CPU, once per decoding thread per run.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


def _seconds(data: bytes, name: str) -> float:
    from core.model.audio import probe

    return probe(data, name).duration_s


if __name__ == "__main__":
    main()
