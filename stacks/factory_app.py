"""Compose the whole factory from a validated config: one stage per team, cdk-nag over all of it."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.common.nag import install_checks
from stacks.config.factory import FactoryConfig, TeamConfig
from stacks.team_stage import TeamStage


def build_factory(app: cdk.App, config: FactoryConfig, teams: list[TeamConfig] | None = None) -> dict[str, TeamStage]:
    """Every team's stage, or only `teams` (validated against the whole config by FactoryConfig.select)."""
    install_checks(app)
    return {
        team.name: TeamStage(
            app,
            team.name,
            factory=config.factory,
            team=team,
            account_shared_with_other_teams=bool(config.teams_sharing_account(team)),
            metric_sharing=config.metric_sharing(team),
        )
        for team in (config.teams if teams is None else teams)
    }
