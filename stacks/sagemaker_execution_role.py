"""The role SageMaker jobs of one team run as, scoped to that team's bucket, key and package groups."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge_each, nag_text
from stacks.naming import TAG_TEAM, sagemaker_execution_role_name

# SageMaker Clarify (baselining in the build, bias/explainability monitors) serves the model from a
# temporary "shadow" endpoint it creates and deletes itself under this name prefix.
CLARIFY_SHADOW_PREFIX = "sm-clarify-"


def clarify_shadow_endpoint_permissions(stack: cdk.Stack, *, team: str, build_models: bool,
                                        ) -> tuple[list[iam.PolicyStatement], dict[str, str]]:
    """Clarify jobs (build baselines, bias/explainability monitors) run as the team's SageMaker role: they
    read the model behind the monitored endpoint and serve it from a shadow endpoint of their own;
    `build_models`: the build's ClarifyModel step also creates a model (factory account only).
    Returns the statements and the cdk-nag reasons for their wildcards."""

    def arn(resource: str, name: str) -> str:
        return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

    shadow = [arn("endpoint", f"{CLARIFY_SHADOW_PREFIX}*"), arn("endpoint-config", f"{CLARIFY_SHADOW_PREFIX}*")]
    team_resources = [arn("endpoint", "*"), arn("endpoint-config", "*"), arn("model", "*")]
    statements = [
        iam.PolicyStatement(
            sid="ClarifyShadowEndpoints",
            actions=["sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                     "sagemaker:DescribeEndpointConfig", "sagemaker:InvokeEndpoint",
                     "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:AddTags"],
            resources=shadow,
        ),
        iam.PolicyStatement(
            sid="ClarifyReadsTheTeamsModels",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
            resources=team_resources,
            conditions={"StringEquals": {f"aws:ResourceTag/{TAG_TEAM}": team}},
        ),
    ]
    reasons = {f"AwsSolutions-IAM5[Resource::{nag_text(stack, a)}]": (
        "Clarify names its temporary shadow endpoints itself, always with the 'sm-clarify-' prefix, "
        "and deletes them when the job ends.") for a in shadow}
    for a in team_resources:
        reasons[f"AwsSolutions-IAM5[Resource::{nag_text(stack, a)}]"] = (
            "Endpoint stacks let CloudFormation name models and endpoint configs; read-only, and only "
            f"resources tagged {TAG_TEAM}={team} (aws:ResourceTag condition).")
    if build_models:
        pipeline_models = arn("model", "pipelines-*")
        statements.append(iam.PolicyStatement(
            sid="ClarifyBaselineModel",
            actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:AddTags"],
            resources=[pipeline_models]))
        reasons[f"AwsSolutions-IAM5[Resource::{nag_text(stack, pipeline_models)}]"] = (
            "The build's ClarifyModel step creates a model SageMaker Pipelines names per execution, always "
            "with the 'pipelines-' prefix.")
    return statements, reasons


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
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=sagemaker_execution_role_name(team),
            description=f"Model Factory: SageMaker jobs and endpoints of the {team} team",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            max_session_duration=cdk.Duration.hours(12),
        )
        policy = iam.Policy(self, "Policy", roles=[self.role])
        job_log_groups = stack.format_arn(
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
            group_arns.append(stack.format_arn(service="sagemaker", resource="model-package-group",
                                               resource_name=group))
            package_arns.append(stack.format_arn(service="sagemaker", resource="model-package",
                                                 resource_name=f"{group}/*"))
        # SageMaker Pipelines run as this role and name their jobs "pipelines-<execution>-<step>-...".
        pipeline_jobs = [stack.format_arn(service="sagemaker", resource=kind, resource_name="pipelines-*")
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
                             "sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                    resources=[*group_arns, *package_arns],
                )
            )
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
