"""The deploy of one model: CodePipeline V2 `mf-<team>-<model>-deploy`, started by the approval hook with
the pipeline variables ModelPackageArn, Purpose (deploy | rollback), SkipStaging and SkipProd, never by a
source change:

    Source (the endpoint app, an asset of this repo) -> Validate -> DeployStaging (+ RecordStaging)
        -> TestStaging -> ApproveProd (manual, approvers' topic) -> DeployProd (CheckStillApproved, deploy,
        RecordProd)

Stage entry conditions (VariableCheck) skip TestStaging and ApproveProd on a rollback, and a stage the
rejected version does not serve in. Execution mode SUPERSEDED: a rollback or a newer approval overtakes a
deploy waiting at the manual gate instead of queueing behind it; the approval hook refuses to start an
older approval after a newer one, so order holds.

Validate checks the package (exists, Approved, in this model's group, artifacts present), writes the
deploy manifests and synthesizes both endpoint stacks with the same code as `make synth-endpoint`.
"""

from __future__ import annotations

import math

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.nag import acknowledge_each, codebuild_default_reasons, nag_text, pipeline_artifact_reasons
from stacks.common.naming import (
    api_url_parameter,
    cfn_execution_role_name,
    codepipeline_name,
    deploy_action_role_name,
    deploy_pipeline_role_name,
    deploy_tasks_role_name,
    endpoint_name,
    model_package_group_name,
    target_role_arn,
    team_stack_name,
)
from stacks.common.shared_values import minutes, service_principal
from stacks.config.model import ModelConfig
from stacks.deploy.endpoint_deployment_policy import acknowledge_endpoint_deployment, endpoint_deployment_statements

ROOT = Path(__file__).resolve().parents[2]
# What the deploy needs of this repository: the endpoint app, its constructs and pinned toolchain, the
# deploy tasks and the seed data for the smoke test. `build/*`, not `build`: a bare name matches at any depth
# and would drop the stacks/build package along with the root's local outputs.
BUNDLE_EXCLUDES = [".git", ".venv", "node_modules", "cdk.out", "cdk.*.out", "build/*", "tests", "__pycache__",
                   "*.pyc", ".pytest_cache", "pipelines/modelbuild/code", "*.md"]
STAGES = ("staging", "prod")
PIPELINE_VARIABLE = "ModelPackageArn"
SMOKE_TEST_MAX_P95_MS = 2000


def deploy_spec() -> codebuild.BuildSpec:
    return codebuild.BuildSpec.from_object({
        "version": "0.2",
        "env": {"exported-variables": ["APPROVAL_SUMMARY", "REVIEW_URL", "PACKAGE_VERSION"]},
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.11"},
                "commands": [
                    "pip install --disable-pip-version-check -q -r requirements.txt boto3",
                    'if [ "$TASK" = validate ]; then npm ci --no-audit --no-fund --loglevel=error; fi',
                ],
            },
            "build": {"commands": [
                'export PATH="$PWD/node_modules/.bin:$PATH" DEPLOY_OUT=build/deploy',
                'if [ "$TASK" = validate ]; then python -m pipelines.deploy.tasks validate > exports.sh '
                '&& . ./exports.sh && for stage in staging prod; do cdk synth --quiet --no-notices '
                '--app "python endpoint_app.py" -c manifest=build/deploy/manifest-$stage.json '
                '-o build/deploy/$stage || exit 1; done; fi',
                # later tasks read the manifests Validate wrote, from its output artifact
                'if [ "$TASK" = smoke-test ]; then DEPLOY_OUT="$CODEBUILD_SRC_DIR_Templates" '
                'python -m pipelines.deploy.tasks smoke-test; fi',
                'if [ "$TASK" = record-prod ]; then DEPLOY_OUT="$CODEBUILD_SRC_DIR_Templates" '
                'python -m pipelines.deploy.tasks record prod; fi',
                'if [ "$TASK" = record-staging ]; then DEPLOY_OUT="$CODEBUILD_SRC_DIR_Templates" '
                'python -m pipelines.deploy.tasks record staging; fi',
                'if [ "$TASK" = check-approved ]; then python -m pipelines.deploy.tasks check-approved; fi',
            ]},
        },
        "artifacts": {"base-directory": "build/deploy", "files": ["**/*"]},
    })


class ModelDeploy(Construct):
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
        topic: sns.ITopic,
        stage_accounts: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        catalog_bus_arn: str | None = None,
        owners: list[str] | None = None,
    ) -> None:
        """`catalog_bus_arn`: where the Record steps publish the stage's catalog entry (None: no catalog)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        # stage -> the account its endpoint runs in; a separate account is deployed through its target roles
        accounts = {stage: (stage_accounts or {}).get(stage, stack_env.account) for stage in STAGES}
        separate = {stage: account for stage, account in accounts.items() if account != stack_env.account}
        group = model_package_group_name(team, model.name)
        self.serving_parameters = {
            stage: ssm.StringParameter(
                self, f"Serving-{stage}",
                parameter_name=f"/model-factory/{team}/{model.name}/{stage}/model-package-arn",
                string_value="none",
                description=f"Model package serving in {stage} (written by the deploy pipeline)",
            )
            for stage in STAGES
        }
        bundle = s3_assets.Asset(self, "EndpointApp", path=str(ROOT), exclude=BUNDLE_EXCLUDES)
        settings = {
            "team": team, "model": model.name, "model_package_group_name": group,
            "account": stack_env.account, "region": stack_env.region, "stage_accounts": accounts,
            # cost allocation: the endpoint stacks carry the team's tags like every other resource
            "tags": dict(sorted((tags or {}).items())),
            "endpoint": {stage: getattr(model.endpoint, stage).model_dump(mode="json") for stage in STAGES},
            "problem_type": model.problem_type, "label": model.label,
            # the catalog entry's fields the registry does not hold
            "description": model.description, "owners": list(owners or []), "catalog_bus_arn": catalog_bus_arn,
            "sample_data": "pipelines/modelbuild/data/transactions.csv",
            "smoke_test_max_p95_ms": SMOKE_TEST_MAX_P95_MS,
            "monitoring": {
                "engine": model.monitoring.engine,
                "schedule": model.monitoring.schedule, "drift_threshold": model.monitoring.threshold,
                "alarm_datapoints": model.monitoring.alarm_datapoints,
                "alarm_periods": model.monitoring.alarm_periods, "min_records": model.monitoring.min_records,
                **({"ground_truth_s3_uri": model.monitoring.ground_truth_s3_uri,
                    "problem_type": model.problem_type, "quality_metric": model.quality_gate.metric,
                    "quality_threshold": model.quality_gate.threshold,
                    "quality_higher_is_better": model.quality_higher_is_better}
                   if model.monitoring.model_quality_enabled else {}),
                **({"bias": True} if model.monitoring.bias else {}),
                **({"explainability": True} if model.monitoring.explainability else {}),
            },
        }
        log_group = logs.LogGroup(self, "DeployLogs", log_group_name=f"/model-factory/{team}/{model.name}/deploy",
                                  encryption_key=key, retention=logs.RetentionDays.ONE_YEAR,
                                  removal_policy=cdk.RemovalPolicy.RETAIN)
        self.project = codebuild.PipelineProject(
            self, "Tasks",
            project_name=codepipeline_name(team, model.name, "deploy"),
            # named, so that target accounts can trust exactly this role (aws:PrincipalArn)
            role=iam.Role(self, "TasksRole", role_name=deploy_tasks_role_name(team, model.name),
                          assumed_by=service_principal("codebuild.amazonaws.com")),
            description=f"Validate, smoke test and record deploys of {team}/{model.name}",
            environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                                                   compute_type=codebuild.ComputeType.SMALL),
            encryption_key=key,
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
            # the longest task is the staging smoke test: an async wake-up or a whole batch run
            timeout=minutes(max(30, math.ceil(model.endpoint.staging.smoke_test_wait_seconds / 60) + 15)),
            environment_variables={"DEPLOY_SETTINGS": codebuild.BuildEnvironmentVariable(
                value=stack.to_json_string(settings))},
            build_spec=deploy_spec(),
        )
        self._grant_tasks(stack, group, team, model.name, bucket, catalog_bus_arn)
        if "staging" in separate:
            # the smoke test invokes a staging endpoint in another account through the team's role there
            self.project.add_to_role_policy(iam.PolicyStatement(
                sid="SmokeTestInTheStagingAccount", actions=["sts:AssumeRole"],
                resources=[target_role_arn(stack_env.partition, separate["staging"], deploy_action_role_name(team))]))

        variable = codepipeline.Variable(variable_name=PIPELINE_VARIABLE, default_value="none",
                                         description="ARN of the approved model package to deploy")
        purpose = codepipeline.Variable(variable_name="Purpose", default_value="deploy",
                                        description="deploy, or rollback (no smoke test, no manual gate)")
        skip_gate = codepipeline.Variable(variable_name="SkipGate", default_value="false",
                                          description="true: no manual prod gate (a rollback, or an automatic "
                                                      "promotion with prod_gate: auto)")
        skip = {stage: codepipeline.Variable(variable_name=f"Skip{stage.capitalize()}", default_value="false",
                                             description=f"true: leave {stage} as it is (a rollback where the "
                                                         "rejected version does not serve)") for stage in STAGES}
        source, templates = codepipeline.Artifact("EndpointApp"), codepipeline.Artifact("Templates")
        deployment_role = self._deployment_role(stack, team, model.name, group, sagemaker_role, key)

        def task(name: str, task_name: str, inputs: list[codepipeline.Artifact], **kwargs) -> actions.CodeBuildAction:
            return actions.CodeBuildAction(
                action_name=name, project=self.project, input=inputs[0], extra_inputs=inputs[1:] or None,
                environment_variables={
                    "TASK": codebuild.BuildEnvironmentVariable(value=task_name),
                    "MODEL_PACKAGE_ARN": codebuild.BuildEnvironmentVariable(value=variable.reference()),
                }, **kwargs)

        validate = task("Validate", "validate", [source], outputs=[templates], variables_namespace="Validate")

        def deploy(stage: str) -> actions.CloudFormationCreateUpdateStackAction:
            cross_account = {}
            if stage in separate:
                # the target account's roles (stacks/deploy/deployment_target.py), found by their names
                cross_account = {
                    "role": iam.Role.from_role_arn(self, f"{stage.capitalize()}ActionRole", target_role_arn(
                        stack_env.partition, separate[stage], deploy_action_role_name(team)), mutable=False),
                    "deployment_role": iam.Role.from_role_arn(self, f"{stage.capitalize()}CfnExecutionRole",
                                                              target_role_arn(stack_env.partition, separate[stage],
                                                                              cfn_execution_role_name(team)),
                                                              mutable=False),
                }
            return actions.CloudFormationCreateUpdateStackAction(
                action_name=f"Deploy{stage.capitalize()}",
                stack_name=team_stack_name(team, f"{model.name}-{stage}-endpoint"),
                template_path=templates.at_path(f"{stage}/Endpoint.template.json"),
                admin_permissions=False,
                # a first create that rolled back (ROLLBACK_COMPLETE) blocks every later update: staging is
                # replaced; prod is never deleted by the pipeline (the failure names the stack to clear)
                replace_on_failure=stage == "staging",
                run_order=1 if stage == "staging" else 2,
                **({"deployment_role": deployment_role} | cross_account),
            )

        def skip_when(name: str, variable_reference: str, value: str) -> codepipeline.Conditions:
            return codepipeline.Conditions(conditions=[codepipeline.Condition(
                result=codepipeline.Result.SKIP,
                rules=[codepipeline.Rule(name=name, provider="VariableCheck", version="1", configuration={
                    "Variable": variable_reference, "Value": value, "Operator": "EQ"})])])

        self.pipeline = codepipeline.Pipeline(
            self, "Pipeline",
            pipeline_name=codepipeline_name(team, model.name, "deploy"),
            role=iam.Role(self, "PipelineRole", role_name=deploy_pipeline_role_name(team, model.name),
                          assumed_by=service_principal("codepipeline.amazonaws.com")),
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=bucket,
            restart_execution_on_update=False,
            use_pipeline_role_for_actions=True,
            variables=[variable, purpose, *skip.values(), skip_gate],
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[actions.S3SourceAction(
                    action_name="EndpointApp", bucket=s3.Bucket.from_bucket_name(
                        self, "AssetBucket", bundle.s3_bucket_name),
                    bucket_key=bundle.s3_object_key, output=source, trigger=actions.S3Trigger.NONE)]),
                codepipeline.StageProps(stage_name="Validate", actions=[validate]),
                codepipeline.StageProps(
                    stage_name="DeployStaging",
                    before_entry=skip_when("SkipStaging", skip["staging"].reference(), "true"),
                    # recorded as soon as it is deployed, from what the endpoint really serves
                    actions=[deploy("staging"), task("RecordStaging", "record-staging", [source, templates],
                                                     run_order=2)]),
                codepipeline.StageProps(
                    stage_name="TestStaging", before_entry=skip_when("Rollback", purpose.reference(), "rollback"),
                    actions=[task("SmokeTest", "smoke-test", [source, templates])]),
                codepipeline.StageProps(
                    stage_name="ApproveProd", before_entry=skip_when("NoGate", skip_gate.reference(), "true"),
                    actions=[actions.ManualApprovalAction(
                    action_name="ApproveProd",
                    notification_topic=topic,
                    additional_information=f"Deploy {team}/{model.name} to prod? "
                                           f"{validate.variable('APPROVAL_SUMMARY')}",
                    external_entity_link=validate.variable("REVIEW_URL"),
                )]),
                codepipeline.StageProps(
                    stage_name="DeployProd",
                    before_entry=skip_when("SkipProd", skip["prod"].reference(), "true"),
                    # a package rejected while it waited at the gate does not reach prod
                    actions=[task("CheckStillApproved", "check-approved", [source], run_order=1), deploy("prod"),
                             task("RecordProd", "record-prod", [source, templates], run_order=3)]),
            ],
        )
        self._acknowledge_wildcards(stack, team, model.name, group, bucket, bundle)
        # The pipeline never replaces prod: when DeployProd fails, the approvers get the command that clears a
        # stack a failed first create left in ROLLBACK_COMPLETE ("CodePipeline Action Execution State Change")
        prod_stack = team_stack_name(team, f"{model.name}-prod-endpoint")
        self.prod_failure = events.Rule(
            self, "ProdDeployFailed",
            rule_name=f"{codepipeline_name(team, model.name, 'deploy')}-prod-failed",
            description=f"DeployProd of {team}/{model.name} failed: tell the approvers how to recover",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"], detail_type=["CodePipeline Action Execution State Change"],
                detail={"pipeline": [codepipeline_name(team, model.name, "deploy")], "stage": ["DeployProd"],
                        "action": ["DeployProd"], "state": ["FAILED"]}),
            targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(
                f"DeployProd of {team}/{model.name} failed (execution {events.EventField.from_path('$.detail.execution-id')}). "
                f"Prod keeps serving what it served. If {prod_stack} is in ROLLBACK_COMPLETE after a failed first "
                f"create, clear it with: aws cloudformation delete-stack --stack-name {prod_stack} "
                f"--region {stack_env.region}, then approve the package again."))])

    def _grant_tasks(self, stack: cdk.Stack, group: str, team: str, model: str, bucket: s3.IBucket,
                     catalog_bus_arn: str | None) -> None:
        packages = format_arn(stack, service="sagemaker", resource="model-package", resource_name=f"{group}/*")
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadTheModelPackages", actions=["sagemaker:DescribeModelPackage"], resources=[packages]))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="CheckArtifactsAndMetrics", actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")]))
        if catalog_bus_arn:
            # Record*: the stage's entry to the factory's catalog (its bus policy admits the team's account)
            self.project.add_to_role_policy(iam.PolicyStatement(
                sid="PublishCatalogEntries", actions=["events:PutEvents"], resources=[catalog_bus_arn]))
        # Record*: the model's last monthly cost from the showback (GetMetricStatistics has no resource type)
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadTheShowback", actions=["cloudwatch:GetMetricStatistics"], resources=["*"]))
        # Record*: the stage's client code under clients/<endpoint>/, with the URL its API recorded
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="PublishClientCode", actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"clients/{endpoint_name(team, model, stage)}/*") for stage in STAGES]))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="ReadTheApiUrls", actions=["ssm:GetParameter"],
            resources=[format_arn(stack, service="ssm", resource="parameter",
                                        resource_name=api_url_parameter(team, model, stage).lstrip("/"))
                       for stage in STAGES]))
        # mode batch: the smoke test runs the staging batch pipeline once and follows its execution
        staging_batch = f"{endpoint_name(team, model, 'staging')}-batch"
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="SmokeTestStagingBatch", actions=["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution"],
            resources=[format_arn(stack, service="sagemaker", resource="pipeline", resource_name=staging_batch),
                       format_arn(stack, service="sagemaker", resource="pipeline",
                                        resource_name=f"{staging_batch}/execution/*")]))
        # mode async: S3 answers a missing answer with NoSuchKey (not AccessDenied) only to a role that may list
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="SmokeTestAsyncAnswers", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"async/{endpoint_name(team, model, 'staging')}/{kind}/*"
                                                     for kind in ("output", "failures")]}}))
        # mode async: the smoke test puts its sample under the staging endpoint's input prefix and invokes it
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="SmokeTestAsyncInput", actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"async/{endpoint_name(team, model, 'staging')}/input/*")]))
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="SmokeTestStaging", actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"],
            resources=[format_arn(stack, service="sagemaker", resource="endpoint",
                                        resource_name=endpoint_name(team, model, "staging")),
                       format_arn(stack, service="sagemaker", resource="inference-component",
                                        resource_name=f"{endpoint_name(team, model, 'staging')}-ic")]))
        # RecordStaging / RecordProd check what the endpoint really serves (same-account stages; a separate
        # account's stage is described through the deploy-action role there)
        self.project.add_to_role_policy(iam.PolicyStatement(
            sid="DescribeWhatTheEndpointsServe",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel",
                     "sagemaker:ListInferenceComponents", "sagemaker:DescribeInferenceComponent"],
            resources=[format_arn(stack, service="sagemaker", resource=kind, resource_name=name) for kind, name in (
                *(("endpoint", endpoint_name(team, model, stage)) for stage in STAGES),
                *(("inference-component", f"{endpoint_name(team, model, stage)}-ic") for stage in STAGES),
                ("endpoint-config", "*"), ("model", "*"))]))
        for parameter in self.serving_parameters.values():
            parameter.grant_read(self.project)
            parameter.grant_write(self.project)

    def _deployment_role(self, stack: cdk.Stack, team: str, model: str, group: str, sagemaker_role: iam.IRole,
                         key: kms.IKey) -> iam.Role:
        """What CloudFormation may do when it deploys this model's endpoint stacks, and nothing else."""
        role = iam.Role(self, "EndpointDeploymentRole",
                        assumed_by=service_principal("cloudformation.amazonaws.com"),
                        description=f"CloudFormation deploys the endpoint stacks of {team}/{model}")
        for statement in endpoint_deployment_statements(
                stack, prefix=f"mf-{team}-{model}-", sagemaker_role_arn=sagemaker_role.role_arn,
                package_arns=[format_arn(stack, service="sagemaker", resource="model-package", resource_name=f"{group}/*")],
                team=team, key_statement=iam.PolicyStatement(sid="CaptureAndVolumeEncryption",
                                                             actions=["kms:DescribeKey", "kms:CreateGrant"],
                                                             resources=[key.key_arn])):
            role.add_to_policy(statement)
        self.deployment_role = role
        return role

    def _acknowledge_wildcards(self, stack: cdk.Stack, team: str, model: str, group: str, bucket: s3.IBucket,
                               bundle: s3_assets.Asset) -> None:
        stack_env = stack_environment(stack)
        prefix = f"mf-{team}-{model}-"
        artifacts = pipeline_artifact_reasons(stack, bucket.arn_for_objects("*"))
        bundle_objects = nag_text(stack, f"arn:{stack_env.partition}:s3:::{bundle.s3_bucket_name}/*")
        artifacts[f"AwsSolutions-IAM5[Resource::{bundle_objects}]"] = (
            "The endpoint app is read from the CDK bootstrap asset bucket, whose object keys are content hashes.")
        cfn = {f"AwsSolutions-IAM5[Action::{a}]": (
            "CDK's grant for the CloudFormation deploy actions, limited to this model's two endpoint stacks.")
            for a in ("cloudformation:DescribeStack*", "cloudformation:GetTemplate*")}
        for stage in STAGES:
            stack_arn = f"arn:{stack_env.partition}:cloudformation:{stack_env.region}:{stack_env.account}:stack/" \
                        f"{team_stack_name(team, f'{model}-{stage}-endpoint')}/*"
            cfn[f"AwsSolutions-IAM5[Resource::{stack_arn}]"] = (
                "A stack ARN ends in an id CloudFormation generates; the name pins it to this endpoint stack.")
        acknowledge_each(self.pipeline.role.node.find_child("DefaultPolicy").node.default_child,
                         {**artifacts, **cfn})
        packages = nag_text(stack, format_arn(stack, service="sagemaker", resource="model-package",
                                                    resource_name=f"{group}/*"))
        smoke_input = f"async/{endpoint_name(team, model, 'staging')}/input/*"
        clients = {f"AwsSolutions-IAM5[Resource::{nag_text(stack, bucket.arn_for_objects(f'clients/{endpoint_name(team, model, stage)}/*'))}]": (
            "The stage's client code files (client.py, curl.sh, client.json), only under that endpoint's prefix.")
            for stage in STAGES}
        acknowledge_each(self.project.role.node.find_child("DefaultPolicy").node.default_child, {
            **artifacts,
            **codebuild_default_reasons(stack, self.project.project_name),
            f"AwsSolutions-IAM5[Resource::{packages}]": (
                "Package versions are numbered at registration; only versions of this model's own group."),
            **clients,
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, format_arn(stack, service='sagemaker', resource='pipeline', resource_name=endpoint_name(team, model, 'staging') + '-batch/execution/*'))}]": (
                "The executions of the staging batch pipeline the smoke test starts (SageMaker names them)."),
            "AwsSolutions-IAM5[Resource::*]": (
                "cloudwatch:GetMetricStatistics supports no resource-level permission; read-only (the model's "
                "monthly cost for its catalog entry)."),
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, bucket.arn_for_objects(smoke_input))}]": (
                "The asynchronous smoke test's sample, named per run, only under the staging endpoint's input prefix."),
            **{f"AwsSolutions-IAM5[Resource::{nag_text(stack, format_arn(stack, service='sagemaker', resource=kind, resource_name='*'))}]": (
                "Describe only: CloudFormation names the endpoint stacks' configs and models; the task follows "
                "them from this model's two named endpoints to the package they serve.")
               for kind in ("endpoint-config", "model")},
        })
        acknowledge_endpoint_deployment(
            self.deployment_role.node.find_child("DefaultPolicy").node.default_child, stack, prefix=prefix,
            whose="this model's", package_arns=[format_arn(stack, service="sagemaker", resource="model-package",
                                                                 resource_name=f"{group}/*")])
