"""Chat models over their providers' APIs: Amazon Bedrock's Converse API, Cloudflare
Workers AI's REST API, and any OpenAI-compatible ``/chat/completions`` endpoint.

One call, the same for all three: a system prompt and one user message in; the answer's
text, its token counts and how long it took out. Every call is bounded in time (one try,
no retries: a person is waiting) and in the tokens the model may write; any failure is a
``ModelError`` with a short reason that never carries the prompt or a credential.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from logsvc.secret_values import later_value_or_secret

if TYPE_CHECKING:
    from logsvc.settings import Settings

TIMEOUT_SECONDS = 15.0
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: int


class ModelError(Exception):
    """The model could not be asked, timed out, or answered in a shape that is not read."""


class ChatModel(Protocol):
    name: str  # provider:model, for metrics and logs

    def complete(self, system: str, user: str, max_tokens: int) -> Completion:
        """The model's answer to ``user`` under ``system``, at most ``max_tokens`` long."""


class BedrockModel:
    """Amazon Bedrock's Converse API: any chat model Bedrock serves, by model id or
    inference profile id."""

    def __init__(self, model_id: str, client: Any = None, timeout_s: float = TIMEOUT_SECONDS):
        self.model_id = model_id
        self.name = f"bedrock:{model_id}"
        self.timeout_s = timeout_s
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "bedrock-runtime",
                config=Config(
                    read_timeout=self.timeout_s,
                    connect_timeout=CONNECT_SECONDS,
                    retries={"max_attempts": 1},
                ),
            )
        return self._client

    def complete(self, system: str, user: str, max_tokens: int) -> Completion:
        from botocore.exceptions import BotoCoreError, ClientError

        started = time.monotonic()
        try:
            response = self.client.converse(
                modelId=self.model_id,
                **({"system": [{"text": system}]} if system else {}),
                messages=[{"role": "user", "content": [{"text": user}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": 0},
            )
        except ClientError as error:
            raise ModelError(f"Bedrock refused: {error.response['Error'].get('Code')}") from None
        except BotoCoreError as error:
            raise ModelError(f"Bedrock unreachable: {type(error).__name__}") from None
        try:
            parts = response["output"]["message"]["content"]
            text = "".join(part.get("text", "") for part in parts)
        except (KeyError, TypeError):
            raise ModelError("Bedrock answered without a message") from None
        usage = response.get("usage") or {}
        return Completion(
            text,
            int(usage.get("inputTokens", 0)),
            int(usage.get("outputTokens", 0)),
            _elapsed_ms(started),
        )


class _HttpChatModel:
    """A provider spoken to as JSON over HTTPS with a Bearer token."""

    provider = ""

    def __init__(self, url: str, token: Callable[[], str | None], timeout_s: float):
        self.url = url
        self.token = token
        self.timeout_s = timeout_s

    def _post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        import urllib3

        token = self.token()
        started = time.monotonic()
        try:
            response = urllib3.request(
                "POST",
                self.url,
                json=body,
                headers={"Authorization": f"Bearer {token}"} if token else {},
                timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=self.timeout_s),
                retries=False,
            )
        except urllib3.exceptions.TimeoutError:
            raise ModelError(
                f"{self.provider} did not answer within {self.timeout_s:g} s"
            ) from None
        except urllib3.exceptions.HTTPError as error:
            raise ModelError(f"{self.provider} unreachable: {type(error).__name__}") from None
        if response.status != 200:
            raise ModelError(f"{self.provider} answered HTTP {response.status}")
        try:
            answer = response.json()
        except ValueError:
            raise ModelError(f"{self.provider} answered with something that is not JSON") from None
        if not isinstance(answer, dict):
            raise ModelError(f"{self.provider} answered with something that is not an object")
        return answer, _elapsed_ms(started)


class WorkersAiModel(_HttpChatModel):
    """Cloudflare Workers AI over REST: ``POST /accounts/{id}/ai/run/{model}``."""

    provider = "Workers AI"

    def __init__(
        self,
        account_id: str,
        token: Callable[[], str | None],
        model: str,
        base_url: str = "https://api.cloudflare.com/client/v4",
        timeout_s: float = TIMEOUT_SECONDS,
    ):
        super().__init__(
            f"{base_url.rstrip('/')}/accounts/{account_id}/ai/run/{model}", token, timeout_s
        )
        self.name = f"workers-ai:{model}"

    def complete(self, system: str, user: str, max_tokens: int) -> Completion:
        answer, latency_ms = self._post(
            {"messages": _messages(system, user), "max_tokens": max_tokens, "temperature": 0}
        )
        result = answer.get("result")
        if not isinstance(result, dict) or "response" not in result:
            raise ModelError("Workers AI answered without a result")
        text = result["response"]
        if not isinstance(text, str):  # JSON mode answers the object itself
            text = json.dumps(text)
        return _with_usage(text, result.get("usage"), latency_ms)


class OpenAiCompatibleModel(_HttpChatModel):
    """Any endpoint that speaks OpenAI's ``POST {base}/chat/completions`` (OpenAI, Azure
    OpenAI, vLLM, Ollama, LiteLLM...)."""

    provider = "the model endpoint"

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str | None],
        model: str,
        timeout_s: float = TIMEOUT_SECONDS,
    ):
        super().__init__(f"{base_url.rstrip('/')}/chat/completions", token, timeout_s)
        self.model = model
        self.name = f"openai:{model}"

    def complete(self, system: str, user: str, max_tokens: int) -> Completion:
        answer, latency_ms = self._post(
            {
                "model": self.model,
                "messages": _messages(system, user),
                "max_tokens": max_tokens,
                "temperature": 0,
                "response_format": {"type": "json_object"},
            }
        )
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ModelError(f"{self.provider} answered without a choice") from None
        if not isinstance(text, str):
            raise ModelError(f"{self.provider} answered without text")
        return _with_usage(text, answer.get("usage"), latency_ms)


PROVIDERS = ("bedrock", "workers-ai", "openai")
# Each provider's model when the settings name none: small, fast and cheap enough for a
# query and a sentence (docs/DEPLOY.md#ask-a-model).
DEFAULT_MODELS = {
    "bedrock": "amazon.nova-lite-v1:0",
    "workers-ai": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "openai": "gpt-4o-mini",
}


def build(
    provider: str,
    model: str,
    *,
    token: Callable[[], str | None] = lambda: None,
    account_id: str = "",
    base_url: str = "",
    timeout_s: float = TIMEOUT_SECONDS,
) -> ChatModel:
    """The model a deployment's settings name (``provider`` one of PROVIDERS)."""
    if provider == "bedrock":
        return BedrockModel(model, timeout_s=timeout_s)
    if provider == "workers-ai":
        return WorkersAiModel(account_id, token, model, base_url=base_url, timeout_s=timeout_s)
    if provider == "openai":
        return OpenAiCompatibleModel(base_url, token, model, timeout_s=timeout_s)
    raise ValueError(f"no model provider {provider!r}; one of {', '.join(PROVIDERS)}")


def from_settings(
    settings: Settings, provider: str, model: str | None, timeout_s: float = TIMEOUT_SECONDS
) -> ChatModel:
    """The model ``provider`` names (its DEFAULT_MODELS one unless ``model``), with the key
    and address the settings hold: WORKERS_AI_TOKEN or OPENAI_API_KEY, or on AWS the
    MODEL_API_KEY_SECRET_ARN secret (read again when its cache expires)."""
    s = settings
    value = s.openai_api_key if provider == "openai" else s.workers_ai_token
    secret = later_value_or_secret(value, s.model_api_key_secret_arn)
    return build(
        provider,
        model or DEFAULT_MODELS[provider],
        token=secret if callable(secret) else lambda: secret,
        account_id=s.workers_ai_account_id or "",
        base_url=(s.openai_base_url or "") if provider == "openai" else s.d1_api_base_url,
        timeout_s=timeout_s,
    )


def json_object_in(text: str) -> str | None:
    """The JSON object of a model's answer as written (models wrap it in prose or fences),
    or None."""
    found = re.search(r"\{.*\}", text, re.DOTALL)
    return found.group(0) if found else None


def _with_usage(text: str, usage: Any, latency_ms: int) -> Completion:
    """A completion with the token counts of OpenAI's usage shape (Workers AI's too)."""
    usage = usage if isinstance(usage, dict) else {}
    return Completion(
        text,
        int(usage.get("prompt_tokens", 0)),
        int(usage.get("completion_tokens", 0)),
        latency_ms,
    )


def _messages(system: str, user: str) -> list[dict[str, str]]:
    system_part = [{"role": "system", "content": system}] if system else []
    return [*system_part, {"role": "user", "content": user}]


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
