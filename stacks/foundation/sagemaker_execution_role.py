"""The role SageMaker jobs of one team run as, scoped to that team's bucket, key and package groups."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.async_notifications import async_notification_statements
from stacks.common.clarify_permissions import clarify_shadow_endpoint_permissions
from stacks.common.nag import acknowledge_each, nag_text
from stacks.common.naming import sagemaker_execution_role_name
from stacks.common.shared_values import hours


class SageMakerExecutionRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: str,
        bucket: s3.IBucket,
        key: kms.IKey,
        model_package_group_names: Sequence[str],
        clarify: bool = False,
        external_training_data: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        self.role = iam.Role(
            self,
            "Role",
            role_name=sagemaker_execution_role_name(team),
            description=f"Model Factory: SageMaker jobs and endpoints of the {team} team",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack_env.account}},
            ),
            max_session_duration=hours(12),
        )
        policy = iam.Policy(self, "Policy", roles=[self.role])
        job_log_groups = format_arn(stack,
            service="logs", resource="log-group", resource_name="/aws/sagemaker/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

        policy.add_statements(
            iam.PolicyStatement(
                sid="ArtifactBucket",
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ArtifactObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="TeamKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            ),
            iam.PolicyStatement(
                sid="TeamKeyGrantsForVolumes",
                actions=["kms:CreateGrant"],
                resources=[key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                         "logs:DescribeLogStreams"],
                resources=[job_log_groups],
            ),
            iam.PolicyStatement(
                sid="JobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
            ),
        )
        group_arns: list[str] = []
        package_arns: list[str] = []
        for group in model_package_group_names:
            group_arns.append(format_arn(stack, service="sagemaker", resource="model-package-group",
                                               resource_name=group))
            package_arns.append(format_arn(stack, service="sagemaker", resource="model-package",
                                                 resource_name=f"{group}/*"))
        # SageMaker Pipelines run as this role and name their jobs "pipelines-<execution>-<step>-...".
        pipeline_jobs = [format_arn(stack, service="sagemaker", resource=kind, resource_name="pipelines-*")
                         for kind in ("processing-job", "training-job")]
        policy.add_statements(
            iam.PolicyStatement(
                sid="PipelineJobs",
                actions=["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob",
                         "sagemaker:StopProcessingJob", "sagemaker:CreateTrainingJob",
                         "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"],
                resources=pipeline_jobs,
            ),
            iam.PolicyStatement(
                sid="PassThisRoleToPipelineJobs",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        )
        if group_arns:
            policy.add_statements(
                iam.PolicyStatement(
                    sid="ModelRegistry",
                    actions=["sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages",
                             "sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                             # CreateModelPackage with Tags needs AddTags on the package
                             "sagemaker:AddTags"],
                    resources=[*group_arns, *package_arns],
                )
            )
        for index, uri in enumerate(external_training_data):
            data_bucket, prefix = uri[5:].split("/", 1)
            bucket_arn = f"arn:{stack_env.partition}:s3:::{data_bucket}"
            policy.add_statements(
                iam.PolicyStatement(sid=f"ListTrainingData{index}", actions=["s3:ListBucket"], resources=[bucket_arn],
                                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}),
                iam.PolicyStatement(sid=f"ReadTrainingData{index}", actions=["s3:GetObject"],
                                    resources=[f"{bucket_arn}/{prefix}*"]),
            )
            acknowledge_each(policy.node.default_child, {
                f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}*]": (
                    "Read-only, on exactly the training-data prefix the model's config names "
                    "(models[].training.data_s3_uri).")})
        notify, notify_reasons = async_notification_statements(stack, team=team, with_local_key=False)
        policy.add_statements(*notify)
        acknowledge_each(policy.node.default_child, notify_reasons)
        self.policy = policy
        self._acknowledge_wildcards(policy, bucket, job_log_groups, package_arns, pipeline_jobs)
        if clarify:
            statements, reasons = clarify_shadow_endpoint_permissions(stack, team=team, build_models=True)
            policy.add_statements(*statements)
            acknowledge_each(policy.node.default_child, reasons)

    def _acknowledge_wildcards(
        self, policy: iam.Policy, bucket: s3.IBucket, job_log_groups: str, package_arns: list[str],
        pipeline_jobs: list[str],
    ) -> None:
        stack = cdk.Stack.of(self)
        reasons = {
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, bucket.arn_for_objects('*'))}]": (
                "Jobs read inputs and write models, reports and baselines under keys chosen per execution, "
                "all inside the team's own KMS-encrypted artifact bucket."
            ),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, job_log_groups)}]": (
                "SageMaker writes each job type to its own log group under /aws/sagemaker/ "
                "(TrainingJobs, ProcessingJobs, Endpoints); the prefix is fixed by the service."
            ),
            "AwsSolutions-IAM5[Resource::*]": (
                "cloudwatch:PutMetricData supports no resource-level permission; the statement is limited "
                "to the SageMaker metric namespaces by the cloudwatch:namespace condition."
            ),
        }
        for arn in package_arns:
            reasons[f"AwsSolutions-IAM5[Resource::{nag_text(stack, arn)}]"] = (
                "Model package versions are numbered by SageMaker at registration; the wildcard covers "
                "the versions of this one package group only."
            )
        for arn in pipeline_jobs:
            reasons[f"AwsSolutions-IAM5[Resource::{nag_text(stack, arn)}]"] = (
                "SageMaker Pipelines generate job names per execution, always with the 'pipelines-' prefix; "
                "the role can only touch such jobs in its own account and region."
            )
        acknowledge_each(policy.node.default_child, reasons)
