"""``logsvc placements``: where each service's index blocks go when the index spans several
databases (DATABASE_URL, then INDEX_SHARD_URLS), and a move by hand.

The writer places and moves services itself (logsvc.store.shards); an operator moves one
to even out databases, or off one about to be retired. A move is announced a minute ahead,
as the writer's are, so every reader asks both databases before new blocks land; the
blocks already written stay where they are until they expire.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logsvc_local.instance import CommandError, default_data_dir, existing
from logsvc_local.project import configure


def add_parser(commands: argparse._SubParsersAction) -> None:
    placements = commands.add_parser(
        "placements", help="which index database each service writes to; move one by hand"
    )
    placements.add_argument("--data-dir", type=Path, default=default_data_dir())
    actions = placements.add_subparsers(dest="action")
    actions.add_parser("list", help="each database's fill and services (the default)")
    move = actions.add_parser("move", help="send a service's new blocks to another database")
    move.add_argument("service")
    move.add_argument("--to", dest="database", type=int, required=True, help="its number, from 0")


def run(args: argparse.Namespace) -> int:
    configure(existing(args.data_dir))
    from logsvc import components
    from logsvc.clock import now_ms
    from logsvc.store.placements import current
    from logsvc.store.shards import ShardedIndex

    index = components.log_index()
    if not isinstance(index, ShardedIndex):
        raise CommandError("the index is one database: set INDEX_SHARD_URLS to spread it")
    if args.action == "move":
        try:
            at = index.move(args.service, args.database)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        print(json.dumps({"service": args.service, "database": args.database, "from_ms": at}))
        return 0
    now = now_ms()
    rows = index.placements.read()
    databases = [
        {**capacity, "database": number, "services": []}
        for number, capacity in enumerate(index.capacity())
    ]
    moving = []
    for service, placed in sorted(rows.items()):
        number = current(placed, now)
        if number is not None and number < len(databases):
            databases[number]["services"].append(service)
        moving += [
            {"service": service, "database": database, "from_ms": since}
            for database, since in placed
            if since > now
        ]
    print(json.dumps({"databases": databases, "moves_announced": moving}, indent=2))
    return 0
