#!/usr/bin/env python3
"""The cdk-nag NIST 800-53 rev 5 pack's findings on the example config (informational, for `make bench`):
the factory is synthesized in-process with the pack added as a second policy-validation plugin, and the
violating constructs its plugin report lists are counted per rule (the AwsSolutions acknowledgements do not
apply to it). The AwsSolutions pack stays the must-pass gate of every synth."""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def nist_findings(config_path: Path = ROOT / "config" / "factory.yaml") -> Counter:
    import aws_cdk as cdk
    from cdk_nag import NIST80053R5Checks

    from stacks.common.nag import REPORT_FILE, synth_and_report
    from stacks.config.factory import load_config
    from stacks.factory_app import build_factory
    from tests.synth import project_context

    with tempfile.TemporaryDirectory(prefix="mf-nist-") as outdir:
        app = cdk.App(outdir=outdir, context=project_context())
        config = load_config(str(config_path))
        build_factory(app, config, list(config.teams))
        cdk.Validations.of(app).add_plugins(NIST80053R5Checks(app))
        synth_and_report(app)
        report = json.loads((Path(outdir) / REPORT_FILE).read_text(encoding="utf-8"))
        found: Counter = Counter()
        for plugin in report.get("pluginReports", []):
            if "NIST" not in plugin.get("pluginName", ""):
                continue
            for violation in plugin.get("violations", []):
                found[violation["ruleName"]] += len(violation.get("violatingConstructs", []))
        return found

if __name__ == "__main__":
    findings = nist_findings()
    print(f"NIST 800-53 rev 5 findings: {sum(findings.values())} ({len(findings)} rules)")
    for rule, count in findings.most_common():
        print(f"  {rule}: {count}")
