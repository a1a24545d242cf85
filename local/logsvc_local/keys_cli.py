"""``logsvc keys``: create, list and revoke scoped API keys, straight in the SQL store.

It works on whatever DATABASE_URL names (the local SQLite file by default, or D1 through
its REST API), so an operator can make the first scoped keys without calling the API.
"""

from __future__ import annotations

import argparse
import json

from logsvc.keys import SCOPES


def add_parser(commands: argparse._SubParsersAction, data_dir_default: object) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke scoped API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="print a new key (shown once, stored hashed)")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--scope", action="append", choices=SCOPES, required=True, help="repeat for several"
    )
    create.add_argument(
        "--service", action="append", default=None, help="limit to this service (repeatable)"
    )
    actions.add_parser("list", help="list keys (never their secrets)")
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    for parser in actions.choices.values():
        parser.add_argument("--data-dir", type=type(data_dir_default), default=data_dir_default)


def run(args: argparse.Namespace) -> int:
    from logsvc import components
    from logsvc.clock import now_ms

    store = components.keys()
    if args.action == "create":
        key, view = store.create(args.name, args.scope, args.service, now_ms())
        print(json.dumps({"key": key, **view}, indent=2))
        return 0
    if args.action == "list":
        print(json.dumps(store.list(), indent=2))
        return 0
    if store.revoke(args.id, now_ms()):
        print(f"revoked {args.id}")
        return 0
    print(f"no active key {args.id!r}")
    return 1
