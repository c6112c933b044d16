"""Analytics over stored results: frame curves and trend periods. Pure functions.

Aggregations over the corpus run in DuckDB (core.store.aggregates); clustering is core.analysis.clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.model.engine import HOP_MS, softmax
from core.model.labels import EMOTIONS

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


def merge_short_runs(runs: pd.DataFrame, min_s: float = 1.0) -> pd.DataFrame:
    """Dominant-emotion runs in time order, runs shorter than `min_s` merged into a neighbour.

    A short run joins the run before it (the first one joins the next), then neighbours with the
    same emotion join up, so a listing shows how the emotion moves rather than 20 ms slivers.
    """
    kept: list[list] = []
    for start_s, end_s, emotion in runs[["start_s", "end_s", "emotion"]].itertuples(index=False):
        if kept and (end_s - start_s < min_s or kept[-1][2] == emotion):
            kept[-1][1] = end_s
        elif kept and kept[-1][1] - kept[-1][0] < min_s:  # a short first run joins this one
            kept[-1] = [kept[-1][0], end_s, emotion]
        else:
            kept.append([start_s, end_s, emotion])
    return pd.DataFrame(kept, columns=["start_s", "end_s", "emotion"])


# -- trends ------------------------------------------------------------------------------------


def period_length(period: str) -> pd.DateOffset:
    """The length of one trend period (for drilling down into a cell)."""
    return {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
            "month": pd.DateOffset(months=1)}[period]  # fmt: skip


def leading_emotion(trends: pd.DataFrame) -> str:
    """The emotion that tops the most clips of a trends table (its shares weighted by n).

    The Trends page opens on it: a fixed default such as "angry" drew an empty grid for a corpus
    where that emotion never leads.
    """
    counts = trends[list(EMOTIONS)].mul(trends.n, axis=0).sum()
    return str(counts.idxmax()) if counts.max() > 0 else EMOTIONS[0]
