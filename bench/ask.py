"""What asking in plain words costs: the built-in rules' time per question over the
evaluation set (tests/support/ask_questions.py), and what a model would be sent per
question (the prompt's characters and estimated tokens, for a deployment's number of
services) priced per 1,000 questions for each provider's default model.

Tokens are estimated, not counted (no tokenizer is reachable offline): 3.5 characters a
token, a little more tokens than English prose's 4 since the prompt holds JSON and LogQL.
A provider's bill counts its own tokens; its usage is in the AskModelInputTokens and
AskModelOutputTokens metrics.

    python -m bench.ask [--services 50] [--fields 40] [--save bench/results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))

from bench.prices import ASK_MODEL_PRICES, PRICES  # noqa: E402
from logsvc.ask import Context, NotUnderstood  # noqa: E402
from logsvc.ask.model import MAX_TOKENS, SYSTEM_PROMPT, user_message  # noqa: E402
from logsvc.ask.words import WordsTranslator  # noqa: E402
from tests.support.ask_questions import CASES, NOW, SERVICES  # noqa: E402

CHARS_PER_TOKEN = 3.5
OUTPUT_TOKENS = 120  # a query, two times, a kind, a step and a sentence, as JSON
ASK_MEMORY_GB = 0.5  # FunctionSpec("ask")
FIELDS = ["http_status", "region", "user_id", "latency_ms", "error_code", "trace_id"]


def rules(rounds: int = 20) -> dict:
    """Each evaluation question through the rules, ``rounds`` times: per-question times."""
    translator = WordsTranslator()
    read, times = 0, []
    for case in CASES:
        services = list(case.key_services or ([case.service] if case.service else SERVICES))
        context = Context(
            services, NOW, case.time_zone or "UTC", bool(case.key_services or case.service),
            lambda: FIELDS,
        )  # fmt: skip
        for _ in range(rounds):
            started = time.perf_counter()
            try:
                translator.translate(case.question, context)
                ok = True
            except NotUnderstood:
                ok = False
            times.append((time.perf_counter() - started) * 1000)
        read += ok
    times.sort()
    return {
        "questions": len(CASES),
        "read_by_the_rules": read,
        "ms_p50": round(statistics.median(times), 3),
        "ms_p95": round(times[int(len(times) * 0.95)], 3),
    }


def prompt(services: int, fields: int) -> dict:
    """The characters and estimated tokens a model is sent for one question."""
    names = [f"service-{i:03d}-api" for i in range(services)]
    field_names = [f"field_{i}_name" for i in range(fields)]
    context = Context(names, NOW, "Europe/Paris", False, lambda: field_names)
    user = user_message("checkout errors compared with yesterday, by region", context)
    chars = len(SYSTEM_PROMPT) + len(user)
    return {
        "services": services,
        "fields": fields,
        "system_chars": len(SYSTEM_PROMPT),
        "user_chars": len(user),
        "input_tokens_estimated": round(chars / CHARS_PER_TOKEN),
        "output_tokens_estimated": OUTPUT_TOKENS,
        "output_tokens_at_most": MAX_TOKENS,
    }


def per_thousand(tokens_in: int, tokens_out: int, model_seconds: float = 1.5) -> dict:
    """Dollars per 1,000 questions that reach a model: its tokens, the ask function's time
    waiting on it, and the API request."""
    aws = 1000 * (
        PRICES["rest_api_per_million"] / 1e6
        + PRICES["lambda_per_million"] / 1e6
        + ASK_MEMORY_GB * model_seconds * PRICES["lambda_gb_second"]
    )
    out = {}
    for model, (per_m_in, per_m_out) in ASK_MODEL_PRICES.items():
        tokens = 1000 * (tokens_in * per_m_in + tokens_out * per_m_out) / 1e6
        out[model] = {
            "model": round(tokens, 4),
            "aws": round(aws, 4),
            "total": round(tokens + aws, 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--fields", type=int, default=40)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    result = {"rules": rules(), "prompt": prompt(args.services, args.fields)}
    shape = result["prompt"]
    result["dollars_per_1000_questions"] = per_thousand(
        shape["input_tokens_estimated"], shape["output_tokens_estimated"]
    )
    print(json.dumps(result, indent=2))
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        (args.save / "ask.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
