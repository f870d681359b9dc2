"""The build of one model: source repository, CodePipeline V2 (Source -> Build), the CodeBuild project
that upserts, starts and waits for the model's SageMaker Pipeline, and the optional retrain schedule."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.config.model import CodeConnectionsSource, ModelConfig
from stacks.common.naming import codepipeline_name, model_package_group_name, sagemaker_pipeline_name
from stacks.common.nag import acknowledge_each, codebuild_default_reasons, nag_text, pipeline_artifact_reasons

SEED_CODE = Path(__file__).resolve().parents[2] / "pipelines" / "modelbuild"
SEED_CODE_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", ".venv", "build"]
CODEBUILD_MARGIN_MINUTES = 120
CODEBUILD_MAX_MINUTES = 2160


def build_spec() -> codebuild.BuildSpec:
    return codebuild.BuildSpec.from_object({
        "version": "0.2",
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.11"},
                "commands": ["pip install --disable-pip-version-check -q -r requirements.txt"],
            },
            "build": {"commands": ["python run_pipeline.py run"]},
        },
    })


class ModelBuild(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: str,
        model: ModelConfig,
        bucket: s3.IBucket,
        key: kms.IKey,
        sagemaker_role: iam.IRole,
        tags: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        pipeline_name = sagemaker_pipeline_name(team, model.name)
        source_output = codepipeline.Artifact("Source")
        self.repository: codecommit.Repository | None = None

        if isinstance(model.source, CodeConnectionsSource):
            owner, repo = model.source.repository.split("/", 1)
            source_action: codepipeline.IAction = actions.CodeStarConnectionsSourceAction(
                action_name="Source",
                connection_arn=model.source.connection_arn,
                owner=owner,
                repo=repo,
                branch=model.source.branch,
                output=source_output,
                trigger_on_push=True,
            )
        else:
            self.repository = codecommit.Repository(
                self,
                "Repository",
                repository_name=codepipeline_name(team, model.name, "build"),
                description=f"Model Factory: build code of the {team} team's {model.name} model",
                code=codecommit.Code.from_asset(
                    s3_assets.Asset(self, "SeedCode", path=str(SEED_CODE), exclude=SEED_CODE_EXCLUDES),
                    model.source.branch,
                ),
                kms_key=key,
            )
            self.repository.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            source_action = actions.CodeCommitSourceAction(
                action_name="Source",
                repository=self.repository,
                branch=model.source.branch,
                output=source_output,
                trigger=actions.CodeCommitTrigger.EVENTS,
            )

        log_group = logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=f"/model-factory/{team}/{model.name}/build",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        settings = {
            "region": stack.region,
            "pipeline_name": pipeline_name,
            "model_package_group_name": model_package_group_name(team, model.name),
            "role_arn": sagemaker_role.role_arn,
            "bucket": bucket.bucket_name,
            "kms_key_arn": key.key_arn,
            "problem_type": model.problem_type,
            "quality_metric": model.quality_gate.metric,
            "quality_threshold": model.quality_gate.threshold,
            "training_instance_type": model.training.instance_type,
            "training_instance_count": model.training.instance_count,
            "use_spot": model.training.use_spot,
            "max_runtime_minutes": model.training.max_runtime_minutes,
            "tags": tags,
        }
        monitoring = model.monitoring
        if monitoring.label:
            settings["label"] = monitoring.label
        if monitoring.bias:
            settings.update(bias=True, bias_facet_name=monitoring.facet.name,
                            bias_facet_values=list(monitoring.facet.values),
                            bias_label_values=list(monitoring.label_values))
        if monitoring.explainability:
            settings["explainability"] = True
        self.project = codebuild.PipelineProject(
            self,
            "Build",
            project_name=codepipeline_name(team, model.name, "build"),
            description=f"Upserts, starts and waits for the SageMaker Pipeline {pipeline_name}",
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
            ),
            encryption_key=key,
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
            timeout=cdk.Duration.minutes(
                min(model.training.max_runtime_minutes + CODEBUILD_MARGIN_MINUTES, CODEBUILD_MAX_MINUTES)),
            environment_variables={
                "MODEL_FACTORY_SETTINGS": codebuild.BuildEnvironmentVariable(
                    value=stack.to_json_string(settings)),
            },
            build_spec=build_spec(),
        )
        self._grant_build_permissions(team, model.name, pipeline_name, bucket, key, sagemaker_role)

        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=codepipeline_name(team, model.name, "build"),
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=bucket,
            restart_execution_on_update=False,
            # same-account actions run as the pipeline role: no extra role and policy per action
            use_pipeline_role_for_actions=True,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[source_action]),
                codepipeline.StageProps(stage_name="Build", actions=[
                    actions.CodeBuildAction(action_name="TrainEvaluateRegister", project=self.project,
                                            input=source_output),
                ]),
            ],
        )
        self._acknowledge_wildcards(bucket, pipeline_name)
        if model.retrain_schedule:
            self.schedule = events.Rule(
                self,
                "RetrainSchedule",
                rule_name=f"{codepipeline_name(team, model.name, 'build')}-schedule",
                description=f"Retrain {team}/{model.name} on {model.retrain_schedule}",
                schedule=events.Schedule.expression(model.retrain_schedule),
                targets=[targets.CodePipeline(self.pipeline)],
            )

    def _grant_build_permissions(self, team: str, model: str, pipeline_name: str, bucket: s3.IBucket,
                                 key: kms.IKey, sagemaker_role: iam.IRole) -> None:
        stack = cdk.Stack.of(self)
        pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="UpsertAndStartSageMakerPipeline",
            actions=["sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DescribePipeline",
                     "sagemaker:StartPipelineExecution", "sagemaker:AddTags", "sagemaker:ListTags"],
            resources=[pipeline_arn],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="WatchPipelineExecutions",
            actions=["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps",
                     "sagemaker:StopPipelineExecution"],
            resources=[f"{pipeline_arn}/execution/*"],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="PassTheTeamSageMakerRole",
            actions=["iam:PassRole"],
            resources=[sagemaker_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="UploadCodeAndSeedData",
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{pipeline_name}/*")],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="EncryptUploads",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn],
        ))

    def _acknowledge_wildcards(self, bucket: s3.IBucket, pipeline_name: str) -> None:
        stack = cdk.Stack.of(self)
        artifact_reasons = pipeline_artifact_reasons(stack, bucket.arn_for_objects("*"))
        acknowledge_each(self.pipeline.role.node.find_child("DefaultPolicy").node.default_child, artifact_reasons)
        pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        acknowledge_each(self.project.role.node.find_child("DefaultPolicy").node.default_child, {
            **artifact_reasons,
            **codebuild_default_reasons(stack, self.project.project_name),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, pipeline_arn)}/execution/*]": (
                "SageMaker names each execution of this one pipeline at start; the build watches the one "
                "it started."
            ),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, bucket.arn_for_objects(pipeline_name + '/*'))}]": (
                "The build uploads its code version and seed data under this model's own prefix."
            ),
        })
