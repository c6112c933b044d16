"""`python -m core` export, info and make-test-model: the commands that read the store or write files,
with no model to run (each imports what it runs inside its function, as in core.cli.main)."""

from __future__ import annotations

from pathlib import Path

from core.cli.access import record_export
from core.cli.models import pick_model_key
from core.cli.progress import RowsLine
from core.errors import InputError
from core.model.labels import UNTRAINED_LABEL
from core.store.corpora import list_corpora
from core.store.integrity import integrity_report
from core.store.models import list_models


def cmd_export(args) -> int:
    from core.store.database import ClipFilter, Store
    from core.store.export import export

    store = Store(args.db)
    model_key = pick_model_key(store, args.model)
    where = ClipFilter(
        corpora=tuple(args.corpus or ()),
        said=args.said or "",
        events=tuple(dict.fromkeys(args.event or ())),
    )
    if args.bom and args.format != "csv":
        raise InputError(f"--bom marks a CSV file; it does not apply to --format {args.format}.")
    if args.format in ("srt", "vtt"):
        if args.what != "transcripts":
            raise InputError(f"--format {args.format} writes transcripts: use --what transcripts.")
        return _export_subtitles(store, args, where, model_key)
    if args.what == "transcripts":
        from core.store import transcripts

        rows = transcripts.export(store, args.format, Path(args.out), model_key, where)
    else:
        rows = export(store, args.what, args.format, Path(args.out), model_key, where,
                      progress=RowsLine(args.what))  # fmt: skip
    if args.bom:  # Excel on Windows reads a UTF-8 CSV without the mark as the local code page
        from core.store.export import add_bom

        add_bom(Path(args.out))
    record_export(store, args.what, args.format, model_key, where)
    print(f"{rows} rows of {args.what} ({model_key}) -> {args.out}")
    return 0


def existing_files(files: list[str]) -> list[str]:
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise InputError(f"no such file: {', '.join(missing)}")
    return files


def _export_subtitles(store, args, where, model_key: str) -> int:
    """`export --format srt|vtt --clip ID`: one clip's transcript as subtitles."""
    import dataclasses

    from core.store import transcripts

    if not args.clip:
        raise InputError(f"--format {args.format} writes one clip's subtitles: add --clip ID.")
    segments = transcripts.segments_of(store, args.clip)
    if segments.empty:
        raise InputError(f"clip {args.clip} has no transcript: ingest it with --transcribe.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(transcripts.subtitles(segments, args.format), encoding="utf-8")
    record_export(store, "subtitles", args.format, model_key,
                  dataclasses.replace(where, clip_ids=(args.clip,)))  # fmt: skip
    print(f"{len(segments)} lines of {args.clip} -> {out}")
    return 0


def cmd_info(args) -> int:
    from core.cli.check import quick_integrity, run_scrub
    from core.store.database import Store

    store = Store(args.db)
    print(f"database: {store.path}")
    if store.path.exists():  # before anything opens the file for writing (migrations)
        status = run_scrub(store.path) if args.full else quick_integrity(store.path)
        if status:
            return status
    corpora = list_corpora(store)
    if corpora.empty:
        print("no corpora yet: `python -m core ingest PATH --corpus NAME`")
    for row in corpora.itertuples():
        print(f"  corpus {row.corpus}: {row.clips} clips, {row.seconds_audio / 60:.1f} min audio")
    for row in list_models(store).itertuples():
        flag = f" [{UNTRAINED_LABEL}]" if row.untrained else ""
        print(
            f"  model {row.model_key}{flag}: {row.n_tracks} scored tracks, dim {row.embedding_dim}"
        )
    problems = {check: n for check, n in integrity_report(store).items() if n}
    problems.update(media_problems(store))
    if problems:  # a bug or a hand-edited file: say which rows, and fail for scripts
        print("integrity: " + ", ".join(f"{n} {check}" for check, n in problems.items()))
        return 1
    print("integrity: ok (no orphan rows or media, run logs match the stored clips)")
    return 0


def media_problems(store) -> dict[str, int]:
    """Unfinished deletions and media files no clip uses (core.store.deletion), by kind."""
    from core.store.deletion import orphaned_media, pending_removals

    media = store.path.parent / "media"
    pending, orphans = pending_removals(media), orphaned_media(store, media)
    for removal in pending:
        print(f"  media: the deletion of corpus {removal.corpus!r} was cut off before its files "
              f"went: `python -m core delete-corpus {removal.corpus} --yes` finishes it")  # fmt: skip
    if orphans and not pending:
        print(f"  media: {len(orphans)} file(s) in {media} that no clip uses, e.g. {orphans[0].name}"
              " (not from a deletion EmoScope recorded)")  # fmt: skip
    found = {"unfinished_deletions": len(pending), "orphaned_media_files": len(orphans)}
    return {kind: n for kind, n in found.items() if n}


def cmd_make_test_model(args) -> int:
    if args.family == "sensevoice":
        from core.model.asr_testmodel import ARCHITECTURES, make_sensevoice_test_model

        arch = args.arch or "tiny"
        if arch not in ARCHITECTURES:
            raise InputError(f"--arch {arch}: a sensevoice test model is one of "
                             f"{', '.join(ARCHITECTURES)}.")  # fmt: skip
        out = make_sensevoice_test_model(args.dir, arch=arch, seed=args.seed)
        print(f"wrote {arch} SenseVoice + fsmn-vad with random weights ({UNTRAINED_LABEL}) "
              f"to {out}")  # fmt: skip
        return 0
    from core.model.testmodel import ARCHITECTURES as E2V_ARCHITECTURES
    from core.model.testmodel import make_test_model

    arch = args.arch or "tiny"
    if arch not in E2V_ARCHITECTURES:
        raise InputError(f"--arch {arch}: an emotion2vec test model is one of "
                         f"{', '.join(E2V_ARCHITECTURES)}.")  # fmt: skip
    out = make_test_model(args.dir, arch=arch, seed=args.seed)
    print(f"wrote {arch} emotion2vec with random weights ({UNTRAINED_LABEL}) to {out}")
    return 0
