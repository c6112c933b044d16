"""How many candidates a search must take from the HNSW graph, measured on the index's own rows.

An HNSW graph only proposes candidates, and how many it must propose for the true nearest
tracks to be among them depends on the data: on the bench's synthetic embeddings (isotropic
noise around a few centres) at 1.3M tracks, the 60 candidates a k = 20 search took found 24 % of
the true 20 nearest, 4,096 found 87 % and 16,384 found 97 % (bench/results/
similar-scale-1300191-graph.md); on RAVDESS 64 are enough. So after every build or patch of the
graph, `calibrate` searches it for a seeded sample of its own rows, compares with the exact
ranking of the mapped float32 rows, and keeps the smallest count on LADDER that reaches
RECALL_MIN. When none does, searches do not use the graph at all and scan the rows exactly:
never wrong, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.search.index import graph_candidates, scan_rows, usearch_index

RECALL_MIN = 0.95  # recall@NEIGHBOURS a graph must reach on the sample to be used
NEIGHBOURS = 20  # the k the calibration measures (the CLI's and the page's default)
SAMPLE = 32  # rows of the index searched for; each costs one exact scan of every row
LADDER = (64, 256, 1024, 4096, 16384)  # candidate counts tried, smallest first


@dataclass(frozen=True)
class Calibration:
    """What the sample showed."""

    candidates: int  # graph candidates per NEIGHBOURS results; 0 when no count on LADDER sufficed
    recall: float  # recall@NEIGHBOURS at that count (at the largest count tried when 0)


def calibrate(vectors: np.ndarray, graph_path: Path, seed: int = 0) -> Calibration:
    """The fewest graph candidates (per NEIGHBOURS results) that find at least RECALL_MIN of
    the exact nearest rows, for a seeded sample of the graph's own rows."""
    graph = usearch_index().restore(str(graph_path), view=True)
    members = np.sort(np.asarray(graph.keys, np.int64))
    in_graph = np.zeros(len(vectors), bool)
    in_graph[members] = True
    picks = np.random.default_rng(seed).choice(members, min(SAMPLE, len(members)), replace=False)
    truths = [_exact_nearest(vectors, in_graph, row) for row in picks]
    recall = 0.0
    for count in LADDER:
        count = min(count, len(members))
        found = [_graph_nearest(graph, vectors, row, count) for row in picks]
        recall = float(np.mean([_recall(f, t) for f, t in zip(found, truths, strict=True)]))
        if recall >= RECALL_MIN:
            return Calibration(count, recall)
        if count == len(members):
            break
    return Calibration(0, recall)


def _exact_nearest(vectors: np.ndarray, in_graph: np.ndarray, row: int) -> set[int]:
    """The NEIGHBOURS rows of the graph nearest to `row` by exact cosine, itself left out."""
    sims = scan_rows(vectors, np.asarray(vectors[row]), len(vectors))
    sims[~in_graph] = -np.inf
    sims[row] = -np.inf
    want = min(NEIGHBOURS, int(in_graph.sum()) - 1)
    return set(np.argpartition(-sims, want)[:want].tolist()) if want > 0 else set()


def rescored(want: int) -> int:
    """How many of the graph's best proposals a search re-scores exactly for `want` rows."""
    return max(8 * want, 256)


def _graph_nearest(graph, vectors: np.ndarray, row: int, count: int) -> set[int]:
    """The NEIGHBOURS best of the graph's `count` candidates for `row`, re-scored exactly as a
    search re-scores them (core.search.similar)."""
    query = np.asarray(vectors[row])
    rows = graph_candidates(graph, query, count + 1, len(vectors), rescored(NEIGHBOURS) + 1)
    rows = np.sort(rows[rows != row])
    sims = np.asarray(vectors[rows] @ query) if len(rows) else np.zeros(0, np.float32)
    return set(rows[np.argsort(-sims, kind="stable")[:NEIGHBOURS]].tolist())


def _recall(found: set[int], truth: set[int]) -> float:
    return len(found & truth) / len(truth) if truth else 1.0
