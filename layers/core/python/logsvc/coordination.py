"""The coordination table (DynamoDB, AWS only): what every function instance must agree on.

- the account-wide D1 request budget (``take_d1_request``),
- the per-service daily counts behind max_logs_per_day (``reserve_daily``),
- the receipts of Idempotency-Keys (``claim_receipt``).

One table, keyed by ``pk``, items expiring through the ``expires_at`` TTL attribute. Every
operation is one conditional write, so concurrent instances never over-count. Locally the
same roles are played by the process itself (budget) and the buffer file (counts,
receipts).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from logsvc.errors import DatabaseUnavailable
from logsvc.receipts import RECEIPT_TTL_MS, Receipt, replayed_ids

WINDOW_SECONDS = 60
# Cloudflare counts requests over a sliding five minutes; any five minutes touch at most
# six one-minute windows, so a minute may spend a sixth of the five-minute limit.
WINDOWS_PER_LIMIT = 6


class CoordinationTable:
    def __init__(self, table_name: str, client: Any = None, clock: Any = time.time):
        self.table_name = table_name
        self._client = client
        self.clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _conditional_add(self, pk: str, amount: int, limit: int, ttl_seconds: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}},
                UpdateExpression="ADD #n :amount SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
                ExpressionAttributeNames={"#n": "count"},
                ExpressionAttributeValues={
                    ":amount": {"N": str(amount)},
                    ":room": {"N": str(limit - amount)},
                    ":expires": {"N": str(int(self.clock()) + ttl_seconds)},
                },
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    # The D1 request budget.

    def take_d1_request(self, limit_per_5_minutes: int, share: float) -> None:
        """Count one D1 REST request against the account; refuse it past ``share`` of this
        minute's part of the limit (writes get all of it, reads less)."""
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        allowed = int(limit_per_5_minutes / WINDOWS_PER_LIMIT * share)
        if not self._conditional_add(f"budget#{window}", 1, allowed, 600):
            wait = int((window + 1) * WINDOW_SECONDS - now) + 1
            raise DatabaseUnavailable(
                "D1 request budget for this minute is spent (shared by every function)",
                retry_after=wait,
            )

    # Daily counts (max_logs_per_day).

    def reserve_daily(self, service: str, day: str, count: int, limit: int) -> bool:
        return self._conditional_add(f"quota#{service}#{day}", count, limit, 3 * 86400)

    def release_daily(self, service: str, day: str, count: int) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"quota#{service}#{day}"}},
            UpdateExpression="ADD #n :amount",
            ExpressionAttributeNames={"#n": "count"},
            ExpressionAttributeValues={":amount": {"N": str(-count)}},
        )

    # Receipts of Idempotency-Keys.

    def claim_receipt(self, receipt: Receipt) -> list[str] | None:
        """Record the receipt; None if it is new, else the ids the first request got."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": f"receipt#{receipt.scope}"},
                    "body_hash": {"S": receipt.body_hash},
                    "ids": {"S": orjson.dumps(list(receipt.ids)).decode()},
                    "expires_at": {"N": str(int(self.clock()) + RECEIPT_TTL_MS // 1000)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return None
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        earlier = self.recall_receipt(receipt)
        return earlier if earlier is not None else self.claim_receipt(receipt)

    def recall_receipt(self, receipt: Receipt) -> list[str] | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"receipt#{receipt.scope}"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return replayed_ids(receipt, item["body_hash"]["S"], item["ids"]["S"])
