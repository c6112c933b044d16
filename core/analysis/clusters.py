"""Cluster a selection's embeddings: k by silhouette on a sample, KMeans on all, a 2-D map.

Costs at scale decide the shape. The L2-normalised embeddings are reduced to their first 50
principal components (PCA fitted on a sample), where cosine distances cost 20x less than in 1024-d.
Silhouette is O(N^2), so k is suggested on a deterministic sample of at most 10,000 of those
points; KMeans runs on every point in the full space (MiniBatchKMeans above 20,000); UMAP runs on
the components and is fitted on at most 50,000 sampled points, the rest placed with `transform`.
The result is stored as a projection keyed on (selection, model, params), so the Clusters page
opens a computed map at once and never computes on page load. The dashboard runs the computing
step (`cluster_and_map`) in a child process: core.analysis.projection says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import InputError

PCA_DIMS = 50
K_RANGE = range(2, 11)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ProjectionParams:
    """What a projection depends on besides the selection; k = 0 means 'suggest by silhouette'."""

    k: int = 0
    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class Limits:
    """Sample sizes that keep a projection's cost bounded at any corpus size."""

    silhouette_sample: int = 10_000  # silhouette is O(N^2)
    umap_fit_sample: int = 50_000  # UMAP (and PCA) fitted on this many, the rest transformed
    minibatch_above: int = 20_000  # full KMeans up to here, MiniBatchKMeans above


@dataclass(frozen=True)
class Clustering:
    """What the computing step returns: a cluster id and a 2-D point per row."""

    clusters: np.ndarray
    xy: np.ndarray
    k: int
    silhouette: dict[int, float]


def projection_key(model_key: str, n: int, fingerprint: int, params: ProjectionParams) -> str:
    """Cache key of a projection: the selection (size and id hash), the model and parameters."""
    payload = [model_key, n, fingerprint, params.k, params.n_neighbors, params.min_dist,
               params.seed, "pca50-umap-cosine-e100"]  # fmt: skip
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


def sample_indices(n: int, at_most: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a deterministic sample of at most `at_most` of n points."""
    if n <= at_most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, at_most, replace=False))


def normalised(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine geometry for KMeans and PCA)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.where(norms == 0, 1, norms)


def suggest_k(x: np.ndarray, seed: int = 0, k_range: range = K_RANGE,
              limits: Limits = Limits()) -> tuple[int, dict]:  # fmt: skip
    """The k with the best cosine silhouette of KMeans, on a sample of at most 10,000 rows."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    sample = x[sample_indices(len(x), limits.silhouette_sample, seed)]
    scores = {}
    for k in k_range:
        if k >= len(sample):
            break
        labels = KMeans(n_clusters=k, n_init=2, random_state=seed).fit_predict(sample)
        if len(set(labels)) > 1:
            scores[k] = float(silhouette_score(sample, labels, metric="cosine"))
    if not scores:
        raise InputError("too few clips to cluster: select at least 3.")
    return max(scores, key=scores.get), scores


def kmeans(x: np.ndarray, k: int, seed: int = 0, limits: Limits = Limits()) -> np.ndarray:
    """Cluster ids of every row; MiniBatchKMeans where full KMeans would take minutes."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(x) > limits.minibatch_above:
        model = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=3, random_state=seed)
    else:
        model = KMeans(n_clusters=k, n_init=4, random_state=seed)
    return model.fit_predict(x).astype(np.int32)


def principal_components(x: np.ndarray, seed: int = 0, limits: Limits = Limits()) -> np.ndarray:
    """(N, <=50): the first principal components, fitted on a sample of at most 50,000 rows."""
    if x.shape[1] <= PCA_DIMS or len(x) <= PCA_DIMS:
        return x
    from sklearn.decomposition import PCA

    pca = PCA(PCA_DIMS, random_state=seed, svd_solver="randomized")
    pca.fit(x[sample_indices(len(x), limits.umap_fit_sample, seed)])
    return pca.transform(x).astype(np.float32)


def load_umap():
    """The umap module, its numba kernels cached on disk.

    umap compiles its kernels with numba in every new process and does not ask numba to cache
    them: 13 s of a two-core machine before a 30-point map, and the dashboard computes each map in
    a fresh child process. Its decorators are asked to cache while umap is imported (numba keeps
    the machine code in umap's __pycache__, or in the user's cache folder when that is read-only);
    a later process loads them in about a second.
    """
    import sys

    if "umap" in sys.modules:
        return sys.modules["umap"]
    import numba

    original = numba.njit, numba.jit

    def cached(decorate):
        def decorator(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorate(*args, **kwargs)

        return decorator

    numba.njit, numba.jit = cached(original[0]), cached(original[1])
    try:
        import umap
    finally:
        numba.njit, numba.jit = original
    return umap


def umap_2d(x: np.ndarray, params: ProjectionParams, report: Progress,
            limits: Limits = Limits()) -> np.ndarray:  # fmt: skip
    """(N, 2): UMAP (cosine) fitted on a sample of at most 50,000 rows, the rest transformed."""
    umap = load_umap()
    fit = sample_indices(len(x), limits.umap_fit_sample, params.seed)
    # 100 optimisation epochs instead of UMAP's 200 above 10,000 points: measured on 50,000
    # points, the fit took a quarter of the time; the map is for browsing, not for publication.
    epochs = 100 if len(fit) > 10_000 else None
    reducer = umap.UMAP(n_neighbors=min(params.n_neighbors, len(fit) - 1),
                        min_dist=params.min_dist, metric="cosine", random_state=params.seed,
                        n_jobs=1, n_epochs=epochs)  # fmt: skip
    xy = np.empty((len(x), 2), np.float32)
    xy[fit] = reducer.fit_transform(x[fit])
    rest = np.setdiff1d(np.arange(len(x)), fit)
    if len(rest):
        report(3, 4, f"placing the other {len(rest):,} points")
        xy[rest] = reducer.transform(x[rest])
    return xy


def cluster_and_map(x: np.ndarray, params: ProjectionParams, limits: Limits = Limits(),
                    report: Progress | None = None) -> Clustering:  # fmt: skip
    """Cluster unit-length rows x and place them in 2-D: the computing step, with no store."""
    report = report or (lambda done, total, stage: None)
    report(1, 4, "principal components")
    z = principal_components(x, params.seed, limits)
    k, scores = params.k, {}
    if k == 0:
        sample = min(len(x), limits.silhouette_sample)
        report(1, 4, f"suggesting k (silhouette on {sample:,} points)")
        k, scores = suggest_k(z, params.seed, limits=limits)
    if not 2 <= k < len(x):
        raise InputError(f"k = {k} must be between 2 and {len(x) - 1} for {len(x)} clips.")
    report(2, 4, f"clustering {len(x):,} points (KMeans, k = {k})")
    clusters = kmeans(x, k, params.seed, limits)
    report(2, 4, f"projecting (UMAP fitted on {min(len(x), limits.umap_fit_sample):,} points)")
    xy = umap_2d(z, params, report, limits)
    return Clustering(clusters, xy, k, scores)


def compile_kernels() -> None:
    """Run one tiny projection so that numba compiles UMAP's kernels into their on-disk cache
    now, not during a user's first Clusters computation: in a fresh environment the first
    projection of even 12 points took 24 s of CPU, later ones 2.3 s. (Above 4,096 points UMAP
    also runs pynndescent, whose main loop numba cannot cache: compiling the rest ahead would
    cost another ~75 s here and save a large projection little.) scripts/setup.sh calls this."""
    x = normalised(np.random.default_rng(0).normal(size=(60, 32)).astype(np.float32))
    cluster_and_map(x, ProjectionParams(k=3), Limits(umap_fit_sample=40))
