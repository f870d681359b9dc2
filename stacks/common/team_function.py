"""A team's Lambda function as the factory runs them: Python 3.13 on arm64, the pinned Powertools layer,
its own role (no AWS managed policy), a KMS-encrypted log group, X-Ray tracing and a KMS-encrypted
dead-letter queue with an alarm on its depth."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.common.arns import stack_environment
from stacks.common.nag import acknowledge_each, nag_text
from stacks.common.shared_values import days, minutes, seconds, service_principal

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# Powertools for AWS Lambda (Python) v3 public layer, pinned (README "Approval, deploy and rollback").
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27


def team_table(scope: Construct, construct_id: str, *, table_name: str, partition_key: str, key: kms.IKey,
               time_to_live_attribute: str | None = None, sort_key: str | None = None,
               deletion_protection: bool = False) -> dynamodb.TableV2:
    """A team function's state table: the team key, point-in-time recovery, retained on delete."""
    return dynamodb.TableV2(
        scope, construct_id,
        table_name=table_name,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
        deletion_protection=deletion_protection or None,
        time_to_live_attribute=time_to_live_attribute,
        encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True),
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


class TeamFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, name: str, description: str,
                 key: kms.IKey, topic: sns.ITopic, environment: dict[str, str], code: str | None = None) -> None:
        """`code`: the folder under lambdas/ (default: `name` with '_' for '-')."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        function_name = f"mf-{team}-{name}"
        self.dead_letters = sqs.Queue(
            self, "DeadLetters", queue_name=f"{function_name}-dlq",
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, enforce_ssl=True,
            retention_period=days(14))
        log_group = logs.LogGroup(self, "Logs", log_group_name=f"/model-factory/{team}/{name}",
                                  encryption_key=key, retention=logs.RetentionDays.ONE_YEAR,
                                  removal_policy=cdk.RemovalPolicy.RETAIN)
        # our own role: the default one carries the AWS managed AWSLambdaBasicExecutionRole policy
        self.role = iam.Role(self, "Role", assumed_by=service_principal("lambda.amazonaws.com"),
                             description=f"{description} ({team} team)")
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}:log-stream:*"]))
        layer = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", (
            f"arn:{stack_env.partition}:lambda:{stack_env.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-python313-arm64:{POWERTOOLS_LAYER_VERSION}"))
        self.function = lambda_.Function(
            self, "Function",
            function_name=function_name,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler="app.handler",
            role=self.role,
            code=lambda_.Code.from_asset(str(LAMBDAS / (code or name.replace("-", "_"))),
                                         exclude=["__pycache__", "*.pyc"]),
            layers=[layer],
            memory_size=256,
            timeout=seconds(30),
            log_group=log_group,
            # X-Ray active tracing from the Lambda service; no X-Ray SDK in the code (maintenance mode since
            # 2026-02-25, end of support 2027-02-25)
            tracing=lambda_.Tracing.ACTIVE,
            # environment variables encrypted with the team key (checkov CKV_AWS_173)
            environment_encryption=key,
            dead_letter_queue=self.dead_letters,
            environment={**environment, "NOTIFICATION_TOPIC_ARN": topic.topic_arn,
                         "POWERTOOLS_SERVICE_NAME": name, "POWERTOOLS_METRICS_NAMESPACE": "ModelFactory"},
        )
        topic.grant_publish(self.function)
        key.grant(self.function, "kms:GenerateDataKey", "kms:Decrypt")
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLetterAlarm",
            alarm_name=f"{function_name}-dead-letters",
            alarm_description=f"Events {function_name} could not handle: inspect the dead-letter queue",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(period=minutes(5),
                                                                                statistic="Maximum"),
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm.add_alarm_action(cw_actions.SnsAction(topic))
        self._log_group = log_group

    def acknowledge(self, reasons: dict[str, str]) -> None:
        """The function's own wildcards plus the caller's, on the role's policy (one call)."""
        stack = cdk.Stack.of(self)
        acknowledge_each(self.role.node.find_child("DefaultPolicy").node.default_child, {
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, self._log_group.log_group_arn)}:log-stream:*]": (
                "Lambda names a log stream per execution environment, inside this function's own log group."),
            "AwsSolutions-IAM5[Resource::*]": (
                "X-Ray tracing (PutTraceSegments, PutTelemetryRecords) supports no resource-level permissions."),
            **reasons,
        })
        acknowledge_each(self.function.node.default_child, {
            "AwsSolutions-L1": "Python 3.13 is the runtime the pinned Powertools layer is built for; newer runtimes "
                               "are adopted with the layer."})
