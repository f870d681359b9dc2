"""The SageMaker Pipeline definition, rendered offline exactly as `make pipeline-definition` does, with
every socket and every AWS API call made to fail: proving that nothing reaches AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipelines.conftest import SEED

KEY = "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555"
BASE = {
    "region": "eu-west-1",
    "pipeline_name": "mf-fraud-card-fraud",
    "model_package_group_name": "mf-fraud-card-fraud",
    "role_arn": "arn:aws:iam::111111111111:role/mf-fraud-sagemaker-execution",
    "bucket": "mf-fraud-111111111111-eu-west-1",
    "kms_key_arn": KEY,
    "quality_metric": "auc",
    "quality_threshold": 0.85,
    "tags": {"model-factory:team": "fraud", "model-factory:model": "card-fraud"},
    "description": "Scores card transactions for fraud before authorisation",
    "git_repository": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/mf-fraud-card-fraud-build",
}
OFFLINE_COMMIT = "0" * 40
OFFLINE_WRAPPER = """
import json, socket, sys
import botocore.client

def refuse(*args, **kwargs):
    raise AssertionError("network access attempted while rendering the definition")

socket.socket.connect = refuse
socket.create_connection = refuse
botocore.client.BaseClient._make_api_call = refuse
sys.path.insert(0, {seed!r})
import run_pipeline
# one interpreter renders every definition, each as `run_pipeline.py definition --out O --settings S` would
for out, settings in json.loads(sys.argv[1]):
    if run_pipeline.main(["definition", "--out", out, "--settings", settings]) != 0:
        raise SystemExit(1)
"""
# the definitions the tests read, each a variant of BASE; one process renders them all, because importing the
# SageMaker SDK is most of a render's time
VARIANTS = {
    "gpu": dict(training_instance_type="ml.g5.xlarge", use_spot=True, max_runtime_minutes=90,
                training_volume_kms=False),
    "cpu": dict(training_instance_type="ml.m5.2xlarge", training_instance_count=3, use_spot=False,
                problem_type="regression", quality_metric="rmse", quality_threshold=12.5),
    "clarify": dict(bias=True, bias_facet_name="foreign", bias_facet_values=[1], explainability=True),
}


def render(tmp_path: Path, variants: dict[str, dict]) -> dict[str, dict]:
    jobs = []
    for name, overrides in variants.items():
        settings = tmp_path / f"{name}.json"
        settings.write_text(json.dumps({**BASE, **overrides}))
        jobs.append((str(tmp_path / f"{name}-definition.json"), str(settings)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "-c", OFFLINE_WRAPPER.format(seed=str(SEED)), json.dumps(jobs)],
                            capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    return {name: json.loads(Path(out).read_text()) for name, (out, _) in zip(variants, jobs)}


@pytest.fixture(scope="module")
def definitions(tmp_path_factory) -> dict[str, dict]:
    return render(tmp_path_factory.mktemp("def"), VARIANTS)


@pytest.fixture(scope="module")
def gpu_spot(definitions) -> dict:
    return definitions["gpu"]


@pytest.fixture(scope="module")
def cpu_distributed(definitions) -> dict:
    return definitions["cpu"]


def step(definition: dict, name: str) -> dict:
    for candidate in definition["Steps"]:
        if candidate["Name"] == name:
            return candidate
    raise KeyError(name)


def test_steps_types_and_order(gpu_spot):
    assert [(s["Name"], s["Type"]) for s in gpu_spot["Steps"]] == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("DataQualityBaseline", "QualityCheck"),
        ("Evaluate", "Processing"),
        ("DriftBaseline", "Processing"),
        ("ModelQualityBaseline", "QualityCheck"),
        ("QualityGate", "Condition"),
    ]
    gate = step(gpu_spot, "QualityGate")["Arguments"]
    assert [(s["Name"], s["Type"]) for s in gate["IfSteps"]] == [("RegisterModel", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in gate["ElseSteps"]] == [("FailQualityGate", "Fail")]


def test_data_flows_preprocess_to_train_to_evaluate(gpu_spot):
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]
                for c in step(gpu_spot, "Train")["Arguments"]["InputDataConfig"]}
    assert channels["train"]["S3Uri"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    evaluate_inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in step(gpu_spot, "Evaluate")["Arguments"]["ProcessingInputs"]}
    assert evaluate_inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert evaluate_inputs["code"] == (
        f"s3://mf-fraud-111111111111-eu-west-1/mf-fraud-card-fraud/code/{OFFLINE_COMMIT}/evaluate.py")
    raw = step(gpu_spot, "Preprocess")["Arguments"]["ProcessingInputs"][0]["S3Input"]
    # the configured training-data prefix (default in the team bucket), every CSV under it
    assert (raw["S3Uri"], raw["S3DataType"]) == ("s3://mf-fraud-111111111111-eu-west-1/mf-fraud-card-fraud/data/",
                                                 "S3Prefix")


def test_quality_gate_compares_the_metric_with_the_configured_threshold(gpu_spot, cpu_distributed):
    condition = step(gpu_spot, "QualityGate")["Arguments"]["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert condition["LeftValue"]["Std:JsonGet"]["PropertyFile"] == {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}
    assert condition["RightValue"] == 0.85
    # an error metric must stay under its threshold
    regression = step(cpu_distributed, "QualityGate")["Arguments"]["Conditions"][0]
    assert regression["Type"] == "LessThanOrEqualTo"
    assert regression["LeftValue"]["Std:JsonGet"]["Path"] == "regression_metrics.rmse.value"


def test_fail_step_names_the_metric_and_its_value(gpu_spot):
    fail = step(gpu_spot, "QualityGate")["Arguments"]["ElseSteps"][0]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert fail["Values"][0] == "quality gate failed: auc = "
    assert fail["Values"][1]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert fail["Values"][2] == ", required >= 0.85"


def test_registration_is_pending_manual_approval_with_metrics_and_drift_baselines(gpu_spot):
    register = step(gpu_spot, "QualityGate")["Arguments"]["IfSteps"][0]["Arguments"]
    # a literal: no execution parameter can register an Approved package past the approvers
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    assert register["ModelPackageGroupName"] == "mf-fraud-card-fraud"
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Image"].endswith("/sagemaker-xgboost:3.2-0")
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"]
    assert statistics == [{"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                          "evaluation.json"]
    drift = register["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"] == {"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckStatistics"}
    assert drift["Constraints"]["S3Uri"] == {"Get": "Steps.DataQualityBaseline.BaselineUsedForDriftCheckConstraints"}


def test_data_quality_baseline_is_computed_from_the_training_features(gpu_spot):
    baseline = step(gpu_spot, "DataQualityBaseline")
    assert baseline["CheckType"] == "DATA_QUALITY"
    assert baseline["RegisterNewBaseline"] is True and baseline["SkipCheck"] is True
    inputs = baseline["Arguments"]["ProcessingInputs"]
    assert inputs[0]["S3Input"]["S3Uri"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}


def test_gpu_spot_training_from_the_model_config(gpu_spot):
    train = step(gpu_spot, "Train")["Arguments"]
    assert train["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert "VolumeKmsKeyId" not in train["ResourceConfig"]  # g5 has NVMe instance storage (the factory says so)
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 5400, "MaxWaitTimeInSeconds": 10800}
    assert train["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert "device" not in train["HyperParameters"]  # train.py picks cuda or cpu on the host
    assert train["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert train["OutputDataConfig"]["KmsKeyId"] == KEY
    assert train["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:3.2-0")


def test_cpu_training_without_spot_encrypts_its_volume_and_shards_data(cpu_distributed):
    train = step(cpu_distributed, "Train")["Arguments"]
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KEY
    assert train["ResourceConfig"]["InstanceCount"] == 3
    assert "EnableManagedSpotTraining" not in train or train["EnableManagedSpotTraining"] is False
    assert "CheckpointConfig" not in train
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert "device" not in train["HyperParameters"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in train["InputDataConfig"]}
    assert channels["train"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert channels["validation"]["S3DataDistributionType"] == "FullyReplicated"
    preprocess_args = step(cpu_distributed, "Preprocess")["Arguments"]["AppSpecification"]["ContainerArguments"]
    shards = preprocess_args[preprocess_args.index("--train-shards") + 1]
    assert shards == "3"


def test_nothing_is_overridable_per_execution_and_no_experiment_is_tracked(gpu_spot, cpu_distributed):
    # instance types, the data, the gate and the approval status all come from the factory config
    assert gpu_spot["Parameters"] == [] and cpu_distributed["Parameters"] == []
    assert gpu_spot["PipelineExperimentConfig"] is None


def test_every_job_and_the_package_carry_the_cost_allocation_tags(gpu_spot):
    tag = {"Key": "model-factory:model", "Value": "card-fraud"}
    for name in ("Preprocess", "Train", "DataQualityBaseline", "Evaluate", "ModelQualityBaseline"):
        assert tag in step(gpu_spot, name)["Arguments"]["Tags"], name
    register = step(gpu_spot, "QualityGate")["Arguments"]["IfSteps"][0]["Arguments"]
    assert tag in register["Tags"]


def test_the_package_carries_its_lineage(gpu_spot):
    register = step(gpu_spot, "QualityGate")["Arguments"]["IfSteps"][0]["Arguments"]
    properties = dict(register["CustomerMetadataProperties"])
    # the factory's drift baseline, registered with the package (waits for the DriftBaseline step)
    assert properties.pop("drift_baseline_uri") == {"Std:Join": {"On": "/", "Values": [
        {"Get": "Steps.DriftBaseline.ProcessingOutputConfig.Outputs['drift-baseline'].S3Output.S3Uri"},
        "baseline.json"]}}
    # the endpoints' factory-engine job runs the same code and image as the DriftBaseline step
    drift_step = step(gpu_spot, "DriftBaseline")["Arguments"]
    assert properties.pop("drift_image_uri") == drift_step["AppSpecification"]["ImageUri"]
    code = next(i["S3Input"]["S3Uri"] for i in drift_step["ProcessingInputs"] if i["InputName"] == "code")
    assert properties.pop("drift_code_uri") == code == (
        f"s3://mf-fraud-111111111111-eu-west-1/mf-fraud-card-fraud/code/{OFFLINE_COMMIT}/drift.py")
    assert properties == {
        "git_commit": OFFLINE_COMMIT, "git_repository": BASE["git_repository"], "build_id": "offline",
        "trigger": "manual", "training_data_uri": "s3://mf-fraud-111111111111-eu-west-1/mf-fraud-card-fraud/data/",
        "training_data_version": "offline", "problem_type": "binary_classification", "quality_metric": "auc"}
    assert register["MetadataProperties"] == {"CommitId": OFFLINE_COMMIT, "Repository": BASE["git_repository"],
                                              "GeneratedBy": "offline"}


def resolve(value, runtime: dict):
    """A pipeline expression evaluated the way SageMaker does, with `runtime` values for Get/JsonGet."""
    if isinstance(value, dict) and "Std:Join" in value:
        return value["Std:Join"]["On"].join(str(resolve(v, runtime)) for v in value["Std:Join"]["Values"])
    if isinstance(value, dict) and "Get" in value:
        return runtime[value["Get"]]
    if isinstance(value, dict) and "Std:JsonGet" in value:
        return runtime[value["Std:JsonGet"]["Path"]]
    return value


def test_the_model_card_follows_the_model_package_card_schema(gpu_spot):
    from sagemaker.core.shapes.model_card_shapes import ModelCardContent

    card = step(gpu_spot, "QualityGate")["Arguments"]["IfSteps"][0]["Arguments"]["ModelCard"]
    assert card["ModelCardStatus"] == "Draft"
    content = json.loads(resolve(card["ModelCardContent"], {
        "Steps.Train.ModelArtifacts.S3ModelArtifacts": "s3://b/model/model.tar.gz",
        "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri": "s3://b/test",
        "binary_classification_metrics.auc.value": 0.9575}))
    ModelCardContent.model_validate(content)  # the SDK's own shapes of the model card schema
    # the model package card: model_overview holds only model_creator and model_artifact (ModelPackageModelCard)
    assert content["model_overview"] == {"model_artifact": ["s3://b/model/model.tar.gz"],
                                         "model_creator": "Model Factory build offline"}
    assert content["intended_uses"]["purpose_of_model"] == BASE["description"]
    metric = content["evaluation_details"][0]["metric_groups"][0]["metric_data"][0]
    assert metric == {"name": "auc", "type": "number", "value": 0.9575}
    assert content["training_details"]["training_job_details"]["training_datasets"] == [
        "s3://mf-fraud-111111111111-eu-west-1/mf-fraud-card-fraud/data/"]
    assert content["additional_information"]["custom_details"]["git_commit"] == OFFLINE_COMMIT


def test_model_quality_baseline_from_the_test_predictions_registered_for_drift_checks(gpu_spot):
    baseline = step(gpu_spot, "ModelQualityBaseline")
    assert baseline["CheckType"] == "MODEL_QUALITY"
    environment = baseline["Arguments"]["Environment"]
    assert environment["problem_type"] == "BinaryClassification"
    assert (environment["inference_attribute"], environment["probability_attribute"],
            environment["ground_truth_attribute"]) == ("prediction", "probability", "label")
    dataset = baseline["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]["Std:Join"]["Values"]
    assert dataset == [{"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                       "predictions.csv"]
    register = step(gpu_spot, "QualityGate")["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["DriftCheckBaselines"]["ModelQuality"]["Constraints"]["S3Uri"] == {
        "Get": "Steps.ModelQualityBaseline.BaselineUsedForDriftCheckConstraints"}


@pytest.fixture(scope="module")
def with_clarify(definitions) -> dict:
    return definitions["clarify"]


def test_clarify_steps_run_only_when_bias_or_explainability_is_on(gpu_spot, with_clarify):
    assert not any(s["Name"].startswith("Clarify") for s in gpu_spot["Steps"])
    names = [s["Name"] for s in with_clarify["Steps"]]
    assert names.index("ClarifyModel") < names.index("Evaluate") < names.index("ClarifyBiasBaseline")
    assert step(with_clarify, "ClarifyModel")["Type"] == "Model"
    model = step(with_clarify, "ClarifyModel")["Arguments"]["PrimaryContainer"]
    assert model["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}


def test_evaluate_gets_the_clarify_spec_and_the_shadow_model_name(with_clarify):
    arguments = step(with_clarify, "Evaluate")["Arguments"]["AppSpecification"]["ContainerArguments"]
    spec = json.loads(arguments[arguments.index("--clarify-spec") + 1])
    assert spec["bias"] == {"label_values_or_threshold": [1],
                            "facet": [{"name_or_index": "foreign", "value_or_threshold": [1]}]}
    assert spec["label"] == "is_fraud" and spec["probability_threshold"] == 0.5
    assert spec["shap"]["agg_method"] == "mean_abs" and spec["shap"]["num_samples"] == 100
    assert arguments[arguments.index("--clarify-model-name") + 1] == {"Get": "Steps.ClarifyModel.ModelName"}


@pytest.mark.parametrize("kind", ["bias", "explainability"])
def test_clarify_baselines_run_the_clarify_image_on_the_test_split_and_are_registered(with_clarify, kind):
    job = step(with_clarify, f"Clarify{kind.capitalize()}Baseline")["Arguments"]
    assert "sagemaker-clarify-processing" in job["AppSpecification"]["ImageUri"]
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["analysis_config"]["LocalPath"] == "/opt/ml/processing/input/config"
    assert inputs["analysis_config"]["S3Uri"]["Std:Join"]["Values"] == [
        {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['clarify'].S3Output.S3Uri"}, kind]
    assert inputs["dataset"]["S3Uri"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == KEY
    register = step(with_clarify, "QualityGate")["Arguments"]["IfSteps"][0]["Arguments"]
    drift = register["DriftCheckBaselines"]["Bias" if kind == "bias" else "Explainability"]
    constraints = drift["PostTrainingConstraints" if kind == "bias" else "Constraints"]["S3Uri"]["Std:Join"]["Values"]
    assert constraints == [{"Get": f"Steps.Clarify{kind.capitalize()}Baseline.ProcessingOutputConfig."
                                   "Outputs['analysis_result'].S3Output.S3Uri"}, "analysis.json"]
    assert drift["ConfigFile"]["S3Uri"]["Std:Join"]["Values"][1:] == [kind, "monitoring_config.json"]
    metrics = register["ModelMetrics"]["Bias" if kind == "bias" else "Explainability"]
    assert list(metrics) == (["PostTrainingReport"] if kind == "bias" else ["Report"])


def test_the_drift_baseline_runs_the_factorys_engine_on_the_training_features_and_test_scores(gpu_spot):
    job = step(gpu_spot, "DriftBaseline")["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["features"]["S3Uri"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}
    assert inputs["predictions"]["S3Uri"] == {
        "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}
    assert inputs["code"]["S3Uri"].endswith(f"/code/{OFFLINE_COMMIT}/drift.py")
    assert job["AppSpecification"]["ContainerArguments"][0] == "baseline"
    assert "sagemaker-scikit-learn" in job["AppSpecification"]["ImageUri"]
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == KEY
