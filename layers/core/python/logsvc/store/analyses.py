"""Analysis results (the original's analysis_results table) and alert cooldowns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from logsvc.sql import SqlDatabase


@dataclass
class AnalysisResult:
    id: str
    service_name: str
    severity: str  # LOW, MEDIUM, HIGH, CRITICAL
    summary: str
    patterns: dict[str, Any] = field(default_factory=dict)  # window, counts, patterns, anomaly
    recommendations: list[str] = field(default_factory=list)
    analyzed_at: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service_name": self.service_name,
            "severity": self.severity,
            "summary": self.summary,
            **self.patterns,
            "recommendations": self.recommendations,
            "analyzed_at": self.analyzed_at,
        }


class AnalysisStore:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def save(self, result: AnalysisResult) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO analysis_results (id, service_name, severity, summary, "
            "patterns_json, recommendations_json, analyzed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                result.id,
                result.service_name,
                result.severity,
                result.summary,
                json.dumps(result.patterns),
                json.dumps(result.recommendations),
                result.analyzed_at,
            ),
        )

    def history(self, service_name: str, limit: int = 20) -> list[AnalysisResult]:
        """The service's results, newest first."""
        rows = self.db.query(
            "SELECT * FROM analysis_results WHERE service_name = ? "
            "ORDER BY analyzed_at DESC LIMIT ?",
            (service_name, limit),
        )
        return [
            AnalysisResult(
                id=row["id"],
                service_name=row["service_name"],
                severity=row["severity"],
                summary=row["summary"] or "",
                patterns=json.loads(row["patterns_json"] or "{}"),
                recommendations=json.loads(row["recommendations_json"] or "[]"),
                analyzed_at=row["analyzed_at"],
            )
            for row in rows
        ]

    def delete_older_than(self, cutoff_ms: int) -> int:
        return len(
            self.db.query(
                "DELETE FROM analysis_results WHERE analyzed_at < ? RETURNING id", (cutoff_ms,)
            )
        )

    def alerted_since(self, service_name: str, pattern_key: str, since_ms: int) -> bool:
        rows = self.db.query(
            "SELECT 1 AS hit FROM alert_state WHERE service_name = ? AND pattern_key = ? "
            "AND alerted_at >= ?",
            (service_name, pattern_key, since_ms),
        )
        return bool(rows)

    def record_alert(self, service_name: str, pattern_key: str, now_ms: int) -> None:
        self.db.execute(
            "INSERT INTO alert_state (service_name, pattern_key, alerted_at) VALUES (?, ?, ?) "
            "ON CONFLICT (service_name, pattern_key) "
            "DO UPDATE SET alerted_at = excluded.alerted_at",
            (service_name, pattern_key, now_ms),
        )

    def delete_alerts_older_than(self, cutoff_ms: int) -> int:
        return len(
            self.db.query(
                "DELETE FROM alert_state WHERE alerted_at < ? RETURNING pattern_key", (cutoff_ms,)
            )
        )
