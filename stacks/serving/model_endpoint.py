"""`ModelEndpoint`: a production-grade SageMaker endpoint for one approved model package.

- Model from the package, endpoint config and endpoint; KMS on volumes (where the family allows) and
  on captured data; request/response data capture to the team bucket.
- Blue/green rollout (canary, linear or all at once) that rolls back on the endpoint's alarms.
- Optional shadow variant for a challenger package.
- Autoscaling: invocations-per-instance or high-resolution concurrency target tracking, a GPU
  utilisation policy on GPU instances, scheduled capacity, and scale to zero through an inference
  component woken by NoCapacityInvocationFailures.
- Alarms (5XX, model errors, p99 latency, GPU memory, instance count at max) and a dashboard.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config.endpoint import EndpointSettings

VARIANT = "AllTraffic"
SHADOW_VARIANT = "Shadow"
ENDPOINT_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        self.settings = settings
        self.variant_name = VARIANT
        self.model = self._model("Model", model_package_arn, execution_role_arn)
        shadow_model = (self._model("ShadowModel", settings.shadow.model_package_arn, execution_role_arn)
                        if settings.shadow else None)

        self.inference_component_name = f"{endpoint_name}-ic" if settings.scale_to_zero else None
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[self._production_variant(execution_role_arn)],
            shadow_production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=SHADOW_VARIANT,
                model_name=shadow_model.attr_model_name,
                instance_type=settings.instance_type,
                initial_instance_count=1,
                initial_variant_weight=settings.shadow.sampling_percent / 100,
            )] if shadow_model else None,
            execution_role_arn=execution_role_arn if settings.scale_to_zero else None,
            kms_key_id=kms_key_arn if settings.volume_accepts_kms_key else None,
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
        self.dashboard = self._dashboard()

    # --- serving ---------------------------------------------------------------------------------
    def _model(self, construct_id: str, package_arn: str, role_arn: str) -> sagemaker.CfnModel:
        return sagemaker.CfnModel(
            self,
            construct_id,
            execution_role_arn=role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=package_arn),
            enable_network_isolation=True,
        )

    def _production_variant(self, role_arn: str) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        s = self.settings
        if s.scale_to_zero:
            # Instances are managed by SageMaker for the inference component, which may scale to 0 copies.
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT,
                instance_type=s.instance_type,
                initial_instance_count=max(s.initial_instances, 1),
                managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                    status="ENABLED", min_instance_count=0, max_instance_count=s.max_instances),
                routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                    routing_strategy="LEAST_OUTSTANDING_REQUESTS"),
            )
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=VARIANT,
            model_name=self.model.attr_model_name,
            instance_type=s.instance_type,
            initial_instance_count=s.initial_instances,
            initial_variant_weight=1.0,
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
            termination_wait_in_seconds=300,
            maximum_execution_timeout_in_seconds=3600,
        )

    def _inference_component(self, rollback: list[cloudwatch.Alarm]) -> None:
        s = self.settings
        d = s.deployment
        self.inference_component = sagemaker.CfnInferenceComponent(
            self,
            "InferenceComponent",
            inference_component_name=self.inference_component_name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=VARIANT,
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
                    maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                        type="CAPACITY_PERCENT",
                        value=d.canary_percent if d.strategy == "canary" else
                        d.step_percent if d.strategy == "linear" else 100),
                    wait_interval_in_seconds=d.wait_minutes * 60,
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
        stack = cdk.Stack.of(self)
        return iam.Role.from_role_arn(self, "AutoScalingServiceRole", stack.format_arn(
            service="iam", region="", resource="role",
            resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                          "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"), mutable=False)

    def _scale_variant(self) -> appscaling.ScalableTarget:
        s = self.settings
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            role=self._autoscaling_role(),
            min_capacity=s.min_instances,
            max_capacity=s.max_instances,
        )
        target.node.add_dependency(self.endpoint)
        cooldowns = {"scale_out_cooldown": cdk.Duration.seconds(s.scale_out_cooldown_seconds),
                     "scale_in_cooldown": cdk.Duration.seconds(s.scale_in_cooldown_seconds)}
        if s.scaling_metric == "invocations":
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
        target.scale_to_track_metric(
            "InvocationsPerCopy",
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            target_value=s.invocations_target_per_instance,
            scale_out_cooldown=cdk.Duration.seconds(s.scale_out_cooldown_seconds),
            scale_in_cooldown=cdk.Duration.seconds(s.scale_in_cooldown_seconds),
        )
        # At zero copies target tracking has nothing to measure: a request that finds no capacity wakes it.
        wake_up = appscaling.StepScalingAction(
            self,
            "WakeUpFromZero",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=cdk.Duration.seconds(s.scale_out_cooldown_seconds),
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
                period=cdk.Duration.minutes(1),
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
            )

    # --- observability ---------------------------------------------------------------------------
    def _endpoint_metric(self, name: str, statistic: str, period_minutes: int = 1) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=ENDPOINT_NAMESPACE,
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT},
            statistic=statistic,
            period=cdk.Duration.minutes(period_minutes),
        )

    def _instance_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=INSTANCE_NAMESPACE,
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT},
            statistic=statistic,
            period=cdk.Duration.minutes(1),
        )

    def instance_count(self) -> cloudwatch.MathExpression:
        """Instances in service: every instance reports CPUUtilization once a minute."""
        return cloudwatch.MathExpression(
            expression="samples",
            using_metrics={"samples": self._instance_metric("CPUUtilization", "SampleCount")},
            label="instances in service",
            period=cdk.Duration.minutes(1),
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
        if s.is_gpu:
            alarms["gpu_memory"] = cloudwatch.Alarm(
                self, "GpuMemoryAlarm",
                alarm_name=f"{self.endpoint_name}-gpu-memory",
                alarm_description=f"GPU memory above {a.gpu_memory_percent:g} % of {s.gpus_per_instance} GPU(s)",
                metric=self._instance_metric("GPUMemoryUtilization", "Average"),
                threshold=a.gpu_memory_percent * s.gpus_per_instance, evaluation_periods=5, datapoints_to_alarm=3,
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
                                          period=cdk.Duration.minutes(1))
                for stat in ("p50", "p99")], width=12),
            cloudwatch.GraphWidget(title="Errors", left=[
                self._endpoint_metric("Invocation5XXErrors", "Sum"),
                self._endpoint_metric("Invocation4XXErrors", "Sum"),
                self._endpoint_metric("InvocationModelErrors", "Sum")], width=12),
            cloudwatch.GraphWidget(title="Instances in service", left=[self.instance_count()],
                                   left_annotations=[cloudwatch.HorizontalAnnotation(
                                       value=s.max_instances, label="max_instances")], width=12),
        ]
        if s.is_gpu:
            widgets.append(cloudwatch.GraphWidget(
                title=f"GPU utilisation and memory (0-{100 * s.gpus_per_instance} %)",
                left=[self._instance_metric("GPUUtilization", "Average"),
                      self._instance_metric("GPUMemoryUtilization", "Average")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=s.gpu_metric_target or 0,
                                                                  label="scaling target")],
                width=24))
        return cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.endpoint_name,
                                    widgets=[widgets[i:i + 2] for i in range(0, len(widgets), 2)])
