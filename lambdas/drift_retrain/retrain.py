"""Drift alarm -> retrain: which build pipeline an alarm belongs to, and the cool-down that lets
concurrent alarms start one retrain. No AWS client is created here (moto/Stubber in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict


class AlarmState(BaseModel):
    model_config = ConfigDict(extra="ignore")
    value: str
    reason: str = ""


class AlarmStateChange(BaseModel):
    """`detail` of an EventBridge "CloudWatch Alarm State Change" event."""

    model_config = ConfigDict(extra="ignore")
    alarmName: str
    state: AlarmState


@dataclass(frozen=True)
class Outcome:
    action: Literal["retrain", "cooling-down", "ignore"]
    reason: str
    pipeline: str | None = None
    execution_id: str | None = None

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "pipeline": self.pipeline,
                "execution_id": self.execution_id}


def endpoint_for(alarm_name: str, endpoints: list[str]) -> str | None:
    """The endpoint an alarm is about: drift alarm names start with the endpoint name and a dash."""
    matches = [e for e in endpoints if alarm_name == e or alarm_name.startswith(f"{e}-")]
    return max(matches, key=len) if matches else None


class DriftRetrain:
    def __init__(self, *, pipeline_by_endpoint: dict[str, str], cooldown: timedelta, table_name: str,
                 topic_arn: str, dynamodb, codepipeline, sns,
                 cooldown_by_pipeline: dict[str, timedelta] | None = None) -> None:
        self.pipeline_by_endpoint, self.cooldown = pipeline_by_endpoint, cooldown
        self.cooldown_by_pipeline = cooldown_by_pipeline or {}
        self.table_name, self.topic_arn = table_name, topic_arn
        self.dynamodb, self.codepipeline, self.sns = dynamodb, codepipeline, sns

    def handle(self, change: AlarmStateChange, at: datetime) -> Outcome:
        if change.state.value != "ALARM":
            return Outcome("ignore", f"{change.alarmName} is {change.state.value}: nothing to retrain")
        endpoint = endpoint_for(change.alarmName, list(self.pipeline_by_endpoint))
        if endpoint is None:
            return Outcome("ignore", f"alarm {change.alarmName} belongs to no known model endpoint; nothing started")
        pipeline = self.pipeline_by_endpoint[endpoint]
        cooldown = self.cooldown_by_pipeline.get(pipeline, self.cooldown)
        hours = f"{cooldown.total_seconds() / 3600:g}"
        if not self._claim(pipeline, at, change.alarmName, cooldown):
            return Outcome("cooling-down", f"{pipeline} already retrained less than {hours} h before "
                                           f"{at.isoformat()}; {change.alarmName} starts nothing", pipeline)
        try:
            execution = self.codepipeline.start_pipeline_execution(
                name=pipeline, variables=[{"name": "Trigger", "value": "drift"}],  # the build records trigger=drift
                clientRequestToken=f"drift-{pipeline}-{int(at.timestamp())}"[:128],
            )["pipelineExecutionId"]
        except Exception:
            # a start that failed is not a retrain: give the cool-down back so that a retry (Lambda's own,
            # or the next alarm) can start it; should that fail too, the claim stays open to this same alarm
            # (see _claim), so Lambda's retry still starts the retrain
            try:
                self._release(pipeline, at, change.alarmName)
            except Exception:  # noqa: BLE001 - the start's error is the one to raise
                pass
            raise
        self._record_start(pipeline, at, change.alarmName, execution)
        outcome = Outcome("retrain", f"drift alarm {change.alarmName} on {endpoint}: retraining with {pipeline} "
                                     f"(next retrain possible after {hours} h)", pipeline, execution)
        try:
            self.sns.publish(TopicArn=self.topic_arn, Subject=f"Model Factory: retraining {pipeline}"[:100],
                             Message=f"{outcome.reason} (build execution {execution})")
        except Exception as error:  # the retrain runs; a retry must not start it twice for want of an e-mail
            code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
            return Outcome("retrain", f"{outcome.reason}; telling the approvers failed ({code})", pipeline, execution)
        return outcome

    def _release(self, pipeline: str, at: datetime, alarm: str) -> None:
        """Undo this invocation's claim, and only this invocation's."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table_name, Key={"pipeline": {"S": pipeline}},
                ConditionExpression="last_retrain = :claimed AND alarm = :alarm",
                ExpressionAttributeValues={":claimed": {"N": str(int(at.timestamp()))}, ":alarm": {"S": alarm}})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    def _claim(self, pipeline: str, at: datetime, alarm: str, cooldown: timedelta) -> bool:
        """One conditional write decides: of concurrent alarms inside the cool-down, exactly one wins. The
        claim of this very alarm change (same alarm, same time) that never recorded a start is taken again:
        a retry after a failed start whose claim could not be given back."""
        now = int(at.timestamp())
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={"pipeline": {"S": pipeline}, "last_retrain": {"N": str(now)}, "alarm": {"S": alarm}},
                ConditionExpression="attribute_not_exists(pipeline) OR last_retrain <= :cutoff OR "
                                    "(last_retrain = :now AND alarm = :alarm AND attribute_not_exists(execution))",
                ExpressionAttributeValues={":cutoff": {"N": str(now - int(cooldown.total_seconds()))},
                                           ":now": {"N": str(now)}, ":alarm": {"S": alarm}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _record_start(self, pipeline: str, at: datetime, alarm: str, execution: str) -> None:
        """The claim now names its execution, so that a redelivery of the alarm starts nothing. If this write
        fails, a redelivery asks CodePipeline again with the same clientRequestToken, which starts no second
        execution (CodePipeline API reference, StartPipelineExecution: clientRequestToken)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name, Key={"pipeline": {"S": pipeline}},
                UpdateExpression="SET execution = :execution",
                ConditionExpression="last_retrain = :claimed AND alarm = :alarm",
                ExpressionAttributeValues={":execution": {"S": execution}, ":claimed": {"N": str(int(at.timestamp()))},
                                           ":alarm": {"S": alarm}})
        except Exception:  # noqa: BLE001 - the retrain runs either way
            pass
