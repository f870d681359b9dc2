"""How one stage of a model is served: the `endpoint` block of the factory config and of a deploy
manifest, validated once, plus the scaling facts derived from it (GPU table, targets, prices).

The construct (`stacks/serving/model_endpoint.py`) and the scaling simulator (`scripts/simulate_scaling.py`)
both read the derived values from here, so what is simulated is what is deployed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from stacks.config.fields import Strict, field_error
from stacks.config.instances import (
    GPU_COUNT,
    INSTANCE_TYPE_PATTERN,
    accepts_volume_kms_key,
    gpu_count,
    instance_family,
    unsupported_reason,
)

# Approximate on-demand SageMaker real-time hosting prices, USD per instance-hour (us-east-1), used only
# by the scaling simulator's cost estimate; the comparison with a static fleet does not depend on them.
HOURLY_PRICE_USD = {
    "ml.g4dn.xlarge": 0.736, "ml.g4dn.2xlarge": 1.053, "ml.g4dn.12xlarge": 4.89,
    "ml.g5.xlarge": 1.408, "ml.g5.2xlarge": 1.515, "ml.g5.4xlarge": 2.03, "ml.g5.12xlarge": 7.09,
    "ml.g5.48xlarge": 20.36, "ml.g6.xlarge": 1.167, "ml.g6.2xlarge": 1.361, "ml.g6e.xlarge": 2.61,
    "ml.p4d.24xlarge": 37.69, "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461,
    "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408,
}
MODEL_PACKAGE_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/[0-9]+$"
)
CRON_PATTERN = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
# AWS load-testing guidance: scale before saturation, at half the measured maximum rate per instance.
SAFETY_FACTOR = 0.5


def looks_like_gpu(instance_type: str) -> bool:
    family = instance_family(instance_type)
    return family in GPU_COUNT or family[0] in ("g", "p")


def _instance_type(value: str) -> str:
    if not INSTANCE_TYPE_PATTERN.match(value):
        raise PydanticCustomError("instance_type", "must be a SageMaker instance type such as ml.g5.xlarge "
                                  "(starts with 'ml.')")
    reason = unsupported_reason(value, "endpoint")
    if reason:
        raise PydanticCustomError("instance_type", reason)
    return value


def _model_package_arn(value: str) -> str:
    if not MODEL_PACKAGE_ARN_PATTERN.match(value):
        raise PydanticCustomError(
            "arn", "must be a versioned model package ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)")
    return value


def _cron(value: str) -> str:
    if not CRON_PATTERN.match(value):
        raise PydanticCustomError("cron", "must be an Application Auto Scaling cron(<min> <hour> <day-of-month> "
                                  "<month> <day-of-week> <year>) expression")
    return value


InstanceType = Annotated[str, AfterValidator(_instance_type)]
ModelPackageArn = Annotated[str, AfterValidator(_model_package_arn)]


class Deployment(Strict):
    """Blue/green update policy; the endpoint's alarms roll it back."""

    strategy: Literal["canary", "linear", "all_at_once"] = "canary"
    canary_percent: int = Field(default=10, ge=1, le=50)
    step_percent: int = Field(default=25, ge=5, le=50)
    wait_minutes: int = Field(default=10, ge=0, le=60)


class Shadow(Strict):
    model_package_arn: ModelPackageArn
    sampling_percent: int = Field(default=50, ge=1, le=100)


class ScheduledCapacity(Strict):
    cron: Annotated[str, AfterValidator(_cron)]
    min: int = Field(ge=0)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> ScheduledCapacity:
        if self.min > self.max:
            raise field_error("min", f"must not exceed max ({self.max})", self.min)
        return self


class Alarms(Strict):
    latency_p99_ms: float = Field(default=500, gt=0)
    errors_5xx_per_5_minutes: int = Field(default=5, ge=1)
    model_errors_per_5_minutes: int = Field(default=5, ge=1)
    gpu_memory_percent: float = Field(default=90, gt=0, le=100)


class EndpointSettings(Strict):
    instance_type: InstanceType = "ml.g5.xlarge"
    initial_instances: int = Field(default=1, ge=0)
    min_instances: int = Field(default=1, ge=0)
    max_instances: int = Field(default=4, ge=1, le=100)
    data_capture_percent: int = Field(default=100, ge=0, le=100)
    scaling_metric: Literal["invocations", "concurrency"] = "invocations"
    max_rps_per_instance: float = Field(default=10, gt=0)
    target_concurrency_per_instance: float = Field(default=4, gt=0)
    gpu_scaling: bool = True
    gpu_utilization_target: float | None = Field(default=None, gt=0, le=100)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0)
    scale_in_cooldown_seconds: int = Field(default=600, ge=0)
    startup_minutes: float = Field(default=6, gt=0, le=60)
    schedule: list[ScheduledCapacity] = []
    deployment: Deployment = Deployment()
    shadow: Shadow | None = None
    alarms: Alarms = Alarms()
    # idle-GPU guard (non-prod GPU endpoints): alarm after this many hours without an invocation ...
    idle_hours: int = Field(default=12, ge=1, le=24 * 7)
    # ... and then scale the inference component to zero copies (min_instances 0 only)
    scale_idle_to_zero: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> EndpointSettings:
        if self.min_instances > self.max_instances:
            raise field_error("min_instances", f"must not exceed max_instances ({self.max_instances})",
                              self.min_instances)
        if not self.min_instances <= self.initial_instances <= self.max_instances:
            raise field_error("initial_instances",
                              f"must be within [min_instances, max_instances] = "
                              f"[{self.min_instances}, {self.max_instances}]", self.initial_instances)
        for index, entry in enumerate(self.schedule):
            if entry.min < self.min_instances or entry.max > self.max_instances:
                raise field_error(f"schedule[{index}]", f"must stay within [min_instances, max_instances] = "
                                  f"[{self.min_instances}, {self.max_instances}]", f"{entry.min}-{entry.max}")
        is_gpu = looks_like_gpu(self.instance_type)
        if self.gpu_utilization_target is not None and not is_gpu:
            raise field_error("gpu_utilization_target",
                              f"is a GPU-only option and {self.instance_type} has no GPU", self.gpu_utilization_target)
        if is_gpu and self.gpu_scaling and gpu_count(self.instance_type) is None:
            raise field_error("instance_type", "is not in the GPU table, so GPU utilization scaling cannot be "
                              f"normalised (known families: {', '.join(GPU_COUNT)}; or set gpu_scaling: false)",
                              self.instance_type)
        if self.scale_idle_to_zero and not self.scale_to_zero:
            raise field_error("scale_idle_to_zero", "needs min_instances: 0: only an endpoint served through an "
                              "inference component can run on zero instances", True)
        if self.scale_to_zero and self.shadow is not None:
            raise field_error("shadow", "is not available with min_instances 0 (scale to zero serves through an "
                              "inference component, which has no shadow variant)", "shadow")
        return self

    @property
    def is_gpu(self) -> bool:
        return gpu_count(self.instance_type) is not None

    @property
    def gpus_per_instance(self) -> int:
        return gpu_count(self.instance_type) or 0

    @property
    def scale_to_zero(self) -> bool:
        return self.min_instances == 0

    @property
    def volume_accepts_kms_key(self) -> bool:
        return accepts_volume_kms_key(self.instance_type)

    @property
    def invocations_target_per_instance(self) -> float:
        """Invocations per instance per minute to hold: max RPS x 0.5 x 60 (AWS load-testing guidance)."""
        return round(self.max_rps_per_instance * SAFETY_FACTOR * 60, 2)

    @property
    def effective_gpu_target_percent(self) -> float | None:
        """Per-GPU utilisation target; on by default (70 %) for GPU instances."""
        if not self.is_gpu or not self.gpu_scaling:
            return None
        return self.gpu_utilization_target if self.gpu_utilization_target is not None else 70.0

    @property
    def gpu_metric_target(self) -> float | None:
        """The target in the metric's own unit: 0-100 x GPUs per instance."""
        target = self.effective_gpu_target_percent
        return None if target is None else target * self.gpus_per_instance

    @property
    def gpu_policy_target(self) -> float | None:
        """The GPU policy applies to instance variants; a scale-to-zero inference component scales on
        invocations per copy and wakes on NoCapacityInvocationFailures instead."""
        return None if self.scale_to_zero else self.gpu_metric_target


class StageEndpoints(Strict):
    """Per model: `endpoint: {staging: {...}, prod: {...}}` in the factory config."""

    # staging starts warm for its smoke test, then scales to zero when idle
    staging: EndpointSettings = EndpointSettings(instance_type="ml.g5.xlarge", initial_instances=1,
                                                 min_instances=0, max_instances=1)
    prod: EndpointSettings = EndpointSettings()

    @model_validator(mode="after")
    def _idle_guard_is_for_non_prod(self) -> StageEndpoints:
        if self.prod.scale_idle_to_zero:
            raise field_error("prod.scale_idle_to_zero", "the idle-GPU guard watches non-prod endpoints only", True)
        return self
