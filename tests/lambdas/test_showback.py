"""The showback function: Cost Explorer through botocore's Stubber (moto has no Cost Explorer grouping by
tag), SNS under moto; the table, the periods and the refusals."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.helpers import FAULTS, Context, inject_fault
from tests.synth import ROOT

CODE = ROOT / "lambdas" / "showback"
REGION = "eu-west-1"
SCHEDULED = {"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "111111111111", "time": "2026-12-03T06:00:00Z", "region": REGION,
             "resources": ["arn:aws:events:eu-west-1:111111111111:rule/mf-fraud-showback-monthly"], "detail": {}}


def group(model: str, amount: str) -> dict:
    return {"Keys": [f"model-factory:model${model}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def expected_request(start: str, end: str, token: str | None = None) -> dict:
    request = {"TimePeriod": {"Start": start, "End": end}, "Granularity": "MONTHLY", "Metrics": ["UnblendedCost"],
               "Filter": {"Tags": {"Key": "model-factory:team", "Values": ["fraud"], "MatchOptions": ["EQUALS"]}},
               "GroupBy": [{"Type": "TAG", "Key": "model-factory:model"}]}
    return {**request, "NextPageToken": token} if token else request


@pytest.fixture
def showback(monkeypatch):
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="mf-fraud-approvers")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        for name, value in {"TEAM": "fraud", "MODELS": json.dumps(["card-fraud", "chargebacks"]),
                            "NOTIFICATION_TOPIC_ARN": topic, "POWERTOOLS_TRACE_DISABLED": "true",
                            # as the deployed function has it (TeamFunction: POWERTOOLS_SERVICE_NAME = its name)
                            "POWERTOOLS_SERVICE_NAME": "showback",
                            "AWS_DEFAULT_REGION": REGION}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(CODE))
        for module in ("app", "showback"):
            sys.modules.pop(module, None)
        app = importlib.import_module("app")
        ce = boto3.client("ce", region_name="us-east-1")
        stubber = Stubber(ce)
        monkeypatch.setattr(app, "clients", lambda: (ce, sns))

        def inbox() -> list[str]:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            return [m["Body"] for m in messages]

        yield {"app": app, "stubber": stubber, "inbox": inbox}
        for module in ("app", "showback"):
            sys.modules.pop(module, None)


def test_monthly_run_reports_last_month_per_model_across_pages(showback, capsys):
    stubber = showback["stubber"]
    stubber.add_response("get_cost_and_usage", {"ResultsByTime": [{"Groups": [group("card-fraud", "812.3456"),
                                                                             group("", "3.10")]}],
                                                "NextPageToken": "p2"}, expected_request("2026-11-01", "2026-12-01"))
    stubber.add_response("get_cost_and_usage", {"ResultsByTime": [{"Groups": [group("card-fraud", "100")]}]},
                         expected_request("2026-11-01", "2026-12-01", "p2"))
    with stubber:
        result = showback["app"].handler(SCHEDULED, Context(), today=date(2026, 12, 3))
    stubber.assert_no_pending_responses()
    assert result == {"action": "published", "period": "2026-11",
                      "costs": {"card-fraud": "912.35", "(no model tag)": "3.10"}}
    (message,) = showback["inbox"]()
    lines = message.splitlines()
    assert lines[0] == "Model Factory fraud: cost per model, 2026-11 (USD, unblended, Cost Explorer)"
    assert lines[3].split() == ["card-fraud", "912.35", "99.7", "%"]
    assert lines[4].split() == ["(no", "model", "tag)", "3.10", "0.3", "%"]
    assert lines[5].split() == ["chargebacks", "0.00", "0.0", "%"]  # a model that cost nothing is listed
    assert lines[6].split() == ["total", "915.45"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    figures = {m["Model"]: m["ModelCostUSD"][0] if isinstance(m["ModelCostUSD"], list) else m["ModelCostUSD"]
               for m in emitted}
    assert figures == {"card-fraud": 912.35, "chargebacks": 0.0, "(no model tag)": 3.1}
    assert all(m["Team"] == "fraud" and m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ModelFactory"
               for m in emitted)
    # the exact dimensions the dashboard and the catalog entry read (stacks/common/naming.py showback_dimensions):
    # CloudWatch matches a query only on the full set
    from stacks.common.naming import showback_dimensions
    for m in emitted:
        assert sorted(m["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == sorted(showback_dimensions("fraud", m["Model"]))
        assert m["service"] == "showback"


def test_on_demand_month_to_date(showback):
    stubber = showback["stubber"]
    stubber.add_response("get_cost_and_usage", {"ResultsByTime": [{"Groups": []}]},
                         expected_request("2026-11-01", "2026-11-24"))
    with stubber:
        result = showback["app"].handler({"month": "2026-11"}, Context(), today=date(2026, 11, 24))
    assert result["period"] == "2026-11 (to 2026-11-24)" and result["costs"] == {}
    (message,) = showback["inbox"]()
    assert "total" in message and "0.00" in message


@pytest.mark.parametrize("event, reason", [
    ({"month": "2026-13"}, "month must be YYYY-MM (got '2026-13')"),
    ({"month": "2027-01"}, "month 2027-01 has not started yet"),
    ({"detail": {}}, 'expected the monthly schedule event or {"month": "YYYY-MM"}'),
    (["2026-11"], "event must be a JSON object (got list)"),
])
def test_a_malformed_request_publishes_nothing_and_says_why(showback, event, reason):
    with showback["stubber"]:  # no response queued: any Cost Explorer call would fail the test
        result = showback["app"].handler(event, Context(), today=date(2026, 11, 24))
    assert result == {"action": "ignore", "reason": reason}
    assert showback["inbox"]() == []


def test_period_boundaries():
    sys.path.insert(0, str(CODE))
    try:
        from showback import Period
    finally:
        sys.path.remove(str(CODE))
    assert Period.previous_month(date(2026, 1, 3)) == Period(date(2025, 12, 1), date(2026, 1, 1), "2025-12")
    assert Period.month("2026-02", date(2026, 5, 1)).end == date(2026, 3, 1)


def test_clients_retry_throttling_in_standard_mode(monkeypatch):
    """boto3 guide "Retries": standard mode retries throttling and transient errors; the default is legacy.
    Cost Explorer answers in us-east-1 only (https://docs.aws.amazon.com/general/latest/gr/billing.html)."""
    for name, value in {"TEAM": "fraud", "MODELS": "[]", "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:t",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(CODE))
    for module in ("app", "showback"):
        sys.modules.pop(module, None)
    ce, sns = importlib.import_module("app").clients()
    assert ce.meta.endpoint_url == "https://ce.us-east-1.amazonaws.com"
    for client in (ce, sns):
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    for module in ("app", "showback"):
        sys.modules.pop(module, None)


def test_a_failed_cost_explorer_read_publishes_nothing_and_fails_for_a_retry(showback):
    """The schedule's event is retried by Lambda, then goes to the dead-letter queue (alarmed); a partial
    table is never sent (docs/accounts-and-cost.md, "When an AWS call fails")."""
    from botocore.exceptions import ClientError

    stubber = showback["stubber"]
    for code, status in FAULTS:
        stubber.add_response("get_cost_and_usage", {"ResultsByTime": [{"Groups": [group("card-fraud", "1")]}],
                                                    "NextPageToken": "p2"}, expected_request("2026-11-01", "2026-12-01"))
        stubber.add_client_error("get_cost_and_usage", service_error_code=code, http_status_code=status)
        with stubber, pytest.raises(ClientError, match=code):
            showback["app"].handler(SCHEDULED, Context(), today=date(2026, 12, 3))
        stubber.assert_no_pending_responses()
        assert showback["inbox"]() == [], code


def test_a_failed_publish_fails_for_a_retry_that_sends_the_table_once(showback):
    from botocore.exceptions import ClientError

    stubber = showback["stubber"]
    _, sns = showback["app"].clients()
    for code, status in FAULTS:
        for _ in range(2):  # the failed run and Lambda's retry each read the costs
            stubber.add_response("get_cost_and_usage", {"ResultsByTime": [{"Groups": [group("card-fraud", "5")]}]},
                                 expected_request("2026-11-01", "2026-12-01"))
        inject_fault(sns, "publish", code, status)
        with stubber:
            with pytest.raises(ClientError, match=code):
                showback["app"].handler(SCHEDULED, Context(), today=date(2026, 12, 3))
            assert showback["app"].handler(SCHEDULED, Context(), today=date(2026, 12, 3))["action"] == "published"
        stubber.assert_no_pending_responses()
        assert len(showback["inbox"]()) == 1, code
