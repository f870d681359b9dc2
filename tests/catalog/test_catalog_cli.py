"""`make catalog` / `scripts/catalog.py`: search and filters on an export, the live catalog read under moto (the
table as the catalog stack keys it), one line for what cannot be read, and the example export kept in step with
the example config and the catalog's own entry model."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from moto import mock_aws

from scripts import catalog
from scripts.catalog_example import example_export
from stacks.config.factory import load_config
from tests.helpers import FAULTS, inject_fault
from tests.synth import ROOT

EXAMPLE = catalog.load_export(catalog.EXAMPLE)


def test_the_example_export_is_the_example_configs_catalog():
    # every stage of every model of the example config, as the deploy records it (scripts/catalog_example.py)
    config = load_config(ROOT / "config" / "factory.yaml")
    assert json.loads(catalog.EXAMPLE.read_text()) == example_export(config)
    assert {(e.team, e.model, e.stage) for e in EXAMPLE} == {
        (t.name, m.name, s) for t in config.teams for m in t.models for s in ("staging", "prod")}


@pytest.mark.parametrize("query, team, expected", [
    ("", None, [("fraud", "card-fraud", "prod"), ("fraud", "card-fraud", "staging"),
                ("pricing", "demand-forecast", "prod"), ("pricing", "demand-forecast", "staging")]),
    ("FRAUD authorisation", None, [("fraud", "card-fraud", "prod"), ("fraud", "card-fraud", "staging")]),
    ("competitor_price", None, [("pricing", "demand-forecast", "prod"), ("pricing", "demand-forecast", "staging")]),
    ("regression", "fraud", []),
    ("binary classification", None, [("fraud", "card-fraud", "prod"), ("fraud", "card-fraud", "staging")]),
])
def test_search_covers_name_description_team_problem_type_and_features(query, team, expected):
    assert [(e.team, e.model, e.stage) for e in catalog.select(EXAMPLE, query=query, team=team)] == expected


def test_the_list_and_the_json_export(capsys):
    assert catalog.main(["list", "card", "--source", str(catalog.EXAMPLE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["team", "model", "stage", "version", "mode", "problem", "type", "quality", "call"]
    assert "auc 0.958" in lines[1] and lines[1].rstrip().endswith("/prod/card-fraud/invocations")
    assert catalog.main(["list", "--team", "pricing", "--json", "--source", str(catalog.EXAMPLE)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [e["stage"] for e in exported["entries"]] == ["prod", "staging"]
    # an export reads back: the same format as the example
    assert [e.model_dump(mode="json") for e in catalog.load_export_data(exported)] == exported["entries"]


def test_a_bad_export_is_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"entries": [{"team": "fraud"}]}')
    assert catalog.main(["list", "--source", str(broken)]) == 1
    assert capsys.readouterr().err.strip() == f"{broken}: entries[0].model: Field required"
    assert catalog.main(["list", "--source", str(tmp_path / "missing.json")]) == 1
    assert "cannot read the export" in capsys.readouterr().err


@pytest.fixture
def table():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(TableName="mf-catalog", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "team", "KeyType": "HASH"},
                                         {"AttributeName": "key", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "team", "AttributeType": "S"},
                                                    {"AttributeName": "key", "AttributeType": "S"}])
        for entry in EXAMPLE:
            dynamodb.put_item(TableName="mf-catalog", Item={
                "team": {"S": entry.team}, "key": {"S": entry.key}, "recorded_at": {"S": entry.recorded_utc},
                "entry": {"S": json.dumps(entry.model_dump(mode="json"))}})
        yield dynamodb


def test_the_live_catalog_is_the_table(table):
    assert sorted((e.team, e.key) for e in catalog.scan_table(table)) == sorted((e.team, e.key) for e in EXAMPLE)


def test_a_failed_read_of_the_live_catalog_is_an_aws_error(table):
    for code, status in FAULTS:
        inject_fault(table, "scan", code, status)
        with pytest.raises(table.exceptions.ClientError, match=code):
            catalog.scan_table(table)


def test_make_catalog_without_credentials_is_one_line_and_exit_1():
    result = subprocess.run(["make", "--no-print-directory", "catalog"], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
                                 "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[0] == (
        "catalog: cannot read mf-catalog in 111111111111/eu-west-1: Unable to locate credentials")


def test_the_site_has_one_page_per_model_and_escapes_what_it_shows(tmp_path):
    hostile = [e.model_copy(update={"description": "<!--<script>alert(1)</script>"}) if e.team == "fraud" else e
               for e in EXAMPLE]
    written = catalog.site(hostile, tmp_path)
    assert sorted(p.name for p in written) == ["fraud--card-fraud.html", "index.html", "pricing--demand-forecast.html"]
    page = (tmp_path / "models" / "fraud--card-fraud.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    index = (tmp_path / "index.html").read_text()
    blob = index.split('type="application/json">')[1].split("</script>")[0]
    # no "<" inside the data block: neither "</script" nor "<!--" can change how the page parses
    assert "<" not in blob and json.loads(blob)[0]["description"] == "<!--<script>alert(1)</script>"


def test_make_catalog_site_needs_out():
    result = subprocess.run(["make", "--no-print-directory", "catalog-site"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "catalog-site: OUT=<directory> is required"


def test_the_site_is_published_to_a_private_bucket(tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="acme-internal", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        written = catalog.site(EXAMPLE, tmp_path)
        assert catalog.publish_site(s3, written, tmp_path, "s3://acme-internal/catalog/") == 3
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="acme-internal")["Contents"])
        assert keys == ["catalog/index.html", "catalog/models/fraud--card-fraud.html",
                        "catalog/models/pricing--demand-forecast.html"]
        assert s3.head_object(Bucket="acme-internal", Key=keys[0])["ContentType"] == "text/html; charset=utf-8"
        with pytest.raises(catalog.CatalogError, match="--publish: must be an s3://<bucket>/<prefix> URI"):
            catalog.publish_site(s3, written, tmp_path, "acme-internal")
        for code, status in FAULTS:
            inject_fault(s3, "put_object", code, status)
            with pytest.raises(s3.exceptions.ClientError, match=code):
                catalog.publish_site(s3, written, tmp_path, "s3://acme-internal/catalog")
