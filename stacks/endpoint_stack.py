"""``mf-<team>-<model>-<stage>-endpoint``: the serving stack the deploy pipeline synthesizes from a
deploy manifest (see endpoint_app.py) and deploys with CloudFormation."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.common.arns import format_arn
from stacks.common.naming import (
    KEY_ARN_PARAMETER,
    TAG_MODEL,
    TAG_TEAM,
    approver_topic_name,
    artifact_bucket_name,
    drift_job_role_name,
    drift_schedule_role_name,
    sagemaker_execution_role_name,
    team_key_alias,
    team_parameter,
)
from stacks.config.manifest import DeployManifest
from stacks.monitoring.endpoint_monitoring import EndpointMonitoring
from stacks.monitoring.factory_drift_monitor import FactoryDriftMonitor
from stacks.serving.batch_scoring import BatchScoring
from stacks.serving.idle_gpu_guard import IdleGpuGuard
from stacks.serving.model_endpoint import ModelEndpoint


class EndpointStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, manifest: DeployManifest, **kwargs) -> None:
        super().__init__(scope, construct_id, stack_name=manifest.stack_name,
                         env=cdk.Environment(account=manifest.account, region=manifest.region),
                         description=f"Model Factory: {manifest.stage} endpoint of {manifest.team}/{manifest.model}",
                         # deployed by the deploy pipeline's CloudFormation action, not by the CDK CLI
                         synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
                         **kwargs)
        for key, value in manifest.tags.items():
            cdk.Tags.of(self).add(key, value)
        cdk.Tags.of(self).add(TAG_TEAM, manifest.team)
        cdk.Tags.of(self).add(TAG_MODEL, manifest.model)
        cdk.Tags.of(self).add("model-factory:stage", manifest.stage)
        # The team's foundation resources are found by their deterministic names: no cross-stack export
        # ties an endpoint to the factory's stacks.
        topic = sns.Topic.from_topic_arn(self, "ApproverTopic", format_arn(self,
            service="sns", resource=approver_topic_name(manifest.team), arn_format=cdk.ArnFormat.NO_RESOURCE_NAME))
        def team_role(name: str) -> str:
            """A role the team's foundation or target stack made in this account (CloudFormation makes none)."""
            return format_arn(self, service="iam", region="", resource="role", resource_name=name)

        role_arn = team_role(sagemaker_execution_role_name(manifest.team))
        # bucket and key live in the team's factory account (the same account unless staging/prod are separate)
        key_arn = format_arn(self, service="kms", account=manifest.home_account, resource=team_key_alias(manifest.team))
        bucket_name = artifact_bucket_name(manifest.team, manifest.home_account, manifest.region)
        settings = manifest.endpoint
        job_role_arn = team_role(drift_job_role_name(manifest.team))
        schedule_role_arn = team_role(drift_schedule_role_name(manifest.team))
        self.endpoint = None
        if settings.has_endpoint:
            self.endpoint = ModelEndpoint(
                self,
                "Endpoint",
                endpoint_name=manifest.endpoint_name,
                model_package_arn=manifest.model_package_arn,
                settings=settings,
                execution_role_arn=role_arn,
                capture_bucket_name=bucket_name,
                kms_key_arn=key_arn,
                alarm_topic=topic,
                # the team key of the account the endpoint runs in (written by its foundation or target stack),
                # resolved at deploy time: no lookup at synth
                log_key=kms.Key.from_key_arn(self, "LogKey", ssm.StringParameter.value_for_string_parameter(
                    self, team_parameter(manifest.team, KEY_ARN_PARAMETER))),
            )
        # an async fleet at min 0 already scales in to zero on its empty queue
        idle_costs = not (settings.is_async and settings.min_instances == 0)
        if self.endpoint and manifest.stage != "prod" and settings.is_gpu and idle_costs:
            self.idle_guard = IdleGpuGuard(
                self, "IdleGpuGuard", endpoint_name=manifest.endpoint_name, settings=settings, topic=topic,
                variant_name=self.endpoint.variant_name, inference_component_name=self.endpoint.inference_component_name,
                scalable_target=self.endpoint.scalable_target)
        factory_engine = manifest.monitoring.active and manifest.monitoring.factory_engine
        if factory_engine:
            # the team's drift roles of this account (its foundation or target stack)
            self.monitoring = FactoryDriftMonitor(
                self, "DriftMonitor", team=manifest.team, model=manifest.model, stage=manifest.stage,
                settings=manifest.monitoring, bucket_name=bucket_name, kms_key_arn=key_arn, alarm_topic=topic,
                shadow=settings.shadow is not None, job_role_arn=job_role_arn, schedule_role_arn=schedule_role_arn,
                batch_only=not settings.has_endpoint)
            if self.endpoint:
                self.monitoring.node.add_dependency(self.endpoint.endpoint)
        elif manifest.monitoring.active and self.endpoint:
            self.monitoring = EndpointMonitoring(
                self, "Monitoring",
                endpoint_name=manifest.endpoint_name,
                settings=manifest.monitoring,
                role_arn=role_arn,
                bucket_name=bucket_name,
                kms_key_arn=key_arn,
                alarm_topic=topic,
            )
            self.monitoring.node.add_dependency(self.endpoint.endpoint)
        if settings.batch is not None:
            # exactly the package this stage serves: the endpoint's model, or one of its own in mode batch
            model = self.endpoint.model if self.endpoint else sagemaker.CfnModel(
                self, "BatchModel", execution_role_arn=role_arn, enable_network_isolation=True,
                primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                    model_package_name=manifest.model_package_arn))
            self.batch = BatchScoring(
                self, "Batch", team=manifest.team, model=manifest.model, stage=manifest.stage, settings=settings.batch,
                model_name=model.attr_model_name, kms_key_arn=key_arn, bucket_name=bucket_name,
                job_role_arn=job_role_arn, schedule_role_arn=schedule_role_arn,
                monitoring=manifest.monitoring if factory_engine else None,
                tags={**manifest.tags, TAG_TEAM: manifest.team, TAG_MODEL: manifest.model,
                      "model-factory:stage": manifest.stage})
        if self.endpoint:
            cdk.CfnOutput(self, "EndpointName", value=manifest.endpoint_name)
        cdk.CfnOutput(self, "ModelPackageArn", value=manifest.model_package_arn)
