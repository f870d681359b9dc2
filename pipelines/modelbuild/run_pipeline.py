#!/usr/bin/env python3
"""Entry points of the model build.

    python run_pipeline.py definition --out pipeline.json   # offline: no credentials, no network
    python run_pipeline.py run                              # CodeBuild: data, code, upsert, start, wait

Settings come from the MODEL_FACTORY_SETTINGS environment variable (JSON, written by the factory into
the CodeBuild project from config/factory.yaml) or, for `definition`, from --settings FILE or the
example settings below. A setting this copy of the code does not know (a newer factory) is reported and
ignored, so that a factory upgrade never breaks a team repository.

`run` needs what CodeBuild is given by the build pipeline: GIT_COMMIT (the source action's commit),
TRIGGER (the pipeline variable: push, schedule or drift), PIPELINE_EXECUTION_ID and CODEPIPELINE_NAME
(to tell a push from a start by hand), and CODEBUILD_BUILD_ARN.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = HERE / "code"
DATA = HERE / "data"
TERMINAL_STATES = {"Succeeded", "Failed", "Stopped"}
TRIGGERS = ("push", "schedule", "drift", "manual")
# CodePipeline trigger types of an execution nobody asked for by hand (GetPipelineExecution trigger.triggerType)
AUTOMATIC_TRIGGER_TYPES = {"CreatePipeline", "CloudWatchEvent", "PollForSourceChanges", "Webhook", "WebhookV2",
                           "PutActionRevision"}
SEED_OBJECT = "seed.csv"
# the ApprovalDescription of an automatic approval; the approval hook recognises it (prod_gate: auto)
AUTO_PROMOTED = "auto-promoted: "
# the build stops polling this long before CodeBuild's own timeout, to stop the execution and say so
STOP_MARGIN_SECONDS = 600

EXAMPLE_SETTINGS = {
    "region": "eu-west-1",
    "pipeline_name": "mf-fraud-card-fraud",
    "model_package_group_name": "mf-fraud-card-fraud",
    "role_arn": "arn:aws:iam::111111111111:role/mf-fraud-sagemaker-execution",
    "bucket": "mf-fraud-artifacts-example",
    "kms_key_arn": "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000",
    "training_instance_type": "ml.g5.xlarge",
    "training_volume_kms": False,
    "use_spot": True,
}


class BuildError(Exception):
    """A failure the build reports in one line and a non-zero exit."""


def prepare_sdk_environment(region: str, offline: bool) -> None:
    """What the SageMaker SDK needs before it is imported (it creates clients at import)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    if offline:
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        # Clients are created but never called offline; botocore still wants credentials to exist.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "offline")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "offline")
    from sagemaker.core.telemetry import telemetry_logging

    # The SDK's telemetry has no environment switch; the build sends none.
    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None
    import pipeline  # noqa: F401  (imports the SDK modules, which configure their own loggers)

    quiet_sdk_logs()


def quiet_sdk_logs() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in ("sagemaker", "botocore", "boto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.ERROR)
    # some SDK loggers are created (at DEBUG) only while the pipeline is built: filter at the handlers
    for handler in logging.root.handlers:
        handler.setLevel(logging.WARNING)


def raw_settings(settings_file: Path | None) -> dict:
    if settings_file is not None:
        return json.loads(settings_file.read_text())
    if os.environ.get("MODEL_FACTORY_SETTINGS"):
        return json.loads(os.environ["MODEL_FACTORY_SETTINGS"])
    return dict(EXAMPLE_SETTINGS)


def settings_from(raw: dict, warn=print):
    """PipelineSettings from the factory's JSON; keys this code does not know are reported and ignored."""
    from pipeline import PipelineSettings

    known = {f.name for f in fields(PipelineSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        warn(f"model build: ignoring setting(s) this code does not know: {', '.join(unknown)} "
             "(a newer factory; update the repository's copy of the seed code to use them)")
    try:
        return PipelineSettings(**{k: v for k, v in raw.items() if k in known})
    except (TypeError, ValueError) as error:
        raise BuildError(f"pipeline settings: {error}") from None


def load_settings(settings_file: Path | None, warn=print):
    return settings_from(raw_settings(settings_file), warn=warn)


def write_definition(out: Path, settings_file: Path | None) -> None:
    prepare_sdk_environment(raw_settings(settings_file)["region"], offline=True)
    from pipeline import build_pipeline

    pipeline = build_pipeline(load_settings(settings_file, warn=lambda line: print(line, file=sys.stderr)))
    definition = json.loads(pipeline.definition())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(definition, indent=2, sort_keys=True) + "\n")
    print(f"pipeline definition: {out} ({len(definition['Steps'])} top-level steps)")


# --- lineage ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lineage:
    git_commit: str
    build_id: str
    trigger: str


def resolve_trigger(variable: str, execution_trigger_type: str | None) -> str:
    """push, schedule, drift or manual: the schedule and the drift function say so in the pipeline variable
    Trigger; otherwise a push unless somebody started the execution by hand."""
    if variable in ("schedule", "drift"):
        return variable
    if variable not in ("", "push"):
        raise BuildError(f"TRIGGER: {variable!r} is not one of {', '.join(TRIGGERS)}")
    return "manual" if execution_trigger_type == "StartPipelineExecution" else "push"


def lineage_from_environment(env, codepipeline) -> Lineage:
    commit = env.get("GIT_COMMIT", "").strip()
    if not commit or commit.startswith("#{"):
        raise BuildError("GIT_COMMIT is not set: the build must be started by its CodePipeline, whose source "
                         "action names the commit (a build without a commit cannot be traced)")
    trigger_type = None
    variable = env.get("TRIGGER", "push").strip()
    if variable in ("", "push") and env.get("PIPELINE_EXECUTION_ID"):
        trigger_type = aws_call(
            "codepipeline:GetPipelineExecution", env.get("CODEPIPELINE_NAME", "?"),
            lambda: codepipeline.get_pipeline_execution(
                pipelineName=env["CODEPIPELINE_NAME"], pipelineExecutionId=env["PIPELINE_EXECUTION_ID"],
            )["pipelineExecution"].get("trigger", {}).get("triggerType"))
    return Lineage(git_commit=commit, build_id=env.get("CODEBUILD_BUILD_ARN", "unknown"),
                   trigger=resolve_trigger(variable, trigger_type))


def aws_call(name: str, resource: str, call):
    """Run one AWS call; a ClientError becomes the build's one line naming the call, resource and code."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", "")
        raise BuildError(f"{name} on {resource} failed: {code}: {message}") from None
    except BotoCoreError as error:
        raise BuildError(f"{name} on {resource} failed: {error}") from None


# --- training data --------------------------------------------------------------------------------------

def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise BuildError(f"data_s3_uri: {uri!r} is not an s3:// prefix")
    bucket, prefix = uri[5:].split("/", 1)
    return bucket, prefix


def list_csv_objects(s3, uri: str) -> list[dict]:
    bucket, prefix = split_s3(uri)
    objects: list[dict] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in aws_call("s3:ListObjectsV2", uri, lambda: list(paginator.paginate(Bucket=bucket, Prefix=prefix))):
        objects.extend(o for o in page.get("Contents", []) if o["Key"].endswith(".csv"))
    return sorted(objects, key=lambda o: o["Key"])


def data_version(objects: list[dict]) -> str:
    """sha256 over the key, ETag and size of every CSV the preprocess step reads: equal data, equal version."""
    digest = hashlib.sha256()
    for o in objects:
        digest.update(f"{o['Key']}\t{o['ETag'].strip(chr(34))}\t{o['Size']}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def seed_csv(problem_type: str, label: str, features: list[str]) -> bytes | None:
    """The repository's seed data for a model: data/transactions.csv for the default binary model, else
    generated by data/seed_data.py for the model's problem type, label and features; None without data/."""
    committed = DATA / "transactions.csv"
    if problem_type == "binary_classification" and not features and label == "is_fraud" and committed.exists():
        return committed.read_bytes()
    if not (DATA / "seed_data.py").exists():
        return None
    sys.path.insert(0, str(DATA))
    import seed_data

    frame = seed_data.generate(problem_type, label=label, features=features)
    return frame.to_csv(index=False).encode()


def ensure_training_data(s3, settings, out=print) -> tuple[str, int]:
    """(data version, number of CSV objects) of the configured prefix; the seed goes in only when it is empty,
    never over an object (a conditional put: If-None-Match *)."""
    uri = settings.training_data_uri
    objects = list_csv_objects(s3, uri)
    if not objects:
        body = seed_csv(settings.problem_type, settings.label, settings.features)
        if body is None:
            raise BuildError(f"data_s3_uri: {uri} has no CSV files and the repository has no seed data (data/): "
                             "upload the training data there")
        bucket, prefix = split_s3(uri)
        from botocore.exceptions import ClientError

        try:
            s3.put_object(Bucket=bucket, Key=prefix + SEED_OBJECT, Body=body, IfNoneMatch="*",
                          ServerSideEncryption="aws:kms", SSEKMSKeyId=settings.kms_key_arn)
            out(f"model build: {uri} was empty: uploaded the seed data as {SEED_OBJECT}")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                code = error.response.get("Error", {}).get("Code", "Unknown")
                raise BuildError(f"s3:PutObject on {uri}{SEED_OBJECT} failed: {code}") from None
        objects = list_csv_objects(s3, uri)
    return data_version(objects), len(objects)


# --- the registry --------------------------------------------------------------------------------------

def newest_package(sagemaker_client, group: str) -> dict | None:
    """DescribeModelPackage of the group's newest version, or None when the group has none."""
    summaries = aws_call("sagemaker:ListModelPackages", group, lambda: sagemaker_client.list_model_packages(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending", MaxResults=1,
    )["ModelPackageSummaryList"])
    if not summaries:
        return None
    arn = summaries[0]["ModelPackageArn"]
    return aws_call("sagemaker:DescribeModelPackage", arn,
                    lambda: sagemaker_client.describe_model_package(ModelPackageName=arn))


def find_champion(ssm, sagemaker_client, parameter: str) -> tuple[str, str]:
    """(package ARN, model artifacts) of the version serving prod, or ("", "") when none serves yet."""
    if not parameter:
        return "", ""
    from botocore.exceptions import ClientError

    try:
        arn = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return "", ""
        raise BuildError(f"ssm:GetParameter on {parameter} failed: {error.response['Error'].get('Code')}") from None
    if not arn.startswith("arn:"):
        return "", ""
    package = aws_call("sagemaker:DescribeModelPackage", arn,
                       lambda: sagemaker_client.describe_model_package(ModelPackageName=arn))
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    return arn, next((c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")), "")


def evaluation_uri(settings, execution_arn: str) -> str:
    """Where the Evaluate step wrote evaluation.json (the pipeline's executions/<execution id>/evaluation)."""
    return f"{settings.prefix}/executions/{execution_arn.rsplit('/', 1)[-1]}/evaluation/evaluation.json"


def registered_package(sagemaker_client, execution_arn: str) -> str | None:
    paginator = sagemaker_client.get_paginator("list_pipeline_execution_steps")
    for page in aws_call("sagemaker:ListPipelineExecutionSteps", execution_arn,
                         lambda: list(paginator.paginate(PipelineExecutionArn=execution_arn))):
        for step in page["PipelineExecutionSteps"]:
            arn = step.get("Metadata", {}).get("RegisterModel", {}).get("Arn")
            if arn:
                return arn
    return None


def promotion_decision(report: dict, settings) -> tuple[bool, str]:
    """(approve, why): auto promotion approves a package that passed its gate and beats the serving champion on
    the same test split by at least min_improvement of the gate metric; the first model waits for a human."""
    gate = report.get("quality_gate", {})
    if not gate.get("passed"):
        return False, "missed its quality gate"
    champion = report.get("champion")
    if not champion:
        return False, "no champion serves prod yet: the first version is approved by a person"
    if "error" in champion:
        return False, f"the champion could not be scored on this test split ({champion['error']})"
    comparison = report["comparison"]
    improvement, needed = comparison["improvement"], settings.promotion_min_improvement
    text = (f"{comparison['metric']} {comparison['challenger']:.4f} vs champion {comparison['champion']:.4f} "
            f"on the same test split ({improvement:+.4f}, needed {needed:+.4f})")
    return improvement >= needed and improvement > 0, text


def promote(aws: dict, settings, execution_arn: str, out=print) -> str:
    """After a successful execution with promotion_mode auto: approve the new package or leave it pending, and
    tell the approvers either way."""
    package_arn = registered_package(aws["sagemaker"], execution_arn)
    if package_arn is None:
        return "nothing registered"
    bucket, key = split_s3(evaluation_uri(settings, execution_arn))
    report = json.loads(aws_call("s3:GetObject", f"s3://{bucket}/{key}",
                                 lambda: aws["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()))
    approve, why = promotion_decision(report, settings)
    if approve:
        aws_call("sagemaker:UpdateModelPackage", package_arn, lambda: aws["sagemaker"].update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus="Approved",
            ApprovalDescription=f"{AUTO_PROMOTED}{why}"[:1024]))
        line = f"auto-promoted {package_arn}: {why}"
    else:
        line = f"left {package_arn} pending for the approvers: {why}"
    out(f"model build: {line}")
    if settings.notification_topic_arn:
        try:
            aws_call("sns:Publish", settings.notification_topic_arn, lambda: aws["sns"].publish(
                TopicArn=settings.notification_topic_arn, Subject=f"Model Factory: {settings.pipeline_name}"[:100],
                Message=line))
        except BuildError as error:
            # the decision stands (an approval already started the deploy): the build says who was not told
            out(f"model build: telling the approvers failed: {error}")
    return "approved" if approve else "pending"


def unchanged_since(package: dict | None, commit: str, version: str) -> bool:
    properties = (package or {}).get("CustomerMetadataProperties", {})
    return properties.get("git_commit") == commit and properties.get("training_data_version") == version


# --- code and the execution ----------------------------------------------------------------------------

def source_archive() -> bytes:
    """code/ as the sourcedir.tar.gz the XGBoost container's script mode unpacks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(CODE.glob("*.py")):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def upload_code(s3, settings) -> None:
    def put(uri: str, body: bytes) -> None:
        bucket, key = split_s3(uri)
        aws_call("s3:PutObject", uri, lambda: s3.put_object(
            Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=settings.kms_key_arn))

    put(f"{settings.code_prefix}/sourcedir.tar.gz", source_archive())
    for script in ("preprocess.py", "evaluate.py", "drift.py"):
        put(f"{settings.code_prefix}/{script}", (CODE / script).read_bytes())


# polls in a row whose retries are all spent before the build gives up on an execution (and stops it)
MAX_FAILED_POLLS = 5


def wait_for_execution(sagemaker_client, execution_arn: str, *, poll_seconds: float, timeout_seconds: float,
                       sleep=time.sleep, clock=time.monotonic) -> str:
    """Poll until the execution ends; raise BuildError naming the failed step unless it succeeded. At the
    timeout the execution is stopped (it must not register a model after its build has failed)."""
    deadline = clock() + timeout_seconds
    failed_polls = 0
    while True:
        try:
            status = aws_call("sagemaker:DescribePipelineExecution", execution_arn,
                              lambda: sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=execution_arn))
        except BuildError as error:
            # a poll whose retries are spent is not the execution's end: poll again, a few times
            failed_polls += 1
            if failed_polls < MAX_FAILED_POLLS:
                sleep(poll_seconds)
                continue
            try:  # the build fails: the execution must not register a model after it
                sagemaker_client.stop_pipeline_execution(
                    PipelineExecutionArn=execution_arn, ClientRequestToken=hashlib.sha256(execution_arn.encode()).hexdigest())
                stopped = "stopped it"
            except Exception:  # noqa: BLE001 - the poll's error is the one to report
                stopped = "could not stop it either"
            raise BuildError(f"{error} ({failed_polls} polls in a row; {stopped})") from None
        failed_polls = 0
        state = status["PipelineExecutionStatus"]
        if state in TERMINAL_STATES:
            break
        if clock() > deadline:
            aws_call("sagemaker:StopPipelineExecution", execution_arn, lambda: sagemaker_client.stop_pipeline_execution(
                PipelineExecutionArn=execution_arn,
                ClientRequestToken=hashlib.sha256(execution_arn.encode()).hexdigest()))
            raise BuildError(f"pipeline execution {execution_arn} still {state} after {timeout_seconds:.0f} s: "
                             "stopped it, nothing is registered")
        sleep(poll_seconds)
    if state == "Succeeded":
        return state
    steps: list[dict] = []
    paginator = sagemaker_client.get_paginator("list_pipeline_execution_steps")
    for page in aws_call("sagemaker:ListPipelineExecutionSteps", execution_arn,
                         lambda: list(paginator.paginate(PipelineExecutionArn=execution_arn))):
        steps.extend(page["PipelineExecutionSteps"])
    failed = [s for s in steps if s.get("StepStatus") in ("Failed", "Stopped")]
    detail = "; ".join(f"{s['StepName']}: {s.get('FailureReason', s['StepStatus'])}" for s in failed)
    reason = detail or status.get("FailureReason", "no failure reason reported")
    raise BuildError(f"pipeline execution {state.lower()}: {reason}")


def clients(region: str) -> dict:
    import boto3
    from botocore.config import Config

    # standard retry mode: throttling and transient errors are retried with backoff, a bounded number of times
    config = Config(retries={"mode": "standard", "max_attempts": 10})
    session = boto3.Session(region_name=region)
    return {name: session.client(name, config=config) for name in ("s3", "sagemaker", "codepipeline", "ssm", "sns")}


def run(settings_file: Path | None, env=os.environ, aws: dict | None = None, out=print) -> str:
    """The build: returns "skipped" (nothing new to train) or the execution's ARN once it succeeded."""
    raw = raw_settings(settings_file)
    prepare_sdk_environment(raw["region"], offline=False)
    settings = settings_from(raw, warn=out)
    aws = aws or clients(settings.region)
    lineage = lineage_from_environment(env, aws["codepipeline"])
    version, count = ensure_training_data(aws["s3"], settings, out=out)
    settings = replace(settings, git_commit=lineage.git_commit, build_id=lineage.build_id, trigger=lineage.trigger,
                       training_data_version=version)
    newest = newest_package(aws["sagemaker"], settings.model_package_group_name)
    if unchanged_since(newest, lineage.git_commit, version):
        out(f"model build: nothing new to train: code {lineage.git_commit[:12]} and data {version[:19]} "
            f"({settings.training_data_uri}) are those of {newest['ModelPackageArn']}; no package registered")
        return "skipped"
    champion_arn, champion_uri = find_champion(aws.get("ssm"), aws["sagemaker"], settings.champion_parameter)
    settings = replace(settings, champion_arn=champion_arn, champion_model_uri=champion_uri)
    out(f"model build: {lineage.trigger} build of {lineage.git_commit[:12]} on {count} CSV file(s) under "
        f"{settings.training_data_uri} ({version[:19]})"
        + (f", scored against the champion {champion_arn}" if champion_arn else ""))
    upload_code(aws["s3"], settings)
    from pipeline import build_pipeline

    pipeline = build_pipeline(settings)
    tags = [{"Key": k, "Value": v} for k, v in settings.tags.items()] or None
    aws_call("sagemaker:UpsertPipeline", settings.pipeline_name, lambda: pipeline.upsert(
        role_arn=settings.role_arn, description=f"Model Factory build of {settings.pipeline_name}", tags=tags))
    execution_arn = aws_call("sagemaker:StartPipelineExecution", settings.pipeline_name,
                             lambda: aws["sagemaker"].start_pipeline_execution(
                                 PipelineName=settings.pipeline_name,
                                 PipelineExecutionDisplayName=f"{lineage.trigger}-{lineage.git_commit[:12]}",
                                 PipelineExecutionDescription=f"{lineage.trigger} build of {lineage.git_commit}",
                                 # one execution per build, whatever retries the client makes
                                 ClientRequestToken=hashlib.sha256(lineage.build_id.encode()).hexdigest()[:64],
                             )["PipelineExecutionArn"])
    out(f"started {execution_arn}")
    timeout = max(settings.build_timeout_minutes * 60 - STOP_MARGIN_SECONDS, 60)
    wait_for_execution(aws["sagemaker"], execution_arn, poll_seconds=60, timeout_seconds=timeout)
    out(f"pipeline execution succeeded: {execution_arn}")
    if settings.promotion_mode == "auto":
        promote(aws, settings, execution_arn, out=out)
    return execution_arn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    definition = commands.add_parser("definition", help="write the pipeline definition JSON offline")
    definition.add_argument("--out", type=Path, required=True)
    definition.add_argument("--settings", type=Path)
    run_parser = commands.add_parser("run", help="upload code, upsert and start the pipeline, wait for it")
    run_parser.add_argument("--settings", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    try:
        if args.command == "definition":
            write_definition(args.out, args.settings)
        else:
            run(args.settings)
    except BuildError as error:
        print(f"model build: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
