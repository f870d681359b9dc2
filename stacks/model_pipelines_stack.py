"""``mf-<team>-<model>-pipelines``: the build and deploy pipelines of one model, one stack per model so
that a team's templates stay small as it grows."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.build.model_build import ModelBuild
from stacks.common.arns import format_arn
from stacks.common.naming import TAG_MODEL
from stacks.config.model import ModelConfig
from stacks.deploy.model_deploy import ModelDeploy


class ModelPipelinesStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: str,
        model: ModelConfig,
        bucket_name: str,
        key: kms.IKey,
        sagemaker_role_name: str,
        approver_topic_name: str,
        job_tags: dict[str, str],
        stage_accounts: dict[str, str] | None = None,
        catalog_bus_arn: str | None = None,
        owners: list[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cdk.Tags.of(self).add(TAG_MODEL, model.name)
        bucket = s3.Bucket.from_bucket_attributes(self, "ArtifactBucket", bucket_name=bucket_name, encryption_key=key)
        role = iam.Role.from_role_name(self, "SageMakerExecutionRole", sagemaker_role_name, mutable=False)
        topic = sns.Topic.from_topic_arn(self, "ApproverTopic", format_arn(self,
            service="sns", resource=approver_topic_name, arn_format=cdk.ArnFormat.NO_RESOURCE_NAME))
        self.build = ModelBuild(self, "ModelBuild", team=team, model=model, bucket=bucket, key=key,
                                sagemaker_role=role, tags={**job_tags, TAG_MODEL: model.name}, topic=topic)
        self.deploy = ModelDeploy(self, "ModelDeploy", team=team, model=model, bucket=bucket, key=key,
                                  sagemaker_role=role, stage_accounts=stage_accounts or {},
                                  tags={**job_tags, TAG_MODEL: model.name}, topic=topic,
                                  catalog_bus_arn=catalog_bus_arn, owners=owners or [])
