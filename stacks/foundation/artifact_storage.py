"""The team's artifact bucket (data, models, reports, baselines) and the bucket its access logs go to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common.nag import acknowledge
from stacks.common.shared_values import days


class ArtifactStorage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        bucket_name: str,
        noncurrent_version_days: int = 90,
        access_log_days: int = 365,
    ) -> None:
        super().__init__(scope, construct_id)
        # S3 server access logging cannot deliver to an SSE-KMS bucket, so the log bucket uses SSE-S3.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=f"{bucket_name}-logs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=days(access_log_days),
                    noncurrent_version_expiration=days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_log_bucket,
            "AwsSolutions-S1",
            "This bucket is the server access log destination; logging it into itself would loop.",
        )

        self.bucket = s3.Bucket(
            self,
            "Artifacts",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=days(7),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
