#!/usr/bin/env python3
"""`make doctor [CONFIG=file] [PROFILES=account=profile,...]`: preflight of every account the config deploys to.

Prints one table (check, account, region, status, the exact fix) and exits 1 when any row is not OK. A check
that cannot run (no credentials, access denied, throttled) says so in its row and counts as a failure: it
never passes silently. Read-only: it calls only Get/List/Describe APIs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacks.common.naming import TAG_COST_CENTER, TAG_MODEL, TAG_TEAM  # noqa: E402
from stacks.config.factory import FactoryConfig, load_config  # noqa: E402
from stacks.config.fields import ConfigError  # noqa: E402
from stacks.config.monitoring import Monitoring  # noqa: E402
from stacks.config.pipeline_settings import PROCESSING_INSTANCE_TYPE  # noqa: E402

# The CDK default synthesizer's qualifier and the newest bootstrap version any synthesized stack requires
# (the cloud assembly's requiresBootstrapStackVersion; tests/unit/test_doctor.py reads it from a synth).
BOOTSTRAP_QUALIFIER = "hnb659fds"
MIN_BOOTSTRAP_VERSION = 8
# Cost Explorer's API is served from us-east-1 only (https://docs.aws.amazon.com/general/latest/gr/billing.html)
COST_EXPLORER_REGION = "us-east-1"
# budgets filter on the team tag, showback groups by the model tag, the cost-center tag names the payer
COST_TAGS = (TAG_TEAM, TAG_MODEL, TAG_COST_CENTER)
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}

# the monitor jobs' instance (the deploy manifest's monitoring.instance_type default)
MONITOR_INSTANCE_TYPE = Monitoring().instance_type

OK, FAIL, CANNOT_RUN = "OK", "FAIL", "CANNOT RUN"


@dataclass(frozen=True)
class Row:
    check: str
    account: str
    region: str
    status: str
    fix: str = ""


@dataclass(frozen=True)
class Target:
    """One account and region the config deploys to, and what it hosts there."""

    account: str
    region: str
    factory_of: tuple[str, ...] = ()     # teams whose factory (pipelines, builds) lives here
    trusts: tuple[str, ...] = ()         # factory accounts that deploy endpoints here


def targets(config: FactoryConfig) -> list[Target]:
    factories: dict[tuple[str, str], list[str]] = defaultdict(list)
    trusted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for team in config.teams:
        factories[(team.account, team.region)].append(team.name)
        for account in team.target_accounts:
            trusted[(account, team.region)].add(team.account)
    keys = sorted(set(factories) | set(trusted))
    return [Target(a, r, tuple(factories.get((a, r), ())), tuple(sorted(trusted.get((a, r), ())))) for a, r in keys]


def endpoint_peak(settings) -> int:
    """Instances an endpoint can hold at once: its maximum plus what a deployment provisions beside it
    (blue/green builds the new fleet at full size; a rolling inference-component update adds one batch),
    plus a shadow variant's maximum."""
    batch = settings.deployment.canary_percent if settings.deployment.strategy == "canary" \
        else settings.deployment.step_percent
    during_deploy = (math.ceil(settings.max_instances * batch / 100) if settings.scale_to_zero
                     else settings.max_instances)
    shadow = settings.shadow.max_instances if settings.shadow is not None else 0
    return settings.max_instances + during_deploy + shadow


def quota_needs(config: FactoryConfig) -> dict[tuple[str, str], dict[str, int]]:
    """Service Quotas quota name -> instances the config can use at once, per account and region. Every
    model of a team can train and process at the same time, so the needs add up."""
    needs: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for team in config.teams:
        factory = needs[(team.account, team.region)]
        for model in team.models:
            training = model.training
            kind = "spot training job usage" if training.use_spot else "training job usage"
            factory[f"{training.instance_type} for {kind}"] += training.instance_count
            factory[f"{PROCESSING_INSTANCE_TYPE} for processing job usage"] += 1
            # the monitors of each endpoint stage run on the same schedule: one processing job each (Model
            # Monitor runs one per monitor type)
            monitors = 1 if model.monitoring.engine == "factory" else (
                1 + model.monitoring.model_quality_enabled + model.monitoring.bias + model.monitoring.explainability)
            for stage in ("staging", "prod"):
                settings = getattr(model.endpoint, stage)
                where = needs[(team.stage_account(stage), team.region)]
                if settings.has_endpoint:
                    where[f"{settings.instance_type} for endpoint usage"] += endpoint_peak(settings)
                where[f"{MONITOR_INSTANCE_TYPE} for processing job usage"] += monitors
                if settings.batch is not None:  # the stage's scheduled Batch Transform
                    where[f"{settings.batch.instance_type} for transform job usage"] += settings.batch.instance_count
    return {key: dict(value) for key, value in needs.items()}


class CheckCannotRun(Exception):
    """An AWS call of a check failed in a way that says nothing about what it checks."""


def call(client, operation: str, **kwargs) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        return getattr(client, operation)(**kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ACCESS_DENIED:
            raise CheckCannotRun(f"access denied to {operation}: grant it to the operator's role") from None
        if code in THROTTLED:
            raise CheckCannotRun(f"{operation} was throttled after retries: run make doctor again") from None
        raise
    except BotoCoreError as error:
        raise CheckCannotRun(f"{operation} failed: {error}") from None


def check_bootstrap(clients, target: Target) -> Row:
    from botocore.exceptions import ClientError
    fix = f"npx cdk bootstrap aws://{target.account}/{target.region}"
    if target.trusts:
        fix += f" --trust {','.join(target.trusts)} --cloudformation-execution-policies <policy ARN>"
    try:
        answer = call(clients("ssm"), "get_parameter", Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return Row("cdk bootstrap", target.account, target.region, FAIL, f"not bootstrapped: {fix}")
        raise
    version = int(answer["Parameter"]["Value"])
    if version < MIN_BOOTSTRAP_VERSION:
        return Row("cdk bootstrap", target.account, target.region, FAIL,
                   f"version {version} < {MIN_BOOTSTRAP_VERSION} the stacks require: {fix}")
    return Row("cdk bootstrap", target.account, target.region, OK, f"version {version}")


def _trusted_accounts(document: dict[str, Any]) -> set[str]:
    accounts: set[str] = set()
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in ([actions] if isinstance(actions, str)
                                                                          else actions):
            continue  # the bootstrap template also grants sts:TagSession, which alone deploys nothing
        principals = statement.get("Principal", {})
        aws = principals.get("AWS", []) if isinstance(principals, dict) else []
        for principal in [aws] if isinstance(aws, str) else aws:
            if principal.isdigit():
                accounts.add(principal)
            elif principal.startswith("arn:") and principal.endswith(":root"):
                accounts.add(principal.split(":")[4])
    return accounts


def check_trust(clients, target: Target) -> list[Row]:
    from botocore.exceptions import ClientError
    role = f"cdk-{BOOTSTRAP_QUALIFIER}-deploy-role-{target.account}-{target.region}"
    try:
        document = call(clients("iam"), "get_role", RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchEntity":
            return [Row(f"bootstrap trusts {factory}", target.account, target.region, FAIL,
                        f"no {role}: npx cdk bootstrap aws://{target.account}/{target.region} --trust {factory} "
                        "--cloudformation-execution-policies <policy ARN>") for factory in target.trusts]
        raise
    if isinstance(document, str):  # the IAM API sends it URL-encoded; boto3's parser decodes it to a dict
        document = json.loads(unquote(document))
    trusted = _trusted_accounts(document)
    return [Row(f"bootstrap trusts {factory}", target.account, target.region, OK if factory in trusted else FAIL,
                "" if factory in trusted else
                f"npx cdk bootstrap aws://{target.account}/{target.region} --trust {factory} "
                "--cloudformation-execution-policies <policy ARN>")
            for factory in target.trusts]


def check_quotas(clients, target: Target, needs: dict[str, int]) -> list[Row]:
    client = clients("service-quotas")
    applied: dict[str, tuple[str, float]] = {}
    token: str | None = None
    while True:
        page = call(client, "list_service_quotas", ServiceCode="sagemaker", **({"NextToken": token} if token else {}))
        for quota in page.get("Quotas", []):
            applied[quota["QuotaName"]] = (quota["QuotaCode"], quota["Value"])
        token = page.get("NextToken")
        if not token:
            break
    rows = []
    for name, need in sorted(needs.items()):
        check = f"quota {name} >= {need}"
        if name not in applied:
            rows.append(Row(check, target.account, target.region, CANNOT_RUN,
                            "Service Quotas lists no such SageMaker quota in this region: is the instance type "
                            "offered here?"))
            continue
        code, value = applied[name]
        if value >= need:
            rows.append(Row(check, target.account, target.region, OK, f"{value:g}"))
        else:
            rows.append(Row(check, target.account, target.region, FAIL,
                            f"applied {value:g}: aws service-quotas request-service-quota-increase --service-code "
                            f"sagemaker --quota-code {code} --desired-value {need} --region {target.region}"))
    return rows


def check_cost_tags(clients, target: Target) -> list[Row]:
    answer = call(clients("ce", region=COST_EXPLORER_REGION), "list_cost_allocation_tags",
                  TagKeys=list(COST_TAGS), Type="UserDefined")
    status = {tag["TagKey"]: tag["Status"] for tag in answer.get("CostAllocationTags", [])}
    rows = []
    for key in COST_TAGS:
        activate = (f"aws ce update-cost-allocation-tags-status --cost-allocation-tags-status "
                    f"TagKey={key},Status=Active (in the payer account)")
        if status.get(key) == "Active":
            rows.append(Row(f"cost tag {key}", target.account, COST_EXPLORER_REGION, OK))
        elif key in status:
            rows.append(Row(f"cost tag {key}", target.account, COST_EXPLORER_REGION, FAIL, activate))
        else:
            rows.append(Row(f"cost tag {key}", target.account, COST_EXPLORER_REGION, FAIL,
                            "Billing has not seen the tag yet (it appears within 24 h of the first tagged "
                            f"resource, after the first deploy); then {activate}"))
    return rows


def check_services(clients, target: Target, config: FactoryConfig) -> list[Row]:
    teams = [t for t in config.teams if t.name in target.factory_of]
    rows = []
    if any(m.source.provider == "codecommit" for t in teams for m in t.models):
        call(clients("codecommit"), "list_repositories")
        rows.append(Row("service CodeCommit", target.account, target.region, OK))
    # only models on engine: model_monitor need Model Monitor (the factory engine runs a plain pipeline)
    if any(m.monitoring.engine == "model_monitor" for t in teams for m in t.models):
        call(clients("sagemaker"), "list_monitoring_schedules", MaxResults=1)
        rows.append(Row("service SageMaker Model Monitor", target.account, target.region, OK))
    return rows


def _guard(check: str, target: Target, run: Callable[[], Row | list[Row]]) -> list[Row]:
    try:
        result = run()
    except CheckCannotRun as reason:
        return [Row(check, target.account, target.region, CANNOT_RUN, str(reason))]
    except Exception as error:  # noqa: BLE001 - one row per check, whatever the SDK raised
        # one line, whatever the SDK's message spans
        return [Row(check, target.account, target.region, CANNOT_RUN, f"{type(error).__name__}: {' '.join(str(error).split())}")]
    return result if isinstance(result, list) else [result]


def diagnose(config: FactoryConfig, session_for: Callable[[str], Any]) -> list[Row]:
    """Every check for every account and region. `session_for(account)` gives a boto3 Session (or raises)."""
    from botocore.config import Config
    retries = Config(retries={"mode": "standard", "total_max_attempts": 5})
    needs = quota_needs(config)
    rows: list[Row] = []
    for target in targets(config):
        try:
            session = session_for(target.account)
            identity = session.client("sts", region_name=target.region, config=retries).get_caller_identity()
        except Exception as error:  # noqa: BLE001 - no credentials is a row, not a crash
            rows.append(Row("credentials", target.account, target.region, CANNOT_RUN,
                            f"{type(error).__name__}: name a profile for it: PROFILES={target.account}=<profile>"))
            continue
        if identity["Account"] != target.account:
            rows.append(Row("credentials", target.account, target.region, CANNOT_RUN,
                            f"the credentials are for account {identity['Account']}: "
                            f"PROFILES={target.account}=<profile>"))
            continue
        rows.append(Row("credentials", target.account, target.region, OK, identity["Arn"]))

        def clients(service: str, region: str = target.region, session=session):
            return session.client(service, region_name=region, config=retries)

        rows += _guard("cdk bootstrap", target, lambda: check_bootstrap(clients, target))
        if target.trusts:
            rows += _guard("bootstrap trust", target, lambda: check_trust(clients, target))
        if needs.get((target.account, target.region)):
            rows += _guard("service quotas", target, lambda: check_quotas(
                clients, target, needs[(target.account, target.region)]))
        if target.factory_of:
            rows += _guard("cost allocation tags", target, lambda: check_cost_tags(clients, target))
            rows += _guard("services", target, lambda: check_services(clients, target, config))
    return rows


def table(rows: list[Row]) -> str:
    header = Row("check", "account", "region", "status", "fix")
    columns = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in columns) for f in ("check", "account", "region", "status")]
    return "\n".join(f"{r.check:<{widths[0]}}  {r.account:<{widths[1]}}  {r.region:<{widths[2]}}  "
                     f"{r.status:<{widths[3]}}  {r.fix}".rstrip() for r in columns)


def parse_profiles(text: str) -> dict[str, str]:
    profiles: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        account, sep, profile = item.partition("=")
        if not sep or not (account.isdigit() and len(account) == 12) or not profile:
            raise ConfigError(f"PROFILES: {item!r} must be <12-digit account>=<profile name>")
        profiles[account] = profile
    return profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/factory.yaml")
    parser.add_argument("--profiles", default="", help="account=profile,... (default: the ambient credentials)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        profiles = parse_profiles(args.profiles)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    import boto3

    def session_for(account: str):
        return boto3.Session(profile_name=profiles[account]) if account in profiles else boto3.Session()

    rows = diagnose(config, session_for)
    print(table(rows))
    failed = [r for r in rows if r.status != OK]
    if failed:
        print(f"\n{len(failed)} of {len(rows)} checks are not OK", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
