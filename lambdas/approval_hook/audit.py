"""The team's audit log of approval decisions: every status change (who made it, from CloudTrail), every
prod-gate click and every action the hook took, appended to a DynamoDB table that no function may update or
delete (point-in-time recovery and deletion protection on the table). No AWS client is created here."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FIRST_STATUS = "PendingManualApproval"


class UserIdentity(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str | None = None
    arn: str | None = None
    principalId: str | None = None


class ApiCall(BaseModel):
    """`detail` of an "AWS API Call via CloudTrail" event: a console or API call the approvers made."""

    model_config = ConfigDict(extra="ignore")
    eventSource: str
    eventName: str
    eventTime: str
    eventID: str = Field(min_length=1)
    userIdentity: UserIdentity = UserIdentity()
    requestParameters: dict[str, Any] | None = None
    errorCode: str | None = None

    @property
    def who(self) -> str:
        return self.userIdentity.arn or self.userIdentity.principalId or "unknown"


class AuditLog:
    def __init__(self, *, table_name: str, dynamodb) -> None:
        self.table_name, self.dynamodb = table_name, dynamodb

    def last_status(self, subject: str) -> str:
        """The newest status recorded for a package (its registration status when none is recorded)."""
        found = self.dynamodb.query(
            TableName=self.table_name, KeyConditionExpression="subject = :s",
            FilterExpression="attribute_exists(new_status)",
            ExpressionAttributeValues={":s": {"S": subject}}, ScanIndexForward=False, Limit=20)
        for item in found.get("Items", []):
            return item["new_status"]["S"]
        return FIRST_STATUS

    def append(self, *, subject: str, at: str, event_id: str, **fields: str | None) -> dict[str, str]:
        """One entry; never overwrites one (a duplicate delivery of the same event is the same entry)."""
        entry = {"subject": subject, "at": f"{at}#{event_id}",
                 **{k: str(v) for k, v in fields.items() if v is not None}}
        try:
            self.dynamodb.put_item(
                TableName=self.table_name, Item={k: {"S": v} for k, v in entry.items()},
                ConditionExpression="attribute_not_exists(subject) AND attribute_not_exists(#at)",
                ExpressionAttributeNames={"#at": "at"})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        return entry

    def record_api_call(self, call: ApiCall) -> dict[str, str] | None:
        """A person's status change (UpdateModelPackage) or prod-gate click (PutApprovalResult)."""
        params = call.requestParameters or {}
        if call.errorCode:
            return None  # a refused call changed nothing
        if call.eventName == "UpdateModelPackage" and params.get("modelApprovalStatus"):
            subject = params.get("modelPackageArn") or params.get("modelPackageName", "unknown")
            return self.append(subject=subject, at=call.eventTime, event_id=call.eventID, who=call.who,
                               action="status-change", old_status=self.last_status(subject),
                               new_status=params["modelApprovalStatus"],
                               description=params.get("approvalDescription"))
        if call.eventName == "PutApprovalResult":
            result = params.get("result") or {}
            return self.append(subject=params.get("pipelineName", "unknown"), at=call.eventTime,
                               event_id=call.eventID, who=call.who, action="prod-gate",
                               gate=f"{params.get('stageName')}/{params.get('actionName')}",
                               result=result.get("status"), summary=result.get("summary"))
        return None

    def record_decision(self, *, package_arn: str, status: str, decision_time: str, action: str, reason: str,
                        execution_id: str | None) -> dict[str, str]:
        """What the hook did about a status change."""
        at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return self.append(subject=package_arn, at=at, event_id=f"hook-{status}-{decision_time}",
                           who="mf-approval-hook", action=action, status=status, reason=reason,
                           execution_id=execution_id, version=package_arn.rsplit("/", 1)[-1])
