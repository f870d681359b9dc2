"""The deploy manifest's `monitoring` block: how one endpoint stage is watched and against which
baselines (Validate fills the baselines and features from the registered model package)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stacks.config.fields import field_error

S3_URI = r"^s3://[a-z0-9.-]{3,63}/.+$"
# the factory engine's jobs run the build's own processing image (an ECR image URI)
IMAGE_URI = r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+$"
Engine = Literal["factory", "model_monitor"]
# The factory engine's default is a population stability index (PSI > 0.2: significant shift); Model
# Monitor's feature_baseline_drift is a distance in [0, 1] (its data-quality default is 0.1).
DEFAULT_DRIFT_THRESHOLD = {"factory": 0.2, "model_monitor": 0.1}
def resolved_threshold(engine: str, drift_threshold: float | None) -> float:
    return drift_threshold if drift_threshold is not None else DEFAULT_DRIFT_THRESHOLD[engine]


_CRON = re.compile(r"^cron\(0 (\S+) (\S+) (\S+) (\S+) (\S+)\)$")


def run_interval_hours(schedule: str) -> int:
    """Hours between two runs of a factory-engine schedule: hourly `cron(0 * ? * * *)`, every N hours
    `cron(0 */N ? * * *)` or `cron(0 H/N ? * * *)` (N divides 24, so that runs are evenly spaced), daily
    `cron(0 H ? * * *)`. The job reads the capture of exactly that many hours. Raises ValueError."""
    match = _CRON.match(schedule)
    shape = "hourly cron(0 * ? * * *), every N hours cron(0 */N ? * * *) or daily cron(0 H ? * * *)"
    # EventBridge Scheduler: "*" in one of day-of-month and day-of-week needs "?" in the other
    if not match or (match.group(2), match.group(4)) not in (("?", "*"), ("*", "?")) or match.group(3) != "*" \
            or match.group(5) != "*":
        raise ValueError(f"the factory engine runs {shape}")
    hours = match.group(1)
    if hours == "*":
        return 1
    every = re.fullmatch(r"(\*|[0-9]|1[0-9]|2[0-3])/([0-9]{1,2})", hours)
    if every:
        interval = int(every.group(2))
        if interval < 1 or 24 % interval:
            raise ValueError(f"every {interval} hours: the interval must divide 24 (1, 2, 3, 4, 6, 8, 12)")
        return interval
    if re.fullmatch(r"[0-9]|1[0-9]|2[0-3]", hours):
        return 24
    raise ValueError(f"the factory engine runs {shape}")


# PutMetricAlarm: "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds" (7 days)
MAX_ALARM_RANGE_HOURS = 168


def check_engine_settings(engine: str, schedule: str, drift_threshold: float | None, alarm_periods: int = 1) -> None:
    """What each engine can run (the factory config and the deploy manifest both check it)."""
    if engine == "factory":
        try:
            hours = run_interval_hours(schedule)
        except ValueError as error:
            raise field_error("schedule", str(error), schedule) from None
        if hours * alarm_periods > MAX_ALARM_RANGE_HOURS:
            raise field_error("alarm_periods", f"{alarm_periods} runs of {hours} h is more than the "
                              f"{MAX_ALARM_RANGE_HOURS} h a CloudWatch alarm can look back", alarm_periods)
    elif drift_threshold is not None and drift_threshold > 1:
        raise field_error("drift_threshold", "Model Monitor's feature_baseline_drift is a distance in [0, 1]",
                          drift_threshold)


class Baselines(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    statistics: str = Field(pattern=S3_URI)
    constraints: str = Field(pattern=S3_URI)


class ClarifyBaselines(BaseModel):
    """A Clarify monitor's analysis config (monitoring_config.json) and baseline (analysis.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    config: str = Field(pattern=S3_URI)
    constraints: str = Field(pattern=S3_URI)


class Monitoring(BaseModel):
    """The manifest's `monitoring` block; Validate fills the baselines and `features` from the package:
    for the factory engine the drift baseline, code and image the build registered
    (CustomerMetadataProperties drift_baseline_uri / drift_code_uri / drift_image_uri), for Model Monitor
    the data-quality baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    engine: Engine = "factory"
    schedule: str = Field(default="cron(0 * ? * * *)", pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
    # None: the engine's default (DEFAULT_DRIFT_THRESHOLD)
    drift_threshold: float | None = Field(default=None, gt=0, le=10)
    # M of N: an alarm needs `alarm_datapoints` breaching datapoints out of the last `alarm_periods`
    alarm_datapoints: int = Field(default=2, ge=1, le=24)
    alarm_periods: int = Field(default=3, ge=1, le=24)
    # the factory engine judges nothing below this many records
    min_records: int = Field(default=200, ge=1)
    baselines: Baselines | None = None
    drift_baseline: str | None = Field(default=None, pattern=S3_URI)
    drift_code: str | None = Field(default=None, pattern=S3_URI)
    drift_image: str | None = Field(default=None, pattern=IMAGE_URI)
    features: list[str] = []
    instance_type: str = "ml.m5.xlarge"
    # model quality: from models[].monitoring (ground truth) and the package (baseline)
    ground_truth_s3_uri: str | None = Field(default=None, pattern=r"^s3://[a-z0-9.-]{3,63}(/.*)?$")
    model_quality_baselines: Baselines | None = None
    problem_type: str = "binary_classification"
    quality_metric: str | None = None
    quality_threshold: float | None = None
    quality_higher_is_better: bool = True
    # Clarify: from the package (DriftCheckBaselines.Bias / .Explainability) when the model asks for them
    bias_baselines: ClarifyBaselines | None = None
    explainability_baselines: ClarifyBaselines | None = None

    @model_validator(mode="after")
    def _fits_the_engine(self) -> Monitoring:
        check_engine_settings(self.engine, self.schedule, self.drift_threshold, self.alarm_periods)
        return self

    @property
    def factory_engine(self) -> bool:
        return self.engine == "factory"

    @property
    def threshold(self) -> float:
        return resolved_threshold(self.engine, self.drift_threshold)

    @property
    def active(self) -> bool:
        if self.factory_engine:
            return self.enabled and None not in (self.drift_baseline, self.drift_code, self.drift_image)
        return self.enabled and self.baselines is not None

    @property
    def interval_hours(self) -> int:
        """Hours between runs (and of capture each run reads): see run_interval_hours."""
        return run_interval_hours(self.schedule)

    @property
    def model_quality_active(self) -> bool:
        wanted = (self.enabled and self.ground_truth_s3_uri is not None and self.quality_metric is not None
                  and self.quality_threshold is not None)
        # Model Monitor compares with the registered model-quality baseline; the factory engine with the gate
        return wanted and (self.factory_engine or self.model_quality_baselines is not None)

    @property
    def bias_active(self) -> bool:
        # Clarify monitors are Model Monitor schedules; the bias monitor joins predictions with ground truth
        return (self.enabled and not self.factory_engine and self.bias_baselines is not None
                and self.ground_truth_s3_uri is not None)

    @property
    def explainability_active(self) -> bool:
        return self.enabled and not self.factory_engine and self.explainability_baselines is not None
