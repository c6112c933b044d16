"""Compute and store a selection's projection (`compute_projection`), its computing step in a child
process so that the server's pages stay responsive.

Why a process and not the job's thread: numba compiles UMAP's kernels and scikit-learn runs its
Python loops holding the GIL, for seconds at a time. Measured on 2 cores with 100,000 points in
the server's own thread, page renders stalled for up to 7.6 s while the job ran. A child process
(at lower CPU priority) holds no lock of the server's; pages render beside it at their usual speed.

The protocol is files and lines: the parent saves the unit-length matrix as `x.npy` in a temporary
folder; the child (`python -m core.analysis.projection FOLDER PARAMS LIMITS`) prints one JSON line
per progress step, writes `out.npz`, and ends with a JSON line holding k and the silhouette scores,
or the message of an InputError. The store stays in the parent: a DuckDB file open read-write in
one process cannot be opened by another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.analysis.clusters import (
    Clustering,
    Limits,
    Progress,
    ProjectionParams,
    cluster_and_map,
    normalised,
    projection_key,
)
from core.errors import InputError
from core.records import ClipFilter
from core.store.aggregates import selection_fingerprint
from core.store.embeddings import select_embeddings
from core.store.projections import save_projection

ROOT = Path(__file__).resolve().parents[2]
NICENESS = 5  # below the server's page renders when both want a core


@dataclass(frozen=True)
class ProjectionResult:
    """A computed projection: the chosen k and the silhouette scores that suggested it."""

    key: str
    n_points: int
    k: int
    silhouette: dict[int, float] = field(default_factory=dict)


def compute_projection(store, model_key: str, where: ClipFilter, params: ProjectionParams,
                       on_progress: Progress | None = None, *, limits: Limits = Limits(),
                       isolated: bool = False) -> ProjectionResult:  # fmt: skip
    """Read the selection's embeddings, cluster and project them, store the projection.

    isolated=True computes in a child process (core.analysis.projection), as the dashboard does.
    """
    report = on_progress or (lambda done, total, stage: None)
    report(0, 4, "reading embeddings")
    n, fingerprint = selection_fingerprint(store, model_key, where)
    key = projection_key(model_key, n, fingerprint, params)
    clips, matrix = select_embeddings(store, model_key, where)
    if len(matrix) < 5:
        raise InputError(f"{len(matrix)} clips are too few for a projection; select at least 5.")
    x = normalised(matrix)
    del matrix
    if isolated:
        result = cluster_and_map_in_child(x, params, limits, report)
    else:
        result = cluster_and_map(x, params, limits, report)
    del x
    report(4, 4, "saving")
    frame = pd.DataFrame({"clip_id": clips.clip_id.to_numpy(), "track": clips.track.to_numpy(),
                          "x": result.xy[:, 0], "y": result.xy[:, 1],
                          "cluster": result.clusters})  # fmt: skip
    save_projection(store, key, frame)
    report(4, 4, "done")
    return ProjectionResult(key, len(frame), result.k, result.silhouette)


def cluster_and_map_in_child(x: np.ndarray, params: ProjectionParams, limits: Limits,
                             report: Progress) -> Clustering:  # fmt: skip
    """`cluster_and_map(x, ...)` computed in a child process; progress reaches `report`."""
    with tempfile.TemporaryDirectory(prefix="emoscope-projection-") as folder:
        np.save(Path(folder) / "x.npy", x)
        final = _run_child(Path(folder), params, limits, report)
        if "error" in final:
            raise InputError(final["error"])
        with np.load(Path(folder) / "out.npz") as out:
            clusters, xy = out["clusters"], out["xy"]
    silhouette = {int(k): float(v) for k, v in final["silhouette"].items()}
    return Clustering(clusters, xy, int(final["k"]), silhouette)


def _run_child(folder: Path, params: ProjectionParams, limits: Limits, report: Progress) -> dict:
    command = [sys.executable, "-m", "core.analysis.projection", str(folder),
               json.dumps(asdict(params)), json.dumps(asdict(limits))]  # fmt: skip
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    # stderr goes to a file: numba and UMAP may warn more than a pipe holds before it blocks.
    with open(folder / "stderr.txt", "w+") as stderr:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
                              cwd=ROOT) as child:  # fmt: skip
            final = None
            for line in child.stdout:
                message = json.loads(line)
                if "stage" in message:
                    report(message["done"], message["total"], message["stage"])
                else:
                    final = message
        if child.returncode != 0 or final is None:
            stderr.seek(0)
            raise RuntimeError(f"the projection process failed (exit {child.returncode}):\n"
                               f"{stderr.read()[-4000:]}")  # fmt: skip
    return final


def _child_main(folder: Path, params: ProjectionParams, limits: Limits) -> int:
    os.nice(NICENESS)

    def report(done: int, total: int, stage: str) -> None:
        print(json.dumps({"done": done, "total": total, "stage": stage}), flush=True)

    x = np.load(folder / "x.npy", mmap_mode="r")
    try:
        result = cluster_and_map(np.asarray(x), params, limits, report)
    except InputError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 0
    np.savez(folder / "out.npz", clusters=result.clusters, xy=result.xy)
    print(json.dumps({"k": result.k, "silhouette": result.silhouette}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1]), ProjectionParams(**json.loads(sys.argv[2])),
                         Limits(**json.loads(sys.argv[3]))))  # fmt: skip
