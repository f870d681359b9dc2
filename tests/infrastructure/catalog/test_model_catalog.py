"""The factory's model catalog stack (example config: in the first team's account): the bus only team accounts
may put entries on, the function that checks and stores them, the table, the reader role.

Where the expectations come from: `events:source` and `events:detail-type` are the condition keys EventBridge
evaluates for PutEvents (EventBridge user guide, "Using IAM policy conditions", eb-use-conditions.html); an
AWS::Events::EventBusPolicy takes one `Statement` with a `Principal` of account roots (CloudFormation
reference, AWS::Events::EventBusPolicy); a custom bus is encrypted with `KmsKeyIdentifier` (AWS::Events::EventBus)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.helpers import only

TEAMS = {"fraud": "111111111111", "pricing": "222222222222"}


@pytest.fixture(scope="session")
def catalog(example_factory):
    return example_factory.catalog_template()


def test_the_whole_factory_is_every_teams_stage_and_the_catalogs(example_factory):
    """What app.py builds when TEAMS is blank (FactoryConfig.select gives None; tests/unit/config)."""
    assert sorted(p.name for p in example_factory.outdir.glob("assembly-*")) == [
        "assembly-catalog", "assembly-fraud", "assembly-pricing"]


def test_only_the_teams_factory_accounts_may_put_entries_on_the_bus(catalog):
    bus, _ = only(catalog, "AWS::Events::EventBus", {"Name": "mf-catalog"})
    _, policy = only(catalog, "AWS::Events::EventBusPolicy", {})
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in sorted(TEAMS.values())]}
    assert statement["Condition"] == {"StringEquals": {"events:source": "model-factory.catalog",
                                                       "events:detail-type": "Model Catalog Entry"}}
    assert catalog.to_json()["Resources"][bus]["Properties"]["KmsKeyIdentifier"]


def test_entries_reach_the_publish_function_which_knows_each_teams_account(catalog):
    function, props = only(catalog, "AWS::Lambda::Function", {"FunctionName": "mf-catalog-publish"})
    env = props["Properties"]["Environment"]["Variables"]
    assert env["TEAM_ACCOUNTS"] == '{"fraud": "111111111111", "pricing": "222222222222"}'
    catalog.has_resource_properties("AWS::Events::Rule", {
        "Name": "mf-catalog-entries",
        "EventPattern": {"source": ["model-factory.catalog"], "detail-type": ["Model Catalog Entry"]},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function, "Arn"]},
                                       "DeadLetterConfig": Match.any_value()})]})


def test_the_table_is_keyed_by_team_and_model_stage_and_kept(catalog):
    _, table = only(catalog, "AWS::DynamoDB::GlobalTable", {"TableName": "mf-catalog"})
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "team", "KeyType": "HASH"}, {"AttributeName": "key", "KeyType": "RANGE"}]
    assert table["DeletionPolicy"] == "Retain"


def test_the_reader_role_reads_and_nothing_else(catalog):
    role, _ = only(catalog, "AWS::IAM::Role", {"RoleName": "mf-catalog-reader"})
    (policy,) = [p for p in catalog.find_resources("AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role}]]
    actions = sorted(a for s in policy["Properties"]["PolicyDocument"]["Statement"]
                     for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    assert actions == ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "kms:Decrypt"]


def test_a_refused_entry_alarms(catalog):
    catalog.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "mf-catalog-refused-entries", "MetricName": "RefusedEntries", "Namespace": "ModelFactory",
        "Threshold": 1})


def test_the_deploy_tasks_may_put_entries_on_exactly_the_catalog_bus(example_factory):
    build = example_factory.build_template("pricing", "demand-forecast")
    statements = [s for p in build.find_resources("AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "PublishCatalogEntries"]
    assert [s["Resource"] for s in statements] == ["arn:aws:events:eu-west-1:111111111111:event-bus/mf-catalog"]
