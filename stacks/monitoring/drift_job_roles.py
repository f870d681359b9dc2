"""The two roles the factory's drift engine runs with in one account, scoped to the endpoints that run
there (the factory account's foundation stack and each separate staging/prod account's target stack
create them; the endpoint stacks only name them, so CloudFormation never creates IAM roles):

- `mf-<team>-drift-job`: assumed by SageMaker; runs each endpoint's drift pipeline and its processing job.
  Reads exactly the endpoints' capture prefixes, the models' drift baselines and engine code, the ground
  truth the config names; writes exactly the endpoints' report prefixes; publishes to the ModelFactory
  namespace only;
- `mf-<team>-drift-schedule`: assumed by EventBridge Scheduler in this account; may start exactly the
  endpoints' drift pipelines (Scheduler user guide, "Using templated targets": the schedule's role needs
  the target operation, here sagemaker:StartPipelineExecution)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.nag import acknowledge_each, nag_text
from stacks.common.naming import (
    batch_pipeline_name,
    capture_prefix,
    drift_job_role_name,
    drift_pipeline_name,
    drift_report_prefix,
    drift_schedule_role_name,
    endpoint_name,
    sagemaker_pipeline_name,
)

METRICS_NAMESPACE = "ModelFactory"


@dataclass(frozen=True)
class WatchedEndpoint:
    """One endpoint stage the factory engine watches in this account."""

    model: str
    stage: str
    ground_truth_s3_uri: str | None = None
    # a stage with `batch`: its scheduled transform reads this prefix and writes under that one (team bucket)
    batch_input_s3_uri: str | None = None
    batch_output_s3_uri: str | None = None
    # False when the factory engine watches no endpoint of the stage (mode batch, or engine model_monitor):
    # no capture and no scheduled drift pipeline, only the batch pipeline
    watched_endpoint: bool = True


class DriftJobRoles(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, endpoints: Sequence[WatchedEndpoint],
                 bucket_name: str, key_statements: Sequence[iam.PolicyStatement],
                 key_reasons: dict[str, str] | None = None) -> None:
        """`key_statements`: what the job may do with the team key the capture, baselines and reports are
        encrypted with (the key here, or the factory account's key by alias); `key_reasons`: the cdk-nag
        reasons for their wildcards, if any."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        bucket_arn = f"arn:{stack_env.partition}:s3:::{bucket_name}"
        models = sorted({e.model for e in endpoints})
        captures = [capture_prefix(team, e.model, e.stage) for e in endpoints if e.watched_endpoint]
        reports = [drift_report_prefix(team, e.model, e.stage) for e in endpoints]
        # the build registers baseline.json of an execution and drift.py of a commit (pipelines/modelbuild)
        baselines = [f"{sagemaker_pipeline_name(team, m)}/executions/*/drift-baseline/baseline.json" for m in models]
        code = [f"{sagemaker_pipeline_name(team, m)}/code/*/drift.py" for m in models]
        truth = sorted({e.ground_truth_s3_uri.rstrip("/") + "/" for e in endpoints if e.ground_truth_s3_uri})
        pipelines = [format_arn(stack, service="sagemaker", resource="pipeline",
                                      resource_name=drift_pipeline_name(team, e.model, e.stage))
                     for e in endpoints if e.watched_endpoint]
        batched = [e for e in endpoints if e.batch_input_s3_uri]
        pipelines += [format_arn(stack, service="sagemaker", resource="pipeline",
                                       resource_name=batch_pipeline_name(team, e.model, e.stage)) for e in batched]
        batch_prefixes = sorted({uri.split("/", 3)[3].rstrip("/") for e in batched
                                 for uri in (e.batch_input_s3_uri, e.batch_output_s3_uri)})
        jobs = format_arn(stack, service="sagemaker", resource="processing-job", resource_name="pipelines-*")
        transforms = format_arn(stack, service="sagemaker", resource="transform-job", resource_name="pipelines-*")
        logs = format_arn(stack, service="logs", resource="log-group", resource_name="/aws/sagemaker/ProcessingJobs:*",
                                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)

        self.job_role = iam.Role(
            self, "Job", role_name=drift_job_role_name(team),
            description=f"Model Factory: the {team} team's drift pipelines and jobs in this account "
                        f"({', '.join(endpoint_name(team, e.model, e.stage) for e in endpoints)})"[:1000],
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": stack_env.account}}))
        statements = [
            # SageMaker's processing inputs list their prefix before copying; the job lists the window's hours
            iam.PolicyStatement(sid="ListCaptureBaselinesAndCode", actions=["s3:ListBucket"], resources=[bucket_arn],
                                conditions={"StringLike": {"s3:prefix": [
                                    *(f"{p}/*" for p in captures),
                                    *(f"{sagemaker_pipeline_name(team, m)}/{kind}/*" for m in models
                                      for kind in ("executions", "code"))]}}),
            iam.PolicyStatement(sid="ReadCaptureBaselinesAndCode", actions=["s3:GetObject"],
                                resources=[f"{bucket_arn}/{p}" for p in (*(f"{c}/*" for c in captures),
                                                                          *baselines, *code)]),
            iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=[f"{bucket_arn}/{p}/*" for p in reports]),
            iam.PolicyStatement(sid="PublishDriftFigures", actions=["cloudwatch:PutMetricData"], resources=["*"],
                                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}),
            iam.PolicyStatement(sid="JobLogs", actions=["logs:CreateLogGroup", "logs:CreateLogStream",
                                                        "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                resources=[logs]),
            # the pipeline runs its one processing step as this same role
            iam.PolicyStatement(sid="PipelineJobs", actions=["sagemaker:CreateProcessingJob",
                                                             "sagemaker:DescribeProcessingJob",
                                                             "sagemaker:StopProcessingJob", "sagemaker:AddTags"],
                                resources=[jobs]),
            *([
                # the batch pipelines: the transform step (it runs as the model's role), then the drift step on
                # that run's inputs and answers
                iam.PolicyStatement(sid="BatchTransforms", actions=["sagemaker:CreateTransformJob",
                                                                   "sagemaker:DescribeTransformJob",
                                                                   "sagemaker:StopTransformJob", "sagemaker:AddTags"],
                                    resources=[transforms]),
                iam.PolicyStatement(sid="ListBatchData", actions=["s3:ListBucket"], resources=[bucket_arn],
                                    conditions={"StringLike": {"s3:prefix": [f"{p}/*" for p in batch_prefixes]}}),
                iam.PolicyStatement(sid="ReadBatchData", actions=["s3:GetObject"],
                                    resources=[f"{bucket_arn}/{p}/*" for p in batch_prefixes]),
            ] if batched else []),
            iam.PolicyStatement(sid="PassThisRoleToTheJob", actions=["iam:PassRole"],
                                resources=[format_arn(stack, service="iam", region="", resource="role",
                                                            resource_name=drift_job_role_name(team))],
                                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            *key_statements,
        ]
        for index, uri in enumerate(truth):
            truth_bucket, prefix = uri[5:].split("/", 1)
            truth_arn = f"arn:{stack_env.partition}:s3:::{truth_bucket}"
            statements += [
                iam.PolicyStatement(sid=f"ListGroundTruth{index}", actions=["s3:ListBucket"], resources=[truth_arn],
                                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}),
                iam.PolicyStatement(sid=f"ReadGroundTruth{index}", actions=["s3:GetObject"],
                                    resources=[f"{truth_arn}/{prefix}*"]),
            ]
        for statement in statements:
            self.job_role.add_to_policy(statement)

        self.schedule_role = iam.Role(
            self, "Schedule", role_name=drift_schedule_role_name(team),
            description=f"Model Factory: EventBridge Scheduler starts the {team} team's drift pipelines here",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": stack_env.account}}))
        self.schedule_role.add_to_policy(iam.PolicyStatement(
            sid="StartTheDriftPipelines", actions=["sagemaker:StartPipelineExecution"], resources=pipelines))
        self._acknowledge(stack, bucket_arn, captures, reports, baselines, code, truth, jobs, logs,
                          {**(key_reasons or {}), **self._batch_reasons(stack, bucket_arn, batch_prefixes, transforms)})

    @staticmethod
    def _batch_reasons(stack: cdk.Stack, bucket_arn: str, prefixes: list[str], transforms: str) -> dict[str, str]:
        if not prefixes:
            return {}
        return {
            **{f"AwsSolutions-IAM5[Resource::{bucket_arn}/{p}/*]": (
                "Read-only, the batch scoring input or output prefix the stage's config names; the transform names "
                "the answer objects per run.") for p in prefixes},
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, transforms)}]": (
                "SageMaker Pipelines name the transform jobs they start 'pipelines-<execution>-...'; only in this "
                "account and region."),
        }

    def _acknowledge(self, stack: cdk.Stack, bucket_arn: str, captures, reports, baselines, code, truth, jobs,
                     logs, key_reasons: dict[str, str]) -> None:
        policy = self.job_role.node.find_child("DefaultPolicy").node.default_child
        reasons = {
            **{f"AwsSolutions-IAM5[Resource::{bucket_arn}/{p}/*]": (
                "Data capture names its objects by variant and hour under exactly this endpoint's prefix.")
               for p in captures},
            **{f"AwsSolutions-IAM5[Resource::{bucket_arn}/{p}/*]": (
                "One drift report folder per pipeline execution, under exactly this endpoint's prefix.")
               for p in reports},
            **{f"AwsSolutions-IAM5[Resource::{bucket_arn}/{p}]": (
                "The drift baseline of any build execution of this model (executions are named at run time).")
               for p in baselines},
            **{f"AwsSolutions-IAM5[Resource::{bucket_arn}/{p}]": (
                "The engine code of the commit that built the serving package (one folder per git commit).")
               for p in code},
            **{f"AwsSolutions-IAM5[Resource::arn:{stack_environment(stack).partition}:s3:::{uri[5:]}*]": (
                "Read-only, on exactly the ground-truth prefix the model's config names "
                "(models[].monitoring.ground_truth_s3_uri).") for uri in truth},
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, jobs)}]": (
                "SageMaker Pipelines name their jobs 'pipelines-<execution>-<step>-...' at run time."),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, logs)}]": (
                "SageMaker writes processing job logs to streams it names in this one log group."),
            "AwsSolutions-IAM5[Resource::*]": (
                "cloudwatch:PutMetricData supports no resource-level permission; the cloudwatch:namespace "
                "condition limits it to ModelFactory."),
            **key_reasons,
        }
        acknowledge_each(policy, reasons)
