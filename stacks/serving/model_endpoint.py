"""`ModelEndpoint`: a production-grade SageMaker endpoint for one approved model package.

- Model from the package, endpoint config and endpoint; KMS on volumes (where the family allows) and
  on captured data; request/response data capture to the team bucket.
- Blue/green rollout (canary, linear or all at once) that rolls back on the endpoint's alarms.
- Optional shadow variant for a challenger package.
- Autoscaling: invocations-per-instance or high-resolution concurrency target tracking, a GPU
  utilisation policy on GPU instances, scheduled capacity, and scale to zero through an inference
  component woken by NoCapacityInvocationFailures.
- Alarms (5XX, 4XX rate, model errors, p99 model and overhead latency, container errors from the
  endpoint's log group, GPU memory, instance count at max) and a dashboard, on the dimensions SageMaker
  publishes for the way the model is served (EndpointName/VariantName or InferenceComponentName).
- Updates keep the live capacity: RetainAllVariantProperties retains the autoscaled instance count.
- `mode: async`: AsyncInferenceConfig (answers and failures in the team bucket under the team key, success and
  error notifications on KMS-encrypted topics), scaling on the queue (ApproximateBacklogSizePerInstance) down
  to zero instances, and a step policy that adds an instance when requests wait with none running
  (HasBacklogWithoutCapacity).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import format_arn
from stacks.common.naming import SHADOW_VARIANT, async_locations, async_topic_name
from stacks.common.shared_values import minutes, seconds
from stacks.config.endpoint import EndpointSettings, inference_component_name

ENDPOINT_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
# utilisation of an inference component's copies, normalised to 0-100 (SageMaker developer guide,
# "Inference component metrics")
COMPONENT_NAMESPACE = "/aws/sagemaker/InferenceComponents"
CONTAINER_ERRORS_NAMESPACE = "ModelFactory/Containers"
# what a container's error lines look like in its log stream (Python tracebacks, log levels)
CONTAINER_ERROR_PATTERN = "?ERROR ?Error ?Exception ?Traceback ?CRITICAL"
TRAFFIC_ROUTING = {"canary": "CANARY", "linear": "LINEAR", "all_at_once": "ALL_AT_ONCE"}


class ModelEndpoint(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model_package_arn: str,
        settings: EndpointSettings,
        execution_role_arn: str,
        capture_bucket_name: str,
        kms_key_arn: str,
        alarm_topic: sns.ITopic,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        self.settings = settings
        self.variant_name = settings.variant_name
        self.dimensions = settings.invocation_dimensions(endpoint_name)
        self.log_group = self._log_group(log_key)
        self.model = self._model("Model", model_package_arn, execution_role_arn)
        shadow_model = (self._model("ShadowModel", settings.shadow.model_package_arn, execution_role_arn)
                        if settings.shadow else None)

        self.inference_component_name = inference_component_name(endpoint_name) if settings.scale_to_zero else None
        self.async_topics = self._async_topics(log_key) if settings.is_async else {}
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[self._production_variant(execution_role_arn)],
            shadow_production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=SHADOW_VARIANT,
                model_name=shadow_model.attr_model_name,
                instance_type=settings.instance_type,
                initial_instance_count=settings.shadow.min_instances,
                initial_variant_weight=settings.shadow.sampling_percent / 100,
                **self._variant_timeouts(),
            )] if shadow_model else None,
            execution_role_arn=execution_role_arn if settings.scale_to_zero else None,
            kms_key_id=kms_key_arn if settings.volume_accepts_kms_key else None,
            async_inference_config=self._async_config(capture_bucket_name, kms_key_arn) if settings.is_async else None,
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=settings.data_capture_percent > 0,
                initial_sampling_percentage=max(settings.data_capture_percent, 1),
                destination_s3_uri=f"s3://{capture_bucket_name}/data-capture/{endpoint_name}",
                kms_key_id=kms_key_arn,
                capture_options=[sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=mode)
                                 for mode in ("Input", "Output")],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=["text/csv"], json_content_types=["application/json"]),
            ),
        )
        self.alarms = self._alarms(alarm_topic)
        rollback = [self.alarms["errors_5xx"], self.alarms["model_errors"], self.alarms["latency_p99"]]
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            # An update must not reset the autoscaled instance count to the config's initial count; weights
            # and data capture still come from the new config (UpdateEndpoint RetainAllVariantProperties,
            # ExcludeRetainedVariantProperties).
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=kind)
                for kind in ("DesiredWeight", "DataCaptureConfig")],
            deployment_config=None if settings.scale_to_zero else sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=self._blue_green_policy(),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in rollback]),
            ),
        )
        if settings.scale_to_zero:
            self._inference_component(rollback)
            self.scalable_target = self._scale_inference_component()
        else:
            self.scalable_target = self._scale_variant()
            if settings.shadow:
                self.shadow_scalable_target = self._scale_shadow()
        self.dashboard = self._dashboard()

    # --- serving ---------------------------------------------------------------------------------
    def _async_topics(self, key: kms.IKey | None) -> dict[str, sns.Topic]:
        """Where SageMaker tells callers that an answer (or a failure) is in S3; the execution role may publish
        to `<endpoint>-async-*` and use the team key."""
        topics = {}
        for kind in ("success", "error"):
            topics[kind] = sns.Topic(self, f"Async{kind.title()}Topic", topic_name=async_topic_name(self.endpoint_name, kind),
                                     master_key=key, enforce_ssl=True)
        return topics

    def _async_config(self, bucket_name: str, kms_key_arn: str) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        uris = async_locations(bucket_name, self.endpoint_name)
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=self.settings.async_inference.max_concurrent_invocations_per_instance),
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=uris["output"],
                s3_failure_path=uris["failures"],
                kms_key_id=kms_key_arn,
                notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                    success_topic=self.async_topics["success"].topic_arn,
                    error_topic=self.async_topics["error"].topic_arn),
            ),
        )

    def _model(self, construct_id: str, package_arn: str, role_arn: str) -> sagemaker.CfnModel:
        return sagemaker.CfnModel(
            self,
            construct_id,
            execution_role_arn=role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=package_arn),
            enable_network_isolation=True,
        )

    def _variant_timeouts(self) -> dict:
        s = self.settings
        return {k: v for k, v in {
            "container_startup_health_check_timeout_in_seconds": s.startup_health_check_timeout_seconds,
            "model_data_download_timeout_in_seconds": s.model_download_timeout_seconds}.items() if v is not None}

    def _production_variant(self, role_arn: str) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        s = self.settings
        # requests go to the instance with the fewest outstanding requests, not at random
        routing = sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy="LEAST_OUTSTANDING_REQUESTS")
        if s.scale_to_zero:
            # Instances are managed by SageMaker for the inference component, which may scale to 0 copies.
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=self.variant_name,
                instance_type=s.instance_type,
                initial_instance_count=max(s.initial_instances, 1),
                managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                    status="ENABLED", min_instance_count=0, max_instance_count=s.max_instances),
                routing_config=routing,
                **self._variant_timeouts(),
            )
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=self.variant_name,
            model_name=self.model.attr_model_name,
            instance_type=s.instance_type,
            # InitialInstanceCount is at least 1 (botocore InitialTaskCount); an async fleet at min 0 scales in
            initial_instance_count=max(s.initial_instances, 1),
            initial_variant_weight=1.0,
            routing_config=routing,
            **self._variant_timeouts(),
        )

    def _blue_green_policy(self) -> sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty:
        d = self.settings.deployment
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=TRAFFIC_ROUTING[d.strategy],
            wait_interval_in_seconds=d.wait_minutes * 60,
            canary_size=sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=d.canary_percent)
            if d.strategy == "canary" else None,
            linear_step_size=sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=d.step_percent)
            if d.strategy == "linear" else None,
        )
        return sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=d.termination_wait_minutes * 60,
            # every step's wait and provisioning plus the termination wait (EndpointSettings validates the API max)
            maximum_execution_timeout_in_seconds=self.settings.deployment_timeout_seconds,
        )

    def _inference_component(self, rollback: list[cloudwatch.Alarm]) -> None:
        s = self.settings
        d = s.deployment
        self.inference_component = sagemaker.CfnInferenceComponent(
            self,
            "InferenceComponent",
            inference_component_name=self.inference_component_name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=self.variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent
                .InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=1 if s.is_gpu else None,
                    number_of_cpu_cores_required=None if s.is_gpu else 1,
                    min_memory_required_in_mb=1024,
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=max(s.initial_instances, 1)),
            # inference components roll out copy by copy; the same alarms roll them back
            deployment_config=sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
                    # 5-50 % of the copies per batch (all_at_once is refused by the settings validator)
                    maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                        type="CAPACITY_PERCENT",
                        value=d.canary_percent if d.strategy == "canary" else d.step_percent),
                    wait_interval_in_seconds=d.wait_minutes * 60,
                    maximum_execution_timeout_in_seconds=s.deployment_timeout_seconds,
                ),
                auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                    alarms=[sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=a.alarm_name)
                            for a in rollback]),
            ),
        )

    # --- scaling ---------------------------------------------------------------------------------
    def _autoscaling_role(self) -> iam.IRole:
        # Application Auto Scaling acts on SageMaker through its service-linked role (created by the
        # service on first use), not through a role of ours.
        existing = self.node.try_find_child("AutoScalingServiceRole")
        if existing is not None:
            return existing
        stack = cdk.Stack.of(self)
        return iam.Role.from_role_arn(self, "AutoScalingServiceRole", format_arn(stack,
            service="iam", region="", resource="role",
            resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                          "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"), mutable=False)

    def _variant_target(self, construct_id: str, variant: str, low: int, high: int) -> appscaling.ScalableTarget:
        target = appscaling.ScalableTarget(
            self,
            construct_id,
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{variant}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            role=self._autoscaling_role(),
            min_capacity=low,
            max_capacity=high,
        )
        target.node.add_dependency(self.endpoint)
        return target

    def _scale_variant(self) -> appscaling.ScalableTarget:
        s = self.settings
        target = self._variant_target("ScalableTarget", self.variant_name, s.min_instances, s.max_instances)
        cooldowns = {"scale_out_cooldown": seconds(s.scale_out_cooldown_seconds),
                     "scale_in_cooldown": seconds(s.scale_in_cooldown_seconds)}
        if s.is_async:
            self._scale_on_queue(target)
        elif s.scaling_metric == "invocations":
            target.scale_to_track_metric(
                "InvocationsPerInstance",
                predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
                target_value=s.invocations_target_per_instance,
                **cooldowns,
            )
        else:
            target.scale_to_track_metric(
                "ConcurrentRequests",
                predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION,
                target_value=s.target_concurrency_per_instance,
                **cooldowns,
            )
        if s.gpu_policy_target is not None:
            target.scale_to_track_metric(
                "GpuUtilization",
                custom_metric=self._instance_metric("GPUUtilization", "Average"),
                target_value=s.gpu_policy_target,
                **cooldowns,
            )
        self._schedule(target)
        return target

    def _scale_on_queue(self, target: appscaling.ScalableTarget) -> None:
        """Async: hold the queue per instance at its target (AWS's async autoscaling example) and, at zero
        instances where that metric has nothing to divide by, add one instance as soon as a request waits."""
        s = self.settings
        target.scale_to_track_metric(
            "BacklogPerInstance",
            custom_metric=self._async_metric("ApproximateBacklogSizePerInstance", "Average"),
            target_value=s.async_inference.backlog_per_instance,
            scale_out_cooldown=seconds(s.scale_out_cooldown_seconds),
            scale_in_cooldown=seconds(s.scale_in_cooldown_seconds),
        )
        wake_up = appscaling.StepScalingAction(
            self, "WakeUpOnBacklog", scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=seconds(s.scale_out_cooldown_seconds),
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        wake_up.add_adjustment(adjustment=1, lower_bound=0)
        self.wake_up_alarm = cloudwatch.Alarm(
            self, "BacklogWithoutCapacityAlarm",
            alarm_name=f"{self.endpoint_name}-backlog-without-capacity",
            alarm_description="Requests wait in the queue with no instance running: add one instance",
            metric=self._async_metric("HasBacklogWithoutCapacity", "Average"),
            threshold=1, evaluation_periods=2, datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        self.wake_up_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(wake_up))

    def _async_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        """The asynchronous endpoint metrics are published per EndpointName only (SageMaker developer guide,
        "Monitoring asynchronous endpoints")."""
        return cloudwatch.Metric(namespace=ENDPOINT_NAMESPACE, metric_name=name,
                                 dimensions_map={"EndpointName": self.endpoint_name}, statistic=statistic,
                                 period=minutes(1))

    def _scale_shadow(self) -> appscaling.ScalableTarget:
        """The shadow variant scales on its own share of the traffic, with the production variant's policy."""
        s, shadow = self.settings, self.settings.shadow
        target = self._variant_target("ShadowScalableTarget", SHADOW_VARIANT, shadow.min_instances,
                                      shadow.max_instances)
        target.scale_to_track_metric(
            "ShadowInvocationsPerInstance",
            custom_metric=cloudwatch.Metric(
                namespace=ENDPOINT_NAMESPACE, metric_name="InvocationsPerInstance",
                dimensions_map={"EndpointName": self.endpoint_name, "VariantName": SHADOW_VARIANT},
                statistic="Sum", period=minutes(1)),
            target_value=s.invocations_target_per_instance,
            scale_out_cooldown=seconds(s.scale_out_cooldown_seconds),
            scale_in_cooldown=seconds(s.scale_in_cooldown_seconds),
        )
        return target

    def _scale_inference_component(self) -> appscaling.ScalableTarget:
        s = self.settings
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{self.inference_component_name}",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            role=self._autoscaling_role(),
            min_capacity=0,
            max_capacity=s.max_instances,
        )
        target.node.add_dependency(self.inference_component)
        cooldowns = {"scale_out_cooldown": seconds(s.scale_out_cooldown_seconds),
                     "scale_in_cooldown": seconds(s.scale_in_cooldown_seconds)}
        # SageMaker publishes no invocation datapoint while there is no traffic, so a policy on invocations
        # never sees the idle minutes and never scales in to zero; concurrent requests per copy (high
        # resolution) is published at zero too (AWS's scale-to-zero example for inference components).
        target.scale_to_track_metric(
            "ConcurrentRequestsPerCopy",
            predefined_metric=appscaling.PredefinedMetric
            .SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
            target_value=s.target_concurrency_per_instance,
            **cooldowns,
        )
        if s.effective_gpu_target_percent is not None:
            # per copy and already normalised to 0-100 across the copy's accelerators
            target.scale_to_track_metric(
                "GpuUtilizationPerCopy",
                custom_metric=cloudwatch.Metric(
                    namespace=COMPONENT_NAMESPACE, metric_name="GPUUtilizationNormalized",
                    dimensions_map={"InferenceComponentName": self.inference_component_name},
                    statistic="Average", period=minutes(1)),
                target_value=s.effective_gpu_target_percent,
                **cooldowns,
            )
        # At zero copies target tracking has nothing to measure: a request that finds no capacity wakes it.
        wake_up = appscaling.StepScalingAction(
            self,
            "WakeUpFromZero",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=seconds(s.scale_out_cooldown_seconds),
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
        )
        wake_up.add_adjustment(adjustment=1, lower_bound=0)
        self.wake_up_alarm = cloudwatch.Alarm(
            self,
            "NoCapacityAlarm",
            alarm_name=f"{self.endpoint_name}-no-capacity",
            alarm_description="Requests found no capacity (scaled to zero): add one copy",
            metric=cloudwatch.Metric(
                namespace=ENDPOINT_NAMESPACE,
                metric_name="NoCapacityInvocationFailures",
                dimensions_map={"InferenceComponentName": self.inference_component_name},
                statistic="Maximum",
                period=minutes(1),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.wake_up_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(wake_up))
        self._schedule(target)
        return target

    def _schedule(self, target: appscaling.ScalableTarget) -> None:
        for index, entry in enumerate(self.settings.schedule):
            target.scale_on_schedule(
                f"Scheduled{index}",
                schedule=appscaling.Schedule.expression(entry.cron),
                min_capacity=entry.min,
                max_capacity=entry.max,
                # the cron is local time of this zone (PutScheduledAction Timezone); UTC otherwise
                time_zone=cdk.TimeZone.of(entry.timezone),
            )

    # --- observability ---------------------------------------------------------------------------
    def _log_group(self, key: kms.IKey | None) -> logs.LogGroup:
        """The log group SageMaker writes the containers' stdout/stderr to, created up front so that it is
        encrypted, kept for a year and watched for errors (SageMaker: /aws/sagemaker/Endpoints/<name>)."""
        return logs.LogGroup(
            self, "Logs", log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            encryption_key=key, retention=logs.RetentionDays.ONE_YEAR, removal_policy=cdk.RemovalPolicy.RETAIN)

    def _endpoint_metric(self, name: str, statistic: str, period_minutes: int = 1) -> cloudwatch.Metric:
        """An AWS/SageMaker invocation metric on the dimensions SageMaker publishes for this endpoint."""
        return cloudwatch.Metric(
            namespace=ENDPOINT_NAMESPACE,
            metric_name=name,
            dimensions_map=self.dimensions,
            statistic=statistic,
            period=minutes(period_minutes),
        )

    def _instance_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=INSTANCE_NAMESPACE,
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": self.variant_name},
            statistic=statistic,
            period=minutes(1),
        )

    def _gpu_metric(self, name: str) -> cloudwatch.Metric:
        """GPU utilisation or memory: per instance (0-100 x GPUs) on a variant, per copy (0-100) on an
        inference component."""
        if self.settings.scale_to_zero:
            return cloudwatch.Metric(namespace=COMPONENT_NAMESPACE, metric_name=f"{name}Normalized",
                                     dimensions_map={"InferenceComponentName": self.inference_component_name},
                                     statistic="Average", period=minutes(1))
        return self._instance_metric(name, "Average")

    def instance_count(self) -> cloudwatch.MathExpression:
        """Instances in service: every instance reports CPUUtilization once a minute."""
        return cloudwatch.MathExpression(
            expression="samples",
            using_metrics={"samples": self._instance_metric("CPUUtilization", "SampleCount")},
            label="instances in service",
            period=minutes(1),
        )

    def _alarms(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        s, a = self.settings, self.settings.alarms
        alarms = {
            "errors_5xx": cloudwatch.Alarm(
                self, "Errors5xxAlarm",
                alarm_name=f"{self.endpoint_name}-5xx-errors",
                alarm_description="The endpoint answers with server errors (also rolls a deployment back)",
                metric=self._endpoint_metric("Invocation5XXErrors", "Sum", 5),
                threshold=a.errors_5xx_per_5_minutes, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "model_errors": cloudwatch.Alarm(
                self, "ModelErrorsAlarm",
                alarm_name=f"{self.endpoint_name}-model-errors",
                alarm_description="The model container fails invocations (also rolls a deployment back)",
                metric=self._endpoint_metric("InvocationModelErrors", "Sum", 5),
                threshold=a.model_errors_per_5_minutes, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "latency_p99": cloudwatch.Alarm(
                self, "LatencyP99Alarm",
                alarm_name=f"{self.endpoint_name}-latency-p99",
                alarm_description=f"p99 model latency above {a.latency_p99_ms:g} ms (also rolls a deployment back)",
                # ModelLatency is reported in microseconds
                metric=self._endpoint_metric("ModelLatency", "p99", 1),
                threshold=a.latency_p99_ms * 1000, evaluation_periods=5, datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            "instances_at_max": cloudwatch.Alarm(
                self, "InstancesAtMaxAlarm",
                alarm_name=f"{self.endpoint_name}-instances-at-max",
                alarm_description=f"The endpoint has run at its maximum of {s.max_instances} instance(s) for 15 "
                                  "minutes: raise max_instances or the per-instance capacity",
                metric=self.instance_count(),
                threshold=s.max_instances, evaluation_periods=15,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        }
        invocations = self._endpoint_metric("Invocations", "Sum", 5)
        alarms["errors_4xx_rate"] = cloudwatch.Alarm(
            self, "Errors4xxRateAlarm",
            alarm_name=f"{self.endpoint_name}-4xx-rate",
            alarm_description=f"More than {a.errors_4xx_percent:g} % of requests are refused (4XX): callers send "
                              "what the model cannot take",
            metric=cloudwatch.MathExpression(
                expression="IF(invocations > 0, 100 * errors / invocations, 0)", label="4XX % of invocations",
                using_metrics={"errors": self._endpoint_metric("Invocation4XXErrors", "Sum", 5),
                               "invocations": invocations},
                period=minutes(5)),
            threshold=a.errors_4xx_percent, evaluation_periods=2, datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarms["overhead_latency_p99"] = cloudwatch.Alarm(
            self, "OverheadLatencyAlarm",
            alarm_name=f"{self.endpoint_name}-overhead-latency-p99",
            alarm_description=f"p99 SageMaker overhead above {a.overhead_latency_p99_ms:g} ms (time outside the "
                              "model: payload size, routing, saturation)",
            # OverheadLatency is reported in microseconds
            metric=self._endpoint_metric("OverheadLatency", "p99", 1),
            threshold=a.overhead_latency_p99_ms * 1000, evaluation_periods=5, datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        errors = self.log_group.add_metric_filter(
            "ContainerErrors",
            filter_pattern=logs.FilterPattern.literal(CONTAINER_ERROR_PATTERN),
            metric_namespace=CONTAINER_ERRORS_NAMESPACE,
            # a filter on unstructured lines cannot add dimensions: the endpoint is in the metric's name
            metric_name=f"{self.endpoint_name}-container-errors",
            metric_value="1",
            default_value=0,
            dimensions=None,
        )
        alarms["container_errors"] = cloudwatch.Alarm(
            self, "ContainerErrorsAlarm",
            alarm_name=f"{self.endpoint_name}-container-errors",
            alarm_description=f"The model container logged {a.container_errors_per_5_minutes} or more error lines "
                              f"in 5 minutes (log group {self.log_group.log_group_name})",
            metric=errors.metric(statistic="Sum", period=minutes(5)),
            threshold=a.container_errors_per_5_minutes, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if s.is_gpu:
            # per instance the metric is 0-100 x GPUs; per inference-component copy it is normalised to 0-100
            scale = 1 if s.scale_to_zero else s.gpus_per_instance
            alarms["gpu_memory"] = cloudwatch.Alarm(
                self, "GpuMemoryAlarm",
                alarm_name=f"{self.endpoint_name}-gpu-memory",
                alarm_description=f"GPU memory above {a.gpu_memory_percent:g} % of {s.gpus_per_instance} GPU(s)",
                metric=self._gpu_metric("GPUMemoryUtilization"),
                threshold=a.gpu_memory_percent * scale, evaluation_periods=5, datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        if s.is_async:
            alarms["async_oldest_request"] = cloudwatch.Alarm(
                self, "OldestQueuedRequestAlarm",
                alarm_name=f"{self.endpoint_name}-async-oldest-request",
                alarm_description=f"A queued request has waited more than {a.async_oldest_request_minutes:g} minutes: "
                                  "the fleet cannot keep up (raise max_instances) or cannot start",
                # ApproximateAgeOfOldestRequest is reported in seconds
                metric=self._async_metric("ApproximateAgeOfOldestRequest", "Maximum"),
                threshold=a.async_oldest_request_minutes * 60, evaluation_periods=5, datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        action = cw_actions.SnsAction(topic)
        for alarm in alarms.values():
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        return alarms

    def _dashboard(self) -> cloudwatch.Dashboard:
        s = self.settings
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(title="Invocations per minute", left=[
                self._endpoint_metric("Invocations", "Sum"),
                self._endpoint_metric("InvocationsPerInstance", "Sum")], width=12),
            cloudwatch.GraphWidget(title="Model latency (ms)", left=[
                cloudwatch.MathExpression(expression=f"latency_{stat} / 1000", label=f"{stat} ms",
                                          using_metrics={f"latency_{stat}": self._endpoint_metric("ModelLatency", stat)},
                                          period=minutes(1))
                for stat in ("p50", "p99")], width=12),
            cloudwatch.GraphWidget(title="Errors", left=[
                self._endpoint_metric("Invocation5XXErrors", "Sum"),
                self._endpoint_metric("Invocation4XXErrors", "Sum"),
                self._endpoint_metric("InvocationModelErrors", "Sum")], width=12),
            cloudwatch.GraphWidget(title="Instances in service", left=[self.instance_count()],
                                   left_annotations=[cloudwatch.HorizontalAnnotation(
                                       value=s.max_instances, label="max_instances")], width=12),
        ]
        widgets.append(cloudwatch.GraphWidget(title="Overhead latency (ms) and container errors", left=[
            cloudwatch.MathExpression(expression="overhead / 1000", label="overhead p99 ms",
                                      using_metrics={"overhead": self._endpoint_metric("OverheadLatency", "p99")},
                                      period=minutes(1))],
            right=[self.alarms["container_errors"].metric],
            width=24))
        if s.is_async:
            widgets.append(cloudwatch.GraphWidget(title="Queue (asynchronous requests)", left=[
                self._async_metric("ApproximateBacklogSize", "Average"),
                self._async_metric("ApproximateBacklogSizePerInstance", "Average")],
                right=[self._async_metric("ApproximateAgeOfOldestRequest", "Maximum")], width=24))
        if s.is_gpu:
            scale = 1 if s.scale_to_zero else s.gpus_per_instance
            target = s.effective_gpu_target_percent if s.scale_to_zero else s.gpu_metric_target
            widgets.append(cloudwatch.GraphWidget(
                title=f"GPU utilisation and memory (0-{100 * scale} %)",
                left=[self._gpu_metric("GPUUtilization"), self._gpu_metric("GPUMemoryUtilization")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=target or 0, label="scaling target")],
                width=24))
        return cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.endpoint_name,
                                    widgets=[widgets[i:i + 2] for i in range(0, len(widgets), 2)])
