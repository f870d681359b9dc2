"""cdk-nag wiring: the AwsSolutions pack on the whole app, per-finding acknowledgements, and the
report check that turns any unacknowledged finding into a failed synth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.common.arns import stack_environment

REPORT_FILE = "validation-report.json"


# An informational pack (`cdk synth --context nist=1`): reported, never failing the synth.
INFORMATIONAL_PLUGIN = "NIST.800.53.R5"


@dataclass(frozen=True)
class Finding:
    rule: str
    construct_path: str
    description: str
    plugin: str = ""

    def __str__(self) -> str:
        return f"cdk-nag: {self.construct_path}: {self.rule}: {self.description}"


def install_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def install_informational_checks(app: cdk.App) -> None:
    """The NIST 800-53 rev 5 pack beside AwsSolutions: its findings are counted (make bench), not gated."""
    from cdk_nag import NIST80053R5Checks

    cdk.Validations.of(app).add_plugins(NIST80053R5Checks(app))


def informational_summary(findings: list[Finding]) -> str:
    from collections import Counter

    rules = Counter(f.rule.split("::")[-1].removeprefix(f"{INFORMATIONAL_PLUGIN}-") for f in findings
                    if INFORMATIONAL_PLUGIN in f.plugin)
    listed = ", ".join(f"{rule} {count}" for rule, count in rules.most_common())
    return f"NIST 800-53 rev 5 findings (informational): {sum(rules.values())} in {len(rules)} rules: {listed}"


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge exactly one finding (``AwsSolutions-IAM5[Resource::...]``) on one construct."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def acknowledge_each(construct: IConstruct, reasons: dict[str, str]) -> None:
    """Several findings on one construct, each with its reason (one call: synth time grows per call)."""
    cdk.Validations.of(construct).acknowledge(
        *(cdk.Acknowledgment(id=rule_id, reason=reason) for rule_id, reason in reasons.items()))


ARTIFACT_GRANT_ACTIONS = ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*",
                          "kms:GenerateDataKey*", "kms:ReEncrypt*")


def pipeline_artifact_reasons(stack: cdk.Stack, artifact_objects_arn: str) -> dict[str, str]:
    """The wildcards of CDK's grants on a CodePipeline artifact store (here: the team bucket and key)."""
    reasons = {
        f"AwsSolutions-IAM5[Action::{action}]": (
            "CDK's grant on the pipeline's artifact store, which is the team bucket and team key only: "
            "artifacts are read, written and encrypted under object keys created per execution.")
        for action in ARTIFACT_GRANT_ACTIONS
    }
    reasons[f"AwsSolutions-IAM5[Resource::{nag_text(stack, artifact_objects_arn)}]"] = (
        "CodePipeline names artifact objects per execution inside the team's own artifact bucket.")
    return reasons


def codebuild_default_reasons(stack: cdk.Stack, project_name: str) -> dict[str, str]:
    """The wildcards of the grants CodeBuild gives every project on its own logs and report groups."""
    stack_env = stack_environment(stack)
    project = nag_text(stack, project_name)
    prefix = f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}"
    return {
        f"{prefix}:logs:{stack_env.region}:{stack_env.account}:log-group:/aws/codebuild/{project}:*]": (
            "CodeBuild's default grant for the log streams of this one project."),
        f"{prefix}:codebuild:{stack_env.region}:{stack_env.account}:report-group/{project}-*]": (
            "CodeBuild's default grant for the test report groups of this one project."),
    }


def nag_text(stack: cdk.Stack, value: str) -> str:
    """A token-bearing string as cdk-nag spells it inside finding ids: ``<Logical.Arn>`` for GetAtt,
    ``<Logical>`` for Ref and pseudo parameters, other intrinsics as compact JSON."""
    if "${Token[" not in value:
        return value  # already literal: skip a round trip to the jsii runtime
    return _render(stack.resolve(value))


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (name, argument), = value.items()
        if name == "Ref":
            return f"<{argument}>"
        if name == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
        if name == "Fn::Join" and argument[0] == "":
            return "".join(_render(part) for part in argument[1])
    return json.dumps(value, separators=(",", ":"))


def unacknowledged_findings(outdir: str | Path) -> list[Finding]:
    """Every violation listed in the assembly's validation report (acknowledged ones are not listed)."""
    report_path = Path(outdir) / REPORT_FILE
    if not report_path.exists():
        return []
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return [
        Finding(rule=violation["ruleName"], construct_path=construct["constructPath"],
                description=violation["description"], plugin=plugin.get("pluginName", ""))
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


def synth_and_report(app: cdk.App) -> list[Finding]:
    """Synthesize with the checks installed and return every unacknowledged finding.

    cdk-nag raises ValidationFailed in some run modes and only writes the report in others: the report
    is the one source of truth either way.
    """
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
    return unacknowledged_findings(app.outdir)


def exit_code_for(findings: list[Finding]) -> int:
    import sys

    findings = [f for f in findings if INFORMATIONAL_PLUGIN not in f.plugin]
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"synth failed: {len(findings)} unacknowledged cdk-nag finding(s)", file=sys.stderr)
        return 1
    return 0
