"""Catalog publish: "Model Catalog Entry" events (source model-factory.catalog) that team accounts put on the
catalog's event bus -> the catalog table, after checking the sender owns the team and the entry is well formed.
A refused entry is one log line and the metric RefusedEntries; it never replaces the stored one.

Environment: CATALOG_TABLE_NAME, TEAM_ACCOUNTS (JSON: team -> its factory account).
"""

from __future__ import annotations

import json
import os
from functools import cache

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from store import decide, store

logger = Logger(service="catalog-publish")
metrics = Metrics(namespace="ModelFactory", service="catalog-publish")
OWNERS: dict[str, str] = json.loads(os.environ.get("TEAM_ACCOUNTS") or "{}")
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5})


@cache
def dynamodb():
    return boto3.client("dynamodb", config=RETRIES)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    account = event.get("account") if isinstance(event, dict) else None
    try:
        if not isinstance(account, str):
            raise ValueError("(event): not an EventBridge event (no account)")
        entry = decide(account=account, detail=event.get("detail"), owners=OWNERS)
    except ValueError as error:
        logger.error(f"catalog: refused an entry from {account}: {error}")
        metrics.add_metric(name="RefusedEntries", unit=MetricUnit.Count, value=1)
        return {"action": "refused", "reason": str(error)}
    outcome = store(dynamodb(), table=os.environ["CATALOG_TABLE_NAME"], entry=entry)
    logger.info(f"catalog: {outcome.action} {entry.team}/{entry.model} {entry.stage} v{entry.version}")
    return outcome.as_dict()
