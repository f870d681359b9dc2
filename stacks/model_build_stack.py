"""``mf-<team>-<model>-build``: one stack per model, so a team's template stays small as it grows."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import ModelConfig
from stacks.model_build import ModelBuild
from stacks.naming import TAG_MODEL


class ModelBuildStack(cdk.Stack):
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
        job_tags: dict[str, str],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cdk.Tags.of(self).add(TAG_MODEL, model.name)
        self.build = ModelBuild(
            self,
            "ModelBuild",
            team=team,
            model=model,
            bucket=s3.Bucket.from_bucket_attributes(self, "ArtifactBucket", bucket_name=bucket_name,
                                                    encryption_key=key),
            key=key,
            sagemaker_role=iam.Role.from_role_name(self, "SageMakerExecutionRole", sagemaker_role_name,
                                                   mutable=False),
            tags={**job_tags, TAG_MODEL: model.name},
        )
