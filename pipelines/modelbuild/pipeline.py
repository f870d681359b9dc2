"""The SageMaker Pipeline of this model (sagemaker SDK v3):

    Preprocess -> Train -> DataQualityBaseline -> Evaluate -> ModelQualityBaseline -> QualityGate
        -> RegisterModel (PendingManualApproval, metrics, drift baselines)   when the gate passes
        -> FailQualityGate (names the metric and its value)                 when it does not

With `bias` or `explainability` on, Train -> ClarifyModel (a SageMaker model of the trained artifacts)
feeds Evaluate, which writes the Clarify analysis configs, and ClarifyBiasBaseline /
ClarifyExplainabilityBaseline (Clarify processing jobs on the test split, shadow endpoint of that model)
register their analysis.json as the bias / explainability baselines next to the config files the
endpoint's Clarify monitors run with.

`build_pipeline(settings)` only describes the pipeline: every S3 URI is explicit (code is uploaded by
run_pipeline.py before an upsert, never by the SDK), so `definition()` works offline.

The pipeline has no parameters: instance types, the training data, the quality gate and the approval status
come from the factory config through the settings, so an execution started by hand cannot register an
Approved package, lower the gate or send a GPU-only setting to a CPU host. Lineage (commit, repository,
build, trigger, training data and its version) is written into the definition by the build that upserts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sagemaker.core import image_uris
from sagemaker.core.clarify import BiasConfig, ModelConfig, SHAPConfig
from sagemaker.core.model_monitor.dataset_format import DatasetFormat
from sagemaker.core.processing import Processor, ScriptProcessor
from sagemaker.core.shapes import (
    Bias,
    DriftCheckBaselines,
    DriftCheckBias,
    DriftCheckExplainability,
    DriftCheckModelDataQuality,
    DriftCheckModelQuality,
    Explainability,
    FileSource,
    MetadataProperties,
    MetricsSource,
    ModelDataQuality,
    ModelMetrics,
    ModelPackageModelCard,
    ModelQuality,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
    S3DataSource,
    StoppingCondition,
    Tag,
)
from sagemaker.core.training.configs import CheckpointConfig, Compute, InputData, OutputDataConfig
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.quality_check_step import (
    DataQualityCheckConfig,
    ModelQualityCheckConfig,
    QualityCheckStep,
)
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

XGBOOST_VERSION = "3.2-0"
SKLEARN_VERSION = "1.9-0"
# metric -> (evaluation.json section per problem type, higher is better)
METRIC_SECTIONS = {
    "binary_classification": "binary_classification_metrics",
    "multiclass_classification": "multiclass_classification_metrics",
    "regression": "regression_metrics",
}
LOWER_IS_BETTER = {"mse", "rmse", "mae"}
MONITOR_PROBLEM_TYPES = {
    "binary_classification": "BinaryClassification",
    "multiclass_classification": "MulticlassClassification",
    "regression": "Regression",
}


APPROVAL_STATUS = "PendingManualApproval"
# Values of the model card only known while the pipeline runs: markers in its JSON, joined in by the
# pipeline (model_card_content).
MODEL_ARTIFACT, TEST_DATA, METRIC_VALUE = "@@MODEL_ARTIFACT@@", "@@TEST_DATA@@", "@@METRIC_VALUE@@"
HYPERPARAMETERS = {"num_round": 300, "max_depth": 4, "eta": 0.1}


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the pipeline needs; CodeBuild fills it from the environment the factory sets."""

    region: str
    pipeline_name: str
    model_package_group_name: str
    role_arn: str
    bucket: str
    kms_key_arn: str
    problem_type: str = "binary_classification"
    label: str = "is_fraud"
    # the seed data's feature columns when the model's config names them (default: the seed data's own)
    features: list[str] = field(default_factory=list)
    description: str = ""
    quality_metric: str = "auc"
    quality_threshold: float = 0.8
    training_instance_type: str = "ml.m5.xlarge"
    training_instance_count: int = 1
    # False on instance families with local NVMe storage, which reject a volume KMS key (decided by the
    # factory's instance table, stacks/config/instances.py)
    training_volume_kms: bool = True
    use_spot: bool = False
    max_runtime_minutes: int = 120
    processing_instance_type: str = "ml.m5.xlarge"
    processing_volume_kms: bool = True
    # how long the build may wait for an execution (CodeBuild's timeout less a margin), minutes
    build_timeout_minutes: int = 240
    # the training input: every CSV under this prefix; "" means <bucket>/<pipeline>/data/
    data_s3_uri: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    # lineage, filled in by the build (run_pipeline.py) for each execution
    git_commit: str = "0000000000000000000000000000000000000000"
    git_repository: str = "offline"
    build_id: str = "offline"
    trigger: str = "manual"
    training_data_version: str = "offline"
    # the serving champion (prod): its parameter, and what the build found there for this execution
    champion_parameter: str = ""
    champion_arn: str = ""
    champion_model_uri: str = ""
    # promotion: manual (approvers approve) or auto (the build approves a package that beats the champion)
    promotion_mode: str = "manual"
    promotion_min_improvement: float = 0.0
    quality_higher_is_better: bool = True
    notification_topic_arn: str = ""
    # Clarify baselines for the endpoint's bias / explainability monitors
    bias: bool = False
    bias_facet_name: str | None = None
    bias_facet_values: list = field(default_factory=list)
    bias_label_values: list = field(default_factory=lambda: [1])
    explainability: bool = False

    def __post_init__(self) -> None:
        if self.bias and not self.bias_facet_name:
            raise ValueError("bias needs bias_facet_name: the sensitive column to compare groups by")

    @property
    def clarify(self) -> bool:
        return self.bias or self.explainability

    def clarify_spec(self) -> dict:
        """What Evaluate needs to write the Clarify analysis configs (it adds the dataset's headers,
        the model name and the SHAP baseline), in the SDK's own config formats."""
        predictor = ModelConfig(model_name="-", instance_type=self.processing_instance_type, instance_count=1,
                                content_type="text/csv", accept_type="text/csv").get_predictor_config()
        predictor.pop("model_name")
        spec: dict = {"label": self.label, "predictor": predictor}
        if self.problem_type == "binary_classification":
            spec["probability_threshold"] = 0.5
        if self.bias:
            spec["bias"] = BiasConfig(
                label_values_or_threshold=self.bias_label_values, facet_name=self.bias_facet_name,
                facet_values_or_threshold=self.bias_facet_values or None).get_config()
        if self.explainability:
            # the baseline row is the test split's feature medians, filled in by Evaluate
            spec["shap"] = SHAPConfig(baseline=[[0]], num_samples=100, agg_method="mean_abs",
                                      save_local_shap_values=False).get_explainability_config()["shap"]
        return spec

    @property
    def prefix(self) -> str:
        return f"s3://{self.bucket}/{self.pipeline_name}"

    @property
    def code_prefix(self) -> str:
        return f"{self.prefix}/code/{self.git_commit}"

    @property
    def training_data_uri(self) -> str:
        return self.data_s3_uri or f"{self.prefix}/data/"

    def lineage(self) -> dict[str, str]:
        """CustomerMetadataProperties of every package this build registers (docs/model-build.md)."""
        return {"git_commit": self.git_commit, "git_repository": self.git_repository, "build_id": self.build_id,
                "trigger": self.trigger, "training_data_uri": self.training_data_uri,
                "training_data_version": self.training_data_version, "problem_type": self.problem_type,
                "quality_metric": self.quality_metric}


def model_card_document(s: PipelineSettings, image: str) -> dict:
    """The package's model card (model package model card schema: model_overview holds only model_creator
    and model_artifact), with markers for what the execution produces."""
    lower_is_better = s.quality_metric in LOWER_IS_BETTER
    purpose = s.description or f"{s.problem_type.replace('_', ' ')} model {s.pipeline_name}"
    return {
        "model_overview": {"model_creator": f"Model Factory build {s.build_id}", "model_artifact": [MODEL_ARTIFACT]},
        "intended_uses": {"purpose_of_model": purpose[:2048], "intended_uses": purpose[:2048],
                          "risk_rating": "Unknown"},
        "training_details": {
            "objective_function": {"function": "Minimize" if lower_is_better else "Maximize",
                                   "facet": s.quality_metric, "condition": f"test split of {s.label}"[:63]},
            "training_observations": (f"Trained by {s.trigger} from {s.git_repository} at {s.git_commit} on "
                                      f"{s.training_data_uri} ({s.training_data_version})")[:1024],
            "training_job_details": {
                "training_datasets": [s.training_data_uri],
                "training_environment": {"container_image": [image]},
                "user_provided_hyper_parameters": [
                    {"name": k, "value": str(v)} for k, v in {"problem_type": s.problem_type, **HYPERPARAMETERS}.items()],
            },
        },
        "evaluation_details": [{
            "name": "held-out test split",
            "evaluation_observation": (f"quality gate: {s.quality_metric} {'<=' if lower_is_better else '>='} "
                                       f"{s.quality_threshold}"),
            "datasets": [TEST_DATA],
            "metric_groups": [{"name": "quality gate", "metric_data": [
                {"name": s.quality_metric, "type": "number", "value": METRIC_VALUE}]}],
        }],
        "additional_information": {"custom_details": s.lineage()},
    }


def model_card_content(s: PipelineSettings, image: str, values: dict) -> Join | str:
    """The model card as JSON, with each marker replaced by its pipeline value: a string property goes
    inside the JSON string the marker stood in, the metric (a number) replaces its quoted marker."""
    text = json.dumps(model_card_document(s, image), sort_keys=True)
    text = text.replace(json.dumps(METRIC_VALUE), METRIC_VALUE)
    parts: list = [text]
    for marker, value in values.items():
        expanded: list = []
        for part in parts:
            if isinstance(part, str) and marker in part:
                pieces = part.split(marker)
                for index, piece in enumerate(pieces):
                    expanded.append(piece)
                    if index < len(pieces) - 1:
                        expanded.append(value)
            else:
                expanded.append(part)
        parts = expanded
    return Join(on="", values=[p for p in parts if not (isinstance(p, str) and p == "")])


def build_pipeline(settings: PipelineSettings, session: PipelineSession | None = None) -> Pipeline:
    session = session or PipelineSession(default_bucket=settings.bucket)
    s = settings
    execution_prefix = Join(on="/", values=[s.prefix, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID])
    tags = [{"Key": k, "Value": v} for k, v in s.tags.items()]
    processing_volume_key = {"volume_kms_key": s.kms_key_arn} if s.processing_volume_kms else {}

    sklearn_image = image_uris.retrieve("sklearn", s.region, version=SKLEARN_VERSION)
    xgboost_image = image_uris.retrieve("xgboost", s.region, version=XGBOOST_VERSION)

    def processor(image: str, base_job_name: str) -> ScriptProcessor:
        return ScriptProcessor(
            role=s.role_arn,
            image_uri=image,
            command=["python3"],
            instance_count=1,
            instance_type=s.processing_instance_type,
            output_kms_key=s.kms_key_arn,
            base_job_name=base_job_name,
            **processing_volume_key,
            sagemaker_session=session,
            tags=tags,
        )

    def check_job(base_job_name: str) -> CheckJobConfig:
        """The Model Monitor baselining jobs: team role, team key on volume and output."""
        return CheckJobConfig(role=s.role_arn, instance_count=1, instance_type=s.processing_instance_type,
                              output_kms_key=s.kms_key_arn, sagemaker_session=session,
                              base_job_name=base_job_name, tags=tags or None, **processing_volume_key)

    def output(name: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=Join(on="/", values=[execution_prefix, name]),
                local_path=f"/opt/ml/processing/{name}",
                s3_upload_mode="EndOfJob",
            ),
        )

    def processing_input(name: str, source, destination: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(s3_uri=source, local_path=destination, s3_data_type="S3Prefix",
                                       s3_input_mode="File"),
        )

    # --- preprocess -------------------------------------------------------------------------------
    step_preprocess = ProcessingStep(
        name="Preprocess",
        step_args=processor(sklearn_image, f"{s.pipeline_name}-preprocess").run(
            code=f"{s.code_prefix}/preprocess.py",
            inputs=[processing_input("raw", s.training_data_uri, "/opt/ml/processing/input")],
            outputs=[output("train"), output("validation"), output("test"), output("baseline")],
            arguments=["--label", s.label, "--problem-type", s.problem_type,
                       "--train-shards", str(s.training_instance_count)],
        ),
    )
    preprocessed = step_preprocess.properties.ProcessingOutputConfig.Outputs

    # --- train ------------------------------------------------------------------------------------
    max_runtime = s.max_runtime_minutes * 60
    trainer = ModelTrainer(
        sagemaker_session=session,
        role=s.role_arn,
        base_job_name=f"{s.pipeline_name}-train",
        training_image=xgboost_image,
        compute=Compute(
            instance_type=s.training_instance_type,
            instance_count=s.training_instance_count,
            volume_size_in_gb=30,
            enable_managed_spot_training=s.use_spot,
            **({"volume_kms_key_id": s.kms_key_arn} if s.training_volume_kms else {}),
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=max_runtime,
            **({"max_wait_time_in_seconds": max_runtime * 2} if s.use_spot else {}),
        ),
        checkpoint_config=CheckpointConfig(
            s3_uri=Join(on="/", values=[execution_prefix, "checkpoints"]),
            local_path="/opt/ml/checkpoints",
        ) if s.use_spot else None,
        output_data_config=OutputDataConfig(
            s3_output_path=Join(on="/", values=[execution_prefix, "model"]),
            kms_key_id=s.kms_key_arn,
        ),
        hyperparameters={
            # the XGBoost framework container's script-mode contract
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"{s.code_prefix}/sourcedir.tar.gz"),
            "problem_type": s.problem_type,
            **HYPERPARAMETERS,
            # no "device": train.py chooses cuda or cpu on the host, from the GPUs it finds there
        },
        tags=[Tag(key=k, value=v) for k, v in s.tags.items()] or None,
    )
    step_train = TrainingStep(
        name="Train",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=S3DataSource(
                    s3_data_type="S3Prefix",
                    s3_uri=preprocessed["train"].S3Output.S3Uri,
                    s3_data_distribution_type="ShardedByS3Key",
                ), content_type="text/csv"),
                InputData(channel_name="validation", data_source=S3DataSource(
                    s3_data_type="S3Prefix",
                    s3_uri=preprocessed["validation"].S3Output.S3Uri,
                    s3_data_distribution_type="FullyReplicated",
                ), content_type="text/csv"),
            ],
        ),
    )
    model_artifacts = step_train.properties.ModelArtifacts.S3ModelArtifacts

    # --- data-quality baseline (drift baseline for Model Monitor) ----------------------------------
    step_baseline = QualityCheckStep(
        name="DataQualityBaseline",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=preprocessed["baseline"].S3Output.S3Uri,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=Join(on="/", values=[execution_prefix, "data-quality-baseline"]),
        ),
        check_job_config=check_job(f"{s.pipeline_name}-baseline"),
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=s.model_package_group_name,
    )

    def json_source(uri) -> MetricsSource:
        return MetricsSource(content_type="application/json", s3_uri=uri)

    def model_builder() -> ModelBuilder:
        """The trained model (a builder is used once: one for the Clarify model, one to register)."""
        return ModelBuilder(image_uri=xgboost_image, s3_model_data_url=model_artifacts, role_arn=s.role_arn,
                            sagemaker_session=session, dependencies=None)

    # --- the model Clarify's shadow endpoints serve (bias / explainability baselines only) ----------
    clarify_arguments: list = []
    step_clarify_model = None
    if s.clarify:
        step_clarify_model = ModelStep(
            name="ClarifyModel",
            step_args=model_builder().build(tags=tags or None),
        )
        clarify_arguments = ["--clarify-spec", json.dumps(s.clarify_spec(), sort_keys=True),
                             "--clarify-model-name", step_clarify_model.properties.ModelName]

    # --- evaluate ---------------------------------------------------------------------------------
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor(xgboost_image, f"{s.pipeline_name}-evaluate").run(
            code=f"{s.code_prefix}/evaluate.py",
            inputs=[
                processing_input("model", model_artifacts, "/opt/ml/processing/model"),
                processing_input("test", preprocessed["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
                # the serving champion, scored on the same test split as the challenger
                *([processing_input("champion", s.champion_model_uri, "/opt/ml/processing/champion")]
                  if s.champion_model_uri else []),
            ],
            outputs=[output("evaluation")] + ([output("clarify")] if s.clarify else []),
            arguments=["--problem-type", s.problem_type, "--quality-metric", s.quality_metric,
                       "--quality-threshold", str(s.quality_threshold),
                       *(["--champion-model", "/opt/ml/processing/champion", "--champion-arn", s.champion_arn]
                         if s.champion_model_uri else []),
                       *clarify_arguments],
        ),
        property_files=[evaluation_report],
    )
    evaluation_prefix = step_evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri

    # --- Clarify baselines: analysis.json of a Clarify job on the test split ------------------------
    clarify_steps: dict[str, ProcessingStep] = {}
    clarify_results: dict[str, Join] = {}
    clarify_configs: dict[str, Join] = {}
    if s.clarify:
        clarify_prefix = step_evaluate.properties.ProcessingOutputConfig.Outputs["clarify"].S3Output.S3Uri
        clarify = Processor(role=s.role_arn, image_uri=image_uris.retrieve("clarify", s.region), instance_count=1,
                            instance_type=s.processing_instance_type, output_kms_key=s.kms_key_arn,
                            **processing_volume_key, base_job_name=f"{s.pipeline_name}-clarify",
                            sagemaker_session=session, tags=tags)
        for kind in [k for k, on in (("bias", s.bias), ("explainability", s.explainability)) if on]:
            result_uri = Join(on="/", values=[execution_prefix, f"clarify-{kind}"])
            clarify_steps[kind] = ProcessingStep(
                name=f"Clarify{kind.capitalize()}Baseline",
                step_args=clarify.run(
                    inputs=[
                        processing_input("analysis_config", Join(on="/", values=[clarify_prefix, kind]),
                                         "/opt/ml/processing/input/config"),
                        processing_input("dataset", preprocessed["test"].S3Output.S3Uri,
                                         "/opt/ml/processing/input/data"),
                    ],
                    outputs=[ProcessingOutput(output_name="analysis_result", s3_output=ProcessingS3Output(
                        s3_uri=result_uri, local_path="/opt/ml/processing/output", s3_upload_mode="EndOfJob"))],
                ),
            )
            # through the step's property, so that registering waits for the Clarify job
            clarify_results[kind] = Join(on="/", values=[
                clarify_steps[kind].properties.ProcessingOutputConfig.Outputs["analysis_result"].S3Output.S3Uri,
                "analysis.json"])
            clarify_configs[kind] = Join(on="/", values=[clarify_prefix, kind, "monitoring_config.json"])
    evaluation_uri = Join(on="/", values=[evaluation_prefix, "evaluation.json"])

    # --- the factory's drift baseline (drift.py, no Model Monitor): training features, test scores ----
    step_drift_baseline = ProcessingStep(
        name="DriftBaseline",
        step_args=processor(sklearn_image, f"{s.pipeline_name}-drift-baseline").run(
            code=f"{s.code_prefix}/drift.py",
            inputs=[processing_input("features", preprocessed["baseline"].S3Output.S3Uri,
                                     "/opt/ml/processing/features"),
                    processing_input("predictions", evaluation_prefix, "/opt/ml/processing/predictions")],
            outputs=[output("drift-baseline")],
            arguments=["baseline", "--features", "/opt/ml/processing/features",
                       "--predictions", "/opt/ml/processing/predictions/predictions.csv",
                       "--out", "/opt/ml/processing/drift-baseline"],
        ),
    )
    # through the step's property, so that registering waits for the baseline
    drift_baseline_uri = Join(on="/", values=[
        step_drift_baseline.properties.ProcessingOutputConfig.Outputs["drift-baseline"].S3Output.S3Uri,
        "baseline.json"])

    # --- model-quality baseline (what Model Monitor compares live quality with) --------------------
    binary = s.problem_type == "binary_classification"
    step_model_baseline = QualityCheckStep(
        name="ModelQualityBaseline",
        quality_check_config=ModelQualityCheckConfig(
            baseline_dataset=Join(on="/", values=[evaluation_prefix, "predictions.csv"]),
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=Join(on="/", values=[execution_prefix, "model-quality-baseline"]),
            problem_type=MONITOR_PROBLEM_TYPES[s.problem_type],
            inference_attribute="prediction",
            probability_attribute="probability" if binary else None,
            ground_truth_attribute="label",
            probability_threshold_attribute=0.5 if binary else None,
        ),
        check_job_config=check_job(f"{s.pipeline_name}-model-baseline"),
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=s.model_package_group_name,
    )

    # --- register or fail -------------------------------------------------------------------------

    clarify_metrics, clarify_drift = {}, {}
    if "bias" in clarify_results:
        clarify_metrics["bias"] = Bias(post_training_report=json_source(clarify_results["bias"]))
        clarify_drift["bias"] = DriftCheckBias(
            config_file=FileSource(content_type="application/json", s3_uri=clarify_configs["bias"]),
            post_training_constraints=json_source(clarify_results["bias"]))
    if "explainability" in clarify_results:
        clarify_metrics["explainability"] = Explainability(report=json_source(clarify_results["explainability"]))
        clarify_drift["explainability"] = DriftCheckExplainability(
            config_file=FileSource(content_type="application/json", s3_uri=clarify_configs["explainability"]),
            constraints=json_source(clarify_results["explainability"]))
    metric_value = JsonGet(step_name=step_evaluate.name, property_file=evaluation_report,
                           json_path=f"{METRIC_SECTIONS[s.problem_type]}.{s.quality_metric}.value")
    register_args = model_builder().register(
        model_package_group_name=s.model_package_group_name,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.g5.xlarge", "ml.g4dn.xlarge", "ml.m5.xlarge", "ml.c5.xlarge"],
        transform_instances=["ml.m5.xlarge"],
        # literal: nothing an execution passes in can register an approved package
        approval_status=APPROVAL_STATUS,
        description=f"{s.pipeline_name} trained from {s.git_commit[:12]} on {s.training_data_version[:19]}",
        model_metrics=ModelMetrics(
            model_quality=ModelQuality(
                statistics=json_source(evaluation_uri),
                constraints=json_source(step_model_baseline.properties.CalculatedBaselineConstraints)),
            model_data_quality=ModelDataQuality(
                statistics=json_source(step_baseline.properties.CalculatedBaselineStatistics),
                constraints=json_source(step_baseline.properties.CalculatedBaselineConstraints),
            ),
            **clarify_metrics,
        ),
        drift_check_baselines=DriftCheckBaselines(
            model_quality=DriftCheckModelQuality(
                statistics=json_source(step_model_baseline.properties.BaselineUsedForDriftCheckStatistics),
                constraints=json_source(step_model_baseline.properties.BaselineUsedForDriftCheckConstraints),
            ),
            model_data_quality=DriftCheckModelDataQuality(
                statistics=json_source(step_baseline.properties.BaselineUsedForDriftCheckStatistics),
                constraints=json_source(step_baseline.properties.BaselineUsedForDriftCheckConstraints),
            ),
            **clarify_drift,
        ),
        # the factory engine's monitor runs the same code and image on live traffic (docs/monitoring.md)
        customer_metadata_properties={**s.lineage(), "drift_baseline_uri": drift_baseline_uri,
                                      "drift_code_uri": f"{s.code_prefix}/drift.py", "drift_image_uri": sklearn_image},
        metadata_properties=MetadataProperties(commit_id=s.git_commit, repository=s.git_repository,
                                               generated_by=s.build_id),
        model_card=ModelPackageModelCard(
            model_card_content=model_card_content(s, xgboost_image, {
                MODEL_ARTIFACT: model_artifacts,
                TEST_DATA: preprocessed["test"].S3Output.S3Uri,
                METRIC_VALUE: metric_value,
            }),
            model_card_status="Draft",
        ),
    )
    # ModelBuilder.register() takes no tags: the package is tagged like the team's other resources here
    if tags:
        register_args.create_model_package_request["Tags"] = tags
    step_register = ModelStep(name="RegisterModel", step_args=register_args)

    lower_is_better = s.quality_metric in LOWER_IS_BETTER
    condition_class = ConditionLessThanOrEqualTo if lower_is_better else ConditionGreaterThanOrEqualTo
    step_fail = FailStep(
        name="FailQualityGate",
        error_message=Join(on="", values=[
            f"quality gate failed: {s.quality_metric} = ", metric_value,
            f", required {'<=' if lower_is_better else '>='} {s.quality_threshold}",
        ]),
    )
    step_gate = ConditionStep(
        name="QualityGate",
        conditions=[condition_class(left=metric_value, right=s.quality_threshold)],
        if_steps=[step_register],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=s.pipeline_name,
        parameters=[],
        # no experiment tracking: the SDK's default would need sagemaker:CreateExperiment and trial permissions
        # the team role does not have, and the package's lineage already names the execution's inputs
        pipeline_experiment_config=None,
        steps=[step_preprocess, step_train, step_baseline,
               *([step_clarify_model] if step_clarify_model else []), step_evaluate, step_drift_baseline,
               step_model_baseline,
               *clarify_steps.values(), step_gate],
        sagemaker_session=session,
    )

