"""stacks/common/shared_values.py: one Duration or ServicePrincipal object serves every construct that asks for
the same value, and renders in each of them as a fresh one would (aws-cdk-lib core/lib/duration.ts and
aws-iam/lib/principals.ts: both are plain values, read when each template is rendered)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from stacks.common.shared_values import days, hours, minutes, seconds, service_principal


def test_each_value_is_built_once_and_keeps_its_amount():
    assert minutes(5) is minutes(5) and minutes(5) is not minutes(6)
    assert (seconds(30).to_seconds(), minutes(90).to_seconds(), hours(2).to_minutes(), days(14).to_days()) == (
        30, 5400, 120, 14)
    assert service_principal("lambda.amazonaws.com") is service_principal("lambda.amazonaws.com")


def test_a_shared_value_renders_in_every_stack_that_uses_it():
    app = cdk.App()
    stacks = [cdk.Stack(app, name, env=cdk.Environment(account="111111111111", region=region))
              for name, region in (("One", "eu-west-1"), ("Two", "us-east-1"))]
    for stack in stacks:
        for role in ("A", "B"):
            iam.Role(stack, role, assumed_by=service_principal("lambda.amazonaws.com"))
        sqs.Queue(stack, "Queue", visibility_timeout=minutes(5), retention_period=days(4))
    for template in map(Template.from_stack, stacks):
        roles = template.find_resources("AWS::IAM::Role")
        assert len(roles) == 2
        for role in roles.values():
            assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
                "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
        template.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 300,
                                                             "MessageRetentionPeriod": 345600})
