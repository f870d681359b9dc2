"""cdk-nag and cfn-lint are tests: zero unacknowledged findings, zero lint errors, templates well
inside CloudFormation's limits, for the example config and a generated many-team config."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

MAX_RESOURCES = 250 // 2
MAX_TEMPLATE_BYTES = 500 * 1024 // 2


@pytest.fixture(scope="module", params=["example_factory", "many_team_factory"])
def factory(request):
    return request.getfixturevalue(request.param)


def test_no_unacknowledged_cdk_nag_findings(factory):
    assert factory.findings == [], "\n".join(map(str, factory.findings))


def test_every_stage_was_checked_by_cdk_nag(factory):
    report = json.loads((factory.outdir / "validation-report.json").read_text())
    assert report["title"] == "Validation Report"


def test_cfn_lint_reports_no_errors_or_warnings(factory):
    templates = factory.template_files()
    assert len(templates) == len(factory.stages)
    problems = []
    for path in templates:
        region = json.loads(path.read_text()).get("Metadata", {}).get("region", "eu-west-1")
        matches = lint(path.read_text(), regions=[region])
        problems += [f"{path.name}: {m.rule.id} {m.message}" for m in matches if m.rule.id[0] in "EW"]
    assert problems == []


def test_templates_use_at_most_half_of_cloudformation_limits(factory):
    for path in factory.template_files():
        template = json.loads(path.read_text())
        assert len(template["Resources"]) <= MAX_RESOURCES, path.name
        assert path.stat().st_size <= MAX_TEMPLATE_BYTES, path.name
