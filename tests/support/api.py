"""Call the Lambda handlers in-process with the API Gateway events the deployed API sends."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from logsvc.routes import match_route
from logsvc_local.events import LocalContext, proxy_event
from logsvc_local.project import load_handler


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    def __init__(self, api_key: str):
        self.api_key = api_key

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: bytes | None = None,
        query: dict[str, Any] | None = None,
        key: str | None = "default",
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        matched = match_route(method, path)
        assert matched is not None, f"no route for {method} {path}"
        route, path_parameters = matched
        all_headers = {"content-type": "application/json", **(headers or {})}
        if key is not None:
            all_headers["authorization"] = f"Bearer {self.api_key if key == 'default' else key}"
        if raw_body is None:
            raw_body = b"" if body is None else json.dumps(body).encode()
        event = proxy_event(
            method=method,
            resource=route.path,
            path=path,
            headers=list(all_headers.items()),
            query=[
                (k, str(v))
                for k, values in (query or {}).items()
                for v in (values if isinstance(values, list) else [values])
            ],
            path_parameters=path_parameters,
            body=raw_body,
            source_ip="127.0.0.1",
        )
        result = load_handler(route.function).lambda_handler(event, LocalContext(route.function))
        headers_out = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers_out[k.lower()] = values[-1]
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):  # binary answers (OTLP protobuf) stay bytes
            return ApiResponse(result["statusCode"], base64.b64decode(text), headers_out)
        return ApiResponse(result["statusCode"], json.loads(text) if text else None, headers_out)

    def get(self, path: str, **query: Any) -> ApiResponse:
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> ApiResponse:
        return self.call("POST", path, body=body, headers=headers)

    def put(self, path: str, body: Any) -> ApiResponse:
        return self.call("PUT", path, body=body)


def query_string(params: dict[str, Any]) -> str:
    return urlencode(params)
