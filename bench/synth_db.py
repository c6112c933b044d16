"""A realistic synthetic EmoScope database, written through the store's own columnar write path.

    python bench/synth_db.py --clips 1000000 --db /tmp/scale/1m.duckdb [--seed 0]

What it holds (deterministic for a seed and a batch size):
- 400 agents, recording dates spread over the 52 weeks from 2025-01-06;
- 30 % of clips are split calls with two tracks (agent, customer), the rest one track `mix`;
- log-normal durations (median 150 s) clipped to 3-900 s, on the 20 ms frame grid;
- 9 scores per track (softmax of an agent bias, a latent "call type" and noise), a 1024-d
  embedding per track (the call type's centroid plus noise, so clusters exist to be found);
- segments for every track longer than 60 s (windows of 30 s every 25 s, each window's share cut
  at the overlap's midpoint, exactly as core/ingest/longform.py tiles a recording);
- frame curves for `--curve-share` of clips (default 5 %) at their real length (50 frames/s x 9
  logits; the track's scores are the softmax of its mean frame logit, as for a real clip).
  CAP: a curve clip's duration is drawn again and capped at `--curve-max-s` (default 60 s). At
  real call lengths 5 % of 1M clips would be ~18 GB of curves and hours of writing; with the cap
  the curves of 1M clips are ~2 GB. The rest of the corpus keeps its real length distribution.
- transcripts for `--transcript-share` of clips (default 10 %, every track of a chosen clip):
  utterances of 2-12 s with 0.2-2 s pauses over the whole track, each 4-20 words drawn by a
  Zipf law from a fixed vocabulary (English call-centre words, plus Chinese two-character words
  on a fifth of the tracks, written without spaces as SenseVoice writes them), a SenseVoice
  emotion tag, laughter on 3 % and crying on 1 % of lines; no word times (an empty list). Drawn
  from a stream of their own, so the rest of the database is what it was without them.
- one model (`register_model`), one ingest run (`start_run`/`finish_run`) and one `scored`
  outcome per clip, so `integrity_report(store)` is all zeros.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.ingest.longform import OVERLAP_S, WINDOW_S
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.store.batches import write_columns
from core.store.columns import (
    CLIPS,
    FRAME_CURVES,
    OUTCOMES,
    PREDICTIONS,
    SEGMENTS,
    BatchColumns,
    embeddings_schema,
)
from core.store.database import Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import register_model
from core.store.transcripts import write_table

MODEL_KEY = "synthetic-e2v@0"
DIM = 1024
N_AGENTS = 400
N_TYPES = 8  # latent call types: what the Clusters page should find
START = np.datetime64("2025-01-06T00:00:00", "us")
WEEKS = 52
FPS = 50
TAGS = ("billing", "churn", "vip", "escalation", "upsell")


@dataclass(frozen=True)
class SynthSpec:
    """What to generate."""

    clips: int
    seed: int = 0
    batch: int = 20_000
    curve_share: float = 0.05
    curve_max_s: float = 60.0
    corpus: str = "synthetic"
    transcript_share: float = 0.10


def build(db: Path, spec: SynthSpec, on_progress=None) -> dict:
    """Write the synthetic corpus into `db`; return counts and the seconds it took."""
    report = on_progress or (lambda done, total: None)
    store = Store(db)
    register_model(store, MODEL_KEY, "synthetic-emotion2vec", "0", DIM, untrained=True)
    run_id = start_run(store, spec.corpus, MODEL_KEY, spec.clips)
    shared = np.random.default_rng([spec.seed, 0])
    centroids = shared.standard_normal((N_TYPES, DIM), dtype=np.float32)
    type_bias = shared.normal(0, 1.5, (N_TYPES, len(SCORE_COLUMNS))).astype(np.float32)
    agent_bias = shared.normal(0, 0.7, (N_AGENTS, len(SCORE_COLUMNS))).astype(np.float32)
    counts = {
        "clips": 0,
        "tracks": 0,
        "curves": 0,
        "segments": 0,
        "transcribed_tracks": 0,
        "transcript_lines": 0,
    }
    started = time.perf_counter()
    for first in range(0, spec.clips, spec.batch):
        n = min(spec.batch, spec.clips - first)
        rng = np.random.default_rng([spec.seed, 1, first])
        cols = _batch(rng, first, n, spec, centroids, type_bias, agent_bias)
        write_columns(store, run_id, spec.corpus, MODEL_KEY, DIM, cols)
        said, done = _transcripts(np.random.default_rng([spec.seed, 2, first]), cols, spec)
        if done.num_rows:
            counts["transcript_lines"] += write_table(store, ASR_KEY, said, done)
            counts["transcribed_tracks"] += done.num_rows
        counts["clips"] += n
        counts["tracks"] += cols.predictions.num_rows
        counts["curves"] += cols.frame_curves.num_rows
        counts["segments"] += cols.segments.num_rows
        report(first + n, spec.clips)
    finish_run(store, run_id)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def _batch(rng, first, n, spec, centroids, type_bias, agent_bias) -> BatchColumns:
    index = np.arange(first, first + n)
    ids = np.array([hashlib.sha256(f"{spec.seed}:{i}".encode()).hexdigest() for i in index])
    agent = rng.integers(0, N_AGENTS, n)
    kind = rng.integers(0, N_TYPES, n)
    split = rng.random(n) < 0.30
    curve = rng.random(n) < spec.curve_share
    duration = np.clip(rng.lognormal(np.log(150), 0.9, n), 3, 900)
    capped = np.clip(rng.lognormal(np.log(20), 0.8, n), 3, spec.curve_max_s)
    duration = np.round(np.where(curve, capped, duration) * FPS) / FPS  # the 20 ms frame grid
    offset_us = rng.integers(0, WEEKS * 7 * 86_400, n) * 1_000_000
    names = np.array([f"agent-{a:03d}" for a in range(N_AGENTS)])
    tags = [list(rng.choice(TAGS, k, replace=False)) for k in rng.integers(0, 3, n)]
    channels = np.where(split, 2, 1)
    sources = pa.array([f"{names[a]}/call-{i:07d}.wav" for a, i in zip(agent, index, strict=True)])
    clips = pa.Table.from_arrays([
        pa.array(ids), sources,
        pa.nulls(n, pa.string()), pa.array(duration), pa.array(np.full(n, 8000, np.int32)),
        pa.array(channels.astype(np.int32)), pa.array(np.full(n, "pcm_s16le")),
        pa.array((duration * 16_000 * channels).astype(np.int64)), pa.array(names[agent]),
        pa.array(START + offset_us.astype("timedelta64[us]")), pa.nulls(n, pa.string()),
        pa.array(tags, pa.list_(pa.string())), pa.nulls(n, pa.string()),
    ], schema=CLIPS)  # fmt: skip

    # Tracks: one `mix`, or `agent` and `customer` for a split call.
    clip_of = np.concatenate([np.arange(n), np.flatnonzero(split)])
    track = np.concatenate([np.where(split, "agent", "mix"), np.full(split.sum(), "customer")])
    order = np.lexsort((track, clip_of))
    clip_of, track = clip_of[order], track[order]
    t = len(clip_of)
    mean_logit = (type_bias[kind[clip_of]] + agent_bias[agent[clip_of]]
                  + rng.normal(0, 1.0, (t, len(SCORE_COLUMNS))).astype(np.float32))  # fmt: skip
    curves, curve_logits = [], []
    for row in np.flatnonzero(curve[clip_of]):
        frames = round(float(duration[clip_of[row]]) * FPS)
        logits = mean_logit[row] + rng.normal(0, 1.0, (frames, 9)).astype(np.float32)
        mean_logit[row] = logits.mean(axis=0)  # the scores are the mean frame logit's softmax
        curves.append(row)
        curve_logits.append(logits)
    scores = _softmax(mean_logit)
    predictions = pa.Table.from_arrays(
        [pa.array(ids[clip_of]), pa.array(track)] + [pa.array(scores[:, j]) for j in range(9)],
        schema=PREDICTIONS,
    )
    vectors = centroids[kind[clip_of]] + rng.standard_normal((t, DIM), dtype=np.float32)
    embeddings = pa.Table.from_arrays(
        [pa.array(ids[clip_of]), pa.array(track),
         pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM)],
        schema=embeddings_schema(DIM),
    )  # fmt: skip
    return replace(
        BatchColumns.empty(DIM),
        clips=clips,
        predictions=predictions,
        embeddings=embeddings,
        frame_curves=_curves(ids[clip_of], track, curves, curve_logits),
        segments=_segments(rng, ids[clip_of], track, duration[clip_of], scores),
        outcomes=pa.Table.from_arrays(
            [
                sources,
                pa.array(ids),
                pa.array(np.full(n, "scored")),
                pa.array(duration),
                pa.nulls(n, pa.string()),
            ],
            schema=OUTCOMES,
        ),
    )


def _curves(ids, track, rows, logits) -> pa.Table:
    if not rows:
        return FRAME_CURVES.empty_table()
    sizes = np.array([len(x) for x in logits], np.int32)
    offsets = np.zeros(len(rows) + 1, np.int32)
    np.cumsum(sizes * 9, out=offsets[1:])
    values = pa.array(np.concatenate([x.ravel() for x in logits]))
    return pa.Table.from_arrays(
        [pa.array(ids[rows]), pa.array(track[rows]), pa.array(sizes),
         pa.ListArray.from_arrays(pa.array(offsets), values)],
        schema=FRAME_CURVES,
    )  # fmt: skip


def segment_bounds(duration_s: float) -> list[tuple[float, float]]:
    """Each window's share of a recording: 30 s windows every 25 s, cut at overlap midpoints."""
    hop = WINDOW_S - OVERLAP_S
    starts = [0.0]
    while starts[-1] + WINDOW_S < duration_s - 1e-9 and duration_s - (starts[-1] + hop) > OVERLAP_S:
        starts.append(starts[-1] + hop)
    cuts = [s + OVERLAP_S / 2 for s in starts[1:]]
    return list(zip([0.0, *cuts], [*cuts, duration_s], strict=True))


def _segments(rng, ids, track, duration, scores) -> pa.Table:
    long_rows = np.flatnonzero(duration > 60.0)
    if len(long_rows) == 0:
        return SEGMENTS.empty_table()
    rows, index, start, end = [], [], [], []
    for row in long_rows:
        for i, (lo, hi) in enumerate(segment_bounds(float(duration[row]))):
            rows.append(row)
            index.append(i)
            start.append(lo)
            end.append(hi)
    rows = np.array(rows)
    noisy = np.log(scores[rows]) + rng.normal(0, 0.5, (len(rows), 9)).astype(np.float32)
    return pa.Table.from_arrays(
        [pa.array(ids[rows]), pa.array(track[rows]), pa.array(np.array(index, np.int32)),
         pa.array(np.array(start)), pa.array(np.array(end)),
         pa.FixedSizeListArray.from_arrays(pa.array(_softmax(noisy).ravel()), 9)],
        schema=SEGMENTS,
    )  # fmt: skip


ASR_KEY = "synthetic-sensevoice@0"
EN_TEXT = (
    "hello thanks calling account bill billing refund charge charged payment card bank order"
    " delivery late parcel cancel cancelled contract price plan upgrade discount offer broken"
    " replace return manager supervisor complaint angry sorry apologise understand problem"
    " issue fixed working internet router signal phone number address email password reset"
    " login error message screen today tomorrow week month yesterday minutes hours wait"
    " waiting transfer transferred hold please help great perfect happy terrible awful"
    " disappointed frustrated again still never always really exactly okay right fine sure"
    " customer service engineer appointment visit confirm confirmed reference ticket case"
    " escalate escalation policy fee fees interest overdraft balance statement letter"
)
ZH_TEXT = (
    "你好 谢谢 账户 账单 退款 费用 扣费 付款 银行 订单 快递 延迟 取消 合同 价格 套餐 升级 优惠"
    " 投诉 经理 主管 抱歉 理解 问题 故障 网络 信号 电话 地址 邮箱 密码 登录 错误 今天 明天"
    " 等待 转接 帮助 满意 失望 生气 客服 工程师 预约 确认 工单 处理 政策 余额"
)
EN_WORDS, ZH_WORDS = tuple(EN_TEXT.split()), tuple(ZH_TEXT.split())
SV_EMOTIONS = ("neutral", "neutral", "neutral", "happy", "sad", "angry", "surprised")


def _transcripts(rng, cols: BatchColumns, spec: SynthSpec) -> tuple[pa.Table, pa.Table]:
    """Utterances of `spec.transcript_share` of this batch's clips (every track of a chosen
    clip), as write_table takes them: (segments, tracks done)."""
    ids = cols.predictions.column("clip_id").to_numpy(zero_copy_only=False)
    tracks = cols.predictions.column("track").to_numpy(zero_copy_only=False)
    length = dict(zip(cols.clips.column("clip_id").to_pylist(),
                      cols.clips.column("duration_s").to_pylist(), strict=True))  # fmt: skip
    # np.unique, not set(): a set's order follows PYTHONHASHSEED, and the draws must not.
    chosen_set = {c for c in np.unique(ids) if rng.random() < spec.transcript_share}
    scores = np.stack([cols.predictions.column(c).to_numpy() for c in SCORE_COLUMNS], axis=1)
    en_p = 1.0 / np.arange(1, len(EN_WORDS) + 1) ** 1.1
    zh_p = 1.0 / np.arange(1, len(ZH_WORDS) + 1) ** 1.1
    en_p, zh_p = en_p / en_p.sum(), zh_p / zh_p.sum()
    lines: dict[str, list] = {k: [] for k in ("clip_id", "track", "segment", "start_s", "end_s",
                                               "text", "language", "emotion", "events", "scores",
                                               "top_label", "confidence")}  # fmt: skip
    done = {"clip_id": [], "track": [], "n_segments": []}
    for row in np.flatnonzero([c in chosen_set for c in ids]):
        chinese = rng.random() < 0.2
        words, p = (ZH_WORDS, zh_p) if chinese else (EN_WORDS, en_p)
        end, at, n = length[ids[row]], float(rng.uniform(0.2, 2.0)), 0
        while at + 2.0 <= end:
            stop = min(end, at + float(rng.uniform(2.0, 12.0)))
            picked = rng.choice(len(words), int(rng.integers(4, 21)), p=p)
            noisy = _softmax(np.log(scores[row : row + 1]) + rng.normal(0, 0.5, (1, 9)))[0]
            event = rng.random()
            for key, value in (("clip_id", ids[row]), ("track", tracks[row]), ("segment", n),
                               ("start_s", round(at, 2)), ("end_s", round(stop, 2)),
                               ("text", ("" if chinese else " ").join(words[i] for i in picked)),
                               ("language", "zh" if chinese else "en"),
                               ("emotion", SV_EMOTIONS[int(rng.integers(len(SV_EMOTIONS)))]),
                               ("events", ["laughter"] if event < 0.03 else
                                          ["cry"] if event < 0.04 else []),
                               ("scores", noisy.tolist()),
                               ("top_label", EMOTIONS[int(noisy.argmax())]),
                               ("confidence", float(noisy.max()))):  # fmt: skip
                lines[key].append(value)
            n += 1
            at = stop + float(rng.uniform(0.2, 2.0))
        done["clip_id"].append(ids[row])
        done["track"].append(tracks[row])
        done["n_segments"].append(n)
    count = len(lines["clip_id"])
    said = pa.table({
        **{k: lines[k] for k in ("clip_id", "track")},
        "segment": pa.array(lines["segment"], pa.int32()),
        **{k: lines[k] for k in ("start_s", "end_s", "text", "language", "emotion")},
        "events": pa.array(lines["events"], pa.list_(pa.string())),
        "words": pa.array([[]] * count, pa.list_(pa.struct(
            [("word", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())]))),
        "model_key": pa.array([MODEL_KEY] * count, pa.string()),
        "scores": pa.array(lines["scores"], pa.list_(pa.float32(), 9)),
        "top_label": lines["top_label"],
        "confidence": pa.array(lines["confidence"], pa.float32()),
    })  # fmt: skip
    return said, pa.table({"clip_id": done["clip_id"], "track": done["track"],
                           "n_segments": pa.array(done["n_segments"], pa.int32())})  # fmt: skip


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--curve-share", type=float, default=0.05)
    parser.add_argument("--curve-max-s", type=float, default=60.0)
    parser.add_argument("--transcript-share", type=float, default=0.10)
    args = parser.parse_args(argv)
    spec = SynthSpec(
        args.clips,
        args.seed,
        args.batch,
        args.curve_share,
        args.curve_max_s,
        transcript_share=args.transcript_share,
    )

    def progress(done: int, total: int) -> None:
        print(f"{datetime.now():%H:%M:%S} {done}/{total} clips", file=sys.stderr, flush=True)

    counts = build(args.db, spec, progress)
    counts["db_bytes"] = args.db.stat().st_size
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
