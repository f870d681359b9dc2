"""How one stage of a model is served: the `endpoint` block of the factory config and of a deploy
manifest, validated once, plus the scaling facts derived from it (GPU table, targets, prices).

The construct (`stacks/serving/model_endpoint.py`) and the scaling simulator (`scripts/simulate_scaling.py`)
both read the derived values from here, so what is simulated is what is deployed.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from stacks.config.fields import Schedule, Strict, field_error, matching
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
S3_URI_PATTERN = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/\S*)?$")
ISSUER_PATTERN = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?$")
# "If your endpoint uses any of the features listed in this Exclusions page, you cannot use Asynchronous
# Inference" (SageMaker developer guide, async-inference.html -> deployment-guardrails-exclusions.html)
ASYNC_UNSUPPORTED_FAMILIES: dict[str, str] = {
    "inf1": "SageMaker's asynchronous inference excludes Inf1 (Inferentia) endpoints; use inf2 or a GPU family",
}
# AWS load-testing guidance: scale before saturation, at half the measured maximum rate per instance.
SAFETY_FACTOR = 0.5


def looks_like_gpu(instance_type: str) -> bool:
    family = instance_family(instance_type)
    return family in GPU_COUNT or family[0] in ("g", "p")


def accepted_instance_type(api: str, example: str):
    """The validator of an instance type that SageMaker's `api` (stacks/config/instances.py APIS) accepts."""
    def check(value: str) -> str:
        if not INSTANCE_TYPE_PATTERN.match(value):
            raise PydanticCustomError("instance_type", f"must be a SageMaker instance type such as {example} "
                                      "(starts with 'ml.')")
        reason = unsupported_reason(value, api)
        if reason:
            raise PydanticCustomError("instance_type", reason)
        return value

    return AfterValidator(check)


def _model_package_arn(value: str) -> str:
    if not MODEL_PACKAGE_ARN_PATTERN.match(value):
        raise PydanticCustomError(
            "arn", "must be a versioned model package ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)")
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise PydanticCustomError("time_zone", "must be an IANA time zone name such as Europe/Dublin or UTC")
    return value


def _cron(value: str) -> str:
    if not CRON_PATTERN.match(value):
        raise PydanticCustomError("cron", "must be an Application Auto Scaling cron(<min> <hour> <day-of-month> "
                                  "<month> <day-of-week> <year>) expression")
    return value


InstanceType = Annotated[str, accepted_instance_type("endpoint", "ml.g5.xlarge")]
ModelPackageArn = Annotated[str, AfterValidator(_model_package_arn)]


# SageMaker API limits (botocore's SageMaker service model, the shapes named):
# TrafficRoutingConfig.CanarySize: at most 50 % of the variant's instances; LinearStepSize: 10-50 %;
# WaitIntervalInSeconds and TerminationWaitInSeconds: 0-3600; MaximumExecutionTimeoutInSeconds: 600-28800
# and larger than the total wait; InferenceComponentRollingUpdatePolicy.MaximumBatchSize: 5-50 % of copies.
MAX_EXECUTION_TIMEOUT_SECONDS = 28800
MIN_EXECUTION_TIMEOUT_SECONDS = 600
ROLLING_BATCH_PERCENT = (5, 50)
# time to provision and health-check new capacity per deployment step, on top of the instance start-up
PROVISIONING_MARGIN_SECONDS = 300


class Deployment(Strict):
    """Blue/green update policy (instance variants) or rolling update (inference components); the
    endpoint's alarms roll it back."""

    strategy: Literal["canary", "linear", "all_at_once"] = "canary"
    canary_percent: int = Field(default=10, ge=1, le=50)
    step_percent: int = Field(default=25, ge=10, le=50)
    wait_minutes: int = Field(default=10, ge=0, le=60)
    # how long the old fleet stays after the traffic shift, so a late alarm can still roll back
    termination_wait_minutes: int = Field(default=5, ge=0, le=60)

    def steps(self, inference_component: bool) -> int:
        """Traffic steps of the rollout (each provisions capacity, shifts traffic, then waits)."""
        if inference_component:
            batch = self.canary_percent if self.strategy == "canary" else self.step_percent
            return math.ceil(100 / batch)
        return {"canary": 2, "linear": math.ceil(100 / self.step_percent), "all_at_once": 1}[self.strategy]

    def execution_timeout_seconds(self, *, inference_component: bool, startup_minutes: float) -> int:
        """MaximumExecutionTimeoutInSeconds: every step's wait and provisioning, the termination wait, at least
        the API's minimum. May exceed the API's maximum: the settings validator refuses that."""
        steps = self.steps(inference_component)
        waits = self.wait_minutes * 60 * (steps if inference_component else max(steps - 1, 1))
        provisioning = steps * (startup_minutes * 60 + PROVISIONING_MARGIN_SECONDS)
        total = waits + self.termination_wait_minutes * 60 + provisioning
        return max(MIN_EXECUTION_TIMEOUT_SECONDS, math.ceil(total))


class Shadow(Strict):
    """A challenger on a shadow variant: it receives `sampling_percent` of the requests and scales on its own
    policy between its own bounds, so that its metrics judge the model, not a saturated instance."""

    model_package_arn: ModelPackageArn
    sampling_percent: int = Field(default=50, ge=1, le=100)
    min_instances: int = Field(default=1, ge=1)
    max_instances: int = Field(default=4, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Shadow:
        if self.min_instances > self.max_instances:
            raise field_error("min_instances", f"must not exceed max_instances ({self.max_instances})",
                              self.min_instances)
        return self


class ScheduledCapacity(Strict):
    cron: Annotated[str, AfterValidator(_cron)]
    min: int = Field(ge=0)
    max: int = Field(ge=1)
    # the cron's time zone (Application Auto Scaling PutScheduledAction Timezone); without it cron is UTC
    timezone: Annotated[str, AfterValidator(_time_zone)] = "UTC"

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
    # client errors as a share of invocations, and SageMaker's own overhead on top of the model
    errors_4xx_percent: float = Field(default=5, gt=0, le=100)
    overhead_latency_p99_ms: float = Field(default=100, gt=0)
    # error lines the container writes to its log group (metric filter), per 5 minutes
    container_errors_per_5_minutes: int = Field(default=5, ge=1)
    # mode async: the oldest queued request has waited this long (ApproximateAgeOfOldestRequest)
    async_oldest_request_minutes: float = Field(default=15, gt=0, le=24 * 60)


def _s3_uri(value: str) -> str:
    match = S3_URI_PATTERN.match(value)
    if not match or ".." in match.group(1):
        raise PydanticCustomError("s3_uri", "must be an s3://<bucket>/<prefix> URI")
    return value.rstrip("/")


S3Uri = Annotated[str, AfterValidator(_s3_uri)]


class AsyncInference(Strict):
    """`mode: async`: SageMaker queues each request (its payload in S3) and writes the answer to the team
    bucket; the fleet scales on the queue and may sit at zero instances between bursts."""

    # AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance (botocore: 1-1000)
    max_concurrent_invocations_per_instance: int = Field(default=4, ge=1, le=1000)
    # queued requests per instance to hold (target tracking on ApproximateBacklogSizePerInstance)
    backlog_per_instance: float = Field(default=5, gt=0, le=10000)


class Batch(Strict):
    """Scheduled scoring: a Batch Transform of exactly the package serving the stage, over every object under
    `input_s3_uri`, written under `output_s3_uri/<run>/`."""

    schedule: Schedule
    timezone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    input_s3_uri: S3Uri
    output_s3_uri: S3Uri
    instance_type: Annotated[str, accepted_instance_type("transform", "ml.m5.xlarge")] = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=100)
    content_type: Literal["text/csv", "application/json"] = "text/csv"
    # MaxPayloadInMB (botocore CreateTransformJob: 0-100); one mini-batch of lines per request
    max_payload_mb: int = Field(default=6, ge=1, le=100)
    # ModelClientConfig.InvocationsTimeoutInSeconds (botocore: 1-3600)
    invocation_timeout_seconds: int = Field(default=600, ge=1, le=3600)

    @model_validator(mode="after")
    def _separate_locations(self) -> Batch:
        if (self.output_s3_uri + "/").startswith(self.input_s3_uri + "/"):
            raise field_error("output_s3_uri", f"must not be under input_s3_uri ({self.input_s3_uri}): the next run "
                              "would score the last run's output", self.output_s3_uri)
        return self


class Api(Strict):
    """The consumer API of a stage: `POST /<model>/invocations` on the team's API of that stage, straight to
    the SageMaker runtime."""

    auth: Literal["iam", "jwt"] = "iam"
    # jwt: the token issuer (its /.well-known/openid-configuration names the signing keys) and the audiences
    issuer: Annotated[str, matching(ISSUER_PATTERN, "an https:// issuer URL")] | None = None
    audience: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(default=[], max_length=10)
    # API Gateway method throttling (requests per second, burst bucket)
    throttle_rps: float = Field(default=50, gt=0, le=10000)
    burst: int = Field(default=100, ge=1, le=5000)
    content_types: list[Literal["text/csv", "application/json"]] = Field(default=["text/csv"], min_length=1)
    # request bodies above this are refused by the API's web ACL; None: API Gateway's own 10 MB limit only.
    # AWS WAF inspects at most 64 KB of an API Gateway body (AssociationConfig RequestBody
    # DefaultSizeInspectionLimit KB_16-KB_64): larger payloads go through mode: async and S3
    max_request_kb: Literal[8, 16, 32, 48, 64] | None = 64
    latency_p99_ms: float = Field(default=1000, gt=0)
    errors_5xx_percent: float = Field(default=1, gt=0, le=100)
    errors_4xx_percent: float = Field(default=10, gt=0, le=100)

    @model_validator(mode="after")
    def _jwt_needs_issuer_and_audience(self) -> Api:
        if self.auth == "jwt":
            if self.issuer is None:
                raise field_error("issuer", "is required with auth: jwt (the https:// URL of the token issuer)", None)
            if not self.audience:
                raise field_error("audience", "is required with auth: jwt (the audiences a token must carry)", [])
        elif self.issuer is not None or self.audience:
            raise field_error("auth", "is iam: issuer and audience only apply to auth: jwt", self.auth)
        return self


class EndpointSettings(Strict):
    # realtime: InvokeEndpoint answers in the request; async: requests queue (payload and answer in S3);
    # batch: no endpoint, only the scheduled Batch Transform of `batch`
    mode: Literal["realtime", "async", "batch"] = "realtime"
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
    # large GPU models: ContainerStartupHealthCheckTimeoutInSeconds / ModelDataDownloadTimeoutInSeconds, 60-3600
    startup_health_check_timeout_seconds: int | None = Field(default=None, ge=60, le=3600)
    model_download_timeout_seconds: int | None = Field(default=None, ge=60, le=3600)
    schedule: list[ScheduledCapacity] = []
    deployment: Deployment = Deployment()
    shadow: Shadow | None = None
    alarms: Alarms = Alarms()
    # idle-GPU guard (non-prod GPU endpoints): alarm after this many hours without an invocation ...
    idle_hours: int = Field(default=12, ge=1, le=24 * 7)
    # ... and then scale the inference component to zero copies (min_instances 0 only)
    scale_idle_to_zero: bool = False
    async_inference: AsyncInference = AsyncInference()
    batch: Batch | None = None
    api: Api | None = None

    @model_validator(mode="after")
    def _mode_fits(self) -> EndpointSettings:
        if self.mode == "batch":
            if self.batch is None:
                raise field_error("batch", "is required with mode: batch ({schedule, input_s3_uri, output_s3_uri, "
                                  "instance_type, instance_count})", None)
            if self.api is not None:
                raise field_error("api", "needs an endpoint: mode batch has none (use mode realtime or async)", "api")
        if self.mode == "async":
            reason = async_unsupported_reason(self.instance_type)
            if reason:
                raise field_error("instance_type", reason, self.instance_type)
            if self.shadow is not None:
                raise field_error("shadow", "is not available with mode: async (shadow variants serve real-time "
                                  "endpoints)", "shadow")
            if self.scale_idle_to_zero:
                raise field_error("scale_idle_to_zero", "is for real-time inference components: mode async "
                                  "already scales to zero on its queue (min_instances: 0)", True)
        return self

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
        d = self.deployment
        if self.scale_to_zero:
            low, high = ROLLING_BATCH_PERCENT
            if d.strategy == "all_at_once":
                raise field_error("deployment.strategy", f"all_at_once is not available with min_instances 0: an "
                                  f"inference component rolls out in batches of {low}-{high} % of its copies "
                                  "(InferenceComponentRollingUpdatePolicy.MaximumBatchSize)", d.strategy)
            if d.strategy == "canary" and d.canary_percent < low:
                raise field_error("deployment.canary_percent", f"must be {low}-{high} with min_instances 0: the "
                                  "inference component's rolling batch (InferenceComponentRollingUpdatePolicy."
                                  "MaximumBatchSize)", d.canary_percent)
        timeout = self.deployment_timeout_seconds
        if timeout > MAX_EXECUTION_TIMEOUT_SECONDS:
            raise field_error("deployment.wait_minutes", f"the rollout would take {timeout} s with its waits, "
                              f"more than MaximumExecutionTimeoutInSeconds allows ({MAX_EXECUTION_TIMEOUT_SECONDS}): "
                              "shorten wait_minutes or use larger steps", d.wait_minutes)
        return self

    @property
    def variant_name(self) -> str:
        """Named after the instance type: a new instance type is a new variant, whose scalable target is
        registered anew, instead of an in-place change SageMaker refuses while autoscaling is registered."""
        return f"{instance_family(self.instance_type)}-{self.instance_type.rsplit('.', 1)[1]}"

    @property
    def deployment_timeout_seconds(self) -> int:
        return self.deployment.execution_timeout_seconds(inference_component=self.scale_to_zero,
                                                         startup_minutes=self.startup_minutes)

    def invocation_dimensions(self, endpoint_name: str) -> dict[str, str]:
        """The AWS/SageMaker invocation metrics' dimensions: an endpoint served through an inference component
        publishes them per InferenceComponentName, an instance variant per EndpointName and VariantName."""
        if self.scale_to_zero:
            return {"InferenceComponentName": inference_component_name(endpoint_name)}
        return {"EndpointName": endpoint_name, "VariantName": self.variant_name}

    @property
    def is_gpu(self) -> bool:
        return gpu_count(self.instance_type) is not None

    @property
    def gpus_per_instance(self) -> int:
        return gpu_count(self.instance_type) or 0

    @property
    def scale_to_zero(self) -> bool:
        """Real time on zero instances: served through an inference component (async scales its variant
        to zero on the queue instead)."""
        return self.mode == "realtime" and self.min_instances == 0

    @property
    def smoke_test_wait_seconds(self) -> float:
        """The longest the deploy's smoke test of this stage waits: an async fleet at zero first needs its wake-up
        alarm (2 one-minute periods) and an instance start, plus 5 minutes; a batch stage runs its whole pipeline
        once (BATCH_SMOKE_TEST_MINUTES); real time answers at once."""
        if self.mode == "batch":
            return BATCH_SMOKE_TEST_MINUTES * 60
        if self.mode == "async":
            return (self.startup_minutes + 2 + 5) * 60
        return 10 * 60

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    @property
    def has_endpoint(self) -> bool:
        return self.mode != "batch"

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


# a transform job starts its instances and scores the input; with the factory engine the drift step follows
BATCH_SMOKE_TEST_MINUTES = 60


def async_unsupported_reason(instance_type: str) -> str | None:
    family = instance_family(instance_type)
    if family in ASYNC_UNSUPPORTED_FAMILIES:
        return f"{family} instances cannot serve mode: async ({ASYNC_UNSUPPORTED_FAMILIES[family]})"
    return None


def inference_component_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-ic"


class StageEndpoints(Strict):
    """Per model: `endpoint: {staging: {...}, prod: {...}}` in the factory config."""

    # staging starts warm for its smoke test, then scales to zero when idle
    staging: EndpointSettings = EndpointSettings(instance_type="ml.g5.xlarge", initial_instances=1,
                                                 min_instances=0, max_instances=1)
    # prod: two instances by default, so that it spans two Availability Zones
    prod: EndpointSettings = EndpointSettings(initial_instances=2, min_instances=2, max_instances=4)

    @model_validator(mode="after")
    def _idle_guard_is_for_non_prod(self) -> StageEndpoints:
        if self.prod.scale_idle_to_zero:
            raise field_error("prod.scale_idle_to_zero", "the idle-GPU guard watches non-prod endpoints only", True)
        return self

    def warnings(self) -> list[str]:
        """Allowed, but worth one line to whoever synthesizes."""
        if self.prod.has_endpoint and self.prod.min_instances == 1:
            return ["prod.min_instances: 1 instance runs in one Availability Zone; 2 or more keep prod serving "
                    "through an AZ outage"]
        return []
