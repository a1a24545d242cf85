"""The ``logsvc`` command: run the service locally, apply migrations, manage keys, follow
live tail, ask in plain words, run the maintenance jobs, write the OpenAPI file.

Only ``serve`` and ``migrate`` create a data directory. ``keys`` and ``tail`` talk to the
server running on the data directory (its URL from ``<data>/server.json``) unless told
otherwise; stdout carries only a command's own output, logs go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import sys
from pathlib import Path

from logsvc.routes import STREAM_PATH
from logsvc_local import ask_cli, instance, keys_cli, placements_cli, project
from logsvc_local.instance import CommandError
from logsvc_local.stream import STREAM_CREDENTIALS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="logsvc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the whole API on a local address")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--data-dir", type=Path, default=instance.default_data_dir())
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending migrations first"
    )
    serve.add_argument(
        "--rate-limit",
        action="store_true",
        help="per-IP limits as the deployed WAF (see logsvc_local.rate_limit)",
    )
    serve.add_argument(
        "--no-schedules", action="store_true", help="do not run cleanup and analysis on schedule"
    )

    for job, text in (
        ("cleanup", "apply retention now and print the summary"),
        ("analyze", "analyse errors now and print the results"),
    ):
        command = commands.add_parser(job, help=text)
        command.add_argument("--data-dir", type=Path, default=instance.default_data_dir())

    migrate = commands.add_parser(
        "migrate",
        help="apply pending migrations (DATABASE_URL or the data directory's SQLite file)",
    )
    migrate.add_argument("--data-dir", type=Path, default=instance.default_data_dir())

    follow = commands.add_parser("tail", help="print new entries as they arrive")
    instance.add_server_options(follow)
    follow.add_argument(
        "--service", action="append", default=[], help="only this service (repeat for several)"
    )
    follow.add_argument("--level", help="minimum level, e.g. WARN")
    follow.add_argument("--q", help="only messages containing this text")

    keys_cli.add_parser(commands, instance.add_server_options)
    ask_cli.add_parser(commands, instance.add_server_options)
    placements_cli.add_parser(commands)

    replay = commands.add_parser(
        "replay", help="re-send a service's archived entries to a URL or back into the index"
    )
    replay.add_argument("--data-dir", type=Path, default=instance.default_data_dir())
    replay.add_argument("--service", required=True)
    replay.add_argument("--from", dest="start", required=True, type=_time, help="ms or ISO 8601")
    replay.add_argument("--to", dest="end", required=True, type=_time, help="ms or ISO 8601")
    where = replay.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="another logsvc's base URL, an OTLP or a Loki push URL")
    where.add_argument("--into-index", action="store_true", help="back into this index")
    replay.add_argument("--format", choices=("logsvc", "otlp", "loki"), default="logsvc")
    replay.add_argument(
        "--key-env",
        default="LOGSVC_TARGET_KEY",
        help="environment variable holding the target's key (default LOGSVC_TARGET_KEY)",
    )

    redrive = commands.add_parser(
        "redrive",
        help="store the ingest batches the writer gave up on (AWS: the FailedBatches bucket)",
    )
    redrive.add_argument("--data-dir", type=Path, default=instance.default_data_dir())
    redrive.add_argument(
        "--from",
        dest="source",
        default=os.environ.get("FAILED_BATCHES_URL"),
        help="s3://<FailedBatches bucket> (default FAILED_BATCHES_URL); the index and the "
        "archive are DATABASE_URL's and ARCHIVE_URL's",
    )

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", type=Path, default=project.OPENAPI_PATH)
    openapi.add_argument(
        "--check", action="store_true", help="exit 1 if the committed document is out of date"
    )

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except CommandError as exc:
        print(f"logsvc {args.command}: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "migrate":
        return _migrate(args.data_dir)
    if args.command == "keys":
        return keys_cli.run(args)
    if args.command == "ask":
        return ask_cli.run(args)
    if args.command == "placements":
        return placements_cli.run(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "redrive":
        return _redrive(args)
    if args.command in ("cleanup", "analyze"):
        return _run_job(args.command, instance.existing(args.data_dir))
    if args.command == "tail":
        from logsvc_local.live_tail import tail

        url, key = instance.server_address(args)
        with contextlib.suppress(KeyboardInterrupt):
            tail(url, key, args.service, args.level, args.q)
        return 0
    return _openapi(args.output, args.check)


def _migrate(data_dir: Path, quiet: bool = False) -> int:
    project.configure(data_dir, create=True)
    from logsvc.settings import Settings
    from logsvc.sql import open_database
    from logsvc.sql.migrations import apply_migrations

    settings = Settings.from_env()
    applied: list[str] = []
    # The first database and every index shard (INDEX_SHARD_URLS) get every migration.
    for url in (settings.database_url, *settings.index_shard_urls):
        db = open_database(
            url,
            d1_api_token=settings.d1_api_token,
            d1_api_base_url=settings.d1_api_base_url,
            create=True,
        )
        try:
            applied += apply_migrations(db, project.MIGRATIONS_DIR)
        finally:
            db.close()
    if quiet and not applied:
        return 0
    print(
        f"applied {len(applied)} migration(s)"
        + (f": {', '.join(applied)}" if applied else " (database is up to date)"),
        file=sys.stderr if quiet else sys.stdout,  # keep stdout for the command's own output
    )
    return 0


def _time(text: str) -> int:
    """Unix ms, or an ISO 8601 time (UTC unless it says otherwise)."""
    from datetime import UTC, datetime

    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither Unix milliseconds nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _replay(args: argparse.Namespace) -> int:
    """Replay on the data directory's stores, with no time limit; the summary on stdout."""
    project.configure(instance.existing(args.data_dir))
    from logsvc import components
    from logsvc.archive.replay import ReplayTarget
    from logsvc.errors import ApiError

    key = os.environ.get(args.key_env) or None
    target = ReplayTarget() if args.into_index else ReplayTarget(args.url, args.format, key)
    try:
        summary = components.replayer().run(args.service, args.start, args.end, target)
    except ApiError as exc:
        message = exc.message
        if re.search(r"answered 40[13]\b", message):  # the target wants (another) key
            given = "is empty" if key is None else "holds a key the target refused"
            message += f" (the target's key is read from {args.key_env}, which {given})"
        raise CommandError(message) from None
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


def _redrive(args: argparse.Namespace) -> int:
    """Store every given-up batch, then delete its object; the summary on stdout."""
    if not args.source:
        raise CommandError("name the bucket: --from s3://<FailedBatches bucket>")
    project.configure(instance.existing(args.data_dir))
    from logsvc import components
    from logsvc.archive import open_object_store
    from logsvc.buffer.redrive import redrive

    writer = components.log_writer()
    summary = redrive(
        open_object_store(args.source), lambda entries, key: writer.store(entries, key)
    )
    print(json.dumps(dataclasses.asdict(summary), indent=2))
    return 0


def _run_job(job: str, data_dir: Path) -> int:
    """Run a maintenance job on the data directory's stores; only its result on stdout."""
    project.configure(data_dir)
    from logsvc_local.scheduler import run_job

    # The handlers log through Powertools, to the stream current when they are loaded.
    with contextlib.redirect_stdout(sys.stderr):
        result = run_job(job)
    print(json.dumps(result, indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    data_dir = args.data_dir
    sock = instance.bind(args.host, args.port)  # a busy port leaves no data directory behind
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = instance.claim(data_dir)
    except BaseException:
        sock.close()
        raise
    if not args.no_migrate:
        _migrate(data_dir)
    url = f"http://{args.host}:{args.port}"
    # Live tail: the ingest function posts to this server's management API, through boto3,
    # which signs requests and so needs some credentials (this server ignores them).
    os.environ["STREAM_ENDPOINT"] = url
    # Credentials made up for this process: the local management API answers only requests
    # signed with them, that is, this process's own.
    os.environ[STREAM_CREDENTIALS] = f"local-{secrets.token_hex(16)}:{secrets.token_hex(16)}"
    environment = project.configure(data_dir)
    from logsvc_local.server import create_app

    app = create_app(
        schedules=not args.no_schedules,
        rate_limit=args.rate_limit,
        # uvicorn ends the process with the signal it stopped for, after the app's shutdown.
        on_stop=lambda: instance.remove_server_file(data_dir),
    )
    print(f"logsvc listening on {url}", flush=True)
    print(f"  database: {environment['DATABASE_URL']}", flush=True)
    print(f"  archive:  {environment['ARCHIVE_URL']}", flush=True)
    if environment.get("INGEST_BUFFER", "off") != "off":
        print(f"  buffer:   {environment['INGEST_BUFFER']}", flush=True)
    print(f"  live tail: ws://{args.host}:{args.port}{STREAM_PATH}", flush=True)
    print(f"  API key:  {environment['LOG_SERVICE_API_KEY']}", flush=True)
    key = environment["LOG_SERVICE_API_KEY"]
    print(
        f'  try:      curl -H "Authorization: Bearer {key}" {url}/api/v1/logs/services', flush=True
    )
    print(f"  cli:      {_command_path()} tail  (keys, cleanup, replay: --help)", flush=True)
    instance.write_server_file(data_dir, url)
    try:
        # websockets-sansio waits for the socket to drain before sending, so a live-tail
        # client that stops reading fills only its bounded buffer (logsvc_local.stream).
        config = uvicorn.Config(app, log_level="info", ws="websockets-sansio")
        for name in ("uvicorn.access", "uvicorn.error"):  # WebSocket lines go to the latter
            logging.getLogger(name).addFilter(redact_query_tokens)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        instance.remove_server_file(data_dir)
        lock.close()
    return 0


def _command_path() -> str:
    """How to run this command again from here: its path (relative when below the current
    folder), since the virtual environment's bin folder is seldom on PATH."""
    command = Path(sys.argv[0]).resolve()
    found = shutil.which(command.name)
    if found and Path(found).resolve() == command:
        return command.name  # on PATH
    try:
        return str(command.relative_to(Path.cwd()))
    except ValueError:
        return str(command)


_QUERY_TOKEN = re.compile(r"([?&](?:token|api_key|key)=)[^&\s]*", re.IGNORECASE)


def redact_query_tokens(record: logging.LogRecord) -> bool:
    """Access-log lines without the key a live-tail client may pass as ?token=."""
    if isinstance(record.args, tuple):
        record.args = tuple(
            _QUERY_TOKEN.sub(r"\1[REDACTED]", arg) if isinstance(arg, str) else arg
            for arg in record.args
        )
    return True


def _openapi(output: Path, check: bool) -> int:
    from logsvc_local.openapi import render

    document = render()
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != document:
            print(f"{output} is out of date: run `logsvc openapi`", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
