"""``logsvc keys``: create, list and revoke scoped API keys.

By default through the API of the server running on the data directory (or ``--url``),
with an admin key, so the keys are the ones that server checks. ``--direct`` works on the
database itself instead (DATABASE_URL, or the data directory's SQLite file), for an
operator making the first scoped keys of a deployment without calling its API.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from logsvc.keys import SCOPES
from logsvc_local.instance import ApiRefused, call_api, existing, server_address
from logsvc_local.project import configure

KEYS_PATH = "/api/v1/admin/keys"


def add_parser(
    commands: argparse._SubParsersAction,
    add_server_options: Callable[[argparse.ArgumentParser], None],
) -> None:
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
        add_server_options(parser)
        parser.add_argument(
            "--direct",
            action="store_true",
            help="work on the database (DATABASE_URL or the data directory's), not the API",
        )


def run(args: argparse.Namespace) -> int:
    result = _direct(args) if args.direct else _through_api(args)
    if result is None:
        print(f"no active key {args.id!r}")
        return 1
    print(result if isinstance(result, str) else json.dumps(result, indent=2))
    if args.action == "list":  # on stderr: stdout stays the JSON list for scripts
        print(
            "(the startup key, LOG_SERVICE_API_KEY, is an admin key of every service; it is "
            "a setting, not one of these, so it is never listed)",
            file=sys.stderr,
        )
    return 0


def _through_api(args: argparse.Namespace) -> Any:
    url, key = server_address(args)
    if args.action == "create":
        body = {"name": args.name, "scopes": args.scope, "services": args.service}
        return call_api(url, key, "POST", KEYS_PATH, body)
    if args.action == "list":
        return call_api(url, key, "GET", KEYS_PATH)["keys"]
    try:
        call_api(url, key, "DELETE", f"{KEYS_PATH}/{args.id}")
    except ApiRefused as exc:
        if exc.status == 404:
            return None
        raise
    return f"revoked {args.id}"


def _direct(args: argparse.Namespace) -> Any:
    configure(existing(args.data_dir))
    from logsvc import components
    from logsvc.clock import now_ms

    keys = components.keys()
    if args.action == "create":
        key, view = keys.create(args.name, args.scope, args.service, now_ms())
        return {"key": key, **view}
    if args.action == "list":
        return keys.list()
    return f"revoked {args.id}" if keys.revoke(args.id, now_ms()) else None
