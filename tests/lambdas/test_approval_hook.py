"""The approval hook's handler under moto: registry, deploy pipeline, DynamoDB, SNS, SSM."""

from __future__ import annotations

import copy
import importlib
import json
import sys

import boto3
import pytest
from moto import mock_aws

from tests.helpers import Context
from tests.synth import ROOT

HOOK = ROOT / "lambdas" / "approval_hook"
EVENT = json.loads((ROOT / "tests" / "fixtures" / "events" / "model-package-approved.json").read_text())
REGION, ACCOUNT, TEAM, GROUP = "eu-west-1", "123456789012", "fraud", "mf-fraud-card-fraud"
TABLE = "mf-fraud-approval-idempotency"


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="mf-fraud-approvers")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        inbox = sqs.create_queue(QueueName="approvers-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "codepipeline.amazonaws.com"}}]}))
        codepipeline.create_pipeline(pipeline={
            "name": f"{GROUP}-deploy", "roleArn": role["Role"]["Arn"], "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": "bucket"},
            "variables": [{"name": "ModelPackageArn", "defaultValue": "none"}],
            "stages": [
                {"name": "Source", "actions": [{"name": "Source", "actionTypeId": {
                    "category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                    "configuration": {"S3Bucket": "b", "S3ObjectKey": "k", "PollForSourceChanges": "false"},
                    "outputArtifacts": [{"name": "src"}]}]},
                {"name": "Validate", "actions": [{"name": "Validate", "actionTypeId": {
                    "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                    "configuration": {"ProjectName": "p"}, "inputArtifacts": [{"name": "src"}]}]},
            ]})
        for name, value in {
            "IDEMPOTENCY_TABLE_NAME": TABLE, "NOTIFICATION_TOPIC_ARN": topic, "TEAM": TEAM,
            "MODEL_PACKAGE_GROUPS": json.dumps([GROUP]), "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ModelFactory", "AWS_DEFAULT_REGION": REGION,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(HOOK))
        for module in ("app", "approval"):
            sys.modules.pop(module, None)
        app = importlib.import_module("app")
        yield {"app": app, "sagemaker": sagemaker, "codepipeline": codepipeline, "ssm": boto3.client("ssm", region_name=REGION),
               "sqs": sqs, "inbox": inbox}
        for module in ("app", "approval"):
            sys.modules.pop(module, None)


def register(aws, status: str) -> str:
    return aws["sagemaker"].create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus=status,
        InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]


def event(arn: str, status: str, group: str = GROUP) -> dict:
    copied = copy.deepcopy(EVENT)
    copied["detail"].update(ModelPackageArn=arn, ModelApprovalStatus=status, ModelPackageGroupName=group,
                            ModelPackageVersion=int(arn.rsplit("/", 1)[1]))
    return copied


def executions(aws) -> list[dict]:
    summaries = aws["codepipeline"].list_pipeline_executions(pipelineName=f"{GROUP}-deploy")["pipelineExecutionSummaries"]
    return summaries


def started_with(aws) -> list[str]:
    values = []
    for summary in executions(aws):
        execution = aws["codepipeline"].get_pipeline_execution(
            pipelineName=f"{GROUP}-deploy", pipelineExecutionId=summary["pipelineExecutionId"])["pipelineExecution"]
        values += [v["resolvedValue"] for v in execution.get("variables", []) if v["name"] == "ModelPackageArn"]
    return values


def notifications(aws) -> list[str]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["inbox"], MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def serving(aws, stage: str, arn: str) -> None:
    aws["ssm"].put_parameter(Name=f"/model-factory/{TEAM}/card-fraud/{stage}/model-package-arn", Value=arn,
                             Type="String", Overwrite=True)


def test_approved_starts_one_execution_with_that_package_even_when_delivered_twice(aws):
    arn = register(aws, "Approved")
    first = aws["app"].handler(event(arn, "Approved"), Context())
    second = aws["app"].handler(event(arn, "Approved"), Context())
    assert first == second and first["action"] == "deploy" and first["package_arn"] == arn
    assert len(executions(aws)) == 1
    assert started_with(aws) == [arn]
    messages = notifications(aws)
    assert len(messages) == 1 and messages[0].startswith("approved: deploying version 1 of mf-fraud-card-fraud")


def test_rejected_serving_package_rolls_back_to_the_newest_still_approved(aws):
    older, newer, serving_arn = register(aws, "Approved"), register(aws, "Approved"), register(aws, "Approved")
    serving(aws, "prod", serving_arn)
    serving(aws, "staging", serving_arn)
    aws["sagemaker"].update_model_package(ModelPackageArn=serving_arn, ModelApprovalStatus="Rejected")
    result = aws["app"].handler(event(serving_arn, "Rejected"), Context())
    assert result["action"] == "deploy" and result["package_arn"] == newer
    assert started_with(aws) == [newer]
    assert "serves in staging and prod: rolling back to version 2" in notifications(aws)[0]
    assert older != newer


def test_rejected_with_no_approved_left_notifies_only(aws):
    only = register(aws, "Approved")
    serving(aws, "prod", only)
    aws["sagemaker"].update_model_package(ModelPackageArn=only, ModelApprovalStatus="Rejected")
    result = aws["app"].handler(event(only, "Rejected"), Context())
    assert result["action"] == "notify"
    assert executions(aws) == []
    assert notifications(aws) == [
        "rejected version 1 of mf-fraud-card-fraud serves in prod but no approved version is left; the endpoint is "
        "left as it is"]


def test_rejected_package_that_is_not_serving_changes_nothing(aws):
    serving(aws, "prod", register(aws, "Approved"))
    rejected = register(aws, "Rejected")
    result = aws["app"].handler(event(rejected, "Rejected"), Context())
    assert result["action"] == "notify" and executions(aws) == []
    assert "is not serving in any stage" in notifications(aws)[0]


@pytest.mark.parametrize("mutate", [
    lambda e: e["detail"].pop("ModelPackageArn"),
    lambda e: e["detail"].update(ModelPackageArn="not-an-arn"),
    lambda e: e.pop("detail"),
    lambda e: e.update(detail="text"),
])
def test_malformed_event_starts_nothing(aws, mutate, caplog):
    bad = copy.deepcopy(EVENT)
    mutate(bad)
    result = aws["app"].handler(bad, Context())
    assert result == {"action": "ignore", "reason": "malformed event"}
    assert executions(aws) == []


def test_foreign_group_starts_nothing_and_notifies_nobody(aws):
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mf-pricing-demand-forecast/1"
    result = aws["app"].handler(event(arn, "Approved", group="mf-pricing-demand-forecast"), Context())
    assert result["action"] == "ignore" and "does not belong to team fraud" in result["reason"]
    assert executions(aws) == [] and notifications(aws) == []


def test_pending_status_needs_no_action(aws):
    arn = register(aws, "PendingManualApproval")
    result = aws["app"].handler(event(arn, "PendingManualApproval"), Context())
    assert result["action"] == "ignore" and executions(aws) == []
