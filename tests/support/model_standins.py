"""Chat model providers as they answer, for the ask route's tests: an HTTP server on
127.0.0.1 that answers in OpenAI's chat.completion shape or Workers AI's REST shape
(recorded answers, replayed), and Bedrock's Converse through botocore's Stubber (the
client's own request validation and response shapes; nothing local serves Bedrock).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.stub import Stubber


def openai_answer(text: str, prompt_tokens: int = 950, completion_tokens: int = 90) -> dict:
    """A chat.completion as OpenAI's API returns one (vLLM, Ollama and LiteLLM alike)."""
    return {
        "id": "chatcmpl-AbC123",
        "object": "chat.completion",
        "created": 1796600000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_0aa8d3e20b",
    }


def workers_ai_answer(text: str, prompt_tokens: int = 1010, completion_tokens: int = 84) -> dict:
    """Workers AI's REST answer to a text-generation model."""
    return {
        "result": {
            "response": text,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
        "success": True,
        "errors": [],
        "messages": [],
    }


class ModelStandIn:
    """Answers each POST with the next (status, body, delay_s) of ``answers``; keeps what
    it was sent in ``requests`` as (path, headers, body)."""

    def __init__(self, answers: list[tuple[int, Any, float]]):
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, str], dict]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                stand_in.requests.append((self.path, dict(self.headers), body))
                status, answer, delay = stand_in.answers.pop(0)
                time.sleep(delay)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> ModelStandIn:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def bedrock_client() -> tuple[Any, Stubber]:
    """A real bedrock-runtime client whose calls botocore's Stubber answers."""
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


def converse_answer(text: str, input_tokens: int = 880, output_tokens: int = 95) -> dict:
    """Converse's response as Bedrock sends it."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 612},
    }
