"""The build's run logic: training data and the registry under moto, the execution and CodePipeline with
botocore's Stubber (moto has no pipeline executions), lineage from the environment CodeBuild is given."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pipeline as seed_pipeline
import pytest
import run_pipeline
from botocore.stub import Stubber
from moto import mock_aws
from pipeline import PipelineSettings

from tests.helpers import FAULTS, inject_fault

REGION = "eu-west-1"
ARN = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mf-fraud-card-fraud/execution/abc123"
GROUP = "mf-fraud-card-fraud"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
BUILD = "arn:aws:codebuild:eu-west-1:111111111111:build/mf-fraud-card-fraud-build:6f1c"
SETTINGS = PipelineSettings(
    region=REGION, pipeline_name="mf-fraud-card-fraud", model_package_group_name=GROUP,
    role_arn="arn:aws:iam::111111111111:role/r", bucket="team-bucket", kms_key_arn="arn:aws:kms:eu-west-1:1:key/k",
    git_commit=COMMIT,
)
ENV = {"GIT_COMMIT": COMMIT, "TRIGGER": "schedule", "CODEBUILD_BUILD_ARN": BUILD,
       "CODEPIPELINE_NAME": "mf-fraud-card-fraud-build", "PIPELINE_EXECUTION_ID": "e-1"}


def client(service: str):
    return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def describe(status: str) -> dict:
    return {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}


class Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def s3():
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket="team-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        yield s3


def keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket="team-bucket").get("Contents", [])}


# --- waiting for the execution -----------------------------------------------------------------------

def test_wait_returns_when_the_execution_succeeds():
    sagemaker = client("sagemaker")
    sleeps = []
    with Stubber(sagemaker) as stub:
        for status in ("Executing", "Executing", "Succeeded"):
            stub.add_response("describe_pipeline_execution", describe(status), {"PipelineExecutionArn": ARN})
        assert run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=60, timeout_seconds=3600,
                                               sleep=sleeps.append) == "Succeeded"
        stub.assert_no_pending_responses()
    assert sleeps == [60, 60]


def test_wait_fails_the_build_naming_the_failed_step_on_any_page():
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_pipeline_execution", describe("Failed"), {"PipelineExecutionArn": ARN})
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": [
            {"StepName": "QualityGate", "StepStatus": "Succeeded"}], "NextToken": "page-2"},
            {"PipelineExecutionArn": ARN})
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": [
            {"StepName": "FailQualityGate", "StepStatus": "Failed",
             "FailureReason": "quality gate failed: auc = 0.71, required >= 0.8"}]},
            {"PipelineExecutionArn": ARN, "NextToken": "page-2"})
        with pytest.raises(run_pipeline.BuildError) as caught:
            run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=1, timeout_seconds=60, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert str(caught.value) == (
        "pipeline execution failed: FailQualityGate: quality gate failed: auc = 0.71, required >= 0.8")


def test_a_build_that_gives_up_stops_the_execution_so_it_registers_nothing():
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_pipeline_execution", describe("Executing"), {"PipelineExecutionArn": ARN})
        stub.add_response("describe_pipeline_execution", describe("Executing"), {"PipelineExecutionArn": ARN})
        stub.add_response("stop_pipeline_execution", {"PipelineExecutionArn": ARN},
                          {"PipelineExecutionArn": ARN, "ClientRequestToken": stub_any()})
        with pytest.raises(run_pipeline.BuildError, match="still Executing after 100 s: stopped it, nothing is"):
            run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=1, timeout_seconds=100,
                                            sleep=lambda s: None, clock=Clock(60))
        stub.assert_no_pending_responses()


def test_an_aws_error_while_waiting_is_one_line_naming_the_call_and_code():
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as stub:
        for _ in range(run_pipeline.MAX_FAILED_POLLS):
            stub.add_client_error("describe_pipeline_execution", "AccessDeniedException", "not allowed")
        stub.add_response("stop_pipeline_execution", {"PipelineExecutionArn": ARN})
        with pytest.raises(run_pipeline.BuildError) as caught:
            run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=1, timeout_seconds=60, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert str(caught.value) == (f"sagemaker:DescribePipelineExecution on {ARN} failed: AccessDeniedException: "
                                 "not allowed (5 polls in a row; stopped it)")


def test_a_few_failed_polls_in_a_long_wait_do_not_fail_the_build():
    sagemaker = client("sagemaker")
    with Stubber(sagemaker) as stub:
        for code, status in FAULTS:
            stub.add_client_error("describe_pipeline_execution", service_error_code=code, http_status_code=status)
        stub.add_response("describe_pipeline_execution", describe("Executing"))
        stub.add_client_error("describe_pipeline_execution", "ThrottlingException")
        stub.add_response("describe_pipeline_execution", describe("Succeeded"))
        assert run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=1, timeout_seconds=3600,
                                               sleep=lambda s: None) == "Succeeded"
        stub.assert_no_pending_responses()


def test_clients_retry_throttling_with_botocores_standard_mode():
    # botocore's max_attempts counts retries: 10 retries, 11 attempts in all (botocore config guide, "Retries")
    for name, made in run_pipeline.clients(REGION).items():
        assert made.meta.config.retries == {"mode": "standard", "total_max_attempts": 11}, name


def stub_any():
    from botocore.stub import ANY

    return ANY


# --- training data -------------------------------------------------------------------------------------

def test_an_empty_prefix_gets_the_seed_data_once_and_a_version(s3):
    version, count = run_pipeline.ensure_training_data(s3, SETTINGS, out=lambda line: None)
    assert keys(s3) == {"mf-fraud-card-fraud/data/seed.csv"}
    assert count == 1 and version.startswith("sha256:") and len(version) == 71
    body = s3.get_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/data/seed.csv")["Body"].read()
    assert body == (run_pipeline.DATA / "transactions.csv").read_bytes()
    assert run_pipeline.ensure_training_data(s3, SETTINGS, out=lambda line: None) == (version, 1)


def test_configured_data_is_never_overwritten_and_its_version_follows_its_content(s3):
    s3.put_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/data/2026/12/01.csv", Body=b"is_fraud,a\n0,1\n")
    said = []
    first, count = run_pipeline.ensure_training_data(s3, SETTINGS, out=said.append)
    assert count == 1 and said == [] and keys(s3) == {"mf-fraud-card-fraud/data/2026/12/01.csv"}
    s3.put_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/data/2026/12/02.csv", Body=b"is_fraud,a\n1,2\n")
    second, count = run_pipeline.ensure_training_data(s3, SETTINGS, out=said.append)
    assert count == 2 and second != first


def test_the_seed_never_replaces_an_object_that_appeared_meanwhile(s3, monkeypatch):
    """Another writer fills the prefix between the listing and the seed's put: the conditional put refuses."""
    s3.put_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/data/seed.csv", Body=b"theirs")
    original, calls = run_pipeline.list_csv_objects, []

    def listing(s3_, uri):
        calls.append(uri)
        return [] if len(calls) == 1 else original(s3_, uri)

    monkeypatch.setattr(run_pipeline, "list_csv_objects", listing)
    version, count = run_pipeline.ensure_training_data(s3, SETTINGS, out=lambda line: None)
    assert count == 1 and len(calls) == 2
    assert s3.get_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/data/seed.csv")["Body"].read() == b"theirs"


def test_an_empty_prefix_without_seed_data_is_one_line_naming_it(s3, monkeypatch, tmp_path):
    monkeypatch.setattr(run_pipeline, "DATA", tmp_path)
    with pytest.raises(run_pipeline.BuildError) as caught:
        run_pipeline.ensure_training_data(s3, SETTINGS, out=lambda line: None)
    assert str(caught.value) == ("data_s3_uri: s3://team-bucket/mf-fraud-card-fraud/data/ has no CSV files and the "
                                 "repository has no seed data (data/): upload the training data there")


@pytest.mark.parametrize(("problem_type", "label", "features", "columns"), [
    ("multiclass_classification", "segment", [], None),
    ("regression", "units", [], None),
    ("binary_classification", "churned", ["tenure", "spend"], ["churned", "tenure", "spend"]),
])
def test_seed_data_follows_the_models_problem_type_label_and_features(problem_type, label, features, columns):
    header = run_pipeline.seed_csv(problem_type, label, features).split(b"\n", 1)[0].decode().split(",")
    assert header[0] == label
    if columns:
        assert header == columns


# --- lineage --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("variable", "trigger_type", "expected"), [
    ("schedule", None, "schedule"), ("drift", "StartPipelineExecution", "drift"),
    ("push", "CloudWatchEvent", "push"), ("push", "WebhookV2", "push"),
    ("push", "StartPipelineExecution", "manual"), ("", "StartPipelineExecution", "manual"),
])
def test_the_trigger_is_who_started_the_build(variable, trigger_type, expected):
    assert run_pipeline.resolve_trigger(variable, trigger_type) == expected


def test_a_start_by_hand_is_read_from_the_codepipeline_execution():
    codepipeline = client("codepipeline")
    with Stubber(codepipeline) as stub:
        stub.add_response("get_pipeline_execution", {"pipelineExecution": {
            "pipelineName": "mf-fraud-card-fraud-build", "pipelineExecutionId": "e-1", "status": "InProgress",
            "trigger": {"triggerType": "StartPipelineExecution", "triggerDetail": "arn:aws:iam::1:user/ana"}}},
            {"pipelineName": "mf-fraud-card-fraud-build", "pipelineExecutionId": "e-1"})
        lineage = run_pipeline.lineage_from_environment({**ENV, "TRIGGER": "push"}, codepipeline)
        stub.assert_no_pending_responses()
    assert lineage == run_pipeline.Lineage(git_commit=COMMIT, build_id=BUILD, trigger="manual")


@pytest.mark.parametrize("commit", ["", "#{Source.CommitId}"])
def test_a_build_without_a_commit_fails_in_one_line(commit):
    with pytest.raises(run_pipeline.BuildError, match="^GIT_COMMIT is not set: the build must be started by its "):
        run_pipeline.lineage_from_environment({**ENV, "GIT_COMMIT": commit}, codepipeline=None)


# --- the whole run -------------------------------------------------------------------------------------

class FakePipeline:
    upserts: list[dict] = []

    def __init__(self, settings) -> None:
        self.settings = settings

    def upsert(self, **kwargs) -> None:
        FakePipeline.upserts.append({"settings": self.settings, **kwargs})


@pytest.fixture
def aws(s3, monkeypatch):
    monkeypatch.setattr(run_pipeline, "prepare_sdk_environment", lambda region, offline: None)
    monkeypatch.setattr(seed_pipeline, "build_pipeline", FakePipeline)
    FakePipeline.upserts = []
    monkeypatch.setenv("MODEL_FACTORY_SETTINGS", json.dumps({
        **{k: getattr(SETTINGS, k) for k in ("region", "pipeline_name", "model_package_group_name", "role_arn",
                                              "bucket", "kms_key_arn")},
        "tags": {"model-factory:team": "fraud"}, "a_setting_from_a_newer_factory": 1}))
    sagemaker = client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return {"s3": s3, "sagemaker": sagemaker, "codepipeline": client("codepipeline"), "ssm": client("ssm"),
            "sns": client("sns")}


def register(sagemaker, commit: str, version: str) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP, CustomerMetadataProperties={"git_commit": commit, "training_data_version": version},
        InferenceSpecification={"Containers": [{"Image": "xgboost"}], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]


def test_an_identical_retrain_registers_nothing_and_says_so(aws):
    version, _ = run_pipeline.ensure_training_data(aws["s3"], SETTINGS, out=lambda line: None)
    arn = register(aws["sagemaker"], COMMIT, version)
    said = []
    assert run_pipeline.run(None, env=ENV, aws=aws, out=said.append) == "skipped"
    assert said[-1] == (f"model build: nothing new to train: code {COMMIT[:12]} and data {version[:19]} "
                        f"(s3://team-bucket/mf-fraud-card-fraud/data/) are those of {arn}; no package registered")
    assert FakePipeline.upserts == [] and not any(k.startswith("mf-fraud-card-fraud/code/") for k in keys(aws["s3"]))
    assert said[0].startswith("model build: ignoring setting(s) this code does not know: a_setting_from_a_newer")


def test_new_data_builds_with_the_lineage_of_this_build(aws):
    register(aws["sagemaker"], COMMIT, "sha256:older")
    sagemaker = aws["sagemaker"]
    with Stubber(sagemaker) as stub:
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": []}, {
            "ModelPackageGroupName": GROUP, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1})
        stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, {
            "PipelineName": "mf-fraud-card-fraud", "PipelineExecutionDisplayName": f"schedule-{COMMIT[:12]}",
            "PipelineExecutionDescription": f"schedule build of {COMMIT}", "ClientRequestToken": stub_any()})
        stub.add_response("describe_pipeline_execution", describe("Succeeded"), {"PipelineExecutionArn": ARN})
        assert run_pipeline.run(None, env=ENV, aws=aws, out=lambda line: None) == ARN
        stub.assert_no_pending_responses()
    (upsert,) = FakePipeline.upserts
    settings = upsert["settings"]
    assert settings.lineage() == {
        "git_commit": COMMIT, "git_repository": "offline", "build_id": BUILD, "trigger": "schedule",
        "training_data_uri": "s3://team-bucket/mf-fraud-card-fraud/data/",
        "training_data_version": settings.training_data_version, "problem_type": "binary_classification",
        "quality_metric": "auc"}
    assert settings.training_data_version.startswith("sha256:")
    assert upsert["tags"] == [{"Key": "model-factory:team", "Value": "fraud"}]
    prefix = f"mf-fraud-card-fraud/code/{COMMIT}"
    assert {f"{prefix}/sourcedir.tar.gz", f"{prefix}/preprocess.py", f"{prefix}/evaluate.py",
            f"{prefix}/drift.py"} <= keys(aws["s3"])
    archive = aws["s3"].get_object(Bucket="team-bucket", Key=f"{prefix}/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert {"train.py", "preprocess.py", "evaluate.py"} <= set(tar.getnames())
    assert aws["s3"].head_object(Bucket="team-bucket", Key=f"{prefix}/preprocess.py")["ServerSideEncryption"] == "aws:kms"


def test_settings_refuse_bias_without_a_facet(tmp_path):
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({**run_pipeline.EXAMPLE_SETTINGS, "bias": True}))
    with pytest.raises(run_pipeline.BuildError, match="pipeline settings: bias needs bias_facet_name: the sensitive"):
        run_pipeline.load_settings(settings, warn=lambda line: None)


# --- automatic promotion ---------------------------------------------------------------------------------

AUTO = PipelineSettings(**{**{f: getattr(SETTINGS, f) for f in ("region", "pipeline_name", "model_package_group_name",
                                                              "role_arn", "bucket", "kms_key_arn")},
                           "promotion_mode": "auto", "promotion_min_improvement": 0.002,
                           "champion_parameter": "/model-factory/fraud/card-fraud/prod/model-package-arn"})


def report(*, passed=True, champion=0.95, challenger=0.96, error=None) -> dict:
    body = {"binary_classification_metrics": {"auc": {"value": challenger}},
            "quality_gate": {"metric": "auc", "passed": passed}}
    if champion is not None:
        body["champion"] = {"package_arn": "arn:champion", **({"error": error} if error else {})}
        if not error:
            body["comparison"] = {"metric": "auc", "challenger": challenger, "champion": champion,
                                  "improvement": challenger - champion}
    return body


@pytest.mark.parametrize(("body", "approve", "why"), [
    (report(), True, "auc 0.9600 vs champion 0.9500 on the same test split (+0.0100, needed +0.0020)"),
    (report(challenger=0.951), False, "auc 0.9510 vs champion 0.9500 on the same test split (+0.0010, needed +0.0020)"),
    (report(passed=False), False, "missed its quality gate"),
    (report(champion=None), False, "no champion serves prod yet: the first version is approved by a person"),
    (report(error="XGBoostError: feature_names mismatch"), False,
     "the champion could not be scored on this test split (XGBoostError: feature_names mismatch)"),
])
def test_promotion_approves_only_a_challenger_that_beats_the_champion_on_the_same_split(body, approve, why):
    assert run_pipeline.promotion_decision(body, AUTO) == (approve, why)


def test_promote_approves_the_registered_package_and_tells_the_approvers(aws, monkeypatch):
    arn = register(aws["sagemaker"], COMMIT, "sha256:x")
    execution = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mf-fraud-card-fraud/execution/exec-42"
    aws["s3"].put_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/executions/exec-42/evaluation/evaluation.json",
                         Body=json.dumps(report()).encode())
    topic = aws["sns"].create_topic(Name="mf-fraud-approvers")["TopicArn"]
    monkeypatch.setattr(run_pipeline, "registered_package", lambda sagemaker, execution_arn: arn)
    said = []
    settings = PipelineSettings(**{**AUTO.__dict__, "notification_topic_arn": topic})
    assert run_pipeline.promote(aws, settings, execution, out=said.append) == "approved"
    package = aws["sagemaker"].describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == (
        "auto-promoted: auc 0.9600 vs champion 0.9500 on the same test split (+0.0100, needed +0.0020)")
    assert said == [f"model build: auto-promoted {arn}: auc 0.9600 vs champion 0.9500 on the same test split "
                    "(+0.0100, needed +0.0020)"]


def test_the_champion_is_the_package_serving_prod(aws):
    arn = register(aws["sagemaker"], COMMIT, "sha256:x")
    assert run_pipeline.find_champion(aws["ssm"], aws["sagemaker"], AUTO.champion_parameter) == ("", "")
    aws["ssm"].put_parameter(Name=AUTO.champion_parameter, Value=arn, Type="String")
    assert run_pipeline.find_champion(aws["ssm"], aws["sagemaker"], AUTO.champion_parameter) == (arn, "")


# --- every AWS call fails well (fault matrix; docs/model-build.md, "When an AWS call fails") ------------
# Every call of the build is made through aws_call: a failed one is the build's one line naming the call, the
# resource and AWS's error code; what the build had not done yet stays undone.

EXECUTION = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mf-fraud-card-fraud/execution/exec-42"


def one_line(caught) -> str:
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_a_failed_read_of_the_training_data_uploads_nothing(s3):
    for code, status in FAULTS:
        inject_fault(s3, "list_objects_v2", code, status)
        with pytest.raises(run_pipeline.BuildError) as caught:
            run_pipeline.ensure_training_data(s3, SETTINGS, out=lambda line: None)
        assert one_line(caught).startswith(f"s3:ListObjectsV2 on s3://team-bucket/mf-fraud-card-fraud/data/ failed: {code}")
        assert keys(s3) == set(), code


def test_a_failed_seed_upload_is_one_line(s3):
    for code, status in FAULTS:
        inject_fault(s3, "put_object", code, status)
        with pytest.raises(run_pipeline.BuildError) as caught:
            run_pipeline.ensure_training_data(s3, SETTINGS, out=lambda line: None)
        assert one_line(caught) == f"s3:PutObject on s3://team-bucket/mf-fraud-card-fraud/data/seed.csv failed: {code}"


def test_a_failed_registry_read_starts_no_build(aws):
    register(aws["sagemaker"], COMMIT, "sha256:older")
    aws["ssm"].put_parameter(Name=AUTO.champion_parameter, Value=register(aws["sagemaker"], "c", "v"), Type="String")
    newest = lambda: run_pipeline.newest_package(aws["sagemaker"], GROUP)  # noqa: E731
    champion = lambda: run_pipeline.find_champion(aws["ssm"], aws["sagemaker"], AUTO.champion_parameter)  # noqa: E731
    for client_name, operation, call, name in (
            ("sagemaker", "list_model_packages", newest, "sagemaker:ListModelPackages"),
            ("sagemaker", "describe_model_package", newest, "sagemaker:DescribeModelPackage"),
            ("ssm", "get_parameter", champion, "ssm:GetParameter"),
            ("sagemaker", "describe_model_package", champion, "sagemaker:DescribeModelPackage")):
        for code, status in FAULTS:
            inject_fault(aws[client_name], operation, code, status)
            with pytest.raises(run_pipeline.BuildError) as caught:
                call()
            assert one_line(caught).startswith(f"{name} on ") and f"failed: {code}" in str(caught.value)
    inject_fault(aws["sagemaker"], "list_model_packages", "ThrottlingException")
    with pytest.raises(run_pipeline.BuildError):
        run_pipeline.run(None, env={**ENV, "PIPELINE_EXECUTION_ID": ""}, aws=aws, out=lambda line: None)
    assert FakePipeline.upserts == []


def test_a_failed_code_upload_or_start_waits_for_nothing(aws):
    for operation in ("put_object", "start_pipeline_execution"):
        for code, status in FAULTS:
            target = aws["s3"] if operation == "put_object" else aws["sagemaker"]
            # the training data is already there: the first put is the code's
            run_pipeline.ensure_training_data(aws["s3"], SETTINGS, out=lambda line: None)
            inject_fault(target, operation, code, status)
            with Stubber(aws["sagemaker"]) as stub:
                stub.add_response("list_model_packages", {"ModelPackageSummaryList": []})
                if operation == "start_pipeline_execution":
                    stub.add_client_error("start_pipeline_execution", service_error_code=code, http_status_code=status)
                with pytest.raises(run_pipeline.BuildError) as caught:
                    run_pipeline.run(None, env={**ENV, "PIPELINE_EXECUTION_ID": ""}, aws=aws, out=lambda line: None)
                stub.assert_no_pending_responses()  # no DescribePipelineExecution: nothing is waited for
            name = "s3:PutObject" if operation == "put_object" else "sagemaker:StartPipelineExecution"
            assert one_line(caught).startswith(f"{name} on ") and f"failed: {code}" in str(caught.value)


def test_a_failed_read_of_who_started_the_build_is_one_line():
    codepipeline = client("codepipeline")
    for code, status in FAULTS:
        with Stubber(codepipeline) as stub:
            stub.add_client_error("get_pipeline_execution", service_error_code=code, http_status_code=status)
            with pytest.raises(run_pipeline.BuildError) as caught:
                run_pipeline.lineage_from_environment({**ENV, "TRIGGER": "push"}, codepipeline)
        assert one_line(caught).startswith(f"codepipeline:GetPipelineExecution on mf-fraud-card-fraud-build failed: "
                                           f"{code}")


@pytest.mark.parametrize("operation", ["describe_pipeline_execution", "list_pipeline_execution_steps",
                                       "stop_pipeline_execution"])
def test_a_failed_call_while_waiting_is_one_line(operation):
    sagemaker = client("sagemaker")
    for code, status in FAULTS:
        with Stubber(sagemaker) as stub:
            if operation == "list_pipeline_execution_steps":
                stub.add_response("describe_pipeline_execution", describe("Failed"))
            elif operation == "stop_pipeline_execution":
                stub.add_response("describe_pipeline_execution", describe("Executing"))
            else:  # every poll fails: after MAX_FAILED_POLLS the build gives up and stops the execution
                for _ in range(run_pipeline.MAX_FAILED_POLLS - 1):
                    stub.add_client_error(operation, service_error_code=code, http_status_code=status)
            stub.add_client_error(operation, service_error_code=code, http_status_code=status)
            if operation == "describe_pipeline_execution":
                stub.add_response("stop_pipeline_execution", {"PipelineExecutionArn": ARN})
            with pytest.raises(run_pipeline.BuildError) as caught:
                run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=1, timeout_seconds=10,
                                                sleep=lambda s: None, clock=Clock(60))
            stub.assert_no_pending_responses()
        assert f" on {ARN} failed: {code}" in one_line(caught), (operation, code)


def test_promotion_whose_read_or_approval_fails_approves_nothing(aws, monkeypatch):
    arn = register(aws["sagemaker"], COMMIT, "sha256:x")
    aws["s3"].put_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/executions/exec-42/evaluation/evaluation.json",
                         Body=json.dumps(report()).encode())
    for operation in ("list_pipeline_execution_steps", "get_object", "update_model_package"):
        for code, status in FAULTS:
            if operation == "list_pipeline_execution_steps":
                monkeypatch.undo()
                sagemaker = client("sagemaker")
                with Stubber(sagemaker) as stub:
                    stub.add_client_error(operation, service_error_code=code, http_status_code=status)
                    with pytest.raises(run_pipeline.BuildError) as caught:
                        run_pipeline.registered_package(sagemaker, EXECUTION)
            else:
                monkeypatch.setattr(run_pipeline, "registered_package", lambda sagemaker, execution_arn: arn)
                inject_fault(aws["s3"] if operation == "get_object" else aws["sagemaker"], operation, code, status)
                with pytest.raises(run_pipeline.BuildError) as caught:
                    run_pipeline.promote(aws, AUTO, EXECUTION, out=lambda line: None)
            assert f"failed: {code}" in one_line(caught), (operation, code)
    assert aws["sagemaker"].describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus") != "Approved"


def test_a_failed_notification_after_an_approval_keeps_the_approval_and_says_so(aws, monkeypatch):
    arn = register(aws["sagemaker"], COMMIT, "sha256:x")
    aws["s3"].put_object(Bucket="team-bucket", Key="mf-fraud-card-fraud/executions/exec-42/evaluation/evaluation.json",
                         Body=json.dumps(report()).encode())
    topic = aws["sns"].create_topic(Name="mf-fraud-approvers")["TopicArn"]
    monkeypatch.setattr(run_pipeline, "registered_package", lambda sagemaker, execution_arn: arn)
    settings = PipelineSettings(**{**AUTO.__dict__, "notification_topic_arn": topic})
    for code, status in FAULTS:
        inject_fault(aws["sns"], "publish", code, status)
        said = []
        assert run_pipeline.promote(aws, settings, EXECUTION, out=said.append) == "approved"
        assert said[-1].startswith(f"model build: telling the approvers failed: sns:Publish on {topic} failed: {code}")
    assert aws["sagemaker"].describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"


def test_a_build_that_cannot_stop_the_execution_says_so():
    sagemaker = client("sagemaker")
    for code, status in FAULTS:
        with Stubber(sagemaker) as stub:
            for _ in range(run_pipeline.MAX_FAILED_POLLS):
                stub.add_client_error("describe_pipeline_execution", "ThrottlingException")
            stub.add_client_error("stop_pipeline_execution", service_error_code=code, http_status_code=status)
            with pytest.raises(run_pipeline.BuildError, match=r"\(5 polls in a row; could not stop it either\)$"):
                run_pipeline.wait_for_execution(sagemaker, ARN, poll_seconds=1, timeout_seconds=60, sleep=lambda s: None)
            stub.assert_no_pending_responses()
