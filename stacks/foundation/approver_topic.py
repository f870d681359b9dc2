"""The approvers' SNS topic: model approvals, budget alerts and every automated action of the team."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.common.arns import stack_environment
from stacks.common.naming import approver_topic_name
from stacks.common.shared_values import service_principal


class ApproverTopic(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, team: str, key: kms.IKey, approvers: Sequence[str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=approver_topic_name(team),
            display_name=f"Model Factory {team}",
            master_key=key,
            enforce_ssl=True,
        )
        for email in approvers:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        # CloudWatch alarm actions and EventBridge rules publish to this KMS-encrypted topic; without the
        # key, their notifications are dropped silently.
        account = stack_environment(cdk.Stack.of(self)).account
        publishers = [service_principal("cloudwatch.amazonaws.com"), service_principal("events.amazonaws.com")]
        from_this_account = {"StringEquals": {"aws:SourceAccount": account}}
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowAlarmsAndRulesToEncryptedTopic", principals=publishers,
            actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"], conditions=from_this_account))
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowAlarmsAndRules", principals=publishers, actions=["sns:Publish"],
            resources=[self.topic.topic_arn], conditions=from_this_account))
