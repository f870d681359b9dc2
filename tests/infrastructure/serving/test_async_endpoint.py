"""`endpoint.mode: async`: the endpoint config, its notification topics, queue-based scaling to zero and the
wake-up policy, on the stack synthesized from tests/fixtures/manifest-prod-async.json."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.helpers import only
from tests.infrastructure.endpoint_manifests import KEY_ALIAS

ENDPOINT = "mf-fraud-card-fraud-prod"
BUCKET = "s3://mf-fraud-111111111111-eu-west-1"


def test_async_config_writes_answers_and_failures_to_the_team_bucket_with_the_team_key(async_prod):
    success, _ = only(async_prod, "AWS::SNS::Topic", {"TopicName": f"{ENDPOINT}-async-success"})
    error, _ = only(async_prod, "AWS::SNS::Topic", {"TopicName": f"{ENDPOINT}-async-error"})
    # botocore AsyncInferenceConfig: OutputConfig {S3OutputPath, S3FailurePath, KmsKeyId, NotificationConfig},
    # ClientConfig.MaxConcurrentInvocationsPerInstance (1-1000)
    async_prod.has_resource_properties("AWS::SageMaker::EndpointConfig", {"AsyncInferenceConfig": {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
        "OutputConfig": {
            "S3OutputPath": f"{BUCKET}/async/{ENDPOINT}/output",
            "S3FailurePath": f"{BUCKET}/async/{ENDPOINT}/failures",
            "KmsKeyId": KEY_ALIAS,
            "NotificationConfig": {"SuccessTopic": {"Ref": success}, "ErrorTopic": {"Ref": error}},
        },
    }})


def test_async_topics_are_encrypted_with_the_team_key_of_the_account(async_prod):
    topics = async_prod.find_resources("AWS::SNS::Topic", {"Properties": {"TopicName": Match.string_like_regexp("-async-")}})
    assert len(topics) == 2
    for topic in topics.values():
        assert "Ref" in topic["Properties"]["KmsMasterKeyId"]  # the team key's ARN from its SSM parameter


def test_async_keeps_data_capture_and_the_variant_starts_with_one_instance(async_prod):
    # InitialInstanceCount is at least 1 (botocore ProductionVariant.InitialInstanceCount: InitialTaskCount min 1)
    async_prod.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "ProductionVariants": [Match.object_like({"VariantName": "g5-xlarge", "InitialInstanceCount": 1})],
        "DataCaptureConfig": Match.object_like({"EnableCapture": True,
                                                "DestinationS3Uri": f"{BUCKET}/data-capture/{ENDPOINT}"}),
    })


def test_async_scales_on_the_queue_down_to_zero(async_prod):
    target, _ = only(async_prod, "AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": f"endpoint/{ENDPOINT}/variant/g5-xlarge", "MinCapacity": 0, "MaxCapacity": 12})
    # SageMaker developer guide, async-inference-autoscale: target tracking on ApproximateBacklogSizePerInstance,
    # AWS/SageMaker, dimension EndpointName only (async-inference-monitor)
    async_prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling", "ScalingTargetId": {"Ref": target},
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "TargetValue": 8,
            "CustomizedMetricSpecification": {"MetricName": "ApproximateBacklogSizePerInstance",
                                              "Namespace": "AWS/SageMaker", "Statistic": "Average",
                                              "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}]}})})
    # a real-time invocations policy would never see the queue
    assert not async_prod.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {
        "TargetTrackingScalingPolicyConfiguration": {"PredefinedMetricSpecification": Match.any_value()}}})


def test_a_request_waiting_with_no_instance_adds_one(async_prod):
    # async-inference-autoscale, "scale up from zero": step policy ChangeInCapacity +1 from lower bound 0, on an
    # alarm on HasBacklogWithoutCapacity (Average, 60 s, 2 of 2, >= 1, missing data stays missing)
    policy, _ = only(async_prod, "AWS::ApplicationAutoScaling::ScalingPolicy", {"PolicyType": "StepScaling"})
    async_prod.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": Match.object_like({
            "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]})})
    async_prod.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{ENDPOINT}-backlog-without-capacity", "Namespace": "AWS/SageMaker",
        "MetricName": "HasBacklogWithoutCapacity", "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
        "Statistic": "Average", "Period": 60, "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing",
        "AlarmActions": [{"Ref": policy}]})


def test_async_keeps_the_rollout_and_rollback_alarms_of_real_time(async_prod):
    rollback = [only(async_prod, "AWS::CloudWatch::Alarm", {"AlarmName": f"{ENDPOINT}-{name}"})[0]
                for name in ("5xx-errors", "model-errors", "latency-p99")]
    async_prod.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": {
        "BlueGreenUpdatePolicy": Match.object_like({"TrafficRoutingConfiguration": Match.object_like({"Type": "CANARY"})}),
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": {"Ref": alarm}} for alarm in rollback]}}})
    async_prod.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{ENDPOINT}-async-oldest-request", "MetricName": "ApproximateAgeOfOldestRequest",
        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}], "Statistic": "Maximum", "Threshold": 900})
    # and the factory engine watches it like a real-time endpoint
    async_prod.has_resource_properties("AWS::SageMaker::Pipeline", {"PipelineName": f"{ENDPOINT}-drift"})


def test_no_inference_component_and_no_idle_guard_for_an_async_fleet(async_prod):
    assert not async_prod.find_resources("AWS::SageMaker::InferenceComponent")
    assert not async_prod.find_resources("AWS::CloudWatch::Alarm", {"Properties": {
        "AlarmName": Match.string_like_regexp("idle")}})


def statements(template, sid: str) -> list[dict]:
    return [s for p in template.find_resources("AWS::IAM::Policy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == sid]


def test_sagemaker_may_publish_only_to_the_teams_async_topics(fraud, example_factory):
    # async-inference-create-endpoint prerequisites: the execution role publishes the notifications (sns:Publish)
    (publish,) = statements(fraud, "PublishAsyncNotifications")
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == "arn:aws:sns:eu-west-1:111111111111:mf-fraud-*-async-*"


def test_cloudformation_manages_only_the_async_topics_named_after_the_models_endpoints(example_factory):
    build = example_factory.build_template("fraud", "card-fraud")
    (topics,) = statements(build, "AsyncNotificationTopics")
    assert "sns:CreateTopic" in topics["Action"] and "sns:Publish" not in topics["Action"]
    assert topics["Resource"] == "arn:aws:sns:eu-west-1:111111111111:mf-fraud-card-fraud-*-async-*"


def test_the_smoke_test_may_put_its_sample_only_under_the_staging_input_prefix(example_factory):
    build = example_factory.build_template("fraud", "card-fraud")
    (put,) = statements(build, "SmokeTestAsyncInput")
    assert put["Action"] == "s3:PutObject"
    assert put["Resource"] == "arn:aws:s3:::mf-fraud-111111111111-eu-west-1/async/mf-fraud-card-fraud-staging/input/*"
    (invoke,) = statements(build, "SmokeTestStaging")
    assert invoke["Action"] == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"]


def test_the_smoke_test_may_list_the_answer_prefixes_so_that_a_missing_answer_is_no_such_key(example_factory):
    # S3: without s3:ListBucket, GetObject of a missing key answers 403 AccessDenied, not 404 NoSuchKey
    # (S3 API reference, GetObject "Permissions")
    build = example_factory.build_template("fraud", "card-fraud")
    (listing,) = statements(build, "SmokeTestAsyncAnswers")
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [
        "async/mf-fraud-card-fraud-staging/output/*", "async/mf-fraud-card-fraud-staging/failures/*"]}}


def test_the_smoke_test_may_run_and_follow_exactly_the_staging_batch_pipeline(example_factory):
    build = example_factory.build_template("pricing", "demand-forecast")
    (batch,) = statements(build, "SmokeTestStagingBatch")
    assert sorted(batch["Action"]) == ["sagemaker:DescribePipelineExecution", "sagemaker:StartPipelineExecution"]
    assert batch["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mf-pricing-demand-forecast-staging-batch",
        "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mf-pricing-demand-forecast-staging-batch/execution/*"]


def test_the_tasks_project_outlasts_the_longest_smoke_test(example_factory):
    from stacks.config.endpoint import EndpointSettings

    build = example_factory.build_template("pricing", "demand-forecast")
    build.has_resource_properties("AWS::CodeBuild::Project", {"Name": "mf-pricing-demand-forecast-deploy",
                                                              "TimeoutInMinutes": 30})  # async staging: 13 min wait
    # CodeBuild's project timeout (5-2160 minutes) must cover the staging smoke test's wait plus the setup
    batch = EndpointSettings(mode="batch", batch={"schedule": "rate(1 day)", "input_s3_uri": "s3://bucket-a/in",
                                                  "output_s3_uri": "s3://bucket-a/batch/out"})
    assert batch.smoke_test_wait_seconds == 3600
    assert EndpointSettings(mode="async", min_instances=0, initial_instances=1, startup_minutes=20
                            ).smoke_test_wait_seconds == 27 * 60
