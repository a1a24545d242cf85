"""Redaction holds on every way in (JSON API, OTLP, Cloudflare Tail) and every way out
(search, /full, the archive files, the SQLite file): the shapes that used to leak."""

import gzip
import json
from pathlib import Path

from logsvc import components

SECRETS = ["PW-ONE", "T-TWO", "X-THREE", "AT-FOUR", "CS-FIVE", "DBPW-SIX", "HUNTER-SEVEN"]


def test_no_secret_reaches_any_store(api, archive_dir, sqlite_url):
    batch = [
        {
            "service_name": "leaky",
            "level": "INFO",
            "message": "login password=HUNTER-SEVEN then Bearer\tX-THREE",
            "metadata": {
                "password": ["PW-ONE"],
                "token": {"value": "T-TWO"},
                "accessToken": "AT-FOUR",
                "clientSecret": "CS-FIVE",
            },
        }
    ]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": batch}).status == 201
    otlp = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "leaky"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "body": {"stringValue": "query ran"},
                                "attributes": [
                                    {
                                        "key": "db.password",
                                        "value": {
                                            "arrayValue": {"values": [{"stringValue": "DBPW-SIX"}]}
                                        },
                                    }
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    answer = api.call("POST", "/v1/logs", raw_body=json.dumps(otlp).encode())
    assert answer.status == 200
    tail = [
        {
            "scriptName": "leaky",
            "outcome": "ok",
            "logs": [{"level": "log", "message": ["Bearer:X-THREE"]}],
        }
    ]
    assert api.post("/api/v1/logs/tail", tail).status == 201

    logs = api.get("/api/v1/logs/search", service="leaky").body["logs"]
    assert len(logs) == 3
    seen = json.dumps(logs)
    for log in logs:
        seen += json.dumps(api.get(f"/api/v1/logs/logs/{log['id']}/full").body)
    for path in archive_dir.rglob("*.ndjson.gz"):
        seen += gzip.decompress(path.read_bytes()).decode()
    components.database().query("PRAGMA wal_checkpoint(TRUNCATE)")
    database = Path(sqlite_url.removeprefix("sqlite://"))
    seen += database.read_bytes().decode("utf-8", errors="replace")
    for secret in SECRETS:
        assert secret not in seen, secret
    assert "[REDACTED]" in seen
