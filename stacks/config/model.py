"""One model's settings: `teams[].models[]` of the factory config (training, source, quality gate,
promotion of its endpoints and how they are watched). The serving settings per stage live in
`stacks/config/endpoint.py`."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from stacks.config.endpoint import StageEndpoints
from stacks.config.fields import InstanceType, Schedule, Slug, Strict, matching

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



class TrainingConfig(Strict):
    instance_type: InstanceType = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=100)
    use_spot: bool = False
    max_runtime_minutes: int = Field(default=120, gt=0, le=40320)


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


# The label column of the seed data (pipelines/modelbuild/data); models[].monitoring.label overrides it.
DEFAULT_LABEL = "is_fraud"


class BiasFacet(Strict):
    """The sensitive column Clarify compares groups by, and the values of the group it checks."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    values: list[int | float | str] = []


class ModelMonitoring(Strict):
    """How deployed endpoints of the model are watched: data quality against the registered baseline
    always; model quality too when labelled outcomes arrive under `ground_truth_s3_uri`; model bias and
    explainability (SageMaker Clarify) when `bias` / `explainability` are on."""

    schedule: Annotated[str, AfterValidator(_monitor_schedule)] = "cron(0 * ? * * *)"
    drift_threshold: float = Field(default=0.1, gt=0, le=1)
    retrain_cooldown_hours: float = Field(default=24, gt=0, le=24 * 30)
    ground_truth_s3_uri: Annotated[str, matching(re.compile(r"^s3://[a-z0-9.-]{3,63}(/.*)?$"),
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


class ModelConfig(Strict):
    name: Slug
    problem_type: ProblemType = "binary_classification"
    training: TrainingConfig = TrainingConfig()
    source: Annotated[CodeCommitSource | CodeConnectionsSource, Field(discriminator="provider")] = (
        CodeCommitSource()
    )
    retrain_schedule: Schedule | None = None
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
