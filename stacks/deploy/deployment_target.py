"""What a separate staging/prod account needs so that the team's factory account can deploy endpoints
into it, and nothing more: three roles, each trusting exactly one principal.

- `mf-<team>-deploy-action`: assumed by the factory account (its deploy pipeline's CloudFormation
  actions); runs CloudFormation on the team's endpoint stacks and reads the pipeline's artifacts in the
  factory bucket with the factory key;
- `mf-<team>-cfn-execution`: assumed by CloudFormation; creates exactly what an endpoint stack holds;
- `mf-<team>-sagemaker-execution`: assumed by SageMaker in this account; serves the model, reads its
  artifacts and writes captured data and monitoring results into the factory bucket with the factory key.

The factory side (key, bucket and package-group policies) grants these accounts what they use."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.clarify_permissions import clarify_shadow_endpoint_permissions
from stacks.common.nag import acknowledge_each, nag_text
from stacks.common.naming import (
    cfn_execution_role_name,
    deploy_action_role_name,
    deploy_pipeline_role_name,
    deploy_tasks_role_name,
    model_package_group_name,
    sagemaker_execution_role_name,
    team_key_alias,
)
from stacks.common.async_notifications import async_notification_statements
from stacks.common.shared_values import service_principal
from stacks.deploy.endpoint_deployment_policy import acknowledge_endpoint_deployment, endpoint_deployment_statements
from stacks.deploy.target_account_access import WRITE_PREFIXES


class DeploymentTarget(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, models: Sequence[str],
                 factory_account: str, artifact_bucket_name: str, clarify: bool = False) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        prefix = f"mf-{team}-"
        # The factory key is addressed by its alias: its id lives in another account's stack.
        factory_key = iam.PolicyStatement(
            sid="FactoryKey", actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:CreateGrant"],
            resources=[format_arn(stack, service="kms", account=factory_account, resource="key", resource_name="*")],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": team_key_alias(team)}})
        # what the team's jobs here need of the factory key (the drift roles take the same statements)
        self.factory_key_statements = [
            iam.PolicyStatement(
                sid="FactoryKey", actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                resources=factory_key.resources, conditions=factory_key.conditions),
            iam.PolicyStatement(
                sid="FactoryKeyGrantsForVolumes", actions=["kms:CreateGrant"], resources=factory_key.resources,
                conditions={**factory_key.conditions, "Bool": {"kms:GrantIsForAWSResource": "true"}})]
        self.factory_key_reason = {
            f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:kms:{stack_env.region}:{factory_account}:key/*]": (
                f"The factory key's id is only known in the factory account; the kms:ResourceAliases condition "
                f"pins the statement to {team_key_alias(team)}.")}
        bucket_arn = f"arn:{stack_env.partition}:s3:::{artifact_bucket_name}"
        package_arns = [format_arn(stack, service="sagemaker", account=factory_account, resource="model-package",
                                         resource_name=f"{model_package_group_name(team, m)}/*") for m in models]

        self.sagemaker_role = iam.Role(
            self, "SageMakerExecution", role_name=sagemaker_execution_role_name(team),
            description=f"Model Factory: SageMaker endpoints and monitors of the {team} team in this account",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": stack_env.account}}))
        self.sagemaker_role.add_to_policy(iam.PolicyStatement(
            sid="FactoryArtifacts", actions=["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
            resources=[bucket_arn, f"{bucket_arn}/*"]))
        # writes only under the endpoints' own prefixes: captured requests and monitoring results
        self.sagemaker_role.add_to_policy(iam.PolicyStatement(
            sid="WriteCapturesAndMonitoring", actions=["s3:PutObject"],
            resources=[f"{bucket_arn}/{prefix}/*" for prefix in WRITE_PREFIXES]))
        self.sagemaker_role.add_to_policy(factory_key)
        self.sagemaker_role.add_to_policy(iam.PolicyStatement(
            sid="EndpointLogsAndMetrics",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "cloudwatch:PutMetricData"],
            resources=["*"]))

        self.cfn_execution_role = iam.Role(
            self, "CfnExecution", role_name=cfn_execution_role_name(team),
            description=f"Model Factory: CloudFormation deploys the {team} team's endpoint stacks in this account",
            assumed_by=service_principal("cloudformation.amazonaws.com"))
        for statement in endpoint_deployment_statements(
                stack, prefix=prefix, package_arns=package_arns, sagemaker_role_arn=self.sagemaker_role.role_arn,
                team=team, key_statement=factory_key):
            self.cfn_execution_role.add_to_policy(statement)

        self.deploy_action_role = iam.Role(
            self, "DeployAction", role_name=deploy_action_role_name(team),
            description=f"Model Factory: the {team} team's deploy pipeline (factory account {factory_account})",
            # not the whole factory account: only the team's deploy pipelines and their tasks (by name, as a
            # condition: IAM would refuse a principal ARN of a role that does not exist yet)
            assumed_by=iam.AccountPrincipal(factory_account).with_conditions({"ArnEquals": {"aws:PrincipalArn": [
                f"arn:{stack_env.partition}:iam::{factory_account}:role/{name(team, model)}"
                for model in models for name in (deploy_pipeline_role_name, deploy_tasks_role_name)]}}))
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="EndpointStacks",
            actions=["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                     "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                     "cloudformation:GetTemplate", "cloudformation:CreateChangeSet",
                     "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
                     "cloudformation:DeleteChangeSet"],
            resources=[format_arn(stack, service="cloudformation", resource="stack", resource_name=f"{prefix}*")]))
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="PassTheExecutionRole", actions=["iam:PassRole"], resources=[self.cfn_execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}))
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            # the CloudFormation actions read their input artifacts; they write none (no OutputFileName)
            sid="PipelineArtifacts", actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[f"{bucket_arn}/*"]))
        self.deploy_action_role.add_to_policy(factory_key)
        # the deploy pipeline's TestStaging smoke test runs through this role
        # mode batch: the smoke test runs a staging batch pipeline here once and follows its execution
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="SmokeTestStagingBatch", actions=["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution"],
            resources=[format_arn(stack, service="sagemaker", resource="pipeline", resource_name=f"{prefix}*-staging-batch"),
                       format_arn(stack, service="sagemaker", resource="pipeline",
                                        resource_name=f"{prefix}*-staging-batch/execution/*")]))
        # Record*: the URL the stage's API wrote here, for the client code
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="ReadTheApiUrls", actions=["ssm:GetParameter"],
            resources=[format_arn(stack, service="ssm", resource="parameter",
                                        resource_name=f"model-factory/{team}/*/api-url")]))
        # without ListBucket S3 answers an answer not written yet with AccessDenied instead of NoSuchKey
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="SmokeTestAsyncAnswers", actions=["s3:ListBucket"], resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"async/{prefix}*-staging/{kind}/*"
                                                     for kind in ("output", "failures")]}}))
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="SmokeTestAsyncInput", actions=["s3:PutObject"], resources=[f"{bucket_arn}/async/{prefix}*-staging/input/*"]))
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="SmokeTestStagingEndpoints", actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"],
            resources=[format_arn(stack, service="sagemaker", resource="endpoint", resource_name=f"{prefix}*-staging"),
                       format_arn(stack, service="sagemaker", resource="inference-component",
                                        resource_name=f"{prefix}*-staging-ic")]))
        # RecordStaging / RecordProd check which package the endpoints here really serve
        self.deploy_action_role.add_to_policy(iam.PolicyStatement(
            sid="DescribeWhatTheEndpointsServe",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel",
                     "sagemaker:ListInferenceComponents", "sagemaker:DescribeInferenceComponent"],
            resources=[format_arn(stack, service="sagemaker", resource=kind, resource_name=name) for kind, name in (
                ("endpoint", f"{prefix}*"), ("inference-component", f"{prefix}*"), ("endpoint-config", "*"),
                ("model", "*"))]))

        notify, self._notify_reasons = async_notification_statements(stack, team=team, with_local_key=True)
        for statement in notify:
            self.sagemaker_role.add_to_policy(statement)
        self._acknowledge(stack, team, factory_account, bucket_arn, package_arns, prefix)
        if clarify:  # bias/explainability monitors of the endpoints in this account
            statements, reasons = clarify_shadow_endpoint_permissions(stack, team=team, build_models=False)
            for statement in statements:
                self.sagemaker_role.add_to_policy(statement)
            acknowledge_each(self.sagemaker_role.node.find_child("DefaultPolicy").node.default_child, reasons)

    def _acknowledge(self, stack: cdk.Stack, team: str, factory_account: str, bucket_arn: str,
                     package_arns: list[str], prefix: str) -> None:
        stack_env = stack_environment(stack)
        key_reason = {f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:kms:{stack_env.region}:{factory_account}:key/*]": (
            f"The factory key's id is only known in the factory account; the kms:ResourceAliases condition pins "
            f"the statement to {team_key_alias(team)}.")}
        objects = {f"AwsSolutions-IAM5[Resource::{bucket_arn}/*]": (
            "Models, captured requests, monitoring results and pipeline artifacts live under keys chosen per "
            "execution in the team's one artifact bucket.")}
        acknowledge_each(self.sagemaker_role.node.find_child("DefaultPolicy").node.default_child, {
            **key_reason, **objects, **self._notify_reasons,
            **{f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}/*]": (
                "Writes only under the endpoints' own prefix; SageMaker names the capture, monitoring and "
                "asynchronous answer objects.")
               for prefix in WRITE_PREFIXES},
            "AwsSolutions-IAM5[Resource::*]": (
                "SageMaker names endpoint log groups itself and cloudwatch:PutMetricData has no resource-level "
                "permission; the role is assumable only by SageMaker in this account."),
        })
        acknowledge_each(self.deploy_action_role.node.find_child("DefaultPolicy").node.default_child, {
            **key_reason, **objects,
            f"AwsSolutions-IAM5[Resource::{nag_text(stack, format_arn(stack, service='cloudformation', resource='stack', resource_name=f'{prefix}*'))}]": (
                "Only the team's stacks (named mf-<team>-...); stack ARNs end in ids CloudFormation generates."),
            **{f"AwsSolutions-IAM5[Resource::{nag_text(stack, format_arn(stack, service='sagemaker', resource=kind, resource_name=name))}]": (
                "Only the team's staging endpoints (mf-<team>-<model>-staging), which the smoke test invokes.")
               for kind, name in (("endpoint", f"{prefix}*-staging"), ("inference-component", f"{prefix}*-staging-ic"))},
            f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:ssm:{stack_env.region}:{stack_env.account}:parameter/model-factory/{team}/*/api-url]": (
                "Read only, the API URLs of the team's models in this account (one parameter per model and stage)."),
            **{f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:sagemaker:{stack_env.region}:{stack_env.account}:pipeline/{name}]": (
                "The team's staging batch pipelines and their executions, which the smoke test starts and follows.")
               for name in (f"{prefix}*-staging-batch", f"{prefix}*-staging-batch/execution/*")},
            f"AwsSolutions-IAM5[Resource::{bucket_arn}/async/{prefix}*-staging/input/*]": (
                "The asynchronous smoke test's sample, only under the team's staging endpoints' input prefixes."),
            **{f"AwsSolutions-IAM5[Resource::{nag_text(stack, format_arn(stack, service='sagemaker', resource=kind, resource_name=name))}]": (
                "Describe only: the deploy records which package the team's endpoints (mf-<team>-...) serve, "
                "following the configs and models CloudFormation names.")
               for kind, name in (("endpoint", f"{prefix}*"), ("inference-component", f"{prefix}*"),
                                  ("endpoint-config", "*"), ("model", "*"))},
        })
        acknowledge_endpoint_deployment(
            self.cfn_execution_role.node.find_child("DefaultPolicy").node.default_child, stack, prefix=prefix,
            whose="the team's", package_arns=package_arns, extra=key_reason)
