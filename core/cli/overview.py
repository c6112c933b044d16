"""`python -m core overview`: who needs attention in the last complete week or month, for
scripts and digests: what the Overview's "Needs attention" block shows (#30)."""

from __future__ import annotations

import argparse
import json
import math
import os
from datetime import date, datetime, time, timedelta

DEFAULT_URL = "http://localhost:8501"
ITEM_FIELDS = ("agent", "emotion", "share_latest", "share_base", "n_latest", "n_base", "change",
               "p", "q")  # fmt: skip


def add_overview_parser(sub) -> None:
    """The `overview` subcommand and its options."""
    p = sub.add_parser("overview", help="agents whose negative share rose, with FDR-adjusted q")
    p.add_argument("--period", default="week", choices=["day", "week", "month"])
    p.add_argument("--so-far", action="store_true",
                   help="the period still in progress instead of the last complete one")  # fmt: skip
    p.add_argument("--corpus", action="append", help="only this corpus (repeatable)")
    p.add_argument("--agent", action="append", help="only this agent (repeatable)")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="recordings from this day")  # fmt: skip
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="recordings up to this day (inclusive)")  # fmt: skip
    p.add_argument("--role", help="the voice counted for split calls: a track role such as "
                   "customer (default when there is one) or agent, or 'all'")  # fmt: skip
    p.add_argument("--model", help="model key or id (default: the team's default model)")
    p.add_argument("--today", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the day that decides which period is complete (default: today)")  # fmt: skip
    p.add_argument("--url", default=os.environ.get("EMOSCOPE_URL", DEFAULT_URL),
                   help="the dashboard's address for clips_url (default: $EMOSCOPE_URL or "
                   f"{DEFAULT_URL})")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--db")
    p.set_defaults(func=cmd_overview)


def cmd_overview(args: argparse.Namespace) -> int:
    from core.analysis.attention import report
    from core.analysis.ranking import counted_filter, default_role, role_text
    from core.cli.models import pick_model_key
    from core.records import ClipFilter
    from core.store import attention as reads
    from core.store.database import Store

    store = Store(args.db)
    model_key = pick_model_key(store, args.model)
    tracks = reads.track_names(store, model_key)
    role = (args.role or default_role(tracks)).lower()
    where = ClipFilter(
        corpora=tuple(args.corpus or ()), agents=tuple(args.agent or ()),
        date_from=None if args.date_from is None else datetime.combine(args.date_from, time()),
        date_to=None if args.date_to is None
        else datetime.combine(args.date_to + timedelta(days=1), time()),
    )  # fmt: skip
    counted = counted_filter(where, role, tracks)
    counts = reads.agent_periods(store, model_key, counted, args.period)
    result = report(counts, args.period, role, args.today or date.today(), args.so_far)
    out = as_dict(result, model_key, counted.tracks, role_text(role, tracks), args.url)
    if args.json:
        print(json.dumps(out))
    else:
        print(as_text(out))
    return 0


def as_dict(result, model_key: str, tracks: tuple[str, ...], role_said: str, url: str) -> dict:
    """The JSON the command prints: lists of items, the window, the voice, the method."""
    from core.analysis.attention import FDR, MIN_N, TEST_NAME

    window = result.window

    def items(rows) -> list[dict]:
        return [_item(row, window, model_key, tracks, url) for row in rows.to_dict("records")]

    return {
        "model": model_key,
        "period": window.period,
        "start": _iso(window.start),
        "end": _iso(window.end),
        "complete": window.complete,
        "label": window.label,
        "in_progress": _iso(window.in_progress),
        "last_complete": _iso(window.last_complete),
        "role": result.role,
        "tracks_counted": list(tracks) or "all",
        "role_counted": role_said,
        "method": {"test": TEST_NAME, "fdr": FDR, "min_n": MIN_N, "tests": result.tests},
        "needs_attention": items(result.needs_attention),
        "good_news": items(result.good_news),
        "data_quality": items(result.data_quality),
        "flagged": items(result.flagged),
    }


def _item(row: dict, window, model_key: str, tracks: tuple[str, ...], url: str) -> dict:
    from core.analysis.ranking import clips_params, query_string, trends_params

    item = {k: _plain(row[k]) for k in ITEM_FIELDS}
    base = url.rstrip("/")
    item["clips_url"] = f"{base}/clips?" + query_string(
        clips_params(row["agent"], row["emotion"], window, model_key, tracks)
    )
    item["trends_url"] = f"{base}/trends?" + query_string(
        trends_params(row["agent"], row["emotion"], window, model_key)
    )
    return item


def _plain(value):
    """A JSON-safe scalar: numpy numbers as Python numbers, NaN as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def as_text(out: dict) -> str:
    """The same for a terminal."""
    lines = [f"{out['label']} ({out['start']} to {out['end']}), model {out['model']}; "
             f"counting {out['role_counted']}.",
             f"{out['method']['tests']} tests, Benjamini-Hochberg q <= {out['method']['fdr']}, "
             f"at least {out['method']['min_n']} tracks on both sides."]  # fmt: skip
    for title, key in (("Needs attention", "needs_attention"), ("Good news", "good_news"),
                       ("Data quality", "data_quality")):  # fmt: skip
        lines.append(f"{title}: {len(out[key]) or 'none'}")
        for i, item in enumerate(out[key], 1):
            lines.append(
                f"  {i}. {item['agent']} · {item['emotion']}: {item['share_latest']:.0%} of "
                f"{item['n_latest']} vs {item['share_base']:.0%} of {item['n_base']} before "
                f"({item['change'] * 100:+.0f} pts, q = {item['q']:.1e})  {item['clips_url']}"
            )
    return "\n".join(lines)
