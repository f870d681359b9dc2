"""The team's monthly AWS Budgets cost budget, alerting the approvers' topic."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.naming import TAG_TEAM

ACTUAL_ALERT_PERCENT = 80
FORECAST_ALERT_PERCENT = 100


class TeamBudget(Construct):
    """``filter_by_team_tag``: when several teams share one account, count only this team's tagged
    cost (the ``model-factory:team`` tag must then be activated as a cost allocation tag)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: str,
        monthly_limit_usd: float,
        topic: sns.ITopic,
        key: kms.IKey,
        filter_by_team_tag: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        budgets_service = iam.ServicePrincipal("budgets.amazonaws.com")
        from_this_account = {"StringEquals": {"aws:SourceAccount": stack.account}}
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetAlerts",
                principals=[budgets_service],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=from_this_account,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetAlertsToEncryptedTopic",
                principals=[budgets_service],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions=from_this_account,
            )
        )
        subscriber = budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"mf-{team}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
                cost_filters={"TagKeyValue": [f"user:{TAG_TEAM}${team}"]} if filter_by_team_tag else None,
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=notification_type,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[subscriber],
                )
                for notification_type, percent in (
                    ("ACTUAL", ACTUAL_ALERT_PERCENT),
                    ("FORECASTED", FORECAST_ALERT_PERCENT),
                )
            ],
        )
