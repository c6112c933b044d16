"""Analytics over stored results: frame curves, clusters and agent trends. Pure functions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from core.errors import InputError
from core.labels import EMOTIONS, SCORE_COLUMNS
from core.model import HOP_MS, softmax

PERIODS = {"day": "D", "week": "W-MON", "month": "MS"}
LOW_N = 5  # periods with fewer clips are flagged, never hidden


# -- frame curves ------------------------------------------------------------------------------


def smooth_curve(logits: np.ndarray, window_frames: int = 1) -> np.ndarray:
    """(T, 9) probabilities: softmax of the centred moving mean of frame logits over a window.

    Averaging logits (not probabilities) keeps the curve consistent with the utterance score,
    which is the softmax of the mean logit over all frames.
    """
    if window_frames <= 1 or len(logits) == 0:
        return softmax(logits)
    window = min(window_frames, len(logits))
    padded = np.pad(logits, ((window // 2, window - 1 - window // 2), (0, 0)), mode="edge")
    cumsum = np.cumsum(np.vstack([np.zeros((1, logits.shape[1])), padded]), axis=0)
    return softmax(((cumsum[window:] - cumsum[:-window]) / window).astype(np.float32))


def curve_frame(probs: np.ndarray, max_points: int = 2000) -> pd.DataFrame:
    """A display table (time_s + one column per emotion), block-averaged to <= max_points rows.

    Only the display is reduced; stored curves keep every 20 ms frame.
    """
    step = max(1, int(np.ceil(len(probs) / max_points)))
    usable = len(probs) - len(probs) % step
    blocks = probs[:usable].reshape(-1, step, probs.shape[1]).mean(axis=1)
    if usable < len(probs):
        blocks = np.vstack([blocks, probs[usable:].mean(axis=0, keepdims=True)])
    times = (np.arange(len(blocks)) * step + (step - 1) / 2) * HOP_MS / 1000
    frame = pd.DataFrame(blocks, columns=list(EMOTIONS))
    frame.insert(0, "time_s", times)
    return frame


def dominant_segments(curve: pd.DataFrame) -> pd.DataFrame:
    """Runs of the same dominant emotion: start_s, end_s, emotion (for the timeline band)."""
    if curve.empty:
        return pd.DataFrame(columns=["start_s", "end_s", "emotion"])
    top = curve[list(EMOTIONS)].to_numpy().argmax(axis=1)
    times = curve.time_s.to_numpy()
    half = (times[1] - times[0]) / 2 if len(times) > 1 else HOP_MS / 2000
    change = np.flatnonzero(np.diff(top)) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(top)]
    return pd.DataFrame({
        "start_s": np.maximum(times[starts] - half, 0), "end_s": times[ends - 1] + half,
        "emotion": [EMOTIONS[top[s]] for s in starts],
    })  # fmt: skip


# -- clusters ----------------------------------------------------------------------------------


def projection_key(clip_keys: Sequence[str], model_key: str, params: dict) -> str:
    """Cache key of a projection: the exact clip selection, the model and the parameters."""
    digest = hashlib.sha256(
        json.dumps([sorted(clip_keys), model_key, params], sort_keys=True).encode()
    )
    return digest.hexdigest()[:20]


def suggest_k(
    embeddings: np.ndarray, k_range: range = range(2, 11), seed: int = 0
) -> tuple[int, dict[int, float]]:
    """The k with the best silhouette score of KMeans on the (L2-normalised) embeddings."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = _normalised(embeddings)
    scores = {}
    for k in k_range:
        if k >= len(x):
            break
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
        if len(set(labels)) > 1:
            scores[k] = float(silhouette_score(x, labels, metric="cosine"))
    if not scores:
        raise InputError("too few clips to cluster: select at least 3.")
    return max(scores, key=scores.get), scores


def project(
    embeddings: np.ndarray, k: int, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """UMAP to 2-D (cosine) and KMeans with k clusters (on the embeddings, not the 2-D map)."""
    n = len(embeddings)
    if n < 5:
        raise InputError(f"{n} clips are too few for a projection; select at least 5.")
    if not 2 <= k < n:
        raise InputError(f"k = {k} must be between 2 and {n - 1} for {n} clips.")
    report = on_progress or (lambda done, total, stage: None)
    report(0, 3, "clustering (KMeans)")
    from sklearn.cluster import KMeans

    x = _normalised(embeddings)
    clusters = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
    report(1, 3, "projecting (UMAP)")
    import umap

    reducer = umap.UMAP(n_neighbors=min(n_neighbors, n - 1), min_dist=min_dist, metric="cosine",
                        random_state=seed, n_jobs=1)  # fmt: skip
    xy = reducer.fit_transform(x)
    report(3, 3, "done")
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "cluster": clusters.astype(int)})


def _normalised(embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.where(norms == 0, 1, norms)


def cluster_profile(points: pd.DataFrame, top_agents: int = 3) -> pd.DataFrame:
    """Per cluster: n, mean of each emotion score, share of the top label, most frequent agents."""
    rows = []
    for cluster, group in points.groupby("cluster"):
        agents = group.agent.dropna().value_counts().head(top_agents)
        row = {"cluster": int(cluster), "n": len(group)}
        row.update(
            {e: float(group[c].mean()) for e, c in zip(EMOTIONS, SCORE_COLUMNS, strict=True)}
        )
        row["top_emotion"] = group.top_label.mode().iloc[0]
        row["top_agents"] = ", ".join(f"{a} ({n})" for a, n in agents.items()) or "—"
        rows.append(row)
    return pd.DataFrame(rows)


# -- trends ------------------------------------------------------------------------------------


def period_length(period: str) -> pd.DateOffset:
    """The length of one period of `agent_trends` (for drilling down into a cell)."""
    return {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
            "month": pd.DateOffset(months=1)}[period]  # fmt: skip


def agent_trends(clips: pd.DataFrame, period: str = "week") -> pd.DataFrame:
    """Per agent and period: n clips, share of each top emotion, mean confidence, low-n flag.

    Clips without an agent or a recording date cannot be placed and are left out.
    """
    if period not in PERIODS:
        raise InputError(f"period {period!r}: choose one of {', '.join(PERIODS)}.")
    columns = ["agent", "period", "n", *EMOTIONS, "mean_confidence", "low_n"]
    data = clips.dropna(subset=["agent", "recorded_at"])
    if data.empty:
        return pd.DataFrame(columns=columns)
    data = data.assign(period=pd.to_datetime(data.recorded_at).dt.to_period(
        PERIODS[period].replace("W-MON", "W-SUN")).dt.start_time)  # fmt: skip
    grouped = data.groupby(["agent", "period"])
    shares = pd.crosstab([data.agent, data.period], data.top_label, normalize="index")
    shares = shares.reindex(columns=list(EMOTIONS), fill_value=0.0)
    table = shares.join(grouped.size().rename("n")).join(
        grouped.confidence.mean().rename("mean_confidence")
    )
    table = table.reset_index()
    table["low_n"] = table.n < LOW_N
    return table[columns].sort_values(["agent", "period"]).reset_index(drop=True)
