"""Held-out check of `python -m core evaluate` on RAVDESS: recompute everything from the file.

    python bench/model_check_ravdess.py [--model DIR] [--db /tmp/check/ravdess.duckdb]

Ingests ../shared/data/ravdess-16k (1,440 clips, `--manifest manifest.csv --label-column
emotion`) through the CLI, runs `evaluate --json`, then recomputes the confusion matrix, the
per-class figures, accuracy and macro-F1 from the stored rows with its own SQL, its own mapping
of RAVDESS's eight words and its own arithmetic (none of core.analysis.evaluation), and requires the
confusion matrix and counts to be equal exactly. Writes bench/results/model-check-ravdess.md.
Without --model it builds the untrained tiny test model, whose numbers mean nothing: the point
is that the report and the recomputation agree.
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

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT.parent / "shared" / "data" / "ravdess-16k"
CLASSES = ("angry", "disgusted", "fearful", "happy", "neutral", "other", "sad", "surprised",
           "unknown")  # fmt: skip
# RAVDESS's words, mapped here by hand (calm has no class of its own: neutral).
RAVDESS_MAP = {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad",
               "angry": "angry", "fearful": "fearful", "disgust": "disgusted",
               "surprised": "surprised"}  # fmt: skip


def cli(*args) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stderr}")
    return done, time.perf_counter() - start


def recompute(db: Path) -> dict:
    """Confusion, per-class and overall figures from the stored rows, independently."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT c.label, p.top_label FROM clips c JOIN corpora co USING (corpus_id)"
            " JOIN predictions p ON p.clip_id = c.clip_id WHERE co.name = 'ravdess'"
        ).fetchall()
    confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
    for label, top in rows:
        confusion[CLASSES.index(RAVDESS_MAP[label]), CLASSES.index(top)] += 1
    f1s, per_class = [], {}
    for i, name in enumerate(CLASSES):
        tp, n, predicted = confusion[i, i], confusion[i].sum(), confusion[:, i].sum()
        f1 = 2 * tp / (n + predicted) if n + predicted else None
        per_class[name] = {"n": int(n), "predicted": int(predicted), "f1": f1}
        if n:
            f1s.append(f1)
    return {"confusion": confusion, "n": len(rows), "per_class": per_class,
            "accuracy": np.trace(confusion) / len(rows), "macro_f1": sum(f1s) / len(f1s)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: a fresh untrained tiny one)")
    parser.add_argument("--db", type=Path, default=Path("/tmp/check/ravdess.duckdb"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/model-check-ravdess.md")
    args = parser.parse_args()
    if not RAVDESS.exists():
        raise SystemExit(f"{RAVDESS} is absent")
    model = args.model or str(Path(tempfile.mkdtemp()) / "tiny")
    if not args.model:
        cli("make-test-model", model)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    args.db.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    ingested, ingest_s = cli("ingest", RAVDESS, "--corpus", "ravdess", "--manifest",
                             RAVDESS / "manifest.csv", "--label-column", "emotion",
                             "--model", model, "--db", args.db, "--json")  # fmt: skip
    evaluated, evaluate_s = cli("evaluate", "--corpus", "ravdess", "--db", args.db, "--json")
    report = json.loads(evaluated.stdout.splitlines()[-1])["models"][0]
    mine = recompute(args.db)
    same_confusion = report["confusion"] == mine["confusion"].tolist()
    same_counts = all(c["n"] == mine["per_class"][c["class"]]["n"]
                      and c["predicted"] == mine["per_class"][c["class"]]["predicted"]
                      for c in report["per_class"])  # fmt: skip
    acc_diff = abs(report["accuracy"]["value"] - mine["accuracy"])
    f1_diff = abs(report["macro_f1"]["value"] - mine["macro_f1"])
    header = "| label \\ model | " + " | ".join(CLASSES) + " |"
    table = [header, "|" + "---|" * (len(CLASSES) + 1)] + [
        f"| {name} | " + " | ".join(str(v) for v in row) + " |"
        for name, row in zip(CLASSES, mine["confusion"], strict=True) if row.sum()
    ]  # fmt: skip
    lines = [
        "# Model check on RAVDESS, recomputed from the stored rows",
        "",
        f"`python bench/model_check_ravdess.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" model `{report['model_key']}`{' — untrained test model: the numbers mean nothing' if report['untrained'] else ''}).",
        "",
        f"- ingest of {mine['n']} clips with `--manifest manifest.csv --label-column emotion`: "
        f"{ingest_s:.1f} s ({json.loads(ingested.stdout.splitlines()[-1])}), load average "
        f"{load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end",
        f"- `python -m core evaluate --corpus ravdess --json`: {evaluate_s:.2f} s wall "
        "(process start, imports, queries, 1000 bootstrap resamples)",
        f"- reported: accuracy {report['accuracy']['value']:.4f} "
        f"[{report['accuracy']['low']:.4f}, {report['accuracy']['high']:.4f}], macro-F1 "
        f"{report['macro_f1']['value']:.4f} [{report['macro_f1']['low']:.4f}, "
        f"{report['macro_f1']['high']:.4f}]",
        f"- recomputed independently (own SQL, own mapping, own arithmetic): confusion matrix "
        f"{'EQUAL' if same_confusion else 'DIFFERENT'}, per-class n and predicted counts "
        f"{'EQUAL' if same_counts else 'DIFFERENT'}, |accuracy difference| = {acc_diff:.1e}, "
        f"|macro-F1 difference| = {f1_diff:.1e}",
        "",
        "Confusion matrix (rows: RAVDESS's label mapped to the nine classes; calm -> neutral):",
        "",
        *table,
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if same_confusion and same_counts and acc_diff == 0 and f1_diff < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
