"""cdk-nag and cfn-lint are tests: zero unacknowledged findings, zero lint errors, templates well
inside CloudFormation's limits, for the example config and a generated many-team config."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.helpers import lint_region, templates_by_region

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
    grouped = templates_by_region(factory.outdir)
    assert sum(map(len, grouped.values())) == len(factory.template_files()) == sum(
        1 + len(stage.builds) + len(stage.targets) for stage in factory.stages.values())
    with ProcessPoolExecutor(max_workers=2) as pool:
        problems = [p for result in pool.map(lint_region, grouped, grouped.values()) for p in result]
    assert problems == []


def test_templates_use_at_most_half_of_cloudformation_limits(factory):
    for path in factory.template_files():
        template = json.loads(path.read_text())
        assert len(template["Resources"]) <= MAX_RESOURCES, path.name
        assert path.stat().st_size <= MAX_TEMPLATE_BYTES, path.name
