"""An EventBridge Scheduler schedule that starts a SageMaker pipeline (the factory engine's drift pipeline, a
stage's batch pipeline): the pipeline's ARN is the templated target and the schedule's role needs
sagemaker:StartPipelineExecution (Scheduler user guide, "Using templated targets")."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from stacks.common.arns import format_arn


def pipeline_schedule(scope: Construct, construct_id: str, *, name: str, pipeline: sagemaker.CfnPipeline,
                      pipeline_arn: str, expression: str, timezone: str, role_arn: str,
                      description: str) -> scheduler.CfnSchedule:
    schedule = scheduler.CfnSchedule(
        scope, construct_id, name=name, description=description,
        schedule_expression=expression, schedule_expression_timezone=timezone,
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        state="ENABLED",
        target=scheduler.CfnSchedule.TargetProperty(
            arn=pipeline_arn, role_arn=role_arn,
            # a throttled or failed start is retried within the hour
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=3, maximum_event_age_in_seconds=3600)))
    schedule.node.add_dependency(pipeline)
    return schedule


def pipeline_arn(scope: Construct, name: str) -> str:
    return format_arn(cdk.Stack.of(scope), service="sagemaker", resource="pipeline", resource_name=name)
