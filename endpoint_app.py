#!/usr/bin/env python3
"""CDK entry point of one endpoint stack, synthesized from a deploy manifest (context ``manifest``).

    make synth-endpoint MANIFEST=tests/fixtures/manifest-prod-gpu.json OUT=build/endpoint

The deploy pipeline runs the same code in CodeBuild for staging and prod.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.common.nag import exit_code_for, install_checks, synth_and_report
from stacks.common.synthesis import APP_CONTEXT
from stacks.config.fields import ConfigError
from stacks.config.manifest import load_manifest
from stacks.endpoint_stack import EndpointStack


def main() -> int:
    app = cdk.App(context=APP_CONTEXT)
    manifest_path = app.node.try_get_context("manifest")
    if not manifest_path:
        print("endpoint app: no deploy manifest given (context 'manifest')", file=sys.stderr)
        return 1
    try:
        manifest = load_manifest(manifest_path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    install_checks(app)
    EndpointStack(app, "Endpoint", manifest=manifest)
    return exit_code_for(synth_and_report(app))


if __name__ == "__main__":
    sys.exit(main())
