"""`python -m core delete-corpus NAME [--yes]`, `audit [--limit N]` and `roles [set|remove]`.

The command line acts as `cli:<os user>` with the admin role: whoever can run it on the server
can already read and write the database file, so a role check there would protect nothing.
"""

from __future__ import annotations

import sys

from core.errors import InputError
from core.store.corpora import list_corpora


def cmd_delete_corpus(args) -> int:
    from core.access.principal import cli_principal
    from core.store.database import Store
    from core.store.deletion import delete_corpus, finish_pending_removals

    store = Store(args.db)
    media = store.path.parent / "media"
    corpora = list_corpora(store)
    if args.name not in set(corpora.corpus):
        # A rerun after a crash: the rows went, the journal names the files still to remove.
        finished = finish_pending_removals(store, media)
        if finished:
            print(f"finished an interrupted deletion: {finished} media files removed")
            return 0
        raise InputError(f"no corpus named {args.name!r} in {store.path}.")
    clips = int(corpora.set_index("corpus").loc[args.name, "clips"])
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError("deleting a corpus cannot be undone: add --yes to confirm.")
        answer = input(f"Delete corpus {args.name!r} ({clips} clips)? Type its name to confirm: ")
        if answer.strip() != args.name:
            print("not deleted.", file=sys.stderr)
            return 1
    report = delete_corpus(store, cli_principal(), args.name, media)
    print(report.summary())
    from core.cli.similar import sync_indexes

    sync_indexes(store)  # the similarity indexes drop the deleted tracks (#27)
    return 0


def cmd_audit(args) -> int:
    from core.access.audit import read
    from core.store.database import Store

    rows = read(Store(args.db), args.limit, args.action)
    if rows.empty:
        print("no audit entries yet")
    for row in rows.itertuples():
        print(f"{row.logged_at:%Y-%m-%d %H:%M:%S}  {row.user_name}  {row.action}  {row.detail}")
    return 0


def cmd_roles(args) -> int:
    from core.access.principal import Role, cli_principal
    from core.access.roles import list_roles, remove_role, set_role
    from core.store.database import Store

    store = Store(args.db)
    if args.action == "set":
        if len(args.rest) != 2:
            raise InputError("usage: roles set EMAIL viewer|analyst|admin")
        set_role(store, cli_principal(), args.rest[0], Role.parse(args.rest[1]))
    elif args.action == "remove":
        if len(args.rest) != 1:
            raise InputError("usage: roles remove EMAIL")
        if not remove_role(store, cli_principal(), args.rest[0]):
            raise InputError(f"{args.rest[0]} has no granted role.")
    elif args.rest:
        raise InputError("usage: roles [set EMAIL ROLE | remove EMAIL]")
    table = list_roles(store)
    if table.empty:
        print("no granted roles (secrets.toml's [emoscope.access] still applies)")
    for row in table.itertuples():
        print(
            f"{row.email}  {row.role}  granted by {row.granted_by} {row.granted_at:%Y-%m-%d %H:%M}"
        )
    return 0


def add_commands(sub) -> None:
    """Register delete-corpus and audit on the CLI's subparsers."""
    from core.access.audit import AUDIT_ACTIONS

    p = sub.add_parser("delete-corpus", help="delete a corpus and the results only it uses")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--db")
    p.set_defaults(func=cmd_delete_corpus)

    p = sub.add_parser("audit", help="who uploaded, ran, exported, deleted or changed roles")
    p.add_argument("--limit", type=int, default=50, help="newest N entries (default 50)")
    p.add_argument("--action", choices=AUDIT_ACTIONS, help="only this action")
    p.add_argument("--db")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("roles", help="list, grant or withdraw team members' roles (audited)")
    p.add_argument("action", nargs="?", choices=["list", "set", "remove"], default="list")
    p.add_argument("rest", nargs="*", metavar="EMAIL [ROLE]")
    p.add_argument("--db")
    p.set_defaults(func=cmd_roles)


def record_ingest(store, summary) -> None:
    """Audit a command-line ingest as `cli:<os user>` (its run records the same user)."""
    from core.access.audit import record
    from core.store.ingest_runs import run_user

    record(store, run_user(None), "ingest", f"corpus {summary.corpus!r}, run {summary.run_id}: "
           f"{summary.scored} scored, {summary.cached} cached, {summary.failed} failed")  # fmt: skip


def record_export(store, what: str, fmt: str, model_key: str, where) -> None:
    """Audit a command-line export as `cli:<os user>`, as the Exports page audits its files."""
    from core.access.audit import describe_filter, record
    from core.store.ingest_runs import run_user

    record(store, run_user(None), "export", f"{what}.{fmt}, {model_key}, {describe_filter(where)}")
