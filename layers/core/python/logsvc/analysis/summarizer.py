"""Optional language-model summaries, by any chat model of logsvc.language_models.

The model's answer must be JSON matching LlmSummary; on any error, timeout or invalid
answer the analysis keeps its deterministic summary and recommendations.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from logsvc.language_models import json_object_in

MAX_TOKENS = 800


class LlmSummary(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    recommendations: list[str] = Field(default_factory=list, max_length=10)


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
    found = json_object_in(text)
    if found is None:
        raise ValueError("no JSON object in the answer")
    return LlmSummary.model_validate_json(found)
