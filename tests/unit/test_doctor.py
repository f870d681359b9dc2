"""make doctor: every AWS call answered by botocore's Stubber (shapes validated against the service models),
including access denied and throttling; a check that cannot run is a row that is not OK.

Sources: the bootstrap version parameter `/cdk-bootstrap/<qualifier>/version` and the role
`cdk-<qualifier>-deploy-role-<account>-<region>` whose trust lists `--trust` accounts for sts:AssumeRole come
from the pinned CLI's node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml; the SageMaker quota names
("<type> for endpoint usage", "... for training job usage", "... for spot training job usage", "... for
processing job usage") from https://docs.aws.amazon.com/general/latest/gr/sagemaker.html; Cost Explorer in
us-east-1 from https://docs.aws.amazon.com/general/latest/gr/billing.html."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from scripts import doctor
from stacks.config.factory import parse_config
from tests.helpers import FAULTS

FACTORY, TARGET, REGION = "111111111111", "333333333333", "eu-west-1"


def config(**model_overrides):
    model = {"name": "card-fraud",
             "training": {"instance_type": "ml.g5.xlarge", "instance_count": 2, "use_spot": True},
             **model_overrides}
    return parse_config({"factory": {"name": "acme", "region": REGION}, "teams": [
        {"name": "fraud", "account": FACTORY, "accounts": {"staging": TARGET, "prod": TARGET},
         "monthly_budget_usd": 10, "approvers": ["a@example.com"], "models": [model]}]}, source="test")


class StubbedSession:
    """A boto3 Session whose clients are stubbed; `plan[(account, service)]` lists (operation, response,
    expected params) in call order, or (operation, error code) for a ClientError."""

    def __init__(self, account: str, plan: dict):
        self.account, self.plan, self.stubbers = account, plan, []

    def client(self, service, region_name=None, config=None):
        client = boto3.client(service, region_name=region_name, aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        if service == "sts" and (self.account, "sts") not in self.plan:
            stubber.add_response("get_caller_identity", {
                "Account": self.account, "Arn": f"arn:aws:sts::{self.account}:assumed-role/ops/me", "UserId": "x"})
        for step in self.plan.get((self.account, service), []):
            if len(step) == 2:  # (operation, error code) or (operation, (error code, HTTP status))
                code, status = step[1] if isinstance(step[1], tuple) else (step[1], 400)
                stubber.add_client_error(step[0], service_error_code=code, http_status_code=status)
            else:
                stubber.add_response(*step)
        stubber.activate()
        self.stubbers.append(stubber)
        return client


def quotas(values: dict[str, float]):
    return {"Quotas": [{"QuotaName": name, "QuotaCode": f"L-{i:08d}", "Value": value, "ServiceCode": "sagemaker"}
                       for i, (name, value) in enumerate(values.items())]}


def trust_policy(*accounts):
    """The deploy role's trust as the bootstrap template writes it: the own account may AssumeRole and
    TagSession, the --trust accounts may AssumeRole (IAM returns account ids as root ARNs)."""
    own = {"AWS": f"arn:aws:iam::{TARGET}:root"}
    statements = [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": own},
                  {"Effect": "Allow", "Action": "sts:TagSession", "Principal": own}]
    if accounts:
        statements.append({"Effect": "Allow", "Action": ["sts:AssumeRole"],
                           "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]}})
    return {"Role": {"RoleName": "r", "Path": "/", "RoleId": "AROAEXAMPLE123456789", "Arn": "arn:aws:iam::1:role/r",
                     "CreateDate": "2026-01-01T00:00:00Z", "AssumeRolePolicyDocument": json.dumps({
                         "Version": "2012-10-17", "Statement": statements})}}


def test_tag_session_alone_is_not_trust():
    document = {"Statement": [{"Effect": "Allow", "Action": "sts:TagSession", "Principal": {"AWS": FACTORY}},
                              {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": {"AWS": "999999999999"}}]}
    assert doctor._trusted_accounts(document) == {"999999999999"}


BOOTSTRAP = {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": "30", "Type": "String"}}
ALL_TAGS = {"CostAllocationTags": [{"TagKey": k, "Type": "UserDefined", "Status": "Active"} for k in doctor.COST_TAGS]}


def healthy_plan(cfg):
    needs = doctor.quota_needs(cfg)
    model_monitor = any(m.monitoring.engine == "model_monitor" for t in cfg.teams for m in t.models)
    return {
        (FACTORY, "ssm"): [("get_parameter", BOOTSTRAP, {"Name": "/cdk-bootstrap/hnb659fds/version"})],
        (FACTORY, "service-quotas"): [("list_service_quotas", quotas(needs[(FACTORY, REGION)]),
                                       {"ServiceCode": "sagemaker"})],
        (FACTORY, "ce"): [("list_cost_allocation_tags", ALL_TAGS,
                           {"TagKeys": list(doctor.COST_TAGS), "Type": "UserDefined"})],
        (FACTORY, "codecommit"): [("list_repositories", {"repositories": []}, {})],
        (FACTORY, "sagemaker"): [("list_monitoring_schedules", {"MonitoringScheduleSummaries": []},
                                  {"MaxResults": 1})] if model_monitor else [],
        (TARGET, "ssm"): [("get_parameter", BOOTSTRAP, None)],
        (TARGET, "iam"): [("get_role", trust_policy(FACTORY), {"RoleName": f"cdk-hnb659fds-deploy-role-{TARGET}-{REGION}"})],
        (TARGET, "service-quotas"): [("list_service_quotas", quotas(needs[(TARGET, REGION)]), None)],
    }


def run(cfg, plan):
    sessions = {}

    def session_for(account):
        sessions[account] = StubbedSession(account, plan)
        return sessions[account]

    rows = doctor.diagnose(cfg, session_for)
    for session in sessions.values():
        for stubber in session.stubbers:
            stubber.assert_no_pending_responses()
    return rows


def by_check(rows):
    return {(r.check, r.account): r for r in rows}


def test_a_ready_factory_passes_every_check():
    cfg = config()
    rows = run(cfg, healthy_plan(cfg))
    assert {r.status for r in rows} == {"OK"}
    checks = {r.check for r in rows}
    assert {"credentials", "cdk bootstrap", f"bootstrap trusts {FACTORY}", "service CodeCommit",
            *(f"cost tag {k}" for k in doctor.COST_TAGS)} <= checks
    # the factory engine needs no Model Monitor; a model on engine: model_monitor is checked for it
    assert "service SageMaker Model Monitor" not in checks
    with_model_monitor = config(monitoring={"engine": "model_monitor"})
    rows = run(with_model_monitor, healthy_plan(with_model_monitor))
    assert by_check(rows)[("service SageMaker Model Monitor", FACTORY)].status == "OK"
    # the quota rows name what the config can use: 2 spot g5 training instances, one processing instance
    assert "quota ml.g5.xlarge for spot training job usage >= 2" in checks
    assert f"quota {doctor.PROCESSING_INSTANCE_TYPE} for processing job usage >= 1" in checks


def test_quota_needs_cover_blue_green_shadow_and_spot():
    cfg = config(training={"instance_type": "ml.m5.xlarge", "instance_count": 3},
                 endpoint={"prod": {"instance_type": "ml.g5.2xlarge", "initial_instances": 2, "min_instances": 2,
                                    "max_instances": 6}})
    needs = doctor.quota_needs(cfg)
    assert needs[(FACTORY, REGION)]["ml.m5.xlarge for training job usage"] == 3
    # blue/green provisions the new fleet at full size beside the old one: 6 + 6
    assert needs[(TARGET, REGION)]["ml.g5.2xlarge for endpoint usage"] == 12
    # the drift jobs of both stages (in the target account) can run at the same time
    assert needs[(TARGET, REGION)][f"{doctor.MONITOR_INSTANCE_TYPE} for processing job usage"] == 2


def test_quota_needs_of_a_batch_stage_are_its_transform_not_an_endpoint():
    bucket = f"mf-fraud-{FACTORY}-{REGION}"
    cfg = config(endpoint={"prod": {"mode": "batch", "batch": {
        "schedule": "rate(1 day)", "input_s3_uri": f"s3://{bucket}/scoring/in", "output_s3_uri": f"s3://{bucket}/batch/out",
        "instance_type": "ml.c5.2xlarge", "instance_count": 3}}})
    needs = doctor.quota_needs(cfg)[(TARGET, REGION)]
    # Service Quotas names SageMaker's per-type limits "<type> for transform job usage"
    assert needs["ml.c5.2xlarge for transform job usage"] == 3
    assert needs["ml.g5.xlarge for endpoint usage"] == doctor.endpoint_peak(cfg.teams[0].models[0].endpoint.staging)


def test_zero_quota_fails_with_the_increase_command():
    cfg = config()
    plan = healthy_plan(cfg)
    plan[(FACTORY, "service-quotas")] = [("list_service_quotas", quotas(
        {name: 0.0 for name in doctor.quota_needs(cfg)[(FACTORY, REGION)]}), None)]
    row = by_check(run(cfg, plan))[("quota ml.g5.xlarge for spot training job usage >= 2", FACTORY)]
    assert row.status == "FAIL"
    assert "request-service-quota-increase --service-code sagemaker --quota-code L-" in row.fix
    assert "--desired-value 2 --region eu-west-1" in row.fix


def test_quota_list_is_paginated():
    cfg = config()
    needs = doctor.quota_needs(cfg)[(FACTORY, REGION)]
    names = sorted(needs)
    plan = healthy_plan(cfg)
    plan[(FACTORY, "service-quotas")] = [
        ("list_service_quotas", {**quotas({names[0]: 10}), "NextToken": "p2"}, {"ServiceCode": "sagemaker"}),
        ("list_service_quotas", quotas({n: 10 for n in names[1:]}), {"ServiceCode": "sagemaker", "NextToken": "p2"})]
    assert {r.status for r in run(cfg, plan)} == {"OK"}


def test_missing_or_old_bootstrap_and_missing_trust_fail_with_the_bootstrap_command():
    cfg = config()
    plan = healthy_plan(cfg)
    plan[(FACTORY, "ssm")] = [("get_parameter", "ParameterNotFound")]
    plan[(TARGET, "ssm")] = [("get_parameter", {"Parameter": {**BOOTSTRAP["Parameter"], "Value": "6"}}, None)]
    plan[(TARGET, "iam")] = [("get_role", trust_policy("999999999999"), None)]
    rows = by_check(run(cfg, plan))
    assert rows[("cdk bootstrap", FACTORY)].status == "FAIL"
    assert rows[("cdk bootstrap", FACTORY)].fix == f"not bootstrapped: npx cdk bootstrap aws://{FACTORY}/{REGION}"
    assert rows[("cdk bootstrap", TARGET)].fix.startswith("version 6 < 8 the stacks require")
    trust = rows[(f"bootstrap trusts {FACTORY}", TARGET)]
    assert trust.status == "FAIL" and f"--trust {FACTORY}" in trust.fix


def test_inactive_and_unseen_cost_tags_fail():
    cfg = config()
    plan = healthy_plan(cfg)
    plan[(FACTORY, "ce")] = [("list_cost_allocation_tags", {"CostAllocationTags": [
        {"TagKey": doctor.TAG_TEAM, "Type": "UserDefined", "Status": "Inactive"}]}, None)]
    rows = by_check(run(cfg, plan))
    assert rows[(f"cost tag {doctor.TAG_TEAM}", FACTORY)].fix.startswith(
        f"aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey={doctor.TAG_TEAM},Status=Active")
    assert "has not seen the tag yet" in rows[(f"cost tag {doctor.TAG_MODEL}", FACTORY)].fix


@pytest.mark.parametrize("code, words", [("AccessDeniedException", "access denied to list_service_quotas"),
                                         ("ThrottlingException", "throttled after retries")])
def test_denied_or_throttled_check_says_it_cannot_run(code, words):
    cfg = config()
    plan = healthy_plan(cfg)
    plan[(FACTORY, "service-quotas")] = [("list_service_quotas", code)]
    rows = by_check(run(cfg, plan))
    row = rows[("service quotas", FACTORY)]
    assert row.status == "CANNOT RUN" and words in row.fix
    assert rows[("cdk bootstrap", FACTORY)].status == "OK"  # the other checks still run


def test_credentials_for_another_account_or_none_are_rows_and_exit_non_zero(monkeypatch, capsys, tmp_path: Path):
    cfg = config()
    plan = healthy_plan(cfg)

    def session_for(account):
        if account == TARGET:
            raise RuntimeError("The config profile (target) could not be found")
        return StubbedSession("555555555555", plan)

    rows = by_check(doctor.diagnose(cfg, session_for))
    assert rows[("credentials", FACTORY)].status == "CANNOT RUN"
    assert "credentials are for account 555555555555" in rows[("credentials", FACTORY)].fix
    assert f"PROFILES={TARGET}=<profile>" in rows[("credentials", TARGET)].fix
    assert [r.check for r in rows.values()] == ["credentials", "credentials"]  # nothing else passes silently

    monkeypatch.setattr(doctor, "diagnose", lambda c, s: list(rows.values()))
    assert doctor.main(["--config", "config/factory.yaml"]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines()[0].split() == ["check", "account", "region", "status", "fix"]
    assert "2 of 2 checks are not OK" in out.err


def test_bad_profiles_argument_is_one_line(capsys):
    assert doctor.main(["--profiles", "12=prod"]) == 1
    assert capsys.readouterr().err.strip() == "PROFILES: '12=prod' must be <12-digit account>=<profile name>"


def test_every_call_of_every_check_fails_into_its_row_never_a_traceback():
    """Each AWS call of the doctor, with each fault of FAULTS: its row is not OK, says why in one line, and the
    other checks still run (the doctor never stops at the first failure)."""
    cfg = config(monitoring={"engine": "model_monitor"})
    healthy = healthy_plan(cfg)
    calls = [(key, step[0]) for key, steps in healthy.items() for step in steps] + [((FACTORY, "sts"), "get_caller_identity")]
    assert len(calls) == 9  # every operation the doctor makes (its call sites in scripts/doctor.py)
    for (account, service), operation in calls:
        for code, status in FAULTS:
            plan = {**healthy_plan(cfg), (account, service): [(operation, (code, status))]}
            rows = run(cfg, plan)
            bad = [r for r in rows if r.account == account and r.status != "OK"]
            assert bad, (operation, code)
            assert all("\n" not in r.fix for r in rows)
            if operation != "get_caller_identity":  # without credentials nothing else can run for the account
                assert any(r.status == "OK" for r in rows if r.account == account), (operation, code)
