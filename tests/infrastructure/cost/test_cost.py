"""Cost governance in the foundation stack: the team budget, its notifications and stop-training action,
and the monthly showback."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from stacks.common.naming import TAG_TEAM
from tests.helpers import only as single

FRAUD_ACCOUNT = "111111111111"


def test_key_lets_budgets_publish_to_the_encrypted_topic_from_this_account_only(fraud):
    fraud.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([{
        "Sid": "AllowBudgetAlertsToEncryptedTopic",
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": FRAUD_ACCOUNT}},
    }])}})


def test_topic_accepts_budget_alerts_from_this_account_and_requires_tls(fraud):
    topic_id, _ = single(fraud, "AWS::SNS::Topic")
    fraud.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        Match.object_like({
            "Effect": "Allow",
            "Principal": {"Service": "budgets.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": {"Ref": topic_id},
            "Condition": {"StringEquals": {"aws:SourceAccount": FRAUD_ACCOUNT}},
        }),
    ])}})


def test_budget_amount_and_notifications(fraud):
    topic_id, _ = single(fraud, "AWS::SNS::Topic")
    subscriber = [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}]
    fraud.has_resource_properties("AWS::Budgets::Budget", {
        "Budget": {
            "BudgetName": "mf-fraud-monthly",
            "BudgetType": "COST",
            "TimeUnit": "MONTHLY",
            "BudgetLimit": {"Amount": 5000, "Unit": "USD"},
            "CostFilters": Match.absent(),
        },
        "NotificationsWithSubscribers": [
            {"Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                              "Threshold": 80, "ThresholdType": "PERCENTAGE"}, "Subscribers": subscriber},
            {"Notification": {"NotificationType": "FORECASTED", "ComparisonOperator": "GREATER_THAN",
                              "Threshold": 100, "ThresholdType": "PERCENTAGE"}, "Subscribers": subscriber},
        ],
    })


def test_budget_of_a_team_sharing_its_account_counts_only_its_tagged_cost(many_team_factory):
    # the many-team config puts team-000 and team-001 in one account
    many_team_factory.template("team-001").has_resource_properties("AWS::Budgets::Budget", {
        "Budget": Match.object_like({"CostFilters": {"TagKeyValue": ["user:model-factory:team$team-001"]}}),
    })
    many_team_factory.template("team-002").has_resource_properties("AWS::Budgets::Budget", {
        "Budget": Match.object_like({"CostFilters": Match.absent()}),
    })


def test_budget_carries_the_team_tags(fraud):
    fraud.has_resource_properties("AWS::Budgets::Budget", {
        "ResourceTags": Match.array_with([{"Key": TAG_TEAM, "Value": "fraud"}]),
    })


def test_showback_runs_monthly_reads_cost_explorer_and_publishes_to_the_approvers(fraud):
    function_id, function = single(fraud, "AWS::Lambda::Function", {"FunctionName": "mf-fraud-showback"})
    props = function["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == ("python3.13", ["arm64"], "app.handler")
    assert props["Environment"]["Variables"]["TEAM"] == "fraud"
    assert props["Environment"]["Variables"]["MODELS"] == '["card-fraud"]'
    _, rule = single(fraud, "AWS::Events::Rule", {"Name": "mf-fraud-showback-monthly"})
    assert rule["Properties"]["ScheduleExpression"] == "cron(0 6 3 * ? *)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    fraud.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "ReadCostAndUsage", "Action": "ce:GetCostAndUsage", "Resource": "*"})])}})


def test_factory_dashboard_shows_cost_per_model(fraud):
    _, dashboard = single(fraud, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "cost per model (USD, showback)" in body
    assert 'ModelCostUSD\\",\\"Model\\",\\"card-fraud\\",\\"Team\\",\\"fraud\\"' in body


def test_budget_action_stops_new_training_on_the_sagemaker_role_after_approval(fraud):
    budget_id, _ = single(fraud, "AWS::Budgets::Budget")
    policy_id, policy = single(fraud, "AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "mf-fraud-budget-stop-training"})
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Resource"]) == ("Deny", "*")
    assert sorted(deny["Action"]) == ["sagemaker:CreateAutoMLJobV2", "sagemaker:CreateHyperParameterTuningJob",
                                      "sagemaker:CreateTrainingJob", "sagemaker:CreateTransformJob"]
    _, action = single(fraud, "AWS::Budgets::BudgetsAction")
    props = action["Properties"]
    assert (props["BudgetName"], props["NotificationType"], props["ActionType"], props["ApprovalModel"]) == (
        {"Ref": budget_id}, "ACTUAL", "APPLY_IAM_POLICY", "MANUAL")
    assert props["ActionThreshold"] == {"Type": "PERCENTAGE", "Value": 100}
    assert props["Definition"]["IamActionDefinition"]["PolicyArn"] == {"Ref": policy_id}
    (role,) = props["Definition"]["IamActionDefinition"]["Roles"]
    assert fraud.to_json()["Resources"][role["Ref"]]["Properties"]["RoleName"] == "mf-fraud-sagemaker-execution"
    role_id = props["ExecutionRoleArn"]["Fn::GetAtt"][0]
    trust = fraud.to_json()["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"},
                      "Condition": {"StringEquals": {"aws:SourceAccount": FRAUD_ACCOUNT}}}]
    fraud.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": [Match.object_like({
        "Sid": "AttachOnlyTheStopPolicyToTheSageMakerRole", "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
        "Condition": {"ArnEquals": {"iam:PolicyARN": {"Ref": policy_id}}}})]}})


def test_budget_action_can_be_automatic_or_off(many_team_factory):
    automatic = many_team_factory.template("team-001")
    automatic.has_resource_properties("AWS::Budgets::BudgetsAction", {"ApprovalModel": "AUTOMATIC"})
    assert not many_team_factory.template("team-002").find_resources("AWS::Budgets::BudgetsAction")
