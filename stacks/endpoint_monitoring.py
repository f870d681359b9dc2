"""Monitoring of one endpoint, all on the captured requests and against baselines registered with the
model package:

- data quality: a Model Monitor job definition and schedule publishing per-feature drift metrics, with an
  alarm per feature (`<endpoint>-drift-<feature>`) that notifies the approvers and, through the team's
  drift-retrain function, retrains the model;
- model quality (labelled outcomes under ground truth): job, schedule and an alarm on the gate metric;
- model bias and explainability (SageMaker Clarify, when the model asks for them): job definitions and
  schedules with the Clarify analysis config and constraints the build registered.

Failed monitoring executions are caught team-wide (stacks/monitoring_failures.py)."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct
from pydantic import BaseModel, ConfigDict, Field

from stacks.clarify_images import clarify_image

# Model Monitor analyzer image registries by region (sagemaker SDK image_uri_config/model-monitor.json;
# a test keeps the two in step).
MODEL_MONITOR_REGISTRIES = {
    "af-south-1": "875698925577", "ap-east-1": "001633400207", "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524", "ap-northeast-3": "990339680094", "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676", "ap-southeast-2": "563025443158", "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234", "cn-north-1": "453000072557", "cn-northwest-1": "453252182341",
    "eu-central-1": "048819808253", "eu-central-2": "590183933784", "eu-north-1": "895015795356",
    "eu-south-1": "933208885752", "eu-south-2": "437450045455", "eu-west-1": "468650794304",
    "eu-west-2": "749857270468", "eu-west-3": "680080141114", "il-central-1": "843974653677",
    "me-central-1": "588750061953", "me-south-1": "607024016150", "sa-east-1": "539772159869",
    "us-east-1": "156813124566", "us-east-2": "777275614652", "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}
DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
S3_URI = r"^s3://[a-z0-9.-]{3,63}/.+$"


class Baselines(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    statistics: str = Field(pattern=S3_URI)
    constraints: str = Field(pattern=S3_URI)


class ClarifyBaselines(BaseModel):
    """A Clarify monitor's analysis config (monitoring_config.json) and baseline (analysis.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    config: str = Field(pattern=S3_URI)
    constraints: str = Field(pattern=S3_URI)


class Monitoring(BaseModel):
    """The manifest's `monitoring` block; Validate fills `baselines` and `features` from the package."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    schedule: str = Field(default="cron(0 * ? * * *)", pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
    drift_threshold: float = Field(default=0.1, gt=0, le=1)
    baselines: Baselines | None = None
    features: list[str] = []
    instance_type: str = "ml.m5.xlarge"
    # model quality: from models[].monitoring (ground truth) and the package (baseline)
    ground_truth_s3_uri: str | None = Field(default=None, pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    model_quality_baselines: Baselines | None = None
    problem_type: str = "binary_classification"
    quality_metric: str | None = None
    quality_threshold: float | None = None
    quality_higher_is_better: bool = True
    # Clarify: from the package (DriftCheckBaselines.Bias / .Explainability) when the model asks for them
    bias_baselines: ClarifyBaselines | None = None
    explainability_baselines: ClarifyBaselines | None = None

    @property
    def active(self) -> bool:
        return self.enabled and self.baselines is not None

    @property
    def model_quality_active(self) -> bool:
        return (self.enabled and self.ground_truth_s3_uri is not None and self.model_quality_baselines is not None
                and self.quality_metric is not None and self.quality_threshold is not None)

    @property
    def bias_active(self) -> bool:
        # the bias monitor joins live predictions with labelled outcomes
        return self.enabled and self.bias_baselines is not None and self.ground_truth_s3_uri is not None

    @property
    def explainability_active(self) -> bool:
        return self.enabled and self.explainability_baselines is not None


MONITOR_PROBLEM_TYPES = {"binary_classification": "BinaryClassification",
                         "multiclass_classification": "MulticlassClassification", "regression": "Regression"}
MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"


def metric_safe(feature: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", feature)


class EndpointMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, endpoint_name: str, settings: Monitoring,
                 role_arn: str, bucket_name: str, kms_key_arn: str, alarm_topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        schedule_name = f"{endpoint_name}-data-quality"
        suffix = "amazonaws.com.cn" if stack.region.startswith("cn-") else "amazonaws.com"
        image = f"{MODEL_MONITOR_REGISTRIES[stack.region]}.dkr.ecr.{stack.region}.{suffix}/sagemaker-model-monitor-analyzer"
        self.job_definition = sagemaker.CfnDataQualityJobDefinition(
            self, "DataQualityJob",
            role_arn=role_arn,
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=image, environment={"publish_cloudwatch_metrics": "Enabled"}),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=settings.baselines.constraints),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=settings.baselines.statistics)),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=sagemaker.CfnDataQualityJobDefinition.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint")),
            data_quality_job_output_config=sagemaker.CfnDataQualityJobDefinition.MonitoringOutputConfigProperty(
                kms_key_id=kms_key_arn,
                monitoring_outputs=[sagemaker.CfnDataQualityJobDefinition.MonitoringOutputProperty(
                    s3_output=sagemaker.CfnDataQualityJobDefinition.S3OutputProperty(
                        local_path="/opt/ml/processing/output",
                        s3_uri=f"s3://{bucket_name}/monitoring/{endpoint_name}/data-quality",
                        s3_upload_mode="EndOfJob"))]),
            job_resources=sagemaker.CfnDataQualityJobDefinition.MonitoringResourcesProperty(
                cluster_config=sagemaker.CfnDataQualityJobDefinition.ClusterConfigProperty(
                    instance_count=1, instance_type=settings.instance_type, volume_size_in_gb=20,
                    volume_kms_key_id=kms_key_arn)),
            network_config=sagemaker.CfnDataQualityJobDefinition.NetworkConfigProperty(enable_network_isolation=True),
            stopping_condition=sagemaker.CfnDataQualityJobDefinition.StoppingConditionProperty(
                max_runtime_in_seconds=3600),
        )
        self.schedule = sagemaker.CfnMonitoringSchedule(
            self, "Schedule",
            monitoring_schedule_name=schedule_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                # CloudFormation names the job definition (a new one per baseline); the ARN ends in that name
                monitoring_job_definition_name=cdk.Fn.select(
                    1, cdk.Fn.split("/", self.job_definition.attr_job_definition_arn)),
                monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=settings.schedule)),
        )
        action = cw_actions.SnsAction(alarm_topic)
        self.drift_alarms: list[cloudwatch.Alarm] = []
        if settings.model_quality_active:
            self._model_quality(endpoint_name, settings, role_arn, bucket_name, kms_key_arn, image, action)
        if settings.bias_active:
            self.bias_job, self.bias_schedule = self._model_bias(
                endpoint_name, settings, role_arn, bucket_name, kms_key_arn)
        if settings.explainability_active:
            self.explainability_job, self.explainability_schedule = self._model_explainability(
                endpoint_name, settings, role_arn, bucket_name, kms_key_arn)
        for feature in settings.features:
            alarm = cloudwatch.Alarm(
                self, f"Drift-{metric_safe(feature)}",
                alarm_name=f"{endpoint_name}-drift-{metric_safe(feature)}",
                alarm_description=f"Live '{feature}' drifts from the training baseline (distance above "
                                  f"{settings.drift_threshold:g}): the team's drift-retrain function retrains",
                metric=cloudwatch.Metric(
                    namespace=DATA_METRICS_NAMESPACE, metric_name=f"feature_baseline_drift_{metric_safe(feature)}",
                    dimensions_map={"Endpoint": endpoint_name, "MonitoringSchedule": schedule_name},
                    statistic="Maximum", period=cdk.Duration.hours(1)),
                threshold=settings.drift_threshold, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            self.drift_alarms.append(alarm)

    def _model_quality(self, endpoint_name: str, settings: Monitoring, role_arn: str, bucket_name: str,
                       kms_key_arn: str, image: str, action: cw_actions.SnsAction) -> None:
        """Live quality from captured predictions joined with the labelled outcomes under ground truth."""
        mq = sagemaker.CfnModelQualityJobDefinition
        binary = settings.problem_type == "binary_classification"
        schedule_name = f"{endpoint_name}-model-quality"
        self.model_quality_job = mq(
            self, "ModelQualityJob",
            role_arn=role_arn,
            model_quality_app_specification=mq.ModelQualityAppSpecificationProperty(
                image_uri=image, problem_type=MONITOR_PROBLEM_TYPES[settings.problem_type]),
            model_quality_baseline_config=mq.ModelQualityBaselineConfigProperty(
                constraints_resource=mq.ConstraintsResourceProperty(s3_uri=settings.model_quality_baselines.constraints)),
            model_quality_job_input=mq.ModelQualityJobInputProperty(
                endpoint_input=mq.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint",
                    # the XGBoost container answers one score per CSV line: column 0
                    probability_attribute="0" if binary else None,
                    probability_threshold_attribute=0.5 if binary else None,
                    inference_attribute=None if binary else "0"),
                ground_truth_s3_input=mq.MonitoringGroundTruthS3InputProperty(s3_uri=settings.ground_truth_s3_uri)),
            model_quality_job_output_config=mq.MonitoringOutputConfigProperty(
                kms_key_id=kms_key_arn,
                monitoring_outputs=[mq.MonitoringOutputProperty(s3_output=mq.S3OutputProperty(
                    local_path="/opt/ml/processing/output",
                    s3_uri=f"s3://{bucket_name}/monitoring/{endpoint_name}/model-quality",
                    s3_upload_mode="EndOfJob"))]),
            job_resources=mq.MonitoringResourcesProperty(cluster_config=mq.ClusterConfigProperty(
                instance_count=1, instance_type=settings.instance_type, volume_size_in_gb=20,
                volume_kms_key_id=kms_key_arn)),
            network_config=mq.NetworkConfigProperty(enable_network_isolation=True),
            stopping_condition=mq.StoppingConditionProperty(max_runtime_in_seconds=3600),
        )
        self.model_quality_schedule = sagemaker.CfnMonitoringSchedule(
            self, "ModelQualitySchedule",
            monitoring_schedule_name=schedule_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=cdk.Fn.select(
                    1, cdk.Fn.split("/", self.model_quality_job.attr_job_definition_arn)),
                monitoring_type="ModelQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=settings.schedule)),
        )
        metric = settings.quality_metric
        below = settings.quality_higher_is_better
        # named like a drift alarm: a live quality drop retrains the model too
        self.model_quality_alarm = cloudwatch.Alarm(
            self, "ModelQualityAlarm",
            alarm_name=f"{endpoint_name}-drift-model-quality-{metric}",
            alarm_description=f"Live {metric} {'under' if below else 'over'} the quality gate "
                              f"{settings.quality_threshold:g}: the team's drift-retrain function retrains",
            metric=cloudwatch.Metric(namespace=MODEL_METRICS_NAMESPACE, metric_name=metric,
                                     dimensions_map={"Endpoint": endpoint_name, "MonitoringSchedule": schedule_name},
                                     statistic="Minimum" if below else "Maximum", period=cdk.Duration.hours(1)),
            threshold=settings.quality_threshold, evaluation_periods=1,
            comparison_operator=(cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD if below
                                 else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.model_quality_alarm.add_alarm_action(action)

    def _schedule(self, construct_id: str, name: str, monitoring_type: str, job_definition_arn: str,
                  expression: str) -> sagemaker.CfnMonitoringSchedule:
        return sagemaker.CfnMonitoringSchedule(
            self, construct_id,
            monitoring_schedule_name=name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=cdk.Fn.select(1, cdk.Fn.split("/", job_definition_arn)),
                monitoring_type=monitoring_type,
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(schedule_expression=expression)),
        )

    def _model_bias(self, endpoint_name: str, settings: Monitoring, role_arn: str, bucket_name: str,
                    kms_key_arn: str) -> tuple[sagemaker.CfnModelBiasJobDefinition, sagemaker.CfnMonitoringSchedule]:
        """Post-training bias of live predictions (joined with ground truth) against the build's baseline.
        No network isolation: Clarify calls SageMaker to run its shadow endpoint."""
        mb = sagemaker.CfnModelBiasJobDefinition
        binary = settings.problem_type == "binary_classification"
        job = mb(
            self, "ModelBiasJob",
            role_arn=role_arn,
            model_bias_app_specification=mb.ModelBiasAppSpecificationProperty(
                image_uri=clarify_image(cdk.Stack.of(self).region), config_uri=settings.bias_baselines.config),
            model_bias_baseline_config=mb.ModelBiasBaselineConfigProperty(
                constraints_resource=mb.ConstraintsResourceProperty(s3_uri=settings.bias_baselines.constraints)),
            model_bias_job_input=mb.ModelBiasJobInputProperty(
                endpoint_input=mb.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint",
                    probability_attribute="0" if binary else None,
                    probability_threshold_attribute=0.5 if binary else None,
                    inference_attribute=None if binary else "0"),
                ground_truth_s3_input=mb.MonitoringGroundTruthS3InputProperty(s3_uri=settings.ground_truth_s3_uri)),
            model_bias_job_output_config=mb.MonitoringOutputConfigProperty(
                kms_key_id=kms_key_arn,
                monitoring_outputs=[mb.MonitoringOutputProperty(s3_output=mb.S3OutputProperty(
                    local_path="/opt/ml/processing/output",
                    s3_uri=f"s3://{bucket_name}/monitoring/{endpoint_name}/model-bias", s3_upload_mode="EndOfJob"))]),
            job_resources=mb.MonitoringResourcesProperty(cluster_config=mb.ClusterConfigProperty(
                instance_count=1, instance_type=settings.instance_type, volume_size_in_gb=20,
                volume_kms_key_id=kms_key_arn)),
            network_config=mb.NetworkConfigProperty(enable_inter_container_traffic_encryption=True),
            stopping_condition=mb.StoppingConditionProperty(max_runtime_in_seconds=3600),
        )
        schedule = self._schedule("ModelBiasSchedule", f"{endpoint_name}-model-bias", "ModelBias",
                                  job.attr_job_definition_arn, settings.schedule)
        return job, schedule

    def _model_explainability(self, endpoint_name: str, settings: Monitoring, role_arn: str, bucket_name: str,
                              kms_key_arn: str) -> tuple[sagemaker.CfnModelExplainabilityJobDefinition,
                                                         sagemaker.CfnMonitoringSchedule]:
        """SHAP attributions of live requests against the build's baseline attributions."""
        me = sagemaker.CfnModelExplainabilityJobDefinition
        job = me(
            self, "ModelExplainabilityJob",
            role_arn=role_arn,
            model_explainability_app_specification=me.ModelExplainabilityAppSpecificationProperty(
                image_uri=clarify_image(cdk.Stack.of(self).region),
                config_uri=settings.explainability_baselines.config),
            model_explainability_baseline_config=me.ModelExplainabilityBaselineConfigProperty(
                constraints_resource=me.ConstraintsResourceProperty(
                    s3_uri=settings.explainability_baselines.constraints)),
            model_explainability_job_input=me.ModelExplainabilityJobInputProperty(
                endpoint_input=me.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint")),
            model_explainability_job_output_config=me.MonitoringOutputConfigProperty(
                kms_key_id=kms_key_arn,
                monitoring_outputs=[me.MonitoringOutputProperty(s3_output=me.S3OutputProperty(
                    local_path="/opt/ml/processing/output",
                    s3_uri=f"s3://{bucket_name}/monitoring/{endpoint_name}/model-explainability",
                    s3_upload_mode="EndOfJob"))]),
            job_resources=me.MonitoringResourcesProperty(cluster_config=me.ClusterConfigProperty(
                instance_count=1, instance_type=settings.instance_type, volume_size_in_gb=20,
                volume_kms_key_id=kms_key_arn)),
            network_config=me.NetworkConfigProperty(enable_inter_container_traffic_encryption=True),
            stopping_condition=me.StoppingConditionProperty(max_runtime_in_seconds=3600),
        )
        schedule = self._schedule("ModelExplainabilitySchedule", f"{endpoint_name}-model-explainability",
                                  "ModelExplainability", job.attr_job_definition_arn, settings.schedule)
        return job, schedule
