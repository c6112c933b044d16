"""Needs attention (#30): the statistics against independent computations, complete periods,
the customer's voice, rankings, and `python -m core overview --json` on a planted corpus."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis import attention as att
from core.analysis import ranking
from core.cli.main import main
from core.model.labels import EMOTIONS
from core.records import ClipFilter, ClipRecord, FileOutcome, ScoredTrack
from core.store import attention as reads
from core.store.aggregates import agent_trends
from core.store.batches import write_batch
from core.store.database import Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import register_model

MODEL = "emotion2vec_plus_base@test"
START = date(2025, 1, 6)  # a Monday
WEEKS = 9  # complete weeks; a tenth is in progress (Monday and Tuesday) on TODAY
TODAY = START + timedelta(weeks=WEEKS, days=2)  # the Wednesday of the tenth week
PLANTED = "agent-07"
CALM = np.array([0.08, 0.02, 0.03, 0.20, 0.45, 0.05, 0.08, 0.06, 0.03])


# -- the statistics ------------------------------------------------------------------------------


def brute_force_bh(p: np.ndarray) -> np.ndarray:
    """q_i = min over p_j >= p_i of p_j * m / rank_j, straight from the definition."""
    m = len(p)
    ranks = stats.rankdata(p, method="max")
    return np.array([min(1.0, min(p[j] * m / ranks[j] for j in range(m) if p[j] >= p[i]))
                     for i in range(m)])  # fmt: skip


def test_bh_qvalues_match_the_definition_and_skip_untested():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.002, size=5), [0.5, 0.5]])
    assert att.bh_qvalues(p) == pytest.approx(brute_force_bh(p))
    with_nan = np.array([0.01, np.nan, 0.04, 0.03])
    q = att.bh_qvalues(with_nan)
    assert np.isnan(q[1]) and q[[0, 2, 3]] == pytest.approx(brute_force_bh(with_nan[[0, 2, 3]]))
    assert np.isnan(att.bh_qvalues(np.array([np.nan]))).all()
    # rejecting q <= 0.05 is exactly the step-up rule p_(i) <= i/m * 0.05
    order = np.sort(p)
    passing = np.nonzero(order <= np.arange(1, len(p) + 1) / len(p) * 0.05)[0]
    assert (att.bh_qvalues(p) <= 0.05).sum() == (passing.max() + 1 if len(passing) else 0)


def test_p_is_fishers_exact_test_and_z_the_pooled_z():
    cases = [(30, 80, 120, 900), (2, 31, 0, 237), (0, 25, 40, 400), (12, 20, 3, 60),
             (31, 31, 200, 237), (5, 2000, 60, 30000)]  # fmt: skip
    k1, n1, k0, n0 = (np.array(c) for c in zip(*cases, strict=True))
    z, p = att.two_proportion(k1, n1, k0, n0)
    for i, (a, b, c, d) in enumerate(cases):
        table = [[a, b - a], [c, d - c]]
        tails = [stats.fisher_exact(table, alternative=s).pvalue for s in ("less", "greater")]
        assert p[i] == pytest.approx(min(1.0, 2 * min(tails)), rel=1e-9)
        chi2 = stats.chi2_contingency(table, correction=False)[0]
        assert z[i] ** 2 == pytest.approx(chi2) and np.sign(z[i]) == np.sign(a / b - c / d)
    assert p[1] > 0.01  # 2 of 31 against 0 of 237: the z-test's p was 9e-5
    z, p = att.two_proportion([0, 5], [20, 5], [0, 30], [40, 30])
    assert list(z) == [0, 0] and list(p) == [1, 1]  # no variance: nothing to test
    z, p = att.two_proportion([], [], [], [])
    assert z.shape == (0,) and p.shape == (0,)  # an empty period: no tests, no error


def test_wilson_interval_matches_the_formula():
    low, high = att.wilson([0, 5, 50], [10, 10, 100])
    assert low[0] == pytest.approx(0.0, abs=1e-12) and high[0] == pytest.approx(0.27753, abs=1e-5)
    assert (low[1], high[1]) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert (low[2], high[2]) == pytest.approx((0.40383, 0.59617), abs=1e-5)


@pytest.mark.parametrize(
    ("period", "last", "today", "so_far", "start", "complete", "in_progress"),
    [
        # the data end on the Tuesday of the current week: that week is in progress
        ("week", date(2025, 3, 11), date(2025, 3, 12), False, date(2025, 3, 3), True, date(2025, 3, 10)),
        ("week", date(2025, 3, 11), date(2025, 3, 12), True, date(2025, 3, 10), False, date(2025, 3, 10)),
        # the calendar has moved on: the data's last week is complete, however short
        ("week", date(2025, 3, 10), date(2026, 1, 1), False, date(2025, 3, 10), True, None),
        ("week", date(2025, 3, 10), date(2026, 1, 1), True, date(2025, 3, 10), True, None),
        # the data run ahead of the clock: the data have moved past the week before
        ("week", date(2025, 3, 20), date(2025, 3, 1), False, date(2025, 3, 10), True, date(2025, 3, 17)),
        ("month", date(2025, 3, 31), date(2025, 3, 31), False, date(2025, 2, 1), True, date(2025, 3, 1)),
        ("month", date(2025, 1, 15), date(2025, 3, 2), False, date(2025, 1, 1), True, None),
        ("day", date(2025, 3, 11), date(2025, 3, 11), False, date(2025, 3, 10), True, date(2025, 3, 11)),
    ],
)  # fmt: skip
def test_the_last_complete_period_is_the_default(period, last, today, so_far, start, complete,
                                                 in_progress):  # fmt: skip
    window = att.choose_window(period, last, today, so_far)
    assert (window.start, window.complete, window.in_progress) == (start, complete, in_progress)
    assert window.label.endswith("so far") == (not complete)
    assert window.end_exclusive == att.shift(start, period, 1)


def test_month_arithmetic_crosses_years():
    assert att.shift(date(2024, 12, 1), "month", 1) == date(2025, 1, 1)
    assert att.shift(date(2025, 1, 1), "month", -1) == date(2024, 12, 1)
    assert att.choose_window("week", None, TODAY).start is None


def test_voice_counted_for_split_calls():
    tracks = ["agent", "customer", "mix"]
    assert ranking.default_role(tracks) == "customer" and ranking.default_role(["mix"]) == "all"
    assert ranking.role_tracks("customer", tracks) == ("customer", "mix")
    assert ranking.role_tracks("agent", ["agent", "customer"]) == ("agent",)
    assert (
        ranking.role_tracks("all", tracks) == () and ranking.role_tracks("customer", ["mix"]) == ()
    )
    with pytest.raises(Exception, match="choose one of agent, customer, all"):
        ranking.role_tracks("caller", tracks)


# -- a planted corpus --------------------------------------------------------------------------


def planted_rows(seed: int = 11, plant: bool = True, agents: int = 16,
                 start: date = START) -> pd.DataFrame:  # fmt: skip
    """Nine complete weeks and two days of a tenth, `agents` agents of ~60 calls a week, a third
    of them split into agent and customer tracks. With `plant`, PLANTED's customers turn angry
    and sad in the ninth week (the last complete one). In that week agent-13's *own* track of
    split calls turns angry too: seen only when the agent's voice is counted. Every other
    share stays as it was."""
    rng = np.random.default_rng(seed)
    upset = CALM.copy()
    upset[[0, 6]] += [0.35, 0.25]
    upset /= upset.sum()
    furious = CALM.copy()
    furious[0] += 6.0
    furious /= furious.sum()
    rows = []
    for a in range(agents):
        name = f"agent-{a:02d}"
        tilt = np.exp(rng.normal(0, 0.15, 9))  # each agent its own steady mix
        base = CALM * tilt / (CALM * tilt).sum()
        for week in range(WEEKS + 1):
            days = 7 if week < WEEKS else 2
            for i in range(int(rng.poisson(60 * days / 7))):
                moment = datetime.combine(start + timedelta(weeks=week, days=int(rng.integers(days))),
                                          datetime.min.time()) + timedelta(hours=9, minutes=i)  # fmt: skip
                clip = f"{name}-{week}-{i}"
                customer = upset if plant and name == PLANTED and week == WEEKS - 1 else base
                own = furious if plant and name == "agent-13" and week == WEEKS - 1 else base
                if rng.random() < 1 / 3:
                    tracks = [("customer", customer), ("agent", own)]
                else:
                    tracks = [("mix", customer)]
                for track, probs in tracks:
                    rows.append((clip, track, name, moment, EMOTIONS[rng.choice(9, p=probs)]))
    return pd.DataFrame(rows, columns=["clip_id", "track", "agent", "recorded_at", "emotion"])


def write_rows(store: Store, corpus: str, rows: pd.DataFrame) -> None:
    """Store the rows through the ingest's own write path (one clip per clip_id)."""
    register_model(store, MODEL, "emotion2vec_plus_base", "rev0123456789abcdef", 4, False)
    run = start_run(store, corpus, MODEL, rows.clip_id.nunique())
    clips = [ClipRecord(r.clip_id, f"{r.clip_id}.wav", None, 3.0, 16_000, 2 if r.n > 1 else 1,
                        "pcm", 1000, r.agent, r.recorded_at.to_pydatetime())
             for r in rows.groupby("clip_id", sort=False).agg(
                 agent=("agent", "first"), recorded_at=("recorded_at", "first"),
                 n=("track", "size")).reset_index().itertuples()]  # fmt: skip
    tracks = []
    for r in rows.itertuples():
        scores = np.full(9, 0.3 / 8, dtype=np.float32)
        scores[EMOTIONS.index(r.emotion)] = 0.7
        tracks.append(ScoredTrack(r.clip_id, r.track, scores, np.zeros(4)))
    outcomes = [FileOutcome(c.source_name, "scored", c.clip_id, c.duration_s) for c in clips]
    write_batch(store, run, corpus, MODEL, 4, clips, tracks, outcomes)
    finish_run(store, run)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    path = tmp_path_factory.mktemp("planted") / "emoscope.duckdb"
    rows = planted_rows()
    write_rows(Store(path), "calls", rows)
    return path, rows


@pytest.fixture(scope="module")
def null_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("null") / "emoscope.duckdb"
    write_rows(Store(path), "calls", planted_rows(seed=12, plant=False))
    return path


def overview_json(db: Path, *args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            main(["overview", "--db", str(db), "--json", "--today", TODAY.isoformat(), *args]) == 0
        )
    return json.loads(out.getvalue())


def test_counts_match_pandas_from_the_rollup_and_from_the_tracks(planted):
    path, rows = planted
    store = Store(path)
    for where in (ClipFilter(), ClipFilter(tracks=("customer", "mix"))):
        got = reads.agent_periods(store, MODEL, where, "week")
        picked = rows[rows.track.isin(where.tracks)] if where.tracks else rows
        week = picked.recorded_at.dt.to_period("W-SUN").dt.start_time
        expected = pd.crosstab([picked.agent, week], picked.emotion)
        assert got.tracks.sum() == len(picked)
        for row in got.sample(20, random_state=0).itertuples():
            counts = expected.loc[(row.agent, row.period_start)]
            assert row.tracks == counts.sum()
            assert [getattr(row, f"n_{e}") for e in EMOTIONS] == [
                counts.get(e, 0) for e in EMOTIONS
            ]


def test_the_planted_agent_comes_first_and_no_other_agent_is_flagged(planted):
    path, rows = planted
    out = overview_json(path, "--period", "week")
    assert (out["start"], out["end"], out["complete"]) == ("2025-03-03", "2025-03-09", True)
    assert out["in_progress"] == "2025-03-10" and out["role"] == "customer"
    assert out["tracks_counted"] == ["customer", "mix"]
    first = out["needs_attention"][0]
    assert first["agent"] == PLANTED and first["emotion"] in ("negative", "angry")
    assert {i["agent"] for i in out["flagged"]} == {PLANTED}  # agent-13's own voice is not counted
    assert set(first) >= {"agent", "emotion", "share_latest", "share_base", "n_latest", "n_base",
                          "change", "p", "q", "clips_url"}  # fmt: skip
    # the figures are those of the rows: the customer's voice in the ninth week against before
    voice = rows[(rows.agent == PLANTED) & rows.track.isin(["customer", "mix"])]
    week = voice.recorded_at.dt.normalize()
    latest = voice[(week >= "2025-03-03") & (week < "2025-03-10")]
    before = voice[week < "2025-03-03"]
    negative = ["angry", "disgusted", "fearful", "sad"]
    item = next(i for i in out["needs_attention"] if i["emotion"] == "negative")
    assert (item["n_latest"], item["n_base"]) == (len(latest), len(before))
    assert item["share_latest"] == pytest.approx(latest.emotion.isin(negative).mean())
    assert item["share_base"] == pytest.approx(before.emotion.isin(negative).mean())
    assert item["q"] <= 0.05 and item["p"] <= item["q"]
    url = urlsplit(first["clips_url"])
    params = parse_qs(url.query)
    assert url.path == "/clips" and params["agent"] == [PLANTED]
    assert params["emotion"] == (negative if first["emotion"] == "negative" else ["angry"])
    assert (params["from"], params["to"]) == (["2025-03-03"], ["2025-03-09"])
    assert params["role"] == ["customer", "mix"] and params["model"] == [MODEL]
    assert all(i["change"] < 0 or i["emotion"] == "happy" for i in out["good_news"])


def test_the_agents_own_voice_is_counted_when_asked(planted):
    path, _ = planted
    out = overview_json(path, "--role", "agent")
    assert out["tracks_counted"] == ["agent", "mix"]
    assert "agent-13" in {i["agent"] for i in out["needs_attention"]}
    everything = overview_json(path, "--role", "all")
    assert everything["tracks_counted"] == "all"


def test_so_far_is_the_week_in_progress(planted):
    path, _ = planted
    out = overview_json(path, "--so-far")
    assert (out["start"], out["complete"]) == ("2025-03-10", False)
    assert out["label"] == "week of 2025-03-10 so far"
    assert overview_json(path, "--period", "month")["start"] == "2025-02-01"


def test_nothing_is_flagged_when_nothing_changed(null_db):
    out = overview_json(null_db)
    assert out["method"]["tests"] == 160  # 16 agents x 10 outcomes
    assert out["flagged"] == [] and out["needs_attention"] == []


def test_the_text_output_names_the_window_and_the_voice(planted, capsys):
    path, _ = planted
    assert main(["overview", "--db", str(path), "--today", TODAY.isoformat()]) == 0
    text = capsys.readouterr().out
    assert text.startswith("week of 2025-03-03 (2025-03-03 to 2025-03-09)")
    assert "counting the customer's track of split calls" in text
    assert f"1. {PLANTED} · " in text


def test_bad_options_are_one_line_errors(planted, capsys):
    path, _ = planted
    assert main(["overview", "--db", str(path), "--role", "caller"]) == 2
    assert "role 'caller'" in capsys.readouterr().err


# -- rankings ------------------------------------------------------------------------------------


def test_rank_agents_by_share_and_by_change(planted):
    path, _ = planted
    counts = reads.agent_periods(Store(path), MODEL, ClipFilter(tracks=("customer", "mix")), "week")
    ranked, hidden = ranking.rank_agents(counts, date(2025, 3, 3), "negative", min_n=20)
    assert ranked.iloc[0].agent == PLANTED and list(ranked["rank"]) == list(
        range(1, len(ranked) + 1)
    )
    assert ranked.share.is_monotonic_decreasing and (ranked.n >= 20).all()
    assert hidden == 16 - len(ranked)
    row = ranked.iloc[0]
    assert row.low < row.share < row.high
    assert (row.low, row.high) == pytest.approx(tuple(x[0] for x in att.wilson([row.k], [row.n])))
    by_change, _ = ranking.rank_agents(counts, date(2025, 3, 3), "angry", by="change", min_n=20)
    assert by_change.iloc[0].agent == PLANTED and by_change.change.is_monotonic_decreasing
    few, hidden_all = ranking.rank_agents(counts, date(2025, 3, 3), "angry", min_n=10_000)
    assert few.empty and hidden_all == 16


# -- the Overview page (AppTest) ----------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def this_monday() -> date:
    today = date.today()
    return today - timedelta(days=today.weekday())


@pytest.fixture(scope="module")
def planted_now(tmp_path_factory) -> tuple[Path, date]:
    """The planted corpus ending now: its tenth week is the week in progress today, so the
    ninth (with the planted rise) is the last complete week by the calendar."""
    start = this_monday() - timedelta(weeks=WEEKS)
    path = tmp_path_factory.mktemp("planted_now") / "emoscope.duckdb"
    write_rows(Store(path), "calls", planted_rows(start=start))
    return path, start + timedelta(weeks=WEEKS - 1)


def open_overview(db: Path, monkeypatch, **params):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def link_params(at, label: str) -> list[dict[str, list[str]]]:
    return [parse_qs(link.proto.query_string) for link in at.page_link if link.value == label]


def test_the_overview_opens_on_who_needs_attention(planted_now, monkeypatch):
    path, week = planted_now
    at = open_overview(path, monkeypatch)
    assert at.subheader[0].value == f"🚩 Needs attention · week of {week:%Y-%m-%d}"
    first = at.text[0].value
    assert first.startswith(f"{PLANTED} · ") and "q = " in first and " now vs " in first
    assert all(not t.value.startswith("agent-13") for t in at.text)  # the customer's voice
    assert any("counting the customer's track of split calls" in c.value for c in at.caption)
    clips = link_params(at, "Clips")[0]
    assert clips["agent"] == [PLANTED] and clips["role"] == ["customer", "mix"]
    assert clips["from"] == [week.isoformat()] and clips["to"] == [
        (week + timedelta(6)).isoformat()
    ]
    trend = link_params(at, "Trend")[0]
    assert trend["da"] == [PLANTED] and trend["dp"] == [week.isoformat()]
    assert at.radio[1].value is False  # last complete, with the week in progress offered
    at.radio[1].set_value(True).run()
    assert at.subheader[0].value.endswith("so far") and at.query_params["sofar"] == "1"


def test_the_voice_is_a_sidebar_choice_kept_in_the_url(planted_now, monkeypatch):
    path, _ = planted_now
    at = open_overview(path, monkeypatch, voice="agent")
    assert at.sidebar.selectbox[-1].value == "agent"
    assert any(t.value.startswith("agent-13 · ") for t in at.text)
    assert any("counting the agent's track" in c.value for c in at.caption)


def test_agent_trends_ranks_every_agent_and_keeps_the_question(planted_now, monkeypatch):
    path, week = planted_now
    at = open_overview(path, monkeypatch)
    at.switch_page("../pages/trends.py")
    at.query_params.update(
        {"ranking": "1", "rank": "negative", "da": PLANTED, "at": week.isoformat()}
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    ranking = at.dataframe[0].value
    assert ranking.agent.iloc[0] == PLANTED and list(ranking["rank"]) == list(range(1, 17))
    assert (ranking.low <= ranking.share).all() and (ranking.share <= ranking.high).all()
    assert any(f"Agents with at least 20 tracks in the week of {week:%Y-%m-%d}: 16," in c.value
               for c in at.caption)  # fmt: skip
    centred = next(c.value for c in at.caption if c.value.startswith("Centred on"))
    assert f"week of {week:%Y-%m-%d} and {PLANTED}" in centred
    at.query_params["rpage"] = "2"
    at.query_params["rank"] = "happy"
    at.run()
    assert at.dataframe[0].value.share.is_monotonic_decreasing


# -- the team's default model ------------------------------------------------------------------


def test_the_default_model_is_the_setting_else_the_most_results_never_the_latest(monkeypatch):
    from core.model.team import team_default, why

    models = pd.DataFrame({
        "model_key": ["new@1", "big@1", "old@1"], "model_id": ["new", "big", "old"],
        "n_tracks": [20, 1444, 1444],
        "first_used": pd.to_datetime(["2026-03-01", "2026-02-01", "2026-01-01"]),
    })  # fmt: skip  # list_models() order: most recently used first
    monkeypatch.delenv("EMOSCOPE_MODEL", raising=False)
    assert team_default(models) == "old@1"  # the most results; a tie: the first used
    assert why(models, "old@1") == "the model holding the most results"
    monkeypatch.setenv("EMOSCOPE_MODEL", "new")  # a model id, or a key
    assert team_default(models) == "new@1" and why(models, "new@1").endswith("(EMOSCOPE_MODEL)")
    monkeypatch.setenv("EMOSCOPE_MODEL", "gone")  # not here: the most results
    assert team_default(models) == "old@1"
    assert team_default(models.iloc[:0]) is None


def test_the_per_track_days_give_what_the_tracks_give(planted):
    """agent_periods and agent_trends from core.store.track_rollup equal the pass over the
    tracks, for every voice; a filter the days do not keep falls back to the tracks."""
    from core.store import track_rollup

    path, _ = planted
    store = Store(path)
    for tracks in ((), ("customer", "mix"), ("agent", "mix"), ("agent",)):
        where = ClipFilter(tracks=tracks, agents=("agent-03", "agent-07"))
        assert track_rollup.keeps(where)
        with store.reading() as con:
            assert reads._days_answer(con, where)
            slow = reads._from_tracks(con, MODEL, where, "week")
        fast = reads.agent_periods(store, MODEL, where, "week")
        slow["period_start"] = pd.to_datetime(slow.period_start)
        pd.testing.assert_frame_equal(
            fast, slow.sort_values(["agent", "period_start"], ignore_index=True)
        )
        days = reads.agent_trends(store, MODEL, where, "month")
        pd.testing.assert_frame_equal(days, agent_trends(store, MODEL, where, "month"),
                                      check_dtype=False)  # fmt: skip
    assert not track_rollup.keeps(ClipFilter(top_labels=("angry",)))
