"""The deploy manifest: what the deploy pipeline hands to the endpoint app for one stage of one model.

    {"team": "fraud", "model": "card-fraud", "stage": "prod", "account": "111111111111",
     "region": "eu-west-1", "model_package_arn": "arn:aws:sagemaker:...:model-package/mf-fraud-card-fraud/3",
     "endpoint": {... the model's endpoint settings for that stage ...}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from stacks.common.monitor_images import CLARIFY_REGISTRIES, MODEL_MONITOR_REGISTRIES
from stacks.common.naming import endpoint_name, team_stack_name
from stacks.config.endpoint import EndpointSettings, ModelPackageArn
from stacks.config.fields import (
    AccountId,
    ConfigError,
    Region,
    Slug,
    Strict,
    TagValue,
    check_file_cli,
    field_error,
    format_validation_error,
    read_source,
)
from stacks.config.monitoring import Monitoring


class DeployManifest(Strict):
    team: Slug
    model: Slug
    stage: Literal["staging", "prod"]
    account: AccountId
    region: Region
    # the team's factory account (bucket, key, model registry) when the endpoint runs in another account
    factory_account: AccountId | None = None
    # the team's cost-allocation tags (factory, team, cost center, model, the factory's own tags)
    tags: dict[Annotated[str, Field(min_length=1, max_length=128)], TagValue] = {}
    model_package_arn: ModelPackageArn
    endpoint: EndpointSettings = EndpointSettings()
    monitoring: Monitoring = Monitoring()

    @model_validator(mode="after")
    def _monitoring_possible(self) -> DeployManifest:
        if self.monitoring.active and self.endpoint.has_endpoint and self.endpoint.data_capture_percent == 0:
            raise field_error("monitoring", "needs captured data: set endpoint.data_capture_percent above 0 or "
                              "monitoring.enabled: false", "data_capture_percent 0")
        if self.monitoring.active and not self.monitoring.factory_engine and self.region not in MODEL_MONITOR_REGISTRIES:
            raise field_error("monitoring", f"Model Monitor has no image in {self.region}: set monitoring.enabled: "
                              "false", self.region)
        for kind in ("bias", "explainability"):
            if getattr(self.monitoring, f"{kind}_active") and self.region not in CLARIFY_REGISTRIES:
                raise field_error(f"monitoring.{kind}_baselines", f"SageMaker Clarify has no image in {self.region}",
                                  self.region)
        return self

    @property
    def home_account(self) -> str:
        return self.factory_account or self.account

    @property
    def endpoint_name(self) -> str:
        return endpoint_name(self.team, self.model, self.stage)

    @property
    def stack_name(self) -> str:
        return team_stack_name(self.team, f"{self.model}-{self.stage}-endpoint")


def parse_manifest(data: object, *, source: str) -> DeployManifest:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): must be a JSON object (got {data!r})")
    try:
        return DeployManifest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def load_manifest(path: str | Path) -> DeployManifest:
    source = str(path)
    text = read_source(path, "the manifest")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1].strip() if exc.lineno <= len(text.splitlines()) else ""
        raise ConfigError(f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg} "
                          f"(got {line!r})") from None
    return parse_manifest(data, source=source)


if __name__ == "__main__":
    raise SystemExit(check_file_cli(load_manifest, "python -m stacks.config.manifest MANIFEST_FILE"))
