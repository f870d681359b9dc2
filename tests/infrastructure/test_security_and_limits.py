"""cdk-nag and cfn-lint are tests: zero unacknowledged findings, zero lint errors, templates well
inside CloudFormation's limits, for the example config and a generated many-team config."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.helpers import lint_region, templates_by_region

# CloudFormation quotas (CloudFormation user guide, "Quotas"): 500 resources per template; a template body of
# 1 MB when passed through S3, as the CDK CLI and the CodePipeline action do. Our templates stay under half.
RESOURCE_QUOTA = 500
TEMPLATE_BYTES_QUOTA = 1024 * 1024


@pytest.fixture(scope="module", params=["example_factory", "many_team_factory"])
def factory(request):
    return request.getfixturevalue(request.param)


def test_no_unacknowledged_cdk_nag_findings(factory):
    assert factory.findings == [], "\n".join(map(str, factory.findings))


def test_every_stack_of_every_stage_is_checked_by_cdk_nag(tmp_path_factory):
    """A resource cdk-nag must flag (an SQS queue without encryption, SSL or a DLQ) in each kind of stack
    yields a finding on that stack: nothing escapes the checks."""
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from scripts.generate_config import generate_config
    from stacks.common.nag import synth_and_report
    from stacks.config.factory import parse_config
    from stacks.factory_app import build_factory
    from tests.synth import project_context

    data = generate_config(1, 1)
    data["teams"][0]["accounts"] = {"staging": "300000000000", "prod": "400000000000"}
    config = parse_config(data, source="generated")
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("nag-probe")), context=project_context())
    stages = build_factory(app, config)
    stacks = [stack for stage in stages.values()
              for stack in (stage.foundation, *stage.builds.values(), *stage.targets.values())]
    for stack in stacks:
        sqs.Queue(stack, "NagProbe")
    findings = synth_and_report(app)
    flagged = {f.construct_path.split("/NagProbe")[0] for f in findings if "/NagProbe" in f.construct_path}
    assert flagged == {stack.node.path for stack in stacks}


def test_cfn_lint_reports_no_errors_or_warnings(factory):
    grouped = templates_by_region(factory.outdir)
    # every team's stacks and the factory's catalog stack
    assert sum(map(len, grouped.values())) == len(factory.template_files()) == 1 + sum(
        1 + len(stage.builds) + len(stage.targets) for stage in factory.stages.values())
    with ProcessPoolExecutor(max_workers=2) as pool:
        problems = [p for result in pool.map(lint_region, grouped, grouped.values()) for p in result]
    assert problems == []


def test_templates_use_at_most_half_of_cloudformation_limits(factory):
    for path in factory.template_files():
        template = json.loads(path.read_text())
        assert len(template["Resources"]) <= RESOURCE_QUOTA // 2, path.name
        assert path.stat().st_size <= TEMPLATE_BYTES_QUOTA // 2, path.name
