"""What an approval or rejection in the Model Registry turns into. No AWS client is created here:
the handler passes them in, so the logic runs under moto or botocore's Stubber."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STAGES = ("staging", "prod")
PIPELINE_VARIABLE = "ModelPackageArn"


class PackageStateChange(BaseModel):
    """`detail` of an EventBridge "SageMaker Model Package State Change" event."""

    model_config = ConfigDict(extra="ignore")

    ModelPackageGroupName: str = Field(min_length=1)
    ModelPackageArn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/.+/[0-9]+$")
    ModelApprovalStatus: str
    ModelPackageVersion: int | None = None


@dataclass(frozen=True)
class Outcome:
    action: Literal["deploy", "notify", "ignore"]
    reason: str
    package_arn: str | None = None
    execution_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "package_arn": self.package_arn,
                "execution_id": self.execution_id}


def serving_parameter(team: str, model: str, stage: str) -> str:
    return f"/model-factory/{team}/{model}/{stage}/model-package-arn"


def deploy_pipeline_name(group: str) -> str:
    return f"{group}-deploy"


def request_token(*parts: str) -> str:
    """Deterministic clientRequestToken: a duplicate delivery asks CodePipeline for the same execution."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:64]


def version_of(package_arn: str) -> str:
    return package_arn.rsplit("/", 1)[1]


class ApprovalHook:
    def __init__(self, *, team: str, groups: set[str], topic_arn: str, sagemaker, codepipeline, ssm, sns) -> None:
        self.team, self.groups, self.topic_arn = team, groups, topic_arn
        self.sagemaker, self.codepipeline, self.ssm, self.sns = sagemaker, codepipeline, ssm, sns

    def handle(self, change: PackageStateChange) -> Outcome:
        group = change.ModelPackageGroupName
        if group not in self.groups:
            return Outcome("ignore", f"package group {group} does not belong to team {self.team}; nothing started",
                           change.ModelPackageArn)
        if change.ModelApprovalStatus == "Approved":
            outcome = self._deploy(group, change.ModelPackageArn, change.ModelApprovalStatus,
                                   f"approved: deploying version {version_of(change.ModelPackageArn)} of {group} "
                                   "to staging, then prod after the manual gate")
        elif change.ModelApprovalStatus == "Rejected":
            outcome = self._rejected(group, change.ModelPackageArn)
        else:
            outcome = Outcome("ignore", f"status {change.ModelApprovalStatus} of {change.ModelPackageArn} needs no "
                                        "action", change.ModelPackageArn)
        self.notify(group, outcome)
        return outcome

    def _deploy(self, group: str, package_arn: str, cause: str, reason: str) -> Outcome:
        response = self.codepipeline.start_pipeline_execution(
            name=deploy_pipeline_name(group),
            variables=[{"name": PIPELINE_VARIABLE, "value": package_arn}],
            clientRequestToken=request_token(package_arn, cause),
        )
        return Outcome("deploy", reason, package_arn, response["pipelineExecutionId"])

    def _rejected(self, group: str, rejected_arn: str) -> Outcome:
        model = group.removeprefix(f"mf-{self.team}-")
        serving_in = [stage for stage in STAGES if self._serving(model, stage) == rejected_arn]
        if not serving_in:
            return Outcome("notify", f"rejected version {version_of(rejected_arn)} of {group} is not serving in any "
                                     "stage; nothing to roll back", rejected_arn)
        fallback = self._newest_approved(group, exclude=rejected_arn)
        stages = " and ".join(serving_in)
        if fallback is None:
            return Outcome("notify", f"rejected version {version_of(rejected_arn)} of {group} serves in {stages} but "
                                     "no approved version is left; the endpoint is left as it is", rejected_arn)
        return self._deploy(group, fallback, f"rollback-from:{rejected_arn}",
                            f"rejected version {version_of(rejected_arn)} of {group} serves in {stages}: rolling back "
                            f"to version {version_of(fallback)}, the newest still approved")

    def _serving(self, model: str, stage: str) -> str | None:
        try:
            return self.ssm.get_parameter(Name=serving_parameter(self.team, model, stage))["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def _newest_approved(self, group: str, exclude: str) -> str | None:
        paginator = self.sagemaker.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                       SortBy="CreationTime", SortOrder="Descending"):
            for package in page["ModelPackageSummaryList"]:
                if package["ModelPackageArn"] != exclude:
                    return package["ModelPackageArn"]
        return None

    def notify(self, group: str, outcome: Outcome) -> None:
        if outcome.action == "ignore" and outcome.reason.startswith("package group"):
            return  # another team's event: not this team's approvers' business
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"Model Factory {self.team}: {outcome.action} {group}"[:100],
            Message=outcome.reason + (f" (deploy execution {outcome.execution_id})" if outcome.execution_id else ""),
        )
