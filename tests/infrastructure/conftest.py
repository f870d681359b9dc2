"""Templates the infrastructure tests share, each synthesized once per session: the example factory's
foundation stacks and endpoint stacks from the deploy-manifest fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.common.nag import install_checks, synth_and_report
from stacks.config.manifest import load_manifest, parse_manifest
from stacks.endpoint_stack import EndpointStack
from tests.infrastructure.endpoint_manifests import CPU_MANIFEST, FIXTURES
from tests.synth import project_context


@pytest.fixture(scope="session")
def fraud(example_factory) -> Template:
    """The example config's fraud foundation stack."""
    return example_factory.template("fraud")


@pytest.fixture(scope="session")
def pricing(example_factory) -> Template:
    return example_factory.template("pricing")


@pytest.fixture(scope="session")
def endpoints(tmp_path_factory) -> dict:
    outdir: Path = tmp_path_factory.mktemp("endpoints")
    app = cdk.App(outdir=str(outdir), context=project_context())
    install_checks(app)
    manifests = {
        "prod": load_manifest(FIXTURES / "manifest-prod-gpu.json"),
        "factory": load_manifest(FIXTURES / "manifest-prod-factory-engine.json"),
        "async": load_manifest(FIXTURES / "manifest-prod-async.json"),
        "batch": load_manifest(FIXTURES / "manifest-prod-batch.json"),
        # real time with nightly batch scoring beside it (Model Monitor engine: no drift step in the batch)
        "cpu-batch": parse_manifest({**CPU_MANIFEST, "endpoint": {**CPU_MANIFEST["endpoint"], "batch": {
            "schedule": "rate(12 hours)", "input_s3_uri": "s3://mf-pricing-222222222222-eu-west-1/scoring/in",
            "output_s3_uri": "s3://mf-pricing-222222222222-eu-west-1/batch/out", "instance_type": "ml.g5.xlarge"}},
            "monitoring": {"enabled": False}}, source="cpu-batch"),
        "factory-staging": parse_manifest({**json.loads((FIXTURES / "manifest-prod-factory-engine.json").read_text()),
                                           "stage": "staging"}, source="factory-staging"),
        "staging": load_manifest(FIXTURES / "manifest-staging-scale-to-zero.json"),
        "cpu": parse_manifest(CPU_MANIFEST, source="cpu"),
        "staging-variant": parse_manifest({**CPU_MANIFEST, "stage": "staging", "endpoint": {
            "instance_type": "ml.g4dn.xlarge", "initial_instances": 1, "min_instances": 1, "max_instances": 2}},
            source="staging-variant"),
        "separate": parse_manifest({**CPU_MANIFEST, "account": "444444444444", "factory_account": "222222222222"},
                                   source="separate"),
    }
    stacks = {name: EndpointStack(app, f"Endpoint-{name}", manifest=m) for name, m in manifests.items()}
    findings = synth_and_report(app)
    templates = {name: Template.from_stack(stack) for name, stack in stacks.items()}
    return {"templates": templates, "stacks": stacks, "findings": findings, "outdir": outdir}


@pytest.fixture(scope="session")
def prod(endpoints) -> Template:
    return endpoints["templates"]["prod"]


@pytest.fixture(scope="session")
def staging(endpoints) -> Template:
    return endpoints["templates"]["staging"]


@pytest.fixture(scope="session")
def cpu(endpoints) -> Template:
    return endpoints["templates"]["cpu"]


@pytest.fixture(scope="session")
def factory_engine(endpoints) -> Template:
    """The prod GPU endpoint watched by the factory engine (with ground truth)."""
    return endpoints["templates"]["factory"]


@pytest.fixture(scope="session")
def factory_engine_staging(endpoints) -> Template:
    return endpoints["templates"]["factory-staging"]


@pytest.fixture(scope="session")
def async_prod(endpoints) -> Template:
    """The prod GPU endpoint in mode async, scaling to zero on its queue (factory engine watching it)."""
    return endpoints["templates"]["async"]


@pytest.fixture(scope="session")
def batch_prod(endpoints) -> Template:
    """The prod stage in mode batch: no endpoint, a nightly transform judged by the factory engine."""
    return endpoints["templates"]["batch"]


@pytest.fixture(scope="session")
def cpu_batch(endpoints) -> Template:
    return endpoints["templates"]["cpu-batch"]
