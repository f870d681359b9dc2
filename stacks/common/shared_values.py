"""Immutable aws-cdk-lib values built once per synth and shared by every construct that uses them.

Each `cdk.Duration.minutes(5)` or `iam.ServicePrincipal("lambda.amazonaws.com")` is a round trip to the jsii
kernel, and a 25-team factory asks for about 900 durations and 400 principals. Both are value objects with no
state to share: a Duration is an amount and a unit (core/lib/duration.ts), and a ServicePrincipal without
conditions is its service name, rendered into each policy that names it (aws-iam/lib/principals.ts)."""

from __future__ import annotations

import functools

import aws_cdk as cdk
from aws_cdk import aws_iam as iam


seconds = functools.cache(cdk.Duration.seconds)
minutes = functools.cache(cdk.Duration.minutes)
hours = functools.cache(cdk.Duration.hours)
days = functools.cache(cdk.Duration.days)


@functools.cache
def service_principal(service: str) -> iam.ServicePrincipal:
    """The principal of an AWS service without conditions (one with conditions is built where it is used)."""
    return iam.ServicePrincipal(service)
