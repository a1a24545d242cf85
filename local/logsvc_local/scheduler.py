"""Run the maintenance functions on their schedules (logsvc.schedules), as EventBridge does."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from starlette.concurrency import run_in_threadpool

from logsvc.schedules import SCHEDULES
from logsvc_local.events import LocalContext, scheduled_event
from logsvc_local.project import FUNCTIONS_DIR, load_handler

JOB_TIMEOUT_SECONDS = 900  # the functions' Lambda timeout


def scheduled_jobs() -> list[str]:
    return [job for job in SCHEDULES if (FUNCTIONS_DIR / job / "handler.py").is_file()]


def run_job(job: str) -> dict[str, Any]:
    """Invoke a maintenance function now, as its schedule would."""
    handler = load_handler(job).lambda_handler
    return handler(scheduled_event(job), LocalContext(job, timeout_seconds=JOB_TIMEOUT_SECONDS))


def next_due(jobs: list[str], now: datetime) -> tuple[str, datetime]:
    """The job that runs next after ``now``, and when (UTC)."""
    due = {job: croniter(SCHEDULES[job], now).get_next(datetime) for job in jobs}
    job = min(due, key=due.__getitem__)
    return job, due[job]


async def run_schedules(invoke=run_job) -> None:
    """Forever: sleep until the next job is due, run it in a worker thread, repeat."""
    jobs = scheduled_jobs()
    while jobs:
        now = datetime.now(UTC)
        job, at = next_due(jobs, now)
        await asyncio.sleep((at - now).total_seconds())
        try:
            result = await run_in_threadpool(invoke, job)
            print(f"scheduled {job}: {json.dumps(result)[:500]}", flush=True)
        except Exception as exc:
            print(f"scheduled {job} failed: {exc!r}", flush=True)
