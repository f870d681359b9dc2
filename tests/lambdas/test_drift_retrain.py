"""The drift-retrain handler under moto: one retrain for concurrent alarms inside the cool-down, another
after it, nothing for unknown endpoints or non-ALARM states."""

from __future__ import annotations

import copy
import importlib
import json
import sys

import boto3
import pytest
from moto import mock_aws

from tests.helpers import FAULTS, Context, inject_fault
from tests.synth import ROOT

CODE = ROOT / "lambdas" / "drift_retrain"
EVENT = json.loads((ROOT / "tests" / "fixtures" / "events" / "drift-alarm.json").read_text())
REGION, TABLE, PIPELINE = "eu-west-1", "mf-fraud-retrain", "mf-fraud-card-fraud-build"


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pipeline", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pipeline", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="mf-fraud-approvers")["TopicArn"]
        role = boto3.client("iam", region_name=REGION).create_role(RoleName="p", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "codepipeline.amazonaws.com"}}]}))
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        codepipeline.create_pipeline(pipeline={
            "name": PIPELINE, "roleArn": role["Role"]["Arn"], "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": "bucket"},
            "stages": [
                {"name": "Source", "actions": [{"name": "Source", "actionTypeId": {
                    "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                    "configuration": {"RepositoryName": "r", "BranchName": "main"}, "outputArtifacts": [{"name": "s"}]}]},
                {"name": "Build", "actions": [{"name": "Build", "actionTypeId": {
                    "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                    "configuration": {"ProjectName": "p"}, "inputArtifacts": [{"name": "s"}]}]},
            ]})
        endpoints = {f"mf-fraud-card-fraud-{stage}": PIPELINE for stage in ("staging", "prod")}
        for name, value in {"PIPELINE_BY_ENDPOINT": json.dumps(endpoints), "RETRAIN_TABLE_NAME": TABLE,
                            "RETRAIN_COOLDOWN_HOURS": "24", "NOTIFICATION_TOPIC_ARN": topic,
                            "RETRAIN_COOLDOWN_HOURS_BY_PIPELINE": json.dumps(getattr(monkeypatch, "cooldowns", {})),
                            "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": REGION}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(CODE))
        for module in ("app", "retrain"):
            sys.modules.pop(module, None)
        yield {"app": importlib.import_module("app"), "codepipeline": codepipeline}
        for module in ("app", "retrain"):
            sys.modules.pop(module, None)


def alarm(name: str = "mf-fraud-card-fraud-prod-drift-amount", at: str = "2026-11-24T08:00:00Z",
          state: str = "ALARM") -> dict:
    event = copy.deepcopy(EVENT)
    event["time"] = at
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = state
    return event


def starts(aws) -> int:
    return len(aws["codepipeline"].list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"])


def test_two_alarms_inside_the_cooldown_start_one_retrain(aws):
    # The claim is one conditional write: DynamoDB applies conditional writes atomically ("Condition
    # expressions", DynamoDB developer guide), so concurrent alarms race on it there. moto's table has no such
    # lock, so threads here would test moto, not the handler: the two alarms arrive one after the other.
    events = [alarm("mf-fraud-card-fraud-prod-drift-amount"), alarm("mf-fraud-card-fraud-prod-drift-hour")]
    results = [aws["app"].handler(e, Context()) for e in events]
    assert [r["action"] for r in results] == ["retrain", "cooling-down"]
    assert starts(aws) == 1


def test_an_alarm_after_the_cooldown_starts_another_retrain(aws):
    assert aws["app"].handler(alarm(at="2026-11-24T08:00:00Z"), Context())["action"] == "retrain"
    assert aws["app"].handler(alarm(at="2026-11-25T07:59:00Z"), Context())["action"] == "cooling-down"
    assert aws["app"].handler(alarm(at="2026-11-25T08:00:00Z"), Context())["action"] == "retrain"
    assert starts(aws) == 2


@pytest.fixture
def short_cooldown(monkeypatch):
    monkeypatch.cooldowns = {PIPELINE: 2}
    return monkeypatch


def test_a_models_own_cooldown_overrides_the_default(short_cooldown, aws):
    assert aws["app"].handler(alarm(at="2026-11-24T08:00:00Z"), Context())["action"] == "retrain"
    assert aws["app"].handler(alarm(at="2026-11-24T09:59:00Z"), Context())["action"] == "cooling-down"
    result = aws["app"].handler(alarm(at="2026-11-24T10:00:00Z"), Context())
    assert result["action"] == "retrain" and "after 2 h" in result["reason"]


def test_staging_and_prod_drift_share_the_models_cooldown(aws):
    aws["app"].handler(alarm("mf-fraud-card-fraud-staging-drift-amount"), Context())
    result = aws["app"].handler(alarm("mf-fraud-card-fraud-prod-drift-amount"), Context())
    assert result["action"] == "cooling-down" and starts(aws) == 1


def test_unknown_endpoint_starts_nothing_and_says_so(aws):
    result = aws["app"].handler(alarm("mf-fraud-chargeback-prod-drift-amount"), Context())
    assert result == {"action": "ignore", "pipeline": None, "execution_id": None,
                      "reason": "alarm mf-fraud-chargeback-prod-drift-amount belongs to no known model endpoint; "
                                "nothing started"}
    assert starts(aws) == 0


def test_ok_state_and_malformed_events_start_nothing(aws):
    assert aws["app"].handler(alarm(state="OK"), Context())["action"] == "ignore"
    broken = alarm()
    broken["detail"].pop("alarmName")
    assert aws["app"].handler(broken, Context()) == {"action": "ignore", "reason": "malformed event"}
    assert starts(aws) == 0


def test_endpoint_matching_prefers_the_longest_name():
    sys.path.insert(0, str(CODE))
    try:
        from retrain import endpoint_for
    finally:
        sys.path.remove(str(CODE))
    endpoints = ["mf-a-m-prod", "mf-a-m-prod2"]
    assert endpoint_for("mf-a-m-prod2-drift-x", endpoints) == "mf-a-m-prod2"
    assert endpoint_for("mf-a-m-prod-drift-x", endpoints) == "mf-a-m-prod"
    assert endpoint_for("mf-a-m-production", endpoints) is None


def test_a_retrain_is_counted_per_build_pipeline_for_the_factory_dashboard(aws, capsys):
    aws["app"].handler(alarm(), Context())
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf and emf[-1]["ActionRetrain"] == [1.0]
    assert emf[-1]["pipeline"] == PIPELINE
    assert sorted(emf[-1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["pipeline", "service"]


def test_the_retrain_tells_the_build_it_was_started_by_drift(aws):
    """CodePipeline V2 StartPipelineExecution takes variables [{name, value}] (CodePipeline API reference);
    the build records the pipeline variable Trigger as the package's trigger."""
    aws["app"].handler(alarm(), Context())
    (summary,) = aws["codepipeline"].list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    execution = aws["codepipeline"].get_pipeline_execution(pipelineName=PIPELINE,
                                                            pipelineExecutionId=summary["pipelineExecutionId"])
    assert execution["pipelineExecution"]["variables"] == [{"name": "Trigger", "resolvedValue": "drift"}]


# --- every AWS call fails well (fault matrix; docs/monitoring.md, "When an AWS call fails") ----------
# Each test tries every fault of FAULTS in turn (a new alarm time per fault, so each is its own alarm change).

def at(hour: int) -> str:
    return f"2026-11-{10 + hour:02d}T08:00:00Z"  # a day apart: each fault's alarm is outside the cool-down


def test_a_failed_start_gives_the_cooldown_back_so_the_retry_retrains(aws):
    """A failed side effect is never remembered as done: the claim is released, Lambda's retry starts it."""
    from botocore.exceptions import ClientError

    for number, (code, status) in enumerate(FAULTS):
        inject_fault(aws["app"].retrain().codepipeline, "start_pipeline_execution", code, status)
        with pytest.raises(ClientError, match=code):
            aws["app"].handler(alarm(at=at(number)), Context())
        assert starts(aws) == number, code
        assert aws["app"].handler(alarm(at=at(number)), Context())["action"] == "retrain"  # Lambda's retry
        assert starts(aws) == number + 1, code
        # the same alarm delivered again after the successful start starts nothing more
        assert aws["app"].handler(alarm(at=at(number)), Context())["action"] == "cooling-down"
        assert starts(aws) == number + 1, code


def test_a_failed_start_whose_claim_cannot_be_given_back_is_still_retried(aws):
    from botocore.exceptions import ClientError

    for number, (code, status) in enumerate(FAULTS):
        retrain = aws["app"].retrain()
        inject_fault(retrain.codepipeline, "start_pipeline_execution", "ThrottlingException")
        inject_fault(retrain.dynamodb, "delete_item", code, status)
        with pytest.raises(ClientError, match="ThrottlingException"):  # the start's error, not the release's
            aws["app"].handler(alarm(at=at(number)), Context())
        # the claim stayed, but it is this alarm change's own and names no execution: the retry takes it again
        assert aws["app"].handler(alarm(at=at(number)), Context())["action"] == "retrain", code
        assert starts(aws) == number + 1, code
        # another alarm inside the cool-down still starts nothing
        assert aws["app"].handler(alarm(name="mf-fraud-card-fraud-prod-drift-hour", at=at(number)),
                                  Context())["action"] == "cooling-down"


def test_a_failed_claim_starts_nothing_and_fails_for_a_retry(aws):
    from botocore.exceptions import ClientError

    for number, (code, status) in enumerate(FAULTS):
        inject_fault(aws["app"].retrain().dynamodb, "put_item", code, status)
        with pytest.raises(ClientError, match=code):
            aws["app"].handler(alarm(at=at(number)), Context())
        assert starts(aws) == number, code
        assert aws["app"].handler(alarm(at=at(number)), Context())["action"] == "retrain"
        assert starts(aws) == number + 1, code


def test_a_failed_record_of_the_start_still_retrains_once(aws):
    """If naming the execution on the claim fails, the retrain runs; a redelivery would ask CodePipeline again
    with the same clientRequestToken (one execution per token)."""
    for number, (code, status) in enumerate(FAULTS):
        inject_fault(aws["app"].retrain().dynamodb, "update_item", code, status)
        assert aws["app"].handler(alarm(at=at(number)), Context())["action"] == "retrain", code
        assert starts(aws) == number + 1, code


def test_a_failed_notification_after_a_successful_start_is_not_a_reason_to_start_again(aws):
    for number, (code, status) in enumerate(FAULTS):
        inject_fault(aws["app"].retrain().sns, "publish", code, status)
        result = aws["app"].handler(alarm(at=at(number)), Context())
        assert result["action"] == "retrain" and result["reason"].endswith(f"; telling the approvers failed ({code})")
        assert aws["app"].handler(alarm(at=at(number)), Context())["action"] == "cooling-down"
        assert starts(aws) == number + 1, code


def test_insufficient_data_starts_nothing(aws):
    """An alarm that loses its datapoints goes to INSUFFICIENT_DATA: not a reason to retrain."""
    result = aws["app"].handler(alarm(state="INSUFFICIENT_DATA"), Context())
    assert result["action"] == "ignore" and "INSUFFICIENT_DATA" in result["reason"]
    assert starts(aws) == 0


def test_every_client_retries_throttling_in_standard_mode(aws):
    """boto3 guide "Retries": standard mode retries throttling and transient errors; the default is legacy."""
    retrain = aws["app"].retrain()
    for client in (retrain.dynamodb, retrain.codepipeline, retrain.sns):
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
