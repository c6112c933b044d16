"""`python -m core similar CLIP_ID [--k 20] [filters] [--json]`, `similar --audio FILE` and
`similar --build-index` (#27): the recordings that sound most alike, by embedding.

The first search of a model builds its index beside the database (`<db>.similar/`, once; later
searches and every ingest or corpus deletion from the command line keep it up to date
incrementally). `--exact` skips the index: the exact cosine scan in DuckDB.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from core.errors import InputError
from core.store.models import list_models


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{name} wants a date such as 2025-03-01, not {value!r}.") from exc


def filter_from(args):
    from core.records import ClipFilter

    return ClipFilter(
        corpora=tuple(args.corpus or ()), agents=tuple(args.agent or ()),
        tracks=tuple(args.role or ()), top_labels=tuple(args.emotion or ()),
        date_from=_when(args.date_from, "--from"), date_to=_when(args.date_to, "--to"),
    )  # fmt: skip


def cmd_similar(args) -> int:
    from core.cli.models import pick_model_key
    from core.search import index, sync
    from core.search.similar import example_embedding, similar_to_track, similar_to_vector
    from core.store.database import Store

    store = Store(args.db)
    loaded = {}
    try:
        model_key = pick_model_key(store, args.model)
    except InputError:
        if not (args.audio and args.model):
            raise
        loaded["engine"] = _load(args, args.model)  # a model directory: its key is id@revision
        model_key = pick_model_key(store, loaded["engine"].model_key)
    where = filter_from(args)
    if (
        sum(x is not None and x is not False for x in (args.clip_id, args.audio)) != 1
        and not args.build_index
    ):
        raise InputError("name a CLIP_ID or give --audio FILE (or --build-index).")

    def say(message: str) -> None:
        print(f"\rsimilarity index: {message}", end="", file=sys.stderr, flush=True)

    if args.build_index or not args.exact:
        state = sync.sync(store, model_key, rebuild=args.build_index, progress=say)
        if state is not None and args.build_index:
            print(f"\rsimilarity index of {model_key}: {state.alive} tracks, "
                  f"{f'IVF of {state.lists} lists, {state.probes} probed' if state.ivf else 'exact rows only'}"
                  f" -> "
                  f"{index.index_dir(store.path, model_key)}", file=sys.stderr)  # fmt: skip
    if args.build_index and args.clip_id is None and args.audio is None:
        return 0
    use_index = not args.exact
    if args.audio:
        vector, facts = example_embedding(store, model_key, args.audio,
                                          lambda: loaded.get("engine") or _engine(args, store, model_key))  # fmt: skip
        exclude = {(facts["clip_id"], facts["track"])}
        found = similar_to_vector(store, model_key, vector, where, args.k, exclude=exclude,
                                  use_index=use_index)  # fmt: skip
        query = {"audio": str(args.audio), **facts}
    else:
        clip_id = _full_clip_id(store, args.clip_id)
        found = similar_to_track(store, model_key, clip_id, args.track, where, args.k,
                                 use_index=use_index)  # fmt: skip
        query = {"clip_id": clip_id, "track": args.track}
    if args.json:
        print(json.dumps({"query": query, "model_key": model_key, **found.as_dict()}, default=str))
        return 0
    print(f"{len(found.rows)} most similar ({model_key}; {found.method}); left out: "
          f"{found.left_out_self} row(s) of the query itself, {found.left_out_identical} "
          f"copies of the same audio")  # fmt: skip
    for row in found.rows.itertuples():
        when = (
            ""
            if row.recorded_at is None or str(row.recorded_at) == "NaT"
            else f"{row.recorded_at:%Y-%m-%d}"
        )
        print(f"{row.rank:>3}  {row.similarity:.4f}  {row.clip_id[:12]}  {row.track:<8} "
              f"{row.corpus}  {row.source_name}  {row.agent or ''}  {when}  {row.top_label}")  # fmt: skip
    return 0


def sync_indexes(store) -> None:
    """After an ingest or a deletion: the similarity indexes that exist follow the database
    (a failure here loses nothing: searches then scan the lacking rows exactly)."""
    from core.search.sync import sync_existing

    try:
        sync_existing(store)
    except Exception as exc:
        print(
            f"warning: similarity index not updated ({exc}); searches stay correct, "
            "only slower, until `python -m core similar --build-index`.",
            file=sys.stderr,
        )


def _load(args, model: str):
    """Load a model as `ingest` does (funasr's chatter kept off stdout, the --json line)."""
    import contextlib

    from core.model.engine import load_engine

    with contextlib.redirect_stdout(sys.stderr):
        return load_engine(model, args.device, hub=args.hub, precision=args.precision)


def _engine(args, store, model_key: str):
    """The model of the searched results, loaded to score an example that is not stored."""
    models = list_models(store)
    model_id = str(models.set_index("model_key").loc[model_key, "model_id"])
    return _load(args, args.model or model_id)


def _full_clip_id(store, prefix: str) -> str:
    """A clip id, or a unique prefix of one (the list prints 12 characters)."""
    from core.store.similar import clip_ids_starting

    matches = clip_ids_starting(store, prefix)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(f"no clip id starts with {prefix!r} in {store.path}.")
    raise InputError(f"{prefix!r} is the start of {len(matches)} clip ids; give more of it.")


def add_similar_parser(sub, model_options) -> None:
    p = sub.add_parser("similar", help="recordings most similar to a clip or an audio file")
    p.add_argument(
        "clip_id", nargs="?", metavar="CLIP_ID", help="a clip id (or its first 12+ characters)"
    )
    p.add_argument("--audio", help="search with this file (scored through the cache, not stored)")
    p.add_argument("--track", help="the clip's track (default: mix, else its first)")
    p.add_argument("--k", type=int, default=20, help="how many (default 20)")
    p.add_argument("--corpus", action="append", help="only this corpus (repeatable)")
    p.add_argument("--agent", action="append", help="only this agent (repeatable)")
    p.add_argument(
        "--role", action="append", help="only this track/role, e.g. customer (repeatable)"
    )
    p.add_argument("--emotion", action="append", help="only clips whose top emotion is this")
    p.add_argument("--from", dest="date_from", help="recorded on or after this date")
    p.add_argument("--to", dest="date_to", help="recorded before this date")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON line")
    p.add_argument("--exact", action="store_true", help="skip the index: exact scan in DuckDB")
    p.add_argument("--build-index", action="store_true", help="(re)build the model's index now")
    p.add_argument("--db")
    model_options(p)
    p.set_defaults(func=cmd_similar)
    # the model searched: --model picks the results (key or id); for --audio it is also loaded
    p.set_defaults(model=None)
