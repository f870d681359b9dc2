"""The team's drift-driven retraining: EventBridge "CloudWatch Alarm State Change" of a drift alarm
(name `mf-<team>-<model>-<stage>-drift...`, state ALARM) -> Lambda -> the model's build pipeline, at most
once per cool-down (a conditional write in DynamoDB)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import format_arn
from stacks.common.naming import codepipeline_name, endpoint_name
from stacks.common.shared_values import hours
from stacks.common.team_function import TeamFunction, team_table

STAGES = ("staging", "prod")
DEFAULT_COOLDOWN_HOURS = 24


class DriftRetrain(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, models: Sequence[str], key: kms.IKey,
                 topic: sns.ITopic, cooldown_hours_by_model: dict[str, float] | None = None) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        # only prod drift retrains: staging serves the smoke test's rows and new versions on trial, so its drift
        # alarms only notify
        pipeline_by_endpoint = {endpoint_name(team, model, "prod"): codepipeline_name(team, model, "build")
                                for model in models}
        self.table = team_table(self, "Cooldown", table_name=f"mf-{team}-retrain-cooldown",
                                partition_key="pipeline", key=key)
        retrain = TeamFunction(
            self, "Retrain", team=team, name="drift-retrain", key=key, topic=topic,
            description="Drift alarm -> retrain the model with its build pipeline, once per cool-down",
            environment={
                "PIPELINE_BY_ENDPOINT": json.dumps(pipeline_by_endpoint, sort_keys=True),
                "RETRAIN_TABLE_NAME": self.table.table_name,
                "RETRAIN_COOLDOWN_HOURS": f"{DEFAULT_COOLDOWN_HOURS:g}",
                # per model, from models[].monitoring.retrain_cooldown_hours
                "RETRAIN_COOLDOWN_HOURS_BY_PIPELINE": json.dumps({
                    codepipeline_name(team, model, "build"): hours
                    for model, hours in sorted((cooldown_hours_by_model or {}).items())}),
            },
        )
        self.function, self.dead_letters = retrain.function, retrain.dead_letters
        # claim the cool-down; give it back when the start failed
        self.table.grant(self.function, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        pipelines = sorted(set(pipeline_by_endpoint.values()))
        if pipelines:
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="StartBuildPipelines", actions=["codepipeline:StartPipelineExecution"],
                resources=[format_arn(stack, service="codepipeline", resource=p,
                                            arn_format=cdk.ArnFormat.NO_RESOURCE_NAME) for p in pipelines]))
        self.rule = events.Rule(
            self, "DriftAlarms",
            rule_name=f"mf-{team}-drift-alarms",
            description=f"Drift alarms of the {team} team's endpoints going into ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": [{"wildcard": f"mf-{team}-*-prod-drift*"}], "state": {"value": ["ALARM"]}},
            ),
            targets=[targets.LambdaFunction(self.function, dead_letter_queue=self.dead_letters,
                                            retry_attempts=4, max_event_age=hours(6))],
        )
        retrain.acknowledge({
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "CDK's grant for the KMS-encrypted cool-down table.",
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "CDK's grant for the KMS-encrypted cool-down table.",
        })
