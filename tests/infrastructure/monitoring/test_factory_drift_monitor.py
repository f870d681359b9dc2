"""The factory engine on the endpoint stacks (pipeline, schedule, alarms) and its roles in the foundation stack.

Sources of the expectations, one per check below:
- the pipeline definition: the SageMaker pipeline definition JSON schema
  (aws-sagemaker-mlops/sagemaker-model-building-pipeline-definition-JSON-schema, schema/pipeline-definition.schema.json:
  top level Version/Metadata/Parameters/Steps, a Processing step's Arguments are a CreateProcessingJob request),
  checked against the botocore service model of CreateProcessingJob;
- the schedule: AWS::Scheduler::Schedule (templated SageMaker target: the pipeline ARN, the role needs
  sagemaker:StartPipelineExecution; Scheduler user guide, "Using templated targets");
- the alarms: CloudWatch PutMetricAlarm (M of N = DatapointsToAlarm of EvaluationPeriods; metric math IF());
- the retrain rule: the documented "CloudWatch Alarm State Change" event (tests/fixtures/events/drift-alarm.json).
"""

from __future__ import annotations

import copy
import json

import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto.events.models import EventPattern

from tests.helpers import only
from tests.synth import ROOT

ACCOUNT = "111111111111"
BUCKET = f"mf-fraud-{ACCOUNT}-eu-west-1"
ENDPOINT = "mf-fraud-card-fraud-prod"
KEY = "arn:aws:kms:eu-west-1:111111111111:alias/mf-fraud"
FEATURES = ("amount", "hour", "distance_from_home_km")
# the published schema's ProcessingArgs properties ("additionalProperties": false)
SCHEMA_PROCESSING_ARGS = {"AppSpecification", "Environment", "NetworkConfig", "ProcessingInputs",
                          "ProcessingOutputConfig", "ProcessingResources", "RoleArn", "StoppingCondition", "Tags",
                          "ProcessingJobName"}


def definition(template) -> dict:
    _, pipeline = only(template, "AWS::SageMaker::Pipeline")
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    assert isinstance(body, str)  # account and region are known: no token left in the body
    return json.loads(body)


def literal(value):
    """A pipeline expression ({"Std:Join": ...}, {"Get": ...}) as the string it becomes at run time."""
    if isinstance(value, dict) and ("Std:Join" in value or "Get" in value):
        return "s3://resolved/at/run/time"
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value


def test_the_pipeline_runs_one_processing_step_the_service_accepts(factory_engine):
    _, pipeline = only(factory_engine, "AWS::SageMaker::Pipeline")
    assert pipeline["Properties"]["PipelineName"] == f"{ENDPOINT}-drift"
    assert pipeline["Properties"]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/mf-fraud-drift-job"
    body = definition(factory_engine)
    assert set(body) <= {"Version", "Metadata", "Parameters", "Steps"} and body["Version"] == "2020-12-01"
    (step,) = body["Steps"]
    assert (set(step), step["Type"]) == ({"Name", "Type", "Arguments"}, "Processing")
    assert set(step["Arguments"]) <= SCHEMA_PROCESSING_ARGS
    model = botocore.session.get_session().get_service_model("sagemaker")
    request = {"ProcessingJobName": "pipelines-p4jn9xou8a8s-DriftReport-x1", **literal(step["Arguments"])}
    report = ParamValidator().validate(request, model.operation_model("CreateProcessingJob").input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_job_runs_the_registered_engine_on_the_windows_capture(factory_engine):
    arguments = definition(factory_engine)["Steps"][0]["Arguments"]
    manifest = json.loads((ROOT / "tests" / "fixtures" / "manifest-prod-factory-engine.json").read_text())["monitoring"]
    assert arguments["AppSpecification"]["ImageUri"] == manifest["drift_image"]
    assert arguments["AppSpecification"]["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/drift.py"]
    assert arguments["AppSpecification"]["ContainerArguments"] == [
        "monitor", "--capture-uri", f"s3://{BUCKET}/data-capture/{ENDPOINT}/",
        # the shadow challenger's capture is not the production model's traffic
        "--skip-uri", f"s3://{BUCKET}/data-capture/{ENDPOINT}/{ENDPOINT}/Shadow/", "--baseline", "/opt/ml/processing/baseline",
        "--out", "/opt/ml/processing/report", "--window-hours", "1", "--team", "fraud", "--model", "card-fraud",
        "--stage", "prod", "--threshold", "0.2", "--min-records", "200", "--problem-type", "binary_classification",
        "--ground-truth-uri", f"s3://{BUCKET}/ground-truth/card-fraud/", "--metric", "auc"]
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    assert (inputs["code"]["S3Uri"], inputs["code"]["LocalPath"]) == (manifest["drift_code"],
                                                                      "/opt/ml/processing/input/code")
    assert (inputs["baseline"]["S3Uri"], inputs["baseline"]["LocalPath"]) == (manifest["drift_baseline"],
                                                                              "/opt/ml/processing/baseline")
    (output,) = arguments["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [
        f"s3://{BUCKET}/monitoring/{ENDPOINT}/factory", {"Get": "Execution.PipelineExecutionId"}]}}
    # KMS on the volume and the report, traffic between instances encrypted
    assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == KEY
    assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    assert arguments["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert arguments["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/mf-fraud-drift-job"


def test_a_schedule_starts_the_pipeline_with_the_schedule_role(factory_engine):
    _, schedule = only(factory_engine, "AWS::Scheduler::Schedule")
    props = schedule["Properties"]
    assert (props["Name"], props["ScheduleExpression"], props["ScheduleExpressionTimezone"], props["State"]) == (
        ENDPOINT, "cron(0 * ? * * *)", "UTC", "ENABLED")
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["Target"]["Arn"] == f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/{ENDPOINT}-drift"
    assert props["Target"]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/mf-fraud-drift-schedule"
    assert props["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}


def alarm(template, name: str) -> dict:
    return only(template, "AWS::CloudWatch::Alarm", {"AlarmName": name})[1]["Properties"]


def test_drift_alarms_need_two_of_three_runs_with_enough_records(factory_engine):
    for suffix, metric, dimension in [*((f"drift-{f}", "FeatureDrift", {"Name": "Feature", "Value": f}) for f in FEATURES),
                                      ("drift-prediction-score", "ScoreDrift", None)]:
        props = alarm(factory_engine, f"{ENDPOINT}-{suffix}")
        assert (props["Threshold"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (0.2, 3, 2)
        assert (props["ComparisonOperator"], props["TreatMissingData"]) == ("GreaterThanThreshold", "notBreaching")
        queries = {q["Id"]: q for q in props["Metrics"]}
        assert queries[next(q for q in queries if "Expression" in queries[q])]["Expression"] == (
            "IF(records >= 200, drift, 0)")
        records, drift = queries["records"]["MetricStat"], queries["drift"]["MetricStat"]
        dims = [{"Name": "Team", "Value": "fraud"}, {"Name": "Model", "Value": "card-fraud"},
                {"Name": "Stage", "Value": "prod"}]

        def by_name(dimensions):
            return sorted(dimensions, key=lambda d: d["Name"])
        assert (records["Metric"]["Namespace"], records["Metric"]["MetricName"], records["Period"], records["Stat"]) == (
            "ModelFactory", "DriftRecords", 3600, "Sum")
        assert by_name(records["Metric"]["Dimensions"]) == by_name(dims)
        assert (drift["Metric"]["Namespace"], drift["Metric"]["MetricName"]) == ("ModelFactory", metric)
        assert by_name(drift["Metric"]["Dimensions"]) == by_name(dims + ([dimension] if dimension else []))
        assert (drift["Period"], drift["Stat"]) == (3600, "Maximum")


def test_live_quality_alarm_counts_only_runs_with_enough_labelled_records(factory_engine):
    props = alarm(factory_engine, f"{ENDPOINT}-drift-model-quality-auc")
    assert (props["Threshold"], props["ComparisonOperator"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (
        0.8, "LessThanThreshold", 3, 2)
    expression = next(q["Expression"] for q in props["Metrics"] if "Expression" in q)
    assert expression == "IF(joined >= 200, quality, 0.8)"  # a thin run sits at the gate: never breaching
    quality = next(q["MetricStat"] for q in props["Metrics"] if q["Id"] == "quality")
    assert quality["Metric"]["MetricName"] == "LiveQuality"
    assert {"Name": "Metric", "Value": "auc"} in quality["Metric"]["Dimensions"]


def test_a_missing_run_alarms_after_two_intervals(factory_engine):
    props = alarm(factory_engine, f"{ENDPOINT}-monitor-missing")
    assert (props["MetricName"], props["Namespace"], props["Statistic"], props["Period"]) == (
        "MonitorRuns", "ModelFactory", "Sum", 3600)
    assert (props["Threshold"], props["ComparisonOperator"], props["EvaluationPeriods"], props["DatapointsToAlarm"],
            props["TreatMissingData"]) == (1, "LessThanThreshold", 2, 2, "breaching")
    assert props["AlarmActions"] == ["arn:aws:sns:eu-west-1:111111111111:mf-fraud-approvers"]


def test_only_prod_drift_alarms_reach_the_retrain_rule(factory_engine, factory_engine_staging, fraud):
    event = json.loads((ROOT / "tests" / "fixtures" / "events" / "drift-alarm.json").read_text())
    (rule,) = fraud.find_resources("AWS::Events::Rule", {"Properties": {"Name": "mf-fraud-drift-alarms"}}).values()
    pattern = EventPattern.load(json.dumps(rule["Properties"]["EventPattern"]))

    def alarm_event(name: str) -> dict:
        changed = copy.deepcopy(event)
        changed["detail"]["alarmName"] = name
        changed["resources"] = [f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:{name}"]
        return changed

    names = {stage: [a["Properties"]["AlarmName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()]
             for stage, template in (("prod", factory_engine), ("staging", factory_engine_staging))}
    retraining = {stage: sorted(n for n in names[stage] if pattern.matches_event(alarm_event(n))) for stage in names}
    assert retraining["staging"] == []
    assert retraining["prod"] == sorted([*(f"{ENDPOINT}-drift-{f}" for f in FEATURES), f"{ENDPOINT}-drift-prediction-score",
                                         f"{ENDPOINT}-drift-model-quality-auc"])
    # the staging alarms still tell the approvers
    staging_amount = alarm(factory_engine_staging, "mf-fraud-card-fraud-staging-drift-amount")
    assert staging_amount["AlarmActions"] == ["arn:aws:sns:eu-west-1:111111111111:mf-fraud-approvers"]


def test_no_model_monitor_resource_with_the_factory_engine(factory_engine):
    for kind in ("MonitoringSchedule", "DataQualityJobDefinition", "ModelQualityJobDefinition",
                 "ModelBiasJobDefinition", "ModelExplainabilityJobDefinition"):
        assert not factory_engine.find_resources(f"AWS::SageMaker::{kind}"), kind


# --- the team's drift roles (fraud foundation: both stages in the factory account) ----------------

def role_statements(template, role_name: str) -> dict[str, dict]:
    role_id, _ = only(template, "AWS::IAM::Role", {"RoleName": role_name})
    return {s["Sid"]: s for p in template.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]}


def test_the_drift_job_role_reads_and_writes_exactly_the_endpoints_prefixes(fraud):
    _, role = only(fraud, "AWS::IAM::Role", {"RoleName": "mf-fraud-drift-job"})
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]
    statements = role_statements(fraud, "mf-fraud-drift-job")
    bucket = f"arn:aws:s3:::{BUCKET}"
    endpoints = [f"mf-fraud-card-fraud-{stage}" for stage in ("staging", "prod")]
    assert sorted(statements["ListCaptureBaselinesAndCode"]["Condition"]["StringLike"]["s3:prefix"]) == sorted([
        *(f"data-capture/{e}/*" for e in endpoints), "mf-fraud-card-fraud/executions/*", "mf-fraud-card-fraud/code/*"])
    assert sorted(statements["ReadCaptureBaselinesAndCode"]["Resource"]) == sorted([
        *(f"{bucket}/data-capture/{e}/*" for e in endpoints),
        f"{bucket}/mf-fraud-card-fraud/executions/*/drift-baseline/baseline.json",
        f"{bucket}/mf-fraud-card-fraud/code/*/drift.py"])
    assert sorted(statements["WriteReports"]["Resource"]) == sorted(f"{bucket}/monitoring/{e}/factory/*" for e in endpoints)
    assert statements["ReadGroundTruth0"]["Resource"] == f"{bucket}/ground-truth/card-fraud/*"
    assert statements["ListGroundTruth0"]["Condition"] == {"StringLike": {"s3:prefix": ["ground-truth/card-fraud/*"]}}
    assert statements["PublishDriftFigures"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ModelFactory"}}
    assert statements["PassThisRoleToTheJob"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/mf-fraud-drift-job"
    assert statements["PipelineJobs"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:processing-job/pipelines-*"
    key = statements["TeamKey"]["Resource"]
    assert "Fn::GetAtt" in key and "s3:DeleteObject" not in json.dumps(statements)


def test_the_schedule_role_may_start_exactly_the_drift_pipelines(fraud):
    _, role = only(fraud, "AWS::IAM::Role", {"RoleName": "mf-fraud-drift-schedule"})
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"}
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}}
    statements = role_statements(fraud, "mf-fraud-drift-schedule")
    assert list(statements) == ["StartTheDriftPipelines"]
    start = statements["StartTheDriftPipelines"]
    assert (start["Effect"], start["Action"]) == ("Allow", "sagemaker:StartPipelineExecution")
    assert sorted(start["Resource"]) == sorted(f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/mf-fraud-card-fraud-{s}-drift"
                                               for s in ("staging", "prod"))


def test_a_model_monitor_team_gets_no_drift_roles(many_team_factory):
    # team-003's model-00 uses Model Monitor, model-01 the factory engine: roles cover model-01 only
    statements = role_statements(many_team_factory.template("team-003"), "mf-team-003-drift-job")
    assert "model-00" not in json.dumps(statements["ReadCaptureBaselinesAndCode"])


@pytest.mark.parametrize("schedule, hours", [("cron(0 */6 ? * * *)", "6"), ("cron(0 2 ? * * *)", "24")])
def test_the_window_follows_the_schedule(schedule, hours):
    from stacks.config.manifest import parse_manifest
    from stacks.monitoring.factory_drift_monitor import pipeline_definition

    data = json.loads((ROOT / "tests" / "fixtures" / "manifest-prod-factory-engine.json").read_text())
    data["monitoring"]["schedule"] = schedule
    settings = parse_manifest(data, source="m").monitoring
    body = pipeline_definition(team="fraud", model="card-fraud", stage="prod", settings=settings, bucket_name=BUCKET,
                               kms_key_arn=KEY, role_arn="arn:aws:iam::111111111111:role/mf-fraud-drift-job")
    arguments = body["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--window-hours") + 1] == hours


def test_what_the_job_lists_is_what_its_role_may_list(factory_engine, fraud):
    """The endpoint stack's job arguments and the foundation stack's role agree: every prefix the job lists
    (drift.py lists "<folder>/") matches an s3:prefix the role allows."""
    from fnmatch import fnmatchcase

    arguments = definition(factory_engine)["Steps"][0]["Arguments"]["AppSpecification"]["ContainerArguments"]
    statements = role_statements(fraud, "mf-fraud-drift-job")
    allowed = [*statements["ListCaptureBaselinesAndCode"]["Condition"]["StringLike"]["s3:prefix"],
               *statements["ListGroundTruth0"]["Condition"]["StringLike"]["s3:prefix"]]
    for flag in ("--capture-uri", "--ground-truth-uri"):
        prefix = arguments[arguments.index(flag) + 1].split("/", 3)[3].rstrip("/") + "/"
        assert any(fnmatchcase(prefix, pattern) for pattern in allowed), (flag, prefix, allowed)
