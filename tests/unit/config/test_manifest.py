"""Deploy manifests and endpoint settings: every bad input is one line naming the field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.common.monitor_images import MODEL_MONITOR_REGISTRIES
from stacks.config.endpoint import EndpointSettings
from stacks.config.factory import parse_config
from stacks.config.fields import ConfigError
from stacks.config.instances import GPU_COUNT
from stacks.config.manifest import load_manifest, parse_manifest
from tests.synth import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
BASE = json.loads((FIXTURES / "manifest-prod-gpu.json").read_text())


def error_for(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_manifest(data, source="m.json")
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_fixtures_are_valid():
    prod = load_manifest(FIXTURES / "manifest-prod-gpu.json")
    staging = load_manifest(FIXTURES / "manifest-staging-scale-to-zero.json")
    assert prod.endpoint_name == "mf-fraud-card-fraud-prod" and not prod.endpoint.scale_to_zero
    assert staging.endpoint.scale_to_zero and staging.stack_name == "mf-fraud-card-fraud-staging-endpoint"


def test_derived_scaling_values():
    settings = EndpointSettings(instance_type="ml.g5.12xlarge", max_rps_per_instance=40, gpu_utilization_target=60)
    assert settings.invocations_target_per_instance == 40 * 0.5 * 60
    assert settings.gpus_per_instance == 4
    assert settings.gpu_metric_target == 240
    cpu = EndpointSettings(instance_type="ml.m5.xlarge")
    assert cpu.gpu_metric_target is None and cpu.volume_accepts_kms_key
    assert EndpointSettings().effective_gpu_target_percent == 70  # GPU policy on by default for GPU instances


def test_gpu_only_option_on_a_cpu_instance():
    message = error_for(lambda d: d["endpoint"].update(instance_type="ml.m5.xlarge", gpu_utilization_target=60))
    assert message == "m.json: endpoint.gpu_utilization_target: is a GPU-only option and ml.m5.xlarge has no GPU (got 60.0)"


def test_min_above_max():
    message = error_for(lambda d: d["endpoint"].update(min_instances=5, max_instances=3, initial_instances=3,
                                                       schedule=[]))
    assert message == "m.json: endpoint.min_instances: must not exceed max_instances (3) (got 5)"


@pytest.mark.parametrize("initial", [0, 13])
def test_initial_outside_bounds(initial):
    message = error_for(lambda d: d["endpoint"].update(initial_instances=initial))
    assert message == (f"m.json: endpoint.initial_instances: must be within [min_instances, max_instances] = [2, 12] "
                       f"(got {initial})")


def test_non_ml_instance_type():
    message = error_for(lambda d: d["endpoint"].update(instance_type="g5.xlarge"))
    assert message.startswith("m.json: endpoint.instance_type: must be a SageMaker instance type")


def test_gpu_family_absent_from_the_table_when_gpu_scaling_is_asked():
    message = error_for(lambda d: d["endpoint"].update(instance_type="ml.g7.2xlarge"))
    assert message.startswith("m.json: endpoint.instance_type: is not in the GPU table")
    assert message.endswith("(got 'ml.g7.2xlarge')")
    data = copy.deepcopy(BASE)
    data["endpoint"].update(instance_type="ml.g7.2xlarge", gpu_scaling=False, gpu_utilization_target=None)
    assert parse_manifest(data, source="m.json").endpoint.gpu_policy_target is None


@pytest.mark.parametrize("where", ["model_package_arn", "shadow"])
def test_malformed_arn(where):
    if where == "shadow":
        message = error_for(lambda d: d["endpoint"]["shadow"].update(model_package_arn="arn:aws:sagemaker:x"))
        assert message.startswith("m.json: endpoint.shadow.model_package_arn: must be a versioned model package ARN")
    else:
        message = error_for(lambda d: d.update(model_package_arn="mf-fraud-card-fraud/7"))
        assert message.startswith("m.json: model_package_arn: must be a versioned model package ARN")


def test_shadow_without_package_arn():
    message = error_for(lambda d: d["endpoint"].update(shadow={"sampling_percent": 10}))
    assert message == "m.json: endpoint.shadow.model_package_arn: is required (got nothing)"


def test_shadow_with_scale_to_zero():
    message = error_for(lambda d: d["endpoint"].update(min_instances=0, schedule=[]))
    assert message.startswith("m.json: endpoint.shadow: is not available with min_instances 0")


def test_schedule_outside_bounds_and_bad_cron():
    message = error_for(lambda d: d["endpoint"]["schedule"][0].update(max=20))
    assert message == ("m.json: endpoint.schedule[0]: must stay within [min_instances, max_instances] = [2, 12] "
                       "(got '9-20')")
    message = error_for(lambda d: d["endpoint"]["schedule"][0].update(cron="every morning"))
    assert message.startswith("m.json: endpoint.schedule[0].cron: must be an Application Auto Scaling cron(")


def test_unknown_stage_and_unknown_key():
    assert error_for(lambda d: d.update(stage="dev")).startswith("m.json: stage: input should be 'staging' or 'prod'")
    assert error_for(lambda d: d["endpoint"].update(gpus=2)) == "m.json: endpoint.gpus: unknown key (got 2)"


def test_invalid_json_and_missing_file(tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"team": "fraud",\n  "model": }\n')
    with pytest.raises(ConfigError, match=r"broken.json: line 2, column 12: invalid JSON: Expecting value"):
        load_manifest(broken)
    with pytest.raises(ConfigError, match="cannot read the manifest"):
        load_manifest(tmp_path / "absent.json")


def test_endpoint_app_rejects_a_bad_manifest_with_one_line_and_no_template(tmp_path: Path):
    manifest = tmp_path / "bad.json"
    data = copy.deepcopy(BASE)
    data["endpoint"]["min_instances"] = 20
    manifest.write_text(json.dumps(data))
    outdir = tmp_path / "out"
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"manifest": str(manifest)}), "CDK_OUTDIR": str(outdir)}
    result = subprocess.run([sys.executable, "endpoint_app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{manifest}: endpoint.min_instances: must not exceed max_instances (12) (got 20)"]
    assert not list(outdir.glob("**/*.template.json"))


def test_factory_config_carries_endpoint_settings_per_stage():
    config = yaml_example()
    config["teams"][0]["models"][0]["endpoint"] = {"prod": {"instance_type": "ml.g5.2xlarge", "max_instances": 6}}
    model = parse_config(config, source="f.yaml").teams[0].models[0]
    assert model.endpoint.prod.max_instances == 6
    assert model.endpoint.staging.scale_to_zero  # documented default: staging scales to zero
    config["teams"][0]["models"][0]["endpoint"] = {"staging": {"instance_type": "ml.m5.large",
                                                               "gpu_utilization_target": 50}}
    with pytest.raises(ConfigError) as caught:
        parse_config(config, source="f.yaml")
    assert str(caught.value).startswith(
        "f.yaml: teams[0].models[0].endpoint.staging.gpu_utilization_target: is a GPU-only option")


def yaml_example() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config" / "factory.yaml").read_text())


def test_gpu_table_agrees_with_the_sagemaker_sdk():
    from sagemaker.core import instance_types_gpu_info

    sdk = instance_types_gpu_info.retrieve("us-east-1")
    compared = 0
    for family, sizes in GPU_COUNT.items():
        for size, count in sizes.items():
            known = sdk.get(f"ml.{family}.{size}")
            if known:
                assert known["Count"] == count, f"ml.{family}.{size}"
                compared += 1
    assert compared >= 15


def test_monitoring_needs_captured_data():
    message = error_for(lambda d: d["endpoint"].update(data_capture_percent=0))
    assert message.startswith("m.json: monitoring: needs captured data")


FACTORY = json.loads((FIXTURES / "manifest-prod-factory-engine.json").read_text())


def test_the_factory_engine_needs_the_registered_baseline_code_and_image():
    assert parse_manifest(FACTORY, source="m.json").monitoring.active
    for missing in ("drift_baseline", "drift_code", "drift_image"):
        data = copy.deepcopy(FACTORY)
        del data["monitoring"][missing]
        assert not parse_manifest(data, source="m.json").monitoring.active, missing
    data = copy.deepcopy(FACTORY)
    data["monitoring"]["drift_image"] = "sagemaker-scikit-learn:latest"
    with pytest.raises(ConfigError, match=r"^m.json: monitoring.drift_image: string should match pattern"):
        parse_manifest(data, source="m.json")
    data = copy.deepcopy(FACTORY)
    data["monitoring"]["schedule"] = "cron(0 */7 ? * * *)"
    with pytest.raises(ConfigError, match=r"^m.json: monitoring.schedule: every 7 hours: the interval must divide 24"):
        parse_manifest(data, source="m.json")
    # the factory engine needs no Model Monitor image in the region (ap-southeast-5 has none)
    assert "ap-southeast-5" not in MODEL_MONITOR_REGISTRIES
    assert parse_manifest(copy.deepcopy(FACTORY) | {"region": "ap-southeast-5"}, source="m.json").monitoring.active
    with pytest.raises(ConfigError, match="Model Monitor has no image in ap-southeast-5"):
        parse_manifest(copy.deepcopy(BASE) | {"region": "ap-southeast-5"}, source="m.json")


def test_monitoring_off_needs_no_baseline():
    data = copy.deepcopy(BASE)
    data["endpoint"]["data_capture_percent"] = 0
    data["monitoring"] = {"enabled": False}
    assert not parse_manifest(data, source="m.json").monitoring.active


def test_monitoring_baselines_must_be_s3_uris():
    message = error_for(lambda d: d["monitoring"]["baselines"].update(statistics="/tmp/statistics.json"))
    assert message.startswith("m.json: monitoring.baselines.statistics: string should match pattern")


def test_model_monitor_registries_agree_with_the_sagemaker_sdk():
    import sagemaker.core

    from stacks.common.monitor_images import MODEL_MONITOR_REGISTRIES

    path = Path(sagemaker.core.__file__).parent / "image_uri_config" / "model-monitor.json"
    sdk = json.loads(path.read_text())["versions"][""]["registries"]
    assert {region: sdk[region] for region in MODEL_MONITOR_REGISTRIES} == MODEL_MONITOR_REGISTRIES


def api_limit(shape: str, member: str) -> dict:
    """min/max of a SageMaker API member, from the pinned botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.shape_for(shape).members[member].metadata


def test_rollout_values_the_api_rejects_are_refused_in_one_line():
    # TrafficRoutingConfig.LinearStepSize: "Value must be 10-50% of the variant's total instance count"
    message = error_for(lambda d: d["endpoint"]["deployment"].update(strategy="linear", step_percent=5))
    assert message == ("m.json: endpoint.deployment.step_percent: input should be greater than or equal to 10 "
                       "(got 5)")
    # TrafficRoutingConfig.WaitIntervalInSeconds: 0-3600
    assert api_limit("TrafficRoutingConfig", "WaitIntervalInSeconds") == {"min": 0, "max": 3600}
    message = error_for(lambda d: d["endpoint"]["deployment"].update(wait_minutes=61))
    assert message.startswith("m.json: endpoint.deployment.wait_minutes: input should be less than or equal to 60")


def test_the_rollout_timeout_covers_every_wait_within_the_api_maximum():
    # BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: 600-28800, "larger than the total waiting time"
    assert api_limit("BlueGreenUpdatePolicy", "MaximumExecutionTimeoutInSeconds") == {"min": 600, "max": 28800}
    slow = EndpointSettings(instance_type="ml.c5.xlarge", deployment={"strategy": "linear", "step_percent": 10,
                                                                       "wait_minutes": 30})
    # 10 steps, 9 waits of 30 min, 10 provisionings of 6 + 5 min, 5 min termination wait
    assert slow.deployment_timeout_seconds == 9 * 1800 + 10 * (360 + 300) + 300
    message = error_for(lambda d: d["endpoint"].update(
        deployment={"strategy": "linear", "step_percent": 10, "wait_minutes": 60}))
    assert message.startswith("m.json: endpoint.deployment.wait_minutes: the rollout would take 39300 s with its "
                              "waits, more than MaximumExecutionTimeoutInSeconds allows (28800)")


def test_inference_component_rollouts_take_five_to_fifty_percent_batches():
    # InferenceComponentRollingUpdatePolicy.MaximumBatchSize: "between 5% to 50% of the copy count"
    def zero(**deployment):
        return lambda d: d["endpoint"].update(initial_instances=1, min_instances=0, max_instances=2, shadow=None,
                                              schedule=[], deployment=deployment)
    assert "all_at_once is not available with min_instances 0" in error_for(zero(strategy="all_at_once"))
    assert error_for(zero(strategy="canary", canary_percent=4)).startswith(
        "m.json: endpoint.deployment.canary_percent: must be 5-50 with min_instances 0")


def test_schedule_time_zones_are_iana_names():
    message = error_for(lambda d: d["endpoint"]["schedule"][0].update(timezone="CEST"))
    assert message == ("m.json: endpoint.schedule[0].timezone: must be an IANA time zone name such as "
                       "Europe/Dublin or UTC (got 'CEST')")


def test_shadow_bounds():
    message = error_for(lambda d: d["endpoint"]["shadow"].update(min_instances=3, max_instances=2))
    assert message == "m.json: endpoint.shadow.min_instances: must not exceed max_instances (2) (got 3)"
