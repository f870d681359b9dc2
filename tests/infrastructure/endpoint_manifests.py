"""What the endpoint-stack tests share: the deploy manifests they synthesize and the names in them."""

from __future__ import annotations

from tests.synth import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
TOPIC = "arn:aws:sns:eu-west-1:111111111111:mf-fraud-approvers"
KEY_ALIAS = "arn:aws:kms:eu-west-1:111111111111:alias/mf-fraud"
ROLE = "arn:aws:iam::111111111111:role/mf-fraud-sagemaker-execution"
CPU_MANIFEST = {
    "team": "pricing", "model": "demand-forecast", "stage": "prod", "account": "222222222222", "region": "eu-west-1",
    "model_package_arn": "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mf-pricing-demand-forecast/2",
    "endpoint": {"instance_type": "ml.c5.xlarge", "initial_instances": 2, "min_instances": 2, "max_instances": 6,
                 "scaling_metric": "concurrency", "target_concurrency_per_instance": 8, "data_capture_percent": 25,
                 "startup_health_check_timeout_seconds": 900, "model_download_timeout_seconds": 1200,
                 "deployment": {"strategy": "linear", "step_percent": 20, "wait_minutes": 5}},
}
BASELINE = "s3://mf-fraud-111111111111-eu-west-1/mf-fraud-card-fraud/executions/abc123/data-quality-baseline"
