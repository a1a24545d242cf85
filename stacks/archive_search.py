"""Archive search on AWS with the S3 archive: Athena over two Glue tables that read the
archive in place (logsvc.archive.athena).

- ``logs_ndjson`` (``logs/``, gzip NDJSON) and ``logs_compacted`` (``compacted/``, Parquet),
  both partitioned by ``service`` (injected: every query names its services) and ``day``
  (yyyy-MM-dd) with partition projection, so no crawler and no partition upkeep;
- a workgroup that enforces its settings: engine version 3, a per-query scan limit
  (context athena_scan_limit_gb), results in its own bucket encrypted with SSE-S3;
- the results bucket, private and TLS-only, whose objects expire after a day (a running
  query is collected within minutes; nothing else reads them).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from logsvc.archive.athena import COMPACTED_TABLE, NDJSON_TABLE
from logsvc.archive.log_archive import COMPACTED_PREFIX, NDJSON_PREFIX

COLUMNS = (
    ("id", "string"),
    ("service_name", "string"),
    ("level", "string"),
    ("message", "string"),
    ("timestamp", "bigint"),
    ("metadata", "string"),  # the JSON object as text (OpenX SerDe; Parquet: a string)
    ("source_type", "string"),
)
FIRST_DAY = "2024-01-01"  # the oldest day projection considers
RESULTS_EXPIRE_DAYS = 1

_NDJSON_FORMAT = {
    "input_format": "org.apache.hadoop.mapred.TextInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "serde_info": glue.CfnTable.SerdeInfoProperty(
        serialization_library="org.openx.data.jsonserde.JsonSerDe",
        # A damaged line is skipped, not the query's end (the DuckDB engine skips the object).
        parameters={"ignore.malformed.json": "true"},
    ),
}
_PARQUET_FORMAT = {
    "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "serde_info": glue.CfnTable.SerdeInfoProperty(
        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    ),
}


class ArchiveSearch(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive_bucket_name: str,
        results_bucket_name: str,
        name_prefix: str,
        scan_limit_gb: int,
        adopt_results_bucket: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.database_name = f"{name_prefix.lower()}_archive"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="logsvc archive (Athena)"
            ),
        )
        self.tables = []
        for table_id, name, prefix, storage in (
            ("NdjsonTable", NDJSON_TABLE, NDJSON_PREFIX, _NDJSON_FORMAT),
            ("CompactedTable", COMPACTED_TABLE, COMPACTED_PREFIX, _PARQUET_FORMAT),
        ):
            table = self._table(table_id, name, f"s3://{archive_bucket_name}/{prefix}", storage)
            table.node.add_dependency(database)
            self.tables.append(name)

        self.results_bucket_name = results_bucket_name
        if adopt_results_bucket:  # kept by an earlier deployment, like the archive
            self.results: s3.IBucket = s3.Bucket.from_bucket_name(
                self, "Results", results_bucket_name
            )
        else:
            self.results = self._results_bucket(results_bucket_name)
        self.workgroup_name = f"{name_prefix.lower()}-archive"
        athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="logsvc archive search: per-query scan limit, encrypted results",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                bytes_scanned_cutoff_per_query=scan_limit_gb * 1024**3,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results_bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        cdk.CfnOutput(stack, "AthenaWorkGroup", value=self.workgroup_name)
        cdk.CfnOutput(stack, "AthenaDatabase", value=self.database_name)

    def _results_bucket(self, name: str) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Results",
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(RESULTS_EXPIRE_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            # Like the archive: kept on destroy (adopt_archive_bucket=true adopts both).
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="Athena's query results, expired after a day: no access log is needed.",
            )
        )
        return bucket

    def _table(self, construct_id: str, name: str, location: str, storage: dict) -> glue.CfnTable:
        stack = cdk.Stack.of(self)
        return glue.CfnTable(
            self,
            construct_id,
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=name,
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name="service", type="string"),
                    glue.CfnTable.ColumnProperty(name="day", type="string"),
                ],
                parameters={
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    "projection.service.type": "injected",
                    "projection.day.type": "date",
                    "projection.day.format": "yyyy-MM-dd",
                    "projection.day.range": f"{FIRST_DAY},NOW",
                    "projection.day.interval": "1",
                    "projection.day.interval.unit": "DAYS",
                    "storage.location.template": location + "${service}/${day}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in COLUMNS],
                    **storage,
                ),
            ),
        )

    def workgroup_arn(self) -> str:
        return (
            f"arn:{cdk.Aws.PARTITION}:athena:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
            f"workgroup/{self.workgroup_name}"
        )

    def glue_arns(self) -> list[str]:
        base = f"arn:{cdk.Aws.PARTITION}:glue:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        return [
            f"{base}:catalog",
            f"{base}:database/{self.database_name}",
            *(f"{base}:table/{self.database_name}/{name}" for name in self.tables),
        ]
