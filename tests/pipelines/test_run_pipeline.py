"""The build's run logic: uploads with moto, waiting on the execution with botocore's Stubber."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
import run_pipeline
from botocore.stub import Stubber
from moto import mock_aws
from pipeline import PipelineSettings

ARN = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mf-fraud-card-fraud/execution/abc123"
SETTINGS = PipelineSettings(
    region="eu-west-1", pipeline_name="mf-fraud-card-fraud", model_package_group_name="mf-fraud-card-fraud",
    role_arn="arn:aws:iam::111111111111:role/r", bucket="team-bucket", kms_key_arn="arn:aws:kms:eu-west-1:1:key/k",
    code_version="0123456789abcdef",
)


def sagemaker_client():
    return boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def describe(status: str) -> dict:
    return {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}


def test_wait_returns_when_the_execution_succeeds():
    client = sagemaker_client()
    sleeps = []
    with Stubber(client) as stub:
        for status in ("Executing", "Executing", "Succeeded"):
            stub.add_response("describe_pipeline_execution", describe(status), {"PipelineExecutionArn": ARN})
        assert run_pipeline.wait_for_execution(client, ARN, poll_seconds=60, timeout_seconds=3600,
                                               sleep=sleeps.append) == "Succeeded"
    assert sleeps == [60, 60]


def test_wait_fails_the_build_naming_the_failed_step():
    client = sagemaker_client()
    with Stubber(client) as stub:
        stub.add_response("describe_pipeline_execution", describe("Failed"), {"PipelineExecutionArn": ARN})
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": [
            {"StepName": "QualityGate", "StepStatus": "Succeeded"},
            {"StepName": "FailQualityGate", "StepStatus": "Failed",
             "FailureReason": "quality gate failed: auc = 0.71, required >= 0.8"},
        ]}, {"PipelineExecutionArn": ARN})
        with pytest.raises(run_pipeline.BuildError) as caught:
            run_pipeline.wait_for_execution(client, ARN, poll_seconds=1, timeout_seconds=60, sleep=lambda s: None)
    assert str(caught.value) == (
        "pipeline execution failed: FailQualityGate: quality gate failed: auc = 0.71, required >= 0.8")


def test_wait_gives_up_after_the_timeout():
    client = sagemaker_client()
    with Stubber(client) as stub:
        stub.add_response("describe_pipeline_execution", describe("Executing"), {"PipelineExecutionArn": ARN})
        with pytest.raises(run_pipeline.BuildError, match="still Executing after 0 s"):
            run_pipeline.wait_for_execution(client, ARN, poll_seconds=1, timeout_seconds=0, sleep=lambda s: None)


@mock_aws
def test_upload_puts_code_scripts_and_seed_data_under_the_code_version():
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="team-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    run_pipeline.upload_code_and_data(s3, SETTINGS)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="team-bucket")["Contents"]}
    prefix = "mf-fraud-card-fraud/code/0123456789abcdef"
    assert keys == {f"{prefix}/sourcedir.tar.gz", f"{prefix}/preprocess.py", f"{prefix}/evaluate.py",
                    "mf-fraud-card-fraud/input/transactions.csv"}
    archive = s3.get_object(Bucket="team-bucket", Key=f"{prefix}/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert {"train.py", "preprocess.py", "evaluate.py"} <= set(tar.getnames())
    head = s3.head_object(Bucket="team-bucket", Key=f"{prefix}/preprocess.py")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_settings_reject_unknown_keys(tmp_path):
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({**run_pipeline.EXAMPLE_SETTINGS, "gpus": 8}))
    with pytest.raises(run_pipeline.BuildError, match="unknown pipeline setting\\(s\\): gpus"):
        run_pipeline.load_settings(settings)


def test_settings_from_the_environment_take_the_commit_as_code_version(monkeypatch):
    monkeypatch.setenv("MODEL_FACTORY_SETTINGS", json.dumps(run_pipeline.EXAMPLE_SETTINGS))
    settings = run_pipeline.load_settings(None, code_version="feedbeef")
    assert settings.code_prefix == "s3://mf-fraud-artifacts-example/mf-fraud-card-fraud/code/feedbeef"


def test_settings_refuse_bias_without_a_facet(tmp_path):
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({**run_pipeline.EXAMPLE_SETTINGS, "bias": True}))
    with pytest.raises(run_pipeline.BuildError, match="pipeline settings: bias needs bias_facet_name: the sensitive"):
        run_pipeline.load_settings(settings)
