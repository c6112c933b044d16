"""`python -m core evaluate`: the model check of a labelled corpus, as text, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.analysis.evaluation import (
    RESAMPLES,
    SEED,
    CorpusCheck,
    ModelReport,
    per_class,
    report_rows,
)
from core.model.labels import EMOTIONS


def add_evaluate_parser(sub) -> None:
    """The `evaluate` subcommand and its options."""
    p = sub.add_parser(
        "evaluate", help="check the model against your own labels (see ingest --label-column)"
    )
    p.add_argument("--corpus", required=True, help="a corpus ingested with labels")
    p.add_argument("--model", action="append",
                   help="model key or id, repeatable (default: every model that scored it)")  # fmt: skip
    p.add_argument("--map", action="append", default=[], metavar="LABEL=CLASS",
                   help="map one of your labels to a class, e.g. --map calm=neutral; "
                        "--map calm= leaves it out (repeatable)")  # fmt: skip
    p.add_argument("--track", help="only this track of split recordings, e.g. customer")
    p.add_argument("--json", action="store_true", help="print the report as JSON (last line)")
    p.add_argument("--out", metavar="FILE.csv", help="also write one row per model and class")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")
    p.add_argument("--db")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from core.analysis.evaluation import parse_map
    from core.cli.models import pick_model_key
    from core.errors import InputError
    from core.store.database import Store
    from core.store.evaluation import check_corpus

    overrides = parse_map(args.map)  # a typo fails before the database is opened
    if args.resamples < 1:
        raise InputError("--resamples must be at least 1.")
    store = Store(args.db)
    keys = [pick_model_key(store, m) for m in args.model] if args.model else None
    check = check_corpus(store, args.corpus, overrides, keys, args.track, args.resamples,
                         args.seed)  # fmt: skip
    if check.unmapped:
        print(f"warning: {unmapped_line(check)}", file=sys.stderr)
    if args.out:
        try:
            pd.DataFrame(report_rows(check)).to_csv(Path(args.out), index=False)
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror or exc}.") from exc
    if args.json:
        print(json.dumps(check.as_dict()))
    else:
        print(text_report(check))
    return 0


def unmapped_line(check: CorpusCheck) -> str:
    """The labels left out of the check, with counts (never dropped silently)."""
    found = check.unmapped
    total = sum(found.values())
    names = ", ".join(f"{k} ({n})" for k, n in sorted(found.items(), key=lambda x: -x[1]))
    return (f"{len(found)} label(s) on {total} clip(s) map to no class and are left out: "
            f"{names}. Map them with --map LABEL=CLASS.")  # fmt: skip


def text_report(check: CorpusCheck) -> str:
    """The report for a terminal: labels and mapping, then each model's figures."""
    mapped = ", ".join(f"{k}->{v}" for k, v in check.mapping.items() if v is not None)
    lines = [
        f"corpus {check.corpus}: {sum(check.labels.values())} labelled clips, "
        f"{check.unlabelled} without a label" + (f", track {check.track}" if check.track else ""),
        f"mapping: {mapped or 'none'}",
        unmapped_line(check) if check.unmapped else "every label is mapped to a class",
        f"intervals: {check.level:.0%} percentile bootstrap, {check.resamples} resamples of the "
        f"clips, seed {check.seed}",
    ]
    for report in check.reports:
        lines += ["", *model_lines(report)]
    return "\n".join(lines)


def model_lines(report: ModelReport) -> list[str]:
    import pandas as pd

    lines = [f"model {report.model_key}" + (f"  [{report.note()}]" if report.note() else "")]
    lines.append(f"  tracks {report.n}  accuracy {report.accuracy.text()}  "
                 f"macro-F1 {report.macro_f1.text()}")  # fmt: skip
    if report.n == 0:
        return [*lines, "  none of its labelled tracks maps to a class: add --map LABEL=CLASS"]
    shown = report.classes()
    index = [EMOTIONS.index(e) for e in shown]
    matrix = pd.DataFrame(report.confusion[index][:, index], index=shown, columns=shown)
    lines.append("  confusion (rows: your label, columns: the model's top emotion)")
    lines += ["    " + line for line in matrix.to_string().splitlines()]
    stats = per_class(report.confusion)
    table = pd.DataFrame({k: v[index] for k, v in stats.items()}, index=shown)
    table[["n", "predicted"]] = table[["n", "predicted"]].astype(int)
    lines.append("  per class")
    lines += ["    " + line for line in table.round(3).to_string(na_rep="-").splitlines()]
    return lines
