"""On AWS the API key, the D1 token and R2 keys come from Secrets Manager (moto here)."""

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from logsvc import components
from tests.support.d1_standin import TOKEN


@pytest.fixture
def secrets(moto_aws):
    parameters.clear_caches()
    yield boto3.client("secretsmanager", region_name="us-east-1")
    parameters.clear_caches()


def test_api_key_and_d1_token_are_read_from_secrets_manager(api_d1, d1, secrets, monkeypatch):
    key_arn = secrets.create_secret(Name="logsvc/api-key", SecretString="from-secrets")["ARN"]
    token_arn = secrets.create_secret(Name="logsvc/d1", SecretString=TOKEN)["ARN"]
    monkeypatch.delenv("LOG_SERVICE_API_KEY")
    monkeypatch.delenv("D1_API_TOKEN")
    monkeypatch.setenv("LOG_SERVICE_API_KEY_SECRET_ARN", key_arn)
    monkeypatch.setenv("D1_API_TOKEN_SECRET_ARN", token_arn)
    components.reset()

    assert api_d1.call("GET", "/api/v1/logs/services", key="from-secrets").status == 200
    assert api_d1.call("GET", "/api/v1/logs/services").status == 401  # the env key is gone
    assert api_d1.call("GET", "/health", key=None).body["db"] == "connected"


def test_a_rotated_key_is_picked_up_after_the_cache_age(api, secrets, monkeypatch):
    arn = secrets.create_secret(Name="logsvc/api-key", SecretString="first")["ARN"]
    monkeypatch.setenv("LOG_SERVICE_API_KEY_SECRET_ARN", arn)
    components.reset()
    assert api.call("GET", "/api/v1/logs/configs", key="first").status == 200
    secrets.put_secret_value(SecretId=arn, SecretString="second")
    assert api.call("GET", "/api/v1/logs/configs", key="first").status == 200  # cached
    parameters.clear_caches()  # what SECRET_MAX_AGE_SECONDS does on its own
    assert api.call("GET", "/api/v1/logs/configs", key="second").status == 200
    assert api.call("GET", "/api/v1/logs/configs", key="first").status == 401


def test_a_d1_token_put_after_start_is_used_without_a_restart(api_d1, secrets, monkeypatch):
    arn = secrets.create_secret(Name="logsvc/d1", SecretString="placeholder")["ARN"]
    monkeypatch.delenv("D1_API_TOKEN")
    monkeypatch.setenv("D1_API_TOKEN_SECRET_ARN", arn)
    components.reset()
    assert api_d1.call("GET", "/health", key=None).status == 503
    secrets.put_secret_value(SecretId=arn, SecretString=TOKEN)
    parameters.clear_caches()  # what SECRET_MAX_AGE_SECONDS does on its own
    assert api_d1.call("GET", "/health", key=None).status == 200
