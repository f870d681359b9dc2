"""Endpoint monitoring on the endpoint stacks: Model Monitor and Clarify job definitions, schedules and the
drift and quality alarms, on stacks synthesized once from deploy manifests (tests/infrastructure/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk.assertions import Match

from tests.helpers import only
from tests.infrastructure.endpoint_manifests import BASELINE, KEY_ALIAS, ROLE, TOPIC


def test_data_quality_monitor_compares_captured_traffic_with_the_registered_baseline(prod):
    prod.has_resource_properties("AWS::SageMaker::DataQualityJobDefinition", {
        "RoleArn": ROLE,
        "DataQualityAppSpecification": {
            "ImageUri": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer",
            "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
        "DataQualityBaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{BASELINE}/statistics.json"}},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "mf-fraud-card-fraud-prod",
                                                  "LocalPath": "/opt/ml/processing/input/endpoint"}},
        "DataQualityJobOutputConfig": {"KmsKeyId": KEY_ALIAS, "MonitoringOutputs": [{"S3Output": Match.object_like({
            "S3Uri": "s3://mf-fraud-111111111111-eu-west-1/monitoring/mf-fraud-card-fraud-prod/data-quality"})}]},
        "JobResources": {"ClusterConfig": Match.object_like({"VolumeKmsKeyId": KEY_ALIAS})},
        "NetworkConfig": {"EnableNetworkIsolation": True},
    })
    job_id, _ = only(prod, "AWS::SageMaker::DataQualityJobDefinition")
    prod.has_resource_properties("AWS::SageMaker::MonitoringSchedule", {
        "MonitoringScheduleName": "mf-fraud-card-fraud-prod-data-quality",
        "MonitoringScheduleConfig": {
            "MonitoringType": "DataQuality",
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": {"Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": [job_id, "JobDefinitionArn"]}]}]},
        },
    })


def test_one_drift_alarm_per_baseline_feature_named_for_the_retrain_rule(prod):
    for feature in ("amount", "hour", "distance_from_home_km"):
        _, alarm = only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": f"mf-fraud-card-fraud-prod-drift-{feature}"})
        props = alarm["Properties"]
        assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Threshold"]) == (
            "aws/sagemaker/Endpoints/data-metrics", f"feature_baseline_drift_{feature}", "Maximum", 0.2)
        assert props["Dimensions"] == [{"Name": "Endpoint", "Value": "mf-fraud-card-fraud-prod"},
                                       {"Name": "MonitoringSchedule", "Value": "mf-fraud-card-fraud-prod-data-quality"}]
        assert props["AlarmActions"] == [TOPIC]


def test_no_monitor_without_a_registered_baseline(staging):
    assert not staging.find_resources("AWS::SageMaker::MonitoringSchedule")
    assert not staging.find_resources("AWS::SageMaker::DataQualityJobDefinition")


def test_model_quality_monitor_joins_captured_predictions_with_ground_truth(prod):
    prod.has_resource_properties("AWS::SageMaker::ModelQualityJobDefinition", {
        "ModelQualityAppSpecification": {"ImageUri": Match.string_like_regexp("sagemaker-model-monitor-analyzer$"),
                                         "ProblemType": "BinaryClassification"},
        "ModelQualityBaselineConfig": {"ConstraintsResource": {
            "S3Uri": Match.string_like_regexp("model-quality-baseline/constraints.json$")}},
        "ModelQualityJobInput": {
            "EndpointInput": Match.object_like({"EndpointName": "mf-fraud-card-fraud-prod",
                                                "ProbabilityAttribute": "0", "ProbabilityThresholdAttribute": 0.5}),
            "GroundTruthS3Input": {"S3Uri": "s3://mf-fraud-111111111111-eu-west-1/ground-truth/card-fraud"}},
        "NetworkConfig": {"EnableNetworkIsolation": True},
    })
    prod.has_resource_properties("AWS::SageMaker::MonitoringSchedule", {
        "MonitoringScheduleName": "mf-fraud-card-fraud-prod-model-quality",
        "MonitoringScheduleConfig": Match.object_like({"MonitoringType": "ModelQuality"})})


def test_live_quality_under_the_gate_alarms_and_retrains(prod):
    _, alarm = only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": "mf-fraud-card-fraud-prod-drift-model-quality-auc"})
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Threshold"],
            props["ComparisonOperator"]) == ("aws/sagemaker/Endpoints/model-metrics", "auc", "Minimum", 0.8,
                                             "LessThanThreshold")
    assert props["AlarmActions"] == [TOPIC]


def test_bias_monitor_runs_clarify_with_the_registered_config_and_constraints_on_ground_truth(prod):
    prod.has_resource_properties("AWS::SageMaker::ModelBiasJobDefinition", {
        "ModelBiasAppSpecification": {
            "ImageUri": "131013547314.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-clarify-processing:1.0",
            "ConfigUri": Match.string_like_regexp("evaluation/clarify/bias/monitoring_config.json$")},
        "ModelBiasBaselineConfig": {"ConstraintsResource": {
            "S3Uri": Match.string_like_regexp("clarify-bias/analysis.json$")}},
        "ModelBiasJobInput": {
            "EndpointInput": Match.object_like({"EndpointName": "mf-fraud-card-fraud-prod",
                                                "ProbabilityAttribute": "0", "ProbabilityThresholdAttribute": 0.5}),
            "GroundTruthS3Input": {"S3Uri": "s3://mf-fraud-111111111111-eu-west-1/ground-truth/card-fraud"}},
        "ModelBiasJobOutputConfig": {"KmsKeyId": Match.any_value(), "MonitoringOutputs": [{"S3Output": Match.object_like({
            "S3Uri": "s3://mf-fraud-111111111111-eu-west-1/monitoring/mf-fraud-card-fraud-prod/model-bias"})}]},
        "JobResources": {"ClusterConfig": Match.object_like({"VolumeKmsKeyId": Match.any_value()})},
        # Clarify calls SageMaker for its shadow endpoint: network isolation is not allowed here
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True},
        "RoleArn": ROLE,
    })
    prod.has_resource_properties("AWS::SageMaker::MonitoringSchedule", {
        "MonitoringScheduleName": "mf-fraud-card-fraud-prod-model-bias",
        "MonitoringScheduleConfig": Match.object_like({
            "MonitoringType": "ModelBias", "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}})})


def test_explainability_monitor_runs_clarify_with_the_registered_config_and_constraints(prod):
    prod.has_resource_properties("AWS::SageMaker::ModelExplainabilityJobDefinition", {
        "ModelExplainabilityAppSpecification": {
            "ImageUri": Match.string_like_regexp("sagemaker-clarify-processing:1.0$"),
            "ConfigUri": Match.string_like_regexp("evaluation/clarify/explainability/monitoring_config.json$")},
        "ModelExplainabilityBaselineConfig": {"ConstraintsResource": {
            "S3Uri": Match.string_like_regexp("clarify-explainability/analysis.json$")}},
        "ModelExplainabilityJobInput": {"EndpointInput": {
            "EndpointName": "mf-fraud-card-fraud-prod", "LocalPath": "/opt/ml/processing/input/endpoint"}},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True},
    })
    prod.has_resource_properties("AWS::SageMaker::MonitoringSchedule", {
        "MonitoringScheduleName": "mf-fraud-card-fraud-prod-model-explainability",
        "MonitoringScheduleConfig": Match.object_like({"MonitoringType": "ModelExplainability"})})


def test_no_clarify_monitor_without_its_baselines(staging, cpu):
    for template in (staging, cpu):
        assert not template.find_resources("AWS::SageMaker::ModelBiasJobDefinition")
        assert not template.find_resources("AWS::SageMaker::ModelExplainabilityJobDefinition")


def test_clarify_registries_agree_with_the_sagemaker_sdk():
    import sagemaker.core

    from stacks.common.monitor_images import CLARIFY_REGISTRIES

    path = Path(sagemaker.core.__file__).parent / "image_uri_config" / "clarify.json"
    sdk = json.loads(path.read_text())["processing"]["versions"]["1.0"]["registries"]
    assert {region: sdk[region] for region in CLARIFY_REGISTRIES} == CLARIFY_REGISTRIES




def test_drift_and_quality_alarms_need_two_of_three_datapoints(prod):
    for name in ("mf-fraud-card-fraud-prod-drift-amount", "mf-fraud-card-fraud-prod-drift-model-quality-auc"):
        _, alarm = only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": name})
        assert (alarm["Properties"]["DatapointsToAlarm"], alarm["Properties"]["EvaluationPeriods"]) == (2, 3), name


def test_model_monitor_jobs_encrypt_inter_container_traffic_and_publish_their_metrics(prod):
    for kind in ("DataQuality", "ModelQuality"):
        (job,) = prod.find_resources(f"AWS::SageMaker::{kind}JobDefinition").values()
        props = job["Properties"]
        assert props["NetworkConfig"] == {"EnableNetworkIsolation": True,
                                          "EnableInterContainerTrafficEncryption": True}, kind
        assert props[f"{kind}AppSpecification"]["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}, kind
    # Clarify's monitors too (the SDK's ModelBias/ModelExplainabilityMonitor set the same variable, default on;
    # sagemaker/core/model_monitor/clarify_model_monitoring.py); no network isolation: Clarify calls SageMaker
    for kind in ("ModelBias", "ModelExplainability"):
        (job,) = prod.find_resources(f"AWS::SageMaker::{kind}JobDefinition").values()
        props = job["Properties"]
        assert props["NetworkConfig"] == {"EnableInterContainerTrafficEncryption": True}, kind
        assert props[f"{kind}AppSpecification"]["Environment"] == {"publish_cloudwatch_metrics": "Enabled"}, kind
