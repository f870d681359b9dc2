"""The factory configuration: one YAML file, validated once, before any construct exists.

Every error becomes one line, ``<file>: <path.to.field>: <what is wrong> (got <value>)``, so that a
cloud engineer sees the field to fix rather than a traceback. Later issues add keys under
``teams[].models[]``; each key that is not required has a default documented in the README.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stacks.monitor_images import CLARIFY_REGISTRIES
from stacks.endpoint_settings import StageEndpoints

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,23}$")
ACCOUNT_PATTERN = re.compile(r"^[0-9]{12}$")
INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
CONNECTION_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$"
)
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
BRANCH_PATTERN = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")
SCHEDULE_PATTERN = re.compile(
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)"
    r"|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$"
)
# Metrics each problem type's evaluation report carries (SageMaker model-quality format), and whether
# a higher value is better; the quality gate compares the metric with its threshold accordingly.
QUALITY_METRICS: dict[str, dict[str, bool]] = {
    "binary_classification": {"auc": True, "accuracy": True, "precision": True, "recall": True, "f1": True},
    "multiclass_classification": {"accuracy": True, "weighted_precision": True, "weighted_recall": True,
                                  "weighted_f1": True},
    "regression": {"mse": False, "rmse": False, "mae": False, "r2": True},
}
DEFAULT_QUALITY_METRIC = {"binary_classification": "auc", "multiclass_classification": "accuracy",
                          "regression": "r2"}
UNIT_INTERVAL_METRICS = {"auc", "accuracy", "precision", "recall", "f1", "weighted_precision",
                         "weighted_recall", "weighted_f1"}
RESERVED_TAG_PREFIXES = ("aws:", "model-factory:")


class ConfigError(Exception):
    """A configuration problem, already rendered as the one line the user sees."""


@cache
def known_regions() -> frozenset[str]:
    # The region table of the pinned aws-cdk-lib: the same facts the synthesizer uses, no network.
    from aws_cdk.region_info import RegionInfo

    return frozenset(region.name for region in RegionInfo.regions)


def _slug(value: str) -> str:
    if not SLUG_PATTERN.match(value) or value.endswith("-") or "--" in value:
        raise PydanticCustomError(
            "slug",
            "must be 3-24 characters of a-z, 0-9 and single '-', starting with a letter "
            "and not ending with '-'",
        )
    return value


def _account(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise PydanticCustomError(
            "account_type",
            'must be a quoted string of 12 digits (write "{value}" in quotes: YAML drops leading zeros '
            "of numbers)",
            {"value": value},
        )
    if isinstance(value, str) and not ACCOUNT_PATTERN.match(value):
        raise PydanticCustomError("account", "must be an AWS account id of exactly 12 digits")
    return value


def _region(value: str) -> str:
    if value not in known_regions():
        raise PydanticCustomError("region", "is not an AWS region name (for example eu-west-1)")
    return value


def _instance_type(value: str) -> str:
    if not INSTANCE_TYPE_PATTERN.match(value):
        raise PydanticCustomError(
            "instance_type", "must be a SageMaker instance type such as ml.g5.xlarge (starts with 'ml.')"
        )
    return value


def _schedule(value: str) -> str:
    if not SCHEDULE_PATTERN.match(value):
        raise PydanticCustomError(
            "schedule",
            "must be an EventBridge schedule expression: rate(<n> <minute(s)|hour(s)|day(s)>) or "
            "cron(<min> <hour> <day-of-month> <month> <day-of-week> <year>)",
        )
    if value.startswith("cron("):
        fields = value[5:-1].split()
        if fields[2] != "?" and fields[4] != "?":
            raise PydanticCustomError("schedule", "cron() needs '?' in day-of-month or day-of-week")
    return value


def _monitor_schedule(value: str) -> str:
    # Model Monitor runs hourly at most: cron(0 <hour> ? * * *) style expressions
    if not re.match(r"^cron\(0 \S+ \S+ \S+ \S+ \S+\)$", value):
        raise PydanticCustomError("schedule", "must be a Model Monitor cron(0 <hour> <day-of-month> <month> "
                                  "<day-of-week> <year>) expression (hourly at most)")
    return value


def _pattern(pattern: re.Pattern[str], description: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise PydanticCustomError("pattern", "must be " + description)
        return value

    return AfterValidator(check)


def _tag_key(value: str) -> str:
    if value.startswith(RESERVED_TAG_PREFIXES):
        raise PydanticCustomError("tag_key", "tag keys starting with 'aws:' or 'model-factory:' are reserved")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
AccountId = Annotated[str, BeforeValidator(_account)]
Region = Annotated[str, AfterValidator(_region)]
InstanceType = Annotated[str, AfterValidator(_instance_type)]
TagKey = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_tag_key)]
TagValue = Annotated[str, Field(max_length=256)]
ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class TrainingConfig(_Strict):
    instance_type: InstanceType = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=100)
    use_spot: bool = False
    max_runtime_minutes: int = Field(default=120, gt=0, le=40320)


Branch = Annotated[str, _pattern(BRANCH_PATTERN, "a git branch name")]


class CodeCommitSource(_Strict):
    provider: Literal["codecommit"] = "codecommit"
    branch: Branch = "main"


class CodeConnectionsSource(_Strict):
    provider: Literal["codeconnections"]
    connection_arn: Annotated[str, _pattern(
        CONNECTION_ARN_PATTERN, "a CodeConnections connection ARN "
        "(arn:aws:codeconnections:<region>:<account>:connection/<id>)")]
    repository: Annotated[str, _pattern(REPOSITORY_PATTERN, "<owner>/<repository>")]
    branch: Branch = "main"


SOURCE_PROVIDERS = ("codecommit", "codeconnections")


class QualityGate(_Strict):
    metric: str
    threshold: float


# The label column of the seed data (pipelines/modelbuild/data); models[].monitoring.label overrides it.
DEFAULT_LABEL = "is_fraud"


class BiasFacet(_Strict):
    """The sensitive column Clarify compares groups by, and the values of the group it checks."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    values: list[int | float | str] = []


class ModelMonitoring(_Strict):
    """How deployed endpoints of the model are watched: data quality against the registered baseline
    always; model quality too when labelled outcomes arrive under `ground_truth_s3_uri`; model bias and
    explainability (SageMaker Clarify) when `bias` / `explainability` are on."""

    schedule: Annotated[str, AfterValidator(_monitor_schedule)] = "cron(0 * ? * * *)"
    drift_threshold: float = Field(default=0.1, gt=0, le=1)
    retrain_cooldown_hours: float = Field(default=24, gt=0, le=24 * 30)
    ground_truth_s3_uri: Annotated[str, _pattern(re.compile(r"^s3://[a-z0-9.-]{3,63}(/.*)?$"),
                                                 "an s3:// URI")] | None = None
    model_quality: bool | None = None
    bias: bool = False
    explainability: bool = False
    label: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    label_values: list[int | float | str] = [1]
    facet: BiasFacet | None = None

    @model_validator(mode="after")
    def _model_quality_needs_ground_truth(self) -> ModelMonitoring:
        if self.model_quality and not self.ground_truth_s3_uri:
            raise PydanticCustomError(
                "field_error", "{where}: {message}",
                {"where": "model_quality", "got": True,
                 "message": "needs ground_truth_s3_uri: where the labelled outcomes of live requests arrive"})
        if self.bias:
            for where, missing, why in (
                ("label", self.label is None, "the label column whose outcomes Clarify compares between groups"),
                ("facet", self.facet is None, "the sensitive column ({name, values}) Clarify compares groups by"),
                ("ground_truth_s3_uri", self.ground_truth_s3_uri is None,
                 "the bias monitor joins live predictions with labelled outcomes"),
            ):
                if missing:
                    raise PydanticCustomError(
                        "field_error", "{where}: {message}",
                        {"where": where, "got": None, "message": f"is required when bias is true: {why}"})
        return self

    @property
    def model_quality_enabled(self) -> bool:
        return self.model_quality if self.model_quality is not None else self.ground_truth_s3_uri is not None


class ModelConfig(_Strict):
    name: Slug
    problem_type: ProblemType = "binary_classification"
    training: TrainingConfig = TrainingConfig()
    source: Annotated[CodeCommitSource | CodeConnectionsSource, Field(discriminator="provider")] = (
        CodeCommitSource()
    )
    retrain_schedule: Annotated[str, AfterValidator(_schedule)] | None = None
    quality_gate: QualityGate | None = None
    endpoint: StageEndpoints = StageEndpoints()
    monitoring: ModelMonitoring = ModelMonitoring()

    @model_validator(mode="after")
    def _check_quality_gate(self) -> ModelConfig:
        if self.quality_gate is None:
            default = DEFAULT_QUALITY_METRIC[self.problem_type]
            object.__setattr__(self, "quality_gate", QualityGate(
                metric=default, threshold=0.8 if default in UNIT_INTERVAL_METRICS else 0.5))
            return self
        metric, threshold = self.quality_gate.metric, self.quality_gate.threshold
        allowed = QUALITY_METRICS[self.problem_type]
        if metric not in allowed:
            raise PydanticCustomError(
                "field_error", "{where}: {message}",
                {"where": "quality_gate.metric", "got": metric,
                 "message": f"is not a {self.problem_type} metric (one of {', '.join(allowed)})"},
            )
        if metric in UNIT_INTERVAL_METRICS and not 0 < threshold <= 1:
            raise PydanticCustomError(
                "field_error", "{where}: {message}",
                {"where": "quality_gate.threshold", "got": threshold, "message": f"must be in (0, 1] for {metric}"},
            )
        if metric not in UNIT_INTERVAL_METRICS and metric != "r2" and threshold <= 0:
            raise PydanticCustomError(
                "field_error", "{where}: {message}",
                {"where": "quality_gate.threshold", "got": threshold, "message": f"must be > 0 for {metric}"},
            )
        return self

    @property
    def quality_higher_is_better(self) -> bool:
        return QUALITY_METRICS[self.problem_type][self.quality_gate.metric]


class TargetAccounts(_Strict):
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


class TeamConfig(_Strict):
    name: Slug
    account: AccountId
    region: Region | None = None
    accounts: TargetAccounts = TargetAccounts()
    cost_center: TagValue | None = None
    monthly_budget_usd: float = Field(gt=0)
    # at 100 % of the budget: stop new training after an approver approves (manual), at once, or never
    budget_action: Literal["manual", "automatic", "off"] = "manual"
    approvers: list[EmailStr] = Field(min_length=1)
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


class FactorySettings(_Strict):
    name: Slug
    region: Region = "us-east-1"
    tags: dict[TagKey, TagValue] = {}


class FactoryConfig(_Strict):
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
            for model_index, model in enumerate(team.models):
                where = f"teams[{team_index}].models[{model_index}]"
                _check_monitor_names(team.name, model, where)
                clarify = [k for k in ("bias", "explainability") if getattr(model.monitoring, k)]
                if clarify and team.region not in CLARIFY_REGISTRIES:
                    raise PydanticCustomError(
                        "field_error", "{where}: {message}",
                        {"where": f"{where}.monitoring.{clarify[0]}", "got": True,
                         "message": f"SageMaker Clarify is not available in {team.region} (the team's region)"})
        return self

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


def _format_location(loc: tuple[Any, ...]) -> str:
    path = ""
    for index, part in enumerate(loc):
        if part == "[key]" or (index > 0 and loc[index - 1] == "source" and part in SOURCE_PROVIDERS):
            continue
        if isinstance(part, int) or (index + 1 < len(loc) and loc[index + 1] == "[key]"):
            path += f"[{part!r}]" if isinstance(part, str) else f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _describe(error: dict[str, Any]) -> tuple[str, str, str]:
    """(field path, message, rendered offending value) for one pydantic error."""
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    kind = error["type"]
    value = error.get("input")
    if kind == "field_error":
        # raised from a model validator: the field inside the model is in the message context
        parent = _format_location(loc)
        where = ctx["where"] if parent == "(top level)" else f"{parent}.{ctx['where']}"
        return where, ctx["message"], repr(ctx["got"])
    if kind == "missing":
        return _format_location(loc), "is required", "nothing"
    if kind == "extra_forbidden":
        return _format_location(loc), "unknown key", repr(value)
    message = error["msg"]
    message = message[0].lower() + message[1:] if message else message
    return _format_location(loc), message, repr(value)


def format_validation_error(source: str, exc: ValidationError) -> str:
    field, message, value = _describe(exc.errors()[0])
    return f"{source}: {field}: {message} (got {value})"


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
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: (file): cannot read the config file: {exc.strerror} (got {source!r})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_describe_yaml_error(source, text, exc)) from None
    return parse_config(data, source=source)


def check_file_cli(loader, usage: str, argv: list[str] | None = None) -> int:
    """Validate one file with `loader`: nothing on success, the one-line error and exit 1 otherwise."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    try:
        loader(args[0])
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(check_file_cli(load_config, "python -m stacks.config CONFIG_FILE"))
