"""The team's customer managed KMS key: every bucket, topic, log group and job output of the team."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.common.naming import team_key_alias


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
            pending_window=cdk.Duration.days(30),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        stack = cdk.Stack.of(self)
        # CloudWatch Logs encrypts the team's log groups (builds, Lambdas, endpoints) with this key.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowTeamLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                service="logs", resource="log-group", resource_name="*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)}},
        ))
