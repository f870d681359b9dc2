"""A model catalog entry: what an app developer needs to find a model and call it, one per team, model and
stage. The catalog validates every entry with this model before it stores it (lambdas/catalog_publish/app.py);
the deploy checks the entry it builds with the same model, and `make catalog` reads exports with it."""

from __future__ import annotations

import re
from datetime import timezone
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

SLUG = r"^[a-z][a-z0-9-]{2,23}$"
PACKAGE_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/[0-9]+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# an EventBridge event is at most 256 KB; client code is a few KB
MAX_FILE_CHARS = 20_000


class Strict(BaseModel):
    # NaN and infinity are not JSON: an entry holding one could not travel as an event
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class Feature(Strict):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    type: Literal["numeric", "categorical"]


class InputSchema(Strict):
    content_type: Literal["text/csv", "application/json"] = "text/csv"
    features: list[Feature] = Field(default=[], max_length=500)


class Serving(Strict):
    mode: Literal["realtime", "async", "batch"]
    endpoint: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")] | None = None
    url: Annotated[str, Field(pattern=r"^https://\S+$", max_length=2048)] | None = None
    auth: Literal["iam", "jwt"] | None = None
    invoke_policy: Annotated[str, Field(max_length=128)] | None = None
    batch_output: Annotated[str, Field(pattern=r"^s3://\S+$")] | None = None


class Lineage(Strict):
    model_data_url: Annotated[str, Field(pattern=r"^s3://\S+$")] | None = None
    image: Annotated[str, Field(max_length=512)] | None = None
    source_commit: Annotated[str, Field(max_length=128)] | None = None
    build_execution: Annotated[str, Field(max_length=2048)] | None = None
    approval: Annotated[str, Field(max_length=64)] | None = None


class CatalogEntry(Strict):
    team: Annotated[str, Field(pattern=SLUG)]
    model: Annotated[str, Field(pattern=SLUG)]
    stage: Literal["staging", "prod"]
    description: Annotated[str, Field(max_length=1024)] | None = None
    problem_type: Literal["binary_classification", "multiclass_classification", "regression"]
    version: int = Field(ge=1)
    model_package_arn: Annotated[str, Field(pattern=PACKAGE_ARN)]
    metrics: dict[Annotated[str, Field(max_length=64)], float] = Field(default={}, max_length=50)
    input_schema: InputSchema = InputSchema()
    serving: Serving
    # code is kept byte for byte (no whitespace stripping)
    client: dict[Annotated[str, Field(pattern=r"^[A-Za-z]+\.(py|sh|txt)$")],
                 Annotated[str, StringConstraints(strip_whitespace=False, max_length=MAX_FILE_CHARS)]] = Field(
        default={}, max_length=5)
    owners: list[Annotated[str, Field(pattern=EMAIL)]] = Field(min_length=1, max_length=20)
    lineage: Lineage = Lineage()
    monthly_cost_usd: float | None = Field(default=None, ge=0)
    # with its offset: entries are ordered by it (store.py compares it in UTC)
    recorded_at: AwareDatetime

    @property
    def recorded_utc(self) -> str:
        """recorded_at in UTC, ISO 8601 with a fixed width: comparable as text."""
        return self.recorded_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @property
    def key(self) -> str:
        return f"{self.model}#{self.stage}"

    @property
    def search_text(self) -> str:
        """What a search looks in: name, description, team, problem type and feature names, lower case."""
        return " ".join([self.team, self.model, self.description or "", self.problem_type.replace("_", " "),
                         self.problem_type, *(f.name for f in self.input_schema.features)]).lower()

    def matches(self, query: str) -> bool:
        """Every word of the query (case-insensitive) is in `search_text`."""
        return all(word in self.search_text for word in re.split(r"\s+", query.lower()) if word)


def entry_error(error: ValidationError) -> str:
    """The first problem, in one line: `<field.path>: <message>`."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(entry)"
    return f"{where}: {first['msg']}"


def parse_entry(data: object) -> CatalogEntry:
    """ValueError with one line when `data` is not a valid entry."""
    if not isinstance(data, dict):
        raise ValueError(f"(entry): must be a JSON object (got {type(data).__name__})")
    try:
        entry = CatalogEntry.model_validate(data)
    except ValidationError as error:
        raise ValueError(entry_error(error)) from None
    if not entry.model_package_arn.endswith(f"/{entry.version}"):
        raise ValueError(f"version: {entry.version} is not the version of {entry.model_package_arn}")
    return entry
