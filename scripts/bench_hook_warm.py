#!/usr/bin/env python3
"""Warm invocations of the approval hook under moto (used by `make bench`): prints the median."""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
from pathlib import Path

import boto3
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas" / "approval_hook"))



class Context:
    function_name = "mf-fraud-approval-hook"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:mf-fraud-approval-hook"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def register(sagemaker) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName="mf-fraud-card-fraud", ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]

EVENT = json.loads((ROOT / "tests" / "fixtures" / "events" / "model-package-approved.json").read_text())
INVOCATIONS = 30


def main() -> int:
    with mock_aws():
        region = "eu-west-1"
        boto3.client("dynamodb", region_name=region).create_table(
            TableName="bench-idempotency", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        sns = boto3.client("sns", region_name=region)
        sns.create_topic(Name="t")
        sagemaker = boto3.client("sagemaker", region_name=region)
        sagemaker.create_model_package_group(ModelPackageGroupName="mf-fraud-card-fraud")
        iam = boto3.client("iam", region_name=region)
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
        role = iam.create_role(RoleName="p", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        boto3.client("codepipeline", region_name=region).create_pipeline(pipeline={
            "name": "mf-fraud-card-fraud-deploy", "roleArn": role, "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": "bucket"},
            "variables": [{"name": "ModelPackageArn", "defaultValue": "none"}],
            "stages": [{"name": "Source", "actions": [{"name": "S", "actionTypeId": {
                "category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"S3Bucket": "bucket", "S3ObjectKey": "k"}, "outputArtifacts": [{"name": "a"}]}]},
                {"name": "B", "actions": [{"name": "B", "actionTypeId": {
                    "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                    "configuration": {"ProjectName": "p"}, "inputArtifacts": [{"name": "a"}]}]}]})
        import app

        durations = []
        for index in range(INVOCATIONS + 1):
            arn = register(sagemaker)
            event = copy.deepcopy(EVENT)
            event["detail"].update(ModelPackageArn=arn, ModelPackageVersion=index + 1)
            started = time.perf_counter()
            result = app.handler(event, Context())
            elapsed = (time.perf_counter() - started) * 1000
            assert result["action"] == "deploy", result
            if index:  # the first call warms the clients
                durations.append(elapsed)
    print(f"{statistics.median(durations):.1f} ms (median of {INVOCATIONS}; moto runs in-process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
