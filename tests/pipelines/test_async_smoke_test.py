"""The smoke test of an asynchronous staging endpoint: the sample goes to S3, InvokeEndpointAsync, then the
answer (or the failure) is read where the response says SageMaker writes it. S3 under moto; the runtime with
botocore's Stubber, answering with the response shape of sagemaker-runtime's InvokeEndpointAsync (botocore
sagemaker-runtime service model: InferenceId in the body, X-Amzn-SageMaker-OutputLocation/-FailureLocation)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipelines.deploy import tasks
from stacks.config.endpoint import EndpointSettings
from tests.helpers import FAULTS, inject_fault
from tests.synth import ROOT

REGION, BUCKET = "eu-west-1", "mf-fraud-123456789012-eu-west-1"
ENDPOINT = "mf-fraud-card-fraud-staging"
PREFIX = f"async/{ENDPOINT}"
MANIFEST = {"team": "fraud", "model": "card-fraud", "stage": "staging", "account": "123456789012",
            "factory_account": "123456789012", "region": REGION,
            "model_package_arn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/mf-fraud-card-fraud/3",
            "endpoint": EndpointSettings(mode="async", min_instances=0, initial_instances=1, max_instances=2,
                                         startup_minutes=4).model_dump(mode="json")}
OUTPUT = f"s3://{BUCKET}/{PREFIX}/output/0d3b.out"
FAILURE = f"s3://{BUCKET}/{PREFIX}/failures/0d3b-error.out"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def runtime_answering(input_uri: str | None = None):
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    stub = Stubber(client)
    expected = {"EndpointName": ENDPOINT, "InputLocation": input_uri or f"s3://{BUCKET}/{PREFIX}/input/smoke-test-r1.csv",
                "ContentType": "text/csv", "Accept": "text/csv"}
    stub.add_response("invoke_endpoint_async", {"InferenceId": "0d3b", "OutputLocation": OUTPUT,
                                                "FailureLocation": FAILURE}, expected)
    stub.activate()
    return client


class FakeTime:
    """The clock advances by each sleep; `on_sleep` plays SageMaker writing the answer meanwhile."""

    def __init__(self, on_sleep=None):
        self.now, self.sleeps, self.on_sleep = 0.0, 0, on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep:
            self.on_sleep(self.sleeps)


def run(s3, runtime, time: FakeTime, records: int = 2, timeout: float = 600):
    return tasks.async_smoke_test(runtime=runtime, s3=s3, manifest=MANIFEST, payload="1,2\n3,4", records=records,
                                  problem_type="binary_classification", timeout_seconds=timeout,
                                  clock=time.clock, sleep=time.sleep, request_id="r1")


def test_the_sample_goes_to_the_input_prefix_and_the_answer_is_read_from_the_output_location(s3):
    def answer(sleeps):
        if sleeps == 3:  # the fleet woke up from zero and answered
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/output/0d3b.out", Body=b"0.1\n0.9")

    time = FakeTime(answer)
    result = run(s3, runtime_answering(), time)
    assert result == {"seconds": 30.0, "requests": 1}
    body = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/input/smoke-test-r1.csv")["Body"].read()
    assert body == b"1,2\n3,4"


def test_a_failure_written_by_sagemaker_fails_the_test_in_one_line(s3):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/failures/0d3b-error.out", Body=b"ModelError: bad input\n")
    with pytest.raises(tasks.DeployError) as caught:
        run(s3, runtime_answering(), FakeTime())
    assert str(caught.value) == f"the staging endpoint failed the asynchronous request: ModelError: bad input ({FAILURE})"


def test_no_answer_within_the_wake_up_time_fails(s3):
    with pytest.raises(tasks.DeployError, match=f"^no asynchronous answer at {OUTPUT} after 60 s"):
        run(s3, runtime_answering(), FakeTime(), timeout=60)


def test_a_wrong_answer_fails_like_the_real_time_test(s3):
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/output/0d3b.out", Body=b"0.1")
    with pytest.raises(tasks.DeployError, match="endpoint answered 1 predictions for 2 records"):
        run(s3, runtime_answering(), FakeTime())


def test_the_wait_covers_the_wake_up_alarm_and_an_instance_start():
    # 2 one-minute periods of HasBacklogWithoutCapacity, the configured start-up, 5 minutes of margin
    assert tasks.async_wait_seconds(MANIFEST["endpoint"]) == (4 + 2 + 5) * 60


def test_the_cli_runs_the_async_test_for_an_async_staging_stage(s3, monkeypatch, capsys, tmp_path):
    (tmp_path / "manifest-staging.json").write_text(json.dumps(MANIFEST))
    settings = {"team": "fraud", "model": "card-fraud", "account": "123456789012", "region": REGION,
                "problem_type": "binary_classification", "label": "is_fraud", "smoke_test_max_p95_ms": 1000,
                "sample_data": str(ROOT / "pipelines/modelbuild/data/transactions.csv")}
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(settings))
    monkeypatch.setenv("DEPLOY_OUT", str(tmp_path))
    calls = []

    def fake_async_smoke_test(**kwargs):
        calls.append(sorted(kwargs))
        return {"seconds": 42.0, "requests": 1}

    monkeypatch.setattr(tasks, "async_smoke_test", fake_async_smoke_test)
    assert tasks.main(["smoke-test"]) == 0
    assert calls == [["manifest", "payload", "problem_type", "records", "runtime", "s3", "timeout_seconds"]]
    assert capsys.readouterr().out == "smoke test passed: asynchronous answer after 42 s\n"


@pytest.mark.parametrize("operation", ["put_object", "get_object"])
def test_a_failed_s3_call_is_an_aws_error_the_cli_reports_in_one_line(s3, operation):
    for code, status in FAULTS:
        inject_fault(s3, operation, code, status)
        with pytest.raises(s3.exceptions.ClientError, match=code):
            run(s3, runtime_answering(), FakeTime())


def test_a_failed_invocation_is_an_aws_error(s3):
    for code, status in FAULTS:
        client = boto3.client("sagemaker-runtime", region_name=REGION)
        with Stubber(client) as stub:
            stub.add_client_error("invoke_endpoint_async", code, f"injected {code}", status)
            with pytest.raises(client.exceptions.ClientError, match=code):
                run(s3, client, FakeTime())


# --- mode batch: the staging batch pipeline runs once -------------------------------------------------------
BATCH_MANIFEST = {**MANIFEST, "endpoint": EndpointSettings(mode="batch", batch={
    "schedule": "rate(1 day)", "input_s3_uri": f"s3://{BUCKET}/scoring/in",
    "output_s3_uri": f"s3://{BUCKET}/batch/out"}).model_dump(mode="json")}
EXECUTION = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{ENDPOINT}-batch/execution/abc123"
# StartPipelineExecution ClientRequestToken: 32-128 characters (botocore IdempotencyToken)
TOKEN = "0d3b" * 8


def sagemaker_answering(*statuses: str, failure: str | None = None):
    """DescribePipelineExecution's PipelineExecutionStatus enum (botocore): Executing ... Succeeded/Failed."""
    client = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION}, {
        "PipelineName": f"{ENDPOINT}-batch", "PipelineExecutionDisplayName": "smoke-test", "ClientRequestToken": TOKEN})
    for status in statuses:
        answer = {"PipelineExecutionArn": EXECUTION, "PipelineExecutionStatus": status}
        if failure and status == "Failed":
            answer["FailureReason"] = failure
        stub.add_response("describe_pipeline_execution", answer, {"PipelineExecutionArn": EXECUTION})
    stub.activate()
    return client


def run_batch(client, time: FakeTime, timeout: float = 3600):
    return tasks.batch_smoke_test(sagemaker=client, manifest=BATCH_MANIFEST, timeout_seconds=timeout,
                                  clock=time.clock, sleep=time.sleep, request_id=TOKEN)


def test_a_batch_stage_runs_its_pipeline_once_and_waits_for_success():
    time = FakeTime()
    result = run_batch(sagemaker_answering("Executing", "Executing", "Succeeded"), time)
    assert result == {"seconds": 60.0, "execution": EXECUTION}


def test_a_failed_or_endless_batch_run_fails_in_one_line():
    with pytest.raises(tasks.DeployError, match=r"^the staging batch run .*abc123 ended Failed: ClientError: no input"):
        run_batch(sagemaker_answering("Executing", "Failed", failure="ClientError: no input"), FakeTime())
    with pytest.raises(tasks.DeployError, match=r"is still Executing after 30 s$"):
        run_batch(sagemaker_answering("Executing", "Executing", "Executing"), FakeTime(), timeout=30)


def test_a_failed_start_is_an_aws_error():
    for code, status in FAULTS:
        client = boto3.client("sagemaker", region_name=REGION)
        with Stubber(client) as stub:
            stub.add_client_error("start_pipeline_execution", code, f"injected {code}", status)
            with pytest.raises(client.exceptions.ClientError, match=code):
                run_batch(client, FakeTime())
        client = boto3.client("sagemaker", region_name=REGION)
        with Stubber(client) as stub:
            stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION})
            stub.add_client_error("describe_pipeline_execution", code, f"injected {code}", status)
            with pytest.raises(client.exceptions.ClientError, match=code):
                run_batch(client, FakeTime())


def test_the_smoke_test_waits_are_what_the_tasks_project_allows():
    from stacks.config.endpoint import BATCH_SMOKE_TEST_MINUTES

    assert tasks.async_wait_seconds(BATCH_MANIFEST["endpoint"]) == BATCH_SMOKE_TEST_MINUTES * 60
    assert tasks.async_wait_seconds(EndpointSettings().model_dump(mode="json")) == 600
