"""stacks/common/arns.py builds the string aws-cdk-lib's own Stack.format_arn builds (core/lib/arn.ts, Arn.format):
compared here with the real one, on a stack with a concrete environment and on one whose partition, region and
account are tokens."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from stacks.common.arns import format_arn, stack_environment

VARIANTS = [
    dict(service="sagemaker", resource="pipeline", resource_name="mf-fraud-card-fraud"),
    dict(service="sagemaker", resource="model-package", resource_name="mf-fraud-*/*"),
    dict(service="iam", region="", resource="role", resource_name="mf-fraud-deploy"),
    dict(service="kms", account="222222222222", resource="key", resource_name="*"),
    dict(service="logs", resource="log-group", resource_name="/aws/sagemaker/ProcessingJobs:*",
         arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),
    dict(service="codepipeline", resource="mf-fraud-card-fraud-deploy", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME),
    dict(service="sns", resource="mf-fraud-*-async-*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME),
    dict(service="events", resource="rule", resource_name="bus/rule", arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME),
    dict(service="s3", region="", account="", resource="bucket", resource_name="key",
         arn_format=cdk.ArnFormat.SLASH_RESOURCE_SLASH_RESOURCE_NAME),
    dict(service="iam", partition="aws-cn", region="", resource="role", resource_name="r"),
    dict(service="ecr", resource="repository"),
]


@pytest.fixture(scope="module")
def stacks() -> list[cdk.Stack]:
    app = cdk.App()
    return [cdk.Stack(app, "Concrete", env=cdk.Environment(account="111111111111", region="eu-west-1")),
            cdk.Stack(app, "Agnostic")]


@pytest.mark.parametrize("components", VARIANTS, ids=lambda c: f"{c['service']}-{c.get('arn_format')}")
def test_the_arn_is_the_one_stack_format_arn_builds(stacks, components):
    for stack in stacks:
        assert format_arn(stack, **components) == stack.format_arn(**components)
        # and resolves to the same template value (tokens included)
        assert stack.resolve(format_arn(stack, **components)) == stack.resolve(stack.format_arn(**components))


def test_the_environment_is_the_stacks_own_read_once(stacks):
    concrete, agnostic = stacks
    assert stack_environment(concrete) == (concrete.partition, "eu-west-1", "111111111111")
    assert stack_environment(agnostic) == (agnostic.partition, agnostic.region, agnostic.account)
    assert stack_environment(agnostic) is stack_environment(agnostic)
