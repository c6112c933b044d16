"""Time deleting a corpus from a synthetic database, and check the integrity report afterwards.

    python bench/synth_db.py --clips 100000 --db /tmp/del/100k.duckdb
    python bench/corpus_delete.py --db /tmp/del/100k.duckdb     # deletes its corpus: a scratch file

Prints one Markdown table row: clips and rows removed, seconds for the deletion (its one data
transaction plus the two bookkeeping ones), the process's peak RSS, the integrity report's
non-zero counts (none expected) and the file size before and after a CHECKPOINT-free reopen.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.access.principal import cli_principal
from core.store.corpora import list_corpora
from core.store.database import Store
from core.store.deletion import delete_corpus
from core.store.integrity import integrity_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--corpus", help="default: the database's first corpus")
    args = parser.parse_args()
    store = Store(args.db)
    corpora = list_corpora(store)
    name = args.corpus or str(corpora.corpus.iloc[0])
    clips = int(corpora.set_index("corpus").loc[name, "clips"])
    size_before = args.db.stat().st_size
    start = time.perf_counter()
    report = delete_corpus(store, cli_principal(), name, args.db.parent / "media")
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    problems = {k: n for k, n in integrity_report(store).items() if n}
    print("| clips | predictions | segments | frame curves | deletion (s) | peak RSS (MB) "
          "| integrity | file before / after (MB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {clips:,} | {report.predictions:,} | {report.segments:,} | {report.frame_curves:,} "
          f"| {seconds:.1f} | {peak_mb:.0f} | {problems or 'clean'} "
          f"| {size_before / 2**20:.0f} / {args.db.stat().st_size / 2**20:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
