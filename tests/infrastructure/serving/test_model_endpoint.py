"""ModelEndpoint: one assertion group per feature, on stacks synthesized once from deploy manifests
(tests/infrastructure/conftest.py)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.helpers import lint_region, only
from tests.infrastructure.endpoint_manifests import KEY_ALIAS, ROLE, TOPIC


def test_stack_names_follow_the_convention(endpoints):
    assert endpoints["stacks"]["prod"].stack_name == "mf-fraud-card-fraud-prod-endpoint"
    assert endpoints["stacks"]["staging"].stack_name == "mf-fraud-card-fraud-staging-endpoint"


def test_cdk_nag_and_cfn_lint_are_clean(endpoints):
    assert endpoints["findings"] == []
    templates = [str(p) for p in endpoints["outdir"].glob("*.template.json")]
    assert len(templates) == len(endpoints["stacks"])
    assert lint_region("eu-west-1", templates) == []


def test_model_comes_from_the_package_with_network_isolation(prod):
    prod.has_resource_properties("AWS::SageMaker::Model", {
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"ModelPackageName": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mf-fraud-card-fraud/7"},
        "EnableNetworkIsolation": True,
    })


def test_data_capture_of_requests_and_responses_encrypted_in_the_team_bucket(prod, cpu):
    prod.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://mf-fraud-111111111111-eu-west-1/data-capture/mf-fraud-card-fraud-prod",
        "KmsKeyId": KEY_ALIAS,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
    }})
    cpu.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": Match.object_like({
        "InitialSamplingPercentage": 25})})


def test_volume_key_only_where_the_instance_family_accepts_one(prod, cpu):
    prod.has_resource_properties("AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.absent()})  # g5: NVMe
    cpu.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "KmsKeyId": "arn:aws:kms:eu-west-1:222222222222:alias/mf-pricing"})


def test_production_and_shadow_variants(prod):
    model_id, _ = only(prod, "AWS::SageMaker::Model", {"PrimaryContainer": {"ModelPackageName": Match.string_like_regexp("/7$")}})
    shadow_id, _ = only(prod, "AWS::SageMaker::Model", {"PrimaryContainer": {"ModelPackageName": Match.string_like_regexp("/8$")}})
    prod.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        # the variant is named after its instance type: a new type is a new variant (see below)
        "ProductionVariants": [{"VariantName": "g5-xlarge", "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
                                "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 2, "InitialVariantWeight": 1,
                                "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}}],
        "ShadowProductionVariants": [{"VariantName": "Shadow", "ModelName": {"Fn::GetAtt": [shadow_id, "ModelName"]},
                                      "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1,
                                      "InitialVariantWeight": 0.2}],
    })


def test_an_update_keeps_the_autoscaled_instance_count(prod, cpu):
    """Without RetainAllVariantProperties an update resets each variant's desired count to the config's
    initial count (UpdateEndpoint: "The default is false"); weights and data capture still follow the new
    config (ExcludeRetainedVariantProperties: DesiredInstanceCount | DesiredWeight | DataCaptureConfig)."""
    for template in (prod, cpu):
        template.has_resource_properties("AWS::SageMaker::Endpoint", {
            "RetainAllVariantProperties": True,
            "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"},
                                                 {"VariantPropertyType": "DataCaptureConfig"}],
        })


def test_a_new_instance_type_is_a_new_variant_with_its_own_scalable_target():
    from stacks.config.endpoint import EndpointSettings

    g5, g6 = EndpointSettings(instance_type="ml.g5.xlarge"), EndpointSettings(instance_type="ml.g6.2xlarge")
    assert (g5.variant_name, g6.variant_name) == ("g5-xlarge", "g6-2xlarge")
    assert g5.invocation_dimensions("e") == {"EndpointName": "e", "VariantName": "g5-xlarge"}


def test_the_shadow_variant_scales_on_its_own_policy(prod):
    prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": "endpoint/mf-fraud-card-fraud-prod/variant/Shadow", "MinCapacity": 1, "MaxCapacity": 3})
    prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({"CustomizedMetricSpecification": {
            "Namespace": "AWS/SageMaker", "MetricName": "InvocationsPerInstance", "Statistic": "Sum",
            "Dimensions": [{"Name": "EndpointName", "Value": "mf-fraud-card-fraud-prod"},
                           {"Name": "VariantName", "Value": "Shadow"}]}, "TargetValue": 750})})


def test_canary_blue_green_rollout_rolls_back_on_the_endpoint_alarms(prod):
    alarm_ids = {name: only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": f"mf-fraud-card-fraud-prod-{name}"})[0]
                 for name in ("5xx-errors", "model-errors", "latency-p99")}
    prod.has_resource_properties("AWS::SageMaker::Endpoint", {
        "EndpointName": "mf-fraud-card-fraud-prod",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                                                "WaitIntervalInSeconds": 600},
                "TerminationWaitInSeconds": 300,
                # canary: 2 steps x (6 min start-up + 5 min provisioning margin) + 10 min wait + 5 min termination
                "MaximumExecutionTimeoutInSeconds": 2 * (360 + 300) + 600 + 300,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": {"Ref": alarm_ids[n]}}
                                                     for n in ("5xx-errors", "model-errors", "latency-p99")]},
        },
    })


def test_linear_rollout(cpu):
    cpu.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": Match.object_like({
        "BlueGreenUpdatePolicy": Match.object_like({"TrafficRoutingConfiguration": {
            "Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
            "WaitIntervalInSeconds": 300}})})})


def test_scalable_target_bounds_schedule_and_service_linked_role(prod):
    prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/mf-fraud-card-fraud-prod/variant/g5-xlarge",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 2, "MaxCapacity": 12,
        "RoleARN": Match.string_like_regexp("AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint$"),
        # Application Auto Scaling PutScheduledAction: Timezone (IANA); without it the cron is UTC
        "ScheduledActions": [
            {"ScheduledActionName": Match.any_value(), "Schedule": "cron(30 7 ? * MON-FRI *)",
             "Timezone": "Europe/Dublin", "ScalableTargetAction": {"MinCapacity": 9, "MaxCapacity": 12}},
            {"ScheduledActionName": Match.any_value(), "Schedule": "cron(0 10 ? * MON-FRI *)",
             "Timezone": "Europe/Dublin", "ScalableTargetAction": {"MinCapacity": 2, "MaxCapacity": 12}},
        ],
    })


def test_invocations_target_is_max_rps_times_half_times_sixty_with_cooldowns(prod):
    prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "TargetValue": 25 * 0.5 * 60,
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 900,
        },
    })


def test_gpu_utilisation_policy_normalised_by_gpu_count(prod, cpu):
    prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "CustomizedMetricSpecification": {
                "Namespace": "/aws/sagemaker/Endpoints", "MetricName": "GPUUtilization", "Statistic": "Average",
                "Dimensions": [{"Name": "EndpointName", "Value": "mf-fraud-card-fraud-prod"},
                               {"Name": "VariantName", "Value": "g5-xlarge"}],
            },
            "TargetValue": 70,
        }),
    })
    assert not cpu.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {
        "TargetTrackingScalingPolicyConfiguration": {"CustomizedMetricSpecification": Match.object_like({
            "MetricName": "GPUUtilization"})}}})


def test_concurrency_policy_uses_the_high_resolution_metric(cpu):
    cpu.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"},
            "TargetValue": 8,
        }),
    })


def test_alarms_metrics_thresholds_and_notifications(prod):
    def alarm(name: str) -> dict:
        return only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": f"mf-fraud-card-fraud-prod-{name}"})[1]["Properties"]

    for name, metric, namespace, statistic, threshold in (
        ("5xx-errors", "Invocation5XXErrors", "AWS/SageMaker", "Sum", 5),
        ("model-errors", "InvocationModelErrors", "AWS/SageMaker", "Sum", 5),
        ("gpu-memory", "GPUMemoryUtilization", "/aws/sagemaker/Endpoints", "Average", 90),
    ):
        props = alarm(name)
        assert (props["MetricName"], props["Namespace"], props["Statistic"], props["Threshold"]) == (
            metric, namespace, statistic, threshold)
        assert props["AlarmActions"] == [TOPIC] and props["OKActions"] == [TOPIC]
    latency = alarm("latency-p99")
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == ("ModelLatency", "p99", 250_000)
    at_max = alarm("instances-at-max")
    assert at_max["Threshold"] == 12 and at_max["EvaluationPeriods"] == 15
    samples = next(m for m in at_max["Metrics"] if m["Id"] == "samples")["MetricStat"]
    assert (samples["Metric"]["MetricName"], samples["Stat"]) == ("CPUUtilization", "SampleCount")


def test_dashboard_shows_invocations_latency_gpu_and_instances(prod):
    _, dashboard = only(prod, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == "mf-fraud-card-fraud-prod"
    for needle in ("Invocations", "ModelLatency", "GPUUtilization", "GPUMemoryUtilization", "CPUUtilization",
                   "Instances in service"):
        assert needle in body


def test_scale_to_zero_serves_through_an_inference_component(staging):
    model_id, _ = only(staging, "AWS::SageMaker::Model")
    staging.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "ProductionVariants": [Match.object_like({
            "VariantName": "g5-xlarge", "ModelName": Match.absent(),
            "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2},
            "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
        })],
        "ExecutionRoleArn": ROLE,
    })
    staging.has_resource_properties("AWS::SageMaker::InferenceComponent", {
        "InferenceComponentName": "mf-fraud-card-fraud-staging-ic",
        "VariantName": "g5-xlarge",
        "Specification": {"ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
                          "ComputeResourceRequirements": Match.object_like({"NumberOfAcceleratorDevicesRequired": 1})},
        "RuntimeConfig": {"CopyCount": 1},
    })
    staging.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": Match.absent()})
    staging.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": "inference-component/mf-fraud-card-fraud-staging-ic",
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        "MinCapacity": 0, "MaxCapacity": 2,
    })
    # SageMaker publishes no invocation datapoint without traffic: scale-in to zero tracks concurrent requests
    # per copy, published at zero too (AWS's scale-to-zero example for inference components)
    staging.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"}})})
    assert not staging.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({"PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"}})}})
    # GPU per copy, normalised 0-100, where SageMaker publishes it for inference components
    staging.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({"CustomizedMetricSpecification": {
            "Namespace": "/aws/sagemaker/InferenceComponents", "MetricName": "GPUUtilizationNormalized",
            "Statistic": "Average",
            "Dimensions": [{"Name": "InferenceComponentName", "Value": "mf-fraud-card-fraud-staging-ic"}]},
            "TargetValue": 70})})
    # the rolling update's batch is 5-50 % of the copies, its timeout covers every batch's wait
    staging.has_resource_properties("AWS::SageMaker::InferenceComponent", {"DeploymentConfig": Match.object_like({
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                                "WaitIntervalInSeconds": 300,
                                "MaximumExecutionTimeoutInSeconds": 2 * (300 + 360 + 300) + 300}})})


def test_every_alarm_and_widget_on_an_inference_component_uses_its_dimension(staging):
    """Endpoints served through an inference component publish invocation metrics per InferenceComponentName
    (SageMaker developer guide, "Metrics for inference components"); EndpointName/VariantName would watch
    nothing."""
    for alarm in staging.find_resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        metrics = [props] if "Namespace" in props else [m.get("MetricStat", {}).get("Metric", {})
                                                         for m in props.get("Metrics", [])]
        for metric in metrics:
            if metric.get("Namespace") == "AWS/SageMaker":
                assert metric["Dimensions"] == [
                    {"Name": "InferenceComponentName", "Value": "mf-fraud-card-fraud-staging-ic"}], props["AlarmName"]
    (dashboard,) = staging.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads("".join(p if isinstance(p, str) else "" for p in
                              dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]))
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if metric[0] == "AWS/SageMaker":
                assert metric[2:4] == ["InferenceComponentName", "mf-fraud-card-fraud-staging-ic"], metric


def test_scale_to_zero_wakes_up_on_no_capacity_failures(staging):
    policy_id, _ = only(staging, "AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": Match.object_like({
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        }),
    })
    staging.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "NoCapacityInvocationFailures", "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": "mf-fraud-card-fraud-staging-ic"}],
        "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [{"Ref": policy_id}],
    })




def test_an_endpoint_in_a_separate_account_uses_the_factory_bucket_and_key(endpoints):
    stack = endpoints["stacks"]["separate"]
    assert stack.account == "444444444444"
    template = endpoints["templates"]["separate"]
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"DataCaptureConfig": Match.object_like({
        "DestinationS3Uri": "s3://mf-pricing-222222222222-eu-west-1/data-capture/mf-pricing-demand-forecast-prod",
        "KmsKeyId": "arn:aws:kms:eu-west-1:222222222222:alias/mf-pricing"})})
    # its own account's role and topic, which the target stack creates under the team's names
    template.has_resource_properties("AWS::SageMaker::Model", {
        "ExecutionRoleArn": "arn:aws:iam::444444444444:role/mf-pricing-sagemaker-execution"})


def test_idle_gpu_guard_alarms_after_idle_hours_and_scales_the_component_to_zero(staging):
    _, alarm = only(staging, "AWS::CloudWatch::Alarm", {"AlarmName": "mf-fraud-card-fraud-staging-idle"})
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/SageMaker", "Invocations", "Sum", 3600)
    assert props["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "mf-fraud-card-fraud-staging-ic"}]
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["Threshold"], props["ComparisonOperator"],
            props["TreatMissingData"]) == (8, 8, 1, "LessThanThreshold", "breaching")
    policy_id, policy = only(staging, "AWS::ApplicationAutoScaling::ScalingPolicy", {
        "StepScalingPolicyConfiguration": Match.object_like({"AdjustmentType": "ExactCapacity"})})
    assert policy["Properties"]["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]
    assert {"Ref": policy_id} in props["AlarmActions"]
    assert any("sns" in json.dumps(a) or a == TOPIC for a in props["AlarmActions"])


def test_idle_guard_on_a_variant_endpoint_only_notifies_and_never_on_prod(endpoints, prod):
    template = endpoints["templates"]["staging-variant"]
    _, alarm = only(template, "AWS::CloudWatch::Alarm", {"AlarmName": "mf-pricing-demand-forecast-staging-idle"})
    assert alarm["Properties"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "mf-pricing-demand-forecast-staging"}, {"Name": "VariantName", "Value": "g4dn-xlarge"}]
    assert alarm["Properties"]["EvaluationPeriods"] == 12
    assert not template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {
        "StepScalingPolicyConfiguration": Match.object_like({"AdjustmentType": "ExactCapacity"})}})
    assert not prod.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": Match.string_like_regexp("-idle$")}})
    assert not endpoints["templates"]["cpu"].find_resources("AWS::CloudWatch::Alarm", {"Properties": {
        "AlarmName": Match.string_like_regexp("-idle$")}})


def test_endpoint_resources_carry_the_teams_cost_allocation_tags(prod):
    for resource_type in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig",
                          "AWS::SageMaker::MonitoringSchedule", "AWS::SageMaker::DataQualityJobDefinition"):
        for resource in prod.find_resources(resource_type).values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            assert tags["model-factory:cost-center"] == "cc-1234", resource_type
            assert (tags["model-factory:team"], tags["model-factory:model"], tags["model-factory:stage"]) == (
                "fraud", "card-fraud", "prod"), resource_type


def test_container_errors_4xx_rate_and_overhead_latency_are_alarmed(prod):
    # the log group SageMaker writes the containers' output to, made up front: KMS and a year's retention
    prod.has_resource_properties("AWS::Logs::LogGroup", {
        "LogGroupName": "/aws/sagemaker/Endpoints/mf-fraud-card-fraud-prod", "RetentionInDays": 365,
        "KmsKeyId": {"Ref": Match.string_like_regexp("^SsmParameterValue")}})
    prod.has_resource_properties("AWS::Logs::MetricFilter", {
        "FilterPattern": "?ERROR ?Error ?Exception ?Traceback ?CRITICAL",
        "MetricTransformations": [{"MetricNamespace": "ModelFactory/Containers",
                                   "MetricName": "mf-fraud-card-fraud-prod-container-errors", "MetricValue": "1",
                                   "DefaultValue": 0}]})
    _, errors = only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": "mf-fraud-card-fraud-prod-container-errors"})
    assert (errors["Properties"]["MetricName"], errors["Properties"]["Threshold"]) == (
        "mf-fraud-card-fraud-prod-container-errors", 5)
    _, rate = only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": "mf-fraud-card-fraud-prod-4xx-rate"})
    expression = next(m for m in rate["Properties"]["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "IF(invocations > 0, 100 * errors / invocations, 0)"
    assert rate["Properties"]["Threshold"] == 5
    _, overhead = only(prod, "AWS::CloudWatch::Alarm", {"AlarmName": "mf-fraud-card-fraud-prod-overhead-latency-p99"})
    # OverheadLatency is reported in microseconds
    assert (overhead["Properties"]["MetricName"], overhead["Properties"]["Threshold"]) == ("OverheadLatency", 100_000)


def test_large_models_get_their_start_up_and_download_timeouts(cpu):
    # ProductionVariant ContainerStartupHealthCheckTimeoutInSeconds / ModelDataDownloadTimeoutInSeconds: 60-3600
    cpu.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [Match.object_like({
        "ContainerStartupHealthCheckTimeoutInSeconds": 900, "ModelDataDownloadTimeoutInSeconds": 1200})]})
