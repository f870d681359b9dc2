"""Failed Model Monitor executions of the team's endpoints, told to the approvers in one line.

A monitoring execution is a processing job that carries the ARN of its schedule (DescribeProcessingJob's
`MonitoringScheduleArn`, which the EventBridge "SageMaker Processing Job State Change" event repeats);
the team's schedules are all named after its endpoints, `mf-<team>-...`."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct


class MonitoringFailures(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        schedules = stack.format_arn(service="sagemaker", resource="monitoring-schedule", resource_name=f"mf-{team}-")
        self.rule = events.Rule(
            self, "Rule",
            rule_name=f"mf-{team}-monitoring-failures",
            description=f"Failed Model Monitor executions of the {team} team's endpoints",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={"ProcessingJobStatus": ["Failed"], "MonitoringScheduleArn": [{"prefix": schedules}]},
            ),
            targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(
                f"Model Monitor execution {events.EventField.from_path('$.detail.ProcessingJobName')} of "
                f"{events.EventField.from_path('$.detail.MonitoringScheduleArn')} failed: "
                f"{events.EventField.from_path('$.detail.FailureReason')}"))],
        )
