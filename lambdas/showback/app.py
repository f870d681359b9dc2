"""Showback: monthly (EventBridge schedule) or on demand (`{"month": "YYYY-MM"}`), the team's cost per
model from Cost Explorer -> a table to the approvers' topic and a `ModelCostUSD` figure per model (EMF)
for the factory dashboard.

Environment: TEAM, MODELS (JSON list), NOTIFICATION_TOPIC_ARN.
"""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from functools import cache

import boto3
from botocore.config import Config
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from showback import Period, ShowbackError, cents, cost_table, costs_by_model

logger = Logger(service="showback")

TEAM = os.environ["TEAM"]
MODELS = json.loads(os.environ["MODELS"])
TOPIC_ARN = os.environ["NOTIFICATION_TOPIC_ARN"]
# standard retry mode: throttling and transient errors retried with backoff and a retry quota, 5 attempts in all
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5})


@cache
def clients() -> tuple:
    # Cost Explorer answers in us-east-1 only
    return boto3.client("ce", region_name="us-east-1", config=RETRIES), boto3.client("sns", config=RETRIES)


def period_for(event: dict, today: date) -> Period:
    if not isinstance(event, dict):
        raise ShowbackError(f"event must be a JSON object (got {type(event).__name__})")
    if event.get("source") == "aws.events":  # the monthly schedule: the month that just ended
        return Period.previous_month(today)
    if "month" in event:
        return Period.month(str(event["month"]), today)
    raise ShowbackError('expected the monthly schedule event or {"month": "YYYY-MM"}')


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext, today: date | None = None) -> dict:
    try:
        period = period_for(event, today or date.today())
    except ShowbackError as error:
        logger.error(f"showback request refused: {error}")
        return {"action": "ignore", "reason": str(error)}
    ce, sns = clients()
    costs = costs_by_model(ce, team=TEAM, period=period)
    table = cost_table(team=TEAM, period=period, costs=costs, models=MODELS)
    sns.publish(TopicArn=TOPIC_ARN, Subject=f"Model Factory {TEAM}: cost per model, {period.start:%Y-%m}"[:100],
                Message=table)
    for model in sorted(set(MODELS) | set(costs)):
        with single_metric(name="ModelCostUSD", unit=MetricUnit.NoUnit, value=float(cents(costs.get(model, Decimal(0)))),
                           namespace="ModelFactory", default_dimensions={"Team": TEAM, "Model": model}):
            pass
    logger.info("showback published", extra={"period": period.label, "models": len(costs)})
    return {"action": "published", "period": period.label,
            "costs": {model: str(cents(amount)) for model, amount in costs.items()}}
