"""One request's time budget: a search (native or Loki) that runs past it stops with a 504
naming what to narrow, instead of holding a function (and, locally, the server) for as
long as the data takes. Every reader loop checks it: the index's search rounds, the Loki
engine's pages and counted points."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from logsvc.errors import ApiError


class QueryTimeout(ApiError):
    status_code = 504


@dataclass(frozen=True)
class Deadline:
    seconds: float
    started: float = field(default_factory=lambda: time.monotonic())

    def check(self) -> None:
        if time.monotonic() - self.started > self.seconds:
            raise QueryTimeout(
                f"query timed out after {self.seconds:g} s: narrow the time range, the "
                "services or the filters",
                field="query",
            )
