"""The catalog entry the deploy's Record step builds and publishes: from the registry (moto), the build's
evaluation report and drift baseline, the showback's last monthly cost (moto CloudWatch) and the stage's client
code; checked with the catalog's own entry model before it is put on the catalog bus (moto EventBridge)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from pipelines.deploy import tasks
from stacks.config.endpoint import EndpointSettings
from tests.helpers import FAULTS, inject_fault
from tests.pipelines.test_deploy_tasks import REGION, SETTINGS, aws, package  # noqa: F401 (the fixture)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
URL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/card-fraud/invocations"
CATALOG = {**SETTINGS, "description": "Scores card transactions", "owners": ["ml-leads@example.com"],
           "catalog_bus_arn": "arn:aws:events:eu-west-1:123456789012:event-bus/mf-catalog"}


def manifest(arn: str, **endpoint) -> dict:
    return {"stage": "prod", "account": SETTINGS["account"], "model_package_arn": arn,
            "endpoint": EndpointSettings(**{"api": {"auth": "iam"}, "initial_instances": 2, "min_instances": 2,
                                            **endpoint}).model_dump(mode="json")}


def build(aws, arn: str, **endpoint) -> dict:
    return tasks.catalog_entry(s3=aws["s3"], sagemaker=aws["sagemaker"],
                               cloudwatch=boto3.client("cloudwatch", region_name=REGION), settings=CATALOG,
                               manifest=manifest(arn, **endpoint), client_files={"client.py": "print(1)\n"},
                               url=URL, now=NOW)


def test_the_entry_carries_what_an_app_developer_needs(aws):
    arn = package(aws, auc=0.93, drift=True)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="ModelFactory", MetricData=[{
        # what the showback emits (tests/lambdas/test_showback.py checks its dimensions)
        "MetricName": "ModelCostUSD", "Dimensions": [{"Name": "Team", "Value": "fraud"},
                                                     {"Name": "Model", "Value": "card-fraud"},
                                                     {"Name": "service", "Value": "showback"}],
        "Value": 1843.27, "Timestamp": NOW - timedelta(days=2)}])
    entry = build(aws, arn)
    assert entry["version"] == int(arn.rsplit("/", 1)[1]) and entry["model_package_arn"] == arn
    assert entry["metrics"] == {"auc": 0.93}
    assert entry["input_schema"]["features"] == [{"name": "amount", "type": "numeric"},
                                                 {"name": "online", "type": "categorical"}]
    assert entry["serving"] == {"mode": "realtime", "endpoint": "mf-fraud-card-fraud-prod", "url": URL, "auth": "iam",
                                "invoke_policy": "mf-fraud-card-fraud-prod-invoke", "batch_output": None}
    assert entry["owners"] == ["ml-leads@example.com"] and entry["description"] == "Scores card transactions"
    assert entry["lineage"]["model_data_url"].startswith("s3://") and entry["lineage"]["approval"] == "Approved"
    assert entry["monthly_cost_usd"] == 1843.27 and entry["client"] == {"client.py": "print(1)\n"}


def test_without_a_showback_yet_the_cost_is_unknown_not_zero(aws):
    assert build(aws, package(aws, drift=True))["monthly_cost_usd"] is None


def test_an_entry_the_catalog_would_refuse_fails_the_task_in_one_line(aws):
    arn = package(aws, drift=True)
    with pytest.raises(tasks.DeployError, match=r"^catalog entry of fraud/card-fraud prod: owners: List should have "
                                                r"at least 1 item"):
        tasks.catalog_entry(s3=aws["s3"], sagemaker=aws["sagemaker"],
                            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
                            settings={**CATALOG, "owners": []}, manifest=manifest(arn), client_files={}, url=URL, now=NOW)


def test_the_entry_goes_on_the_catalog_bus_and_a_refused_put_is_one_line():
    events = boto3.client("events", region_name=REGION)
    entry = {"team": "fraud"}
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}, {"Entries": [{
            "EventBusName": CATALOG["catalog_bus_arn"], "Source": "model-factory.catalog",
            "DetailType": "Model Catalog Entry", "Detail": json.dumps(entry)}]})
        tasks.publish_entry(events, bus_arn=CATALOG["catalog_bus_arn"], entry=entry)
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
            {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}]})
        with pytest.raises(tasks.DeployError, match="refused the entry: NotAuthorizedForSourceException: Not authorized"):
            tasks.publish_entry(events, bus_arn=CATALOG["catalog_bus_arn"], entry=entry)


def test_every_aws_call_of_the_entry_fails_the_task(aws):
    arn = package(aws, drift=True)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    for client, operation in ((aws["sagemaker"], "describe_model_package"), (cloudwatch, "get_metric_statistics"),
                              (events, "put_events")):
        for code, status in FAULTS:
            inject_fault(client, operation, code, status)
            with pytest.raises(client.exceptions.ClientError, match=code):
                entry = tasks.catalog_entry(s3=aws["s3"], sagemaker=aws["sagemaker"], cloudwatch=cloudwatch,
                                            settings=CATALOG, manifest=manifest(arn), client_files={}, url=URL, now=NOW)
                tasks.publish_entry(events, bus_arn=CATALOG["catalog_bus_arn"], entry=entry)
