"""Loki's tail through the stream function, as on AWS's stream API: a $connect with a
LogQL query subscribes the connection, and the publisher sends what passes the query's
pipeline in Loki's frame."""

import json

from logsvc import components
from logsvc.entries import LogEntry
from logsvc.live_tail.publisher import Publisher
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler

NOW = 1_790_000_000_000


class RecordingApi:
    """Stands in for API Gateway's management API (post_to_connection), which has no local
    in-process form; tests/e2e/test_loki.py runs the real one, the local server's."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send(self, connection_id: str, data: bytes) -> bool:
        self.sent.append((connection_id, json.loads(data)))
        return True


def connect(api, connection_id: str, query: str) -> dict:
    event = {
        "requestContext": {"routeKey": "$connect", "connectionId": connection_id},
        "headers": {"Authorization": f"Bearer {api.api_key}"},
        "queryStringParameters": {"query": query},
    }
    return load_handler("stream").lambda_handler(event, LocalContext("stream"))


def entry(service: str, level: str, message: str, **metadata) -> LogEntry:
    return LogEntry("id-" + message, service, level, message, NOW, metadata)


def test_a_connect_with_a_query_subscribes_and_receives_lokis_frames(api):
    # status is structured metadata: filtered without a parser, as in Loki 3
    answer = connect(api, "c1", '{service_name="shop"} | status >= 500')
    assert answer["statusCode"] == 200
    ((connection_id, subscription),) = components.connection_registry().subscribers(NOW)
    assert (connection_id, subscription.services) == ("c1", ["shop"])
    management = RecordingApi()
    publisher = Publisher(components.connection_registry(), management, clock=lambda: NOW)
    publisher.publish(
        [
            entry("shop", "ERROR", "boom", status=503),
            entry("shop", "INFO", "fine", status=200),
            entry("other", "ERROR", "elsewhere", status=500),
        ]
    )
    ((to, frame),) = management.sent
    assert to == "c1"
    assert frame == {
        "streams": [
            {
                "stream": {
                    "service_name": "shop",
                    "level": "error",
                    "detected_level": "error",
                    "source_type": "http",
                    "status": "503",
                },
                "values": [[str(NOW * 1_000_000), "boom"]],
            }
        ]
    }


def test_a_bad_query_refuses_the_connection_in_lokis_shape(api):
    answer = connect(api, "c2", 'sum(rate({a="b"}[1m]))')
    assert answer["statusCode"] == 400
    assert "log query" in json.loads(answer["body"])["message"]
    assert components.connection_registry().subscribers(NOW) == []
