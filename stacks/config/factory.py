"""The factory configuration: one YAML file, validated once, before any construct exists.

Every error becomes one line, ``<file>: <path.to.field>: <what is wrong> (got <value>)`` (see
`stacks/config/fields.py`). Later issues add keys under ``teams[].models[]`` (`stacks/config/model.py`);
each key that is not required has a default documented in docs/configuration.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import EmailStr, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from stacks.common.monitor_images import CLARIFY_REGISTRIES
from stacks.common.naming import artifact_bucket_name
from stacks.config.fields import (
    AccountId,
    BucketName,
    ConfigError,
    Region,
    Slug,
    Strict,
    TagKey,
    TagValue,
    format_validation_error,
    read_source,
)
from stacks.config.model import ModelConfig


class TargetAccounts(Strict):
    """Where the team's endpoints run; both default to the team's (factory) account."""

    staging: AccountId | None = None
    prod: AccountId | None = None

    @model_validator(mode="after")
    def _prod_needs_staging(self) -> TargetAccounts:
        if self.prod is not None and self.staging is None:
            raise PydanticCustomError(
                "field_error", "{where}: {message}",
                {"where": "staging", "got": None,
                 "message": "is required when accounts.prod is set: a model reaches prod only through staging"})
        return self


class TeamConfig(Strict):
    name: Slug
    account: AccountId
    region: Region | None = None
    accounts: TargetAccounts = TargetAccounts()
    cost_center: TagValue | None = None
    monthly_budget_usd: float = Field(gt=0)
    # at 100 % of the budget: stop new training after an approver approves (manual), at once, or never
    budget_action: Literal["manual", "automatic", "off"] = "manual"
    approvers: list[EmailStr] = Field(min_length=1)
    # buckets other than the team's artifact bucket that models[].training.data_s3_uri may read from
    data_buckets: list[BucketName] = []
    models: list[ModelConfig] = []

    @model_validator(mode="after")
    def _unique_model_names(self) -> TeamConfig:
        _reject_duplicates([m.name for m in self.models], "models", "model name")
        return self

    @property
    def resolved_cost_center(self) -> str:
        return self.cost_center or self.name

    def stage_account(self, stage: str) -> str:
        return getattr(self.accounts, stage) or self.account

    @property
    def target_accounts(self) -> list[str]:
        """The accounts other than the factory account that endpoints of this team run in."""
        return sorted({self.stage_account(s) for s in ("staging", "prod")} - {self.account})

    def api_stages(self, account: str) -> dict:
        """The stages in `account` that serve a model through the consumer API: stage -> model -> settings."""
        stages = {}
        for stage in ("staging", "prod"):
            if self.stage_account(stage) != account:
                continue
            models = {m.name: getattr(m.endpoint, stage) for m in self.models if getattr(m.endpoint, stage).api}
            if models:
                stages[stage] = models
        return stages


class CatalogLocation(Strict):
    """Where the factory's one model catalog lives; default the first team's account and region."""

    account: AccountId | None = None
    region: Region | None = None


class FactorySettings(Strict):
    name: Slug
    region: Region = "us-east-1"
    tags: dict[TagKey, TagValue] = {}
    catalog: CatalogLocation = CatalogLocation()


class FactoryConfig(Strict):
    factory: FactorySettings
    teams: list[TeamConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _resolve_team_defaults(self) -> FactoryConfig:
        _reject_duplicates([t.name for t in self.teams], "teams", "team name")
        resolved = [
            team if team.region else team.model_copy(update={"region": self.factory.region})
            for team in self.teams
        ]
        object.__setattr__(self, "teams", resolved)
        factory_accounts = {t.account: t.name for t in resolved}
        for team_index, team in enumerate(resolved):
            for stage in ("staging", "prod"):
                target = getattr(team.accounts, stage)
                owner = factory_accounts.get(target)
                if owner is not None and owner != team.name and target != team.account:
                    raise PydanticCustomError(
                        "field_error", "{where}: {message}",
                        {"where": f"teams[{team_index}].accounts.{stage}", "got": target,
                         "message": f"is the factory account of team {owner}: endpoints run in the team's own "
                                    "factory account or in accounts of their own"})
            allowed_buckets = {artifact_bucket_name(team.name, team.account, team.region), *team.data_buckets}
            for model_index, model in enumerate(team.models):
                where = f"teams[{team_index}].models[{model_index}]"
                _check_monitor_names(team.name, model, where)
                data = model.training.data_s3_uri
                if data is not None and data.split("/")[2] not in allowed_buckets:
                    raise PydanticCustomError(
                        "field_error", "{where}: {message}",
                        {"where": f"{where}.training.data_s3_uri", "got": data,
                         "message": f"is outside the team's artifact bucket and teams[{team_index}].data_buckets "
                                    f"({', '.join(sorted(allowed_buckets))})"})
                team_bucket = artifact_bucket_name(team.name, team.account, team.region)
                for stage in ("staging", "prod"):
                    batch = getattr(model.endpoint, stage).batch
                    if batch is None:
                        continue
                    # the transform runs as the team's SageMaker role: it reads and writes the team bucket
                    if batch.input_s3_uri.split("/")[2] != team_bucket:
                        raise PydanticCustomError("field_error", "{where}: {message}", {
                            "where": f"{where}.endpoint.{stage}.batch.input_s3_uri", "got": batch.input_s3_uri,
                            "message": f"must be in the team's bucket s3://{team_bucket}/ (copy the data there)"})
                    if not batch.output_s3_uri.startswith(f"s3://{team_bucket}/batch/"):
                        raise PydanticCustomError("field_error", "{where}: {message}", {
                            "where": f"{where}.endpoint.{stage}.batch.output_s3_uri", "got": batch.output_s3_uri,
                            "message": f"must be under s3://{team_bucket}/batch/ (where the team's endpoints may "
                                       "write scores)"})
                clarify = [k for k in ("bias", "explainability") if getattr(model.monitoring, k)]
                if clarify and team.region not in CLARIFY_REGISTRIES:
                    raise PydanticCustomError(
                        "field_error", "{where}: {message}",
                        {"where": f"{where}.monitoring.{clarify[0]}", "got": True,
                         "message": f"SageMaker Clarify is not available in {team.region} (the team's region)"})
        return self

    @property
    def catalog_account(self) -> str:
        return self.factory.catalog.account or self.teams[0].account

    @property
    def catalog_region(self) -> str:
        return self.factory.catalog.region or self.teams[0].region or self.factory.region

    def warnings(self) -> list[str]:
        """Settings that are allowed but worth one line each (printed by make synth and the config check)."""
        return [f"teams[{t}].models[{m}].{part}.{line}" for t, team in enumerate(self.teams)
                for m, model in enumerate(team.models)
                for part, lines in (("endpoint", model.endpoint.warnings()), ("monitoring", model.monitoring.warnings()))
                for line in lines]

    def select(self, names: str | None, *, source: str) -> list[TeamConfig] | None:
        """The teams named in a comma-separated list (make synth TEAMS=a,b), in that order and each once; None
        (the whole factory: every team and the catalog) for None or a blank list."""
        wanted = [n.strip() for n in (names or "").split(",") if n.strip()]
        if not wanted:
            return None
        by_name = {t.name: t for t in self.teams}
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise ConfigError(f"TEAMS: {', '.join(repr(n) for n in unknown)} is not a team of {source} "
                              f"(teams: {', '.join(by_name)})")
        return [by_name[n] for n in dict.fromkeys(wanted)]

    def metric_sharing(self, team: TeamConfig) -> dict[str, list[str]]:
        """Target accounts whose CloudWatch sharing role this team's target stack creates (the first team, in
        config order, that deploys there), with every factory account that reads metrics from there."""
        owned: dict[str, list[str]] = {}
        for account in team.target_accounts:
            users = [t for t in self.teams if account in t.target_accounts]
            if users[0].name == team.name:
                owned[account] = sorted({t.account for t in users})
        return owned

    def teams_sharing_account(self, team: TeamConfig) -> list[str]:
        return [t.name for t in self.teams if t.account == team.account and t.name != team.name]


# SageMaker names (endpoints, monitoring schedules) are at most 63 characters; the longest the factory
# derives from a team and a model is the staging explainability schedule.
SAGEMAKER_NAME_MAX = 63
LONGEST_NAME_SUFFIX = "-staging-model-explainability"


def _check_monitor_names(team: str, model: ModelConfig, where: str) -> None:
    longest = f"mf-{team}-{model.name}{LONGEST_NAME_SUFFIX}"
    if len(longest) > SAGEMAKER_NAME_MAX:
        raise PydanticCustomError(
            "field_error", "{where}: {message}",
            {"where": f"{where}.name", "got": model.name,
             "message": f"team and model names together are too long for SageMaker: {longest} has "
                        f"{len(longest)} characters, at most {SAGEMAKER_NAME_MAX} are allowed"})


def _reject_duplicates(names: list[str], collection: str, what: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise PydanticCustomError(
                "field_error",
                "{where}: {message}",
                {"where": f"{collection}[{index}].name", "message": f"duplicate {what}", "got": name},
            )
        seen.add(name)


def parse_config(data: Any, *, source: str) -> FactoryConfig:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: (top level): must be a mapping with the keys 'factory' and 'teams' (got {data!r})"
        )
    try:
        return FactoryConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def _describe_yaml_error(source: str, text: str, exc: yaml.YAMLError) -> str:
    lines = text.splitlines()
    mark = getattr(exc, "problem_mark", None)
    if mark is not None and mark.line >= len(lines):
        # an unterminated construct reports the end of the file: point at where it was opened
        mark = getattr(exc, "context_mark", None) or mark
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"{source}: (file): invalid YAML: {problem} (got nothing)"
    line_text = lines[mark.line].strip() if mark.line < len(lines) else ""
    return f"{source}: line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {problem} (got {line_text!r})"


def load_config(path: str | Path) -> FactoryConfig:
    source = str(path)
    text = read_source(path, "the config file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_describe_yaml_error(source, text, exc)) from None
    return parse_config(data, source=source)
