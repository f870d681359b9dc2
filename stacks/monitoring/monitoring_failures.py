"""Failed monitor runs of the team's endpoints in this account, told to the approvers in one line, matched
on the fields the documented events carry (SageMaker developer guide, "Events that Amazon SageMaker AI
sends to Amazon EventBridge"):

- the factory engine and batch scoring: "SageMaker Model Building Pipeline Execution Status Change" with
  `currentPipelineExecutionStatus` Failed and the `pipelineArn` of one of the team's drift or batch pipelines
  (`mf-<team>-<model>-<stage>-drift|batch`); this also catches a run whose job never started;
- Model Monitor: "SageMaker Processing Job State Change" with `ProcessingJobStatus` Failed. That event
  carries neither the schedule's ARN nor the job's environment; a monitoring execution is the one that runs
  as the team's SageMaker role (`RoleArn`, which the job definitions name) and is not a SageMaker Pipelines
  job (those are named `pipelines-...`: the build's jobs, which fail the build and are told there).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import format_arn
from stacks.common.naming import sagemaker_execution_role_name


class MonitoringFailures(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        field = events.EventField.from_path
        pipelines = [format_arn(stack, service="sagemaker", resource="pipeline", resource_name=f"mf-{team}-*-{kind}")
                     for kind in ("drift", "batch")]
        self.pipeline_rule = events.Rule(
            self, "PipelineRule",
            rule_name=f"mf-{team}-drift-run-failures",
            description=f"Failed drift runs (factory engine) and batch scoring runs of the {team} team's stages",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                detail={"currentPipelineExecutionStatus": ["Failed"],
                        "pipelineArn": [{"wildcard": arn} for arn in pipelines]},
            ),
            targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(
                f"Run {field('$.detail.pipelineExecutionArn')} failed (started "
                f"{field('$.detail.executionStartTime')}): see its failed step (DriftReport, Score or BatchDrift) "
                "in SageMaker"))],
        )
        self.rule = events.Rule(
            self, "Rule",
            rule_name=f"mf-{team}-monitoring-failures",
            description=f"Failed Model Monitor executions of the {team} team's endpoints",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={"ProcessingJobStatus": ["Failed"],
                        "RoleArn": [format_arn(stack, service="iam", region="", resource="role",
                                                     resource_name=sagemaker_execution_role_name(team))],
                        "ProcessingJobName": [{"anything-but": {"prefix": "pipelines-"}}]},
            ),
            targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(
                f"Model Monitor execution {field('$.detail.ProcessingJobName')} failed: "
                f"{field('$.detail.FailureReason')}"))],
        )
