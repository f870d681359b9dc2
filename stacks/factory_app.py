"""Compose the whole factory from a validated config: one stage per team, cdk-nag over all of it."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.common.nag import install_checks
from stacks.common.naming import catalog_bus_arn
from stacks.config.factory import FactoryConfig, TeamConfig
from stacks.catalog_stack import CatalogStack
from stacks.team_stage import TeamStage


def build_factory(app: cdk.App, config: FactoryConfig, teams: list[TeamConfig] | None = None) -> dict[str, TeamStage]:
    """Every team's stage and the factory's model catalog (its own stage `catalog`, in factory.catalog), or only
    `teams` (validated against the whole config by FactoryConfig.select; the catalog is not a team's)."""
    install_checks(app)
    if teams is None:
        catalog = cdk.Stage(app, "catalog", env=cdk.Environment(account=config.catalog_account,
                                                                region=config.catalog_region))
        CatalogStack(catalog, "Catalog", stack_name="mf-catalog", description=f"Model Factory {config.factory.name}: "
                     "the model catalog", team_accounts={t.name: t.account for t in config.teams})
    return {
        team.name: TeamStage(
            app,
            team.name,
            factory=config.factory,
            team=team,
            account_shared_with_other_teams=bool(config.teams_sharing_account(team)),
            metric_sharing=config.metric_sharing(team),
            catalog_bus_arn=catalog_bus_arn("aws", config.catalog_region, config.catalog_account),
        )
        for team in (config.teams if teams is None else teams)
    }
