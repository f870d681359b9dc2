"""The Model Monitor engine (`monitoring.engine: model_monitor`, for accounts that already use SageMaker
Model Monitor; the default factory engine is stacks/monitoring/factory_drift_monitor.py): monitoring of one
endpoint, all on the captured requests and against baselines registered with the model package:

- data quality: a Model Monitor job definition and schedule publishing per-feature drift metrics, with an
  alarm per feature (`<endpoint>-drift-<feature>`) that notifies the approvers and, through the team's
  drift-retrain function, retrains the model;
- model quality (labelled outcomes under ground truth): job, schedule and an alarm on the gate metric;
- model bias and explainability (SageMaker Clarify, when the model asks for them): job definitions and
  schedules with the Clarify analysis config and constraints the build registered.

Failed monitoring executions are caught team-wide (stacks/monitoring/monitoring_failures.py)."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import stack_environment
from stacks.common.monitor_images import clarify_image, model_monitor_image
from stacks.common.shared_values import hours
from stacks.config.monitoring import Monitoring

DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
ENDPOINT_INPUT = "/opt/ml/processing/input/endpoint"
MONITOR_PROBLEM_TYPES = {"binary_classification": "BinaryClassification",
                         "multiclass_classification": "MulticlassClassification", "regression": "Regression"}
MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"


def metric_safe(feature: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", feature)


class EndpointMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, endpoint_name: str, settings: Monitoring,
                 role_arn: str, bucket_name: str, kms_key_arn: str, alarm_topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name, self.settings = endpoint_name, settings
        self._role_arn, self._bucket_name, self._kms_key_arn = role_arn, bucket_name, kms_key_arn
        region = stack_environment(cdk.Stack.of(self)).region
        dq = sagemaker.CfnDataQualityJobDefinition
        self.job_definition = dq(
            self, "DataQualityJob",
            data_quality_app_specification=dq.DataQualityAppSpecificationProperty(
                image_uri=model_monitor_image(region), environment={"publish_cloudwatch_metrics": "Enabled"}),
            data_quality_baseline_config=dq.DataQualityBaselineConfigProperty(
                constraints_resource=dq.ConstraintsResourceProperty(s3_uri=settings.baselines.constraints),
                statistics_resource=dq.StatisticsResourceProperty(s3_uri=settings.baselines.statistics)),
            data_quality_job_input=dq.DataQualityJobInputProperty(
                endpoint_input=dq.EndpointInputProperty(endpoint_name=endpoint_name, local_path=ENDPOINT_INPUT)),
            network_config=dq.NetworkConfigProperty(enable_network_isolation=True,
                                                    enable_inter_container_traffic_encryption=True),
            **self._job_common(dq, "data_quality"),
        )
        self.schedule = self._schedule("Schedule", "data_quality", "DataQuality", self.job_definition)
        action = cw_actions.SnsAction(alarm_topic)
        self.drift_alarms: list[cloudwatch.Alarm] = []
        if settings.model_quality_active:
            self._model_quality(action)
        if settings.bias_active:
            self._model_bias()
        if settings.explainability_active:
            self._model_explainability()
        for feature in settings.features:
            alarm = cloudwatch.Alarm(
                self, f"Drift-{metric_safe(feature)}",
                alarm_name=f"{endpoint_name}-drift-{metric_safe(feature)}",
                alarm_description=f"Live '{feature}' drifts from the training baseline (distance above "
                                  f"{settings.threshold:g}): the team's drift-retrain function retrains",
                metric=cloudwatch.Metric(
                    namespace=DATA_METRICS_NAMESPACE, metric_name=f"feature_baseline_drift_{metric_safe(feature)}",
                    dimensions_map={"Endpoint": endpoint_name, "MonitoringSchedule": self.schedule_name("data_quality")},
                    statistic="Maximum", period=hours(1)),
                # M of N: one noisy hour does not retrain
                threshold=settings.threshold, evaluation_periods=settings.alarm_periods,
                datapoints_to_alarm=min(settings.alarm_datapoints, settings.alarm_periods),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            self.drift_alarms.append(alarm)

    # --- what every job definition and schedule of the endpoint shares ----------------------------
    def schedule_name(self, kind: str) -> str:
        """`kind` as in the job definition's properties (data_quality, model_bias, ...)."""
        return f"{self.endpoint_name}-{kind.replace('_', '-')}"

    def _job_common(self, job: type, kind: str) -> dict:
        """The team role, output under s3://<bucket>/monitoring/<endpoint>/<kind> and volume with the team key,
        one hour at most; `job` is the CloudFormation job-definition class (its nested types differ)."""
        return {
            "role_arn": self._role_arn,
            f"{kind}_job_output_config": job.MonitoringOutputConfigProperty(
                kms_key_id=self._kms_key_arn,
                monitoring_outputs=[job.MonitoringOutputProperty(s3_output=job.S3OutputProperty(
                    local_path="/opt/ml/processing/output",
                    s3_uri=f"s3://{self._bucket_name}/monitoring/{self.endpoint_name}/{kind.replace('_', '-')}",
                    s3_upload_mode="EndOfJob"))]),
            "job_resources": job.MonitoringResourcesProperty(cluster_config=job.ClusterConfigProperty(
                instance_count=1, instance_type=self.settings.instance_type, volume_size_in_gb=20,
                volume_kms_key_id=self._kms_key_arn)),
            "stopping_condition": job.StoppingConditionProperty(max_runtime_in_seconds=3600),
        }

    def _prediction_attributes(self) -> dict:
        """Where the live predictions are: the XGBoost container answers one score per CSV line, column 0."""
        if self.settings.problem_type == "binary_classification":
            return {"probability_attribute": "0", "probability_threshold_attribute": 0.5}
        return {"inference_attribute": "0"}

    def _schedule(self, construct_id: str, kind: str, monitoring_type: str, job) -> sagemaker.CfnMonitoringSchedule:
        return sagemaker.CfnMonitoringSchedule(
            self, construct_id,
            monitoring_schedule_name=self.schedule_name(kind),
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                # CloudFormation names the job definition (a new one per baseline); the ARN ends in that name
                monitoring_job_definition_name=cdk.Fn.select(1, cdk.Fn.split("/", job.attr_job_definition_arn)),
                monitoring_type=monitoring_type,
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=self.settings.schedule)),
        )

    # --- the optional monitors --------------------------------------------------------------------
    def _model_quality(self, action: cw_actions.SnsAction) -> None:
        """Live quality from captured predictions joined with the labelled outcomes under ground truth."""
        settings, mq = self.settings, sagemaker.CfnModelQualityJobDefinition
        self.model_quality_job = mq(
            self, "ModelQualityJob",
            model_quality_app_specification=mq.ModelQualityAppSpecificationProperty(
                image_uri=model_monitor_image(stack_environment(cdk.Stack.of(self)).region),
                problem_type=MONITOR_PROBLEM_TYPES[settings.problem_type],
                # without it the model-quality job may not publish the metric its alarm watches
                environment={"publish_cloudwatch_metrics": "Enabled"}),
            model_quality_baseline_config=mq.ModelQualityBaselineConfigProperty(
                constraints_resource=mq.ConstraintsResourceProperty(s3_uri=settings.model_quality_baselines.constraints)),
            model_quality_job_input=mq.ModelQualityJobInputProperty(
                endpoint_input=mq.EndpointInputProperty(endpoint_name=self.endpoint_name, local_path=ENDPOINT_INPUT,
                                                        **self._prediction_attributes()),
                ground_truth_s3_input=mq.MonitoringGroundTruthS3InputProperty(s3_uri=settings.ground_truth_s3_uri)),
            network_config=mq.NetworkConfigProperty(enable_network_isolation=True,
                                                    enable_inter_container_traffic_encryption=True),
            **self._job_common(mq, "model_quality"),
        )
        self.model_quality_schedule = self._schedule("ModelQualitySchedule", "model_quality", "ModelQuality",
                                                     self.model_quality_job)
        metric = settings.quality_metric
        below = settings.quality_higher_is_better
        # named like a drift alarm: a live quality drop retrains the model too
        self.model_quality_alarm = cloudwatch.Alarm(
            self, "ModelQualityAlarm",
            alarm_name=f"{self.endpoint_name}-drift-model-quality-{metric}",
            alarm_description=f"Live {metric} {'under' if below else 'over'} the quality gate "
                              f"{settings.quality_threshold:g}: the team's drift-retrain function retrains",
            metric=cloudwatch.Metric(namespace=MODEL_METRICS_NAMESPACE, metric_name=metric,
                                     dimensions_map={"Endpoint": self.endpoint_name,
                                                     "MonitoringSchedule": self.schedule_name("model_quality")},
                                     statistic="Minimum" if below else "Maximum", period=hours(1)),
            threshold=settings.quality_threshold, evaluation_periods=settings.alarm_periods,
            datapoints_to_alarm=min(settings.alarm_datapoints, settings.alarm_periods),
            comparison_operator=(cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD if below
                                 else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.model_quality_alarm.add_alarm_action(action)

    def _model_bias(self) -> None:
        """Post-training bias of live predictions (joined with ground truth) against the build's baseline.
        No network isolation: Clarify calls SageMaker to run its shadow endpoint."""
        settings, mb = self.settings, sagemaker.CfnModelBiasJobDefinition
        self.bias_job = mb(
            self, "ModelBiasJob",
            # the SDK's ModelBiasMonitor publishes by default through this variable (clarify_model_monitoring.py)
            model_bias_app_specification=mb.ModelBiasAppSpecificationProperty(
                image_uri=clarify_image(stack_environment(cdk.Stack.of(self)).region), config_uri=settings.bias_baselines.config,
                environment={"publish_cloudwatch_metrics": "Enabled"}),
            model_bias_baseline_config=mb.ModelBiasBaselineConfigProperty(
                constraints_resource=mb.ConstraintsResourceProperty(s3_uri=settings.bias_baselines.constraints)),
            model_bias_job_input=mb.ModelBiasJobInputProperty(
                endpoint_input=mb.EndpointInputProperty(endpoint_name=self.endpoint_name, local_path=ENDPOINT_INPUT,
                                                        **self._prediction_attributes()),
                ground_truth_s3_input=mb.MonitoringGroundTruthS3InputProperty(s3_uri=settings.ground_truth_s3_uri)),
            network_config=mb.NetworkConfigProperty(enable_inter_container_traffic_encryption=True),
            **self._job_common(mb, "model_bias"),
        )
        self.bias_schedule = self._schedule("ModelBiasSchedule", "model_bias", "ModelBias", self.bias_job)

    def _model_explainability(self) -> None:
        """SHAP attributions of live requests against the build's baseline attributions."""
        settings, me = self.settings, sagemaker.CfnModelExplainabilityJobDefinition
        self.explainability_job = me(
            self, "ModelExplainabilityJob",
            model_explainability_app_specification=me.ModelExplainabilityAppSpecificationProperty(
                image_uri=clarify_image(stack_environment(cdk.Stack.of(self)).region),
                config_uri=settings.explainability_baselines.config,
                environment={"publish_cloudwatch_metrics": "Enabled"}),
            model_explainability_baseline_config=me.ModelExplainabilityBaselineConfigProperty(
                constraints_resource=me.ConstraintsResourceProperty(
                    s3_uri=settings.explainability_baselines.constraints)),
            model_explainability_job_input=me.ModelExplainabilityJobInputProperty(
                endpoint_input=me.EndpointInputProperty(endpoint_name=self.endpoint_name, local_path=ENDPOINT_INPUT)),
            network_config=me.NetworkConfigProperty(enable_inter_container_traffic_encryption=True),
            **self._job_common(me, "model_explainability"),
        )
        self.explainability_schedule = self._schedule("ModelExplainabilitySchedule", "model_explainability",
                                                      "ModelExplainability", self.explainability_job)
