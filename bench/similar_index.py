"""Nearest-neighbour candidates for "similar recordings" (#27), measured in one run.

    python bench/similar_index.py --db /tmp/simbench/100k.duckdb --out bench/results/similar-100k.json
    python bench/similar_index.py --db /tmp/simbench/1m.duckdb --only exact-numpy,usearch-f16 ...

1. The model's embeddings are read from the database once (batch by batch) into a float32 .npy
   beside the output, L2-normalised; `--queries` tracks are drawn with a fixed seed.
2. The exact answer: the top 20 by cosine (a numpy matmul over every track), the query left out.
3. Each candidate runs in its own process (clean peak memory): build time, peak RSS over the
   process's baseline and size on disk; then, for each search breadth of its ladder (`BREADTHS`:
   graph candidates, ef, probed lists ...), query p50/p95 (one query at a time, as the dashboard
   asks) and recall@20 against the exact answer. The row a candidate is judged by is the
   cheapest breadth whose recall reaches RECALL_MIN, the bar the product's own calibration sets
   (core.search.calibration); a candidate whose ladder never reaches it is marked so.
   Graph candidates are re-ranked by the exact float32 cosine, as the product re-ranks.
   - exact-numpy: float32 matmul over all tracks (the index's fallback for narrow filters);
   - exact-duckdb: `array_cosine_similarity` ORDER BY ... LIMIT over the embeddings table;
   - usearch-f16 / usearch-i8: HNSW (connectivity 16, expansion_add 128), vectors f16/i8; the
     breadth is the number of candidates asked for (the product's setting, f16);
   - usearch-product: the product's own graph beside the database (`--graph FILE`), not built
     here (its build time is in bench/results/similar-scale-*-graph.md);
   - faiss-hnsw: IndexHNSWFlat (M 32, efConstruction 80), inner product; breadth = efSearch;
   - hnswlib: M 16, ef_construction 100, cosine; breadth = ef;
   - pynndescent: n_neighbors 30, cosine (the library umap-learn uses); breadth = epsilon x 100;
   - faiss-ivf: IndexIVFScalarQuantizer (8-bit, inner product; 1,024 lists trained on 64 rows
     per list); breadth = lists probed, the best max(8k, 256) re-ranked exactly.

Packages: faiss-cpu and pynndescent (with umap-learn) come with requirements.txt; the others
are for this bench only: `.venv/bin/python -m pip install usearch==2.26.6 hnswlib==0.8.0`
(a candidate whose package is missing is reported as failed, the others still run).

`--rows FILE` reads the vectors from a similarity index's float32 rows file (the product's
`vectors-g*.f32`, already unit length) instead of the database, and `--tracks N` keeps its first
N rows, so the 100k and 1M figures come from one database in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from core.store.models import list_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

K = 20
CANDIDATES = (
    "exact-numpy",
    "exact-duckdb",
    "usearch-f16",
    "usearch-i8",
    "faiss-hnsw",
    "faiss-ivf",
    "hnswlib",
    "pynndescent",
)  # fmt: skip (usearch-product: with --graph)
IVF_LISTS = 1024
RECALL_MIN = 0.95
# Each candidate's search breadths, cheapest first.
BREADTHS = {
    "exact-numpy": (0,), "exact-duckdb": (0,),
    "usearch-f16": (64, 256, 1024, 4096, 16384), "usearch-i8": (64, 256, 1024, 4096, 16384),
    "usearch-product": (256, 1024, 4096, 16384),
    "faiss-hnsw": (64, 256, 1024, 4096, 16384), "hnswlib": (64, 256, 1024, 4096, 16384),
    "pynndescent": (10, 20, 40, 80), "faiss-ivf": (16, 64, 256, 1024),
}  # fmt: skip
RERANKED_MIN = 256  # graph proposals re-ranked exactly: max(8k, this), as the product does


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """The process's peak resident memory (VmHWM: unlike ru_maxrss, Linux does not carry it
    over from the parent that forked this child)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def prepare(db: Path, work: Path, n_queries: int, rows: Path | None, tracks: int | None) -> dict:
    """Vectors (normalised, float32), the query rows and the exact top-20 of each."""
    from core.search.index import read_embeddings
    from core.store.database import Store

    store = Store(db)
    model_key = str(list_models(store).model_key.iloc[0])
    started = time.perf_counter()
    if rows is not None:
        from core.store.models import embedding_dim_of

        dim = embedding_dim_of(store, model_key)
        total = rows.stat().st_size // (4 * dim)
        n = min(total, tracks or total)
        matrix = np.memmap(rows, np.float32, "r", shape=(n, dim))
        (work / "vectors.json").write_text(json.dumps({"path": str(rows), "shape": [n, dim]}))
        keys = None
    else:
        keys, matrix = read_embeddings(store, model_key)
        matrix = matrix[: tracks or len(matrix)]
        np.save(work / "vectors.npy", matrix)
        (work / "vectors.json").unlink(missing_ok=True)
    read_s = time.perf_counter() - started
    n = len(matrix)
    queries = np.random.default_rng(0).choice(n, n_queries, replace=False)
    truth = np.empty((n_queries, K), np.int64)
    for lo in range(0, n_queries, 50):  # 50 queries per pass over the rows
        q = queries[lo : lo + 50]
        sims = np.concatenate([matrix[a : a + 65_536] @ matrix[q].T for a in range(0, n, 65_536)])
        sims[q, np.arange(len(q))] = -np.inf
        for j in range(len(q)):
            top = np.argpartition(-sims[:, j], K)[:K]
            truth[lo + j] = top[np.argsort(-sims[top, j])]
    np.save(work / "queries.npy", queries)
    np.save(work / "truth.npy", truth)
    if keys is not None:
        np.save(work / "keys.npy", np.array([f"{c}/{t}" for c, t in keys[:n]]))
    return {"tracks": n, "dim": int(matrix.shape[1]), "model_key": model_key,
            "read_embeddings_s": round(read_s, 1)}  # fmt: skip


def load_vectors(work: Path) -> np.ndarray:
    spec = work / "vectors.json"
    if spec.exists():
        facts = json.loads(spec.read_text())
        return np.memmap(facts["path"], np.float32, "r", shape=tuple(facts["shape"]))
    return np.load(work / "vectors.npy", mmap_mode="r")


def run_candidate(name: str, work: Path, db: Path, threads: int, graph: Path | None) -> dict:
    vectors = load_vectors(work)
    queries = np.load(work / "queries.npy")
    truth = np.load(work / "truth.npy")
    n = len(vectors)
    base = rss_mb()
    started = time.perf_counter()
    search, disk = _build(name, vectors, work, db, threads, graph)
    build_s = time.perf_counter() - started
    after_build = rss_mb()
    sweep = [_measure(search, breadth, vectors, queries, truth) for breadth in BREADTHS[name]]
    chosen = next((row for row in sweep if row["recall_at_20"] >= RECALL_MIN), None)
    return {
        "candidate": name, "tracks": n, "build_s": round(build_s, 1),
        "rss_after_build_mb": round(after_build - base), "peak_rss_mb": round(peak_mb() - base),
        "disk_mb": round(disk / 2**20), "queries": len(queries), "sweep": sweep,
        "at_recall_min": chosen,
    }  # fmt: skip


def _measure(search, breadth: int, vectors, queries, truth) -> dict:
    """p50/p95 and recall@20 of one search breadth over every query."""
    times, hits = [], 0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        found = search(np.asarray(vectors[q], np.float32), breadth)
        times.append(time.perf_counter() - t0)
        found = [f for f in found if f != q][:K]
        hits += len(set(found) & set(truth[i].tolist()))
    times = np.array(times)
    return {"breadth": breadth, "query_p50_ms": round(float(np.percentile(times, 50)) * 1e3, 1),
            "query_p95_ms": round(float(np.percentile(times, 95)) * 1e3, 1),
            "recall_at_20": round(hits / (K * len(queries)), 4)}  # fmt: skip


def _reranked(rows: np.ndarray, vectors, q: np.ndarray) -> list[int]:
    """Proposals (best first) re-ranked by the exact cosine: the best max(8k, 256) of them."""
    rows = np.asarray(rows, np.int64)
    rows = np.sort(rows[rows >= 0][: max(8 * K, RERANKED_MIN)])
    sims = np.asarray(vectors[rows]) @ q
    return rows[np.argsort(-sims)][: K + 1].tolist()


def _build(name, vectors, work, db, threads, graph=None):
    n, dim = vectors.shape
    if name == "exact-numpy":
        matrix = np.ascontiguousarray(vectors, np.float32)

        def search(q, _):
            sims = matrix @ q
            top = np.argpartition(-sims, K + 1)[: K + 1]
            return top[np.argsort(-sims[top])].tolist()

        return search, matrix.nbytes
    if name == "exact-duckdb":
        import duckdb

        from core.store.schema import embedding_table

        keys = np.load(work / "keys.npy")
        row_of = {k: i for i, k in enumerate(keys.tolist())}
        con = duckdb.connect(str(db), read_only=True)
        model_key, d = con.execute("SELECT model_key, embedding_dim FROM models").fetchone()
        table = embedding_table(d)

        def search(q, _):
            rows = con.execute(
                f"SELECT clip_id || '/' || track FROM {table} WHERE model_key = ?"
                f" ORDER BY array_cosine_similarity(embedding, ?::FLOAT[{d}]) DESC LIMIT ?",
                [model_key, q.tolist(), K + 1],
            ).fetchall()
            return [row_of[r[0]] for r in rows]

        return search, 0
    if name.startswith("usearch"):
        from usearch.index import Index

        if name == "usearch-product":
            if graph is None:
                raise SystemExit("usearch-product needs --graph (the index's graph-g*.usearch)")
            path = graph
        else:
            index = Index(ndim=dim, metric="cos", dtype=name.split("-")[1], connectivity=16,
                          expansion_add=128, expansion_search=64)  # fmt: skip
            for lo in range(0, n, 50_000):
                hi = min(n, lo + 50_000)
                index.add(np.arange(lo, hi), np.asarray(vectors[lo:hi]), threads=threads)
            path = work / f"{name}.usearch"
            index.save(str(path))
            del index
        index = Index.restore(str(path), view=True)

        def search(q, breadth):
            rows = index.search(q, breadth).keys
            return _reranked(rows[rows < n], vectors, q)

        return search, path.stat().st_size
    if name == "faiss-hnsw":
        import faiss

        faiss.omp_set_num_threads(threads)
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        for lo in range(0, n, 50_000):
            index.add(np.ascontiguousarray(vectors[lo : min(n, lo + 50_000)], np.float32))
        path = work / "faiss.index"
        faiss.write_index(index, str(path))
        faiss.omp_set_num_threads(1)

        def search(q, breadth):  # HNSWFlat keeps the float32 rows: its distances are exact
            index.hnsw.efSearch = breadth
            return index.search(q[None, :], K + 1)[1][0].tolist()

        return search, path.stat().st_size
    if name == "faiss-ivf":
        import faiss

        faiss.omp_set_num_threads(threads)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, IVF_LISTS,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)  # fmt: skip
        sample = np.random.default_rng(1).choice(n, min(n, 64 * IVF_LISTS), replace=False)
        index.train(np.ascontiguousarray(vectors[np.sort(sample)], np.float32))
        for lo in range(0, n, 50_000):
            index.add(np.ascontiguousarray(vectors[lo : min(n, lo + 50_000)], np.float32))
        path = work / "faiss-ivf.index"
        faiss.write_index(index, str(path))
        faiss.omp_set_num_threads(1)

        def search(q, breadth):
            index.nprobe = breadth
            return _reranked(index.search(q[None, :], RERANKED_MIN)[1][0], vectors, q)

        return search, path.stat().st_size
    if name == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=n, M=16, ef_construction=100)
        for lo in range(0, n, 50_000):
            hi = min(n, lo + 50_000)
            index.add_items(np.asarray(vectors[lo:hi]), np.arange(lo, hi), num_threads=threads)
        path = work / "hnswlib.bin"
        index.save_index(str(path))
        index.set_num_threads(1)

        def search(q, breadth):  # hnswlib keeps the float32 rows: its distances are exact
            index.set_ef(breadth)
            return index.knn_query(q, k=K + 1)[0][0].tolist()

        return search, path.stat().st_size
    if name == "pynndescent":
        import pynndescent

        matrix = np.ascontiguousarray(vectors, np.float32)
        index = pynndescent.NNDescent(matrix, metric="cosine", n_neighbors=30, n_jobs=threads,
                                      random_state=0, low_memory=True)  # fmt: skip
        index.prepare()

        def search(q, breadth):
            return index.query(q[None, :], k=K + 1, epsilon=breadth / 100)[0][0].tolist()

        return search, 0
    raise SystemExit(f"unknown candidate {name}")


def markdown(report: dict, command: str) -> str:
    """The report as a table: each candidate's build and memory, and its cheapest breadth that
    reaches RECALL_MIN (else its best), then every breadth measured."""
    data = report["data"]
    lines = [f"# Similar recordings (#27): index candidates at {data['tracks']:,} tracks x {data['dim']}",
             "", f"`{command}`", "",
             f"{report.get('when', '')}, {report['machine']}, {report['threads']} build threads; "
             f"{report['candidates'][0].get('queries', '')} queries one at a time, k = {K}, recall "
             f"against an exact numpy top-{K}. Judged at the cheapest search breadth reaching "
             f"recall {RECALL_MIN} (the product's calibration bar).", "",
             *([report["note"], ""] if report.get("note") else []),
             "| candidate | build | peak memory | on disk | breadth | p50 | p95 | recall@20 |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in report["candidates"]:
        if "error" in row:
            lines.append(f"| {row['candidate']} | failed: {' '.join(row['error'])} | | | | | | |")
            continue
        best = row["at_recall_min"] or max(row["sweep"], key=lambda x: x["recall_at_20"])
        mark = "" if row["at_recall_min"] else " (never reaches the bar)"
        lines.append(f"| {row['candidate']} | {row['build_s']:,.1f} s | {row['peak_rss_mb']:,} MB |"
                     f" {row['disk_mb']:,} MB | {best['breadth']}{mark} | {best['query_p50_ms']} ms |"
                     f" {best['query_p95_ms']} ms | {best['recall_at_20']} |")  # fmt: skip
    lines += ["", "Every breadth (p50 / p95 ms, recall@20):", ""]
    for row in report["candidates"]:
        if "sweep" in row:
            sweep = "; ".join(f"{x['breadth']}: {x['query_p50_ms']} / {x['query_p95_ms']},"
                              f" {x['recall_at_20']}" for x in row["sweep"])  # fmt: skip
            lines.append(f"- {row['candidate']}: {sweep}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="scratch folder (default: beside --db)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--only", help="comma-separated candidates (default: all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rows", type=Path, help="an index's vectors-g*.f32 rows file to use")
    parser.add_argument("--tracks", type=int, help="use the first N tracks only")
    parser.add_argument(
        "--graph", type=Path, help="the product's graph-g*.usearch (usearch-product)"
    )
    parser.add_argument("--candidate", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--render", action="store_true", help="only write --out's .md from it")
    args = parser.parse_args(argv)
    command = "python bench/similar_index.py " + " ".join(argv or sys.argv[1:])
    if args.render:
        report = json.loads(args.out.read_text())
        args.out.with_suffix(".md").write_text(markdown(report, report.get("command", command)))
        return 0
    work = args.work or args.db.with_suffix(".bench")
    work.mkdir(parents=True, exist_ok=True)
    if args.candidate:
        print(json.dumps(run_candidate(args.candidate, work, args.db, args.threads, args.graph)))
        return 0
    report = {"db": args.db.name, "threads": args.threads, "k": K, "machine": f"{os.cpu_count()} cores",
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": command,
              "data": prepare(args.db, work, args.queries, args.rows, args.tracks),
              "candidates": []}  # fmt: skip
    print(json.dumps(report["data"]), file=sys.stderr, flush=True)
    for name in args.only.split(",") if args.only else CANDIDATES:
        cmd = [sys.executable, __file__, "--db", str(args.db), "--out", str(args.out),
               "--work", str(work), "--threads", str(args.threads), "--candidate", name,
               *(["--graph", str(args.graph)] if args.graph else [])]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            row = {"candidate": name, "error": done.stderr.strip().splitlines()[-1:]}
        else:
            row = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(row), file=sys.stderr, flush=True)
        report["candidates"].append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
