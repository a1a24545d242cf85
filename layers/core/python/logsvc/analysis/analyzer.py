"""The analysis job: for each service with enough errors since its last analysis, mine
patterns, assess severity, recommend, optionally summarise with a model, store, alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from logsvc.alerts import Alerter
from logsvc.analysis import MAX_ENTRIES
from logsvc.analysis.patterns import mine_patterns
from logsvc.analysis.recommendations import recommend
from logsvc.analysis.severity import Assessment, assess
from logsvc.analysis.summarizer import MAX_TOKENS, parse_answer, prompt_for
from logsvc.clock import now_ms
from logsvc.deadline import Deadline
from logsvc.filters import SearchFilters
from logsvc.ids import new_id
from logsvc.language_models import ChatModel
from logsvc.store.analyses import AnalysisResult, AnalysisStore
from logsvc.store.configs import ConfigStore
from logsvc.store.log_index import LogIndex

MIN_ERRORS = 10  # as in the original: services with 10+ errors are analysed
DEFAULT_WINDOW_MS = 6 * 3_600_000  # a service never analysed: the last 6 hours
MAX_WINDOW_MS = 7 * 86_400_000
BASELINE_WINDOWS = 8
TIME_RESERVE_MS = 30_000
logger = Logger(child=True)


def error_entries(
    search: Callable[[SearchFilters], tuple[list[dict[str, Any]], bool]],
    service_name: str,
    start: int,
    end: int,
    levels: tuple[str, ...] = ("ERROR", "CRITICAL"),
    limit: int = MAX_ENTRIES,
    deadline: Deadline | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The newest entries of the given levels in a window, and whether any were left out
    (read within ``deadline``, when a request gives one)."""
    entries, truncated = [], False
    for level in levels:
        found, more = search(
            SearchFilters(
                service=service_name,
                level=level,
                start_time=start,
                end_time=end,
                limit=limit,
                deadline=deadline,
            )
        )
        entries += found
        truncated |= more
    return entries, truncated


class Analyzer:
    def __init__(
        self,
        logs: LogIndex,
        analyses: AnalysisStore,
        configs: ConfigStore,
        alerter: Alerter,
        summarizer: ChatModel | None = None,
        clock: Callable[[], int] = now_ms,
    ):
        self.logs = logs
        self.analyses = analyses
        self.configs = configs
        self.alerter = alerter
        self.summarizer = summarizer
        self.clock = clock

    def run(self, time_left_ms: Callable[[], int]) -> list[AnalysisResult]:
        results = []
        now = self.clock()
        for service_name in self.logs.service_names():
            if time_left_ms() < TIME_RESERVE_MS:
                break  # the next run picks up from each service's last analysis
            result = self.analyze(service_name, now)
            if result is not None:
                results.append(result)
        return results

    def analyze(self, service_name: str, now: int) -> AnalysisResult | None:
        history = self.analyses.history(service_name, BASELINE_WINDOWS)
        start = max(
            history[0].analyzed_at + 1 if history else now - DEFAULT_WINDOW_MS, now - MAX_WINDOW_MS
        )
        counts = self.logs.error_counts(service_name, start, now)
        errors = counts["ERROR"] + counts["CRITICAL"]
        if errors < MIN_ERRORS:
            return None
        entries, truncated = error_entries(self.logs.search, service_name, start, now)
        patterns = mine_patterns(entries)
        earlier = [
            r.patterns["error_rate_per_hour"]
            for r in history
            if "error_rate_per_hour" in r.patterns
        ]
        assessment = assess(errors, counts["CRITICAL"], (now - start) / 3_600_000, earlier)
        recommendations = recommend(patterns)
        summary = describe(
            errors, counts["CRITICAL"], (now - start) / 3_600_000, patterns, assessment
        )
        facts = {
            "window": {"start": start, "end": now},
            "error_count": errors,
            "critical_count": counts["CRITICAL"],
            "entries_analyzed": len(entries),
            "truncated": truncated,
            "error_rate_per_hour": assessment.error_rate_per_hour,
            "baseline_per_hour": assessment.baseline_per_hour,
            "change": assessment.change,
            "anomaly": assessment.anomaly,
            "critical_share": assessment.critical_share,
            "patterns": [p.view() for p in patterns],
            "summary_source": "deterministic",
        }
        model_answer = self._ask_model(service_name, summary, facts, recommendations)
        if model_answer is not None:
            summary = model_answer.summary
            recommendations += [r for r in model_answer.recommendations if r not in recommendations]
            facts["summary_source"] = "model"
        result = AnalysisResult(
            id=new_id(),
            service_name=service_name,
            severity=assessment.severity,
            summary=summary,
            patterns=facts,
            recommendations=recommendations,
            analyzed_at=now,
        )
        self.analyses.save(result)
        if self.configs.get(service_name).alert_on_errors:
            facts["alerted"] = self.alerter.notify(result)
        return result

    def _ask_model(
        self, service_name: str, summary: str, facts: dict[str, Any], recommendations: list[str]
    ):
        if self.summarizer is None:
            return None
        try:
            prompt = prompt_for(
                service_name,
                {"deterministic_summary": summary, "recommendations": recommendations, **facts},
            )
            return parse_answer(self.summarizer.complete("", prompt, MAX_TOKENS).text)
        except Exception as exc:
            logger.warning("model summary unavailable", extra={"reason": repr(exc)[:300]})
            return None


def describe(
    errors: int, critical: int, hours: float, patterns: list, assessment: Assessment
) -> str:
    text = f"{errors} errors ({critical} critical) in {hours:.1f} h, {len(patterns)} patterns"
    if patterns:
        text += f'; most frequent ({patterns[0].share:.0%}): "{patterns[0].template}"'
    if assessment.anomaly:
        text += f". Error rate {assessment.change}x the baseline of the earlier windows"
    return text + "."
