"""The factory engine's processing step, shared by the drift pipeline of an endpoint
(stacks/monitoring/factory_drift_monitor.py) and the batch pipeline of a stage (stacks/serving/batch_scoring.py):
a CreateProcessingJob request without its name (SageMaker names pipeline jobs), as the SageMaker SDK's
ProcessingStep emits it, running the build's own `drift.py` with the code and image the package registered."""

from __future__ import annotations

from typing import Protocol

from stacks.common.naming import drift_report_prefix


class EngineSettings(Protocol):
    """What the step needs of a stage's monitoring settings (stacks.config.monitoring.Monitoring)."""

    instance_type: str
    drift_image: str | None
    drift_code: str | None
    drift_baseline: str | None

CODE_DIR = "/opt/ml/processing/input/code"
BASELINE_DIR = "/opt/ml/processing/baseline"
REPORT_DIR = "/opt/ml/processing/report"
# SageMaker pipeline definition schema version (the only one; sagemaker SDK workflow/pipeline.py)
DEFINITION_VERSION = "2020-12-01"
JOB_MAX_RUNTIME_SECONDS = 3600
VOLUME_GB = 30
# the pipeline execution variable, as the SDK's Join emits it: one folder per execution
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


def per_execution(uri: str) -> dict:
    return {"Std:Join": {"On": "/", "Values": [uri, EXECUTION_ID]}}


def s3_input(name: str, uri: str, local_path: str) -> dict:
    return {"InputName": name, "AppManaged": False, "S3Input": {
        "S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated"}}


def drift_processing_arguments(*, team: str, model: str, stage: str, settings: EngineSettings, bucket_name: str,
                               kms_key_arn: str, role_arn: str, container_arguments: list) -> dict:
    """`drift.py <container_arguments>` with the baseline and code inputs and the report written to
    `monitoring/<endpoint>/factory/<execution>/`."""
    return {
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": settings.instance_type, "VolumeSizeInGB": VOLUME_GB,
            "VolumeKmsKeyId": kms_key_arn}},
        "AppSpecification": {"ImageUri": settings.drift_image,
                             "ContainerEntrypoint": ["python3", f"{CODE_DIR}/drift.py"],
                             "ContainerArguments": container_arguments},
        "RoleArn": role_arn,
        "ProcessingInputs": [s3_input("code", settings.drift_code, CODE_DIR),
                             s3_input("baseline", settings.drift_baseline, BASELINE_DIR)],
        "ProcessingOutputConfig": {"KmsKeyId": kms_key_arn, "Outputs": [{
            "OutputName": "report", "AppManaged": False, "S3Output": {
                "S3Uri": per_execution(f"s3://{bucket_name}/{drift_report_prefix(team, model, stage)}"),
                "LocalPath": REPORT_DIR, "S3UploadMode": "EndOfJob"}}]},
        "StoppingCondition": {"MaxRuntimeInSeconds": JOB_MAX_RUNTIME_SECONDS},
        # the job calls S3 and CloudWatch itself, so no network isolation
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": False},
    }
