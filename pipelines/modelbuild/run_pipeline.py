#!/usr/bin/env python3
"""Entry points of the model build.

    python run_pipeline.py definition --out pipeline.json   # offline: no credentials, no network
    python run_pipeline.py run                              # CodeBuild: upload code, upsert, start, wait

Settings come from the MODEL_FACTORY_SETTINGS environment variable (JSON, written by the factory into
the CodeBuild project from config/factory.yaml) or, for `definition`, from --settings FILE or the
example settings below.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile
import time
from dataclasses import asdict, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = HERE / "code"
SEED_DATA = HERE / "data" / "transactions.csv"
TERMINAL_STATES = {"Succeeded", "Failed", "Stopped"}

EXAMPLE_SETTINGS = {
    "region": "eu-west-1",
    "pipeline_name": "mf-fraud-card-fraud",
    "model_package_group_name": "mf-fraud-card-fraud",
    "role_arn": "arn:aws:iam::111111111111:role/mf-fraud-sagemaker-execution",
    "bucket": "mf-fraud-artifacts-example",
    "kms_key_arn": "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000",
    "training_instance_type": "ml.g5.xlarge",
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


def load_settings(settings_file: Path | None, code_version: str | None = None):
    from pipeline import PipelineSettings

    if settings_file is not None:
        raw = json.loads(settings_file.read_text())
    elif os.environ.get("MODEL_FACTORY_SETTINGS"):
        raw = json.loads(os.environ["MODEL_FACTORY_SETTINGS"])
    else:
        raw = dict(EXAMPLE_SETTINGS)
    known = {f.name for f in fields(PipelineSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BuildError(f"unknown pipeline setting(s): {', '.join(unknown)}")
    if code_version:
        raw["code_version"] = code_version
    try:
        return PipelineSettings(**raw)
    except (TypeError, ValueError) as error:
        raise BuildError(f"pipeline settings: {error}") from None


def write_definition(out: Path, settings_file: Path | None) -> None:
    region = (json.loads(settings_file.read_text()) if settings_file else EXAMPLE_SETTINGS)["region"]
    prepare_sdk_environment(region, offline=True)
    from pipeline import build_pipeline

    pipeline = build_pipeline(load_settings(settings_file))
    definition = json.loads(pipeline.definition())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(definition, indent=2, sort_keys=True) + "\n")
    print(f"pipeline definition: {out} ({len(definition['Steps'])} top-level steps)")


def source_archive() -> bytes:
    """code/ as the sourcedir.tar.gz the XGBoost container's script mode unpacks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(CODE.glob("*.py")):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def upload_code_and_data(s3, settings) -> None:
    def put(uri: str, body: bytes) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=settings.kms_key_arn)

    put(f"{settings.code_prefix}/sourcedir.tar.gz", source_archive())
    for script in ("preprocess.py", "evaluate.py"):
        put(f"{settings.code_prefix}/{script}", (CODE / script).read_bytes())
    if SEED_DATA.exists():
        put(settings.default_input_uri, SEED_DATA.read_bytes())


def wait_for_execution(sagemaker_client, execution_arn: str, *, poll_seconds: float, timeout_seconds: float,
                       sleep=time.sleep) -> str:
    """Poll until the execution ends; raise BuildError naming the failed step unless it succeeded."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        state = status["PipelineExecutionStatus"]
        if state in TERMINAL_STATES:
            break
        if time.monotonic() > deadline:
            raise BuildError(f"pipeline execution {execution_arn} still {state} after {timeout_seconds:.0f} s")
        sleep(poll_seconds)
    if state == "Succeeded":
        return state
    steps = sagemaker_client.list_pipeline_execution_steps(PipelineExecutionArn=execution_arn)["PipelineExecutionSteps"]
    failed = [s for s in steps if s.get("StepStatus") in ("Failed", "Stopped")]
    detail = "; ".join(f"{s['StepName']}: {s.get('FailureReason', s['StepStatus'])}" for s in failed)
    reason = detail or status.get("FailureReason", "no failure reason reported")
    raise BuildError(f"pipeline execution {state.lower()}: {reason}")


def run(settings_file: Path | None) -> None:
    settings_region = (json.loads(os.environ.get("MODEL_FACTORY_SETTINGS", "{}")) or EXAMPLE_SETTINGS)["region"]
    prepare_sdk_environment(settings_region, offline=False)
    import boto3
    from pipeline import build_pipeline

    settings = load_settings(settings_file, code_version=os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION"))
    session = boto3.Session(region_name=settings.region)
    upload_code_and_data(session.client("s3"), settings)
    pipeline = build_pipeline(settings)
    pipeline.upsert(role_arn=settings.role_arn, description=f"Model Factory build of {settings.pipeline_name}",
                    tags=[{"Key": k, "Value": v} for k, v in settings.tags.items()] or None)
    client = session.client("sagemaker")
    execution_arn = client.start_pipeline_execution(
        PipelineName=settings.pipeline_name,
        PipelineExecutionDisplayName=f"build-{settings.code_version[:12]}",
        PipelineExecutionDescription=f"code {settings.code_version}",
    )["PipelineExecutionArn"]
    print(f"started {execution_arn}")
    # CodeBuild's own timeout is the runtime limit plus margin; stop polling a little before it.
    timeout = (settings.max_runtime_minutes + 90) * 60
    wait_for_execution(client, execution_arn, poll_seconds=60, timeout_seconds=timeout)
    print(f"pipeline execution succeeded: {execution_arn}")


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
