"""How many inverted lists a search must probe, measured on the index's own rows.

An IVF only proposes candidates: those in the lists nearest the query. How many lists must be
probed for the true nearest tracks to be among them depends on the data: at 130k synthetic
tracks (isotropic noise around a few centres) 16 of 1,024 lists found 61 % of the true 20
nearest, 64 found 98 % (bench/results/similar-index-100k.md). So after every build or patch,
`calibrate` searches the IVF for a seeded sample of its own rows, re-scores the proposals as a
search does, compares with the exact ranking of the mapped float32 rows, and keeps the smallest
count on the ladder that reaches RECALL_MIN. Probing every list proposes every row, so the
ladder always ends at an answer the exact ranking agrees with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.search.index import ivf_candidates, read_ivf, scan_rows

RECALL_MIN = 0.95  # recall@NEIGHBOURS a search must reach on the sample
NEIGHBOURS = 20  # the k the calibration measures (the CLI's and the page's default)
SAMPLE = 32  # rows of the index searched for; each costs one exact scan of every row


@dataclass(frozen=True)
class Calibration:
    """What the sample showed."""

    probes: int  # lists probed per NEIGHBOURS results
    recall: float  # recall@NEIGHBOURS at that count


def ladder(lists: int) -> list[int]:
    """Probe counts tried, smallest first: powers of two, then every list."""
    counts = [c for c in (2**i for i in range(13)) if c < lists]
    return [*counts, lists]


def rescored(want: int) -> int:
    """How many of the IVF's best proposals a search re-scores exactly for `want` rows."""
    return max(8 * want, 256)


def calibrate(vectors: np.ndarray, ivf_path: Path, members: np.ndarray,
              seed: int = 0) -> Calibration:  # fmt: skip
    """The fewest lists (per NEIGHBOURS results) whose proposals, re-scored exactly, hold at
    least RECALL_MIN of the exact nearest rows, for a seeded sample of the IVF's own rows."""
    ivf = read_ivf(ivf_path, mapped=True)
    in_index = np.zeros(len(vectors), bool)
    in_index[members] = True
    picks = np.random.default_rng(seed).choice(members, min(SAMPLE, len(members)), replace=False)
    truths = [_exact_nearest(vectors, in_index, row) for row in picks]
    recall = 0.0
    for probes in ladder(ivf.nlist):
        found = [_ivf_nearest(ivf, vectors, row, probes) for row in picks]
        recall = float(np.mean([_recall(f, t) for f, t in zip(found, truths, strict=True)]))
        if recall >= RECALL_MIN:
            return Calibration(probes, recall)
    return Calibration(ivf.nlist, recall)  # every list probed: as good as this index gets


def _exact_nearest(vectors: np.ndarray, in_index: np.ndarray, row: int) -> set[int]:
    """The NEIGHBOURS rows of the index nearest to `row` by exact cosine, itself left out."""
    sims = scan_rows(vectors, np.asarray(vectors[row]), len(vectors))
    sims[~in_index] = -np.inf
    sims[row] = -np.inf
    want = min(NEIGHBOURS, int(in_index.sum()) - 1)
    return set(np.argpartition(-sims, want)[:want].tolist()) if want > 0 else set()


def _ivf_nearest(ivf, vectors: np.ndarray, row: int, probes: int) -> set[int]:
    """The NEIGHBOURS best of the IVF's proposals for `row`, re-scored exactly as a search
    re-scores them (core.search.similar)."""
    query = np.asarray(vectors[row])
    rows = ivf_candidates(ivf, query, probes, rescored(NEIGHBOURS) + 1)
    rows = np.sort(rows[rows != row])
    sims = np.asarray(vectors[rows] @ query) if len(rows) else np.zeros(0, np.float32)
    return set(rows[np.argsort(-sims, kind="stable")[:NEIGHBOURS]].tolist())


def _recall(found: set[int], truth: set[int]) -> float:
    return len(found & truth) / len(truth) if truth else 1.0
