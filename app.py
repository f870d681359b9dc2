#!/usr/bin/env python3
"""CDK entry point: read the factory config once, build one stage per team, fail on any finding.

Run through the CDK CLI (``make synth``); the config file comes from the ``config`` context value.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.config import ConfigError, load_config
from stacks.factory_app import build_factory
from stacks.nag import unacknowledged_findings

DEFAULT_CONFIG = "config/factory.yaml"


def main() -> int:
    app = cdk.App()
    config_path = app.node.try_get_context("config") or DEFAULT_CONFIG
    try:
        config = load_config(config_path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    build_factory(app, config)
    try:
        app.synth()
    except RuntimeError as error:
        # cdk-nag raises ValidationFailed in some run modes and only writes the report in others:
        # the report is the one source of truth either way.
        if "ValidationFailed" not in str(error):
            raise
    findings = unacknowledged_findings(app.outdir)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"synth failed: {len(findings)} unacknowledged cdk-nag finding(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
