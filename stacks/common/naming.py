"""Names and tags shared by every part of the factory (see the naming conventions in the README).

One place decides every physical name so that the build pipeline, the approval hook and the deploy
pipeline of later stages agree on them without passing strings around.
"""

from __future__ import annotations

TAG_FACTORY = "model-factory:factory"
TAG_TEAM = "model-factory:team"
TAG_COST_CENTER = "model-factory:cost-center"
TAG_MODEL = "model-factory:model"

PARAMETER_ROOT = "/model-factory"
# the variant a shadow challenger serves on (its captured requests are not the production model's)
SHADOW_VARIANT = "Shadow"
KEY_ARN_PARAMETER = "key-arn"


def team_stack_name(team: str, purpose: str) -> str:
    return f"mf-{team}-{purpose}"


def model_package_group_name(team: str, model: str) -> str:
    return f"mf-{team}-{model}"


def sagemaker_pipeline_name(team: str, model: str) -> str:
    return f"mf-{team}-{model}"


def codepipeline_name(team: str, model: str, kind: str) -> str:
    return f"mf-{team}-{model}-{kind}"


def endpoint_name(team: str, model: str, stage: str) -> str:
    return f"mf-{team}-{model}-{stage}"


def artifact_bucket_name(team: str, account: str, region: str) -> str:
    """Deterministic, so that data scientists, the build and the deploy manifests can all name it."""
    return f"mf-{team}-{account}-{region}"


def sagemaker_execution_role_name(team: str) -> str:
    return f"mf-{team}-sagemaker-execution"


def team_key_alias(team: str) -> str:
    return f"alias/mf-{team}"


def approver_topic_name(team: str) -> str:
    return f"mf-{team}-approvers"


def serving_parameter(team: str, model: str, stage: str) -> str:
    """The SSM parameter naming the package a stage serves (written by the deploy pipeline)."""
    return f"{PARAMETER_ROOT}/{team}/{model}/{stage}/model-package-arn"


def team_parameter(team: str, name: str) -> str:
    return f"{PARAMETER_ROOT}/{team}/{name}"


def deploy_action_role_name(team: str) -> str:
    """In a separate staging/prod account: the role the team's deploy pipeline assumes there."""
    return f"mf-{team}-deploy-action"


def deploy_pipeline_role_name(team: str, model: str) -> str:
    """The deploy pipeline's own role: the one principal (with the tasks role) a target account trusts."""
    return f"{codepipeline_name(team, model, 'deploy')}-role"


def deploy_tasks_role_name(team: str, model: str) -> str:
    return f"{codepipeline_name(team, model, 'deploy')}-task"


def cfn_execution_role_name(team: str) -> str:
    """In a separate staging/prod account: the role CloudFormation deploys the endpoint stacks with."""
    return f"mf-{team}-cfn-execution"


def target_role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def drift_job_role_name(team: str) -> str:
    """The role the factory engine's drift pipelines and their processing jobs run as (one per account)."""
    return f"mf-{team}-drift-job"


def drift_schedule_role_name(team: str) -> str:
    """The role EventBridge Scheduler starts the drift pipelines with (one per account)."""
    return f"mf-{team}-drift-schedule"


def drift_pipeline_name(team: str, model: str, stage: str) -> str:
    return f"{endpoint_name(team, model, stage)}-drift"


def capture_prefix(team: str, model: str, stage: str) -> str:
    """Where an endpoint's data capture lands in the team bucket (then <endpoint>/<variant>/yyyy/mm/dd/hh/)."""
    return f"data-capture/{endpoint_name(team, model, stage)}"


def drift_report_prefix(team: str, model: str, stage: str) -> str:
    """Where the factory engine writes an endpoint's drift.json, one folder per pipeline execution."""
    return f"monitoring/{endpoint_name(team, model, stage)}/factory"


# asynchronous inference: callers put request payloads under `input`; SageMaker writes answers and failures
ASYNC_NOTIFICATIONS = ("success", "error")


def async_prefix(endpoint: str) -> str:
    return f"async/{endpoint}"


def async_locations(bucket: str, endpoint: str) -> dict[str, str]:
    return {kind: f"s3://{bucket}/{async_prefix(endpoint)}/{kind}" for kind in ("input", "output", "failures")}


def async_topic_name(endpoint: str, kind: str) -> str:
    return f"{endpoint}-async-{kind}"


def api_name(team: str, stage: str) -> str:
    """The team's consumer API of a stage (API Gateway REST API and its web ACL)."""
    return f"mf-{team}-{stage}"


def api_url_parameter(team: str, model: str, stage: str) -> str:
    """Where the stage's API writes the model's invocation URL (read by the deploy for the client snippet)."""
    return f"{PARAMETER_ROOT}/{team}/{model}/{stage}/api-url"


def invoke_policy_name(team: str, model: str, stage: str) -> str:
    """The managed policy app teams attach to call a model's stage through its API."""
    return f"mf-{team}-{model}-{stage}-invoke"


def batch_pipeline_name(team: str, model: str, stage: str) -> str:
    """The stage's scheduled batch scoring (SageMaker pipeline and its schedule)."""
    return f"{endpoint_name(team, model, stage)}-batch"


# the model catalog (one per factory): its bus, table and reader role, and the entry events
CATALOG_BUS = "mf-catalog"
CATALOG_TABLE = "mf-catalog"
CATALOG_READER_ROLE = "mf-catalog-reader"
CATALOG_SOURCE = "model-factory.catalog"
CATALOG_DETAIL_TYPE = "Model Catalog Entry"


def catalog_bus_arn(partition: str, region: str, account: str) -> str:
    return f"arn:{partition}:events:{region}:{account}:event-bus/{CATALOG_BUS}"


# the showback's monthly figure: ModelFactory ModelCostUSD with the dimensions Team, Model and service (the
# Powertools service name of the showback function, which its metrics carry as a dimension)
SHOWBACK_SERVICE = "showback"


def showback_dimensions(team: str, model: str) -> dict[str, str]:
    return {"Team": team, "Model": model, "service": SHOWBACK_SERVICE}
