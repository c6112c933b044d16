"""Ranking agents and the links out of Needs attention: every agent by an emotion's share or its
change (with Wilson intervals), the voice (role) counted, and the Clips / Agent trends parameters
of a row. The statistics they rank by are core.analysis.attention's."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from core.analysis.attention import (
    ALL_TRACKS,
    COMBINED,
    DEFAULT_ROLE,
    MIN_N,
    NEGATIVE,
    OUTCOMES,
    UNSPLIT,
    Window,
    wilson,
    window_counts,
)
from core.errors import InputError

RANK_BY = ("share", "change")


def rank_agents(counts: pd.DataFrame, start: date, emotion: str, by: str = "share",
                min_n: int = MIN_N) -> tuple[pd.DataFrame, int]:  # fmt: skip
    """Every agent with at least `min_n` tracks in the period starting `start`, ranked by its
    share of `emotion` (or by its change against its earlier periods), highest first, with n,
    the share's 95 % Wilson interval and the baseline; and how many agents were left out as
    under `min_n`.
    """
    if emotion not in OUTCOMES:
        raise InputError(f"emotion {emotion!r}: choose one of {', '.join(OUTCOMES)}.")
    if by not in RANK_BY:
        raise InputError(f"rank by {by!r}: choose one of {', '.join(RANK_BY)}.")
    table = window_counts(counts, start)
    table = table[table.emotion == emotion]
    shown = table[table.n_latest >= min_n].copy()
    hidden = len(table) - len(shown)
    shown["share"] = shown.k_latest / shown.n_latest
    shown["low"], shown["high"] = wilson(shown.k_latest, shown.n_latest)
    with np.errstate(divide="ignore", invalid="ignore"):
        shown["share_base"] = np.where(shown.n_base > 0, shown.k_base / shown.n_base, np.nan)
    shown["change"] = shown.share - shown.share_base
    key = shown[by].fillna(-np.inf)
    shown = shown.assign(_key=-key).sort_values(["_key", "n_latest", "agent"],
                                                ascending=[True, False, True])  # fmt: skip
    shown = shown.rename(columns={"n_latest": "n", "k_latest": "k"}).reset_index(drop=True)
    shown.insert(0, "rank", np.arange(1, len(shown) + 1))
    columns = ["rank", "agent", "n", "k", "share", "low", "high", "n_base", "share_base", "change"]
    return shown[columns], hidden


def clips_params(agent: str, emotion: str, window: Window, model_key: str,
                 tracks: tuple[str, ...] = (), said: str = "") -> dict[str, str | list[str]]:  # fmt: skip
    """Query parameters of the Clips page for one item: that agent, emotion(s), period, voice,
    and with `said` only the clips whose transcript contains it (the page's search)."""
    emotions = list(NEGATIVE) if emotion == COMBINED else [emotion]
    params: dict[str, str | list[str]] = {"agent": agent, "emotion": emotions,
                                          "from": window.start.isoformat(),
                                          "to": window.end.isoformat(), "model": model_key}  # fmt: skip
    if tracks:
        params["role"] = list(tracks)
    if said:
        params["said"] = said
    return params


def trends_params(agent: str, emotion: str, window: Window, model_key: str,
                  role: str | None = None) -> dict[str, str]:  # fmt: skip
    """Query parameters of Agent trends centred on the agent and the period."""
    params = {"agent": agent, "period": window.period, "model": model_key,
              "focus": NEGATIVE[0] if emotion == COMBINED else emotion,
              "da": agent, "dp": window.start.isoformat(), "at": window.start.isoformat()}  # fmt: skip
    if role:
        params["voice"] = role
    return params


def query_string(params: dict[str, str | list[str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(params, doseq=True)


def default_role(tracks: list[str] | tuple[str, ...]) -> str:
    """The customer's voice when split calls have a customer track, else every track."""
    return DEFAULT_ROLE if DEFAULT_ROLE in tracks else ALL_TRACKS


def role_tracks(role: str, tracks: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The tracks counted for `role`: its own and the single track of unsplit recordings;
    () for every track (also when nothing is split, so no filter is needed)."""
    split = [t for t in tracks if t != UNSPLIT]
    if role == ALL_TRACKS or not split:
        return ()
    if role not in split:
        raise InputError(f"role {role!r}: choose one of {', '.join([*split, ALL_TRACKS])}.")
    return (role, UNSPLIT) if UNSPLIT in tracks else (role,)


def role_text(role: str, tracks: list[str] | tuple[str, ...]) -> str:
    """What the page says it counts."""
    if not [t for t in tracks if t != UNSPLIT]:
        return "every track (no call is split by channel)"
    if role == ALL_TRACKS:
        return "every track: both voices of split calls"
    return f"the {role}'s track of split calls (and the one track of unsplit recordings)"


def counted_filter(where, role: str, tracks: list[str] | tuple[str, ...]):
    """`where` with the voice's tracks, unless tracks were already chosen (they win)."""
    from dataclasses import replace

    if where.tracks:
        return where
    return replace(where, tracks=role_tracks(role, tracks))
