"""A synchronous client in the shape of the original README's CloudflareLogger."""

from __future__ import annotations

import sys
from typing import Any

from logsvc_client.transport import endpoint, post_json


class LogServiceClient:
    """``client.info("Processing started", job_id="123")``: one request per call.

    Never raises into the application: a failure is printed to stderr, as the original
    example did. For volume, prefer LogServiceHandler, which batches in the background.
    """

    def __init__(self, service_name: str, api_url: str, api_key: str, timeout: float = 5.0):
        self.service_name = service_name
        self.url = endpoint(api_url, "/api/v1/logs/ingest")
        self.api_key = api_key
        self.timeout = timeout

    def log(self, level: str, message: str, **metadata: Any) -> str | None:
        """Send one entry; return its id, or None if it could not be stored."""
        payload = {
            "service_name": self.service_name,
            "level": level.upper(),
            "message": message,
            "metadata": metadata,
        }
        try:
            status, body, _ = post_json(self.url, self.api_key, payload, self.timeout)
        except OSError as error:
            print(f"[LOG ERROR] {error}: {message}", file=sys.stderr)
            return None
        if status != 201:
            detail = body.get("error") if isinstance(body, dict) else body
            print(f"[LOG ERROR] HTTP {status} {detail}: {message}", file=sys.stderr)
            return None
        return body.get("id")

    def debug(self, message: str, **metadata: Any) -> str | None:
        return self.log("DEBUG", message, **metadata)

    def info(self, message: str, **metadata: Any) -> str | None:
        return self.log("INFO", message, **metadata)

    def warn(self, message: str, **metadata: Any) -> str | None:
        return self.log("WARN", message, **metadata)

    warning = warn

    def error(self, message: str, **metadata: Any) -> str | None:
        return self.log("ERROR", message, **metadata)

    def critical(self, message: str, **metadata: Any) -> str | None:
        return self.log("CRITICAL", message, **metadata)
