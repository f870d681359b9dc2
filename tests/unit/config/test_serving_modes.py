"""The serving-mode keys of a stage (`endpoint.mode`, `async_inference`, `batch`, `api`): what is accepted and
the one line for each value the services would reject."""

from __future__ import annotations

import copy
import json

import pytest

from stacks.config.fields import ConfigError
from stacks.config.manifest import parse_manifest
from tests.synth import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
BASE = json.loads((FIXTURES / "manifest-prod-gpu.json").read_text())
ASYNC = json.loads((FIXTURES / "manifest-prod-async.json").read_text())
BATCH = {"schedule": "cron(0 2 * * ? *)", "input_s3_uri": "s3://mf-fraud-111111111111-eu-west-1/scoring/in",
         "output_s3_uri": "s3://mf-fraud-111111111111-eu-west-1/scoring/out"}


def error_for(endpoint: dict, base: dict = BASE) -> str:
    data = copy.deepcopy(base)
    data["endpoint"].update(endpoint)
    with pytest.raises(ConfigError) as caught:
        parse_manifest(data, source="m.json")
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_realtime_is_the_default_and_async_scales_its_variant_not_an_inference_component():
    assert parse_manifest(BASE, source="m").endpoint.mode == "realtime"
    settings = parse_manifest(ASYNC, source="m").endpoint
    assert settings.is_async and settings.min_instances == 0
    assert not settings.scale_to_zero  # no inference component: the async variant itself scales to zero
    assert settings.invocation_dimensions("e") == {"EndpointName": "e", "VariantName": "g5-xlarge"}


def test_async_on_an_instance_family_async_inference_excludes():
    # async-inference.html: "if your endpoint uses any of the features listed in this Exclusions page, you cannot
    # use Asynchronous Inference" -> deployment-guardrails-exclusions.html: "Endpoints that use Inf1 instances"
    message = error_for({"instance_type": "ml.inf1.xlarge", "gpu_scaling": False, "gpu_utilization_target": None},
                        ASYNC)
    assert message.startswith("m.json: endpoint.instance_type: inf1 instances cannot serve mode: async")


def test_async_with_a_shadow_variant():
    # shadow-tests-exclusions.html lists asynchronous inference
    message = error_for({"mode": "async"})  # the GPU fixture has a shadow variant
    assert message.startswith("m.json: endpoint.shadow: is not available with mode: async")


def test_async_client_concurrency_outside_the_api_range():
    # botocore AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance: min 1, max 1000
    message = error_for({"async_inference": {"max_concurrent_invocations_per_instance": 1001}}, ASYNC)
    assert message.startswith("m.json: endpoint.async_inference.max_concurrent_invocations_per_instance: ")


def test_batch_mode_needs_its_batch_block_and_a_valid_schedule():
    assert error_for({"mode": "batch", "shadow": None}).startswith("m.json: endpoint.batch: is required with mode: batch")
    message = error_for({"mode": "batch", "shadow": None, "batch": {**BATCH, "schedule": "daily at 2"}})
    assert message.startswith("m.json: endpoint.batch.schedule: must be an EventBridge schedule expression")
    message = error_for({"mode": "batch", "shadow": None, "batch": {**BATCH, "schedule": "cron(0 2 * * * *)"}})
    assert message.startswith("m.json: endpoint.batch.schedule: cron() needs '?'")


def test_batch_output_inside_its_input_and_a_type_batch_transform_rejects():
    message = error_for({"mode": "batch", "shadow": None, "batch": {**BATCH, "output_s3_uri": BATCH["input_s3_uri"] + "/out"}})
    assert message.startswith("m.json: endpoint.batch.output_s3_uri: must not be under input_s3_uri")
    # botocore TransformInstanceType has no ml.t3 sizes
    message = error_for({"mode": "batch", "shadow": None, "batch": {**BATCH, "instance_type": "ml.t3.medium"}})
    assert message.startswith("m.json: endpoint.batch.instance_type: is not an instance type SageMaker accepts for "
                              "transform (TransformInstanceType)")


def test_jwt_without_issuer_or_audience_and_an_api_with_no_endpoint():
    assert error_for({"api": {"auth": "jwt", "audience": ["app"]}}) == (
        "m.json: endpoint.api.issuer: is required with auth: jwt (the https:// URL of the token issuer) (got None)")
    assert error_for({"api": {"auth": "jwt", "issuer": "https://login.example.com/"}}).startswith(
        "m.json: endpoint.api.audience: is required with auth: jwt")
    assert error_for({"api": {"auth": "jwt", "issuer": "http://login.example.com", "audience": ["a"]}}).startswith(
        "m.json: endpoint.api.issuer: must be an https:// issuer URL")
    message = error_for({"mode": "batch", "shadow": None, "batch": BATCH, "api": {}})
    assert message.startswith("m.json: endpoint.api: needs an endpoint: mode batch has none")


def test_a_valid_batch_stage_and_api_stage_parse():
    batch = copy.deepcopy(BASE)
    batch["endpoint"].update(mode="batch", shadow=None, batch=BATCH)
    assert parse_manifest(batch, source="m").endpoint.batch.instance_count == 1
    api = copy.deepcopy(ASYNC)
    api["endpoint"]["api"] = {"auth": "jwt", "issuer": "https://login.example.com/", "audience": ["scoring-app"],
                              "throttle_rps": 20, "burst": 40}
    assert parse_manifest(api, source="m").endpoint.api.burst == 40
