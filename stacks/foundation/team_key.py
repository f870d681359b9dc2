"""The team's customer managed KMS key: every bucket, topic, log group and job output of the team."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.naming import KEY_ARN_PARAMETER, team_key_alias, team_parameter
from stacks.common.shared_values import days, service_principal


class TeamKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str,
                 purpose: str = "artifacts, topics and logs") -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=team_key_alias(team),
            description=f"Model Factory: encrypts the {team} team's {purpose}",
            enable_key_rotation=True,
            pending_window=days(30),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        stack = cdk.Stack.of(self)
        # CloudWatch Logs encrypts the team's log groups (builds, Lambdas, endpoints) with this key.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowTeamLogGroups",
            principals=[service_principal(f"logs.{stack_environment(stack).region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": format_arn(stack,
                service="logs", resource="log-group", resource_name="*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)}},
        ))
        # Stacks synthesized elsewhere (the endpoint stacks) need the key's ARN, which CloudWatch Logs requires
        # (an alias is not accepted): they resolve this parameter when CloudFormation deploys them.
        ssm.StringParameter(self, "KeyArn", parameter_name=team_parameter(team, KEY_ARN_PARAMETER),
                            string_value=self.key.key_arn,
                            description=f"ARN of the {team} team's KMS key in this account")
