"""Drift retrain: EventBridge "CloudWatch Alarm State Change" (state ALARM) of a drift alarm -> the
model's build pipeline, at most once per cool-down.

Environment: PIPELINE_BY_ENDPOINT (JSON: endpoint name -> build pipeline), RETRAIN_TABLE_NAME,
RETRAIN_COOLDOWN_HOURS (default 24; RETRAIN_COOLDOWN_HOURS_BY_PIPELINE overrides it per build pipeline),
NOTIFICATION_TOPIC_ARN.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import cache

import boto3
from botocore.config import Config
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, envelopes, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain import AlarmStateChange, DriftRetrain

logger = Logger(service="drift-retrain")
metrics = Metrics(namespace="ModelFactory", service="drift-retrain")

PIPELINE_BY_ENDPOINT = json.loads(os.environ["PIPELINE_BY_ENDPOINT"])
COOLDOWN = timedelta(hours=float(os.environ.get("RETRAIN_COOLDOWN_HOURS", "24")))
COOLDOWN_BY_PIPELINE = {pipeline: timedelta(hours=float(hours)) for pipeline, hours in
                        json.loads(os.environ.get("RETRAIN_COOLDOWN_HOURS_BY_PIPELINE") or "{}").items()}

# standard retry mode: throttling and transient errors retried with backoff and a retry quota, 5 attempts in all
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5})


@cache
def retrain() -> DriftRetrain:
    return DriftRetrain(pipeline_by_endpoint=PIPELINE_BY_ENDPOINT, cooldown=COOLDOWN,
                        cooldown_by_pipeline=COOLDOWN_BY_PIPELINE,
                        table_name=os.environ["RETRAIN_TABLE_NAME"], topic_arn=os.environ["NOTIFICATION_TOPIC_ARN"],
                        dynamodb=boto3.client("dynamodb", config=RETRIES),
                        codepipeline=boto3.client("codepipeline", config=RETRIES),
                        sns=boto3.client("sns", config=RETRIES))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        envelope = parse(event=event, model=EventBridgeModel)
        change = parse(event=event, model=AlarmStateChange, envelope=envelopes.EventBridgeEnvelope)
    except (ValidationError, ValueError, TypeError) as error:
        logger.error("malformed alarm state change event: nothing started", extra={"error": str(error).splitlines()[0]})
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"action": "ignore", "reason": "malformed event"}
    outcome = retrain().handle(change, at=envelope.time).as_dict()
    if outcome["pipeline"]:
        metrics.add_dimension(name="pipeline", value=outcome["pipeline"])
    logger.info(outcome["reason"], extra=outcome)
    metrics.add_metric(name=f"Action{outcome['action'].title().replace('-', '')}", unit=MetricUnit.Count, value=1)
    return outcome
