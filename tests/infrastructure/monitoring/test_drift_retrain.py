"""Drift-driven retraining infrastructure of a team (foundation stack): rule, function contract, IAM."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template


@pytest.fixture(scope="module")
def foundation(example_factory) -> Template:
    return example_factory.template("fraud")


def test_rule_matches_drift_alarms_of_this_team_going_into_alarm(foundation):
    function = next(k for k, v in foundation.find_resources("AWS::Lambda::Function").items()
                    if v["Properties"]["FunctionName"] == "mf-fraud-drift-retrain")
    foundation.has_resource_properties("AWS::Events::Rule", {
        "Name": "mf-fraud-drift-alarms",
        "EventPattern": {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            # only prod drift retrains; staging alarms only notify
            "detail": {"alarmName": [{"wildcard": "mf-fraud-*-prod-drift*"}], "state": {"value": ["ALARM"]}},
        },
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function, "Arn"]},
                                       "DeadLetterConfig": Match.any_value()})],
    })


def test_function_contract(foundation):
    foundation.has_resource_properties("AWS::Lambda::Function", {
        "FunctionName": "mf-fraud-drift-retrain",
        "Handler": "app.handler", "Runtime": "python3.13", "Architectures": ["arm64"],
        "Environment": {"Variables": Match.object_like({
            # prod only: staging drift notifies, it does not retrain
            "PIPELINE_BY_ENDPOINT": json.dumps({"mf-fraud-card-fraud-prod": "mf-fraud-card-fraud-build"}),
            "RETRAIN_TABLE_NAME": Match.any_value(),
            "RETRAIN_COOLDOWN_HOURS": "24",
            "RETRAIN_COOLDOWN_HOURS_BY_PIPELINE": json.dumps({"mf-fraud-card-fraud-build": 24}),
            "NOTIFICATION_TOPIC_ARN": Match.any_value(),
        })},
    })


def test_iam_starts_only_the_teams_build_pipelines_and_writes_only_the_cooldown_table(foundation):
    _, policy = next(iter(foundation.find_resources("AWS::IAM::Policy", {"Properties": {
        "PolicyName": Match.string_like_regexp("^DriftRetrainRole")}}).items()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    starts = [s for s in statements if s.get("Sid") == "StartBuildPipelines"]
    assert starts[0]["Resource"] == "arn:aws:codepipeline:eu-west-1:111111111111:mf-fraud-card-fraud-build"
    table_actions = [s["Action"] for s in statements if "dynamodb" in json.dumps(s["Action"])]
    # claim; name the started execution; give back a failed start's claim
    assert table_actions == [["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]]


def test_cooldown_table_is_encrypted_and_keyed_by_pipeline(foundation):
    foundation.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "TableName": "mf-fraud-retrain-cooldown",
        "KeySchema": [{"AttributeName": "pipeline", "KeyType": "HASH"}],
        "SSESpecification": Match.object_like({"SSEType": "KMS"}),
    })


def test_factory_dashboard_shows_every_model(example_factory):
    for team, model in (("fraud", "card-fraud"), ("pricing", "demand-forecast")):
        template = example_factory.template(team)
        dashboards = template.find_resources("AWS::CloudWatch::Dashboard", {"Properties": {
            "DashboardName": f"mf-{team}-factory"}})
        assert len(dashboards) == 1
        # the body's JSON escapes its quotes: compare without backslashes
        body = json.dumps(next(iter(dashboards.values()))["Properties"]["DashboardBody"]).replace("\\", "")
        for needle in (f"{model}: build and deploy outcomes", f"mf-{team}-{model}-build", f"mf-{team}-{model}-deploy",
                       "SucceededBuilds", "FailedBuilds", f"mf-{team}-{model}-prod", f"mf-{team}-{model}-staging",
                       "Invocation5XXErrors", "ModelLatency", "GPUUtilization", "ActionRetrain",
                       # the factory engine's row: drift per feature, records, live quality, runs, per stage
                       '{ModelFactory,Feature,Model,Stage,Team} MetricName="FeatureDrift"',
                       '{ModelFactory,Metric,Model,Stage,Team} MetricName="LiveQuality"',
                       f'Model="{model}" Stage="staging"', "DriftRecords", "MonitorRuns",
                       f"mf-{team}-{model}-prod-monitor-missing"):
            assert needle in body, needle
        assert "feature_baseline_drift" not in body  # no Model Monitor metric for a factory-engine model


def test_a_model_monitor_model_keeps_model_monitors_drift_on_the_dashboard(many_team_factory):
    body = json.dumps(next(iter(many_team_factory.template("team-003").find_resources(
        "AWS::CloudWatch::Dashboard").values()))["Properties"]["DashboardBody"]).replace("\\", "")
    assert "feature_baseline_drift" in body and "mf-team-003-model-00-prod" in body
    assert 'Model="model-01"' in body and 'Model="model-00"' not in body

