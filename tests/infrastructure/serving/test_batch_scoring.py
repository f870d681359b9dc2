"""Scheduled batch scoring of a stage (`endpoint.<stage>.batch`): the pipeline's Transform step is a
CreateTransformJob request without its name (botocore CreateTransformJob input members; the SageMaker SDK's
TransformStep emits the same), the EventBridge Scheduler schedule that starts it, the drift step and the alarms
that judge each run, and the roles that let exactly that happen."""

from __future__ import annotations

import json

import botocore.session
from aws_cdk.assertions import Match
from moto.events.models import EventPattern

from tests.helpers import only
from tests.infrastructure.monitoring.test_monitoring_failures import PIPELINE_EVENT

ENDPOINT = "mf-fraud-card-fraud-prod"
KEY = "arn:aws:kms:eu-west-1:111111111111:alias/mf-fraud"
CREATE_TRANSFORM_JOB = set(botocore.session.get_session().get_service_model("sagemaker")
                           .operation_model("CreateTransformJob").input_shape.members)


def definition(template) -> tuple[dict, dict]:
    _, pipeline = only(template, "AWS::SageMaker::Pipeline", {"PipelineName": f"{ENDPOINT}-batch"})
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    # the model's name is a CloudFormation reference inside the JSON text: read it as the word MODEL
    parts = body["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "MODEL" for p in parts)
    return json.loads(text), pipeline["Properties"]


def test_the_transform_step_is_a_create_transform_job_request(batch_prod):
    spec, _ = definition(batch_prod)
    score = spec["Steps"][0]
    assert score["Name"] == "Score" and score["Type"] == "Transform"
    arguments = score["Arguments"]
    assert set(arguments) <= CREATE_TRANSFORM_JOB - {"TransformJobName"}
    assert arguments["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                        "S3Uri": "s3://mf-fraud-111111111111-eu-west-1/scoring/card-fraud/daily/"}},
        "ContentType": "text/csv", "SplitType": "Line", "CompressionType": "None"}
    # one folder per run, the team key on the output and on the volume (m5 takes a volume key)
    assert arguments["TransformOutput"] == {
        "S3OutputPath": {"Std:Join": {"On": "/", "Values": ["s3://mf-fraud-111111111111-eu-west-1/batch/card-fraud/daily",
                                                            {"Get": "Execution.PipelineExecutionId"}]}},
        "Accept": "text/csv", "AssembleWith": "Line", "KmsKeyId": KEY}
    assert arguments["TransformResources"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2,
                                               "VolumeKmsKeyId": KEY}
    assert arguments["ModelName"] == "MODEL" and arguments["BatchStrategy"] == "MultiRecord"
    # the jobs a pipeline starts carry the stage's cost-allocation tags (CreateTransformJob Tags)
    assert {"Key": "model-factory:team", "Value": "fraud"} in arguments["Tags"]
    assert {"Key": "model-factory:cost-center", "Value": "cc-1234"} in arguments["Tags"]
    assert {"Key": "model-factory:stage", "Value": "prod"} in arguments["Tags"]


def test_mode_batch_serves_its_package_with_no_endpoint(batch_prod):
    model_id, model = only(batch_prod, "AWS::SageMaker::Model", {})
    assert model["Properties"]["PrimaryContainer"] == {
        "ModelPackageName": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mf-fraud-card-fraud/7"}
    _, pipeline = definition(batch_prod)
    assert {"Fn::GetAtt": [model_id, "ModelName"]} in pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Join"][1]
    for kind in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig",
                 "AWS::ApplicationAutoScaling::ScalableTarget"):
        assert not batch_prod.find_resources(kind), kind


def test_the_factory_engine_judges_each_run_after_it(batch_prod):
    spec, _ = definition(batch_prod)
    drift = spec["Steps"][1]
    assert drift["Name"] == "BatchDrift" and drift["DependsOn"] == ["Score"]
    arguments = drift["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[:5] == ["batch", "--input-uri", "s3://mf-fraud-111111111111-eu-west-1/scoring/card-fraud/daily/",
                             "--output-uri", spec["Steps"][0]["Arguments"]["TransformOutput"]["S3OutputPath"]]
    # no capture: no scheduled drift pipeline; the alarms judge each run (one a day) on its own
    assert not batch_prod.find_resources("AWS::SageMaker::Pipeline", {"Properties": {"PipelineName": f"{ENDPOINT}-drift"}})
    batch_prod.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{ENDPOINT}-drift-amount", "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
        "Metrics": Match.array_with([Match.object_like({"Id": "drift", "MetricStat": Match.object_like({"Period": 86400})})])})
    assert not batch_prod.find_resources("AWS::CloudWatch::Alarm", {"Properties": {
        "AlarmName": Match.string_like_regexp("monitor-missing|model-quality")}})


def test_the_schedule_starts_the_pipeline_in_its_time_zone(batch_prod):
    _, schedule = only(batch_prod, "AWS::Scheduler::Schedule", {"Name": f"{ENDPOINT}-batch"})
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Dublin"
    assert props["Target"]["Arn"] == f"arn:aws:sagemaker:eu-west-1:111111111111:pipeline/{ENDPOINT}-batch"
    assert props["Target"]["RoleArn"] == "arn:aws:iam::111111111111:role/mf-fraud-drift-schedule"
    assert props["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}


def test_batch_beside_a_real_time_endpoint_uses_the_endpoints_model(cpu_batch):
    model_id, _ = only(cpu_batch, "AWS::SageMaker::Model", {})
    (pipeline,) = cpu_batch.find_resources("AWS::SageMaker::Pipeline").values()
    parts = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [model_id, "ModelName"]} in parts
    text = json.loads("".join(p if isinstance(p, str) else "MODEL" for p in parts))
    # Model Monitor engine (monitoring off here): the transform alone; g5 has NVMe, so no volume key
    assert [s["Name"] for s in text["Steps"]] == ["Score"]
    assert "VolumeKmsKeyId" not in text["Steps"][0]["Arguments"]["TransformResources"]
    cpu_batch.has_resource_properties("AWS::SageMaker::Endpoint", {"EndpointName": "mf-pricing-demand-forecast-prod"})


def test_a_failed_batch_run_is_told_like_a_failed_drift_run(fraud):
    # the documented "SageMaker Model Building Pipeline Execution Status Change" example, for a batch pipeline
    event = PIPELINE_EVENT
    _, rule = only(fraud, "AWS::Events::Rule", {"Name": "mf-fraud-drift-run-failures"})
    pattern = EventPattern.load(json.dumps(rule["Properties"]["EventPattern"]))
    for kind, matched in (("batch", True), ("drift", True), ("build", False)):
        arn = f"arn:aws:sagemaker:eu-west-1:111111111111:pipeline/{ENDPOINT}-{kind}"
        candidate = {**event, "detail": {**event["detail"], "pipelineArn": arn,
                                         "currentPipelineExecutionStatus": "Failed"}}
        assert pattern.matches_event(candidate) is matched, kind


def test_the_drift_job_role_may_transform_and_read_exactly_the_batch_prefixes(pricing):
    statements = {s["Sid"]: s for p in pricing.find_resources("AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s}
    assert sorted(statements["BatchTransforms"]["Action"]) == ["sagemaker:AddTags", "sagemaker:CreateTransformJob",
                                                               "sagemaker:DescribeTransformJob",
                                                               "sagemaker:StopTransformJob"]
    assert statements["BatchTransforms"]["Resource"] == "arn:aws:sagemaker:eu-west-1:222222222222:transform-job/pipelines-*"
    bucket = "arn:aws:s3:::mf-pricing-222222222222-eu-west-1"
    assert sorted(statements["ReadBatchData"]["Resource"]) == [f"{bucket}/batch/demand-forecast/daily/*",
                                                               f"{bucket}/scoring/demand-forecast/daily/*"]
    starts = statements["StartTheDriftPipelines"]["Resource"]
    starts = starts if isinstance(starts, list) else [starts]
    assert "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mf-pricing-demand-forecast-prod-batch" in starts
    assert "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mf-pricing-demand-forecast-prod-drift" not in starts
