"""Who needs attention: each agent's emotion shares in one period against its earlier periods,
with the false discovery rate controlled across every test, plus agent rankings (#30).

Pure functions on per agent x period counts (core.store.attention returns them): no SQL here.

- **Periods.** A period is *complete* when the calendar says so (today is past it) or when the
  data has moved past it (a later period holds tracks). The default is the last complete period;
  the one still in progress is offered as "so far".
- **Tests.** Per agent with at least `MIN_N` tracks in the period and in its baseline (every
  earlier period), ten outcomes: the nine top emotions and "negative" (angry, disgusted, fearful
  or sad). Each is a two-sided Fisher exact test (exact for rare emotions, where a z-test's
  normal approximation flags noise); Benjamini-Hochberg adjusts all p of
  the page at once (q-values), and a change is significant when q <= `FDR`.
- **Lists.** Needs attention: a negative outcome rising; good news: a negative outcome falling or
  happy rising; data quality: other or unknown changing. Everything significant is in `flagged`.
- **Voice.** For split calls a role's track is counted (the customer's by default) together with
  the single track of unsplit recordings (`mix`), so a call counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS

NEGATIVE: tuple[str, ...] = ("angry", "disgusted", "fearful", "sad")
UNCLEAR: tuple[str, ...] = ("other", "unknown")
COMBINED = "negative"  # the outcome "any of NEGATIVE"
OUTCOMES: tuple[str, ...] = (*EMOTIONS, COMBINED)
ATTENTION: tuple[str, ...] = (*NEGATIVE, COMBINED)
MIN_N = 20  # an outcome is tested only when the period and its baseline both hold this many
FDR = 0.05  # Benjamini-Hochberg level over every test of the page
TEST_NAME = "two-sided Fisher exact test, Benjamini-Hochberg across all tests"
PERIODS = ("day", "week", "month")
DEFAULT_ROLE = "customer"
ALL_TRACKS = "all"
UNSPLIT = "mix"  # the one track of a recording that was not split by channel
Z95 = 1.959963984540054


# -- periods ------------------------------------------------------------------------------------


def period_start(day: date, period: str) -> date:
    """The first day of the day/week (Monday)/month holding `day`."""
    _check_period(period)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def shift(start: date, period: str, n: int) -> date:
    """The start of the period `n` periods after the one starting at `start`."""
    _check_period(period)
    if period == "day":
        return start + timedelta(days=n)
    if period == "week":
        return start + timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise InputError(f"period {period!r}: choose one of {', '.join(PERIODS)}.")


@dataclass(frozen=True)
class Window:
    """The period a page or command looks at, and the other one it could have chosen."""

    period: str
    start: date | None  # None: the selection has no dated track
    complete: bool  # False: the period still in progress ("so far")
    in_progress: date | None  # the start of the period in progress with data, if any
    last_complete: date | None  # the start of the last complete period, if any

    @property
    def end(self) -> date | None:
        """The last day (inclusive)."""
        return None if self.start is None else shift(self.start, self.period, 1) - timedelta(1)

    @property
    def end_exclusive(self) -> date | None:
        return None if self.start is None else shift(self.start, self.period, 1)

    @property
    def label(self) -> str:
        """'week of 2025-03-03' or 'week of 2025-03-10 so far'."""
        if self.start is None:
            return f"no dated {self.period}"
        return f"{self.period} of {self.start:%Y-%m-%d}" + ("" if self.complete else " so far")


def choose_window(period: str, last_day: date | None, today: date, so_far: bool = False) -> Window:
    """The last complete period (default), or with `so_far` the one in progress.

    `last_day` is the newest recording's day. The period holding it is complete when the
    calendar is past it (it started before today's period); otherwise it is in progress and the
    period before it is the last complete one (the data has moved past that). Asked for "so far"
    when no period is in progress, the latest (complete) period is given.
    """
    _check_period(period)
    if last_day is None:
        return Window(period, None, True, None, None)
    newest = period_start(last_day, period)
    if newest < period_start(today, period):
        return Window(period, newest, True, None, newest)
    complete = shift(newest, period, -1)
    if so_far:
        return Window(period, newest, False, newest, complete)
    return Window(period, complete, True, newest, complete)


# -- statistics ---------------------------------------------------------------------------------


def two_proportion(k1, n1, k0, n0) -> tuple[np.ndarray, np.ndarray]:
    """z (pooled variance, for the direction and size) and the two-sided p of 'same
    proportion' from Fisher's exact test: twice the smaller tail of the hypergeometric
    distribution of k1 given k1 + k0, capped at 1; z = 0, p = 1 when there is nothing to test.

    Exact, not the z-test's normal approximation: with rare emotions (2 of 31 against 0 of 237)
    the z-test gave p = 9e-5 where the exact p is 0.014, and such pairs are common among
    hundreds of agents x ten outcomes.
    """
    k1, n1, k0, n0 = (np.asarray(a, dtype=float) for a in (k1, n1, k0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = np.where(se > 0, (k1 / n1 - k0 / n0) / se, 0.0)
    z = np.nan_to_num(z)
    lower, upper = _hypergeometric_tails(k1, n1, k0, n0)
    p = np.minimum(1.0, 2 * np.minimum(lower, upper))
    p = np.where((se > 0) & np.isfinite(p), p, 1.0)
    return z, p


def _hypergeometric_tails(k1, n1, k0, n0) -> tuple[np.ndarray, np.ndarray]:
    """P(X <= k1) and P(X >= k1) for X ~ Hypergeometric(n1 + n0, k1 + k0, n1), all tests at
    once: every test's support laid end to end (at most n1 + 1 terms each), summed per test.

    scipy.stats.hypergeom does the same but importing scipy.stats costs a fresh server 0.5 s
    of CPU before the landing page can draw; log-factorials come from one table.
    """
    shape = np.shape(k1)
    if np.size(k1) == 0:  # no tests (an empty period): max() of an empty table has no value
        return np.ones(shape), np.ones(shape)
    x, n, hits = (np.ravel(a).astype(np.int64) for a in (k1, n1, np.add(k1, k0)))
    total = n + np.ravel(n0).astype(np.int64)
    low = np.maximum(0, n - (total - hits))
    high = np.minimum(n, hits)
    sizes = np.maximum(high - low + 1, 0)
    owner = np.repeat(np.arange(len(x)), sizes)
    starts = np.cumsum(sizes) - sizes
    j = low[owner] + np.arange(sizes.sum()) - starts[owner]

    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, total.max() + 1)))])

    def log_choose(a, b):
        return log_factorial[a] - log_factorial[b] - log_factorial[a - b]

    log_pmf = (log_choose(hits[owner], j) + log_choose((total - hits)[owner], n[owner] - j)
               - log_choose(total[owner], n[owner]))  # fmt: skip
    pmf = np.exp(log_pmf)
    lower = np.bincount(owner, weights=pmf * (j <= x[owner]), minlength=len(x))
    upper = np.bincount(owner, weights=pmf * (j >= x[owner]), minlength=len(x))
    return np.minimum(lower, 1.0).reshape(shape), np.minimum(upper, 1.0).reshape(shape)


def bh_qvalues(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q): reject at level a exactly those with q <= a.

    NaN (untested) stays NaN and does not count as a test.
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    m = int(tested.sum())
    if m == 0:
        return q
    values = p[tested]
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted
    q[tested] = out
    return q


def wilson(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of k successes in n (95 % by default); NaN where n = 0."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = k / n
        centre = (share + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# -- the tests of a period ------------------------------------------------------------------------


def window_counts(counts: pd.DataFrame, start: date) -> pd.DataFrame:
    """Per agent with tracks in the period starting `start` and outcome: k and n there
    (`_latest`) and in every earlier period (`_base`).

    `counts`: agent, period_start, tracks and n_<emotion> per agent and period
    (core.store.attention.agent_periods). Later periods are in neither side.
    """
    frame = counts[counts.agent.notna() & counts.period_start.notna()].copy()
    frame["n_negative"] = frame[[f"n_{e}" for e in NEGATIVE]].sum(axis=1)
    when = pd.to_datetime(frame.period_start)
    frame["side"] = np.where(when == pd.Timestamp(start), "latest",
                             np.where(when < pd.Timestamp(start), "base", None))  # fmt: skip
    frame = frame[frame.side.notna()]
    columns = ["tracks", *(f"n_{o}" for o in OUTCOMES)]
    sums = frame.groupby(["agent", "side"])[columns].sum().unstack("side", fill_value=0)
    if sums.empty:
        return _empty_counts()
    for side in ("latest", "base"):
        if ("tracks", side) not in sums.columns:
            for c in columns:
                sums[(c, side)] = 0
    sums = sums[sums[("tracks", "latest")] > 0]  # agents sorted by the groupby
    outcomes = sorted(OUTCOMES)  # rows in (agent, emotion) order without sorting strings
    agents = len(sums)

    def per_row(column: str, side: str, outcome_wise: bool) -> np.ndarray:
        if not outcome_wise:
            return np.repeat(sums[(column, side)].to_numpy(np.int64), len(outcomes))
        block = np.column_stack([sums[(f"n_{o}", side)].to_numpy(np.int64) for o in outcomes])
        return block.reshape(-1)

    return pd.DataFrame({
        "agent": np.repeat(sums.index.to_numpy(object), len(outcomes)),
        "emotion": np.tile(np.array(outcomes, dtype=object), agents),
        "n_latest": per_row("tracks", "latest", False), "k_latest": per_row("", "latest", True),
        "n_base": per_row("tracks", "base", False), "k_base": per_row("", "base", True),
    })  # fmt: skip


def _empty_counts() -> pd.DataFrame:
    return pd.DataFrame({"agent": pd.Series(dtype="object"), "emotion": pd.Series(dtype="object"),
                         **{c: pd.Series(dtype="int64")
                            for c in ("n_latest", "k_latest", "n_base", "k_base")}})  # fmt: skip


def change_table(table: pd.DataFrame, min_n: int = MIN_N, fdr: float = FDR) -> pd.DataFrame:
    """Every agent x outcome of `window_counts`: shares, change (a fraction), z, p, q, flagged.

    Tested when both sides hold at least `min_n` tracks; q is Benjamini-Hochberg over every
    tested row; flagged when q <= fdr. Sorted flagged first, then by q and largest change.
    """
    out = table.copy()
    z, p = two_proportion(out.k_latest, out.n_latest, out.k_base, out.n_base)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share_latest"] = out.k_latest / out.n_latest
        out["share_base"] = np.where(out.n_base > 0, out.k_base / out.n_base, np.nan)
    out["change"] = out.share_latest - out.share_base
    out["tested"] = (out.n_latest >= min_n) & (out.n_base >= min_n)
    out["z"] = np.where(out.tested, z, np.nan)
    out["p"] = np.where(out.tested, p, np.nan)
    out["q"] = bh_qvalues(out.p.to_numpy())
    out["flagged"] = out.tested & (out.q <= fdr)
    # Rows come in (agent, emotion) order; a stable sort on numbers keeps it among ties (sorting
    # the strings again cost more than the tests at 400 agents).
    q = out.q.to_numpy(float)
    order = np.lexsort((-np.nan_to_num(out.change.abs().to_numpy(float), nan=-1.0),
                        np.where(np.isnan(q), np.inf, q), ~out.flagged.to_numpy(bool)))  # fmt: skip
    return out.iloc[order].reset_index(drop=True)


@dataclass(frozen=True)
class Attention:
    """What the "Needs attention" block shows for one selection, period and voice."""

    window: Window
    role: str  # the role whose track is counted for split calls, or ALL_TRACKS
    changes: pd.DataFrame  # every agent x outcome (change_table)
    needs_attention: pd.DataFrame
    good_news: pd.DataFrame
    data_quality: pd.DataFrame
    flagged: pd.DataFrame  # every significant change, whatever its direction

    @property
    def tests(self) -> int:
        return int(self.changes.tested.sum())


def attention(counts: pd.DataFrame, window: Window, role: str, min_n: int = MIN_N,
              fdr: float = FDR) -> Attention:  # fmt: skip
    """Test every agent x outcome of `window` and sort the significant ones into lists."""
    table = window_counts(counts, window.start) if window.start else _empty_counts()
    changes = change_table(table, min_n, fdr)
    flagged = changes[changes.flagged]
    rising = flagged[(flagged.change > 0) & flagged.emotion.isin(ATTENTION)]
    good = flagged[((flagged.change < 0) & flagged.emotion.isin(ATTENTION))
                   | ((flagged.change > 0) & (flagged.emotion == "happy"))]  # fmt: skip
    quality = flagged[flagged.emotion.isin(UNCLEAR)]
    return Attention(window, role, changes, _ranked(rising), _ranked(good, absolute=True),
                     _ranked(quality, absolute=True), flagged.reset_index(drop=True))  # fmt: skip


def _ranked(rows: pd.DataFrame, absolute: bool = False) -> pd.DataFrame:
    """Largest change first (by size when `absolute`), then smallest q, then name."""
    size = rows.change.abs() if absolute else rows.change
    return (rows.assign(_size=-size).sort_values(["_size", "q", "agent", "emotion"])
            .drop(columns="_size").reset_index(drop=True))  # fmt: skip


# -- voice --------------------------------------------------------------------------------------


# -- rankings -----------------------------------------------------------------------------------


# -- links --------------------------------------------------------------------------------------


# -- one selection ------------------------------------------------------------------------------


def report(counts: pd.DataFrame, period: str, role: str, today: date,
           so_far: bool = False) -> Attention:  # fmt: skip
    """Attention over agent_periods counts for the period chosen by `choose_window`."""
    newest = None if counts.empty else pd.Timestamp(counts.period_start.max()).date()
    return attention(counts, choose_window(period, newest, today, so_far), role)


def counts_from_trends(trends: pd.DataFrame) -> pd.DataFrame:
    """agent_periods-shaped counts from Agent trends' rows (n and each emotion's share per agent
    and period): k = share x n is exact after rounding, so the ranking needs no second query."""
    counts = pd.DataFrame({"agent": trends.agent, "period_start": pd.to_datetime(trends.period),
                           "tracks": trends.n.astype("int64")})  # fmt: skip
    for e in EMOTIONS:
        counts[f"n_{e}"] = np.rint(trends[e].to_numpy(float) * trends.n.to_numpy(float)).astype(
            "int64"
        )
    return counts
