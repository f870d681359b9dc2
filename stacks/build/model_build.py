"""The build of one model: source repository, CodePipeline V2 (Source -> Build), the CodeBuild project
that runs the repository's tests, then upserts, starts and waits for the model's SageMaker Pipeline, and
the optional retrain schedule.

Lineage reaches the build from whoever started it: the commit from the source action's variables, the
trigger from the pipeline variable `Trigger` (`push` by default; the retrain schedule says `schedule`, the
drift-retrain function `drift`; the build tells a start by hand from the execution's trigger type)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.nag import acknowledge_each, codebuild_default_reasons, nag_text, pipeline_artifact_reasons
from stacks.common.naming import (
    codepipeline_name,
    model_package_group_name,
    sagemaker_pipeline_name,
    serving_parameter,
)
from stacks.common.shared_values import hours, minutes
from stacks.config.model import CodeConnectionsSource, ModelConfig
from stacks.config.pipeline_settings import default_data_uri, pipeline_settings

SEED_CODE = Path(__file__).resolve().parents[2] / "pipelines" / "modelbuild"
SEED_CODE_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache", ".venv", "build"]
TRIGGER_VARIABLE = "Trigger"


def build_spec() -> codebuild.BuildSpec:
    return codebuild.BuildSpec.from_object({
        "version": "0.2",
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.11"},
                "commands": ["pip install --disable-pip-version-check -q -r requirements-local.txt"],
            },
            # the repository's own tests first: nothing is spent on SageMaker when they fail
            "build": {"commands": ["python -m pytest -q -p no:cacheprovider tests", "python run_pipeline.py run"]},
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
        topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        pipeline_name = sagemaker_pipeline_name(team, model.name)
        build_name = codepipeline_name(team, model.name, "build")
        self._group_name = model_package_group_name(team, model.name)
        source_output = codepipeline.Artifact("Source")
        self.repository: codecommit.Repository | None = None

        if isinstance(model.source, CodeConnectionsSource):
            owner, repo = model.source.repository.split("/", 1)
            source_action: actions.CodeStarConnectionsSourceAction | actions.CodeCommitSourceAction = (
                actions.CodeStarConnectionsSourceAction(
                    action_name="Source",
                    connection_arn=model.source.connection_arn,
                    owner=owner,
                    repo=repo,
                    branch=model.source.branch,
                    output=source_output,
                    trigger_on_push=True,
                    variables_namespace="Source",
                ))
            repository = model.source.repository
        else:
            self.repository = codecommit.Repository(
                self,
                "Repository",
                repository_name=build_name,
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
                variables_namespace="Source",
            )
            repository = self.repository.repository_clone_url_http

        log_group = logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=f"/model-factory/{team}/{model.name}/build",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        settings = pipeline_settings(
            team=team, model=model, pipeline_name=pipeline_name, group_name=self._group_name,
            region=stack_environment(stack).region, bucket_name=bucket.bucket_name, role_arn=sagemaker_role.role_arn,
            kms_key_arn=key.key_arn, repository=repository, tags=tags)
        if topic is not None:
            settings["notification_topic_arn"] = topic.topic_arn
        self.project = codebuild.PipelineProject(
            self,
            "Build",
            project_name=build_name,
            description=f"Tests, then upserts, starts and waits for the SageMaker Pipeline {pipeline_name}",
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
            ),
            encryption_key=key,
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
            # the build waits for training (twice the runtime with spot) plus a margin: validated in the config
            timeout=minutes(model.training.build_timeout_minutes),
            environment_variables={
                "MODEL_FACTORY_SETTINGS": codebuild.BuildEnvironmentVariable(value=stack.to_json_string(settings)),
                "CODEPIPELINE_NAME": codebuild.BuildEnvironmentVariable(value=build_name),
            },
            build_spec=build_spec(),
        )
        self.trigger = codepipeline.Variable(
            variable_name=TRIGGER_VARIABLE, default_value="push",
            description="Who started the build: push (default), schedule, drift or manual")
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=build_name,
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=bucket,
            restart_execution_on_update=False,
            variables=[self.trigger],
            # same-account actions run as the pipeline role: no extra role and policy per action
            use_pipeline_role_for_actions=True,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[source_action]),
                codepipeline.StageProps(stage_name="Build", actions=[
                    actions.CodeBuildAction(
                        action_name="TrainEvaluateRegister", project=self.project, input=source_output,
                        environment_variables={
                            "GIT_COMMIT": codebuild.BuildEnvironmentVariable(value=source_action.variables.commit_id),
                            "TRIGGER": codebuild.BuildEnvironmentVariable(value=self.trigger.reference()),
                            "PIPELINE_EXECUTION_ID": codebuild.BuildEnvironmentVariable(
                                value="#{codepipeline.PipelineExecutionId}"),
                        }),
                ]),
            ],
        )
        data_bucket, data_prefix = self._data_location(model.training.data_s3_uri, bucket, pipeline_name)
        self._grant_build_permissions(team, model.name, pipeline_name, bucket, key, sagemaker_role,
                                      data_bucket, data_prefix)
        self._grant_promotion(team, model, pipeline_name, bucket, topic)
        if isinstance(model.source, CodeConnectionsSource):
            # CDK's source action grants only codestar-connections:UseConnection; connections created since
            # 2024 have arn:aws:codeconnections ARNs, which need the codeconnections service prefix
            self.pipeline.add_to_role_policy(iam.PolicyStatement(
                sid="UseTheCodeConnection", actions=["codeconnections:UseConnection"],
                resources=[model.source.connection_arn]))
        self._acknowledge_wildcards(bucket, pipeline_name, data_bucket, data_prefix)
        if model.retrain_schedule:
            self.schedule = scheduler.Schedule(
                self,
                "RetrainSchedule",
                schedule_name=f"{build_name}-schedule",
                description=f"Retrain {team}/{model.name} on {model.retrain_schedule}",
                schedule=scheduler.ScheduleExpression.expression(model.retrain_schedule),
                # the universal target passes the pipeline variable: the build records trigger=schedule
                target=scheduler_targets.Universal(
                    service="codepipeline", action="startPipelineExecution",
                    input=scheduler.ScheduleTargetInput.from_object({
                        "Name": build_name, "Variables": [{"Name": TRIGGER_VARIABLE, "Value": "schedule"}]}),
                    policy_statements=[iam.PolicyStatement(
                        actions=["codepipeline:StartPipelineExecution"], resources=[self.pipeline.pipeline_arn])],
                    retry_attempts=3, max_event_age=hours(1),
                ),
            )

    @staticmethod
    def _data_location(configured: str | None, bucket: s3.IBucket, pipeline_name: str) -> tuple[s3.IBucket | str, str]:
        """(bucket, key prefix) of the training data: the team bucket by default, else the configured one."""
        if configured is None:
            return bucket, default_data_uri("-", pipeline_name).split("/", 3)[3]
        name, prefix = configured[5:].split("/", 1)
        return name, prefix

    def _grant_build_permissions(self, team: str, model: str, pipeline_name: str, bucket: s3.IBucket,
                                 key: kms.IKey, sagemaker_role: iam.IRole, data_bucket: s3.IBucket | str,
                                 data_prefix: str) -> None:
        stack = cdk.Stack.of(self)
        pipeline_arn = format_arn(stack, service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        group = model_package_group_name(team, model)
        bucket_arn = (data_bucket.bucket_arn if not isinstance(data_bucket, str)
                      else f"arn:{stack_environment(stack).partition}:s3:::{data_bucket}")
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
            sid="CompareWithTheNewestPackage",
            actions=["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
            resources=[format_arn(stack, service="sagemaker", resource="model-package-group", resource_name=group),
                       format_arn(stack, service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadWhoStartedTheBuild",
            actions=["codepipeline:GetPipelineExecution"],
            resources=[format_arn(stack, service="codepipeline", resource=codepipeline_name(team, model, "build"))],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="PassTheTeamSageMakerRole",
            actions=["iam:PassRole"],
            resources=[sagemaker_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="UploadCode",
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{pipeline_name}/code/*")],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ListTheTrainingData",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{data_prefix}*"]}},
        ))
        # the only object the build may write among the training data; the put is conditional (If-None-Match)
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="SeedAnEmptyTrainingDataPrefix",
            actions=["s3:PutObject"],
            resources=[f"{bucket_arn}/{data_prefix}seed.csv"],
        ))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="EncryptUploads",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn],
        ))

    def _grant_promotion(self, team: str, model: ModelConfig, pipeline_name: str, bucket: s3.IBucket,
                         topic: sns.ITopic | None) -> None:
        """The champion is scored on every build; only `promotion.mode: auto` may approve a package."""
        stack = cdk.Stack.of(self)
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadTheServingChampion", actions=["ssm:GetParameter"],
            resources=[format_arn(stack, service="ssm", resource="parameter",
                                        resource_name=serving_parameter(team, model.name, "prod").lstrip("/"))]))
        if model.promotion.mode != "auto":
            return
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadTheEvaluationReport", actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{pipeline_name}/executions/*/evaluation/evaluation.json")]))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ApproveABetterChallenger", actions=["sagemaker:UpdateModelPackage"],
            resources=[format_arn(stack, service="sagemaker", resource="model-package",
                                        resource_name=f"{self._group_name}/*")]))
        if topic is not None:
            topic.grant_publish(self.project)
        acknowledge_each(self.project.role.node.find_child("DefaultPolicy").node.default_child, {
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, bucket.arn_for_objects(pipeline_name + '/executions/*/evaluation/evaluation.json'))}]": (
                "The evaluation report of the execution the build started; SageMaker names executions at start."),
        })

    def _acknowledge_wildcards(self, bucket: s3.IBucket, pipeline_name: str, data_bucket: s3.IBucket | str,
                               data_prefix: str) -> None:
        stack = cdk.Stack.of(self)
        artifact_reasons = pipeline_artifact_reasons(stack, bucket.arn_for_objects("*"))
        acknowledge_each(self.pipeline.role.node.find_child("DefaultPolicy").node.default_child, artifact_reasons)
        pipeline_arn = format_arn(stack, service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        group = self._group_name
        acknowledge_each(self.project.role.node.find_child("DefaultPolicy").node.default_child, {
            **artifact_reasons,
            **codebuild_default_reasons(stack, self.project.project_name),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, pipeline_arn)}/execution/*]": (
                "SageMaker names each execution of this one pipeline at start; the build watches the one "
                "it started."
            ),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, bucket.arn_for_objects(pipeline_name + '/code/*'))}]": (
                "The build uploads its code version (keyed by commit) under this model's code prefix."
            ),
            "AwsSolutions-IAM5[Resource::" + nag_text(stack, format_arn(stack,
                service="sagemaker", resource="model-package", resource_name=f"{group}/*")) + "]": (
                "Read-only: the build compares its commit and data version with the newest version of this "
                "model's own package group, whose versions SageMaker numbers."
            ),
        })
