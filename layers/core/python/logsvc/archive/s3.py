"""S3-API object store: Amazon S3, or Cloudflare R2 through its endpoint URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from logsvc.errors import ArchiveUnavailable


def s3_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    credentials: dict[str, str] | None = None,
) -> Any:
    """An S3 client that also works against R2: R2 rejects the newer default checksums."""
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=30,
    )
    if endpoint_url and region is None:
        region = "auto"  # R2's region
    keys = {}
    if credentials:
        keys = {
            "aws_access_key_id": credentials["access_key_id"],
            "aws_secret_access_key": credentials["secret_access_key"],
        }
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config, **keys)


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: dict[str, str] | None = None,
        client: Any = None,
        expected_owner: str | None = None,
    ):
        self.bucket = bucket
        self._prefix = f"{prefix}/" if prefix else ""
        self._endpoint_url = endpoint_url
        self._region = region
        self._credentials = credentials
        # The account that must own the bucket (S3): bucket names are global, so a bucket of
        # that name in another account is refused (403) instead of written to.
        self._expected_owner = expected_owner
        self._client = client
        if client is not None:
            self._owned(client)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._owned(
                s3_client(self._endpoint_url, self._region, self._credentials)
            )
        return self._client

    def _owned(self, client: Any) -> Any:
        """Every call of ``client`` says whose bucket it expects (ExpectedBucketOwner)."""
        if self._expected_owner:
            owner = self._expected_owner

            def expect(params: dict[str, Any], **_: Any) -> None:
                params.setdefault("ExpectedBucketOwner", owner)

            for operation in ("PutObject", "GetObject", "ListObjectsV2", "DeleteObjects"):
                client.meta.events.register(f"before-parameter-build.s3.{operation}", expect)
        return client

    def put(self, key: str, data: bytes, content_type: str, content_encoding: str | None) -> None:
        extra = {"ContentEncoding": content_encoding} if content_encoding else {}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._prefix + key,
                Body=data,
                ContentType=content_type,
                **extra,
            )
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveUnavailable(f"cannot write archive object {key}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._prefix + key)
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise ArchiveUnavailable(f"cannot read archive object {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise ArchiveUnavailable(f"cannot read archive object {key}: {exc}") from exc

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._prefix + prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self._prefix) :]
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveUnavailable(f"cannot list archive objects under {prefix}: {exc}") from exc

    def list_prefixes(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        names = []
        try:
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=self._prefix + prefix, Delimiter="/"
            ):
                for item in page.get("CommonPrefixes", ()):
                    names.append(item["Prefix"][len(self._prefix + prefix) :].rstrip("/"))
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveUnavailable(f"cannot list archive prefixes under {prefix}: {exc}") from exc
        return sorted(names)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = [{"Key": self._prefix + key} for key in keys[start : start + 1000]]
            try:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                raise ArchiveUnavailable(f"cannot delete archive objects: {exc}") from exc
