"""``mf-<team>-foundation``: what every other part of a team's factory plugs into."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.arns import stack_environment
from stacks.common.naming import model_package_group_name
from stacks.config.endpoint import EndpointSettings, StageEndpoints
from stacks.cost.cost_showback import CostShowback
from stacks.cost.team_budget import TeamBudget
from stacks.deploy.approval_hook import ApprovalHook
from stacks.deploy.target_account_access import TargetAccountAccess
from stacks.foundation.approver_topic import ApproverTopic
from stacks.foundation.artifact_storage import ArtifactStorage
from stacks.foundation.model_registry import ModelRegistry
from stacks.foundation.sagemaker_execution_role import SageMakerExecutionRole
from stacks.foundation.team_key import TeamKey
from stacks.monitoring.drift_job_roles import DriftJobRoles, WatchedEndpoint
from stacks.monitoring.drift_retrain import DriftRetrain
from stacks.monitoring.factory_dashboard import FactoryDashboard
from stacks.monitoring.monitoring_failures import MonitoringFailures
from stacks.serving.team_apis import TeamApis


class FoundationStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: str,
        models: Sequence[str],
        approvers: Sequence[str],
        monthly_budget_usd: float,
        artifact_bucket_name: str,
        retrain_cooldown_hours: dict[str, float],
        budget_filters_by_team_tag: bool,
        clarify: bool = False,
        target_accounts: Sequence[str] = (),
        budget_action: str = "manual",
        external_training_data: Sequence[str] = (),
        model_endpoints: Mapping[str, StageEndpoints] | None = None,
        auto_prod_gate_models: Sequence[str] = (),
        stage_accounts: Mapping[str, str] | None = None,
        drift_endpoints: Sequence[WatchedEndpoint] = (),
        monitoring_engines: Mapping[str, str] | None = None,
        api_stages: Mapping[str, Mapping[str, EndpointSettings]] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        model_endpoints = model_endpoints or {m: StageEndpoints() for m in models}
        self.key = TeamKey(self, "Encryption", team=team).key
        storage = ArtifactStorage(self, "Storage", key=self.key, bucket_name=artifact_bucket_name)
        self.bucket = storage.bucket
        self.access_log_bucket = storage.access_log_bucket
        self.registry = ModelRegistry(self, "Registry", team=team, models=models)
        if target_accounts:
            TargetAccountAccess(self, "TargetAccounts", target_accounts=target_accounts, key=self.key,
                                bucket=self.bucket, groups=list(self.registry.groups.values()))
        self.topic = ApproverTopic(self, "Approvers", team=team, key=self.key, approvers=approvers).topic
        execution = SageMakerExecutionRole(
            self,
            "SageMakerExecution",
            team=team,
            bucket=self.bucket,
            key=self.key,
            model_package_group_names=[model_package_group_name(team, m) for m in models],
            clarify=clarify,
            external_training_data=external_training_data,
        )
        self.sagemaker_role = execution.role
        # The role's policy names the groups by ARN; create the groups first so the names exist.
        for group in self.registry.groups.values():
            execution.policy.node.add_dependency(group)
        self.approval_hook = ApprovalHook(
            self, "ApprovalHook", team=team, key=self.key, topic=self.topic,
            model_package_groups=[model_package_group_name(team, m) for m in models],
            auto_prod_gate_groups=[model_package_group_name(team, m) for m in auto_prod_gate_models])
        self.drift_retrain = DriftRetrain(self, "DriftRetrain", team=team, models=models, key=self.key,
                                          topic=self.topic, cooldown_hours_by_model=retrain_cooldown_hours)
        self.showback = CostShowback(self, "Showback", team=team, models=models, key=self.key, topic=self.topic)
        self.monitoring_failures = MonitoringFailures(self, "MonitoringFailures", team=team, topic=self.topic)
        if drift_endpoints:
            self.drift_roles = DriftJobRoles(
                self, "DriftRoles", team=team, endpoints=drift_endpoints, bucket_name=artifact_bucket_name,
                key_statements=[
                    iam.PolicyStatement(sid="TeamKey", actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                                                                "kms:DescribeKey"], resources=[self.key.key_arn]),
                    iam.PolicyStatement(sid="TeamKeyGrantsForVolumes", actions=["kms:CreateGrant"],
                                        resources=[self.key.key_arn],
                                        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}})])
        self.dashboard = FactoryDashboard(self, "FactoryDashboard", team=team, models=model_endpoints,
                                          stage_accounts=stage_accounts, engines=monitoring_engines).dashboard
        TeamBudget(
            self,
            "Budget",
            team=team,
            monthly_limit_usd=monthly_budget_usd,
            topic=self.topic,
            key=self.key,
            filter_by_team_tag=budget_filters_by_team_tag,
            sagemaker_role=self.sagemaker_role,
            action=budget_action,
        )

        if api_stages:
            self.apis = TeamApis(self, "Apis", team=team, stages=api_stages, bucket_name=artifact_bucket_name,
                                 bucket_account=stack_environment(self).account, key=self.key, topic=self.topic)
        cdk.CfnOutput(self, "ArtifactBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "KeyArn", value=self.key.key_arn)
        cdk.CfnOutput(self, "SageMakerExecutionRoleArn", value=self.sagemaker_role.role_arn)
        cdk.CfnOutput(self, "ApproverTopicArn", value=self.topic.topic_arn)
