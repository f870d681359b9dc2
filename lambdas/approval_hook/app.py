"""Approval hook: EventBridge "SageMaker Model Package State Change" -> deploy pipeline.

Environment: IDEMPOTENCY_TABLE_NAME, NOTIFICATION_TOPIC_ARN, TEAM, MODEL_PACKAGE_GROUPS (JSON list),
IDEMPOTENCY_TTL_SECONDS (default 86400).
"""

from __future__ import annotations

import json
import os
from functools import cache

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import ValidationError, envelopes, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from approval import ApprovalHook, PackageStateChange

logger = Logger(service="approval-hook")
metrics = Metrics(namespace="ModelFactory", service="approval-hook")

persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"])
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


@cache
def hook() -> ApprovalHook:
    """Clients are made on first use and kept for the life of the execution environment."""
    return ApprovalHook(team=TEAM, groups=set(GROUPS), topic_arn=TOPIC_ARN, sagemaker=boto3.client("sagemaker"),
                        codepipeline=boto3.client("codepipeline"), ssm=boto3.client("ssm"), sns=boto3.client("sns"),
                        auto_prod_gate=set(AUTO_PROD_GATE))


@idempotent_function(data_keyword_argument="change", persistence_store=persistence, config=idempotency)
def handle_change(change: dict) -> dict:
    return hook().handle(PackageStateChange.model_validate(change)).as_dict()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    try:
        change = parse(event=event, model=PackageStateChange, envelope=envelopes.EventBridgeEnvelope)
    except (ValidationError, ValueError, TypeError) as error:
        logger.error("malformed model package state change event: nothing started",
                     extra={"error": str(error).splitlines()[0]})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"action": "ignore", "reason": "malformed event"}
    result = handle_change(change=change.model_dump())
    logger.info(result["reason"], extra=result)
    metrics.add_metric(name=f"Action{result['action'].capitalize()}", unit=MetricUnit.Count, value=1)
    return result
