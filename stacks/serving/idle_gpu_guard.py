"""Idle-GPU guard of a non-prod GPU endpoint: an alarm `<endpoint>-idle` when it has answered no request
for `idle_hours` (default 12) notifies the approvers and, with `scale_idle_to_zero`, sets the inference
component to zero copies (the endpoint's wake-up policy adds one back on the next request)."""

from __future__ import annotations

from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.shared_values import hours
from stacks.config.endpoint import EndpointSettings

ENDPOINT_NAMESPACE = "AWS/SageMaker"


class IdleGpuGuard(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, endpoint_name: str, settings: EndpointSettings,
                 topic: sns.ITopic, variant_name: str, inference_component_name: str | None,
                 scalable_target: appscaling.ScalableTarget) -> None:
        super().__init__(scope, construct_id)
        dimensions = ({"InferenceComponentName": inference_component_name} if inference_component_name
                      else {"EndpointName": endpoint_name, "VariantName": variant_name})
        idle_hours = settings.idle_hours
        self.alarm = cloudwatch.Alarm(
            self, "Idle",
            alarm_name=f"{endpoint_name}-idle",
            alarm_description=(f"No request in {idle_hours} h on a GPU endpoint that is not prod"
                               + (": scaled to zero copies" if settings.scale_idle_to_zero else
                                  ": consider min_instances 0 or deleting it")),
            metric=cloudwatch.Metric(namespace=ENDPOINT_NAMESPACE, metric_name="Invocations",
                                     dimensions_map=dimensions, statistic="Sum", period=hours(1)),
            threshold=1, evaluation_periods=idle_hours, datapoints_to_alarm=idle_hours,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # an endpoint nobody calls publishes no Invocations at all
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.alarm.add_alarm_action(cw_actions.SnsAction(topic))
        self.scale_to_zero = None
        if settings.scale_idle_to_zero and inference_component_name:
            self.scale_to_zero = appscaling.StepScalingAction(
                self, "ScaleToZero", scaling_target=scalable_target,
                adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
                cooldown=hours(1), metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM)
            # the alarm's metric is under its threshold (1) while idle: the interval ends at the threshold
            self.scale_to_zero.add_adjustment(adjustment=0, upper_bound=0)
            self.alarm.add_alarm_action(cw_actions.ApplicationScalingAction(self.scale_to_zero))
