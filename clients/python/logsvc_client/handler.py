"""A logging.Handler that ships records to the batch endpoint from a background thread.

- emit() only queues: it never blocks on the network and never raises into the app;
- the queue is bounded: when full, the oldest record is dropped and counted (``dropped``);
- a batch goes out when ``batch_size`` records wait or every ``flush_interval`` seconds;
- 429, 5xx and connection failures are retried with exponential backoff and full jitter
  (honouring Retry-After), batch by batch in order, until the service recovers;
- flush() waits for everything queued so far; close() (also run at exit) flushes, then
  gives up after ``close_timeout`` seconds, counting what it could not send.
"""

from __future__ import annotations

import atexit
import collections
import logging
import random
import sys
import threading
import time
import traceback
import uuid
from typing import Any

from logsvc_client.transport import RETRYABLE, endpoint, post_json

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
MAX_BATCH = 1000  # the service's limit per request


def level_name(levelno: int) -> str:
    """Python's levels in the service's five (custom levels go to the nearest below)."""
    if levelno >= logging.CRITICAL:
        return "CRITICAL"
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    return "DEBUG"


class LogServiceHandler(logging.Handler):
    def __init__(
        self,
        api_url: str,
        api_key: str,
        service_name: str,
        *,
        level: int = logging.NOTSET,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 5.0,
        max_backoff: float = 30.0,
        close_timeout: float = 10.0,
    ):
        super().__init__(level)
        self.url = endpoint(api_url, "/api/v1/logs/ingest/batch")
        self.api_key = api_key
        self.service_name = service_name
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.close_timeout = close_timeout
        self.sent = 0  # stored by the service
        self.rejected = 0  # refused by the service as invalid (not retried)
        self.dropped = 0  # lost: queue full, or still unsent when close() gave up
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._in_flight = 0
        self._wake = threading.Condition()
        self._closing = False
        self._give_up_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="logsvc-handler", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- the application's side -------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = self._entry(record)
        except Exception:
            self.handleError(record)
            return
        with self._wake:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(entry)
            if len(self._queue) >= self.batch_size:
                self._wake.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now; True once it is all delivered (or given up on)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.close_timeout)
        with self._wake:
            self._wake.notify_all()
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._wake.wait(min(left, 0.1))
        return True

    def close(self) -> None:
        with self._wake:
            if self._closing:
                return
            self._closing = True
            self._give_up_at = time.monotonic() + self.close_timeout
            self._wake.notify_all()
        self._thread.join(self.close_timeout + self.timeout + 1)
        with self._wake:
            if self._queue:
                self.dropped += len(self._queue)
                self._queue.clear()
        if self.dropped:
            print(f"logsvc-client: {self.dropped} log records were dropped", file=sys.stderr)
        atexit.unregister(self.close)
        super().close()

    # -- the background thread ----------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._queue and not self._closing:
                    self._wake.wait(self.flush_interval)
                if not self._queue and self._closing:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))
                ]
                self._in_flight = len(batch)
            if batch:
                self._deliver(batch)
            with self._wake:
                self._in_flight = 0
                self._wake.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        key = uuid.uuid4().hex  # one per batch: a retry after a lost answer is not stored twice
        while True:
            try:
                status, body, retry_after = post_json(
                    self.url, self.api_key, {"logs": batch}, self.timeout, key
                )
            except OSError:
                status, body, retry_after = 0, None, None
            if 200 <= status < 300:
                accepted = body.get("accepted", len(batch)) if isinstance(body, dict) else 0
                self.sent += accepted
                self.rejected += len(batch) - accepted
                return
            if status and status not in RETRYABLE:  # refused as invalid: retrying cannot help
                self.rejected += len(batch)
                print(
                    f"logsvc-client: HTTP {status} for {len(batch)} records: {body}",
                    file=sys.stderr,
                )
                return
            if self._give_up_at is not None and time.monotonic() >= self._give_up_at:
                self.dropped += len(batch)
                return
            delay = retry_after or random.uniform(0, min(self.max_backoff, 0.1 * 2**attempt))  # noqa: S311 - jitter, not security
            if self._give_up_at is not None:
                delay = min(delay, max(0.0, self._give_up_at - time.monotonic()))
            with self._wake:
                self._wake.wait(delay)  # close() cuts the wait short
            attempt += 1

    def _entry(self, record: logging.LogRecord) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        }
        metadata.update(
            logger=record.name,
            module=record.module,
            function=record.funcName,
            line=record.lineno,
            thread=record.threadName,
            process=record.process,
        )
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, trace = record.exc_info
            metadata["exception"] = {
                "type": kind.__name__,
                "message": str(error),
                "traceback": "".join(traceback.format_exception(kind, error, trace)),
            }
        return {
            "service_name": self.service_name,
            "level": level_name(record.levelno),
            "message": record.getMessage(),
            "timestamp": int(record.created * 1000),
            "metadata": metadata,
        }
