"""The catalog's publish function under moto: an entry from the team's own factory account is stored, a newer
one replaces it and an older one never does; a malformed entry or one from an account that does not own the
team is refused in one line and stores nothing. The event starts from the documented EventBridge event
structure (EventBridge user guide, "Amazon EventBridge events": version, id, detail-type, source, account, time,
region, resources, detail), as PutEvents delivers a custom event; EventBridge sets `account` to the sender's."""

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

CODE = ROOT / "lambdas" / "catalog_publish"
DOCUMENTED = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "account": "111122223333",
    "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": " i-1234567890abcdef0", "state": "terminated"},
}
EXAMPLE = json.loads((ROOT / "config" / "catalog-example.json").read_text())["entries"]
FRAUD_PROD = next(e for e in EXAMPLE if e["team"] == "fraud" and e["stage"] == "prod")
TABLE, REGION = "mf-catalog", "eu-west-1"
OWNERS = {"fraud": "111111111111", "pricing": "222222222222"}


def event(entry: dict, account: str = "111111111111") -> dict:
    custom = copy.deepcopy(DOCUMENTED)
    custom.update({"detail-type": "Model Catalog Entry", "source": "model-factory.catalog", "account": account,
                   "region": REGION, "resources": [], "detail": entry})
    return custom


@pytest.fixture
def catalog(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "team", "KeyType": "HASH"},
                                         {"AttributeName": "key", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "team", "AttributeType": "S"},
                                                    {"AttributeName": "key", "AttributeType": "S"}])
        for name, value in {"CATALOG_TABLE_NAME": TABLE, "TEAM_ACCOUNTS": json.dumps(OWNERS),
                            "AWS_DEFAULT_REGION": REGION}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(CODE))
        for module in ("app", "store", "entry"):
            sys.modules.pop(module, None)
        app = importlib.import_module("app")
        yield app, dynamodb
        for module in ("app", "store", "entry"):
            sys.modules.pop(module, None)


def stored(dynamodb) -> list[dict]:
    return [json.loads(i["entry"]["S"]) for i in dynamodb.scan(TableName=TABLE)["Items"]]


def test_an_entry_from_the_teams_own_account_is_stored(catalog):
    app, dynamodb = catalog
    assert app.handler(event(FRAUD_PROD), Context()) == {"action": "stored", "reason": ""}
    (entry,) = stored(dynamodb)
    assert entry["model_package_arn"] == FRAUD_PROD["model_package_arn"] and entry["client"] == FRAUD_PROD["client"]


def test_a_newer_entry_replaces_it_and_an_older_one_never_does(catalog):
    app, dynamodb = catalog
    app.handler(event(FRAUD_PROD), Context())
    newer = {**FRAUD_PROD, "version": 9, "recorded_at": "2026-12-02T10:00:00+00:00",
             "model_package_arn": FRAUD_PROD["model_package_arn"].rsplit("/", 1)[0] + "/9"}
    assert app.handler(event(newer), Context())["action"] == "stored"
    late = {**FRAUD_PROD, "recorded_at": "2026-11-30T10:00:00+00:00"}
    assert app.handler(event(late), Context())["action"] == "stale"
    # offsets are compared as instants: the same instant in +01:00 replaces it (<=), half an hour earlier does not
    same = {**newer, "recorded_at": "2026-12-02T11:00:00+01:00"}
    assert app.handler(event(same), Context())["action"] == "stored"
    earlier = {**newer, "recorded_at": "2026-12-02T10:30:00+01:00"}  # 09:30 UTC, before 10:00 UTC
    assert app.handler(event(earlier), Context())["action"] == "stale"
    assert [e["version"] for e in stored(dynamodb)] == [9]


def test_an_entry_from_an_account_that_does_not_own_the_team_is_refused(catalog):
    app, dynamodb = catalog
    answer = app.handler(event(FRAUD_PROD, account="222222222222"), Context())
    assert answer == {"action": "refused",
                      "reason": "team: fraud belongs to account 111111111111, not to the sender 222222222222"}
    assert stored(dynamodb) == []


@pytest.mark.parametrize("mutate, reason", [
    (lambda e: e.pop("model_package_arn"), "model_package_arn: Field required"),
    (lambda e: e.update(version=3), "version: 3 is not the version of"),
    (lambda e: e.update(team="ghost-team"), "team: ghost-team is not a team of this factory"),
    (lambda e: e["serving"].update(url="http://plain.example.com"), "serving.url: String should match pattern"),
    (lambda e: e.update(owners=[]), "owners: List should have at least 1 item"),
    (lambda e: e.update(recorded_at="2026-12-03T00:00:00"), "recorded_at: Input should have timezone info"),
    (lambda e: e["metrics"].update(auc=float("nan")), "metrics.auc: Input should be a finite number"),
])
def test_a_malformed_entry_is_refused_in_one_line_and_never_overwrites_a_good_one(catalog, mutate, reason):
    app, dynamodb = catalog
    app.handler(event(FRAUD_PROD), Context())
    bad = copy.deepcopy(FRAUD_PROD)
    bad["recorded_at"] = "2026-12-03T00:00:00+00:00"
    mutate(bad)
    answer = app.handler(event(bad), Context())
    assert answer["action"] == "refused" and answer["reason"].startswith(reason) and "\n" not in answer["reason"]
    (kept,) = stored(dynamodb)
    assert kept["recorded_at"] == "2026-12-01T07:15:00Z" and kept["version"] == 7


def test_an_event_that_is_not_an_entry_is_refused(catalog):
    app, _ = catalog
    assert app.handler({"detail": {}}, Context()) == {"action": "refused",
                                                      "reason": "(event): not an EventBridge event (no account)"}
    assert app.handler(DOCUMENTED, Context()) == {"action": "refused", "reason": "team: Field required"}


def test_a_failed_write_raises_so_that_eventbridge_retries_then_dead_letters(catalog):
    app, dynamodb = catalog
    for code, status in FAULTS:
        inject_fault(app.dynamodb(), "put_item", code, status)
        with pytest.raises(app.dynamodb().exceptions.ClientError, match=code):
            app.handler(event(FRAUD_PROD), Context())
    assert stored(dynamodb) == []
