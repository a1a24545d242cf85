"""One JSON POST with the standard library, answering (status, body, retry_after)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

# Worth another try later: throttled, or the service or its storage briefly unavailable.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def endpoint(api_url: str, path: str) -> str:
    """The URL of a service path; refuses anything but http(s) when the client is created."""
    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"the service URL must start with http:// or https://, got {api_url!r}")
    return f"{api_url.rstrip('/')}{path}"


def post_json(
    url: str, api_key: str, payload: Any, timeout: float, idempotency_key: str | None = None
) -> tuple[int, Any, float | None]:
    """POST payload as JSON. Connection failures raise OSError (urllib's URLError is one)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the service URL must be http(s), got {url!r}")
    data = json.dumps(payload, default=repr).encode("utf-8")
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "User-Agent": "logsvc-client/2.0",
    }
    if idempotency_key:  # the service stores a retried request once
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310 - http(s) checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked above
            return response.status, _json(response.read()), None
    except urllib.error.HTTPError as error:
        retry_after = error.headers.get("Retry-After") if error.headers else None
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return error.code, _json(error.read()), seconds


def _json(data: bytes) -> Any:
    try:
        return json.loads(data or b"null")
    except ValueError:
        return None
