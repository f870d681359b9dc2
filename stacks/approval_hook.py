"""The team's approval hook: EventBridge "SageMaker Model Package State Change" (Approved or Rejected, this
team's groups) -> Lambda -> the model's deploy pipeline, with idempotency, a DLQ and its alarm."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge_each, nag_text

CODE = Path(__file__).resolve().parents[1] / "lambdas" / "approval_hook"
# Powertools for AWS Lambda (Python) v3 public layer, pinned (see README "Lambda functions").
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    stack = cdk.Stack.of(scope)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", (
        f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python313-arm64:{POWERTOOLS_LAYER_VERSION}"))


class ApprovalHook(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, model_package_groups: Sequence[str],
                 key: kms.IKey, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.table = dynamodb.TableV2(
            self, "Idempotency",
            table_name=f"mf-{team}-approval-idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.dead_letters = sqs.Queue(
            self, "DeadLetters", queue_name=f"mf-{team}-approval-hook-dlq",
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, enforce_ssl=True,
            retention_period=cdk.Duration.days(14))
        log_group = logs.LogGroup(self, "Logs", log_group_name=f"/model-factory/{team}/approval-hook",
                                  encryption_key=key, retention=logs.RetentionDays.ONE_YEAR,
                                  removal_policy=cdk.RemovalPolicy.RETAIN)
        # our own role: the default one carries the AWS managed AWSLambdaBasicExecutionRole policy
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Approval hook of the {team} team")
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}:log-stream:*"]))
        self.function = lambda_.Function(
            self, "Function",
            function_name=f"mf-{team}-approval-hook",
            description="Approved -> deploy that package; Rejected while serving -> roll back to the newest approved",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler="app.handler",
            role=role,
            code=lambda_.Code.from_asset(str(CODE), exclude=["__pycache__", "*.pyc"]),
            layers=[powertools_layer(self)],
            memory_size=256,
            timeout=cdk.Duration.seconds(30),
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=self.dead_letters,
            environment={
                "IDEMPOTENCY_TABLE_NAME": self.table.table_name,
                "NOTIFICATION_TOPIC_ARN": topic.topic_arn,
                "TEAM": team,
                "MODEL_PACKAGE_GROUPS": json.dumps(sorted(model_package_groups)),
                "IDEMPOTENCY_TTL_SECONDS": str(IDEMPOTENCY_TTL_SECONDS),
                "POWERTOOLS_SERVICE_NAME": "approval-hook",
                "POWERTOOLS_METRICS_NAMESPACE": "ModelFactory",
            },
        )
        self.table.grant_read_write_data(self.function)
        topic.grant_publish(self.function)
        key.grant(self.function, "kms:GenerateDataKey", "kms:Decrypt")
        groups = [stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=g)
                  for g in model_package_groups]
        packages = [stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{g}/*")
                    for g in model_package_groups]
        pipelines = [stack.format_arn(service="codepipeline", resource=f"{g}-deploy", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)
                     for g in model_package_groups]
        parameters = [stack.format_arn(service="ssm", resource="parameter",
                                       resource_name=f"model-factory/{team}/{g.removeprefix(f'mf-{team}-')}/*")
                      for g in model_package_groups]
        if model_package_groups:
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="FindApprovedPackages", actions=["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
                resources=[*groups, *packages]))
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="StartDeployPipelines", actions=["codepipeline:StartPipelineExecution"], resources=pipelines))
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="ReadServingPackages", actions=["ssm:GetParameter"], resources=parameters))

        self.rule = events.Rule(
            self, "PackageStateChange",
            rule_name=f"mf-{team}-model-package-state-change",
            description=f"Approvals and rejections in the {team} team's model package groups",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": sorted(model_package_groups),
                        "ModelApprovalStatus": ["Approved", "Rejected"]},
            ),
            targets=[targets.LambdaFunction(self.function, dead_letter_queue=self.dead_letters,
                                            retry_attempts=4, max_event_age=cdk.Duration.hours(6))],
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLetterAlarm",
            alarm_name=f"mf-{team}-approval-hook-dead-letters",
            alarm_description="Approval events the hook could not handle: inspect the dead-letter queue",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5),
                                                                                statistic="Maximum"),
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm.add_alarm_action(cw_actions.SnsAction(topic))
        self._acknowledge(stack, packages, parameters, log_group)

    def _acknowledge(self, stack: cdk.Stack, packages: list[str], parameters: list[str],
                     log_group: logs.ILogGroup) -> None:
        reasons = {
            f"AwsSolutions-IAM5[Resource::{arn}]": "Package versions are numbered at registration; only this "
                                                   "team's groups." for arn in packages}
        reasons.update({f"AwsSolutions-IAM5[Resource::{arn}]": "The serving-package parameters of this model's "
                                                               "stages (staging, prod)." for arn in parameters})
        reasons[f"AwsSolutions-IAM5[Resource::{nag_text(stack, log_group.log_group_arn)}:log-stream:*]"] = (
            "Lambda names a log stream per execution environment, inside this function's own log group.")
        reasons["AwsSolutions-IAM5[Action::kms:ReEncrypt*]"] = "CDK's grant for the KMS-encrypted table."
        reasons["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"] = "CDK's grant for the KMS-encrypted table."
        reasons["AwsSolutions-IAM5[Resource::*]"] = (
            "X-Ray tracing (PutTraceSegments, PutTelemetryRecords) supports no resource-level permissions.")
        acknowledge_each(self.function.role.node.find_child("DefaultPolicy").node.default_child, reasons)
        acknowledge_each(self.function.node.default_child, {
            "AwsSolutions-L1": "Python 3.13 is the runtime the pinned Powertools layer is built for; newer runtimes "
                               "are adopted with the layer."})
