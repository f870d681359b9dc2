"""What SageMaker Clarify needs of a team's SageMaker role, in the factory account (build baselines) and in
target accounts (bias/explainability monitors): one definition for both roles."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from stacks.common.arns import format_arn
from stacks.common.nag import nag_text
from stacks.common.naming import TAG_TEAM

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
        return format_arn(stack, service="sagemaker", resource=resource, resource_name=name)

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
