"""What every app of the factory sets on `cdk.App` before it builds anything (app.py, endpoint_app.py and the
tests' in-process synths), so that all of them synthesize the same way."""

from __future__ import annotations

# CDK records a creation stack trace on every construct unless this is set (aws-cdk-lib core/lib/cfn-element.js,
# cx-api DISABLE_CREATION_STACK_TRACES). From Python every trace reads "...jsii runtime, node internals...", so they
# carry nothing and cost synth time; `cdk synth --debug` still records them (CDK's debugModeEnabled).
# The key starts with "aws:", which the CLI refuses as user context, so the app sets it.
APP_CONTEXT = {"aws:cdk:disable-creation-stack-traces": True}
