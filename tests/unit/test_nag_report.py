"""cdk-nag's validation report: AwsSolutions findings fail the synth, the informational NIST 800-53 rev 5
pack's are only counted (the report format is the CDK's policy-validation report, validation-report.json)."""

from __future__ import annotations

import json

from stacks.common.nag import REPORT_FILE, exit_code_for, informational_summary, unacknowledged_findings


def report(tmp_path, *plugins: tuple[str, list[str]]):
    (tmp_path / REPORT_FILE).write_text(json.dumps({"pluginReports": [
        {"pluginName": name, "conclusion": "failure", "violations": [
            {"ruleName": rule, "description": "d", "violatingConstructs": [{"constructPath": f"app/{i}"}]}
            for i, rule in enumerate(rules)]} for name, rules in plugins]}))
    return unacknowledged_findings(tmp_path)


def test_informational_findings_are_counted_and_never_fail_the_synth(tmp_path, capsys):
    findings = report(tmp_path, ("NIST.800.53.R5", ["NIST.800.53.R5-LambdaInsideVPC", "NIST.800.53.R5-LambdaInsideVPC",
                                                     "NIST.800.53.R5-IAMNoInlinePolicy"]))
    assert exit_code_for(findings) == 0
    assert informational_summary(findings) == ("NIST 800-53 rev 5 findings (informational): 3 in 2 rules: "
                                               "LambdaInsideVPC 2, IAMNoInlinePolicy 1")


def test_an_aws_solutions_finding_still_fails_beside_them(tmp_path, capsys):
    findings = report(tmp_path, ("NIST.800.53.R5", ["NIST.800.53.R5-LambdaInsideVPC"]),
                      ("AwsSolutions", ["AwsSolutions-IAM5"]))
    assert exit_code_for(findings) == 1
    assert "1 unacknowledged cdk-nag finding(s)" in capsys.readouterr().err
