"""Nearest-neighbour candidates for "similar recordings" (#27), measured in one run.

    python bench/similar_index.py --db /tmp/simbench/100k.duckdb --out bench/results/similar-100k.json
    python bench/similar_index.py --db /tmp/simbench/1m.duckdb --only exact-numpy,usearch-f16 ...

1. The model's embeddings are read from the database once (batch by batch) into a float32 .npy
   beside the output, L2-normalised; `--queries` tracks are drawn with a fixed seed.
2. The exact answer: the top 20 by cosine (a numpy matmul over every track), the query left out.
3. Each candidate runs in its own process (clean peak memory): build time, peak RSS over the
   process's baseline, size on disk, query p50/p95 (one query at a time, as the dashboard asks)
   and recall@20 against the exact answer.
   - exact-numpy: float32 matmul over all tracks (the index's fallback for narrow filters);
   - exact-duckdb: `array_cosine_similarity` ORDER BY ... LIMIT over the embeddings table;
   - usearch-f16 / usearch-i8: HNSW (connectivity 16, expansion 128/search 64..), vectors f16/i8;
   - faiss-hnsw: IndexHNSWFlat (M 32, efConstruction 80, efSearch 128), inner product;
   - hnswlib: M 16, ef_construction 100, ef 128, cosine;
   - pynndescent: n_neighbors 30, cosine (the library umap-learn uses);
   - faiss-ivf: IndexIVFScalarQuantizer (8-bit, inner product; 1,024 lists trained on 64 rows
     per list, 64 lists probed), its 42 best re-ranked by the exact float32 cosine, as the
     product ranks a graph's candidates.

`--rows FILE` reads the vectors from a similarity index's float32 rows file (the product's
`vectors-g*.f32`, already unit length) instead of the database, and `--tracks N` keeps its first
N rows, so the 100k and 1M figures come from one database in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from core.store.models import list_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

K = 20
CANDIDATES = ("exact-numpy", "exact-duckdb", "usearch-f16", "usearch-i8", "faiss-hnsw",
              "faiss-ivf", "hnswlib", "pynndescent")  # fmt: skip
IVF_LISTS, IVF_PROBES, RERANKED = 1024, 64, 42


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def run_candidate(name: str, work: Path, db: Path, threads: int) -> dict:
    vectors = load_vectors(work)
    queries = np.load(work / "queries.npy")
    truth = np.load(work / "truth.npy")
    n = len(vectors)
    base = rss_mb()
    started = time.perf_counter()
    search, disk = _build(name, vectors, work, db, threads)
    build_s = time.perf_counter() - started
    after_build = rss_mb()
    times, hits = [], 0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        found = search(np.asarray(vectors[q], np.float32), int(q))
        times.append(time.perf_counter() - t0)
        found = [f for f in found if f != q][:K]
        hits += len(set(found) & set(truth[i].tolist()))
    times = np.array(times)
    return {
        "candidate": name, "tracks": n, "build_s": round(build_s, 1),
        "rss_after_build_mb": round(after_build - base), "peak_rss_mb": round(peak_mb() - base),
        "disk_mb": round(disk / 2**20), "query_p50_ms": round(float(np.percentile(times, 50)) * 1e3, 1),
        "query_p95_ms": round(float(np.percentile(times, 95)) * 1e3, 1),
        "recall_at_20": round(hits / (K * len(queries)), 4), "queries": len(queries),
    }  # fmt: skip


def _build(name, vectors, work, db, threads):
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

        index = Index(ndim=dim, metric="cos", dtype=name.split("-")[1], connectivity=16,
                      expansion_add=128, expansion_search=64)  # fmt: skip
        for lo in range(0, n, 50_000):
            hi = min(n, lo + 50_000)
            index.add(np.arange(lo, hi), np.asarray(vectors[lo:hi]), threads=threads)
        path = work / f"{name}.usearch"
        index.save(str(path))
        del index
        index = Index.restore(str(path), view=True)

        def search(q, _):
            return index.search(q, K + 1).keys.tolist()

        return search, path.stat().st_size
    if name == "faiss-hnsw":
        import faiss

        faiss.omp_set_num_threads(threads)
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        for lo in range(0, n, 50_000):
            index.add(np.ascontiguousarray(vectors[lo : min(n, lo + 50_000)], np.float32))
        index.hnsw.efSearch = 128
        path = work / "faiss.index"
        faiss.write_index(index, str(path))
        faiss.omp_set_num_threads(1)

        def search(q, _):
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
        index.nprobe = IVF_PROBES
        path = work / "faiss-ivf.index"
        faiss.write_index(index, str(path))
        faiss.omp_set_num_threads(1)

        def search(q, _):
            rows = index.search(q[None, :], RERANKED)[1][0]
            rows = np.sort(rows[rows >= 0])
            sims = np.asarray(vectors[rows]) @ q
            return rows[np.argsort(-sims)].tolist()

        return search, path.stat().st_size
    if name == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=n, M=16, ef_construction=100)
        for lo in range(0, n, 50_000):
            hi = min(n, lo + 50_000)
            index.add_items(np.asarray(vectors[lo:hi]), np.arange(lo, hi), num_threads=threads)
        index.set_ef(128)
        path = work / "hnswlib.bin"
        index.save_index(str(path))
        index.set_num_threads(1)

        def search(q, _):
            return index.knn_query(q, k=K + 1)[0][0].tolist()

        return search, path.stat().st_size
    if name == "pynndescent":
        import pynndescent

        matrix = np.ascontiguousarray(vectors, np.float32)
        index = pynndescent.NNDescent(matrix, metric="cosine", n_neighbors=30, n_jobs=threads,
                                      random_state=0, low_memory=True)  # fmt: skip
        index.prepare()

        def search(q, _):
            return index.query(q[None, :], k=K + 1)[0][0].tolist()

        return search, 0
    raise SystemExit(f"unknown candidate {name}")


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
    parser.add_argument("--candidate", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    work = args.work or args.db.with_suffix(".bench")
    work.mkdir(parents=True, exist_ok=True)
    if args.candidate:
        print(json.dumps(run_candidate(args.candidate, work, args.db, args.threads)))
        return 0
    report = {"db": args.db.name, "threads": args.threads, "k": K, "machine": f"{os.cpu_count()} cores",
              "data": prepare(args.db, work, args.queries, args.rows, args.tracks),
              "candidates": []}  # fmt: skip
    print(json.dumps(report["data"]), file=sys.stderr, flush=True)
    for name in args.only.split(",") if args.only else CANDIDATES:
        cmd = [sys.executable, __file__, "--db", str(args.db), "--out", str(args.out),
               "--work", str(work), "--threads", str(args.threads), "--candidate", name]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            row = {"candidate": name, "error": done.stderr.strip().splitlines()[-1:]}
        else:
            row = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(row), file=sys.stderr, flush=True)
        report["candidates"].append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
