"""The list prices the bill (bench/bill.py) multiplies: AWS us-east-1 and Cloudflare's
Workers Paid plan, per unit, as their pricing pages state them (read 2026-12; DynamoDB
on-demand after its November 2024 cut). Free tiers are left out except where a price
includes usage (the Workers plan's D1 allowance, X-Ray's first 100,000 traces), so the
bill is what a busy account pays."""

from __future__ import annotations

PRICES: dict[str, float] = {
    # API Gateway (first tier), CloudFront (HTTPS requests, North America), WAF
    "rest_api_per_million": 3.50,
    "http_api_per_million": 1.00,
    "cloudfront_https_per_million": 1.00,
    "waf_web_acl_month": 5.00,
    "waf_rule_month": 1.00,
    "waf_per_million": 0.60,
    # Lambda, arm64
    "lambda_per_million": 0.20,
    "lambda_gb_second": 0.0000133334,
    # Kinesis Data Streams, provisioned
    "kinesis_shard_hour": 0.015,
    "kinesis_extended_retention_shard_hour": 0.020,  # retention past 24 h, up to 7 days
    "kinesis_put_units_per_million": 0.014,  # a unit is 25 KB of a record
    # S3 Standard
    "s3_put_per_thousand": 0.005,  # PUT, COPY, POST, LIST
    "s3_get_per_thousand": 0.0004,
    "s3_gb_month": 0.023,
    # S3 Intelligent-Tiering: its tiers by days since an object was last read, a monitoring
    # fee per object of 128 KB or more, a lifecycle transition into it per object
    "s3_it_infrequent_gb_month": 0.0125,  # after 30 days unread
    "s3_it_archive_instant_gb_month": 0.004,  # after 90 days unread
    "s3_it_monitoring_per_thousand_objects": 0.0025,
    "s3_it_transition_per_thousand": 0.01,
    # DynamoDB on-demand
    "dynamodb_write_per_million": 0.625,
    "dynamodb_read_per_million": 0.125,
    # CloudWatch
    "logs_ingest_gb": 0.50,  # standard class; vended logs (WAF) the same at this volume
    "logs_store_gb_month": 0.03,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "custom_metric_month": 0.30,
    # X-Ray
    "xray_traces_per_million": 5.00,
    "xray_free_traces_month": 100_000,
    # KMS, Secrets Manager, data transfer out to the internet (the functions to D1)
    "kms_key_month": 1.00,
    "secret_month": 0.40,
    "internet_out_gb": 0.09,
    # Cloudflare Workers Paid: D1 (and R2) are billed under it
    "workers_paid_month": 5.00,
    "d1_rows_written_per_million": 1.00,
    "d1_rows_read_per_million": 0.001,
    "d1_gb_month": 0.75,
    "d1_included_rows_written_month": 50_000_000,
    "d1_included_rows_read_month": 25_000_000_000,
    "d1_included_gb": 5,
}

# What CloudWatch Logs keeps of what it ingests (it stores compressed): an assumption, not
# a price; JSON log lines compress about 7:1 with gzip (measured on the archive's NDJSON).
LOGS_STORED_SHARE = 0.15

# Ask in plain words: each provider's default model (logsvc.language_models.DEFAULT_MODELS),
# dollars per million input and output tokens (Bedrock on demand in us-east-1; Workers AI's
# neurons at $0.011 per 1,000 as its pricing page converts them; OpenAI's list price).
ASK_MODEL_PRICES: dict[str, tuple[float, float]] = {
    "bedrock:amazon.nova-lite-v1:0": (0.06, 0.24),
    "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast": (0.293, 2.253),
    "openai:gpt-4o-mini": (0.15, 0.60),
}
