"""`python -m core ...`: ingest, score, export, info, check, evaluate, make-test-model,
delete-corpus, audit and roles, headless.

Every user error ends in one line on stderr and exit status 2; an unexpected one in one line and
status 1, with the traceback only under --verbose.

Each command imports what it runs inside its function: `--help` and a mistyped argument answer
in a fraction of a second instead of first importing pandas, DuckDB, PyAV and (for scoring) torch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from core.cli.access import add_commands as add_access_commands
from core.cli.access import record_ingest
from core.cli.check import add_check_parser
from core.cli.commands import cmd_export, cmd_info, cmd_make_test_model, existing_files
from core.cli.evaluate import add_evaluate_parser
from core.cli.overview import add_overview_parser
from core.cli.progress import FilesLine
from core.cli.similar import add_similar_parser, sync_indexes
from core.cli.tokens import add_tokens_parser
from core.errors import EmoScopeError, InputError
from core.model.labels import EMOJI, UNTRAINED_LABEL
from core.records import FILTER_EVENTS


def _load(args):
    from core.model.engine import load_engine

    # funasr prints to stdout while loading; keep stdout for results (--json's last line).
    with contextlib.redirect_stdout(sys.stderr):
        engine = load_engine(args.model, args.device, hub=args.hub, precision=args.precision)
    if engine.untrained:
        print(f"note: {engine.model_id} is an {UNTRAINED_LABEL}: its scores mean nothing.",
              file=sys.stderr)  # fmt: skip
    return engine


def cmd_ingest(args) -> int:
    from core.ingest import metadata, sources
    from core.ingest.pipeline import ingest, parse_roles
    from core.store.database import Store

    if args.manifest and args.pattern:
        raise InputError("use --manifest or --pattern, not both.")
    meta = metadata.no_metadata  # options first: a typo fails before any folder is walked
    if args.label_column and not args.manifest:
        raise InputError("--label-column names a column of the manifest; add --manifest FILE.")
    if args.manifest:
        meta = metadata.from_manifest(args.manifest, label_column=args.label_column)
    elif args.pattern:
        meta = metadata.from_pattern(args.pattern)
    roles = parse_roles(args.roles)
    if roles and args.channels != "split":
        raise InputError("--roles names the channels of --channels split; add --channels split.")
    collecting, run = sources.collected, ingest
    if args.ray is not None or args.staging:  # the same ingest as a Ray Data pipeline
        from core.ingest.ray.driver import for_cli

        collecting, run = for_cli(args, Store(args.db))
    with collecting(args.paths) as inputs:  # zip members unpacked to a temporary folder
        store = Store(args.db)
        store.initialise()  # a damaged or newer database is refused here, before the model loads
        engine = _load(args)
        transcriber = _load_transcriber(args) if args.transcribe else None
        summary = run(
            store, engine, inputs, args.corpus, metadata=meta, frames=args.frames,
            channel_mode=args.channels, channel_roles=roles, media_dir=store.path.parent / "media",
            on_progress=FilesLine(f"ingest {args.corpus}"), workers=args.workers,
        )  # fmt: skip
        said = None
        if transcriber is not None:
            from core.ingest.transcribing import transcribe_inputs

            said = transcribe_inputs(
                store, transcriber, engine, inputs, args.channels, roles,
                on_progress=FilesLine(f"transcribe {args.corpus}"),
            )  # fmt: skip
    record_ingest(store, summary)
    sync_indexes(store)  # the similarity indexes that exist take the new tracks (#27)
    for note in summary.notes:
        print(f"warning: {note}", file=sys.stderr)
    for outcome in summary.outcomes:
        if outcome.status == "failed" or outcome.message:
            print(f"{outcome.status}: {outcome.message}", file=sys.stderr)
    if said is not None:
        for failure in said.failed:
            print(f"warning: not transcribed: {failure}", file=sys.stderr)
    if args.json:
        result = summary.as_dict()
        if said is not None:
            result["transcripts"] = said.as_dict()
        print(json.dumps(result))
    else:
        print(f"{summary.corpus}: {summary.scored} scored, {summary.cached} cached, "
              f"{summary.failed} failed, {summary.seconds_audio:.1f} s of audio -> {store.path}")  # fmt: skip
        if said is not None:
            print(f"{summary.corpus}: {said.transcribed} tracks transcribed, {said.cached} "
                  f"cached, {said.segments} segments ({transcriber.display_name})")  # fmt: skip
    return 0


def _load_transcriber(args):
    from core.model.transcribe import load_transcriber

    with contextlib.redirect_stdout(sys.stderr):
        transcriber = load_transcriber(
            args.asr_model, args.device, hub=args.hub, language=args.language, use_itn=args.itn
        )
    if transcriber.untrained:
        print(f"note: {transcriber.model_id} is an {UNTRAINED_LABEL}: its transcripts mean "
              "nothing.", file=sys.stderr)  # fmt: skip
    return transcriber


def cmd_score(args) -> int:
    from core.ingest.result_folders import score_files, write_run
    from core.model.audio import probe

    probed = [
        (Path(f), probe(f)) for f in existing_files(args.files)
    ]  # fails before the model loads
    engine = _load(args)
    transcriber = _load_transcriber(args) if args.transcribe else None
    frames = args.granularity == "frame" or args.embedding
    results = score_files(engine, probed, frames)
    said = None
    if transcriber is not None:
        from core.ingest.transcribing import segment_documents

        said = {path.name: segment_documents(transcriber, engine, path) for path, _ in probed}
    folder = write_run(results, engine, args.granularity, args.embedding, Path(args.out), said)
    for r in results:
        p = r.prediction
        print(f"{r.name}: {EMOJI[p.top_label]} {p.top_label} {p.confidence:.1%}"
              f"  ({engine.display_name}, {r.info.duration_s:.2f} s)")  # fmt: skip
        for label, score in sorted(zip(p.labels, p.scores, strict=True), key=lambda x: -x[1]):
            print(f"    {label:<10} {score:.4f}")
    print(f"results: {folder}")
    return 0


def add_ray_options(parser) -> None:
    """`ingest --ray [ADDRESS] --staging DIR` (issue #12; the pipeline is core.ingest.ray.driver)."""
    parser.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="score on a Ray cluster (pip install -e .[ray]); no ADDRESS: a local Ray. "
        "Put it after the paths",
    )  # fmt: skip
    parser.add_argument(
        "--staging", help="with --ray: folder for Parquet shards, on storage every node reads "
        "(default: <db>.staging next to the database)",
    )  # fmt: skip


def transcribe_options(parser) -> None:
    """--transcribe and its ASR options (issue #26)."""
    parser.add_argument("--transcribe", action="store_true",
                        help="also transcribe each track (SenseVoice; cached like scores)")  # fmt: skip
    parser.add_argument("--asr-model", default="SenseVoiceSmall",
                        help="with --transcribe: SenseVoiceSmall or a model directory")  # fmt: skip
    parser.add_argument("--language", default="auto",
                        choices=["auto", "zh", "en", "yue", "ja", "ko"])  # fmt: skip
    parser.add_argument("--itn", action="store_true",
                        help="with --transcribe: numbers and punctuation in the text")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core", description=__doc__.splitlines()[0],
        epilog="Messages are in English whatever the locale, for logs and scripts; the dashboard "
        "speaks Chinese and English (?lang=zh|en).",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="log details and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p):
        p.add_argument("--model", default="emotion2vec_plus_large",
                       help="emotion2vec_plus_large|_base|_seed or a model directory")  # fmt: skip
        p.add_argument("--hub", default="ms", choices=["ms", "hf"], help="where to download from")
        p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
        p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])

    p = sub.add_parser("ingest", help="score folders, zips or files into a corpus")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--corpus", required=True)
    p.add_argument("--manifest", help="CSV with a path column and agent/recorded_at/speaker/tags")
    p.add_argument("--pattern", help="path pattern such as '{agent}/{recorded_at}_*.wav'")
    p.add_argument("--label-column", metavar="NAME",
                   help="manifest column holding your own emotion labels (default: label)")  # fmt: skip
    p.add_argument("--frames", action="store_true", help="also store 20 ms frame curves")
    p.add_argument("--channels", default="mix", choices=["mix", "split"])
    p.add_argument(
        "--roles", help="with --channels split: channel roles in order, e.g. agent,customer"
    )
    p.add_argument("--db", help="database file (default: $EMOSCOPE_DB or data/emoscope.duckdb)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.add_argument("--workers", type=int, default=None,
                   help="threads that read and decode ahead of the model (default: cores - 1)")  # fmt: skip
    transcribe_options(p)
    add_ray_options(p)
    model_options(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("score", help="score files into outputs/outputs_<time>/ like the old UI")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--granularity", default="utterance", choices=["utterance", "frame"])
    p.add_argument("--embedding", action="store_true", help="also write embedding.npy")
    p.add_argument("--out", default="outputs", help="parent folder of the timestamped folder")
    transcribe_options(p)
    model_options(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("export", help="write clips, frame curves, embeddings or transcripts")
    p.add_argument("--what", required=True,
                   choices=["clips", "frames", "embeddings", "transcripts"])  # fmt: skip
    p.add_argument("--format", required=True, choices=["csv", "parquet", "srt", "vtt"],
                   help="srt and vtt: one clip's transcript as subtitles (with --clip)")  # fmt: skip
    p.add_argument("--corpus", action="append", help="only this corpus (repeatable)")
    p.add_argument("--said", help="only tracks whose transcript contains these words")
    p.add_argument("--event", action="append", choices=FILTER_EVENTS,
                   help="only tracks with a transcript line of this event (repeatable: any of them)")  # fmt: skip
    p.add_argument("--clip", help="with --format srt|vtt: the clip id")
    p.add_argument(
        "--model",
        help="model key or id (default: $EMOSCOPE_MODEL, else the model with the most results)",
    )
    p.add_argument("--bom", action="store_true",
                   help="with --format csv: start the file with a UTF-8 byte-order mark, so Excel "
                   "on Windows reads non-English names (张伟) right")  # fmt: skip
    p.add_argument("--out", required=True)
    p.add_argument("--db")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", help="database path, corpora, clip counts, models, integrity check")
    p.add_argument("--db")
    p.add_argument("--full", action="store_true",
                   help="first verify every block and column (as `check` does)")  # fmt: skip
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "make-test-model", help="write an emotion2vec or SenseVoice with random weights"
    )
    p.add_argument("dir")
    p.add_argument("--family", default="emotion2vec", choices=["emotion2vec", "sensevoice"])
    p.add_argument("--arch", default=None, choices=["tiny", "base", "large", "small"],
                   help="tiny (default); emotion2vec: base, large; sensevoice: small")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_make_test_model)

    add_evaluate_parser(sub)  # the model check (#13): its options and logic live in its module
    add_access_commands(sub)  # delete-corpus, audit, roles (core/cli/access.py)
    add_similar_parser(sub, model_options)  # similar (core/cli/similar.py, #27)
    add_tokens_parser(sub)  # API tokens (core/cli/tokens.py)
    add_check_parser(sub)  # the scrub (core/cli/check.py)
    add_overview_parser(sub)  # who needs attention (#30): core/cli/overview.py
    return parser


@contextlib.contextmanager
def _logging_to_stderr(verbose: bool) -> Iterator[None]:
    """Log lines on stderr while a command runs, and not after: main() may be called again in
    the same process (the tests do), and each call logs to the stderr of its own time."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    # funasr logs chatter at INFO/WARNING on the root logger; show only ours unless --verbose.
    handler.addFilter(lambda r: verbose or r.name.startswith("core") or r.levelno >= logging.ERROR)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _logging_to_stderr(args.verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except EmoScopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished batches are stored; rerun to complete.", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose for details)",
              file=sys.stderr)  # fmt: skip
        return 1
