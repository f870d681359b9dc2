"""Approval hook: EventBridge "SageMaker Model Package State Change" -> deploy pipeline; "AWS API Call via
CloudTrail" (UpdateModelPackage, PutApprovalResult) -> who decided, in the audit log.

Environment: IDEMPOTENCY_TABLE_NAME, AUDIT_TABLE_NAME, NOTIFICATION_TOPIC_ARN, TEAM, MODEL_PACKAGE_GROUPS (JSON
list), AUTO_PROD_GATE_GROUPS (JSON list), IDEMPOTENCY_TTL_SECONDS (default 86400).
"""

from __future__ import annotations

import json
import os
from functools import cache

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from approval import ApprovalHook, EventBridgeEvent, PackageStateChange
from audit import ApiCall, AuditLog

logger = Logger(service="approval-hook")
metrics = Metrics(namespace="ModelFactory", service="approval-hook")

idempotency = IdempotencyConfig(
    # one approval decision (package, status, when it was made) acts once, however often it is delivered
    event_key_jmespath="[ModelPackageArn, ModelApprovalStatus, LastModifiedTime]",
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
    raise_on_no_idempotency_key=True,
)
TEAM = os.environ["TEAM"]
GROUPS = frozenset(json.loads(os.environ["MODEL_PACKAGE_GROUPS"]))
TOPIC_ARN = os.environ["NOTIFICATION_TOPIC_ARN"]
AUTO_PROD_GATE = frozenset(json.loads(os.environ.get("AUTO_PROD_GATE_GROUPS", "[]")))
AUDIT_TABLE = os.environ.get("AUDIT_TABLE_NAME", "")
CLOUDTRAIL = "AWS API Call via CloudTrail"
# standard retry mode: throttling and transient errors retried with backoff and a retry quota, 5 attempts in all
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5})


@cache
def hook() -> ApprovalHook:
    """Clients are made on first use and kept for the life of the execution environment."""
    client = lambda service: boto3.client(service, config=RETRIES)  # noqa: E731
    return ApprovalHook(team=TEAM, groups=set(GROUPS), topic_arn=TOPIC_ARN, sagemaker=client("sagemaker"),
                        codepipeline=client("codepipeline"), ssm=client("ssm"), sns=client("sns"),
                        auto_prod_gate=set(AUTO_PROD_GATE))


@cache
def audit() -> AuditLog | None:
    return AuditLog(table_name=AUDIT_TABLE, dynamodb=boto3.client("dynamodb", config=RETRIES)) if AUDIT_TABLE else None


@cache
def persistence() -> DynamoDBPersistenceLayer:
    """The idempotency table's client is made on first use, like the others, and retries the same way."""
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"], boto_config=RETRIES)


@cache
def handle_change_once():
    """handle_change, acting once per approval decision however often it is delivered."""
    return idempotent_function(data_keyword_argument="change", persistence_store=persistence(),
                               config=idempotency)(handle_change)


def handle_change(change: dict) -> dict:
    parsed = PackageStateChange.model_validate(change)
    outcome = hook().handle(parsed)
    log = audit()
    result = outcome.as_dict()
    if log is not None and outcome.action != "ignore":
        try:
            log.record_decision(package_arn=parsed.ModelPackageArn, status=parsed.ModelApprovalStatus,
                                decision_time=parsed.decision_time, action=outcome.action, reason=outcome.reason,
                                execution_id=outcome.execution_id)
        except ClientError as error:
            # what was started stays started (a retry would start nothing new): the gap in the log is said
            code = error.response.get("Error", {}).get("Code", "error")
            logger.error("the audit log could not record the decision", extra={"error": code})
            result["reason"] += f"; the audit log could not record it ({code})"
    return result


def detail_of(event: dict, model):
    """The event's detail as `model`, after checking the EventBridge envelope around it."""
    return parse(event=parse(event=event, model=EventBridgeEvent).detail, model=model)


def handle_api_call(event: dict) -> dict:
    """A person's decision seen by CloudTrail: who approved, rejected or clicked the prod gate."""
    try:
        call = detail_of(event, ApiCall)
    except (ValidationError, ValueError, TypeError) as error:
        logger.error("malformed CloudTrail event: nothing recorded", extra={"error": str(error).splitlines()[0]})
        return {"action": "ignore", "reason": "malformed event"}
    log = audit()
    entry = log.record_api_call(call) if log is not None else None
    return {"action": "audit" if entry else "ignore",
            "reason": f"{call.eventName} by {call.who} recorded" if entry else f"{call.eventName}: nothing to record"}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    if isinstance(event, dict) and event.get("detail-type") == CLOUDTRAIL:
        result = handle_api_call(event)
        logger.info(result["reason"], extra=result)
        return result
    try:
        change = detail_of(event, PackageStateChange)
    except (ValidationError, ValueError, TypeError) as error:
        logger.error("malformed model package state change event: nothing started",
                     extra={"error": str(error).splitlines()[0]})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"action": "ignore", "reason": "malformed event"}
    result = handle_change_once()(change=change.model_dump())
    logger.info(result["reason"], extra=result)
    metrics.add_metric(name=f"Action{result['action'].capitalize()}", unit=MetricUnit.Count, value=1)
    return result
