"""One ``cdk.Stage`` per team, deployed to the team's own account and region."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from stacks.config import FactorySettings, TeamConfig
from stacks.foundation_stack import FoundationStack
from stacks.naming import TAG_COST_CENTER, TAG_FACTORY, TAG_TEAM, team_stack_name


class TeamStage(cdk.Stage):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FactorySettings,
        team: TeamConfig,
        account_shared_with_other_teams: bool,
    ) -> None:
        super().__init__(scope, construct_id, env=cdk.Environment(account=team.account, region=team.region))
        for key, value in factory.tags.items():
            cdk.Tags.of(self).add(key, value)
        cdk.Tags.of(self).add(TAG_FACTORY, factory.name)
        cdk.Tags.of(self).add(TAG_TEAM, team.name)
        cdk.Tags.of(self).add(TAG_COST_CENTER, team.resolved_cost_center)

        self.foundation = FoundationStack(
            self,
            "Foundation",
            stack_name=team_stack_name(team.name, "foundation"),
            description=f"Model Factory {factory.name}: foundation of the {team.name} team",
            team=team.name,
            models=[model.name for model in team.models],
            approvers=list(team.approvers),
            monthly_budget_usd=team.monthly_budget_usd,
            budget_filters_by_team_tag=account_shared_with_other_teams,
        )
