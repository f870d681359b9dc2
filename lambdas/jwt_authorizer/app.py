"""JWT token authorizer of a team's consumer API (API Gateway TOKEN authorizer, Authorization header).

Environment: JWT_SETTINGS (JSON: model -> {"issuer": ..., "audience": [...]}) of the API's models that use
auth: jwt. The answer allows the methods of every model the token is valid for, because API Gateway caches it
per token for the whole API (an answer for one model alone would refuse the token's other models from cache).
A refused token raises "Unauthorized", which API Gateway answers with 401.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from tokens import KeySets, TokenError, bearer, verify

logger = Logger(service="jwt-authorizer")
metrics = Metrics(namespace="ModelFactory", service="jwt-authorizer")
SETTINGS: dict[str, dict] = json.loads(os.environ.get("JWT_SETTINGS") or "{}")
FETCH_TIMEOUT_SECONDS = 3


def fetch_json(url: str):
    """An HTTPS GET of a discovery document or key set; an unreachable issuer refuses the token (401), it never
    lets it through."""
    if not url.startswith("https://"):
        raise TokenError(f"refusing to fetch {url}: not https")
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (https only)
            return json.loads(response.read())
    except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors; bad JSON a ValueError
        raise TokenError(f"cannot read {url}: {error}") from None


@cache
def key_sets() -> KeySets:
    return KeySets(fetch_json=fetch_json)


def authorize(event: APIGatewayAuthorizerTokenEvent, *, settings: dict[str, dict], keys: KeySets,
              now: float) -> dict:
    token = bearer(event.authorization_token)
    arn = event.parsed_arn
    response = APIGatewayAuthorizerResponse(principal_id="unknown", region=arn.region,
                                            aws_account_id=arn.aws_account_id, api_id=arn.api_id, stage=arn.stage,
                                            partition=arn.partition)
    reasons, subject = [], None
    for model, wanted in sorted(settings.items()):
        try:
            claims = verify(token, issuer=wanted["issuer"], audiences=wanted["audience"], keys=keys, now=now)
        except TokenError as error:
            reasons.append(f"{model}: {error}")
            continue
        subject = str(claims.get("sub", "unknown"))
        response.allow_route(http_method="POST", resource=f"/{model}/invocations")
    if subject is None:
        raise TokenError("; ".join(reasons) or "no model of this API takes JWTs")
    response.principal_id = subject
    return response.asdict()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    try:
        return authorize(APIGatewayAuthorizerTokenEvent(event), settings=SETTINGS, keys=key_sets(), now=time.time())
    except (TokenError, KeyError, ValueError, TypeError, AttributeError) as error:
        logger.info("token refused", extra={"reason": str(error)[:300]})
        metrics.add_metric(name="RefusedTokens", unit=MetricUnit.Count, value=1)
        raise Exception("Unauthorized") from None  # API Gateway's documented 401 answer
