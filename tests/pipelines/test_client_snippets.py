"""The client code the deploy records per stage: valid Python that signs (SigV4, service execute-api) or carries
the token, and calls exactly the URL the stage's API recorded; curl with --aws-sigv4 "aws:amz:<region>:execute-api"
(curl's documented provider syntax); written under clients/<endpoint>/ of the team bucket (S3 under moto)."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from moto import mock_aws

from pipelines.deploy import tasks
from pipelines.deploy.client_snippets import snippets
from stacks.config.endpoint import EndpointSettings
from tests.helpers import FAULTS, inject_fault
from tests.synth import ROOT

REGION, ACCOUNT = "eu-west-1", "123456789012"
BUCKET = f"mf-fraud-{ACCOUNT}-{REGION}"
URL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/card-fraud/invocations"
IAM_API = EndpointSettings(api={"auth": "iam"}, initial_instances=2, min_instances=2).model_dump(mode="json")
JWT_ASYNC_API = EndpointSettings(mode="async", min_instances=0, initial_instances=1, api={
    "auth": "jwt", "issuer": "https://login.example.com/oauth2/default", "audience": ["app"]}).model_dump(mode="json")
BODY = "0.5,1,2\n0.7,3,4"


class Answer:
    def __init__(self, body: bytes = b"0.1\n0.2", headers: dict | None = None):
        self.body, self.headers = body, headers or {}

    def read(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def run_snippet(source: str, monkeypatch, answer: Answer, **call) -> tuple[object, urllib.request.Request]:
    sent = []

    def urlopen(request, timeout=None):
        sent.append(request)
        return answer

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    namespace: dict = {"__name__": "client"}
    exec(compile(source, "client.py", "exec"), namespace)  # valid Python, importable as a module
    return namespace["invoke"](**call), sent[0]


def test_the_sigv4_snippet_signs_for_execute_api_and_calls_the_recorded_url(monkeypatch):
    files = snippets(team="fraud", model="card-fraud", stage="prod", region=REGION, endpoint=IAM_API, url=URL, body=BODY)
    assert sorted(files) == ["client.py", "curl.sh"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    result, request = run_snippet(files["client.py"], monkeypatch, Answer())
    assert result == "0.1\n0.2"
    assert request.full_url == URL and request.get_method() == "POST" and request.data == BODY.encode()
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["content-type"] == "text/csv"
    # SigV4: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/execute-api/aws4_request
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/{REGION}/execute-api/aws4_request" in headers["authorization"]
    curl = files["curl.sh"]
    assert f'--aws-sigv4 "aws:amz:{REGION}:execute-api"' in curl and curl.rstrip().endswith(URL)
    assert "-H 'Content-Type: text/csv'" in curl and "--data-binary @/tmp/card-fraud-request.csv" in curl


def test_the_jwt_async_snippet_sends_the_token_and_returns_the_answers_location(monkeypatch):
    files = snippets(team="fraud", model="card-fraud", stage="prod", region=REGION, endpoint=JWT_ASYNC_API, url=URL,
                     body=BODY)
    where = f"s3://{BUCKET}/async/mf-fraud-card-fraud-prod/output/0d3b.out"
    result, request = run_snippet(files["client.py"], monkeypatch, Answer(b"", {"Location": where}), token="t0k3n")
    assert result == where and request.full_url == URL
    assert dict(request.header_items())["Authorization"] == "Bearer t0k3n"
    assert '-H "Authorization: Bearer $TOKEN"' in files["curl.sh"] and "--aws-sigv4" not in files["curl.sh"]


def test_without_an_api_the_snippet_calls_the_runtime_directly():
    files = snippets(team="fraud", model="card-fraud", stage="staging", region=REGION,
                     endpoint=EndpointSettings(min_instances=0, initial_instances=1).model_dump(mode="json"), url=None,
                     body=BODY)
    assert sorted(files) == ["client.py"]
    compile(files["client.py"], "client.py", "exec")
    assert "InferenceComponentName='mf-fraud-card-fraud-staging-ic'" in files["client.py"]


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield {"s3": s3, "ssm": boto3.client("ssm", region_name=REGION)}


SETTINGS = {"team": "fraud", "model": "card-fraud", "account": ACCOUNT, "region": REGION}
MANIFEST = {"stage": "prod", "account": ACCOUNT, "endpoint": IAM_API,
            "model_package_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mf-fraud-card-fraud/3"}


def test_the_deploy_writes_the_stages_client_under_the_team_bucket(aws):
    aws["ssm"].put_parameter(Name="/model-factory/fraud/card-fraud/prod/api-url", Value=URL, Type="String")
    prefix, files, url = tasks.publish_client(ssm=aws["ssm"], s3=aws["s3"], settings=SETTINGS, manifest=MANIFEST,
                                              body=BODY)
    assert url == URL and sorted(files) == ["client.py", "curl.sh"]
    assert prefix == f"s3://{BUCKET}/clients/mf-fraud-card-fraud-prod"
    keys = sorted(o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"clients/mf-fraud-card-fraud-prod/{f}" for f in ("client.json", "client.py", "curl.sh")]
    described = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    assert described["url"] == URL and described["auth"] == "iam" and described["mode"] == "realtime"
    source = aws["s3"].get_object(Bucket=BUCKET, Key=keys[1])["Body"].read().decode()
    assert f"URL = {URL!r}" in source


def test_an_api_stage_whose_url_is_not_recorded_yet_fails_in_one_line(aws):
    with pytest.raises(tasks.DeployError, match="^prod has an API but /model-factory/fraud/card-fraud/prod/api-url "
                                                "is not there: deploy the team's foundation stack"):
        tasks.publish_client(ssm=aws["ssm"], s3=aws["s3"], settings=SETTINGS, manifest=MANIFEST, body=BODY)
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKET)


@pytest.mark.parametrize("operation", ["get_parameter", "put_object"])
def test_a_failed_call_is_an_aws_error(aws, operation):
    aws["ssm"].put_parameter(Name="/model-factory/fraud/card-fraud/prod/api-url", Value=URL, Type="String")
    client = aws["ssm"] if operation == "get_parameter" else aws["s3"]
    for code, status in FAULTS:
        inject_fault(client, operation, code, status)
        with pytest.raises(client.exceptions.ClientError, match=code):
            tasks.publish_client(ssm=aws["ssm"], s3=aws["s3"], settings=SETTINGS, manifest=MANIFEST, body=BODY)


def test_the_sample_body_is_two_feature_rows_of_the_seed_data():
    body, rows = tasks.sample_payload(ROOT / "pipelines/modelbuild/data/transactions.csv", "is_fraud", rows=2)
    assert rows == 2 and len(body.splitlines()) == 2
