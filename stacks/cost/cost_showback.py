"""The team's showback: a Lambda that, monthly and on demand, reads Cost Explorer grouped by the
`model-factory:model` tag for the team and publishes a cost-per-model table to the approvers and a
`ModelCostUSD` figure per model to the factory dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.team_function import TeamFunction

# the 3rd of each month, 06:00 UTC: Cost Explorer has settled most of the month before by then
MONTHLY = events.Schedule.cron(minute="0", hour="6", day="3", month="*", year="*")


class CostShowback(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, models: Sequence[str], key: kms.IKey,
                 topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        showback = TeamFunction(
            self, "Showback", team=team, name="showback", key=key, topic=topic,
            description="Cost per model from Cost Explorer -> the approvers and the factory dashboard",
            environment={"TEAM": team, "MODELS": json.dumps(list(models))},
        )
        self.function, self.dead_letters = showback.function, showback.dead_letters
        self.function.add_to_role_policy(iam.PolicyStatement(
            sid="ReadCostAndUsage", actions=["ce:GetCostAndUsage"], resources=["*"]))
        self.rule = events.Rule(
            self, "Monthly", rule_name=f"mf-{team}-showback-monthly",
            description=f"Cost per model of the {team} team for the month that ended",
            schedule=MONTHLY,
            targets=[targets.LambdaFunction(self.function, dead_letter_queue=self.dead_letters, retry_attempts=2)],
        )
        showback.acknowledge({"AwsSolutions-IAM5[Resource::*]": (
            "ce:GetCostAndUsage and X-Ray tracing support no resource-level permissions; the function filters "
            "Cost Explorer by the team's own tag."),
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": (
                "CDK's grant for sending failed events to the function's KMS-encrypted dead-letter queue.")})
