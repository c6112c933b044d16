"""Transcription benchmarks (issue #26), each in a fresh process.

    python bench/transcribe.py speed [SECONDS]   # x real time, real SenseVoice-Small architecture
    python bench/transcribe.py long [MINUTES]    # peak memory of a long stereo call (tiny models)

`speed` writes SenseVoice-Small's real architecture (50 + 20 SAN-M blocks of 512, ~234 M
parameters, random weights: its compute cost is the real one) and times VAD + recognition of
SECONDS of speech-like audio cut into 5 s utterances, with the threads EMOSCOPE_THREADS says
(default 2). `long` writes a stereo call of MINUTES (agent left, customer right, taking turns),
transcribes it as a stream with the tiny models and reports the peak RSS against the RSS after
loading, and how many lines each side got. Results go to bench/results/transcribe-*.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def speechlike(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 110 + 40 * rng.random() + 15 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * (3 + rng.random()) * t)) ** 2
    return (0.2 * voice * envelope + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def speed(seconds: float) -> dict:
    from core.model.asr_testmodel import make_sensevoice_test_model
    from core.model.transcribe import load_transcriber

    threads = int(os.environ.get("EMOSCOPE_THREADS", 2))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model = make_sensevoice_test_model(Path(tmp) / "sv-small", arch="small")
        written = time.perf_counter() - start
        start = time.perf_counter()
        transcriber = load_transcriber(str(model), "cpu", threads=threads)
        loaded = time.perf_counter() - start
        pieces = [speechlike(5.0, seed=i) for i in range(int(seconds // 5))]
        # Each way warmed up on its own shapes first (oneDNN picks kernels per shape on the
        # first call), then the best of two runs.
        transcriber.recognise(pieces[:1])
        transcriber.recognise(pieces)
        batched = min(_timed(transcriber.recognise, pieces) for _ in range(2))
        single = min(_timed(lambda: [transcriber.recognise([p]) for p in pieces]) for _ in range(2))
        wave = np.concatenate([np.concatenate([p, np.zeros(RATE, np.float32)]) for p in pieces])
        start = time.perf_counter()
        transcriber.vad(wave)
        vad = time.perf_counter() - start
        params = sum(p.numel() for p in transcriber.model.parameters())
    audio = 5.0 * len(pieces)
    return {
        "architecture": "SenseVoice-Small (random weights)", "parameters": params,
        "threads": threads, "seconds_audio": audio, "write_s": round(written, 1),
        "load_s": round(loaded, 1), "recognise_batched_s": round(batched, 2),
        "recognise_one_at_a_time_s": round(single, 2), "vad_s": round(vad, 2),
        "x_real_time_batched": round(audio / batched, 2),
        "x_real_time_one_at_a_time": round(audio / single, 2),
        "x_real_time_vad": round(len(wave) / RATE / vad, 1),
        "load_average_1min": os.getloadavg()[0], "peak_rss_mb": rss_mb(),
    }  # fmt: skip


def write_call(path: Path, minutes: int) -> None:
    """Agent (left) and customer (right) take turns: 4 s each in every 12 s."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", RATE, 2, "PCM_16") as out:
        for block in range(minutes * 5):
            noise = (1e-4 * rng.standard_normal((12 * RATE, 2))).astype(np.float32)
            noise[RATE : 5 * RATE, 0] += speechlike(4.0, seed=2 * block)
            noise[7 * RATE : 11 * RATE, 1] += speechlike(4.0, seed=2 * block + 1)
            out.write(noise)


def long_child(audio: str, model: str) -> None:
    from core.model.audio import AudioStream
    from core.model.transcribe import load_transcriber

    transcriber = load_transcriber(model, "cpu", threads=int(os.environ.get("EMOSCOPE_THREADS", 2)))
    after_load = rss_mb()
    start = time.perf_counter()
    segments = transcriber.transcribe_stream(AudioStream(audio), [("agent", 0), ("customer", 1)])
    seconds = time.perf_counter() - start
    agent = [s for s in segments if s.track == "agent"]
    customer = [s for s in segments if s.track == "customer"]
    # Turns are 1-5 s (agent) and 7-11 s (customer) of every 12 s: check each line's side.
    right_side = sum(1 for s in agent if 0.5 <= (s.start_s % 12) <= 1.5) + sum(
        1 for s in customer if 6.5 <= (s.start_s % 12) <= 7.5
    )
    print(json.dumps({"after_load_mb": after_load, "peak_mb": rss_mb(), "seconds": round(seconds, 1),
                      "agent_lines": len(agent), "customer_lines": len(customer),
                      "lines_on_their_turn": right_side}))  # fmt: skip


def long(minutes_list: list[int]) -> list[dict]:
    from core.model.asr_testmodel import make_sensevoice_test_model

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = make_sensevoice_test_model(folder / "sv-tiny")
        for minutes in minutes_list:
            audio = folder / f"call-{minutes}min.wav"
            write_call(audio, minutes)
            out = subprocess.run([sys.executable, __file__, "long-child", str(audio), str(model)],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(minutes=minutes, turns_per_side=minutes * 5)
            print(json.dumps(result))
            results.append(result)
    return results


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "speed"
    RESULTS.mkdir(exist_ok=True)
    if what == "long-child":
        long_child(*sys.argv[2:4])
        return
    if what == "speed":
        result = speed(float(sys.argv[2]) if len(sys.argv) > 2 else 30.0)
        print(json.dumps(result))
        (RESULTS / "transcribe-speed-cpu-small.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
    elif what == "long":
        minutes = [int(m) for m in sys.argv[2:]] or [5, 30]
        load = Path("/proc/loadavg").read_text().split()[0]
        result = {"command": f"python bench/transcribe.py long {' '.join(map(str, minutes))}",
                  "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "load_1min_start": load, "threads": os.environ.get("EMOSCOPE_THREADS", "2"),
                  "runs": long(minutes)}  # fmt: skip
        (RESULTS / "transcribe-long-call.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
