"""The approvers' SNS topic: model approvals, budget alerts and every automated action of the team."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.naming import approver_topic_name


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
