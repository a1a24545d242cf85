"""A value read from the index now and then: service configs that every request consults
(quota limits, sample rates, hot windows) are read in one query at most every 30 seconds
per instance; while they cannot be read, the last known value applies."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from logsvc.errors import StoreUnavailable

T = TypeVar("T")
REFRESH_SECONDS = 30.0  # a changed config applies within this time
logger = logging.getLogger(__name__)


class Refreshed(Generic[T]):
    def __init__(self, read: Callable[[], T], initial: T, what: str):
        self._read = read
        self._value = initial
        self._what = what  # named in the warning when a read fails
        self._read_at: float | None = None

    def get(self) -> T:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at > REFRESH_SECONDS:
            try:
                self._value = self._read()
            except StoreUnavailable as exc:
                logger.warning("%s unavailable; the last known apply: %s", self._what, exc)
            self._read_at = now
        return self._value

    def reset(self) -> None:
        """Read again at the next get (the caller just changed what it reads)."""
        self._read_at = None
