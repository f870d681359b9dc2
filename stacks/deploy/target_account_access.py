"""The factory side of cross-account deployment: the team key, the artifact bucket and the model
package groups grant exactly the team's separate staging/prod accounts what deploying and serving need
(their roles are in stacks/deploy/deployment_target.py), and the default event bus accepts their events (drift
alarms forwarded to the team's drift-retrain rule)."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct
from stacks.common.arns import format_arn, stack_environment

# where endpoints in a target account write into the factory bucket (data capture, monitoring output,
# asynchronous answers and failures, batch scores)
WRITE_PREFIXES = ("data-capture", "monitoring", "async", "batch")


class TargetAccountAccess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, target_accounts: Sequence[str], key: kms.IKey,
                 bucket: s3.IBucket, groups: Sequence[sagemaker.CfnModelPackageGroup]) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        principals = [iam.AccountPrincipal(account) for account in target_accounts]
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="TargetAccountsUseTheTeamKey", principals=principals,
            actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], resources=["*"]))
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="TargetAccountsGrantTheKeyToSageMaker", principals=principals, actions=["kms:CreateGrant"],
            resources=["*"], conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}}))
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="TargetAccountsListTheBucket", principals=principals,
            actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]))
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="TargetAccountsReadArtifacts", principals=principals,
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[bucket.arn_for_objects("*")]))
        # writes only where endpoints there write: captured requests and monitoring results (never models,
        # training data or pipeline artifacts)
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="TargetAccountsWriteCapturesAndMonitoring", principals=principals, actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{prefix}/*") for prefix in WRITE_PREFIXES]))
        # drift alarms of endpoints there reach the team's drift-retrain rule on this account's default bus
        bus = format_arn(stack, service="events", resource="event-bus", resource_name="default")
        for account in target_accounts:
            events.CfnEventBusPolicy(
                self, f"EventsFrom{account}", statement_id=f"mf-{stack.stack_name}-{account}"[:64],
                event_bus_name="default",
                statement={"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus,
                           "Principal": {"AWS": f"arn:{stack_env.partition}:iam::{account}:root"}})
        for group in groups:
            name = group.model_package_group_name
            group.model_package_group_policy = {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "TargetAccountsReadPackages",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{stack_env.partition}:iam::{a}:root" for a in target_accounts]},
                    "Action": ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage",
                               "sagemaker:ListModelPackages"],
                    "Resource": [
                        format_arn(stack, service="sagemaker", resource="model-package-group", resource_name=name),
                        format_arn(stack, service="sagemaker", resource="model-package", resource_name=f"{name}/*"),
                    ],
                }],
            }
