"""The team's monthly AWS Budgets cost budget, alerting the approvers' topic, and its budget action:
at 100 % of the budget (actual cost) a deny policy stops new training on the team's SageMaker role (its
pipelines' jobs), automatically or after an approver approves it in the Budgets console. Serving and
monitoring keep running; detaching the policy (or the next month) lifts the stop."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import stack_environment
from stacks.common.nag import acknowledge_each
from stacks.common.naming import TAG_TEAM
from stacks.common.shared_values import service_principal

ACTUAL_ALERT_PERCENT = 80
FORECAST_ALERT_PERCENT = 100
STOP_TRAINING_PERCENT = 100
# what the budget action denies: the jobs that start new spend, not the endpoints that serve
STOPPED_ACTIONS = ["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob",
                   "sagemaker:CreateTransformJob", "sagemaker:CreateAutoMLJobV2"]


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
        sagemaker_role: iam.IRole,
        action: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        budgets_service = service_principal("budgets.amazonaws.com")
        from_this_account = {"StringEquals": {"aws:SourceAccount": stack_environment(stack).account}}
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

        if action != "off":
            self._stop_training_action(team, topic, sagemaker_role, automatic=action == "automatic")

    def _stop_training_action(self, team: str, topic: sns.ITopic, sagemaker_role: iam.IRole, *,
                              automatic: bool) -> None:
        stack = cdk.Stack.of(self)
        self.stop_training_policy = iam.ManagedPolicy(
            self, "StopTraining", managed_policy_name=f"mf-{team}-budget-stop-training",
            description=f"Attached by the {team} team's budget action at {STOP_TRAINING_PERCENT} % of the budget",
            statements=[iam.PolicyStatement(sid="BudgetExceeded", effect=iam.Effect.DENY,
                                            actions=STOPPED_ACTIONS, resources=["*"])])
        execution = iam.Role(
            self, "ActionRole",
            description=f"AWS Budgets attaches or detaches the {team} team's stop-training policy",
            assumed_by=iam.ServicePrincipal("budgets.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": stack_environment(stack).account}}))
        execution.add_to_policy(iam.PolicyStatement(
            sid="AttachOnlyTheStopPolicyToTheSageMakerRole",
            actions=["iam:AttachRolePolicy", "iam:DetachRolePolicy"], resources=[sagemaker_role.role_arn],
            conditions={"ArnEquals": {"iam:PolicyARN": self.stop_training_policy.managed_policy_arn}}))
        self.action = budgets.CfnBudgetsAction(
            self, "StopTrainingAction",
            budget_name=self.budget.ref,
            notification_type="ACTUAL",
            action_type="APPLY_IAM_POLICY",
            action_threshold=budgets.CfnBudgetsAction.ActionThresholdProperty(
                type="PERCENTAGE", value=STOP_TRAINING_PERCENT),
            execution_role_arn=execution.role_arn,
            approval_model="AUTOMATIC" if automatic else "MANUAL",
            definition=budgets.CfnBudgetsAction.DefinitionProperty(
                iam_action_definition=budgets.CfnBudgetsAction.IamActionDefinitionProperty(
                    policy_arn=self.stop_training_policy.managed_policy_arn, roles=[sagemaker_role.role_name])),
            subscribers=[budgets.CfnBudgetsAction.SubscriberProperty(type="SNS", address=topic.topic_arn)],
        )
        acknowledge_each(self.stop_training_policy.node.default_child, {
            "AwsSolutions-IAM5[Resource::*]": (
                "A deny of new training jobs of any name: the policy is attached only to the team's SageMaker "
                "role, and only when the team's budget is spent.")})
