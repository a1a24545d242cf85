"""The web console (console/): served by `logsvc serve` at ``/`` with a strict
Content-Security-Policy. Everything it loads comes from this origin; it calls the API
(and live tail's WebSocket) here too."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from logsvc_local.project import ROOT

CONSOLE_DIR = ROOT / "console"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def console_page(request: Request) -> Response:
    return FileResponse(CONSOLE_DIR / "index.html", headers=SECURITY_HEADERS)


async def console_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:  # only the files named here, never a path into the folder
        return Response(status_code=404, headers=SECURITY_HEADERS)
    return FileResponse(CONSOLE_DIR / name, media_type=ASSETS[name], headers=SECURITY_HEADERS)


def console_routes() -> list[Route]:
    return [
        Route("/", console_page, methods=["GET", "HEAD"]),
        Route("/console/{name}", console_asset, methods=["GET", "HEAD"]),
    ]
