"""The deploy manifest's `monitoring` block: how one endpoint stage is watched and against which
baselines (Validate fills the baselines and features from the registered model package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

S3_URI = r"^s3://[a-z0-9.-]{3,63}/.+$"


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
    """The manifest's `monitoring` block; Validate fills `baselines` and `features` from the package."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    schedule: str = Field(default="cron(0 * ? * * *)", pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
    drift_threshold: float = Field(default=0.1, gt=0, le=1)
    # M of N: an alarm needs `alarm_datapoints` breaching datapoints out of the last `alarm_periods`
    alarm_datapoints: int = Field(default=2, ge=1, le=24)
    alarm_periods: int = Field(default=3, ge=1, le=24)
    # the factory engine judges nothing below this many records
    min_records: int = Field(default=200, ge=1)
    baselines: Baselines | None = None
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

    @property
    def active(self) -> bool:
        return self.enabled and self.baselines is not None

    @property
    def model_quality_active(self) -> bool:
        return (self.enabled and self.ground_truth_s3_uri is not None and self.model_quality_baselines is not None
                and self.quality_metric is not None and self.quality_threshold is not None)

    @property
    def bias_active(self) -> bool:
        # the bias monitor joins live predictions with labelled outcomes
        return self.enabled and self.bias_baselines is not None and self.ground_truth_s3_uri is not None

    @property
    def explainability_active(self) -> bool:
        return self.enabled and self.explainability_baselines is not None
