"""The local server's writer: drains the buffer file as the writer function drains Kinesis.

A flush starts when WRITER_BATCH_ENTRIES are pending or the oldest pending entry is
WRITER_FLUSH_MS old; it runs the same ``Writer.flush`` as on AWS. While the index or the
archive is down, entries wait in the buffer and the flush is retried with backoff.
"""

from __future__ import annotations

import logging
import threading
import time

from logsvc.buffer.local import LocalBuffer
from logsvc.errors import StoreUnavailable
from logsvc.writer import Writer

logger = logging.getLogger("logsvc.writer")
MAX_BACKOFF_SECONDS = 30.0


class WriterLoop:
    def __init__(
        self, buffer: LocalBuffer, writer: Writer, batch_entries: int, flush_seconds: float
    ):
        self.buffer = buffer
        self.writer = writer
        self.batch_entries = batch_entries
        self.flush_seconds = flush_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logsvc-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                waited = self._wait_for_batch()
                if waited:
                    continue
                self.flush_once()
                failures = 0
            except StoreUnavailable as exc:
                failures += 1
                pause = min(MAX_BACKOFF_SECONDS, exc.retry_after or 0.5 * 2**failures)
                logger.warning(
                    "flush failed, entries wait in the buffer: %s (retry in %.1f s)", exc, pause
                )
                self._stop.wait(pause)
            except Exception:
                failures += 1
                logger.exception("flush failed unexpectedly; entries wait in the buffer")
                self._stop.wait(min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures))

    def _wait_for_batch(self) -> bool:
        """True while it is not yet time to flush (it waited a little)."""
        pending, oldest_age = self.buffer.backlog()
        if pending == 0:
            self.buffer.wait_for_entries(self.flush_seconds)
            return True
        left = self.flush_seconds - oldest_age
        if pending < self.batch_entries and left > 0:
            time.sleep(min(left, self.flush_seconds))
            return True
        return False

    def flush_once(self) -> int:
        """Flush up to one batch now; return how many entries were stored."""
        records = self.buffer.read(0, self.batch_entries)
        if not records:
            return 0
        result = self.writer.flush(self.buffer.stream, [(p, [e]) for p, e in records])
        if result.last_position is not None:
            self.buffer.delete_through(result.last_position)
        return result.stored
