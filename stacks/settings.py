"""Deployment settings, read once from CDK context (cdk.json, or -c key=value)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Node

COMPACTED_PREFIX = "compacted/"
ARCHIVE_PREFIXES = ("logs/", COMPACTED_PREFIX)
WAF_MIN_RATE_LIMIT = 10  # requests per evaluation window, per AWS WAF
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


@dataclass(frozen=True)
class DeploymentSettings:
    stack_prefix: str = "Logsvc"
    stage_name: str = "prod"
    # D1, the index: the database and the account that holds it.
    d1_account_id: str = ""
    d1_database_id: str = ""
    # How the functions reach D1: "d1-rest" (the Cloudflare client API, ~1,200 requests per
    # 5 minutes per token) or "d1-bridge" (workers/d1-bridge at d1_bridge_url).
    database: str = "d1-rest"
    d1_bridge_url: str = ""
    # More D1 databases for the index (docs/OPERATIONS.md#capacity): their ids (d1-rest,
    # same account), or the bridge's D1 binding names (d1-bridge), comma-separated or a list.
    index_shards: tuple[str, ...] = ()
    # The most each index database holds before its largest services' hot windows shrink.
    index_budget_bytes: int = 8_000_000_000
    # Ingest buffers entries in a Kinesis stream and the writer function stores them in
    # flushes (the default: D1's REST API allows ~1,200 requests per 5 minutes per account);
    # "false": the ingest function writes D1 and the archive itself on every request.
    buffered_ingest: str = "true"
    ingest_shards: int = 1  # 1,000 requests/s or 1 MB/s of entries per shard
    # How long the stream keeps what ingest acknowledged (48-8760): an outage of the index
    # or the archive shorter than this, less a day, loses nothing.
    ingest_retention_hours: int = 168
    # The archive: "s3" (a bucket this app creates) or "r2" (an existing R2 bucket).
    archive: str = "s3"
    r2_account_id: str = ""
    r2_bucket: str = ""
    archive_expiration_days: int = 0
    # "true": use the archive bucket an earlier deployment left (cdk destroy keeps it)
    # instead of creating it; its lifecycle rules are then yours to manage.
    adopt_archive_bucket: str = ""  # 0: keep archived logs until something deletes them
    # Per-IP limits of the WAF rate-based rules, as in the original service.
    rate_limit_per_minute: int = 100
    batch_rate_limit_per_minute: int = 20
    # Addresses (CIDR, comma-separated) the WAF lets through without limits: a NAT gateway
    # many clients share, say.
    waf_allow_cidrs: tuple[str, ...] = ()
    # API Gateway stage throttling, for all clients together.
    throttle_rate_limit: int = 200
    throttle_burst_limit: int = 400
    cors_origins: tuple[str, ...] = ()
    # Redaction at ingest (see logsvc.redaction): rule names, comma-separated ("" for the
    # defaults, "none" for no rule), and a JSON list of extra regular expressions.
    redact: str = ""
    redact_patterns: str = ""
    # The region's API Gateway CloudWatch role (AWS::ApiGateway::Account, one per region):
    # "false" where the account already manages it elsewhere.
    manage_api_gateway_account: str = "true"
    # Synthesis refuses placeholder D1 ids (a deploy would run against nothing); "true"
    # allows a template-only synth, for review.
    allow_placeholders: str = ""
    # Reserved concurrency per function: "" (none: a new account's limit of 10 cannot spare
    # any), "recommended" (FunctionSpec.recommended_concurrency), or "ingest=20,search=5".
    reserved_concurrency: str = ""
    log_retention_days: int = 30
    alarm_email: str = ""
    # Analysis: alerts go to an SNS topic this app creates, and to a Slack-compatible webhook
    # whose URL is kept in a secret when alert_webhook is "true"; "bedrock" turns on model
    # summaries with analysis_llm_model.
    alert_webhook: str = ""
    analysis_llm: str = ""
    analysis_llm_model: str = "amazon.nova-lite-v1:0"
    # Ask in plain words (POST /api/v1/logs/ask): questions the built-in rules cannot read
    # go to a model when this names one: "bedrock" (ask_llm_model, IAM scoped to it),
    # "workers-ai" (account ask_llm_account_id, else d1_account_id) or "openai" (any
    # OpenAI-compatible endpoint at ask_llm_url); the last two read their key from the
    # ModelApiKey secret. "" (the default): the rules alone, no model, no cost.
    ask_llm: str = ""
    ask_llm_model: str = ""
    ask_llm_url: str = ""
    ask_llm_account_id: str = ""
    # The index's hot window (DEFAULT_TTL_DAYS): older entries are searched in the archive.
    default_ttl_days: int = 7
    # Athena (archive=s3): a query scanning more than this many GB is stopped.
    athena_scan_limit_gb: int = 10
    cleanup_batch_size: int = 1000
    functions_dir: str = "functions"
    wheelhouse: str = ""  # a folder of wheels: build the dependencies layer offline
    # Layers ship bytecode for the runtime's Python when its interpreter (python3.14) is on
    # the machine that synthesizes; without it each cold start compiles from source (see
    # docs/PERFORMANCE.md), and synthesis warns. "required": refuse to synthesize instead.
    layer_bytecode: str = ""

    @classmethod
    def from_context(cls, node: Node) -> DeploymentSettings:
        values: dict[str, Any] = {}
        for name, default in cls.__dataclass_fields__.items():
            raw = node.try_get_context(name)
            if raw is None:
                continue
            values[name] = _convert(name, raw, type(default.default))
        settings = cls(**values)
        if settings.archive not in ("s3", "r2"):
            raise ValueError(f"context archive must be s3 or r2, got {settings.archive!r}")
        if settings.database not in ("d1-rest", "d1-bridge"):
            raise ValueError(
                f"context database must be d1-rest or d1-bridge, got {settings.database!r}"
            )
        if (
            settings.database == "d1-rest"
            and settings.allow_placeholders != "true"
            and not (settings.d1_account_id and settings.d1_database_id)
        ):
            raise ValueError(
                "context d1_account_id and d1_database_id are required (the D1 database the "
                "functions use): cdk deploy -c d1_account_id=... -c d1_database_id=...; "
                "for a template-only synth, -c allow_placeholders=true"
            )
        if settings.database == "d1-bridge" and not settings.d1_bridge_url.startswith("https://"):
            raise ValueError("context database=d1-bridge needs d1_bridge_url=https://.../query")
        if settings.reserved_concurrency not in ("", "recommended"):
            for pair in settings.reserved_concurrency.split(","):
                name, _, number = pair.partition("=")
                if not number.isdigit() or int(number) < 1:
                    raise ValueError(
                        "context reserved_concurrency must be recommended or "
                        f"function=number,...; got {pair!r}"
                    )
        if not 48 <= settings.ingest_retention_hours <= 8760:
            raise ValueError(
                "context ingest_retention_hours must be 48-8760 (Kinesis keeps 24-8760 "
                f"hours; the writer gives up a day earlier), got {settings.ingest_retention_hours}"
            )
        if settings.log_retention_days not in RETENTION_DAYS:
            raise ValueError(
                f"context log_retention_days must be one of "
                f"{sorted(RETENTION_DAYS)}, got {settings.log_retention_days}"
            )
        for name in ("rate_limit_per_minute", "batch_rate_limit_per_minute"):
            if getattr(settings, name) < WAF_MIN_RATE_LIMIT:
                raise ValueError(f"context {name} must be at least {WAF_MIN_RATE_LIMIT} (WAF)")
        if settings.redact:
            from logsvc.settings import Settings  # the functions' own check, at synth time

            Settings.from_env(
                {
                    "DATABASE_URL": "-",
                    "ARCHIVE_URL": "-",
                    "REDACT": settings.redact,
                    "REDACT_PATTERNS": settings.redact_patterns,
                }
            )
        if settings.layer_bytecode not in ("", "required"):
            raise ValueError(
                f"context layer_bytecode must be required or empty, got {settings.layer_bytecode!r}"
            )
        if settings.ask_llm not in ("", "bedrock", "workers-ai", "openai"):
            raise ValueError(
                f"context ask_llm must be bedrock, workers-ai, openai or empty, "
                f"got {settings.ask_llm!r}"
            )
        if settings.ask_llm == "openai" and not settings.ask_llm_url.startswith("https://"):
            raise ValueError("context ask_llm=openai needs ask_llm_url=https://.../v1")
        if settings.archive == "r2" and not (settings.r2_account_id and settings.r2_bucket):
            raise ValueError("context archive=r2 needs r2_account_id and r2_bucket")
        return settings

    def reserved_concurrency_of(self, function: str, recommended: int) -> int | None:
        """The instances to reserve for a function, if any."""
        if not self.reserved_concurrency:
            return None
        if self.reserved_concurrency == "recommended":
            return recommended
        pairs = dict(
            pair.split("=", 1) for pair in self.reserved_concurrency.split(",") if "=" in pair
        )
        return int(pairs[function]) if function in pairs else None

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.log_retention_days]

    @property
    def archive_bucket_name(self) -> str:
        """The S3 archive's name: fixed, so policies name it without cross-stack imports."""
        return self.archive_bucket_name_as(cdk.Aws.ACCOUNT_ID, cdk.Aws.REGION)

    def archive_bucket_name_as(self, account: str, region: str) -> str:
        return f"{self.stack_prefix.lower()}-archive-{account}-{region}"

    def athena_results_bucket_name_as(self, account: str, region: str) -> str:
        """Athena's results bucket: fixed too (archive=s3)."""
        return f"{self.stack_prefix.lower()}-athena-results-{account}-{region}"

    def archive_objects_arns(self, bucket_name: str | None = None) -> list[str]:
        """The archive's objects: gzip NDJSON under logs/, compacted Parquet under
        compacted/ (bucket_name: as cdk-nag renders it)."""
        bucket = bucket_name or self.archive_bucket_name
        partition = "<AWS::Partition>" if bucket_name else cdk.Aws.PARTITION
        return [f"arn:{partition}:s3:::{bucket}/{prefix}*" for prefix in ARCHIVE_PREFIXES]

    @property
    def index_shard_urls(self) -> tuple[str, ...]:
        if self.database == "d1-bridge":
            return tuple(f"d1-bridge+{self.d1_bridge_url}/{name}" for name in self.index_shards)
        return tuple(f"d1://{self.d1_account_id or 'ACCOUNT_ID'}/{i}" for i in self.index_shards)

    @property
    def database_url(self) -> str:
        if self.database == "d1-bridge":
            return f"d1-bridge+{self.d1_bridge_url}"
        return f"d1://{self.d1_account_id or 'ACCOUNT_ID'}/{self.d1_database_id or 'DATABASE_ID'}"


def _convert(name: str, raw: Any, kind: type) -> Any:
    """Context from the command line arrives as strings; cdk.json gives JSON types."""
    if kind is tuple:
        items = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else raw
        if isinstance(items, str):
            items = [item for item in items.split(",") if item]
        return tuple(items)
    if kind is int:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"context {name} must be an integer, got {raw!r}") from None
    return str(raw)
