"""One ``cdk.Stage`` per team, deployed to the team's own account and region."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from stacks.common.naming import (
    TAG_COST_CENTER,
    TAG_FACTORY,
    TAG_TEAM,
    approver_topic_name,
    artifact_bucket_name,
    sagemaker_execution_role_name,
    team_stack_name,
)
from stacks.config.factory import FactorySettings, TeamConfig
from stacks.foundation_stack import FoundationStack
from stacks.monitoring.drift_job_roles import WatchedEndpoint
from stacks.model_pipelines_stack import ModelPipelinesStack
from stacks.target_stack import TargetStack


class TeamStage(cdk.Stage):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FactorySettings,
        team: TeamConfig,
        account_shared_with_other_teams: bool,
        metric_sharing: dict[str, list[str]] | None = None,
        catalog_bus_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=cdk.Environment(account=team.account, region=team.region))
        tags = {**factory.tags, TAG_FACTORY: factory.name, TAG_TEAM: team.name,
                TAG_COST_CENTER: team.resolved_cost_center}
        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)

        self.foundation = FoundationStack(
            self,
            "Foundation",
            stack_name=team_stack_name(team.name, "foundation"),
            description=f"Model Factory {factory.name}: foundation of the {team.name} team",
            team=team.name,
            models=[model.name for model in team.models],
            model_endpoints={model.name: model.endpoint for model in team.models},
            stage_accounts={stage: team.stage_account(stage) for stage in ("staging", "prod")},
            auto_prod_gate_models=[m.name for m in team.models if m.promotion.prod_gate == "auto"],
            approvers=list(team.approvers),
            monthly_budget_usd=team.monthly_budget_usd,
            budget_filters_by_team_tag=account_shared_with_other_teams,
            artifact_bucket_name=artifact_bucket_name(team.name, team.account, team.region),
            retrain_cooldown_hours={m.name: m.monitoring.retrain_cooldown_hours for m in team.models},
            # training data in buckets other than the team's (teams[].data_buckets): read on exactly those prefixes
            external_training_data=sorted({
                m.training.data_s3_uri for m in team.models if m.training.data_s3_uri
                and m.training.data_s3_uri.split("/")[2] != artifact_bucket_name(team.name, team.account, team.region)}),
            clarify=any(m.monitoring.bias or m.monitoring.explainability for m in team.models),
            target_accounts=team.target_accounts,
            budget_action=team.budget_action,
            drift_endpoints=watched_endpoints(team, team.account),
            monitoring_engines={m.name: m.monitoring.engine for m in team.models},
            api_stages=team.api_stages(team.account),
        )
        # one stack per separate staging/prod account (same region), deployed with credentials for it
        self.targets = {
            account: TargetStack(
                self, f"Target-{account}",
                stack_name=team_stack_name(team.name, f"target-{account}"),
                description=f"Model Factory {factory.name}: {team.name} deploys endpoints into this account",
                env=cdk.Environment(account=account, region=team.region),
                team=team.name, models=[m.name for m in team.models], factory_account=team.account,
                approvers=list(team.approvers),
                clarify=any(m.monitoring.bias or m.monitoring.explainability for m in team.models),
                artifact_bucket_name=artifact_bucket_name(team.name, team.account, team.region),
                metric_readers=(metric_sharing or {}).get(account, []),
                drift_endpoints=watched_endpoints(team, account), api_stages=team.api_stages(account))
            for account in team.target_accounts
        }

        self.builds: dict[str, ModelPipelinesStack] = {}
        for model in team.models:
            build = ModelPipelinesStack(
                self,
                f"Pipelines-{model.name}",
                stack_name=team_stack_name(team.name, f"{model.name}-pipelines"),
                description=f"Model Factory {factory.name}: build and deploy pipelines of {team.name}/{model.name}",
                team=team.name,
                model=model,
                bucket_name=artifact_bucket_name(team.name, team.account, team.region),
                key=self.foundation.key,
                sagemaker_role_name=sagemaker_execution_role_name(team.name),
                approver_topic_name=approver_topic_name(team.name),
                # SageMaker jobs started by the pipeline carry the same cost-allocation tags
                job_tags=tags,
                stage_accounts={stage: team.stage_account(stage) for stage in ("staging", "prod")},
                catalog_bus_arn=catalog_bus_arn, owners=list(team.approvers),
            )
            # names, not tokens, cross the stack boundary; the key ARN is the one reference
            self.builds[model.name] = build


def watched_endpoints(team: TeamConfig, account: str) -> list[WatchedEndpoint]:
    """The stages in `account` the team's drift roles serve: the endpoints the factory engine watches and the
    stages with scheduled batch scoring."""
    watched = []
    for m in team.models:
        for stage in ("staging", "prod"):
            settings = getattr(m.endpoint, stage)
            if team.stage_account(stage) != account:
                continue
            engine = m.monitoring.engine == "factory"
            if not engine and settings.batch is None:
                continue
            watched.append(WatchedEndpoint(
                model=m.name, stage=stage,
                ground_truth_s3_uri=m.monitoring.ground_truth_s3_uri if engine and m.monitoring.model_quality_enabled
                else None,
                batch_input_s3_uri=settings.batch.input_s3_uri if settings.batch else None,
                batch_output_s3_uri=settings.batch.output_s3_uri if settings.batch else None,
                watched_endpoint=engine and settings.has_endpoint))
    return watched
