"""Ask in plain words: a question becomes a LogQL query, its time range and a sentence
saying what it does, then the answer of running it through the Loki API.

Two translators behind one interface (``Translator``): ``words.WordsTranslator`` reads the
common shapes with rules and needs no model; ``model.ModelTranslator`` asks a chat model
for the rest. Whatever either returns is checked by ``guard`` (the service's own LogQL
parser, the caller's services, a bounded range) before ``asker.Asker`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["logs", "metric", "patterns"]
MAX_QUESTION_CHARS = 500


@dataclass(frozen=True)
class Translation:
    """A question's LogQL and time range (Unix ms), as the Loki API runs them."""

    logql: str
    start: int
    end: int
    explanation: str
    kind: Kind
    step: str | None = None  # a metric's resolution, as a LogQL duration ("1m")
    translator: str = "words"  # "words", or the model's name


@dataclass
class Context:
    """What a translator may know about the caller's logs: the services it may read, the
    fields seen lately (asked once, on first use), the time and the caller's time zone."""

    services: list[str]
    now_ms: int
    time_zone: str = "UTC"
    restricted: bool = False  # the key may read only ``services``
    fields_seen: Callable[[], list[str]] = lambda: []
    _fields: list[str] | None = field(default=None, repr=False)

    def fields(self) -> list[str]:
        if self._fields is None:
            self._fields = self.fields_seen()
        return self._fields


class NotUnderstood(Exception):
    """The translator cannot turn the question into a query; says why and what it can."""

    def __init__(self, reason: str, suggestions: list[str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.suggestions = suggestions or []


class Translator(Protocol):
    def translate(self, question: str, context: Context) -> Translation:
        """The question's query, or NotUnderstood."""
