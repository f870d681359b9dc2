"""One model's settings: `teams[].models[]` of the factory config (training, source, quality gate,
promotion of its endpoints and how they are watched). The serving settings per stage live in
`stacks/config/endpoint.py`."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from stacks.config.endpoint import StageEndpoints
from stacks.config.fields import InstanceType, Schedule, Slug, Strict, field_error, matching
from stacks.config.instances import unsupported_reason
from stacks.config.monitoring import Engine, check_engine_settings, resolved_threshold

CONNECTION_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$"
)
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
BRANCH_PATTERN = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")
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

def _monitor_schedule(value: str) -> str:
    # Model Monitor runs hourly at most: cron(0 <hour> ? * * *) style expressions
    if not re.match(r"^cron\(0 \S+ \S+ \S+ \S+ \S+\)$", value):
        raise PydanticCustomError("schedule", "must be a Model Monitor cron(0 <hour> <day-of-month> <month> "
                                  "<day-of-week> <year>) expression (hourly at most)")
    return value


ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]
# The label column of each problem type's seed data (pipelines/modelbuild/data/seed_data.py);
# models[].training.label overrides it.
DEFAULT_LABELS = {"binary_classification": "is_fraud", "multiclass_classification": "segment",
                  "regression": "demand"}
S3_PREFIX_PATTERN = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+)$")
COLUMN_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# CodeBuild's timeoutInMinutes is 5-2160 (CodeBuild API reference, CreateProject). The build waits for the
# whole SageMaker Pipeline: training (up to MaxWaitTimeInSeconds = 2 x runtime with spot) plus this margin
# for preprocessing, baselines, evaluation and registration.
CODEBUILD_MAX_MINUTES = 2160
BUILD_MARGIN_MINUTES = 120


def _training_instance_type(value: str) -> str:
    reason = unsupported_reason(value, "training")
    if reason:
        raise PydanticCustomError("instance_type", reason)
    return value


def _s3_prefix(value: str) -> str:
    match = S3_PREFIX_PATTERN.match(value)
    if not match or ".." in match.group(1):
        raise PydanticCustomError("s3_prefix", "must be an s3:// prefix such as s3://<bucket>/<path>/")
    return value if value.endswith("/") else value + "/"


Column = Annotated[str, matching(COLUMN_PATTERN, "a column name of letters, digits and '_' (at most 64)")]


class TrainingConfig(Strict):
    instance_type: Annotated[InstanceType, AfterValidator(_training_instance_type)] = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=100)
    use_spot: bool = False
    # SageMaker's MaxRuntimeInSeconds allows 28 days; the build's wait (below) allows less
    max_runtime_minutes: int = Field(default=120, gt=0, le=40320)
    # where the build reads its training data (every CSV under the prefix); default: a prefix in the team
    # bucket. The build never writes there, except the seed data into an empty prefix.
    data_s3_uri: Annotated[str, AfterValidator(_s3_prefix)] | None = None
    label: Column | None = None
    # the feature columns of the seed data (and of the input schema); default: the seed data's own
    features: list[Column] = Field(default=[], max_length=200)

    @model_validator(mode="after")
    def _build_can_wait_for_training(self) -> TrainingConfig:
        wait = self.max_runtime_minutes * (2 if self.use_spot else 1)
        if wait + BUILD_MARGIN_MINUTES > CODEBUILD_MAX_MINUTES:
            factor = 2 if self.use_spot else 1
            raise field_error(
                "max_runtime_minutes",
                f"the build waits for training ({'2 x ' if self.use_spot else ''}{self.max_runtime_minutes} min"
                f"{' with spot' if self.use_spot else ''}) plus {BUILD_MARGIN_MINUTES} min, more than CodeBuild's "
                f"{CODEBUILD_MAX_MINUTES}-minute limit: at most {(CODEBUILD_MAX_MINUTES - BUILD_MARGIN_MINUTES) // factor}",
                self.max_runtime_minutes)
        if self.label is not None and self.label in self.features:
            raise field_error("features", f"must not contain the label column {self.label!r}", self.label)
        if len(set(self.features)) != len(self.features):
            raise field_error("features", "must not repeat a column", self.features)
        return self

    @property
    def build_timeout_minutes(self) -> int:
        return self.max_runtime_minutes * (2 if self.use_spot else 1) + BUILD_MARGIN_MINUTES


Branch = Annotated[str, matching(BRANCH_PATTERN, "a git branch name")]


class CodeCommitSource(Strict):
    provider: Literal["codecommit"] = "codecommit"
    branch: Branch = "main"


class CodeConnectionsSource(Strict):
    provider: Literal["codeconnections"]
    connection_arn: Annotated[str, matching(
        CONNECTION_ARN_PATTERN, "a CodeConnections connection ARN "
        "(arn:aws:codeconnections:<region>:<account>:connection/<id>)")]
    repository: Annotated[str, matching(REPOSITORY_PATTERN, "<owner>/<repository>")]
    branch: Branch = "main"


class QualityGate(Strict):
    metric: str
    threshold: float


class BiasFacet(Strict):
    """The sensitive column Clarify compares groups by, and the values of the group it checks."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    values: list[int | float | str] = []


class Promotion(Strict):
    """What happens to a new package that passes its gate: wait for an approver (manual), or be approved by
    the build when it beats the serving champion on the challenger's own test split by `min_improvement` of
    the quality-gate metric (auto). `prod_gate: auto` lets such an automatic approval through the manual prod
    gate too (the canary and its alarms still guard prod)."""

    mode: Literal["manual", "auto"] = "manual"
    min_improvement: float = Field(default=0.0, ge=0)
    prod_gate: Literal["manual", "auto"] = "manual"

    @model_validator(mode="after")
    def _gate_follows_mode(self) -> Promotion:
        if self.prod_gate == "auto" and self.mode != "auto":
            raise field_error("prod_gate", "auto needs mode: auto (only automatic approvals skip the prod gate)",
                              self.prod_gate)
        return self


class ModelMonitoring(Strict):
    """How deployed endpoints of the model are watched: feature and score drift against the build's
    baseline always; model quality too when labelled outcomes arrive under `ground_truth_s3_uri`. `engine`
    picks who computes it: the factory's own job (`factory`, works in every account) or SageMaker Model
    Monitor (`model_monitor`, only for accounts that already use it), which alone runs model bias and
    explainability (SageMaker Clarify) when `bias` / `explainability` are on."""

    engine: Engine = "factory"
    schedule: Annotated[str, AfterValidator(_monitor_schedule)] = "cron(0 * ? * * *)"
    # None: the engine's default, PSI 0.2 (factory) or distance 0.1 (model_monitor)
    drift_threshold: float | None = Field(default=None, gt=0, le=10)
    retrain_cooldown_hours: float = Field(default=24, gt=0, le=24 * 30)
    # drift and quality alarms: `alarm_datapoints` of the last `alarm_periods` hourly datapoints (M of N)
    alarm_datapoints: int = Field(default=2, ge=1, le=24)
    alarm_periods: int = Field(default=3, ge=1, le=24)
    # the factory's engine judges nothing below this many captured records
    min_records: int = Field(default=200, ge=1)
    ground_truth_s3_uri: Annotated[str, matching(re.compile(r"^s3://[a-z0-9.-]{3,63}(/.*)?$"),
                                                 "an s3:// URI")] | None = None
    model_quality: bool | None = None
    bias: bool = False
    explainability: bool = False
    label: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    label_values: list[int | float | str] = [1]
    facet: BiasFacet | None = None

    @model_validator(mode="after")
    def _fits_the_engine(self) -> ModelMonitoring:
        check_engine_settings(self.engine, self.schedule, self.drift_threshold, self.alarm_periods)
        for kind in ("bias", "explainability"):
            if getattr(self, kind) and self.engine != "model_monitor":
                raise field_error(kind, "needs engine: model_monitor (Clarify monitors run as Model Monitor "
                                  "schedules; the factory engine has no bias or explainability monitor)", True)
        return self

    @property
    def threshold(self) -> float:
        return resolved_threshold(self.engine, self.drift_threshold)

    def warnings(self) -> list[str]:
        """One line each: what only accounts that already use a closed service can run."""
        lines = []
        if self.engine == "model_monitor":
            lines.append("engine: model_monitor needs an account that already uses SageMaker Model Monitor (closed "
                         "to new customers); the factory engine works in every account")
        lines += [f"{kind}: SageMaker Clarify is closed to new customers; needs an account that already uses it"
                  for kind in ("bias", "explainability") if getattr(self, kind)]
        return lines

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


class ModelConfig(Strict):
    name: Slug
    # what the model is for: the intended use on its model cards and in the catalog
    description: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    problem_type: ProblemType = "binary_classification"
    training: TrainingConfig = TrainingConfig()
    source: Annotated[CodeCommitSource | CodeConnectionsSource, Field(discriminator="provider")] = (
        CodeCommitSource()
    )
    retrain_schedule: Schedule | None = None
    quality_gate: QualityGate | None = None
    endpoint: StageEndpoints = StageEndpoints()
    monitoring: ModelMonitoring = ModelMonitoring()
    promotion: Promotion = Promotion()

    @model_validator(mode="after")
    def _one_label(self) -> ModelConfig:
        training, monitoring = self.training.label, self.monitoring.label
        if training is not None and monitoring is not None and training != monitoring:
            raise field_error("monitoring.label", f"differs from training.label ({training!r}): the model has one "
                              "label column", monitoring)
        return self

    @property
    def label(self) -> str:
        """The label column: training.label, else monitoring.label, else the seed data's."""
        return self.training.label or self.monitoring.label or DEFAULT_LABELS[self.problem_type]

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
