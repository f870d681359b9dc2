"""`BatchScoring`: a stage's scheduled Batch Transform of exactly the package the stage serves.

- A SageMaker pipeline `<endpoint>-batch`: a Transform step (a CreateTransformJob request without its name, as
  the SageMaker SDK's TransformStep emits it) over every object under `batch.input_s3_uri`, one answer line per
  input line (SplitType/AssembleWith Line), written to `batch.output_s3_uri/<execution id>/` with the team key on
  the output and, where the instance family takes one, on the volume; then, with the factory engine, a
  Processing step running `drift.py batch` on that run's inputs and answers, publishing the stage's drift
  figures like captured traffic does.
- An EventBridge Scheduler schedule `<endpoint>-batch` that starts it on `batch.schedule` in `batch.timezone`.
- A failed run is told by the team's pipeline-failure rule (stacks/monitoring/monitoring_failures.py).

The pipeline runs as the team's drift-job role of the account (which may start transform jobs and read exactly
the batch prefixes); the transform job itself runs as the model's execution role (the team's SageMaker role).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.common.drift_step import (
    BASELINE_DIR,
    DEFINITION_VERSION,
    REPORT_DIR,
    drift_processing_arguments,
    per_execution,
)
from stacks.common.naming import batch_pipeline_name, endpoint_name
from stacks.common.pipeline_schedule import pipeline_arn, pipeline_schedule
from stacks.config.endpoint import Batch
from stacks.config.instances import accepts_volume_kms_key
from stacks.config.monitoring import Monitoring

SCORE_STEP = "Score"
DRIFT_STEP = "BatchDrift"
# a failed mini-batch is retried once before the job fails (ModelClientConfig.InvocationsMaxRetries: 0-3)
INVOCATION_RETRIES = 1


def run_output(settings: Batch) -> dict:
    """`output_s3_uri/<pipeline execution id>`: one folder per run."""
    return per_execution(settings.output_s3_uri)


def batch_pipeline_definition(*, team: str, model: str, stage: str, settings: Batch, model_name: str,
                              kms_key_arn: str, role_arn: str, bucket_name: str,
                              monitoring: Monitoring | None = None, tags: dict[str, str] | None = None) -> dict:
    transform = {
        # the cost-allocation tags of the stage: a transform job is billed like the endpoint it replaces
        **({"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]} if tags else {}),
        "ModelName": model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": settings.max_payload_mb,
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": settings.invocation_timeout_seconds,
                              "InvocationsMaxRetries": INVOCATION_RETRIES},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": settings.input_s3_uri + "/"}},
            "ContentType": settings.content_type, "SplitType": "Line", "CompressionType": "None"},
        "TransformOutput": {"S3OutputPath": run_output(settings), "Accept": settings.content_type,
                            "AssembleWith": "Line", "KmsKeyId": kms_key_arn},
        "TransformResources": {"InstanceType": settings.instance_type, "InstanceCount": settings.instance_count,
                               **({"VolumeKmsKeyId": kms_key_arn} if accepts_volume_kms_key(settings.instance_type)
                                  else {})},
    }
    steps = [{"Name": SCORE_STEP, "Type": "Transform", "Arguments": transform}]
    if monitoring is not None:
        arguments = ["batch", "--input-uri", settings.input_s3_uri + "/", "--output-uri", run_output(settings),
                     "--baseline", BASELINE_DIR, "--out", REPORT_DIR, "--team", team, "--model", model,
                     "--stage", stage, "--threshold", f"{monitoring.threshold:g}",
                     "--min-records", str(monitoring.min_records), "--problem-type", monitoring.problem_type]

        steps.append({"Name": DRIFT_STEP, "Type": "Processing", "DependsOn": [SCORE_STEP],
                      "Arguments": drift_processing_arguments(
                          team=team, model=model, stage=stage, settings=monitoring, bucket_name=bucket_name,
                          kms_key_arn=kms_key_arn, role_arn=role_arn, container_arguments=arguments)})
    return {"Version": DEFINITION_VERSION, "Metadata": {}, "Parameters": [], "Steps": steps}


class BatchScoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, model: str, stage: str, settings: Batch,
                 model_name: str, kms_key_arn: str, bucket_name: str, job_role_arn: str, schedule_role_arn: str,
                 monitoring: Monitoring | None = None, tags: dict[str, str] | None = None) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        name = batch_pipeline_name(team, model, stage)
        definition = batch_pipeline_definition(team=team, model=model, stage=stage, settings=settings,
                                               model_name=model_name, kms_key_arn=kms_key_arn, role_arn=job_role_arn,
                                               bucket_name=bucket_name, monitoring=monitoring, tags=tags)
        self.pipeline = sagemaker.CfnPipeline(
            self, "Pipeline", pipeline_name=name, role_arn=job_role_arn,
            pipeline_description=f"Model Factory: scheduled batch scoring of {endpoint_name(team, model, stage)}",
            pipeline_definition={"PipelineDefinitionBody": stack.to_json_string(definition)})
        self.pipeline_arn = pipeline_arn(self, name)
        self.schedule = pipeline_schedule(
            self, "Schedule", name=name, pipeline=self.pipeline, pipeline_arn=self.pipeline_arn,
            expression=settings.schedule, timezone=settings.timezone, role_arn=schedule_role_arn,
            description=f"Model Factory: runs {name} ({settings.schedule}, {settings.timezone})")
