"""``mf-<team>-target-<account>``: a separate staging/prod account made ready for the team's deploys:
the roles the factory account deploys with, and what the endpoints there report to. Alarms publish to a
topic of the same name in this account (CloudWatch alarm actions stay in their account); failed monitor
executions are told there too; drift alarms are forwarded to the factory account's event bus, where the
team's drift-retrain rule picks them up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from stacks.common.arns import format_arn
from stacks.config.endpoint import EndpointSettings
from stacks.deploy.deployment_target import DeploymentTarget
from stacks.foundation.approver_topic import ApproverTopic
from stacks.foundation.team_key import TeamKey
from stacks.monitoring.drift_job_roles import DriftJobRoles, WatchedEndpoint
from stacks.monitoring.metric_sharing import MetricSharing
from stacks.monitoring.monitoring_failures import MonitoringFailures
from stacks.serving.team_apis import TeamApis


class TargetStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, models: Sequence[str],
                 metric_readers: Sequence[str] = (),
                 factory_account: str, artifact_bucket_name: str, approvers: Sequence[str], clarify: bool = False,
                 drift_endpoints: Sequence[WatchedEndpoint] = (),
                 api_stages: Mapping[str, Mapping[str, EndpointSettings]] | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        target = DeploymentTarget(self, "Target", team=team, models=models, factory_account=factory_account,
                                  artifact_bucket_name=artifact_bucket_name, clarify=clarify)
        key = TeamKey(self, "Encryption", team=team, purpose="the approvers' topic in this account").key
        topic = ApproverTopic(self, "Approvers", team=team, key=key, approvers=approvers).topic
        MonitoringFailures(self, "MonitoringFailures", team=team, topic=topic)
        if drift_endpoints:
            self.drift_roles = DriftJobRoles(self, "DriftRoles", team=team, endpoints=drift_endpoints,
                                             bucket_name=artifact_bucket_name, key_statements=target.factory_key_statements,
                                             key_reasons=target.factory_key_reason)
        if metric_readers:
            MetricSharing(self, "MetricSharing", reader_accounts=metric_readers)
        if api_stages:
            # asynchronous answers land in the factory account's bucket
            self.apis = TeamApis(self, "Apis", team=team, stages=api_stages, bucket_name=artifact_bucket_name,
                                 bucket_account=factory_account, key=key, topic=topic)
        factory_bus = events.EventBus.from_event_bus_arn(self, "FactoryBus", format_arn(self,
            service="events", account=factory_account, resource="event-bus", resource_name="default"))
        self.drift_forwarding = events.Rule(
            self, "ForwardDriftAlarms",
            rule_name=f"mf-{team}-forward-drift-alarms",
            description=f"Drift alarms of the {team} team's endpoints here -> the factory account's retrain rule",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"], detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": [{"wildcard": f"mf-{team}-*-prod-drift*"}], "state": {"value": ["ALARM"]}}),
            targets=[targets.EventBus(factory_bus)],
        )
        for output, role in (("DeployActionRoleArn", target.deploy_action_role),
                             ("CfnExecutionRoleArn", target.cfn_execution_role),
                             ("SageMakerExecutionRoleArn", target.sagemaker_role)):
            cdk.CfnOutput(self, output, value=role.role_arn)
