"""The building blocks of every configuration file the factory reads (the factory config and the deploy
manifest): field types with one-line error messages, the strict base model and the error rendering.

Every error becomes one line, ``<file>: <path.to.field>: <what is wrong> (got <value>)``, so that a
cloud engineer sees the field to fix rather than a traceback.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,23}$")
ACCOUNT_PATTERN = re.compile(r"^[0-9]{12}$")
INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
SCHEDULE_PATTERN = re.compile(
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)"
    r"|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$"
)
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


def matching(pattern: re.Pattern[str], description: str):
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
Schedule = Annotated[str, AfterValidator(_schedule)]
AccountId = Annotated[str, BeforeValidator(_account)]
Region = Annotated[str, AfterValidator(_region)]
InstanceType = Annotated[str, AfterValidator(_instance_type)]
TagKey = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_tag_key)]
TagValue = Annotated[str, Field(max_length=256)]
# S3 bucket naming rules (S3 user guide, "General purpose bucket naming rules")
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def field_error(where: str, message: str, got: object) -> PydanticCustomError:
    """An error raised from a model validator, reported at `where` inside the model."""
    return PydanticCustomError("field_error", "{where}: {message}", {"where": where, "message": message, "got": got})


# The tags of models[].source's discriminated union: pydantic puts them in error paths, the user never
# wrote them.
SOURCE_PROVIDERS = ("codecommit", "codeconnections")


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


def read_source(path: str | Path, what: str) -> str:
    """The text of a config or manifest file, or one line naming it and why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: (file): cannot read {what}: {exc.strerror} (got {str(path)!r})") from None


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
