"""The event Lambda's Kinesis event source hands the writer function, from moto's stream."""

from __future__ import annotations

import base64
from typing import Any


def records_event(shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """GetRecords' records as the event source delivers them."""
    return {
        "Records": [
            {
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "kinesis": {
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                },
            }
            for r in records
        ]
    }


def kinesis_event(client: Any, stream: str) -> dict[str, Any]:
    """The stream's first shard's records so far, as one event."""
    shard = client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
    iterator = client.get_shard_iterator(
        StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = client.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    return records_event(shard["ShardId"], records)
