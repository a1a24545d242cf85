"""The web console's files (logsvc/console/), served by the health function: at ``/`` on
the local server and behind API Gateway alike, so the console calls the API on its own
origin (no CORS) and every answer carries a strict Content-Security-Policy.

The live-tail WebSocket is the only other origin the page may reach: the stream API's
``wss://`` address on AWS (``LIVE_TAIL_URL``, which the page reads from a meta tag), the
server's own locally.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
ASSETS = {"console.js": "text/javascript", "ask.js": "text/javascript", "console.css": "text/css"}
LIVE_TAIL_META = '<meta name="logsvc-live-tail" content="">'


def security_headers(live_tail_url: str | None) -> dict[str, str]:
    connect = "'self'"
    if live_tail_url:
        parts = urlsplit(live_tail_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
            "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def page(live_tail_url: str | None) -> Response:
    body = _read("index.html").replace(
        LIVE_TAIL_META,
        f'<meta name="logsvc-live-tail" content="{html.escape(live_tail_url or "")}">',
    )
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=body,
        headers=security_headers(live_tail_url),
    )


def asset(name: str, live_tail_url: str | None) -> Response | None:
    """One of the console's files by name (never a path into the folder), or None."""
    if name not in ASSETS:
        return None
    return Response(
        status_code=200,
        content_type=f"{ASSETS[name]}; charset=utf-8",
        body=_read(name),
        headers=security_headers(live_tail_url),
    )


@cache
def _read(name: str) -> str:
    return (CONSOLE_DIR / name).read_text(encoding="utf-8")
