"""Alerts for HIGH and CRITICAL analyses of services with alert_on_errors: a Slack-compatible
webhook and/or an SNS topic, at most once per pattern within the cooldown."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from logsvc.clock import now_ms
from logsvc.store.analyses import AnalysisResult, AnalysisStore

ALERTING_SEVERITIES = ("HIGH", "CRITICAL")
logger = Logger(child=True)


class Alerter:
    def __init__(
        self,
        analyses: AnalysisStore,
        *,
        webhook_url: str | None = None,
        topic_arn: str | None = None,
        cooldown_ms: int = 6 * 3_600_000,
        clock: Callable[[], int] = now_ms,
        sns_client: Any = None,
    ):
        self.analyses = analyses
        self.webhook_url = webhook_url
        self.topic_arn = topic_arn
        self.cooldown_ms = cooldown_ms
        self.clock = clock
        self._sns = sns_client

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or self.topic_arn)

    def notify(self, result: AnalysisResult) -> bool:
        """Send the alert unless this pattern was alerted within the cooldown."""
        if not self.configured or result.severity not in ALERTING_SEVERITIES:
            return False
        patterns = result.patterns.get("patterns") or [{}]
        template = patterns[0].get("template", "")
        key = hashlib.sha256(template.encode()).hexdigest()[:16]
        now = self.clock()
        if self.analyses.alerted_since(result.service_name, key, now - self.cooldown_ms):
            return False
        text = (
            f"[{result.severity}] {result.service_name}: {result.summary}\n"
            f"Top pattern: {template}\n" + "\n".join(f"- {r}" for r in result.recommendations[:3])
        )
        delivered = self._post_webhook(text) | self._publish(result, text)
        if delivered:
            self.analyses.record_alert(result.service_name, key, now)
        return delivered

    def _post_webhook(self, text: str) -> bool:
        if not self.webhook_url:
            return False
        import urllib3

        try:
            response = urllib3.request(
                "POST",
                self.webhook_url,
                json={"text": text},
                timeout=urllib3.Timeout(connect=5, read=10),
                retries=urllib3.Retry(total=2, backoff_factor=0.5),
            )
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("alert webhook failed", extra={"reason": str(exc)})
            return False
        if response.status >= 300:
            logger.warning("alert webhook refused", extra={"status": response.status})
        return response.status < 300

    def _publish(self, result: AnalysisResult, text: str) -> bool:
        if not self.topic_arn:
            return False
        try:
            if self._sns is None:
                import boto3

                self._sns = boto3.client("sns")
            self._sns.publish(
                TopicArn=self.topic_arn,
                Message=text,
                Subject=f"logsvc {result.severity}: {result.service_name}"[:100],
            )
        except Exception as exc:
            logger.warning("alert SNS publish failed", extra={"reason": str(exc)})
            return False
        return True
