"""Answering a question: translate it (the rules first, then the model if there is one),
check the translation (logsvc.ask.guard), then run it exactly as the Loki API would run the
same ``query``, ``start``, ``end`` and ``step`` (logsvc.loki.answers), so the answer can be
pasted into Grafana and give the same result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logsvc.ask import MAX_QUESTION_CHARS, Context, NotUnderstood, Translation
from logsvc.ask.guard import checked
from logsvc.ask.logql_text import EVERY_SERVICE, matcher
from logsvc.ask.model import ModelTranslator
from logsvc.ask.times import TimeError, zone_named
from logsvc.ask.words import WordsTranslator
from logsvc.clock import DAY_MS
from logsvc.errors import ApiError, BadRequest
from logsvc.language_models import ChatModel, Completion, ModelError
from logsvc.loki.answers import LokiRequest

if TYPE_CHECKING:
    from logsvc.querier import Querier


class ModelUnavailable(ApiError):
    """The model did not answer (a timeout, a refusal, an outage): try again, or ask in
    the shapes the rules read."""

    status_code = 503


@dataclass(frozen=True)
class Answer:
    question: str
    translation: Translation
    result: Any
    model: Completion | None  # when a model translated it

    def view(self) -> dict[str, Any]:
        t = self.translation
        answer: dict[str, Any] = {
            "question": self.question,
            "logql": t.logql,
            "start": t.start,
            "end": t.end,
            "kind": t.kind,
            "explanation": t.explanation,
            "translator": t.translator,
            "result": self.result,
        }
        if t.step:
            answer["step"] = t.step
        if self.model:
            answer["model"] = {
                "latency_ms": self.model.latency_ms,
                "input_tokens": self.model.input_tokens,
                "output_tokens": self.model.output_tokens,
            }
        return answer


class Asker:
    def __init__(self, reader: Querier, model: ChatModel | None, timeout_s: float):
        self.reader = reader
        self.words = WordsTranslator()
        self.model = ModelTranslator(model) if model else None
        self.timeout_s = timeout_s
        # The model's completion for the question being answered, if it was asked: its
        # tokens are spent whether the answer is then used or refused.
        self.completion: Completion | None = None

    def ask(
        self,
        question: str,
        caller_services: frozenset[str] | None,
        now_ms: int,
        service: str | None = None,
        time_zone: str = "UTC",
    ) -> Answer:
        """``caller_services``: the services the key may read (None: all); ``service``
        narrows the question to one of them."""
        self.completion = None
        question = " ".join(question.split())
        if not question or len(question) > MAX_QUESTION_CHARS:
            raise BadRequest(f"question: 1 to {MAX_QUESTION_CHARS} characters", field="question")
        try:
            zone_named(time_zone)
        except TimeError as error:
            raise BadRequest(str(error), field="time_zone") from None
        allowed = frozenset({service}) if service else caller_services
        context = self._context(caller_services, allowed, now_ms, time_zone)
        started = time.monotonic()
        translation, completion = self._translate(question, context)
        checked(translation, allowed, now_ms)
        # One budget for the whole question: what the model took, the query may not.
        left_s = max(1.0, self.timeout_s - (time.monotonic() - started))
        result = self.run(translation, caller_services, left_s)
        return Answer(question, translation, result, completion)

    def _translate(self, question: str, context: Context) -> tuple[Translation, Completion | None]:
        try:
            return self.words.translate(question, context), None
        except NotUnderstood as not_read:
            if self.model is None:
                raise
            rules_said = not_read
        try:
            translation = self.model.translate(question, context)
            self.completion = self.model.last
            return translation, self.completion
        except ModelError as error:
            raise ModelUnavailable(
                f"question: the model did not answer ({error}); ask in the shapes the "
                "built-in rules read, or try again",
                field="question",
                headers={"Retry-After": "5"},
            ) from None
        except NotUnderstood as error:
            self.completion = self.model.last  # an answer that was not a query: still paid
            raise NotUnderstood(error.reason, rules_said.suggestions) from None

    def run(
        self,
        translation: Translation,
        caller_services: frozenset[str] | None,
        timeout_s: float | None = None,
    ) -> Any:
        """What ``/loki/api/v1/query_range`` (or ``/patterns``) answers for the translation."""
        from logsvc.loki import answers, index_answers

        request = self._request(
            translation.logql,
            translation.start,
            translation.end,
            caller_services,
            timeout_s or self.timeout_s,
            translation.step,
        )
        if translation.kind == "patterns":
            return index_answers.patterns(request)["data"]
        return answers.query_range(request)["data"]

    def _context(
        self,
        caller_services: frozenset[str] | None,
        allowed: frozenset[str] | None,
        now_ms: int,
        time_zone: str,
    ) -> Context:
        restricted = allowed is not None
        if allowed is None:  # every service the index holds: one query, only then
            services = sorted(s["service_name"] for s in self.reader.services())
        else:
            services = sorted(allowed)

        def fields_seen() -> list[str]:
            return self._fields_seen(services if restricted else [], caller_services, now_ms)

        return Context(services, now_ms, time_zone, restricted, fields_seen)

    def _fields_seen(
        self, services: list[str], caller_services: frozenset[str] | None, now_ms: int
    ) -> list[str]:
        """Structured metadata names in the newest lines of the last day (what a filter
        reads without a parser)."""
        from logsvc.loki import index_answers

        selector = "{" + (matcher("service_name", services) if services else EVERY_SERVICE) + "}"
        request = self._request(selector, now_ms - DAY_MS, now_ms, caller_services, self.timeout_s)
        fields = index_answers.detected_fields(request)["fields"]
        return [f["label"] for f in fields if not f["parsers"]]

    def _request(
        self,
        query: str,
        start_ms: int,
        end_ms: int,
        caller_services: frozenset[str] | None,
        timeout_s: float,
        step: str | None = None,
    ) -> LokiRequest:
        """A Loki API request, as the route reads one (times in nanoseconds)."""
        params = {"query": query, "start": f"{start_ms}000000", "end": f"{end_ms}000000"}
        if step:
            params["step"] = step
        return LokiRequest(params, {}, {}, caller_services, self.reader, timeout_s)
