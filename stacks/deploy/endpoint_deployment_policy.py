"""What CloudFormation may do when it deploys endpoint stacks named `<prefix>...`: the statements and the
cdk-nag reasons for their wildcards. Used by the per-model deployment role in the factory account and by
the team's CloudFormation execution role in each separate staging/prod account."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from stacks.common.arns import format_arn, stack_environment
from stacks.common.nag import acknowledge_each, nag_text
from stacks.common.naming import drift_job_role_name, drift_schedule_role_name


def endpoint_deployment_statements(stack: cdk.Stack, *, prefix: str, package_arns: Sequence[str],
                                   sagemaker_role_arn: str, key_statement: iam.PolicyStatement, team: str,
                                   ) -> list[iam.PolicyStatement]:
    """CloudFormation passes the team's drift roles of this account (stacks/monitoring/drift_job_roles.py) to
    the factory engine's pipeline and schedule of an endpoint stack; it never creates a role."""
    drift_job_role_arn, drift_schedule_role_arn = (
        format_arn(stack, service="iam", region="", resource="role", resource_name=name(team))
        for name in (drift_job_role_name, drift_schedule_role_name))

    def arn(service: str, resource: str, name: str, sep=cdk.ArnFormat.SLASH_RESOURCE_NAME, region=None) -> str:
        return format_arn(stack, service=service, resource=resource, resource_name=name, arn_format=sep,
                                **({"region": region} if region is not None else {}))

    return [
        iam.PolicyStatement(
            sid="EndpointResources",
            actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel",
                     "sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig",
                     "sagemaker:DeleteEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint",
                     "sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:CreateInferenceComponent",
                     "sagemaker:UpdateInferenceComponent", "sagemaker:DescribeInferenceComponent",
                     "sagemaker:DeleteInferenceComponent", "sagemaker:AddTags", "sagemaker:DeleteTags",
                     "sagemaker:ListTags"],
            resources=[arn("sagemaker", "model", "*"), arn("sagemaker", "endpoint-config", "*"),
                       arn("sagemaker", "endpoint", f"{prefix}*"), arn("sagemaker", "inference-component", f"{prefix}*")],
        ),
        iam.PolicyStatement(
            sid="DataQualityMonitoring",
            actions=["sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition",
                     "sagemaker:DeleteDataQualityJobDefinition", "sagemaker:CreateModelQualityJobDefinition",
                     "sagemaker:DescribeModelQualityJobDefinition", "sagemaker:DeleteModelQualityJobDefinition",
                     "sagemaker:CreateModelBiasJobDefinition", "sagemaker:DescribeModelBiasJobDefinition",
                     "sagemaker:DeleteModelBiasJobDefinition", "sagemaker:CreateModelExplainabilityJobDefinition",
                     "sagemaker:DescribeModelExplainabilityJobDefinition",
                     "sagemaker:DeleteModelExplainabilityJobDefinition",
                     "sagemaker:CreateMonitoringSchedule",
                     "sagemaker:UpdateMonitoringSchedule", "sagemaker:DescribeMonitoringSchedule",
                     "sagemaker:DeleteMonitoringSchedule"],
            resources=[arn("sagemaker", f"{kind}-job-definition", "*") for kind in JOB_DEFINITION_KINDS]
            + [arn("sagemaker", "monitoring-schedule", f"{prefix}*")]),
        iam.PolicyStatement(
            sid="ServeOnlyThisModelsPackages", actions=["sagemaker:DescribeModelPackage"], resources=list(package_arns)),
        # the factory engine's drift pipeline and the stage's batch pipeline, and their schedules, all named after
        # the endpoint (the
        # AWS::SageMaker::Pipeline and AWS::Scheduler::Schedule handlers call these and iam:PassRole)
        iam.PolicyStatement(
            sid="DriftPipelines",
            actions=["sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline",
                     "sagemaker:DescribePipeline", "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"],
            resources=[arn("sagemaker", "pipeline", f"{prefix}*-drift"), arn("sagemaker", "pipeline", f"{prefix}*-batch")]),
        iam.PolicyStatement(
            sid="DriftSchedules",
            actions=["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
                     "scheduler:GetSchedule"],
            resources=[arn("scheduler", "schedule", f"default/{prefix}*")]),
        # mode async: the success and error topics named after the endpoint (<endpoint>-async-success|error)
        iam.PolicyStatement(
            sid="AsyncNotificationTopics",
            actions=["sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
                     "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource"],
            resources=[format_arn(stack, service="sns", resource=f"{prefix}*-async-*",
                                        arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)]),
        iam.PolicyStatement(
            sid="PassTheTeamSageMakerRoles", actions=["iam:PassRole"],
            resources=[sagemaker_role_arn, drift_job_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
        iam.PolicyStatement(
            sid="PassTheDriftScheduleRole", actions=["iam:PassRole"], resources=[drift_schedule_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}),
        key_statement,
        iam.PolicyStatement(
            sid="AlarmsAndDashboard",
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                     "cloudwatch:TagResource", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards",
                     "cloudwatch:GetDashboard"],
            resources=[arn("cloudwatch", "alarm", f"{prefix}*", cdk.ArnFormat.COLON_RESOURCE_NAME),
                       arn("cloudwatch", "dashboard", f"{prefix}*", region="")]),
        # Target-tracking policies create and delete their own alarms with the caller's permissions.
        iam.PolicyStatement(
            sid="TargetTrackingAlarms",
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
            resources=[arn("cloudwatch", "alarm", f"TargetTracking-{kind}/{prefix}*", cdk.ArnFormat.COLON_RESOURCE_NAME)
                       for kind in ("endpoint", "inference-component")]),
        # Application Auto Scaling: the write actions support the scalable-target resource type (Service
        # Authorization Reference, Application Auto Scaling); the Describe actions support no resource, hence *
        iam.PolicyStatement(
            sid="Autoscaling",
            actions=["application-autoscaling:RegisterScalableTarget",
                     "application-autoscaling:DeregisterScalableTarget", "application-autoscaling:PutScalingPolicy",
                     "application-autoscaling:DeleteScalingPolicy", "application-autoscaling:PutScheduledAction",
                     "application-autoscaling:DeleteScheduledAction", "application-autoscaling:TagResource"],
            resources=[arn("application-autoscaling", "scalable-target", "*")]),
        iam.PolicyStatement(
            sid="DescribeAutoscaling",
            actions=["application-autoscaling:DescribeScalableTargets",
                     "application-autoscaling:DescribeScalingPolicies",
                     "application-autoscaling:DescribeScheduledActions"],
            resources=["*"]),
        iam.PolicyStatement(
            sid="AutoscalingServiceLinkedRole", actions=["iam:CreateServiceLinkedRole"],
            resources=[arn("iam", "role", "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                           "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint", region="")],
            conditions={"StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}}),
    ]


JOB_DEFINITION_KINDS = ("data-quality", "model-quality", "model-bias", "model-explainability")


def acknowledge_endpoint_deployment(policy_resource, stack: cdk.Stack, *, prefix: str, whose: str,
                                    package_arns: Sequence[str], extra: dict[str, str] | None = None) -> None:
    """The reasons for the wildcards of `endpoint_deployment_statements`; `whose` says whose endpoints
    ("this model's", "the team's")."""
    partition, region, account = stack_environment(stack)
    sagemaker = f"arn:{partition}:sagemaker:{region}:{account}"
    reasons = {
        f"AwsSolutions-IAM5[Resource::{sagemaker}:model/*]": (
            "CloudFormation generates model names (a new model per package version)."),
        f"AwsSolutions-IAM5[Resource::{sagemaker}:endpoint-config/*]": (
            "Endpoint configs are immutable: CloudFormation generates a new name for every change."),
        **{f"AwsSolutions-IAM5[Resource::{sagemaker}:{kind}-job-definition/*]": (
            "CloudFormation generates job definition names (a new one for every baseline).")
           for kind in JOB_DEFINITION_KINDS},
        f"AwsSolutions-IAM5[Resource::{sagemaker}:monitoring-schedule/{prefix}*]": (
            f"Only the monitoring schedules named after {whose} endpoints."),
        f"AwsSolutions-IAM5[Resource::{sagemaker}:endpoint/{prefix}*]": f"Only {whose} endpoints.",
        f"AwsSolutions-IAM5[Resource::{sagemaker}:pipeline/{prefix}*-drift]": (
            f"Only the drift pipelines named after {whose} endpoints (<endpoint>-drift)."),
        f"AwsSolutions-IAM5[Resource::{sagemaker}:pipeline/{prefix}*-batch]": (
            f"Only the batch scoring pipelines named after {whose} stages (<endpoint>-batch)."),
        f"AwsSolutions-IAM5[Resource::arn:{partition}:scheduler:{region}:{account}:schedule/default/{prefix}*]": (
            f"Only the drift and batch schedules named after {whose} endpoints, in the default schedule group."),
        f"AwsSolutions-IAM5[Resource::arn:{partition}:sns:{region}:{account}:{prefix}*-async-*]": (
            f"Only the async notification topics named after {whose} endpoints (<endpoint>-async-success|error)."),
        f"AwsSolutions-IAM5[Resource::{sagemaker}:inference-component/{prefix}*]": (
            f"Only {whose} scale-to-zero inference components."),
        f"AwsSolutions-IAM5[Resource::arn:{partition}:cloudwatch:{region}:{account}:alarm:{prefix}*]": (
            f"Only the alarms named after {whose} endpoints."),
        f"AwsSolutions-IAM5[Resource::arn:{partition}:cloudwatch::{account}:dashboard/{prefix}*]": (
            f"Only the dashboards named after {whose} endpoints."),
        **{f"AwsSolutions-IAM5[Resource::arn:{partition}:cloudwatch:{region}:{account}:alarm:TargetTracking-"
           f"{kind}/{prefix}*]": f"The alarms Application Auto Scaling names after {whose} endpoints."
           for kind in ("endpoint", "inference-component")},
        "AwsSolutions-IAM5[Resource::*]": (
            "Application Auto Scaling's Describe actions support no resource-level permissions; read-only."),
        f"AwsSolutions-IAM5[Resource::arn:{partition}:application-autoscaling:{region}:{account}:scalable-target/*]": (
            "Scalable targets get ids Application Auto Scaling generates; only this account's and region's."),
        **{f"AwsSolutions-IAM5[Resource::{nag_text(stack, a)}]": (
            "Package versions are numbered at registration; only versions of the team's own groups.")
           for a in package_arns},
        **(extra or {}),
    }
    acknowledge_each(policy_resource, reasons)
