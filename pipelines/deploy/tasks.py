#!/usr/bin/env python3
"""The deploy pipeline's CodeBuild tasks (one project, the action sets TASK):

    python -m pipelines.deploy.tasks validate      # Validate: the package may be deployed; write manifests
    python -m pipelines.deploy.tasks smoke-test    # TestStaging: invoke staging, check shape and latency
    python -m pipelines.deploy.tasks record prod   # record the serving package of a stage in SSM

Inputs come from the environment the pipeline sets: MODEL_PACKAGE_ARN (the pipeline variable) and
DEPLOY_SETTINGS (JSON written by the factory from config/factory.yaml). Every refusal is one line on
stderr and a non-zero exit, so the stage fails with a message naming the problem and nothing deploys.
"""

from __future__ import annotations

import csv
import json
import shlex
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import ClientError

from stacks.config.endpoint import EndpointSettings
from stacks.common.naming import (
    api_url_parameter,
    invoke_policy_name,
    artifact_bucket_name,
    async_locations,
    deploy_action_role_name,
    target_role_arn,
)

# standard retry mode: throttling and transient errors retried with backoff and a retry quota
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 10})

PACKAGE_ARN_PREFIX = "arn:aws"
UNSET = {"", "none", "#{variables.ModelPackageArn}"}
SMOKE_RECORDS = 20


class DeployError(Exception):
    pass


# how S3 answers for an object that is not there (HeadObject has no body, so only its status: "404")
MISSING_OBJECT = {"404", "NoSuchKey", "NotFound"}


def serving_parameter(team: str, model: str, stage: str) -> str:
    return f"/model-factory/{team}/{model}/{stage}/model-package-arn"


def review_url(region: str, group: str, version: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/model-registry/model-groups/{quote(group)}/versions/{version}")


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def evaluation_report(s3, package: dict[str, Any]) -> dict[str, Any]:
    """The evaluation report registered with the package (evaluation.json), or {}."""
    uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        return {}
    bucket, key = _split_s3(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def flatten(report: dict[str, Any]) -> dict[str, float]:
    """{metric: value} of a report's *_metrics sections."""
    return {name: float(metric["value"]) for section_name, section in report.items()
            if section_name.endswith("_metrics") for name, metric in section.items()
            if isinstance(metric, dict) and "value" in metric}


def primary_metrics(s3, package: dict[str, Any]) -> dict[str, float]:
    """The evaluation report registered with the package, flattened to {metric: value}."""
    return flatten(evaluation_report(s3, package))


def validate(*, package_arn: str | None, settings: dict[str, Any], sagemaker, s3, ssm, out: Path) -> dict[str, str]:
    team, model, group = settings["team"], settings["model"], settings["model_package_group_name"]
    if not package_arn or package_arn.strip() in UNSET:
        raise DeployError("ModelPackageArn is not set: start the pipeline with the variable "
                          "ModelPackageArn=<approved model package ARN> (the approval hook does this)")
    if not package_arn.startswith(PACKAGE_ARN_PREFIX) or ":model-package/" not in package_arn:
        raise DeployError(f"ModelPackageArn is not a model package ARN (got {package_arn!r})")
    try:
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    except sagemaker.exceptions.ClientError as error:
        raise DeployError(f"model package {package_arn} cannot be read: "
                          f"{error.response['Error'].get('Message', error)}") from None
    if package.get("ModelPackageGroupName") != group:
        raise DeployError(f"model package {package_arn} belongs to group {package.get('ModelPackageGroupName')}, "
                          f"not to {group}: this pipeline deploys only {team}/{model}")
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise DeployError(f"model package {package_arn} is {status}, not Approved")
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    artifacts = [c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")]
    if not artifacts:
        raise DeployError(f"model package {package_arn} has no model artifacts (no ModelDataUrl)")
    for uri in artifacts:
        bucket, key = _split_s3(uri)
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError as error:
            raise unreadable(error, f"model artifacts of {package_arn} are", uri) from None

    requested = dict(settings.get("monitoring", {}))
    clarify = {kind: requested.pop(kind, False) for kind in ("bias", "explainability")}
    engine = requested.get("engine", "factory")
    block = drift_baseline_block(s3, package) if engine == "factory" else monitoring_block(s3, package, **clarify)
    monitoring = {**requested, **block}
    manifests = {}
    for stage in ("staging", "prod"):
        stage_account = settings.get("stage_accounts", {}).get(stage, settings["account"])
        manifests[stage] = {"team": team, "model": model, "stage": stage, "account": stage_account,
                            "factory_account": settings["account"], "tags": settings.get("tags", {}),
                            "region": settings["region"], "model_package_arn": package_arn,
                            "endpoint": settings["endpoint"][stage], "monitoring": monitoring}

    report = evaluation_report(s3, package)
    challenger = flatten(report)
    champion_arn = _parameter(ssm, serving_parameter(team, model, "prod"))
    scored_here = report.get("champion", {})
    same_split = bool(champion_arn and scored_here.get("package_arn") == champion_arn and "error" not in scored_here)
    if same_split:
        # the build scored the serving champion on this challenger's own test split
        champion = flatten(scored_here)
    else:
        champion = primary_metrics(s3, sagemaker.describe_model_package(ModelPackageName=champion_arn)) \
            if champion_arn and champion_arn != package_arn and champion_arn.startswith(PACKAGE_ARN_PREFIX) else {}
    version = package_arn.rsplit("/", 1)[1]
    summary = comparison(version, challenger, champion_arn, champion)
    if champion:
        summary += " (on the same test split)" if same_split else " (each on its own test split)"
    variables = {"APPROVAL_SUMMARY": summary, "REVIEW_URL": review_url(settings["region"], group, version),
                 "PACKAGE_VERSION": version}
    # written only now that every read they depend on succeeded: a failed read leaves no manifest behind
    out.mkdir(parents=True, exist_ok=True)
    for stage, manifest in manifests.items():
        (out / f"manifest-{stage}.json").write_text(json.dumps(manifest, indent=2))
    (out / "variables.json").write_text(json.dumps(variables, indent=2))
    return variables


def unreadable(error, subject: str, uri: str) -> DeployError:
    """`subject` ("<what> is" / "<what> are") missing, or not readable with AWS's error code."""
    code = error.response.get("Error", {}).get("Code", "")
    if code in MISSING_OBJECT:
        return DeployError(f"{subject} missing: {uri}")
    return DeployError(f"{subject.rsplit(' ', 1)[0]} cannot be read ({code}): {uri}")


def read_json(s3, uri: str, subject: str) -> Any:
    """A JSON document the package registered; one DeployError line when it is missing, unreadable or not JSON."""
    bucket, key = _split_s3(uri)
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.ClientError as error:
        raise unreadable(error, subject, uri) from None
    except ValueError:
        raise DeployError(f"{subject.rsplit(' ', 1)[0]} is not JSON: {uri}") from None


def drift_baseline_block(s3, package: dict[str, Any]) -> dict[str, Any]:
    """The factory engine's drift baseline, code and image the build registered with the package
    (CustomerMetadataProperties drift_baseline_uri, drift_code_uri, drift_image_uri) and the baseline's
    features; monitoring stays off for a package registered without them (one built before the engine)."""
    metadata = package.get("CustomerMetadataProperties", {})
    baseline, code, image = (metadata.get(f"drift_{k}_uri") for k in ("baseline", "code", "image"))
    if not (baseline and code and image):
        return {"enabled": False}
    document = read_json(s3, baseline, "drift baseline of the package is")
    features = list(document.get("features", {})) if isinstance(document, dict) else []
    if not features:
        raise DeployError(f"drift baseline of the package names no features: {baseline}")
    return {"drift_baseline": baseline, "drift_code": code, "drift_image": image, "features": features}


def monitoring_block(s3, package: dict[str, Any], *, bias: bool = False, explainability: bool = False) -> dict[str, Any]:
    """The data-quality baseline registered with the package (drift-check baselines) and its features;
    monitoring stays off for a package registered without one. The model-quality baseline, and the
    Clarify bias / explainability baselines and config files when the model asks for those monitors,
    come along when the package has them (an older package, rolled back to, may not)."""
    drift = package.get("DriftCheckBaselines", {})
    quality = drift.get("ModelDataQuality", {})
    statistics = quality.get("Statistics", {}).get("S3Uri")
    constraints = quality.get("Constraints", {}).get("S3Uri")
    if not (statistics and constraints):
        return {"enabled": False}
    document = read_json(s3, constraints, "data-quality constraints of the package are")
    features = [feature["name"] for feature in document.get("features", []) if "name" in feature]
    block: dict[str, Any] = {"baselines": {"statistics": statistics, "constraints": constraints}, "features": features}
    model_quality = drift.get("ModelQuality", {})
    if model_quality.get("Statistics", {}).get("S3Uri") and model_quality.get("Constraints", {}).get("S3Uri"):
        block["model_quality_baselines"] = {"statistics": model_quality["Statistics"]["S3Uri"],
                                            "constraints": model_quality["Constraints"]["S3Uri"]}
    for kind, wanted, section, constraints_key in (("bias", bias, "Bias", "PostTrainingConstraints"),
                                                   ("explainability", explainability, "Explainability", "Constraints")):
        registered = drift.get(section, {})
        config_uri = registered.get("ConfigFile", {}).get("S3Uri")
        constraints_uri = registered.get(constraints_key, {}).get("S3Uri")
        if wanted and config_uri and constraints_uri:
            block[f"{kind}_baselines"] = {"config": config_uri, "constraints": constraints_uri}
    return block


def comparison(version: str, challenger: dict[str, float], champion_arn: str | None,
               champion: dict[str, float]) -> str:
    if not challenger:
        return f"challenger v{version}: no metrics registered"
    parts = []
    for name, value in challenger.items():
        if name in champion:
            parts.append(f"{name} {value:.4f} (champion {champion[name]:.4f}, {value - champion[name]:+.4f})")
        else:
            parts.append(f"{name} {value:.4f}")
    who = f"champion v{champion_arn.rsplit('/', 1)[1]}" if champion else "no champion serving in prod"
    return f"challenger v{version} vs {who}: " + "; ".join(parts)


def _parameter(ssm, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def sample_payload(csv_path: Path, label: str, rows: int = SMOKE_RECORDS) -> tuple[str, int]:
    """Feature rows (label dropped) of the seed data, as the text/csv body the endpoint takes."""
    with csv_path.open() as handle:
        reader = csv.DictReader(handle)
        if label not in (reader.fieldnames or []):
            raise DeployError(f"sample data {csv_path} has no label column {label!r}")
        features = [name for name in reader.fieldnames if name != label]
        lines = []
        for _, record in zip(range(rows), reader):
            lines.append(",".join(record[name] for name in features))
    if not lines:
        raise DeployError(f"sample data {csv_path} has no rows")
    return "\n".join(lines), len(lines)


def check_predictions(body: str, expected: int, problem_type: str) -> list[float]:
    values = [v for v in body.replace("\n", ",").split(",") if v.strip()]
    try:
        scores = [float(v) for v in values]
    except ValueError:
        raise DeployError(f"endpoint answered something that is not CSV numbers: {body[:80]!r}") from None
    if len(scores) != expected:
        raise DeployError(f"endpoint answered {len(scores)} predictions for {expected} records")
    if problem_type == "binary_classification" and not all(0.0 <= s <= 1.0 for s in scores):
        raise DeployError("endpoint answered scores outside [0, 1] for a binary classifier")
    return scores


def smoke_test(*, runtime, manifest: dict[str, Any], payload: str, records: int, problem_type: str,
               max_p95_ms: float, attempts: int = 5, clock=time.perf_counter) -> dict[str, float]:
    endpoint = f"mf-{manifest['team']}-{manifest['model']}-{manifest['stage']}"
    extra = {"InferenceComponentName": f"{endpoint}-ic"} if manifest["endpoint"].get("min_instances", 1) == 0 else {}
    latencies = []
    for _ in range(attempts):
        started = clock()
        response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Accept="text/csv",
                                           Body=payload.encode(), **extra)
        latencies.append((clock() - started) * 1000)
        check_predictions(response["Body"].read().decode(), records, problem_type)
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
    if p95 > max_p95_ms:
        raise DeployError(f"staging latency p95 {p95:.0f} ms is above the {max_p95_ms:.0f} ms limit")
    return {"p95_ms": p95, "requests": attempts}


def async_smoke_test(*, runtime, s3, manifest: dict[str, Any], payload: str, records: int, problem_type: str,
                     timeout_seconds: float, poll_seconds: float = 10, clock=time.monotonic, sleep=time.sleep,
                     request_id: str | None = None) -> dict[str, float]:
    """mode async: put the sample in the endpoint's input prefix, InvokeEndpointAsync, then wait for the answer
    (or the failure) SageMaker writes to the locations the response names (sagemaker-runtime InvokeEndpointAsync:
    X-Amzn-SageMaker-OutputLocation / -FailureLocation). The wait covers a scale-up from zero instances."""
    endpoint = f"mf-{manifest['team']}-{manifest['model']}-{manifest['stage']}"
    bucket = artifact_bucket_name(manifest["team"], manifest.get("factory_account") or manifest["account"],
                                  manifest["region"])
    input_uri = f"{async_locations(bucket, endpoint)['input']}/smoke-test-{request_id or uuid.uuid4().hex}.csv"
    input_bucket, input_key = _split_s3(input_uri)
    s3.put_object(Bucket=input_bucket, Key=input_key, Body=payload.encode(), ContentType="text/csv")
    started = clock()
    response = runtime.invoke_endpoint_async(EndpointName=endpoint, InputLocation=input_uri, ContentType="text/csv",
                                             Accept="text/csv")
    output, failure = response["OutputLocation"], response.get("FailureLocation")
    while True:
        body = _object_text(s3, output)
        if body is not None:
            check_predictions(body, records, problem_type)
            return {"seconds": clock() - started, "requests": 1}
        failed = _object_text(s3, failure) if failure else None
        if failed is not None:
            raise DeployError(f"the staging endpoint failed the asynchronous request: {failed.strip()[:200]} "
                              f"({failure})")
        if clock() - started > timeout_seconds:
            raise DeployError(f"no asynchronous answer at {output} after {timeout_seconds:.0f} s (the endpoint did "
                              "not scale up from zero, or cannot keep up)")
        sleep(poll_seconds)


def _object_text(s3, uri: str) -> str | None:
    bucket, key = _split_s3(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_OBJECT:
            return None
        raise


def batch_smoke_test(*, sagemaker, manifest: dict[str, Any], timeout_seconds: float,
                     poll_seconds: float = 30, clock=time.monotonic, sleep=time.sleep,
                     request_id: str | None = None) -> dict[str, float]:
    """mode batch: run the stage's batch pipeline once (`<endpoint>-batch`, on its configured input) and wait
    for it to succeed (DescribePipelineExecution PipelineExecutionStatus: Executing, Stopping, Stopped, Failed,
    Succeeded, CompletedWithFailures)."""
    name = f"mf-{manifest['team']}-{manifest['model']}-{manifest['stage']}-batch"
    started = clock()
    arn = sagemaker.start_pipeline_execution(
        PipelineName=name, PipelineExecutionDisplayName="smoke-test",
        ClientRequestToken=request_id or uuid.uuid4().hex)["PipelineExecutionArn"]
    while True:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        status = described["PipelineExecutionStatus"]
        if status == "Succeeded":
            return {"seconds": clock() - started, "execution": arn}
        if status in ("Failed", "Stopped", "CompletedWithFailures"):
            raise DeployError(f"the staging batch run {arn} ended {status}"
                              + (f": {described['FailureReason']}" if described.get("FailureReason") else ""))
        if clock() - started > timeout_seconds:
            raise DeployError(f"the staging batch run {arn} is still {status} after {timeout_seconds:.0f} s")
        sleep(poll_seconds)


def async_wait_seconds(endpoint_settings: dict[str, Any]) -> float:
    return EndpointSettings.model_validate(endpoint_settings).smoke_test_wait_seconds


def runtime_client(boto3, settings: dict[str, Any], manifest: dict[str, Any], service: str = "sagemaker-runtime"):
    """A client of the account the stage's endpoint runs in: in a separate account, through the team's
    deploy-action role there (which may invoke and describe the team's endpoints)."""
    if manifest["account"] == settings["account"]:
        return remember_resources(boto3.client(service, config=RETRIES))
    partition = manifest["model_package_arn"].split(":")[1]
    role_arn = target_role_arn(partition, manifest["account"], deploy_action_role_name(settings["team"]))
    sts = remember_resources(boto3.client("sts", config=RETRIES))
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="deploy-task")["Credentials"]
    return remember_resources(boto3.client(service, aws_access_key_id=credentials["AccessKeyId"],
                                           aws_secret_access_key=credentials["SecretAccessKey"],
                                           aws_session_token=credentials["SessionToken"], config=RETRIES))


def check_still_approved(*, sagemaker, package_arn: str) -> str:
    """Right before DeployProd: a package rejected while it waited at the manual gate does not reach prod."""
    status = sagemaker.describe_model_package(ModelPackageName=package_arn).get("ModelApprovalStatus")
    if status != "Approved":
        raise DeployError(f"model package {package_arn} is {status} now: not deploying it to prod")
    return status


def serving_package(sagemaker, endpoint: str) -> str | None:
    """The model package the endpoint really serves: DescribeEndpoint -> endpoint config -> model (an inference
    component's model when the endpoint is served through one) -> its ModelPackageName."""
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model = variants[0].get("ModelName")
    if not model:
        components = sagemaker.list_inference_components(EndpointNameEquals=endpoint)["InferenceComponents"]
        if not components:
            return None
        described = sagemaker.describe_inference_component(
            InferenceComponentName=components[0]["InferenceComponentName"])
        model = described["Specification"]["ModelName"]
    return sagemaker.describe_model(ModelName=model).get("PrimaryContainer", {}).get("ModelPackageName")


def record(*, ssm, settings: dict[str, Any], stage: str, package_arn: str, sagemaker=None) -> str:
    """Record the stage's serving package: the one the endpoint serves (checked when `sagemaker` is given); a
    mismatch (an endpoint that rolled back) is recorded as it is and fails the task with one line."""
    name = serving_parameter(settings["team"], settings["model"], stage)
    actual = package_arn
    if sagemaker is not None:
        endpoint = f"mf-{settings['team']}-{settings['model']}-{stage}"
        actual = serving_package(sagemaker, endpoint) or package_arn
    ssm.put_parameter(Name=name, Value=actual, Type="String", Overwrite=True)
    if actual != package_arn:
        raise DeployError(f"{stage} serves {actual}, not {package_arn} (the endpoint rolled back): recorded "
                          f"{actual} in {name}")
    return name


def client_prefix(bucket: str, endpoint: str) -> str:
    return f"s3://{bucket}/clients/{endpoint}"


def publish_client(*, ssm, s3, settings: dict[str, Any], manifest: dict[str, Any], body: str
                   ) -> tuple[str, dict[str, str], str | None]:
    """Write the stage's client code (pipelines/deploy/client_snippets.py) next to the team's artifacts:
    `clients/<endpoint>/` in the team bucket, with `client.json` saying what it calls. Returns the prefix, the
    files and the URL."""
    from pipelines.deploy.client_snippets import snippets

    team, model, stage = settings["team"], settings["model"], manifest["stage"]
    endpoint = manifest["endpoint"]
    url = None
    if endpoint.get("api"):
        url = _parameter(ssm, api_url_parameter(team, model, stage))
        if url is None:
            raise DeployError(f"{stage} has an API but {api_url_parameter(team, model, stage)} is not there: deploy "
                              f"the team's foundation{' or target' if manifest['account'] != settings['account'] else ''} "
                              "stack with this config first")
    name = f"mf-{team}-{model}-{stage}"
    bucket = artifact_bucket_name(team, settings["account"], settings["region"])
    files = snippets(team=team, model=model, stage=stage, region=settings["region"], endpoint=endpoint, url=url,
                     body=body, async_input=async_locations(bucket, name)["input"])
    prefix = client_prefix(bucket, name)
    described = {"team": team, "model": model, "stage": stage, "mode": endpoint.get("mode", "realtime"),
                 "url": url, "endpoint": None if endpoint.get("mode") == "batch" else name,
                 "auth": (endpoint.get("api") or {}).get("auth"), "model_package_arn": manifest["model_package_arn"],
                 "files": sorted(files)}
    for filename, text in {**files, "client.json": json.dumps(described, indent=2) + "\n"}.items():
        target_bucket, key = _split_s3(f"{prefix}/{filename}")
        s3.put_object(Bucket=target_bucket, Key=key, Body=text.encode(),
                      ContentType="application/json" if filename.endswith(".json") else "text/plain")
    return prefix, files, url


def monthly_cost(cloudwatch, team: str, model: str, now) -> float | None:
    """The model's last monthly cost from the showback (ModelFactory ModelCostUSD), or None. CloudWatch answers
    only for the exact dimensions the figure carries (stacks/common/naming.py showback_dimensions)."""
    from datetime import timedelta

    from stacks.common.naming import showback_dimensions

    points = cloudwatch.get_metric_statistics(
        Namespace="ModelFactory", MetricName="ModelCostUSD",
        Dimensions=[{"Name": k, "Value": v} for k, v in showback_dimensions(team, model).items()],
        StartTime=now - timedelta(days=40), EndTime=now, Period=86400, Statistics=["Maximum"])["Datapoints"]
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"]) if points else None


def serving_entry(*, team: str, model: str, stage: str, endpoint: dict[str, Any], url: str | None) -> dict[str, Any]:
    """The `serving` block of a stage's catalog entry, from its settings (the manifest's `endpoint`)."""
    api = endpoint.get("api") or {}
    mode = endpoint.get("mode", "realtime")
    return {"mode": mode, "endpoint": None if mode == "batch" else f"mf-{team}-{model}-{stage}", "url": url,
            "auth": api.get("auth"),
            "invoke_policy": invoke_policy_name(team, model, stage) if api.get("auth") == "iam" else None,
            "batch_output": (endpoint.get("batch") or {}).get("output_s3_uri")}


def input_content_type(endpoint: dict[str, Any]) -> str:
    """What the stage takes: the API's first content type, else the containers' text/csv."""
    return ((endpoint.get("api") or {}).get("content_types") or ["text/csv"])[0]


def catalog_entry(*, s3, sagemaker, cloudwatch, settings: dict[str, Any], manifest: dict[str, Any],
                  client_files: dict[str, str], url: str | None, now) -> dict[str, Any]:
    """The stage's catalog entry (lambdas/catalog_publish/entry.py) from the registry, the build's reports and
    the deploy's own settings; checked here with the catalog's own model, so a bad entry fails this task."""
    from lambdas.catalog_publish.entry import parse_entry

    team, model, stage = settings["team"], settings["model"], manifest["stage"]
    arn = manifest["model_package_arn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    metadata = package.get("CustomerMetadataProperties", {})
    container = (package.get("InferenceSpecification", {}).get("Containers") or [{}])[0]
    baseline_uri = metadata.get("drift_baseline_uri")
    features = []
    if baseline_uri:
        baseline = read_json(s3, baseline_uri, "drift baseline of the package is")
        features = [{"name": name, "type": spec.get("type", "numeric")}
                    for name, spec in (baseline.get("features", {}) if isinstance(baseline, dict) else {}).items()]
    endpoint = manifest["endpoint"]
    entry = {
        "team": team, "model": model, "stage": stage, "description": settings.get("description"),
        "problem_type": settings["problem_type"], "version": int(arn.rsplit("/", 1)[1]), "model_package_arn": arn,
        "metrics": flatten(evaluation_report(s3, package)),
        "input_schema": {"content_type": input_content_type(endpoint), "features": features},
        "serving": serving_entry(team=team, model=model, stage=stage, endpoint=endpoint, url=url),
        "client": client_files, "owners": settings.get("owners") or [],
        "lineage": {"model_data_url": container.get("ModelDataUrl"), "image": container.get("Image"),
                    "source_commit": metadata.get("git_commit") or package.get("MetadataProperties", {}).get("CommitId"),
                    "build_execution": metadata.get("build_id"), "approval": package.get("ModelApprovalStatus")},
        "monthly_cost_usd": monthly_cost(cloudwatch, team, model, now),
        "recorded_at": now.isoformat(),
    }
    try:
        parse_entry(entry)
    except ValueError as error:
        raise DeployError(f"catalog entry of {team}/{model} {stage}: {error}") from None
    return entry


def publish_entry(events, *, bus_arn: str, entry: dict[str, Any]) -> None:
    """Put the entry on the factory's catalog bus; the catalog checks it again and stores it."""
    from stacks.common.naming import CATALOG_DETAIL_TYPE, CATALOG_SOURCE

    answer = events.put_events(Entries=[{"EventBusName": bus_arn, "Source": CATALOG_SOURCE,
                                         "DetailType": CATALOG_DETAIL_TYPE, "Detail": json.dumps(entry)}])
    if answer.get("FailedEntryCount"):
        failed = answer["Entries"][0]
        raise DeployError(f"the catalog bus {bus_arn} refused the entry: {failed.get('ErrorCode')}: "
                          f"{failed.get('ErrorMessage')}")


# the resource each AWS operation of this run was last called on, for the one-line error of a failed call
LAST_RESOURCE: dict[str, str] = {}
RESOURCE_PARAMETERS = ("ModelPackageName", "EndpointName", "EndpointConfigName", "ModelName",
                       "InferenceComponentName", "EndpointNameEquals", "RoleArn", "Name")


def resource_of(params: dict[str, Any]) -> str:
    if "Bucket" in params:
        return f"s3://{params['Bucket']}/{params.get('Key', params.get('Prefix', ''))}"
    return next((str(params[k]) for k in RESOURCE_PARAMETERS if k in params), "")


def remember_resources(client):
    """Keeps, per operation, what the client last called it on (the API parameters, before serialization;
    the handler changes nothing)."""
    def before_call(params, model, **_):
        LAST_RESOURCE[model.name] = resource_of(params)
    client.meta.events.register("before-parameter-build.*.*", before_call)
    return client


def main(argv: list[str] | None = None) -> int:
    import boto3

    def client(service: str):
        return remember_resources(boto3.client(service, config=RETRIES))

    args = sys.argv[1:] if argv is None else argv
    settings = json.loads(os.environ["DEPLOY_SETTINGS"])
    package_arn = os.environ.get("MODEL_PACKAGE_ARN")
    out = Path(os.environ.get("DEPLOY_OUT", "build/deploy"))
    try:
        if args[:1] == ["validate"]:
            variables = validate(package_arn=package_arn, settings=settings, sagemaker=client("sagemaker"),
                                 s3=client("s3"), ssm=client("ssm"), out=out)
            # CodeBuild exports these to the pipeline (the manual approval shows them)
            for name, value in variables.items():
                print(f"export {name}={shlex.quote(value)}")
        elif args[:1] == ["smoke-test"]:
            manifest = json.loads((out / "manifest-staging.json").read_text())
            payload, records = sample_payload(Path(settings["sample_data"]), settings["label"])
            mode = manifest["endpoint"].get("mode", "realtime")
            if mode == "async":
                result = async_smoke_test(
                    runtime=runtime_client(boto3, settings, manifest), s3=runtime_client(boto3, settings, manifest, "s3"),
                    manifest=manifest, payload=payload, records=records, problem_type=settings["problem_type"],
                    timeout_seconds=async_wait_seconds(manifest["endpoint"]))
                print(f"smoke test passed: asynchronous answer after {result['seconds']:.0f} s")
            elif mode == "batch":
                result = batch_smoke_test(sagemaker=runtime_client(boto3, settings, manifest, service="sagemaker"),
                                          manifest=manifest, timeout_seconds=EndpointSettings.model_validate(
                                              manifest["endpoint"]).smoke_test_wait_seconds)
                print(f"smoke test passed: batch run {result['execution']} succeeded after {result['seconds']:.0f} s")
            else:
                result = smoke_test(runtime=runtime_client(boto3, settings, manifest), manifest=manifest,
                                    payload=payload, records=records, problem_type=settings["problem_type"],
                                    max_p95_ms=settings["smoke_test_max_p95_ms"])
                print(f"smoke test passed: {result['requests']} requests, p95 {result['p95_ms']:.0f} ms")
        elif args[:1] == ["record"] and len(args) == 2 and args[1] in ("staging", "prod"):
            manifest = json.loads((out / f"manifest-{args[1]}.json").read_text())
            batch = manifest["endpoint"].get("mode") == "batch"
            # a batch stage has no endpoint to ask: CloudFormation deployed exactly this package's model
            print(record(ssm=client("ssm"), settings=settings, stage=args[1],
                         package_arn=manifest["model_package_arn"],
                         sagemaker=None if batch else runtime_client(boto3, settings, manifest, service="sagemaker")))
            body, _ = sample_payload(Path(settings["sample_data"]), settings["label"], rows=2)
            prefix, files, url = publish_client(ssm=runtime_client(boto3, settings, manifest, service="ssm"),
                                                s3=client("s3"), settings=settings, manifest=manifest, body=body)
            print(f"client code: {prefix}/ (aws s3 cp --recursive {prefix}/ .)")
            if settings.get("catalog_bus_arn"):
                from datetime import datetime, timezone

                entry = catalog_entry(s3=client("s3"), sagemaker=client("sagemaker"), cloudwatch=client("cloudwatch"),
                                      settings=settings, manifest=manifest, client_files=files, url=url,
                                      now=datetime.now(timezone.utc))
                # the bus's region, which may not be this pipeline's: EventBridge refuses a cross-region bus ARN
                events = remember_resources(boto3.client("events", region_name=settings["catalog_bus_arn"].split(":")[3],
                                                         config=RETRIES))
                publish_entry(events, bus_arn=settings["catalog_bus_arn"], entry=entry)
                print(f"catalog: published {settings['team']}/{settings['model']} {args[1]} v{entry['version']}")
        elif args[:1] == ["check-approved"]:
            print(check_still_approved(sagemaker=client("sagemaker"), package_arn=package_arn or ""))
        else:
            print("usage: tasks.py validate | smoke-test | record <staging|prod> | check-approved", file=sys.stderr)
            return 2
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        details = error.response.get("Error", {})
        resource = LAST_RESOURCE.get(error.operation_name, "")
        print(f"deploy: {error.operation_name}{f' on {resource}' if resource else ''} failed: "
              f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}".rstrip(": "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
