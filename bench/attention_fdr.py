"""How honest is "Needs attention"? Its false discovery rate under the null and its power for a
planted shift, on simulated counts run through the page's own functions (#30).

    python bench/attention_fdr.py [--replicates 1000] [--agents 400] [--seed 0]

Each replicate draws, per agent, a steady emotion mix (the synthetic database's kind: a base
mix tilted per agent), `--base-periods` earlier periods and one latest period of
Poisson(`--per-period`) tracks each, and runs core.analysis.attention.attention on them: exact
tests, Benjamini-Hochberg over all 10 x agents tests at q = 0.05, the minimum-n rule.

Scenarios:
- null: nothing changes. A flag is a false discovery; the false discovery rate equals the
  chance of any flag. The old rule of the page (pooled z-test, p < 0.01, no correction) is
  counted on the same draws for comparison.
- planted: one agent's angry share rises by `delta` points in the latest period (taken evenly
  from its other emotions). Power: the agent is in needs_attention (angry or negative), and
  it is first.
- many: 10 % of agents rise by 15 points: the false discovery rate among the flags.
- overdispersed null: each agent's mix wobbles from period to period (Dirichlet around its
  mix, concentration `--concentration`), as real weeks do; the tests assume it does not.

Writes bench/results/attention-fdr.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.analysis import attention as att
from core.model.labels import EMOTIONS

BASE = np.array([0.08, 0.02, 0.03, 0.20, 0.45, 0.05, 0.08, 0.06, 0.03])
LATEST = date(2025, 3, 3)
RESULTS = Path(__file__).resolve().parent / "results"


def agent_mixes(rng, agents: int) -> np.ndarray:
    tilt = np.exp(rng.normal(0, 0.15, (agents, 9)))
    mix = BASE * tilt
    return mix / mix.sum(axis=1, keepdims=True)


def draw(rng, mixes: np.ndarray, periods: int, per_period: float, concentration: float | None,
         shifted: dict[int, float]) -> pd.DataFrame:  # fmt: skip
    """Counts per agent and period (the last is the latest); `shifted`: agent -> angry + delta."""
    agents = len(mixes)
    rows = []
    for p in range(periods + 1):
        n = rng.poisson(per_period, agents)
        probs = mixes.copy()
        if concentration:
            probs = np.array([rng.dirichlet(m * concentration) for m in mixes])
        if p == periods:
            for a, delta in shifted.items():
                rest = 1 - probs[a, 0]
                probs[a, 1:] *= (rest - delta) / rest
                probs[a, 0] += delta
        k = np.array([rng.multinomial(n[a], probs[a]) for a in range(agents)])
        frame = pd.DataFrame(k, columns=[f"n_{e}" for e in EMOTIONS])
        frame.insert(0, "tracks", n)
        frame.insert(0, "period_start", pd.Timestamp(LATEST - timedelta(weeks=periods - p)))
        frame.insert(0, "agent", [f"agent-{a:03d}" for a in range(agents)])
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def old_rule_flags(counts: pd.DataFrame) -> int:
    """The page before #30: pooled z-test per agent x emotion (nine), p < 0.01, n >= 20."""
    from scipy.special import erfc

    table = att.window_counts(counts, LATEST)
    table = table[table.emotion != att.COMBINED]
    k1, n1, k0, n0 = (
        table[c].to_numpy(float) for c in ("k_latest", "n_latest", "k_base", "n_base")
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = np.nan_to_num(np.where(se > 0, (k1 / n1 - k0 / n0) / se, 0.0))
    p = erfc(np.abs(z) / np.sqrt(2))
    return int(((p < 0.01) & (n1 >= att.MIN_N) & (n0 >= att.MIN_N)).sum())


def run(args) -> dict:
    rng = np.random.default_rng(args.seed)
    window = att.Window("week", LATEST, True, None, LATEST)
    out: dict = {"agents": args.agents, "replicates": args.replicates, "per_period": args.per_period,
                 "base_periods": args.base_periods, "fdr": att.FDR, "min_n": att.MIN_N}  # fmt: skip

    def scenario(name: str, replicates: int, shifted_of, concentration=None, old=False,
                 volume: float = 1.0):  # fmt: skip
        any_flag = false_total = flags_total = 0
        fdp, old_flags, found, first, tests = [], [], 0, 0, []
        started = time.monotonic()
        for _ in range(replicates):
            mixes = agent_mixes(rng, args.agents)
            shifted = shifted_of(rng)
            counts = draw(rng, mixes, args.base_periods, args.per_period * volume, concentration,
                          shifted)  # fmt: skip
            report = att.attention(counts, window, att.ALL_TRACKS)
            agents = {int(a.split("-")[1]) for a in report.flagged.agent}
            false = len(report.flagged[~report.flagged.agent.isin(
                [f"agent-{a:03d}" for a in shifted])])  # fmt: skip
            tests.append(report.tests)
            any_flag += false > 0
            false_total += false
            flags_total += len(report.flagged)
            fdp.append(false / len(report.flagged) if len(report.flagged) else 0.0)
            if shifted:
                found += len(set(shifted) & agents) / len(shifted)
                top = report.needs_attention.head(1)
                first += bool(len(top)) and int(top.agent.iloc[0].split("-")[1]) in shifted
            if old:
                old_flags.append(old_rule_flags(counts))
        result = {
            "replicates": replicates,
            "tests_per_replicate": float(np.mean(tests)),
            "replicates_with_a_false_flag": any_flag / replicates,
            "false_flags_per_replicate": false_total / replicates,
            "flags_per_replicate": flags_total / replicates,
            "false_discovery_rate": float(np.mean(fdp)),
            "seconds": round(time.monotonic() - started, 1),
        }
        if shifted:
            result["power"] = found / replicates
            result["shifted_agent_first"] = first / replicates
        if old:
            result["old_rule_flags_per_replicate"] = float(np.mean(old_flags))
        out[name] = result
        print(name, json.dumps(result), flush=True)

    n = args.replicates
    scenario("null", n, lambda r: {}, old=True)
    for delta in (0.10, 0.15, 0.20):
        scenario(f"planted_{int(delta * 100)}pts", max(n // 4, 50),
                 lambda r, d=delta: {int(r.integers(args.agents)): d})  # fmt: skip
    for delta in (0.05, 0.10):  # a month's volume: four times the tracks per period
        scenario(f"planted_{int(delta * 100)}pts_4x_tracks", max(n // 4, 50),
                 lambda r, d=delta: {int(r.integers(args.agents)): d}, volume=4.0)  # fmt: skip
    many = max(args.agents // 10, 1)
    scenario(
        "many_15pts",
        max(n // 4, 50),
        lambda r: dict.fromkeys(r.choice(args.agents, many, replace=False).tolist(), 0.15),
    )
    scenario("overdispersed_null", max(n // 4, 50), lambda r: {},
             concentration=args.concentration, old=True)  # fmt: skip
    out["concentration"] = args.concentration
    return out


def markdown(out: dict) -> str:
    lines = [
        "# Needs attention: false discovery rate and power (simulated)",
        "",
        f"`python bench/attention_fdr.py --replicates {out['replicates']} --agents {out['agents']}`"
        f": {out['agents']} agents, {out['base_periods']} earlier weeks and one latest week of "
        f"Poisson({out['per_period']:g}) tracks per agent, 10 tests per agent (9 emotions and "
        f"negative), exact tests, Benjamini-Hochberg at q = {out['fdr']}, n >= {out['min_n']} "
        "both sides.",
        "",
        "| scenario | replicates | tests | flags / replicate | false flags / replicate | "
        "replicates with a false flag | FDR | power | shifted agent ranked first |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("null", "planted_10pts", "planted_15pts", "planted_20pts",
                 "planted_5pts_4x_tracks", "planted_10pts_4x_tracks", "many_15pts",
                 "overdispersed_null"):  # fmt: skip
        r = out[name]
        lines.append(
            f"| {name} | {r['replicates']} | {r['tests_per_replicate']:.0f} | "
            f"{r['flags_per_replicate']:.3f} | {r['false_flags_per_replicate']:.3f} | "
            f"{r['replicates_with_a_false_flag']:.3f} | {r['false_discovery_rate']:.3f} | "
            f"{r.get('power', float('nan')):.2f} | {r.get('shifted_agent_first', float('nan')):.2f} |"
        )
    lines += [
        "",
        f"Old rule (z-test, p < 0.01, no correction) on the same null draws: "
        f"{out['null']['old_rule_flags_per_replicate']:.1f} flags per replicate; overdispersed "
        f"(Dirichlet concentration {out['concentration']:g}): "
        f"{out['overdispersed_null']['old_rule_flags_per_replicate']:.1f}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--per-period", type=float, default=50.0)
    parser.add_argument("--base-periods", type=int, default=8)
    parser.add_argument("--concentration", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "attention-fdr")
    args = parser.parse_args()
    out = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(out, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
