"""Optional language-model summaries (Amazon Bedrock Converse or Workers AI over REST).

The model's answer must be JSON matching LlmSummary; on any error, timeout or invalid
answer the analysis keeps its deterministic summary and recommendations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

TIMEOUT_SECONDS = 15


class LlmSummary(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    recommendations: list[str] = Field(default_factory=list, max_length=10)


class Summarizer(Protocol):
    def complete(self, prompt: str) -> str:
        """The model's text answer to one prompt."""


def prompt_for(service_name: str, facts: dict[str, Any]) -> str:
    return (
        "You are an SRE assistant. Summarise these error patterns of the service "
        f"'{service_name}' for an on-call engineer and suggest concrete next steps.\n"
        'Answer with JSON only: {"summary": "<at most 3 sentences>", '
        '"recommendations": ["<at most 5 short actions>"]}.\n\n'
        f"{json.dumps(facts, indent=1)[:12000]}"
    )


def parse_answer(text: str) -> LlmSummary:
    """The JSON object in a model's answer (models sometimes wrap it in prose or fences)."""
    found = re.search(r"\{.*\}", text, re.DOTALL)
    if not found:
        raise ValueError("no JSON object in the answer")
    return LlmSummary.model_validate_json(found.group(0))


class BedrockSummarizer:
    """Amazon Bedrock's Converse API (works with any chat model Bedrock serves)."""

    def __init__(self, model_id: str, client: Any = None):
        self.model_id = model_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "bedrock-runtime",
                config=Config(
                    read_timeout=TIMEOUT_SECONDS, connect_timeout=5, retries={"max_attempts": 1}
                ),
            )
        return self._client

    def complete(self, prompt: str) -> str:
        response = self.client.converse(
            modelId=self.model_id,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": 800, "temperature": 0},
        )
        return "".join(part.get("text", "") for part in response["output"]["message"]["content"])


class WorkersAiSummarizer:
    """Cloudflare Workers AI over REST: POST /accounts/{id}/ai/run/{model}."""

    def __init__(
        self,
        account_id: str,
        token: Callable[[], str],
        model: str,
        base_url: str = "https://api.cloudflare.com/client/v4",
    ):
        self.url = f"{base_url.rstrip('/')}/accounts/{account_id}/ai/run/{model}"
        self.token = token

    def complete(self, prompt: str) -> str:
        import urllib3

        response = urllib3.request(
            "POST",
            self.url,
            json={"messages": [{"role": "user", "content": prompt}]},
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=urllib3.Timeout(connect=5, read=TIMEOUT_SECONDS),
            retries=False,
        )
        if response.status != 200:
            raise RuntimeError(f"Workers AI answered HTTP {response.status}")
        return response.json()["result"]["response"]
