"""`python -m core tokens [list | create EMAIL --name NAME [--days N] | revoke ID]`: every API
token on the server, as an admin sees them (the command line acts as `cli:<os user>`, admin)."""

from __future__ import annotations

from core.errors import InputError


def cmd_tokens(args) -> int:
    from core.access import tokens
    from core.access.principal import cli_principal
    from core.store.database import Store

    store, me = Store(args.db), cli_principal()
    if args.action == "create":
        if len(args.rest) != 1 or not args.name:
            raise InputError("usage: tokens create EMAIL --name NAME [--days N]")
        new = tokens.create(store, me, args.name, args.days, owner=args.rest[0])
        print(f"token {new.token_id} for {args.rest[0]}, valid until {new.expires_at:%Y-%m-%d} "
              "(shown once):")  # fmt: skip
        print(new.secret)
        return 0
    if args.action == "revoke":
        if len(args.rest) != 1 or not args.rest[0].isdigit():
            raise InputError("usage: tokens revoke ID")
        if not tokens.revoke(store, me, int(args.rest[0])):
            raise InputError(f"token {args.rest[0]} was already revoked.")
        print(f"token {args.rest[0]} revoked")
    elif args.rest:
        raise InputError("usage: tokens [list | create EMAIL --name NAME | revoke ID]")
    table = tokens.listed(store, me)
    if table.empty:
        print("no API tokens")
    for row in table.itertuples():
        state = (f"revoked {row.revoked_at:%Y-%m-%d} by {row.revoked_by}"
                 if row.revoked_by else f"expires {row.expires_at:%Y-%m-%d}")  # fmt: skip
        print(
            f"{row.token_id}  {row.owner}  {row.name!r}  {row.prefix}…  "
            f"created {row.created_at:%Y-%m-%d}  {state}"
        )
    return 0


def add_tokens_parser(sub) -> None:
    p = sub.add_parser("tokens", help="list, create or revoke API tokens (audited)")
    p.add_argument("action", nargs="?", choices=["list", "create", "revoke"], default="list")
    p.add_argument("rest", nargs="*", metavar="EMAIL | ID")
    p.add_argument("--name", help="what the token is for (create)")
    p.add_argument("--days", type=int, default=90, help="valid for N days (create; default 90)")
    p.add_argument("--db")
    p.set_defaults(func=cmd_tokens)
