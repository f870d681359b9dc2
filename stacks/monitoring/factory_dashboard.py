"""The team's factory dashboard `mf-<team>-factory`: per model, build and deploy outcomes, endpoint
health per stage, drift per feature, records judged, live quality and monitor runs (the factory
engine) or Model Monitor's drift, and drift-driven retrains."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.common.arns import stack_environment
from stacks.common.naming import codepipeline_name, endpoint_name, showback_dimensions
from stacks.common.shared_values import days, hours, minutes
from stacks.config.endpoint import StageEndpoints

STAGES = ("staging", "prod")
HOUR, DAY = hours(1), days(1)


class FactoryDashboard(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str,
                 models: Mapping[str, StageEndpoints], stage_accounts: Mapping[str, str] | None = None,
                 engines: Mapping[str, str] | None = None) -> None:
        """`models`: each model's serving settings per stage, which decide the metrics' dimensions;
        `engines`: each model's monitoring engine (factory, the default, or model_monitor);
        `stage_accounts`: the account each stage runs in (metrics of another account are read through its
        CloudWatch sharing role)."""
        super().__init__(scope, construct_id)
        here = stack_environment(cdk.Stack.of(self)).account
        self._accounts = {stage: account for stage, account in (stage_accounts or {}).items() if account != here}
        rows: list[list[cloudwatch.IWidget]] = [[cloudwatch.TextWidget(
            markdown=f"# Model Factory: {team}\nBuild and deploy outcomes (CodeBuild), endpoint health, "
                     "data-quality drift and drift-driven retrains, per model; cost per model (showback).",
            width=24, height=2)],
            # one figure per model and month, published by the team's showback function
            [cloudwatch.GraphWidget(
                title="cost per model (USD, showback)", width=24, height=5, stacked=True,
                view=cloudwatch.GraphWidgetView.BAR,
                left=[cloudwatch.Metric(namespace="ModelFactory", metric_name="ModelCostUSD",
                                        dimensions_map=showback_dimensions(team, model), statistic="Maximum",
                                        period=days(31), label=model) for model in models])]]
        for model, endpoints in models.items():
            settings = {stage: getattr(endpoints, stage) for stage in STAGES}
            names = {stage: endpoint_name(team, model, stage) for stage in STAGES}
            rows.append([cloudwatch.TextWidget(markdown=f"## {model}", width=24, height=1)])
            rows.append([
                cloudwatch.GraphWidget(
                    title=f"{model}: build and deploy outcomes", width=8, left=[
                        self._codebuild(codepipeline_name(team, model, kind), outcome)
                        for kind in ("build", "deploy") for outcome in ("SucceededBuilds", "FailedBuilds")]),
                cloudwatch.GraphWidget(
                    title=f"{model}: invocations and errors", width=8, left=[
                        self._endpoint(names[stage], settings[stage], metric, "Sum", self._accounts.get(stage))
                        for stage in STAGES for metric in ("Invocations", "Invocation5XXErrors")]),
                cloudwatch.GraphWidget(
                    title=f"{model}: p99 model latency (µs) and GPU utilisation", width=8,
                    left=[self._endpoint(names[stage], settings[stage], "ModelLatency", "p99", self._accounts.get(stage))
                          for stage in STAGES],
                    right=[self._gpu(names[stage], settings[stage], stage, self._accounts.get(stage))
                           for stage in STAGES]),
            ])
            engine = (engines or {}).get(model, "factory")
            if engine == "factory":
                rows.append(self._factory_engine_row(team, model, names))
            rows.append([
                cloudwatch.GraphWidget(
                    title=f"{model}: feature drift from the training baseline (prod, Model Monitor)", width=16, left=[
                        cloudwatch.MathExpression(
                            expression="SEARCH('{aws/sagemaker/Endpoints/data-metrics,Endpoint,MonitoringSchedule} "
                                       f"Endpoint=\"{endpoint_name(team, model, 'prod')}\" "
                                       "MetricName=feature_baseline_drift', 'Maximum', 3600)",
                            label="drift", period=HOUR)])
                if engine == "model_monitor" else
                cloudwatch.TextWidget(markdown=f"Monitor runs alarm when two intervals pass without a successful "
                                               f"run: `{names['prod']}-monitor-missing`, "
                                               f"`{names['staging']}-monitor-missing`.", width=16, height=6),
                cloudwatch.GraphWidget(
                    title=f"{model}: drift-driven retrains", width=8, left=[cloudwatch.Metric(
                        namespace="ModelFactory", metric_name="ActionRetrain",
                        dimensions_map={"service": "drift-retrain",
                                        "pipeline": codepipeline_name(team, model, "build")},
                        statistic="Sum", period=DAY, label="retrains")]),
            ])
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"mf-{team}-factory", widgets=rows)

    def _factory_engine_row(self, team: str, model: str, names: dict[str, str]) -> list[cloudwatch.IWidget]:
        """The factory engine's figures per stage: drift per feature, records, live quality, runs."""
        def search(metric: str, dims: str, statistic: str, stage: str, label: str) -> cloudwatch.MathExpression:
            account = self._accounts.get(stage)
            return cloudwatch.MathExpression(
                expression=f"SEARCH('{{ModelFactory,{dims}}} MetricName=\"{metric}\" Team=\"{team}\" "
                           f"Model=\"{model}\" Stage=\"{stage}\"', '{statistic}', 3600)",
                label=label, period=HOUR, **({"search_account": account} if account else {}))

        def figure(metric: str, stage: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="ModelFactory", metric_name=metric, statistic=statistic,
                                     dimensions_map={"Team": team, "Model": model, "Stage": stage},
                                     account=self._accounts.get(stage), period=HOUR, label=f"{stage}")
        return [
            cloudwatch.GraphWidget(
                title=f"{model}: feature drift (PSI) per feature", width=8, left=[
                    search("FeatureDrift", "Feature,Model,Stage,Team", "Maximum", stage, f"{stage} drift")
                    for stage in STAGES]),
            cloudwatch.GraphWidget(
                title=f"{model}: records judged per run", width=5, stacked=False,
                left=[figure("DriftRecords", stage, "Sum") for stage in STAGES]),
            cloudwatch.GraphWidget(
                title=f"{model}: live quality (ground truth)", width=6, left=[
                    search("LiveQuality", "Metric,Model,Stage,Team", "Average", stage, f"{stage} quality")
                    for stage in STAGES]),
            cloudwatch.GraphWidget(
                title=f"{model}: successful monitor runs (0 = missed or failed)", width=5,
                view=cloudwatch.GraphWidgetView.BAR, left=[figure("MonitorRuns", stage, "Sum") for stage in STAGES]),
        ]

    @staticmethod
    def _codebuild(project: str, metric: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/CodeBuild", metric_name=metric, dimensions_map={"ProjectName": project},
                                 statistic="Sum", period=DAY, label=f"{project} {metric}")

    @staticmethod
    def _endpoint(endpoint: str, settings, metric: str, statistic: str, account: str | None) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/SageMaker", metric_name=metric, statistic=statistic,
                                 dimensions_map=settings.invocation_dimensions(endpoint), account=account,
                                 period=minutes(5), label=f"{endpoint} {metric}")

    @staticmethod
    def _gpu(endpoint: str, settings, stage: str, account: str | None) -> cloudwatch.Metric:
        """Per instance on a variant; per copy (normalised) on an inference component."""
        if settings.scale_to_zero:
            return cloudwatch.Metric(namespace="/aws/sagemaker/InferenceComponents",
                                     metric_name="GPUUtilizationNormalized", account=account,
                                     dimensions_map=settings.invocation_dimensions(endpoint), statistic="Average",
                                     period=minutes(5), label=f"GPU {stage} (per copy)")
        return cloudwatch.Metric(namespace="/aws/sagemaker/Endpoints", metric_name="GPUUtilization", account=account,
                                 dimensions_map={"EndpointName": endpoint, "VariantName": settings.variant_name},
                                 statistic="Average", period=minutes(5), label=f"GPU {stage}")
