"""What an approval or rejection in the Model Registry turns into. No AWS client is created here:
the handler passes them in, so the logic runs under moto or botocore's Stubber."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STAGES = ("staging", "prod")


class EventBridgeEvent(BaseModel):
    """The EventBridge envelope, with the fields Powertools' EventBridgeModel checks (EventBridge user guide,
    "Amazon EventBridge events": version, id, detail-type, source, account, time, region, resources, detail).
    Defined here so that the hook imports none of Powertools' other envelopes and models at cold start."""

    model_config = ConfigDict(populate_by_name=True)
    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
PIPELINE_VARIABLE = "ModelPackageArn"
# the deploy pipeline's stage entry conditions read these: a rollback skips the smoke test and the manual
# gate, and every stage the rejected version does not serve in
PURPOSE, SKIP_STAGING, SKIP_PROD, SKIP_GATE = "Purpose", "SkipStaging", "SkipProd", "SkipGate"
# the ApprovalDescription the build writes when it approves a better challenger itself (promotion: auto)
AUTO_PROMOTED = "auto-promoted: "
UNSET = ("", "none")


class PackageStateChange(BaseModel):
    """`detail` of an EventBridge "SageMaker Model Package State Change" event."""

    model_config = ConfigDict(extra="ignore")

    ModelPackageGroupName: str = Field(min_length=1)
    ModelPackageArn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/.+/[0-9]+$")
    ModelApprovalStatus: str
    ModelPackageVersion: int | None = None
    ApprovalDescription: str | None = None
    # SageMaker sends the event for every update of a package and names the updated fields; a package
    # created already approved has none (SageMaker developer guide, "SageMaker model package state change")
    UpdatedModelPackageFields: list[str] | None = None
    ModelPackageStatus: str | None = None
    LastModifiedTime: int | float | str | None = None

    @property
    def decision_time(self) -> str:
        """When this approval decision was made: one approval decision, one deploy."""
        return str(self.LastModifiedTime) if self.LastModifiedTime is not None else "unknown"


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
    def __init__(self, *, team: str, groups: set[str], topic_arn: str, sagemaker, codepipeline, ssm, sns,
                 auto_prod_gate: set[str] | None = None) -> None:
        self.team, self.groups, self.topic_arn = team, groups, topic_arn
        # groups whose automatic approvals pass the prod gate too (models[].promotion.prod_gate: auto)
        self.auto_prod_gate = auto_prod_gate or set()
        self.sagemaker, self.codepipeline, self.ssm, self.sns = sagemaker, codepipeline, ssm, sns

    def handle(self, change: PackageStateChange) -> Outcome:
        group = change.ModelPackageGroupName
        if group not in self.groups:
            return Outcome("ignore", f"package group {group} does not belong to team {self.team}; nothing started",
                           change.ModelPackageArn)
        fields = change.UpdatedModelPackageFields
        if fields is not None and "ModelApprovalStatus" not in fields:
            # a description, metadata or model card edit repeats the current status: not a decision
            return Outcome("ignore", f"update of {', '.join(fields) or 'no field'} on {change.ModelPackageArn} is not "
                                     "an approval decision; nothing started", change.ModelPackageArn)
        if change.ModelPackageStatus not in (None, "Completed"):
            return Outcome("ignore", f"{change.ModelPackageArn} is {change.ModelPackageStatus}, not Completed; "
                                     "nothing started", change.ModelPackageArn)
        if change.ModelApprovalStatus == "Approved":
            outcome = self._approved(group, change)
        elif change.ModelApprovalStatus == "Rejected":
            outcome = self._rejected(group, change)
        else:
            outcome = Outcome("ignore", f"status {change.ModelApprovalStatus} of {change.ModelPackageArn} needs no "
                                        "action", change.ModelPackageArn)
        failed = self.notify(group, outcome)
        if failed:
            # the deploy (if any) is started and recorded by the idempotency layer: a retry would start nothing
            # new, so a failed notification is said in the outcome instead of failing the event
            outcome = Outcome(outcome.action, f"{outcome.reason}; telling the approvers failed ({failed})",
                              outcome.package_arn, outcome.execution_id)
        return outcome

    def _deploy(self, group: str, package_arn: str, token_parts: tuple[str, ...], reason: str, *,
                purpose: str = "deploy", skip: tuple[str, ...] = (), skip_gate: bool = False) -> Outcome:
        response = self.codepipeline.start_pipeline_execution(
            name=deploy_pipeline_name(group),
            variables=[{"name": PIPELINE_VARIABLE, "value": package_arn}, {"name": PURPOSE, "value": purpose},
                       {"name": SKIP_STAGING, "value": str("staging" in skip).lower()},
                       {"name": SKIP_PROD, "value": str("prod" in skip).lower()},
                       {"name": SKIP_GATE, "value": str(skip_gate or purpose == "rollback").lower()}],
            clientRequestToken=request_token(package_arn, purpose, *token_parts),
        )
        return Outcome("deploy", reason, package_arn, response["pipelineExecutionId"])

    def _approved(self, group: str, change: PackageStateChange) -> Outcome:
        arn = change.ModelPackageArn
        newest = self._newest_approved(group, exclude=None)
        if newest is not None and int(version_of(newest)) > int(version_of(arn)):
            # events arrive in any order: an older approval must not replace a newer approved version
            return Outcome("notify", f"approved version {version_of(arn)} of {group} is older than version "
                                     f"{version_of(newest)}, which is approved too: not deployed (reject "
                                     f"{version_of(newest)} to roll back instead)", arn)
        automatic = (change.ApprovalDescription or "").startswith(AUTO_PROMOTED)
        if automatic and group in self.auto_prod_gate:
            return self._deploy(group, arn, ("Approved", change.decision_time),
                                f"auto-promoted: deploying version {version_of(arn)} of {group} to staging, then prod "
                                f"without the manual gate (prod_gate: auto; the canary guards prod): "
                                f"{change.ApprovalDescription.removeprefix(AUTO_PROMOTED)}", skip_gate=True)
        return self._deploy(group, arn, ("Approved", change.decision_time),
                            f"{'auto-promoted' if automatic else 'approved'}: deploying version {version_of(arn)} of "
                            f"{group} to staging, then prod after the manual gate")

    def _rejected(self, group: str, change: PackageStateChange) -> Outcome:
        rejected_arn = change.ModelPackageArn
        stopped = self._stop_deploys_of(group, rejected_arn)
        model = group.removeprefix(f"mf-{self.team}-")
        serving_in = [stage for stage in STAGES if self._serving(model, stage) == rejected_arn]
        stopped_text = f"; stopped its deploy execution(s) {', '.join(stopped)}" if stopped else ""
        if not serving_in:
            return Outcome("notify", f"rejected version {version_of(rejected_arn)} of {group} is not serving in any "
                                     f"stage; nothing to roll back{stopped_text}", rejected_arn)
        # the version that served before it, in the stage that matters most where it serves
        stage = "prod" if "prod" in serving_in else "staging"
        fallback = self._previous_serving(model, stage, rejected_arn)
        stages = " and ".join(serving_in)
        if fallback is None:
            return Outcome("notify", f"rejected version {version_of(rejected_arn)} of {group} serves in {stages} but "
                                     f"no earlier serving version is still approved; the endpoint is left as it "
                                     f"is{stopped_text}", rejected_arn)
        return self._deploy(group, fallback, ("rollback-from", rejected_arn, change.decision_time),
                            f"rejected version {version_of(rejected_arn)} of {group} serves in {stages}: rolling back "
                            f"to version {version_of(fallback)}, which served {stage} before it (no smoke test, no "
                            f"manual gate){stopped_text}",
                            purpose="rollback", skip=tuple(s for s in STAGES if s not in serving_in))

    def _stop_deploys_of(self, group: str, package_arn: str) -> list[str]:
        """Stop the in-flight deploy executions of a package that has just been rejected."""
        pipeline = deploy_pipeline_name(group)
        stopped = []
        paginator = self.codepipeline.get_paginator("list_pipeline_executions")
        for page in paginator.paginate(pipelineName=pipeline):
            for summary in page["pipelineExecutionSummaries"]:
                if summary["status"] not in ("InProgress", "Stopping"):
                    continue
                execution = self.codepipeline.get_pipeline_execution(
                    pipelineName=pipeline, pipelineExecutionId=summary["pipelineExecutionId"])["pipelineExecution"]
                values = {v["name"]: v.get("resolvedValue") for v in execution.get("variables", [])}
                if values.get(PIPELINE_VARIABLE) == package_arn and summary["status"] == "InProgress":
                    self.codepipeline.stop_pipeline_execution(
                        pipelineName=pipeline, pipelineExecutionId=summary["pipelineExecutionId"], abandon=True,
                        reason=f"{package_arn} was rejected")
                    stopped.append(summary["pipelineExecutionId"])
        return stopped

    def _serving(self, model: str, stage: str) -> str | None:
        try:
            return self.ssm.get_parameter(Name=serving_parameter(self.team, model, stage))["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def _previous_serving(self, model: str, stage: str, rejected_arn: str) -> str | None:
        """The newest value the stage's serving parameter had before the rejected version that is still Approved
        (the parameter's history is what served, not what was approved)."""
        history: list[dict] = []
        paginator = self.ssm.get_paginator("get_parameter_history")
        for page in paginator.paginate(Name=serving_parameter(self.team, model, stage)):
            history.extend(page["Parameters"])
        values = [h["Value"] for h in sorted(history, key=lambda h: h["Version"])]
        if rejected_arn in values:
            values = values[: len(values) - values[::-1].index(rejected_arn) - 1]
        for candidate in reversed(values):
            if candidate in UNSET or candidate == rejected_arn:
                continue
            status = self.sagemaker.describe_model_package(ModelPackageName=candidate).get("ModelApprovalStatus")
            if status == "Approved":
                return candidate
        return None

    def _newest_approved(self, group: str, exclude: str | None) -> str | None:
        paginator = self.sagemaker.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                       SortBy="CreationTime", SortOrder="Descending"):
            for package in page["ModelPackageSummaryList"]:
                if package["ModelPackageArn"] != exclude:
                    return package["ModelPackageArn"]
        return None

    def notify(self, group: str, outcome: Outcome) -> str | None:
        """Tell the approvers; the AWS error code when that failed (retries spent), else None."""
        from botocore.exceptions import ClientError

        if outcome.action == "ignore" and outcome.reason.startswith("package group"):
            return None  # another team's event: not this team's approvers' business
        try:
            self.sns.publish(
                TopicArn=self.topic_arn,
                Subject=f"Model Factory {self.team}: {outcome.action} {group}"[:100],
                Message=outcome.reason + (f" (deploy execution {outcome.execution_id})" if outcome.execution_id else ""),
            )
        except ClientError as error:
            return error.response.get("Error", {}).get("Code", "error")
        return None
