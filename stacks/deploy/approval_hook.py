"""The team's approval hook: EventBridge "SageMaker Model Package State Change" (Approved or Rejected, this
team's groups) -> Lambda -> the model's deploy pipeline, with idempotency, a DLQ and its alarm."""

from __future__ import annotations

import json
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import format_arn
from stacks.common.shared_values import hours
from stacks.common.team_function import TeamFunction, team_table

IDEMPOTENCY_TTL_SECONDS = 24 * 3600


class ApprovalHook(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, model_package_groups: Sequence[str],
                 key: kms.IKey, topic: sns.ITopic, auto_prod_gate_groups: Sequence[str] = ()) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.table = team_table(self, "Idempotency", table_name=f"mf-{team}-approval-idempotency",
                                partition_key="id", key=key, time_to_live_attribute="expiration")
        hook = TeamFunction(
            self, "Hook", team=team, name="approval-hook", key=key, topic=topic,
            description="Approved -> deploy that package; Rejected while serving -> roll back to what served before",
            environment={
                "IDEMPOTENCY_TABLE_NAME": self.table.table_name,
                "TEAM": team,
                "MODEL_PACKAGE_GROUPS": json.dumps(sorted(model_package_groups)),
                "IDEMPOTENCY_TTL_SECONDS": str(IDEMPOTENCY_TTL_SECONDS),
                "AUTO_PROD_GATE_GROUPS": json.dumps(sorted(auto_prod_gate_groups)),
            },
        )
        self.hook, self.function, self.dead_letters = hook, hook.function, hook.dead_letters
        self.table.grant_read_write_data(self.function)
        # the audit log: append and read only; point-in-time recovery and deletion protection on the table
        self.audit_table = team_table(self, "Audit", table_name=f"mf-{team}-approval-audit", partition_key="subject",
                                      sort_key="at", key=key, deletion_protection=True)
        self.audit_table.grant(self.function, "dynamodb:PutItem", "dynamodb:Query")
        self.function.add_environment("AUDIT_TABLE_NAME", self.audit_table.table_name)
        groups = [format_arn(stack, service="sagemaker", resource="model-package-group", resource_name=g)
                  for g in model_package_groups]
        packages = [format_arn(stack, service="sagemaker", resource="model-package", resource_name=f"{g}/*")
                    for g in model_package_groups]
        pipelines = [format_arn(stack, service="codepipeline", resource=f"{g}-deploy", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)
                     for g in model_package_groups]
        parameters = [format_arn(stack, service="ssm", resource="parameter",
                                       resource_name=f"model-factory/{team}/{g.removeprefix(f'mf-{team}-')}/*")
                      for g in model_package_groups]
        if model_package_groups:
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="FindApprovedPackages", actions=["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
                resources=[*groups, *packages]))
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="StartDeployPipelines", actions=["codepipeline:StartPipelineExecution"], resources=pipelines))
            # a rejection stops the deploys of that package that are still running
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="StopDeploysOfARejectedPackage",
                actions=["codepipeline:ListPipelineExecutions", "codepipeline:GetPipelineExecution",
                         "codepipeline:StopPipelineExecution"], resources=pipelines))
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid="ReadServingPackages", actions=["ssm:GetParameter", "ssm:GetParameterHistory"],
                resources=parameters))

        # every rule delivers to the hook the same way: retried for 6 hours, then into the dead-letter queue
        target = targets.LambdaFunction(self.function, dead_letter_queue=self.dead_letters, retry_attempts=4,
                                        max_event_age=hours(6))
        self.rule = events.Rule(
            self, "PackageStateChange",
            rule_name=f"mf-{team}-model-package-state-change",
            description=f"Approvals and rejections in the {team} team's model package groups",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                # approval decisions only: SageMaker sends the event for every update of a package, naming the
                # updated fields; a package registered already approved names none
                detail={"ModelPackageGroupName": sorted(model_package_groups),
                        "ModelApprovalStatus": ["Approved", "Rejected"],
                        "ModelPackageStatus": ["Completed"],
                        "$or": [{"UpdatedModelPackageFields": ["ModelApprovalStatus"]},
                                {"UpdatedModelPackageFields": [{"exists": False}]}]},
            ),
            targets=[target],
        )
        # who decided: the approvers' own calls, as CloudTrail delivers them to EventBridge (management events
        # of a trail in this account; docs/approval-and-deploy.md)
        self.decisions_by_people = events.Rule(
            self, "StatusChangesByPeople",
            rule_name=f"mf-{team}-approval-calls",
            description=f"Who approves or rejects the {team} team's model packages (CloudTrail)",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"], detail_type=["AWS API Call via CloudTrail"],
                detail={"eventSource": ["sagemaker.amazonaws.com"], "eventName": ["UpdateModelPackage"],
                        "requestParameters": {"modelPackageArn": [
                            {"prefix": format_arn(stack, service="sagemaker", resource="model-package",
                                                        resource_name=f"{g}/")} for g in sorted(model_package_groups)]}}),
            targets=[target])
        self.gate_clicks = events.Rule(
            self, "ProdGateClicks",
            rule_name=f"mf-{team}-prod-gate-calls",
            description=f"Who approves or rejects the prod gate of the {team} team's deploy pipelines (CloudTrail)",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"], detail_type=["AWS API Call via CloudTrail"],
                detail={"eventSource": ["codepipeline.amazonaws.com"], "eventName": ["PutApprovalResult"],
                        "requestParameters": {"pipelineName": [f"{g}-deploy" for g in sorted(model_package_groups)]}}),
            targets=[target])
        self.dead_letter_alarm = hook.dead_letter_alarm
        self._acknowledge(packages, parameters)

    def _acknowledge(self, packages: list[str], parameters: list[str]) -> None:
        reasons = {
            f"AwsSolutions-IAM5[Resource::{arn}]": "Package versions are numbered at registration; only this "
                                                   "team's groups." for arn in packages}
        reasons.update({f"AwsSolutions-IAM5[Resource::{arn}]": "The serving-package parameters of this model's "
                                                               "stages (staging, prod)." for arn in parameters})
        reasons["AwsSolutions-IAM5[Action::kms:ReEncrypt*]"] = "CDK's grant for the KMS-encrypted table."
        reasons["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"] = "CDK's grant for the KMS-encrypted table."
        self.hook.acknowledge(reasons)
