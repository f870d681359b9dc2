"""What the factory tells a model's build (MODEL_FACTORY_SETTINGS, read by the seed code's PipelineSettings):
derived from the model's config once, here, for the CodeBuild project and for `make train-local`.

Lineage that only the build knows (commit, build, trigger, data version) is not in here: run_pipeline.py
adds it per execution."""

from __future__ import annotations

from stacks.common.naming import serving_parameter
from stacks.config.instances import accepts_volume_kms_key
from stacks.config.model import ModelConfig

PROCESSING_INSTANCE_TYPE = "ml.m5.xlarge"


def default_data_uri(bucket_name: str, pipeline_name: str) -> str:
    return f"s3://{bucket_name}/{pipeline_name}/data/"


def pipeline_settings(*, team: str, model: ModelConfig, pipeline_name: str, group_name: str, region: str, bucket_name: str,
                      role_arn: str, kms_key_arn: str, repository: str, tags: dict[str, str]) -> dict:
    training = model.training
    settings = {
        "region": region,
        "pipeline_name": pipeline_name,
        "model_package_group_name": group_name,
        "role_arn": role_arn,
        "bucket": bucket_name,
        "kms_key_arn": kms_key_arn,
        "problem_type": model.problem_type,
        "label": model.label,
        "features": list(training.features),
        "description": model.description or "",
        "quality_metric": model.quality_gate.metric,
        "quality_threshold": model.quality_gate.threshold,
        "training_instance_type": training.instance_type,
        "training_instance_count": training.instance_count,
        "training_volume_kms": accepts_volume_kms_key(training.instance_type),
        "use_spot": training.use_spot,
        "max_runtime_minutes": training.max_runtime_minutes,
        "processing_instance_type": PROCESSING_INSTANCE_TYPE,
        "processing_volume_kms": accepts_volume_kms_key(PROCESSING_INSTANCE_TYPE),
        "build_timeout_minutes": training.build_timeout_minutes,
        "data_s3_uri": training.data_s3_uri or default_data_uri(bucket_name, pipeline_name),
        "git_repository": repository,
        "tags": tags,
        # the serving champion is scored on the challenger's test split; auto promotion approves a better one
        "champion_parameter": serving_parameter(team, model.name, "prod"),
        "promotion_mode": model.promotion.mode,
        "promotion_min_improvement": model.promotion.min_improvement,
        "quality_higher_is_better": model.quality_higher_is_better,
    }
    monitoring = model.monitoring
    if monitoring.bias:
        settings.update(bias=True, bias_facet_name=monitoring.facet.name,
                        bias_facet_values=list(monitoring.facet.values),
                        bias_label_values=list(monitoring.label_values))
    if monitoring.explainability:
        settings["explainability"] = True
    return settings
