"""Cloudflare D1 through the client REST API, within a request budget.

Cloudflare allows about 1,200 client-API requests per five minutes per account token and
then refuses every call for five minutes, so every request takes a token from a budget
first: this process's (``RequestBudget``) or the whole deployment's (``SharedRequestBudget``,
counted in the coordination table).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from logsvc.errors import DatabaseUnavailable
from logsvc.sql.d1_http import D1HttpDatabase

FIVE_MINUTES = 300.0

# Writes (the writer's flushes) may use the whole budget; everything else stops at this
# share of it, so reads are refused with 503 before the writer has to wait.
READ_SHARE = 0.8


class RequestBudget:
    """At most ``limit`` requests per five minutes from this process (a sliding window).

    Cloudflare allows about 1,200 client-API requests per five minutes per token and then
    refuses every call for five minutes; refusing here first keeps the token usable. Locally
    every function runs in one process, so this budget is the account's; on AWS the
    functions share ``SharedRequestBudget`` instead.
    """

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self, share: float = 1.0) -> None:
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0] <= now - FIVE_MINUTES:
                self._sent.popleft()
            if len(self._sent) >= self.limit * share:
                wait = math.ceil(self._sent[0] + FIVE_MINUTES - now) if self._sent else 1
                raise DatabaseUnavailable(
                    f"D1 request budget ({self.limit} per 5 minutes) spent", retry_after=wait
                )
            self._sent.append(now)

    @property
    def used(self) -> int:
        with self._lock:
            return len(self._sent)


class SharedRequestBudget:
    """The same budget counted in the coordination table, for every function on AWS."""

    def __init__(self, table: Any, limit: int):
        self.table = table
        self.limit = limit

    def take(self, share: float = 1.0) -> None:
        self.table.take_d1_request(self.limit, share)


class D1RestDatabase(D1HttpDatabase):
    """D1 through the Cloudflare client API, within a request budget."""

    def __init__(
        self,
        account_id: str,
        database_id: str,
        api_token: str | Callable[[], str],
        *,
        base_url: str = "https://api.cloudflare.com/client/v4",
        budget: RequestBudget | SharedRequestBudget | None = None,
        share: float = READ_SHARE,
        **kwargs: Any,
    ):
        super().__init__(
            f"{base_url.rstrip('/')}/accounts/{account_id}/d1/database/{database_id}/query",
            **kwargs,
        )
        # A callable is asked on every request: a token updated in Secrets Manager is used
        # as soon as its cache expires, without restarting the function.
        self._api_token = api_token if callable(api_token) else lambda: api_token
        self.budget = budget or RequestBudget(1000)
        self.share = share  # of the budget this caller may use: 1.0 for the writer

    def before_request(self) -> None:
        self.budget.take(self.share)

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_token()}", "Content-Type": "application/json"}
