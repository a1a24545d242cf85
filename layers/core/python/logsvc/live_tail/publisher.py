"""Send new entries to the live-tail connections whose filters match, through API Gateway's
management API (post_to_connection). Locally the server answers the same API."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from aws_lambda_powertools import Logger

from logsvc.clock import now_ms
from logsvc.entries import LogEntry
from logsvc.live_tail.subscriptions import Subscription
from logsvc.store.connections import ConnectionRegistry

# At most one registry read a second per warm function: a new subscriber starts receiving
# within a second.
# Subscriptions are read at most this often per instance: each read is a D1 request, and
# every D1 request of the deployment shares one account-wide budget.
REGISTRY_CACHE_SECONDS = 2.0
FAN_OUT_BUDGET_SECONDS = 1.0  # ingest never waits longer than this for subscribers
logger = Logger(child=True)


class ManagementApi:
    """post_to_connection through boto3 (built on first use: most ingests have no viewer)."""

    def __init__(
        self,
        endpoint_url: str,
        region: str | None = None,
        credentials: tuple[str, str] | None = None,
    ):
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = credentials  # the local server's own; on AWS the role's
        self._client: Any = None

    def send(self, connection_id: str, data: bytes) -> bool:
        """False when the connection is gone (410)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=self.endpoint_url,
                region_name=self.region or "us-east-1",
                **(
                    {
                        "aws_access_key_id": self.credentials[0],
                        "aws_secret_access_key": self.credentials[1],
                    }
                    if self.credentials
                    else {}
                ),
                config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
            )
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return False
        return True


class Publisher:
    def __init__(
        self, registry: ConnectionRegistry, api: ManagementApi, clock: Callable[[], int] = now_ms
    ):
        self.registry = registry
        self.api = api
        self.clock = clock
        self._cached: list[tuple[str, Subscription]] = []
        self._cached_at = float("-inf")
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stream")

    def publish(self, entries: list[LogEntry]) -> None:
        """Best effort within FAN_OUT_BUDGET_SECONDS; a failure here never fails ingest."""
        try:
            deliveries = [
                (connection_id, subscription, matching)
                for connection_id, subscription in self._subscribers()
                if (matching := [e for e in entries if subscription.matches(e)])
            ]
            futures = {
                self._pool.submit(self._send, connection_id, subscription, matching): connection_id
                for connection_id, subscription, matching in deliveries
            }
            wait(futures, timeout=FAN_OUT_BUDGET_SECONDS)
        except Exception:
            logger.exception("live tail fan-out failed")

    def _subscribers(self) -> list[tuple[str, Subscription]]:
        if time.monotonic() - self._cached_at > REGISTRY_CACHE_SECONDS:
            self._cached = self.registry.subscribers(self.clock())
            self._cached_at = time.monotonic()
        return self._cached

    def _send(
        self, connection_id: str, subscription: Subscription, entries: list[LogEntry]
    ) -> None:
        for data in subscription.messages(entries):
            if not self.api.send(connection_id, data):
                self.registry.disconnect(connection_id)
                self._cached = [(c, s) for c, s in self._cached if c != connection_id]
                return
