"""The factory engine's monitor of one endpoint stage (no SageMaker Model Monitor):

- a one-step SageMaker pipeline `<endpoint>-drift` whose processing job runs the build's own engine
  (`drift.py monitor`, the code and image the package registered) on the capture of the last interval,
  writes `drift.json` under `monitoring/<endpoint>/factory/<execution>/` and publishes the figures to
  CloudWatch (namespace ModelFactory, dimensions Team, Model, Stage and Feature / Metric);
- an EventBridge Scheduler schedule `<endpoint>` that starts it on `monitoring.schedule`;
- alarms that mean it: per feature `<endpoint>-drift-<feature>`, for the score
  `<endpoint>-drift-prediction-score` and, with ground truth,
  `<endpoint>-drift-model-quality-<metric>`, each `alarm_datapoints` of `alarm_periods` runs and judged
  only on runs with at least `min_records` records; `<endpoint>-monitor-missing` when two intervals pass
  without a successful run. Only prod drift alarms reach the retrain rule (it matches `*-prod-drift*`).

The roles are the team's per-account drift roles (stacks/monitoring/drift_job_roles.py); a failed run is
told by the team's monitoring-failures rule (the pipeline-execution status change event)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.naming import (
    SHADOW_VARIANT,
    capture_prefix,
    drift_pipeline_name,
    endpoint_name,
)
from stacks.common.drift_step import BASELINE_DIR, DEFINITION_VERSION, REPORT_DIR, drift_processing_arguments
from stacks.common.pipeline_schedule import pipeline_arn, pipeline_schedule
from stacks.common.shared_values import days, hours
from stacks.config.monitoring import Monitoring
from stacks.monitoring.endpoint_monitoring import metric_safe

NAMESPACE = "ModelFactory"
STEP = "DriftReport"


def pipeline_definition(*, team: str, model: str, stage: str, settings: Monitoring, bucket_name: str,
                        kms_key_arn: str, role_arn: str, shadow: bool = False) -> dict:
    """The drift pipeline: one Processing step whose Arguments are a CreateProcessingJob request without
    its name (SageMaker names pipeline jobs), as the SageMaker SDK's ProcessingStep emits it. `shadow`: the
    endpoint has a shadow variant, whose capture (<endpoint>/Shadow/...) is the challenger's and is skipped."""
    capture = f"s3://{bucket_name}/{capture_prefix(team, model, stage)}/"
    name = endpoint_name(team, model, stage)
    arguments = ["monitor", "--capture-uri", capture,
                 *(["--skip-uri", f"{capture}{name}/{SHADOW_VARIANT}/"] if shadow else []),
                 "--baseline", BASELINE_DIR, "--out", REPORT_DIR, "--window-hours", str(settings.interval_hours),
                 "--team", team, "--model", model, "--stage", stage, "--threshold", f"{settings.threshold:g}",
                 "--min-records", str(settings.min_records), "--problem-type", settings.problem_type]
    if settings.model_quality_active:
        arguments += ["--ground-truth-uri", settings.ground_truth_s3_uri.rstrip("/") + "/",
                      "--metric", settings.quality_metric]

    return {
        "Version": DEFINITION_VERSION,
        "Metadata": {},
        "Parameters": [],
        "Steps": [{"Name": STEP, "Type": "Processing", "Arguments": drift_processing_arguments(
            team=team, model=model, stage=stage, settings=settings, bucket_name=bucket_name, kms_key_arn=kms_key_arn,
            role_arn=role_arn, container_arguments=arguments)}],
    }


class FactoryDriftMonitor(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, model: str, stage: str,
                 settings: Monitoring, bucket_name: str, kms_key_arn: str, job_role_arn: str,
                 schedule_role_arn: str, alarm_topic: sns.ITopic, shadow: bool = False,
                 batch_only: bool = False) -> None:
        """`batch_only`: a stage with no endpoint (mode batch): no capture to read, so no drift pipeline nor
        schedule; its batch pipeline publishes the same figures once per run, which the alarms judge per day,
        each run on its own (1 of 1)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.endpoint_name = endpoint_name(team, model, stage)
        name = drift_pipeline_name(team, model, stage)
        if batch_only:
            self._alarms(team, model, stage, settings, alarm_topic, period=days(1),
                         m_of_n={"evaluation_periods": 1, "datapoints_to_alarm": 1}, name=name, scheduled=False)
            return
        definition = pipeline_definition(team=team, model=model, stage=stage, settings=settings,
                                         bucket_name=bucket_name, kms_key_arn=kms_key_arn, role_arn=job_role_arn,
                                         shadow=shadow)
        self.pipeline = sagemaker.CfnPipeline(
            self, "Pipeline", pipeline_name=name, role_arn=job_role_arn,
            pipeline_description=f"Model Factory: drift and quality of {self.endpoint_name} (factory engine)",
            pipeline_definition={"PipelineDefinitionBody": stack.to_json_string(definition)})
        self.pipeline_arn = pipeline_arn(self, name)
        # a run never started counts as "missing" (the alarm below)
        self.schedule = pipeline_schedule(
            self, "Schedule", name=self.endpoint_name, pipeline=self.pipeline, pipeline_arn=self.pipeline_arn,
            expression=settings.schedule, timezone="UTC", role_arn=schedule_role_arn,
            description=f"Model Factory: runs {name} ({settings.schedule}, UTC)")
        self._alarms(team, model, stage, settings, alarm_topic, period=hours(settings.interval_hours),
                     m_of_n={"evaluation_periods": settings.alarm_periods,
                             "datapoints_to_alarm": min(settings.alarm_datapoints, settings.alarm_periods)},
                     name=name, scheduled=True)

    def _alarms(self, team: str, model: str, stage: str, settings: Monitoring, alarm_topic: sns.ITopic, *,
                period: cdk.Duration, m_of_n: dict, name: str, scheduled: bool) -> None:
        """`scheduled`: the drift pipeline runs on its schedule (a missing run alarms; ground truth joins)."""
        dimensions = {"Team": team, "Model": model, "Stage": stage}
        records = cloudwatch.Metric(namespace=NAMESPACE, metric_name="DriftRecords", dimensions_map=dimensions,
                                    statistic="Sum", period=period)
        action = cw_actions.SnsAction(alarm_topic)
        retrains = "the team's drift-retrain function retrains" if stage == "prod" else "notifies only (staging)"
        self.drift_alarms: list[cloudwatch.Alarm] = []
        figures = [(f"drift-{metric_safe(f)}", f"'{f}'", cloudwatch.Metric(
            namespace=NAMESPACE, metric_name="FeatureDrift", dimensions_map={**dimensions, "Feature": f},
            statistic="Maximum", period=period)) for f in settings.features]
        figures.append(("drift-prediction-score", "the prediction score", cloudwatch.Metric(
            namespace=NAMESPACE, metric_name="ScoreDrift", dimensions_map=dimensions, statistic="Maximum",
            period=period)))
        for suffix, what, metric in figures:
            alarm = cloudwatch.Alarm(
                self, f"Alarm-{suffix}", alarm_name=f"{self.endpoint_name}-{suffix}",
                alarm_description=f"Live {what} drifts from the training baseline (PSI above {settings.threshold:g} "
                                  f"on {m_of_n['datapoints_to_alarm']} of {m_of_n['evaluation_periods']} runs with at "
                                  f"least {settings.min_records} records): {retrains}",
                # below min_records a run judges nothing (the job publishes no drift then, and the guard holds)
                metric=cloudwatch.MathExpression(
                    expression=f"IF(records >= {settings.min_records}, drift, 0)",
                    using_metrics={"records": records, "drift": metric}, period=period, label=suffix),
                threshold=settings.threshold, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING, **m_of_n)
            alarm.add_alarm_action(action)
            self.drift_alarms.append(alarm)
        self.quality_alarm = None
        # ground truth joins captured requests by event id: a batch-only stage has none
        if settings.model_quality_active and scheduled:
            below = settings.quality_higher_is_better
            quality = cloudwatch.Metric(namespace=NAMESPACE, metric_name="LiveQuality", statistic="Average",
                                        dimensions_map={**dimensions, "Metric": settings.quality_metric}, period=period)
            joined = cloudwatch.Metric(namespace=NAMESPACE, metric_name="QualityRecords", dimensions_map=dimensions,
                                       statistic="Sum", period=period)
            self.quality_alarm = cloudwatch.Alarm(
                self, "QualityAlarm", alarm_name=f"{self.endpoint_name}-drift-model-quality-{settings.quality_metric}",
                alarm_description=f"Live {settings.quality_metric} {'under' if below else 'over'} the quality gate "
                                  f"{settings.quality_threshold:g} on predictions joined with ground truth: {retrains}",
                # a run with too few labelled records counts as at the gate (never breaching)
                metric=cloudwatch.MathExpression(
                    expression=f"IF(joined >= {settings.min_records}, quality, {settings.quality_threshold:g})",
                    using_metrics={"joined": joined, "quality": quality}, period=period, label="live quality"),
                threshold=settings.quality_threshold,
                comparison_operator=(cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD if below
                                     else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD),
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING, **m_of_n)
            self.quality_alarm.add_alarm_action(action)
        self.missing_alarm = None
        if not scheduled:
            return
        # every successful run publishes MonitorRuns 1; two intervals without one is a missing monitor
        self.missing_alarm = cloudwatch.Alarm(
            self, "MissingAlarm", alarm_name=f"{self.endpoint_name}-monitor-missing",
            alarm_description=f"No successful drift run of {self.endpoint_name} in two intervals "
                              f"({settings.schedule}): check {name}'s executions",
            metric=cloudwatch.Metric(namespace=NAMESPACE, metric_name="MonitorRuns", dimensions_map=dimensions,
                                     statistic="Sum", period=period),
            threshold=1, comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2, datapoints_to_alarm=2, treat_missing_data=cloudwatch.TreatMissingData.BREACHING)
        self.missing_alarm.add_alarm_action(action)
