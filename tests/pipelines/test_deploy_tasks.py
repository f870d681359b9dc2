"""The deploy pipeline's CodeBuild tasks: Validate under moto, the smoke test with botocore's Stubber."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from pipelines.deploy import tasks
from stacks.config.endpoint import EndpointSettings
from tests.helpers import FAULTS, inject_fault
from tests.synth import ROOT

REGION, BUCKET, GROUP = "eu-west-1", "mf-fraud-123456789012-eu-west-1", "mf-fraud-card-fraud"
SETTINGS = {
    "team": "fraud", "model": "card-fraud", "model_package_group_name": GROUP, "account": "123456789012",
    "region": REGION, "problem_type": "binary_classification", "label": "is_fraud",
    "monitoring": {"schedule": "cron(0 */6 ? * * *)", "drift_threshold": 0.25},
    "endpoint": {"staging": EndpointSettings(min_instances=0, initial_instances=1, max_instances=1).model_dump(mode="json"),
                 "prod": EndpointSettings().model_dump(mode="json")},
}


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        sagemaker.create_model_package_group(ModelPackageGroupName="mf-pricing-demand-forecast")
        yield {"s3": s3, "sagemaker": sagemaker, "ssm": boto3.client("ssm", region_name=REGION)}


def package(aws, status="Approved", group=GROUP, auc=0.95, artifacts=True, baseline=False, clarify=False,
            drift=False, drift_baseline_stored=True) -> str:
    key = f"models/{group}/{auc}/model.tar.gz"
    if artifacts:
        aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=b"model")
    report = f"reports/{group}/{auc}/evaluation.json"
    aws["s3"].put_object(Bucket=BUCKET, Key=report, Body=json.dumps(
        {"binary_classification_metrics": {"auc": {"value": auc, "standard_deviation": 0.01}}}).encode())
    extra = {}
    if baseline:
        prefix = f"baselines/{group}/{auc}"
        aws["s3"].put_object(Bucket=BUCKET, Key=f"{prefix}/constraints.json", Body=json.dumps({
            "version": 0.0, "features": [{"name": "amount", "inferred_type": "Fractional"},
                                         {"name": "hour", "inferred_type": "Integral"}]}).encode())
        aws["s3"].put_object(Bucket=BUCKET, Key=f"{prefix}/statistics.json", Body=b"{}")
        extra["DriftCheckBaselines"] = {"ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{prefix}/mq-statistics.json"},
            "Constraints": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{prefix}/mq-constraints.json"}},
            "ModelDataQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{prefix}/statistics.json"},
            "Constraints": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{prefix}/constraints.json"}}}
        if clarify:
            def source(name):
                return {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{prefix}/{name}"}

            extra["DriftCheckBaselines"].update(
                Bias={"ConfigFile": source("bias/monitoring_config.json"),
                      "PostTrainingConstraints": source("clarify-bias/analysis.json")},
                Explainability={"ConfigFile": source("explainability/monitoring_config.json"),
                                "Constraints": source("clarify-explainability/analysis.json")})
    if drift:  # what the build registers for the factory engine (pipelines/modelbuild/pipeline.py)
        prefix = f"mf-fraud-card-fraud/executions/{auc}/drift-baseline"
        if drift_baseline_stored:
            aws["s3"].put_object(Bucket=BUCKET, Key=f"{prefix}/baseline.json", Body=json.dumps({
                "records": 100, "features": {"amount": {"type": "numeric"}, "online": {"type": "categorical"}}}).encode())
        extra["CustomerMetadataProperties"] = {
            "drift_baseline_uri": f"s3://{BUCKET}/{prefix}/baseline.json",
            "drift_code_uri": f"s3://{BUCKET}/mf-fraud-card-fraud/code/{'a' * 40}/drift.py",
            "drift_image_uri": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"}
    return aws["sagemaker"].create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=status, **extra,
        InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": f"s3://{BUCKET}/{key}"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                      "S3Uri": f"s3://{BUCKET}/{report}"}}},
    )["ModelPackageArn"]


# a model whose endpoints Model Monitor watches (monitoring.engine: model_monitor)
MODEL_MONITOR = {**SETTINGS, "monitoring": {**SETTINGS["monitoring"], "engine": "model_monitor"}}


def validate(aws, arn, out: Path, settings=SETTINGS):
    return tasks.validate(package_arn=arn, settings=settings, sagemaker=aws["sagemaker"], s3=aws["s3"],
                          ssm=aws["ssm"], out=out)


def test_validate_copies_the_factory_engines_baseline_code_and_image(aws, tmp_path):
    from stacks.config.manifest import load_manifest

    validate(aws, package(aws, drift=True, baseline=True), tmp_path)
    monitoring = load_manifest(tmp_path / "manifest-prod.json").monitoring
    assert monitoring.active and monitoring.factory_engine
    assert monitoring.drift_baseline == f"s3://{BUCKET}/mf-fraud-card-fraud/executions/0.95/drift-baseline/baseline.json"
    assert monitoring.drift_code.endswith("/drift.py") and "sagemaker-scikit-learn" in monitoring.drift_image
    assert monitoring.features == ["amount", "online"]  # the drift baseline's, not Model Monitor's
    assert monitoring.baselines is None  # the Model Monitor baseline is not used by the factory engine
    assert (monitoring.schedule, monitoring.threshold) == ("cron(0 */6 ? * * *)", 0.25)


def test_validate_refuses_a_package_whose_drift_baseline_is_gone(aws, tmp_path):
    with pytest.raises(tasks.DeployError, match="^drift baseline of the package is missing: s3://"):
        validate(aws, package(aws, drift=True, drift_baseline_stored=False), tmp_path)


def test_validate_leaves_the_factory_engine_off_for_a_package_built_before_it(aws, tmp_path):
    validate(aws, package(aws, baseline=True), tmp_path)
    assert json.loads((tmp_path / "manifest-prod.json").read_text())["monitoring"]["enabled"] is False


def test_validate_writes_both_manifests_and_compares_with_the_champion(aws, tmp_path):
    champion = package(aws, auc=0.93)
    aws["ssm"].put_parameter(Name="/model-factory/fraud/card-fraud/prod/model-package-arn", Value=champion,
                             Type="String")
    challenger = package(aws, auc=0.95)
    variables = validate(aws, challenger, tmp_path)
    for stage in ("staging", "prod"):
        manifest = json.loads((tmp_path / f"manifest-{stage}.json").read_text())
        assert manifest["stage"] == stage and manifest["model_package_arn"] == challenger
        assert manifest["endpoint"] == SETTINGS["endpoint"][stage]
    assert variables["APPROVAL_SUMMARY"] == ("challenger v2 vs champion v1: auc 0.9500 (champion 0.9300, +0.0200) "
                                             "(each on its own test split)")
    assert variables["REVIEW_URL"].startswith("https://eu-west-1.console.aws.amazon.com/sagemaker/")
    assert "mf-fraud-card-fraud" in variables["REVIEW_URL"]


def test_validate_the_manifest_is_what_the_endpoint_app_accepts(aws, tmp_path):
    from stacks.config.manifest import load_manifest

    validate(aws, package(aws), tmp_path)
    assert load_manifest(tmp_path / "manifest-staging.json").endpoint.scale_to_zero


@pytest.mark.parametrize("arn", [None, "", "none", "#{variables.ModelPackageArn}"])
def test_validate_refuses_a_run_started_by_hand_without_the_variable(aws, tmp_path, arn):
    with pytest.raises(tasks.DeployError, match="^ModelPackageArn is not set: start the pipeline with"):
        validate(aws, arn, tmp_path)
    assert not list(tmp_path.iterdir())


def test_validate_refuses_a_package_that_is_not_approved(aws, tmp_path):
    arn = package(aws, status="PendingManualApproval")
    with pytest.raises(tasks.DeployError, match=f"^model package {arn} is PendingManualApproval, not Approved$"):
        validate(aws, arn, tmp_path)


def test_validate_refuses_another_models_package(aws, tmp_path):
    arn = package(aws, group="mf-pricing-demand-forecast")
    with pytest.raises(tasks.DeployError, match="belongs to group mf-pricing-demand-forecast, not to mf-fraud-card-fraud"):
        validate(aws, arn, tmp_path)


def test_validate_refuses_a_package_whose_artifacts_are_missing(aws, tmp_path):
    arn = package(aws, artifacts=False)
    with pytest.raises(tasks.DeployError, match=f"^model artifacts of {arn} are missing: s3://"):
        validate(aws, arn, tmp_path)
    assert not list(tmp_path.iterdir())


def test_validate_refuses_an_unknown_package(aws, tmp_path):
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/42"
    with pytest.raises(tasks.DeployError, match=f"^model package {arn} cannot be read"):
        validate(aws, arn, tmp_path)


def test_the_cli_prints_one_line_and_fails(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(SETTINGS))
    monkeypatch.delenv("MODEL_PACKAGE_ARN", raising=False)
    monkeypatch.setenv("DEPLOY_OUT", str(tmp_path))
    assert tasks.main(["validate"]) == 1
    assert capsys.readouterr().err.startswith("deploy: ModelPackageArn is not set")


def runtime_with(responses: list[str]):
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    stub = Stubber(client)
    for body in responses:
        stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body.encode()), len(body)),
                                              "ContentType": "text/csv"})
    stub.activate()
    return client


def staging_manifest() -> dict:
    return {"team": "fraud", "model": "card-fraud", "stage": "staging", "endpoint": SETTINGS["endpoint"]["staging"]}


def test_smoke_test_sends_seed_records_and_checks_shape_and_latency():
    payload, records = tasks.sample_payload(ROOT / "pipelines/modelbuild/data/transactions.csv", "is_fraud")
    assert records == 20 and "is_fraud" not in payload and len(payload.splitlines()[0].split(",")) == 11
    ticks = iter([0.0, 0.05] * 5)
    result = tasks.smoke_test(runtime=runtime_with([",".join(["0.1"] * 20)] * 5), manifest=staging_manifest(),
                              payload=payload, records=records, problem_type="binary_classification",
                              max_p95_ms=500, clock=lambda: next(ticks))
    assert result["requests"] == 5 and result["p95_ms"] == pytest.approx(50)


def test_smoke_test_fails_on_a_wrong_number_of_predictions():
    with pytest.raises(tasks.DeployError, match="endpoint answered 3 predictions for 20 records"):
        tasks.smoke_test(runtime=runtime_with(["0.1,0.2,0.3"]), manifest=staging_manifest(), payload="x", records=20,
                         problem_type="binary_classification", max_p95_ms=500, attempts=1)


def test_smoke_test_fails_on_scores_outside_the_unit_interval_and_on_slow_answers():
    with pytest.raises(tasks.DeployError, match="outside \\[0, 1\\]"):
        tasks.smoke_test(runtime=runtime_with(["1.5"]), manifest=staging_manifest(), payload="x", records=1,
                         problem_type="binary_classification", max_p95_ms=500, attempts=1)
    ticks = iter([0.0, 3.0])
    with pytest.raises(tasks.DeployError, match="staging latency p95 3000 ms is above the 500 ms limit"):
        tasks.smoke_test(runtime=runtime_with(["0.5"]), manifest=staging_manifest(), payload="x", records=1,
                         problem_type="binary_classification", max_p95_ms=500, attempts=1, clock=lambda: next(ticks))


def test_smoke_test_addresses_the_inference_component_when_staging_scales_to_zero():
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(b"0.5"), 3)}, {
            "EndpointName": "mf-fraud-card-fraud-staging", "ContentType": "text/csv", "Accept": "text/csv",
            "Body": b"x", "InferenceComponentName": "mf-fraud-card-fraud-staging-ic"})
        tasks.smoke_test(runtime=client, manifest=staging_manifest(), payload="x", records=1,
                         problem_type="binary_classification", max_p95_ms=60_000, attempts=1)


def test_record_writes_the_serving_parameter(aws):
    name = tasks.record(ssm=aws["ssm"], settings=SETTINGS, stage="prod", package_arn="arn:x")
    assert aws["ssm"].get_parameter(Name=name)["Parameter"]["Value"] == "arn:x"
    assert name == "/model-factory/fraud/card-fraud/prod/model-package-arn"


def test_validate_copies_the_registered_baseline_and_its_features_into_the_manifests(aws, tmp_path):
    from stacks.config.manifest import load_manifest

    validate(aws, package(aws, baseline=True), tmp_path, MODEL_MONITOR)
    manifest = load_manifest(tmp_path / "manifest-prod.json")
    assert manifest.monitoring.active
    assert manifest.monitoring.baselines.constraints.endswith("/constraints.json")
    assert manifest.monitoring.features == ["amount", "hour"]
    assert (manifest.monitoring.schedule, manifest.monitoring.drift_threshold) == ("cron(0 */6 ? * * *)", 0.25)
    assert manifest.monitoring.model_quality_baselines.constraints.endswith("/mq-constraints.json")


def test_validate_leaves_monitoring_off_for_a_package_without_baseline(aws, tmp_path):
    validate(aws, package(aws), tmp_path)
    assert json.loads((tmp_path / "manifest-prod.json").read_text())["monitoring"]["enabled"] is False


def test_validate_copies_the_clarify_baselines_only_when_the_model_asks_for_the_monitors(aws, tmp_path):
    from stacks.config.manifest import load_manifest

    arn = package(aws, baseline=True, clarify=True)
    validate(aws, arn, tmp_path / "off", MODEL_MONITOR)
    off = load_manifest(tmp_path / "off" / "manifest-prod.json").monitoring
    assert off.bias_baselines is None and off.explainability_baselines is None
    settings = {**SETTINGS, "monitoring": {**MODEL_MONITOR["monitoring"], "bias": True, "explainability": True,
                                           "ground_truth_s3_uri": f"s3://{BUCKET}/ground-truth"}}
    tasks.validate(package_arn=arn, settings=settings, sagemaker=aws["sagemaker"], s3=aws["s3"], ssm=aws["ssm"],
                   out=tmp_path / "on")
    on = load_manifest(tmp_path / "on" / "manifest-prod.json").monitoring
    assert on.bias_baselines.config.endswith("/bias/monitoring_config.json")
    assert on.bias_baselines.constraints.endswith("/clarify-bias/analysis.json")
    assert on.explainability_baselines.constraints.endswith("/clarify-explainability/analysis.json")
    assert on.bias_active and on.explainability_active


def test_validate_deploys_an_older_package_without_clarify_baselines_with_those_monitors_off(aws, tmp_path):
    from stacks.config.manifest import load_manifest

    settings = {**SETTINGS, "monitoring": {**MODEL_MONITOR["monitoring"], "bias": True, "explainability": True}}
    tasks.validate(package_arn=package(aws, baseline=True), settings=settings, sagemaker=aws["sagemaker"],
                   s3=aws["s3"], ssm=aws["ssm"], out=tmp_path)
    monitoring = load_manifest(tmp_path / "manifest-prod.json").monitoring
    assert monitoring.active and not monitoring.bias_active and not monitoring.explainability_active


def test_validate_puts_each_stage_in_its_account_and_names_the_factory_account(aws, tmp_path):
    from stacks.config.manifest import load_manifest

    settings = {**SETTINGS, "stage_accounts": {"staging": "333333333333", "prod": "444444444444"},
                "tags": {"model-factory:cost-center": "cc-1234"}}
    tasks.validate(package_arn=package(aws), settings=settings, sagemaker=aws["sagemaker"], s3=aws["s3"],
                   ssm=aws["ssm"], out=tmp_path)
    staging, prod = (load_manifest(tmp_path / f"manifest-{s}.json") for s in ("staging", "prod"))
    assert (staging.account, prod.account) == ("333333333333", "444444444444")
    assert staging.factory_account == prod.factory_account == "123456789012"
    assert staging.home_account == "123456789012"
    assert prod.tags == {"model-factory:cost-center": "cc-1234"}


def test_smoke_test_in_a_separate_staging_account_assumes_the_teams_role_there():
    with mock_aws():
        manifest = {**staging_manifest(), "account": "333333333333",
                    "model_package_arn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"}
        calls = []
        real_client = boto3.client

        class Recorder:
            @staticmethod
            def client(name, **kwargs):
                calls.append((name, sorted(kwargs)))
                return real_client(name, region_name=REGION, **kwargs)

        tasks.runtime_client(Recorder, SETTINGS, manifest)
        assert calls[0] == ("sts", ["config"])
        assert calls[1] == ("sagemaker-runtime", ["aws_access_key_id", "aws_secret_access_key", "aws_session_token",
                                                  "config"])
        calls.clear()
        tasks.runtime_client(Recorder, SETTINGS, {**manifest, "account": SETTINGS["account"]})
        assert calls == [("sagemaker-runtime", ["config"])]


PROD_ARN = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/7"
OLD_ARN = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/6"


def describe_chain(stub, endpoint: str, serving: str, *, component: bool = False) -> None:
    """DescribeEndpoint -> DescribeEndpointConfig -> (inference component) -> DescribeModel, as the SageMaker
    API reference shapes them."""
    stub.add_response("describe_endpoint", {
        "EndpointName": endpoint, "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{endpoint}",
        "EndpointConfigName": "EndpointConfig-abc", "EndpointStatus": "InService",
        "CreationTime": "2026-12-01T00:00:00Z", "LastModifiedTime": "2026-12-01T00:00:00Z"},
        {"EndpointName": endpoint})
    variant = {"VariantName": "g5-xlarge", "InstanceType": "ml.g5.xlarge"}
    if not component:
        variant["ModelName"] = "Model-abc"
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": "EndpointConfig-abc",
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint-config/endpointconfig-abc",
        "ProductionVariants": [variant], "CreationTime": "2026-12-01T00:00:00Z"},
        {"EndpointConfigName": "EndpointConfig-abc"})
    if component:
        stub.add_response("list_inference_components", {"InferenceComponents": [{
            "InferenceComponentName": f"{endpoint}-ic", "EndpointName": endpoint, "VariantName": "g5-xlarge",
            "InferenceComponentArn": f"arn:aws:sagemaker:{REGION}:123456789012:inference-component/{endpoint}-ic",
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{endpoint}",
            "CreationTime": "2026-12-01T00:00:00Z", "LastModifiedTime": "2026-12-01T00:00:00Z"}]},
            {"EndpointNameEquals": endpoint})
        stub.add_response("describe_inference_component", {
            "InferenceComponentName": f"{endpoint}-ic", "EndpointName": endpoint,
            "InferenceComponentArn": f"arn:aws:sagemaker:{REGION}:123456789012:inference-component/{endpoint}-ic",
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{endpoint}",
            "Specification": {"ModelName": "Model-abc"}, "CreationTime": "2026-12-01T00:00:00Z",
            "LastModifiedTime": "2026-12-01T00:00:00Z"}, {"InferenceComponentName": f"{endpoint}-ic"})
    stub.add_response("describe_model", {
        "ModelName": "Model-abc", "ModelArn": f"arn:aws:sagemaker:{REGION}:123456789012:model/model-abc",
        "PrimaryContainer": {"ModelPackageName": serving}, "CreationTime": "2026-12-01T00:00:00Z"},
        {"ModelName": "Model-abc"})


@pytest.mark.parametrize("component", [False, True])
def test_record_checks_which_package_the_endpoint_really_serves(aws, component):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stage = "staging" if component else "prod"
    with Stubber(sagemaker) as stub:
        describe_chain(stub, f"mf-fraud-card-fraud-{stage}", PROD_ARN, component=component)
        name = tasks.record(ssm=aws["ssm"], settings=SETTINGS, stage=stage, package_arn=PROD_ARN, sagemaker=sagemaker)
        stub.assert_no_pending_responses()
    assert aws["ssm"].get_parameter(Name=name)["Parameter"]["Value"] == PROD_ARN


def test_an_endpoint_that_rolled_back_is_recorded_as_it_is_and_said(aws):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    with Stubber(sagemaker) as stub:
        describe_chain(stub, "mf-fraud-card-fraud-prod", OLD_ARN)
        with pytest.raises(tasks.DeployError) as caught:
            tasks.record(ssm=aws["ssm"], settings=SETTINGS, stage="prod", package_arn=PROD_ARN, sagemaker=sagemaker)
        stub.assert_no_pending_responses()
    assert str(caught.value) == (f"prod serves {OLD_ARN}, not {PROD_ARN} (the endpoint rolled back): recorded "
                                 f"{OLD_ARN} in /model-factory/fraud/card-fraud/prod/model-package-arn")
    assert aws["ssm"].get_parameter(Name="/model-factory/fraud/card-fraud/prod/model-package-arn")[
        "Parameter"]["Value"] == OLD_ARN


def test_a_package_rejected_at_the_gate_does_not_reach_prod(aws):
    arn = package(aws)
    assert tasks.check_still_approved(sagemaker=aws["sagemaker"], package_arn=arn) == "Approved"
    aws["sagemaker"].update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    with pytest.raises(tasks.DeployError, match="is Rejected now: not deploying it to prod"):
        tasks.check_still_approved(sagemaker=aws["sagemaker"], package_arn=arn)


# --- every AWS call fails well (fault matrix; docs/approval-and-deploy.md, "When an AWS call fails") --------
# A task's failed call is one line naming the call, the resource and AWS's error code, exit 1, and no file a
# later stage reads (manifests, variables) is left behind.

REAL_CLIENT = boto3.client


def faulty_clients(monkeypatch, operation: str, code: str, status: int, after: int = 0) -> None:
    """boto3.client as the tasks call it, on moto, with `operation` failing once (after `after` good calls)."""
    def client(service, *args, **kwargs):
        made = REAL_CLIENT(service, *args, **{"region_name": REGION, **kwargs})
        if operation in made.meta.method_to_api_mapping:
            inject_fault(made, operation, code, status, after=after)
        return made
    monkeypatch.setattr(boto3, "client", client)


VALIDATE_CALLS = [  # in the order Validate makes them; `after` skips the earlier calls of the same operation
    ("describe_model_package", 0, "model package {arn} cannot be read: injected {code}"),
    ("head_object", 0, "model artifacts of {arn} cannot be read ({code}): s3://"),
    ("get_object", 0, "drift baseline of the package cannot be read ({code}): s3://"),
    ("get_object", 1, "GetObject on s3://{bucket}/reports/mf-fraud-card-fraud/0.95/evaluation.json failed: {code}"),
    ("get_parameter", 0, "GetParameter on /model-factory/fraud/card-fraud/prod/model-package-arn failed: {code}"),
    ("describe_model_package", 1, "DescribeModelPackage on {champion} failed: {code}"),
]


@pytest.mark.parametrize("operation, after, line", VALIDATE_CALLS)
def test_validate_fails_in_one_line_and_writes_no_manifest_when_a_call_fails(aws, monkeypatch, capsys, tmp_path,
                                                                              operation, after, line):
    champion = package(aws, auc=0.93)
    aws["ssm"].put_parameter(Name="/model-factory/fraud/card-fraud/prod/model-package-arn", Value=champion,
                             Type="String")
    arn = package(aws, drift=True)
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(SETTINGS))
    monkeypatch.setenv("MODEL_PACKAGE_ARN", arn)
    for number, (code, status) in enumerate(FAULTS):
        out = tmp_path / str(number)
        monkeypatch.setenv("DEPLOY_OUT", str(out))
        faulty_clients(monkeypatch, operation, code, status, after)
        assert tasks.main(["validate"]) == 1, code
        (message,) = capsys.readouterr().err.splitlines()
        assert message.startswith("deploy: " + line.format(arn=arn, code=code, bucket=BUCKET, champion=champion)), (
            message)
        assert not out.exists() or not list(out.iterdir()), code


def test_validate_with_model_monitor_fails_in_one_line_when_the_constraints_cannot_be_read(aws, tmp_path):
    arn = package(aws, baseline=True)
    for code, status in FAULTS:
        inject_fault(aws["s3"], "get_object", code, status)
        with pytest.raises(tasks.DeployError, match=rf"^data-quality constraints of the package cannot be read "
                                                    rf"\({code}\): s3://"):
            validate(aws, arn, tmp_path / code, MODEL_MONITOR)
        assert not (tmp_path / code).exists()


def test_check_approved_fails_in_one_line_on_any_fault(aws, monkeypatch, capsys):
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(SETTINGS))
    monkeypatch.setenv("MODEL_PACKAGE_ARN", PROD_ARN)
    for code, status in FAULTS:
        faulty_clients(monkeypatch, "describe_model_package", code, status)
        assert tasks.main(["check-approved"]) == 1
        assert capsys.readouterr().err.splitlines() == [
            f"deploy: DescribeModelPackage on {PROD_ARN} failed: {code}: injected {code}"]


class FailAt:
    """A Stubber whose answer to `operation` is the error, and which answers nothing after it."""

    def __init__(self, stub, operation: str, code: str, status: int) -> None:
        self.stub, self.operation, self.code, self.status, self.failed = stub, operation, code, status, False

    def add_response(self, operation, response, params=None):
        if self.failed:
            return
        if operation == self.operation:
            self.stub.add_client_error(operation, service_error_code=self.code, http_status_code=self.status)
            self.failed = True
        else:
            self.stub.add_response(operation, response, params)


@pytest.mark.parametrize("operation, component", [
    ("describe_endpoint", False), ("describe_endpoint_config", False), ("list_inference_components", True),
    ("describe_inference_component", True), ("describe_model", False)])
def test_record_records_nothing_when_the_check_of_what_serves_fails(aws, operation, component):
    from botocore.exceptions import ClientError

    stage = "staging" if component else "prod"
    name = f"/model-factory/fraud/card-fraud/{stage}/model-package-arn"
    aws["ssm"].put_parameter(Name=name, Value=OLD_ARN, Type="String")
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for code, status in FAULTS:
        with Stubber(sagemaker) as stub:
            describe_chain(FailAt(stub, operation, code, status), f"mf-fraud-card-fraud-{stage}", PROD_ARN,
                           component=component)
            with pytest.raises(ClientError, match=code):
                tasks.record(ssm=aws["ssm"], settings=SETTINGS, stage=stage, package_arn=PROD_ARN, sagemaker=sagemaker)
            stub.assert_no_pending_responses()
        assert aws["ssm"].get_parameter(Name=name)["Parameter"]["Value"] == OLD_ARN, code


def test_a_failed_record_is_one_line(aws, monkeypatch, capsys, tmp_path):
    (tmp_path / "manifest-prod.json").write_text(json.dumps({
        "stage": "prod", "account": SETTINGS["account"], "model_package_arn": PROD_ARN,
        "endpoint": SETTINGS["endpoint"]["prod"]}))
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(SETTINGS))
    monkeypatch.setenv("DEPLOY_OUT", str(tmp_path))
    for code, status in FAULTS:
        faulty_clients(monkeypatch, "describe_endpoint", code, status)
        assert tasks.main(["record", "prod"]) == 1
        assert capsys.readouterr().err.splitlines() == [
            f"deploy: DescribeEndpoint on mf-fraud-card-fraud-prod failed: {code}: injected {code}"]
    with pytest.raises(aws["ssm"].exceptions.ParameterNotFound):  # nothing recorded
        aws["ssm"].get_parameter(Name="/model-factory/fraud/card-fraud/prod/model-package-arn")


def test_a_failed_parameter_write_is_one_line(aws, monkeypatch, capsys):
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(SETTINGS))
    for code, status in FAULTS:
        inject_fault(aws["ssm"], "put_parameter", code, status)
        from botocore.exceptions import ClientError
        with pytest.raises(ClientError, match=code):
            tasks.record(ssm=aws["ssm"], settings=SETTINGS, stage="prod", package_arn=PROD_ARN)


@pytest.mark.parametrize("operation, separate", [("invoke_endpoint", False), ("assume_role", True)])
def test_a_failed_smoke_test_call_is_one_line(aws, monkeypatch, capsys, tmp_path, operation, separate):
    manifest = {**staging_manifest(), "account": "333333333333" if separate else SETTINGS["account"],
                "model_package_arn": PROD_ARN}
    (tmp_path / "manifest-staging.json").write_text(json.dumps(manifest))
    settings = {**SETTINGS, "sample_data": str(ROOT / "pipelines/modelbuild/data/transactions.csv"),
                "smoke_test_max_p95_ms": 1000}
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(settings))
    monkeypatch.setenv("DEPLOY_OUT", str(tmp_path))
    resource = ("arn:aws:iam::333333333333:role/mf-fraud-deploy-action" if separate else "mf-fraud-card-fraud-staging")
    for code, status in FAULTS:
        faulty_clients(monkeypatch, operation, code, status)
        assert tasks.main(["smoke-test"]) == 1
        api = {"invoke_endpoint": "InvokeEndpoint", "assume_role": "AssumeRole"}[operation]
        assert capsys.readouterr().err.splitlines() == [f"deploy: {api} on {resource} failed: {code}: injected {code}"]


def test_the_gate_compares_both_models_on_the_same_split_when_the_build_scored_the_champion(aws, tmp_path):
    champion = package(aws, auc=0.93)
    aws["ssm"].put_parameter(Name="/model-factory/fraud/card-fraud/prod/model-package-arn", Value=champion,
                             Type="String")
    challenger = package(aws, auc=0.95)
    described = aws["sagemaker"].describe_model_package(ModelPackageName=challenger)
    bucket, key = tasks._split_s3(described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    aws["s3"].put_object(Bucket=bucket, Key=key, Body=json.dumps({
        "binary_classification_metrics": {"auc": {"value": 0.95}},
        "champion": {"package_arn": champion, "binary_classification_metrics": {"auc": {"value": 0.91}}}}).encode())
    variables = validate(aws, challenger, tmp_path)
    assert variables["APPROVAL_SUMMARY"] == ("challenger v2 vs champion v1: auc 0.9500 (champion 0.9100, +0.0400) "
                                             "(on the same test split)")


def test_deploy_task_clients_retry_throttling_in_standard_mode(aws, monkeypatch):
    """boto3 guide "Retries": standard mode retries throttling and transient errors; the default is legacy."""
    made = []
    real = boto3.client

    def recording(name, **kwargs):
        made.append((name, kwargs.get("config")))
        return real(name, region_name=REGION, **{k: v for k, v in kwargs.items() if k != "region_name"})

    monkeypatch.setattr(boto3, "client", recording)
    monkeypatch.setenv("DEPLOY_SETTINGS", json.dumps(SETTINGS))
    monkeypatch.setenv("MODEL_PACKAGE_ARN", package(aws))
    assert tasks.main(["check-approved"]) == 0
    assert made and all(config is not None and config.retries == {"mode": "standard", "total_max_attempts": 10}
                        for _, config in made)