#!/usr/bin/env python3
"""CDK entry point: read the factory config once, build one stage per team, fail on any finding.

Run through the CDK CLI (``make synth``); the config file comes from the ``config`` context value, and
``teams`` (``make synth TEAMS=a,b``) builds only those teams' stages after validating the whole config;
``nist=1`` also runs cdk-nag's NIST 800-53 rev 5 pack and prints its findings' count (informational).
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.common.nag import exit_code_for, informational_summary, install_informational_checks, synth_and_report
from stacks.common.synthesis import APP_CONTEXT
from stacks.config.factory import load_config
from stacks.config.fields import ConfigError
from stacks.factory_app import build_factory

DEFAULT_CONFIG = "config/factory.yaml"


def main() -> int:
    app = cdk.App(context=APP_CONTEXT)
    config_path = app.node.try_get_context("config") or DEFAULT_CONFIG
    try:
        config = load_config(config_path)
        selected = app.node.try_get_context("teams")
        # only the teams named (validated against the config), or None: the whole factory, with the catalog
        teams = config.select(None if selected is None else str(selected), source=config_path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    build_factory(app, config, teams)
    nist = bool(app.node.try_get_context("nist"))
    if nist:
        install_informational_checks(app)
    findings = synth_and_report(app)
    if nist:
        print(informational_summary(findings), file=sys.stderr)
    return exit_code_for(findings)


if __name__ == "__main__":
    sys.exit(main())
