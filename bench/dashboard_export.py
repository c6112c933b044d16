"""The dashboard's first export after a CLI ingest (#29), against the next one, in one run.

    python bench/dashboard_export.py --db /tmp/scale/1m.duckdb [--rounds 2]

The dashboard holds one long-lived Store. Before #29 its first write after another process had
written (an export's audit row, after a nightly `python -m core ingest`) read and checksummed the
whole file first. Each round, in this process (the dashboard's place):
1. a real CLI ingest in another process (5 spoken-like clips, the untrained test model);
2. the dashboard's export path as the Exports page runs it: `export_to_temp` (Parquet of all
   clips) and the audit row, timed apart: the first after the ingest;
3. the same again at once: the baseline, with nothing written in between.
Writes bench/results/dashboard-export-<clips>.json and prints it. The database gains a small
corpus `bench-ingest` per round (deleted at the end) and a few audit rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.access import audit
from core.store import export
from core.store.database import Store
from core.store.models import list_models

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, check=True,
                   capture_output=True, text=True)  # fmt: skip
    return round(time.perf_counter() - started, 2)


def clips(folder: Path, round_no: int) -> Path:
    rng = np.random.default_rng(round_no)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(5):  # new audio each round: the ingest writes, never answers from its cache
        sf.write(folder / f"call-{round_no}-{i}.wav", 0.1 * rng.standard_normal(16_000 * 3), 16_000)
    return folder


def dashboard_export(store: Store, model_key: str) -> dict:
    """The Exports page's work for one click: the file, then its audit row."""
    started = time.perf_counter()
    path = export.export_to_temp(store, "clips", "parquet", model_key)
    written = time.perf_counter()
    audit.record(store, "bench@example.com", "export", "clips.parquet (bench)")
    done = time.perf_counter()
    rows = _rows(path)
    path.unlink()
    path.parent.rmdir()
    return {"export_s": round(written - started, 2), "audit_s": round(done - written, 3),
            "total_s": round(done - started, 2), "rows": rows}  # fmt: skip


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    db = args.db.resolve()
    work = Path(tempfile.mkdtemp(prefix="emoscope-bench-"))
    model = work / "test-model"
    cli("make-test-model", str(model))
    store = Store(db, busy_timeout_s=15)  # the dashboard's: opened once, kept
    model_key = list_models(store).model_key[0]  # the most results: the synthetic corpus's
    result = {"db": str(db), "size_gib": round(db.stat().st_size / 2**30, 2), "rounds": []}
    for r in range(args.rounds):
        ingest_s = cli("ingest", str(clips(work / f"round-{r}", r)), "--corpus", "bench-ingest",
                       "--model", str(model), "--db", str(db))  # fmt: skip
        first = dashboard_export(store, model_key)
        again = dashboard_export(store, model_key)
        result["rounds"].append({"cli_ingest_s": ingest_s, "first_after_ingest": first,
                                 "next": again})  # fmt: skip
        print(json.dumps(result["rounds"][-1]), flush=True)
    result["deleted"] = cli("delete-corpus", "bench-ingest", "--yes", "--db", str(db))
    clips_n = result["rounds"][0]["next"]["rows"]
    out = ROOT / "bench" / "results" / f"dashboard-export-{clips_n}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
