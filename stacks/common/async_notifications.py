"""What SageMaker needs, as the team's execution role, to tell callers of an asynchronous endpoint that an
answer or a failure is ready: publish to the endpoints' `<endpoint>-async-success|error` topics, which are
encrypted with the team key of the account the endpoint runs in ("Asynchronous inference: prerequisites":
the execution role needs sns:Publish on the topics; an encrypted topic also needs the key)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from stacks.common.arns import format_arn, stack_environment
from stacks.common.naming import team_key_alias


def async_topics_arn(stack: cdk.Stack, team: str) -> str:
    return format_arn(stack, service="sns", resource=f"mf-{team}-*-async-*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)


def async_notification_statements(stack: cdk.Stack, *, team: str, with_local_key: bool
                                  ) -> tuple[list[iam.PolicyStatement], dict[str, str]]:
    """`with_local_key`: also the team key of this account, found by its alias (a target account's key, whose id
    the role's stack does not hold); the factory account's role already uses its team key."""
    stack_env = stack_environment(stack)
    topics = async_topics_arn(stack, team)
    statements = [iam.PolicyStatement(sid="PublishAsyncNotifications", actions=["sns:Publish"], resources=[topics])]
    reasons = {f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:sns:{stack_env.region}:{stack_env.account}:mf-{team}-*-async-*]": (
        "Only the asynchronous endpoints' notification topics of the team (<endpoint>-async-success|error), "
        "created with each endpoint stack.")}
    if with_local_key:
        key = format_arn(stack, service="kms", resource="key", resource_name="*")
        statements.append(iam.PolicyStatement(
            sid="EncryptAsyncNotifications", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": team_key_alias(team)}}))
        reasons[f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:kms:{stack_env.region}:{stack_env.account}:key/*]"] = (
            f"The team key of this account is created by the same stack but addressed by its alias: the "
            f"kms:ResourceAliases condition pins the statement to {team_key_alias(team)}.")
    return statements, reasons
