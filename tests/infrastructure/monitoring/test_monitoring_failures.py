"""Failed monitor runs of a team's endpoints reach the approvers, matched on the documented events.

The events start from the examples of the SageMaker developer guide, "Events that Amazon SageMaker AI sends
to Amazon EventBridge" (SageMaker pipeline execution state change; SageMaker processing job state change),
with only names, ARNs and statuses changed; the rules are tried with moto's EventBridge pattern matcher (moto
implements rule matching, not the TestEventPattern call)."""

from __future__ import annotations

import copy
import json

import pytest
from moto.events.models import EventPattern

from tests.helpers import only as single

ACCOUNT, REGION = "111111111111", "eu-west-1"

# documented example: "SageMaker Model Building Pipeline Execution Status Change"
PIPELINE_EVENT = {
    "version": "0", "id": "315c1398-40ff-a850-213b-158f73kd93ir",
    "detail-type": "SageMaker Model Building Pipeline Execution Status Change", "source": "aws.sagemaker",
    "account": "111122223333", "time": "2021-03-15T16:10:11Z", "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-east-1:111122223333:pipeline/myPipeline-123",
                  "arn:aws:sagemaker:us-east-1:111122223333:pipeline/myPipeline-123/execution/p4jn9xou8a8s"],
    "detail": {
        "pipelineExecutionDisplayName": "SomeDisplayName", "currentPipelineExecutionStatus": "Succeeded",
        "previousPipelineExecutionStatus": "Executing", "executionStartTime": "2021-03-15T16:03:13Z",
        "executionEndTime": "2021-03-15T16:10:10Z", "pipelineExecutionDescription": "SomeDescription",
        "pipelineArn": "arn:aws:sagemaker:us-east-1:111122223333:pipeline/myPipeline-123",
        "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:111122223333:pipeline/myPipeline-123/execution/p4jn9xou8a8s",
    },
}
# documented example: "SageMaker Processing Job State Change" (a failed job; no MonitoringScheduleArn in it)
PROCESSING_EVENT = {
    "version": "0", "id": "0a15f67d-aa23-0123-0123-01a23w89r01t", "detail-type": "SageMaker Processing Job State Change",
    "source": "aws.sagemaker", "account": "111122223333", "time": "2019-05-31T21:49:54Z", "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-west-2:037210630506:processing-job/integ-test-analytics-algo-54ee3282"],
    "detail": {
        "ProcessingInputs": [{"InputName": "InputName", "S3Input": {
            "S3Uri": "s3://input/s3/uri", "LocalPath": "/opt/ml/processing/input/local/path",
            "S3DataType": "MANIFEST_FILE", "S3InputMode": "PIPE", "S3DataDistributionType": "FULLYREPLICATED"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "OutputName", "S3Output": {
            "S3Uri": "s3://output/s3/uri", "LocalPath": "/opt/ml/processing/output/local/path",
            "S3UploadMode": "CONTINUOUS"}}], "KmsKeyId": "KmsKeyId"},
        "ProcessingJobName": "integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02",
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 3, "InstanceType": "ml.c5.xlarge",
                                                  "VolumeSizeInGB": 5, "VolumeKmsKeyId": "VolumeKmsKeyId"}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 2000},
        "AppSpecification": {"ImageUri": "012345678901.dkr.ecr.us-west-2.amazonaws.com/processing-uri:latest"},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": False},
        "RoleArn": "arn:aws:iam::037210630506:role/SageMakerPowerUser", "ExperimentConfig": {},
        "ProcessingJobArn": "arn:aws:sagemaker:us-west-2:037210630506:processing-job/integ-test-analytics-algo-54ee3282",
        "ProcessingJobStatus": "Failed",
        "FailureReason": "InternalServerError: We encountered an internal error.  Please try again.",
        "ProcessingEndTime": 1704320746000, "ProcessingStartTime": 1704320734000, "LastModifiedTime": 1704320746000,
        "CreationTime": 1704320199000,
    },
}


def pipeline_event(name: str, status: str) -> dict:
    event = copy.deepcopy(PIPELINE_EVENT) | {"account": ACCOUNT, "region": REGION}
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{name}"
    event["resources"] = [arn, f"{arn}/execution/p4jn9xou8a8s"]
    event["detail"].update(currentPipelineExecutionStatus=status, pipelineArn=arn,
                           pipelineExecutionArn=f"{arn}/execution/p4jn9xou8a8s")
    return event


def processing_event(job_name: str, role: str, status: str = "Failed") -> dict:
    event = copy.deepcopy(PROCESSING_EVENT) | {"account": ACCOUNT, "region": REGION}
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{job_name}"
    event["resources"] = [arn]
    event["detail"].update(ProcessingJobName=job_name, ProcessingJobArn=arn, ProcessingJobStatus=status,
                           RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}")
    return event


@pytest.fixture(scope="module")
def matches():
    return lambda pattern, event: EventPattern.load(json.dumps(pattern)).matches_event(event)


def rule(template, name: str) -> dict:
    return single(template, "AWS::Events::Rule", {"Name": name})[1]["Properties"]


def test_a_failed_drift_run_of_the_teams_endpoints_notifies_the_approvers(fraud, matches):
    props = rule(fraud, "mf-fraud-drift-run-failures")
    pattern = props["EventPattern"]
    assert matches(pattern, pipeline_event("mf-fraud-card-fraud-prod-drift", "Failed"))
    assert matches(pattern, pipeline_event("mf-fraud-card-fraud-staging-drift", "Failed"))
    assert not matches(pattern, pipeline_event("mf-fraud-card-fraud-prod-drift", "Succeeded"))
    assert not matches(pattern, pipeline_event("mf-fraud-card-fraud", "Failed"))  # the build pipeline: not a monitor
    assert not matches(pattern, pipeline_event("mf-pricing-demand-forecast-prod-drift", "Failed"))  # another team
    topic_id, _ = single(fraud, "AWS::SNS::Topic")
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": topic_id}
    assert target["InputTransformer"]["InputPathsMap"] == {
        "detail-pipelineExecutionArn": "$.detail.pipelineExecutionArn",
        "detail-executionStartTime": "$.detail.executionStartTime"}


def test_a_failed_model_monitor_execution_is_recognised_by_its_role_and_name(fraud, matches):
    props = rule(fraud, "mf-fraud-monitoring-failures")
    pattern = props["EventPattern"]
    team_role = "mf-fraud-sagemaker-execution"
    execution = "model-monitoring-202612010800-0b1e6c2f4a5d"
    assert matches(pattern, processing_event(execution, team_role))
    assert not matches(pattern, processing_event(execution, team_role, "Completed"))
    # a build job (SageMaker Pipelines names it), the factory engine's job (told by the pipeline rule) and
    # another team's monitor: not this rule's
    assert not matches(pattern, processing_event("pipelines-p4jn9xou8a8s-DataQualityBaseline-x1", team_role))
    assert not matches(pattern, processing_event("pipelines-p4jn9xou8a8s-DriftReport-x1", "mf-fraud-drift-job"))
    assert not matches(pattern, processing_event(execution, "mf-pricing-sagemaker-execution"))
    (target,) = props["Targets"]
    assert target["InputTransformer"]["InputPathsMap"] == {
        "detail-ProcessingJobName": "$.detail.ProcessingJobName", "detail-FailureReason": "$.detail.FailureReason"}
    assert "failed: <detail-FailureReason>" in target["InputTransformer"]["InputTemplate"]
