"""Benchmark: funasr's one-clip-at-a-time `generate` vs EmoScope's exact batched engine.

Same weights (random, real architecture), same clips (mixed 1-12 s). Each measurement runs in a
fresh process so that peak RSS belongs to that path alone. Prints a table and writes
bench/results/<device>-<arch>.json.

    python bench/bench_engine.py --arch base large [--device cuda --precision bf16]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLIP_SECONDS = [1.0, 2.5, 4.0, 5.5, 7.0, 8.5, 10.0, 12.0, 3.0, 6.0, 9.0, 11.0]
RESULTS = Path(__file__).parent / "results"


def clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(int(s * 16_000))).astype(np.float32) for s in CLIP_SECONDS]


def measure(model_dir: str, path: str, device: str, precision: str, repeats: int) -> dict:
    """Run in a child process: load, warm up, then time `repeats` passes over the clips."""
    from core.model.engine import load_engine

    t0 = time.perf_counter()
    engine = load_engine(model_dir, device, precision=precision)
    load_s = time.perf_counter() - t0
    waves = clips()

    def one_pass():
        if path == "funasr":
            engine._auto.generate(waves, granularity="utterance", disable_pbar=True)
        else:
            engine.predict(waves)
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    one_pass()  # warm-up (kernels, allocator)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - t)
    best = min(times)
    audio_s = sum(CLIP_SECONDS)
    peak_gpu = None
    if device.startswith("cuda"):
        import torch

        peak_gpu = torch.cuda.max_memory_allocated() / 2**20
    return {
        "path": path, "load_s": round(load_s, 2), "pass_s": round(best, 3),
        "clips_per_s": round(len(waves) / best, 2), "x_real_time": round(audio_s / best, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_gpu_mb": peak_gpu and round(peak_gpu),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", nargs="+", default=["base", "large"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="/tmp/emoscope-bench-models")
    parser.add_argument("--child", nargs=2, metavar=("MODEL_DIR", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.child[0], args.child[1], args.device, args.precision, args.repeats)
        print(json.dumps(result))
        return
    from core.model.testmodel import make_test_model

    RESULTS.mkdir(exist_ok=True)
    for arch in args.arch:
        model_dir = Path(args.models) / arch
        if not (model_dir / "model.pt").exists():
            make_test_model(model_dir, arch=arch)
        rows = []
        for path in ("funasr", "batched"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(model_dir), path, "--device", args.device,
                 "--precision", args.precision, "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        funasr, batched = rows
        report = {
            "arch": arch, "device": args.device, "precision": args.precision,
            "machine": f"{platform.processor() or platform.machine()}, "
                       f"{__import__('os').cpu_count()} cores",
            "clips": len(CLIP_SECONDS), "audio_s": sum(CLIP_SECONDS),
            "funasr_generate": funasr, "emoscope_batched": batched,
            "speedup": round(funasr["pass_s"] / batched["pass_s"], 2),
        }  # fmt: skip
        name = f"{args.device.split(':')[0]}-{args.precision}-{arch}.json"
        (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")
        print(f"{arch:6} {args.device}/{args.precision}: funasr {funasr['x_real_time']}x RT "
              f"({funasr['clips_per_s']} clips/s, {funasr['peak_rss_mb']} MB), batched "
              f"{batched['x_real_time']}x RT ({batched['clips_per_s']} clips/s, "
              f"{batched['peak_rss_mb']} MB): speed-up {report['speedup']}x")  # fmt: skip


if __name__ == "__main__":
    main()
