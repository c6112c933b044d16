"""Run a projection's computing step in a child process, so the server's pages stay responsive.

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
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core.analysis.clusters import Clustering, Limits, Progress, ProjectionParams, cluster_and_map
from core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
NICENESS = 5  # below the server's page renders when both want a core


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
