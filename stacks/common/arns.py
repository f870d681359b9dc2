"""ARNs in the stack's partition, region and account, built in Python.

`Stack.format_arn` is one round trip to the jsii kernel per ARN, and a 25-team factory formats about 3,200 of
them (about a second of its synth). This builds the same string the same way aws-cdk-lib's `Arn.format` does
(core/lib/arn.ts): `arn:{partition}:{service}:{region}:{account}:{resource}`, then the separator and the resource
name when there is one; the separator is ":" for COLON_RESOURCE_NAME and "/" otherwise, and
SLASH_RESOURCE_SLASH_RESOURCE_NAME puts a "/" before the resource. Partition, region and account are read once per
stack; where they are tokens, the string carries the same tokens, so the template is the same.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import aws_cdk as cdk


class StackEnvironment(NamedTuple):
    partition: str
    region: str
    account: str


_ENVIRONMENTS: weakref.WeakKeyDictionary[cdk.Stack, StackEnvironment] = weakref.WeakKeyDictionary()


def stack_environment(stack: cdk.Stack) -> StackEnvironment:
    """The stack's partition, region and account, read from the jsii kernel once per stack (each `stack.account`
    is a round trip; the factory's constructs read them about 2,000 times at 25 teams)."""
    environment = _ENVIRONMENTS.get(stack)
    if environment is None:
        environment = _ENVIRONMENTS[stack] = StackEnvironment(stack.partition, stack.region, stack.account)
    return environment


def format_arn(stack: cdk.Stack, *, service: str, resource: str, resource_name: str | None = None,
               region: str | None = None, account: str | None = None, partition: str | None = None,
               arn_format: cdk.ArnFormat | None = None) -> str:
    """What `stack.format_arn(...)` returns for the same keywords ("" for region or account leaves it empty)."""
    stack_partition, stack_region, stack_account = stack_environment(stack)
    head = (f"arn:{stack_partition if partition is None else partition}:{service}:"
            f"{stack_region if region is None else region}:{stack_account if account is None else account}:")
    if arn_format is cdk.ArnFormat.SLASH_RESOURCE_SLASH_RESOURCE_NAME:
        head += "/"
    if resource_name is None:
        return head + resource
    return f"{head}{resource}{':' if arn_format is cdk.ArnFormat.COLON_RESOURCE_NAME else '/'}{resource_name}"
