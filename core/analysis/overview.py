"""The Overview page's numbers: volume, emotion mix per period, and agent x emotion shifts.

Everything is counted in DuckDB over the page's selection (core.store.overview_counts); only the
rows the page shows come back, so it stays fast on a million clips. Here the counts become the
page's numbers: volume, shares and the significance tests.

Counting: CLIP_VIEW has one row per corpus a clip is in, so the selection is first reduced to one
row per (clip_id, track) and a recording in two corpora counts once. A *recording* is a clip_id
(its audio hours count once); a *track* is one scored channel of it (a split stereo call has two).
Emotion shares, the data-quality shares and the significance test count tracks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from core.errors import InputError
from core.records import ClipFilter
from core.store.overview_counts import overview_counts

NEGATIVE: tuple[str, ...] = ("angry", "disgusted", "fearful", "sad")
UNCLEAR: tuple[str, ...] = ("other", "unknown")
MIN_N = 20  # a shift is tested only when the latest period and the baseline both have this many
ALPHA = 0.01
TEST_NAME = "two-sided two-proportion z-test (pooled variance)"

# Period -> DuckDB date_trunc part (a week starts on Monday, as on Agent trends).
_TRUNC = {"day": "day", "week": "week", "month": "month"}
_STEP = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
         "month": pd.DateOffset(months=1)}  # fmt: skip


@dataclass(frozen=True)
class Volume:
    """What the selection holds, each recording counted once across corpora."""

    recordings: int
    tracks: int
    hours: float
    agents: int
    first_at: datetime | None
    last_at: datetime | None
    undated_tracks: int
    unclear_share: float  # tracks whose top label is other or unknown
    low_confidence_share: float  # tracks whose top-label confidence is below LOW_CONFIDENCE


@dataclass(frozen=True)
class Overview:
    """Everything the Overview page shows, for one model, selection and period length."""

    period: str
    volume: Volume
    mix: pd.DataFrame  # period_start (NaT: undated), emotion, n tracks
    latest_start: date | None  # the period holding the newest recording
    shifts: pd.DataFrame  # see shift_tests()

    @property
    def latest_end(self) -> date | None:
        """The latest period's last day (inclusive)."""
        if self.latest_start is None:
            return None
        return (pd.Timestamp(self.latest_start) + _STEP[self.period] - pd.DateOffset(days=1)).date()

    @property
    def previous_start(self) -> date | None:
        """The first day of the calendar period before the latest one."""
        if self.latest_start is None:
            return None
        return (pd.Timestamp(self.latest_start) - _STEP[self.period]).date()


def overview(store, model_key: str, where: ClipFilter = ClipFilter(),
             period: str = "week") -> Overview:  # fmt: skip
    """The Overview of one model's results over a selection, with periods of `period`."""
    if period not in _TRUNC:
        raise InputError(f"period {period!r}: choose one of {', '.join(_TRUNC)}.")
    counts = overview_counts(store, model_key, where, _TRUNC[period], UNCLEAR)
    row = counts.volume
    volume = Volume(int(row[0]), int(row[1]), float(row[2]), int(row[3]), row[4], row[5],
                    int(row[6]), float(row[7]), float(row[8]))  # fmt: skip
    mix = counts.mix
    mix["period_start"] = pd.to_datetime(mix.period_start)
    shifts = counts.shifts if counts.shifts is not None else _no_counts()
    return Overview(period, volume, mix, counts.latest, shift_tests(shifts))


def _no_counts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c[0] in "nk" else "object")
                         for c in ("agent", "emotion", "n_latest", "k_latest", "n_base", "k_base")})  # fmt: skip


def two_proportion_z(k1: np.ndarray, n1: np.ndarray, k0: np.ndarray,
                     n0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """z and two-sided p of H0 'same proportion', pooled variance; p = 1 where both are 0 or 1."""
    k1, n1, k0, n0 = (np.asarray(a, dtype=float) for a in (k1, n1, k0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = np.where(se > 0, (k1 / n1 - k0 / n0) / se, 0.0)
    p = np.array([math.erfc(abs(v) / math.sqrt(2)) for v in np.ravel(z)]).reshape(z.shape)
    return z, p


def shift_tests(counts: pd.DataFrame, min_n: int = MIN_N, alpha: float = ALPHA) -> pd.DataFrame:
    """Each agent x emotion: shares latest vs baseline, change (points), z, p, tested, flagged.

    Tested only when both sides have at least `min_n` tracks; flagged when tested and p < alpha.
    Flagged shifts come first, largest absolute change first.
    """
    table = counts.copy()
    z, p = two_proportion_z(table.k_latest, table.n_latest, table.k_base, table.n_base)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["share_latest"] = table.k_latest / table.n_latest
        table["share_base"] = np.where(table.n_base > 0, table.k_base / table.n_base, np.nan)
    table["change"] = table.share_latest - table.share_base
    table["tested"] = (table.n_latest >= min_n) & (table.n_base >= min_n)
    table["z"] = np.where(table.tested, z, np.nan)
    table["p"] = np.where(table.tested, p, np.nan)
    table["flagged"] = table.tested & (table.p < alpha)
    table["_size"] = table.change.abs()
    table = table.sort_values(["flagged", "_size", "p", "agent", "emotion"],
                              ascending=[False, False, True, True, True])  # fmt: skip
    return table.drop(columns="_size").reset_index(drop=True)


def negative_shares(mix: pd.DataFrame) -> pd.DataFrame:
    """Per dated period: tracks, negative tracks (angry+disgusted+fearful+sad) and their share."""
    dated = mix.dropna(subset=["period_start"])
    grouped = dated.assign(neg=dated.n.where(dated.emotion.isin(NEGATIVE), 0)).groupby(
        "period_start"
    )
    table = pd.DataFrame({"n": grouped.n.sum(), "negative": grouped.neg.sum()}).reset_index()
    table["share"] = table.negative / table.n
    return table


def negative_change(result: Overview) -> tuple[float | None, float | None]:
    """The negative share of the latest period and of the period before (None when empty)."""
    shares = negative_shares(result.mix).set_index("period_start").share

    def share(day: date | None) -> float | None:
        value = None if day is None else shares.get(pd.Timestamp(day))
        return None if value is None else float(value)

    return share(result.latest_start), share(result.previous_start)


def drill_down(result: Overview, agent: str, emotion: str, model_key: str) -> dict[str, dict]:
    """Query parameters of the Clips and Agent trends pages for one shift."""
    return {
        "clips": {"agent": agent, "from": result.latest_start.isoformat(),
                  "to": result.latest_end.isoformat(), "model": model_key},
        "trends": {"agent": agent, "period": result.period, "focus": emotion, "model": model_key,
                   "da": agent, "dp": result.latest_start.isoformat()},
    }  # fmt: skip
