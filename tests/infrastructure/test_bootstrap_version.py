"""The bootstrap version `make doctor` requires (scripts/doctor.py) against what the synthesized stacks need."""

from __future__ import annotations

import json

from scripts import doctor


def test_min_bootstrap_version_covers_every_synthesized_stack(example_factory):
    """The cloud assembly's manifest states the bootstrap version each stack and each role it uses needs
    (CDK's cloud-assembly-schema: requiresBootstrapStackVersion; 8 is the lookup role cdk diff uses)."""
    def versions(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from [value] if key == "requiresBootstrapStackVersion" else versions(value)
        elif isinstance(node, list):
            for item in node:
                yield from versions(item)

    required = {v for manifest in example_factory.outdir.glob("**/manifest.json")
                for v in versions(json.loads(manifest.read_text()))}
    assert required and max(required) == doctor.MIN_BOOTSTRAP_VERSION
